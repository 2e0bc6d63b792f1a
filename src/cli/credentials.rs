//! Where `convene login` keeps its sessions: one token per server, in
//! `$XDG_CONFIG_HOME/convene/credentials.toml` (or
//! `~/.config/convene/credentials.toml`), readable by its owner only, like
//! `gh auth login`'s hosts file.
//!
//! ```toml
//! default = "http://127.0.0.1:8080"   # the server of the latest login
//!
//! [servers."http://127.0.0.1:8080"]
//! user = "ada"
//! token = "…64 hex digits…"
//! ```
//!
//! A token is as good as the password until the session ends (a week, or
//! `convene logout`), so the file is written whole to a new private file
//! and renamed into place: it is never readable by others, not even
//! half-written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Every stored login.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The server `convene status` and `convene files` use without
    /// `--server`: the latest login's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Logins by server URL (as [`ServerUrl`](super::remote::ServerUrl)
    /// spells it).
    #[serde(default)]
    pub servers: BTreeMap<String, Login>,
}

/// One server's session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Who logged in.
    pub user: String,
    /// The session token (the `convene_session` cookie's value).
    pub token: String,
}

/// The credentials file's path: under `$XDG_CONFIG_HOME`, else
/// `$HOME/.config`.
pub fn path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        _ => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => Path::new(&home).join(".config"),
            None => bail!("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login"),
        },
    };
    Ok(base.join("convene").join("credentials.toml"))
}

impl Credentials {
    /// Reads the file at `path`; none yet is no login.
    pub fn load(path: &Path) -> anyhow::Result<Credentials> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if convene_cluster::ClusterSecret::readable_by_others(path) {
            eprintln!(
                "convene: {} can be read by other accounts; make it private: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
        toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a credentials file `convene login` wrote (delete it and log in again)",
                path.display()
            )
        })
    }

    /// Writes the file at `path` (its folder made if need be), readable
    /// and writable by its owner only.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let folder = path
            .parent()
            .context("the credentials file has no folder")?;
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        let text = format!(
            "# Written by `convene login`: a session token per server. Whoever reads\n\
             # this file can act as you there until `convene logout`. Keep it private.\n{}",
            toml::to_string(self).context("cannot write the credentials")?
        );
        let temporary = folder.join(format!(".credentials.toml.{}", std::process::id()));
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written.with_context(|| format!("cannot write {}", path.display()))
    }

    /// The login for `server`, if any.
    pub fn get(&self, server: &str) -> Option<&Login> {
        self.servers.get(server)
    }

    /// Remembers `login` for `server`, which becomes the default.
    pub fn insert(&mut self, server: &str, login: Login) -> Option<Login> {
        self.default = Some(server.to_string());
        self.servers.insert(server.to_string(), login)
    }

    /// Forgets `server`'s login (and it as the default).
    pub fn remove(&mut self, server: &str) -> Option<Login> {
        if self.default.as_deref() == Some(server) {
            self.default = None;
        }
        self.servers.remove(server)
    }

    /// The default server and its login, if it still has one.
    pub fn default_login(&self) -> Option<(&str, &Login)> {
        let server = self.default.as_deref()?;
        Some((server, self.servers.get(server)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_round_trip_through_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("convene").join("credentials.toml");
        assert_eq!(Credentials::load(&path).unwrap(), Credentials::default());
        let mut credentials = Credentials::default();
        let ada = Login {
            user: "ada".into(),
            token: "ab".repeat(32),
        };
        credentials.insert("http://127.0.0.1:8080", ada.clone());
        credentials.save(&path).unwrap();
        assert!(!convene_cluster::ClusterSecret::readable_by_others(&path));
        let read = Credentials::load(&path).unwrap();
        assert_eq!(read, credentials);
        assert_eq!(read.default_login(), Some(("http://127.0.0.1:8080", &ada)));
        let mut read = read;
        assert_eq!(read.remove("http://127.0.0.1:8080"), Some(ada));
        assert_eq!(read.default_login(), None);
    }
}
