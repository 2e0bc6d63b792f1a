//! `convene login [--server URL]` and `convene logout [--server URL]`: a
//! session with a cluster's web front, kept in the user's config folder
//! (see [`credentials`]) for `convene status` and
//! `convene files`.
//!
//! The user name and password are read from standard input: at a terminal
//! with prompts, the password without echo; from a pipe, one line each, so
//! scripts can log in (`printf 'ada\n%s\n' "$PW" | convene login`).

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;

use super::credentials::{self, Credentials, Login};
use super::remote::{ServerUrl, http_client};
use convene_web::session::SESSION_COOKIE;

/// `convene login`.
pub fn login(server: &str, user: Option<String>) -> anyhow::Result<ExitCode> {
    let url = ServerUrl::parse(server)?;
    let path = credentials::path()?;
    let mut stored = Credentials::load(&path)?;
    let user = match user {
        Some(user) => user,
        None => read_line("User name: ", false)?,
    };
    if user.is_empty() {
        bail!("no user name given");
    }
    let password = read_line("Password: ", true)?;
    let (status, message, token) = super::runtime()?.block_on(async {
        let mut client = http_client(&url)?;
        let response = client
            .post_json(
                "/api/login",
                &json!({"username": user, "password": password}),
            )
            .await
            .with_context(|| {
                format!("cannot reach {url} (is it a Convene node's web front, its http_port?)")
            })?;
        let message = response
            .json()
            .ok()
            .and_then(|body| body["error"].as_str().map(str::to_string));
        let token = client.cookie(SESSION_COOKIE).map(str::to_string);
        anyhow::Ok((response.status, message, token))
    })?;
    let token = match (status, token) {
        (200, Some(token)) => token,
        (200, None) => {
            bail!("{url} accepted the login but sent no session: is it a Convene web front?")
        }
        (_, _) => {
            let why = message.unwrap_or_else(|| format!("HTTP {status}"));
            eprintln!("convene login: {url}: {why}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let previous = stored.insert(
        &url.to_string(),
        Login {
            user: user.clone(),
            token,
        },
    );
    stored.save(&path)?;
    if let Some(previous) = previous {
        // The session this login replaces would otherwise last its week.
        let _ = end_session(&url, &previous.token);
    }
    println!("Logged in to {url} as {user}.");
    Ok(ExitCode::SUCCESS)
}

/// `convene logout`: ends the session on the server and forgets it here.
pub fn logout(server: Option<&str>) -> anyhow::Result<ExitCode> {
    let path = credentials::path()?;
    let mut stored = Credentials::load(&path)?;
    let url = match server {
        Some(server) => ServerUrl::parse(server)?.to_string(),
        None => match stored.default_login() {
            Some((url, _)) => url.to_string(),
            None => {
                eprintln!("convene logout: not logged in");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let Some(login) = stored.remove(&url) else {
        eprintln!("convene logout: not logged in to {url}");
        return Ok(ExitCode::FAILURE);
    };
    stored.save(&path)?;
    if let Err(e) = end_session(&ServerUrl::parse(&url)?, &login.token) {
        eprintln!(
            "convene logout: forgotten here, but the session could not be ended on {url} ({e:#}); it ends by itself within a week"
        );
    }
    println!("Logged out of {url} ({}).", login.user);
    Ok(ExitCode::SUCCESS)
}

/// Ends the session of `token` on the server (`POST /api/logout` with it
/// as the session cookie).
fn end_session(url: &ServerUrl, token: &str) -> anyhow::Result<()> {
    super::runtime()?.block_on(async {
        let mut client = http_client(url)?;
        client.set_cookie(SESSION_COOKIE, Some(token));
        let response = client.post_json("/api/logout", &json!({})).await?;
        anyhow::ensure!(response.status == 200, "HTTP {}", response.status);
        Ok(())
    })
}

/// One line of standard input, without its line end. At a terminal the
/// prompt is shown (on standard error) and, for a `secret`, what is typed
/// is not echoed.
fn read_line(prompt: &str, secret: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("{prompt}");
    }
    let _quiet = (terminal && secret).then(EchoOff::new).flatten();
    let mut line = String::new();
    let read = stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read standard input")?;
    if terminal && secret {
        eprintln!();
    }
    if read == 0 {
        bail!(
            "standard input ended before the {}",
            prompt.trim_end_matches(": ").to_lowercase()
        );
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

/// The terminal's echo, off until dropped.
struct EchoOff {
    #[cfg(unix)]
    saved: rustix::termios::Termios,
}

impl EchoOff {
    /// Turns echo off on standard input; `None` if it cannot be (the
    /// password is then read as typed, which a terminal shows).
    fn new() -> Option<EchoOff> {
        #[cfg(unix)]
        {
            use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
            let stdin = std::io::stdin();
            let saved = tcgetattr(&stdin).ok()?;
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            tcsetattr(&stdin, OptionalActions::Now, &quiet).ok()?;
            Some(EchoOff { saved })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use rustix::termios::{OptionalActions, tcsetattr};
            let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
        }
    }
}
