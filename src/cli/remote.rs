//! How `convene status` and `convene files` reach a cluster: through a
//! node's web front (its `http_port`), authenticated, never its peer port.
//!
//! Who the client is, decided once per command:
//!
//! 1. `--config FILE`: the cluster's operator, proving the cluster secret
//!    (the file's `secret_file`) on each request, to the node named by
//!    `--server`, else to the first node of the file with an `http_port`
//!    that answers.
//! 2. `--server URL`: the account logged in there with `convene login`.
//! 3. Neither: the latest login, else the operator of the demo cluster's
//!    file (`convene-data/demo/cluster.toml`) if it is here.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use anyhow::{Context, bail};
use convene_web::client::{HttpClient, HttpResponse};
use convene_web::ops::operator::OperatorKey;
use serde_json::Value;

use super::credentials::{self, Credentials};
use crate::demo;

/// The demo's web front: where `convene login` goes by default.
pub const DEMO_WEB: &str = "http://127.0.0.1:8080";

/// A server's URL, spelled one way (`http://host:port`), so one login
/// matches however it was typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// Served over TLS.
    pub https: bool,
    /// The host, as given (a name or an address; IPv6 in brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl ServerUrl {
    /// Reads `http://host[:port]`, `https://host[:port]` or `host:port`
    /// (then plain HTTP); a trailing `/` is allowed, a path is not.
    pub fn parse(text: &str) -> anyhow::Result<ServerUrl> {
        let wrong =
            || anyhow::anyhow!("--server {text:?}: expected a URL such as http://127.0.0.1:8080");
        let trimmed = text.trim().trim_end_matches('/');
        let (https, rest) = if let Some(rest) = strip_prefix_ignore_case(trimmed, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(trimmed, "http://") {
            (false, rest)
        } else if trimmed.contains("://") {
            return Err(wrong());
        } else {
            (false, trimmed)
        };
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(wrong());
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = match rest.rsplit_once(':') {
            // An IPv6 address without a port: [::1]
            _ if rest.ends_with(']') => (rest, default_port),
            Some((host, port)) => (host, port.parse().map_err(|_| wrong())?),
            None => (rest, default_port),
        };
        if host.is_empty() {
            return Err(wrong());
        }
        Ok(ServerUrl {
            https,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The URL of node `node`'s web front, if it has one.
    pub fn of_node(node: &convene_cluster::NodeConfig) -> Option<ServerUrl> {
        let addr = node.http_addr()?;
        Some(ServerUrl {
            https: node.tls.is_some(),
            host: match addr {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            },
            port: addr.port(),
        })
    }

    /// The address to connect to.
    fn addr(&self) -> anyhow::Result<SocketAddr> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        (host, self.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {self}"))?
            .next()
            .with_context(|| format!("no address found for {self}"))
    }
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    (text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &text[prefix.len()..])
}

/// An HTTP client for `url`. For `https://` it trusts the system's root
/// certificates, or those in the PEM file `$SSL_CERT_FILE` (a node's own
/// self-signed certificate, for one).
pub fn http_client(url: &ServerUrl) -> anyhow::Result<HttpClient> {
    let addr = url.addr()?;
    if !url.https {
        return Ok(HttpClient::new(addr));
    }
    let name = url.host.trim_start_matches('[').trim_end_matches(']');
    let tls = convene_web::client::ClientTls::new(name, None)
        .with_context(|| format!("{url}: cannot set up TLS"))?;
    Ok(HttpClient::with_tls(addr, tls))
}

/// How the client proves itself.
enum Auth {
    /// A session of `convene login`.
    Session { user: String, token: String },
    /// The operator's key, from the cluster secret (and the file it came
    /// from, for messages).
    Operator { key: OperatorKey, file: String },
}

/// A cluster's web front, with the client's credential.
pub struct Remote {
    /// Where to ask, best first; the first that answers is kept.
    urls: Vec<ServerUrl>,
    client: Option<HttpClient>,
    auth: Auth,
}

/// An answer from the API that is not a failure of the client's own
/// (those are errors): a status and its JSON body.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body, as JSON.
    pub body: Value,
}

impl Answer {
    /// The `error` of a refusal (or the status, if it has none).
    pub fn error(&self) -> String {
        self.body["error"].as_str().map_or_else(
            || format!("the server answered {}", self.status),
            str::to_string,
        )
    }
}

impl Remote {
    /// Decides where to ask and as whom (see the module docs).
    pub fn resolve(server: Option<&str>, config: Option<&Path>) -> anyhow::Result<Remote> {
        let server = server.map(ServerUrl::parse).transpose()?;
        if let Some(config) = config {
            return Self::operator(config, server);
        }
        // No HOME at all (a service account): no login, but the operator
        // path below still works.
        let credentials = match credentials::path() {
            Ok(path) => Credentials::load(&path)?,
            Err(_) => Credentials::default(),
        };
        if let Some(url) = server {
            let Some(login) = credentials.get(&url.to_string()) else {
                bail!("not logged in to {url}: run `convene login --server {url}` first");
            };
            return Ok(Self::session(url, login));
        }
        if let Some((url, login)) = credentials.default_login() {
            return Ok(Self::session(ServerUrl::parse(url)?, login));
        }
        let demo = Path::new(demo::DEMO_DIR).join("cluster.toml");
        if demo.exists() {
            return Self::operator(&demo, None);
        }
        bail!(
            "not logged in: run `convene login --server URL` first (or, as the cluster's operator, give --config CLUSTER_FILE)"
        )
    }

    fn session(url: ServerUrl, login: &credentials::Login) -> Remote {
        Remote {
            urls: vec![url],
            client: None,
            auth: Auth::Session {
                user: login.user.clone(),
                token: login.token.clone(),
            },
        }
    }

    fn operator(config: &Path, server: Option<ServerUrl>) -> anyhow::Result<Remote> {
        let cluster = convene_node::load_cluster(config)?;
        let Some(secret) = &cluster.secret else {
            bail!(
                "{} names no secret_file, and the operator proves the cluster secret: add `secret_file = \"cluster.secret\"` to it (make one with `convene secret`), or log in with an account (`convene login --server URL`)",
                config.display()
            );
        };
        let urls = match server {
            Some(url) => vec![url],
            None => cluster
                .nodes
                .iter()
                .filter_map(ServerUrl::of_node)
                .collect(),
        };
        if urls.is_empty() {
            bail!(
                "no node in {} has an http_port: `convene status` and `convene files` ask a node's web front; give a node `http_port = 8080`",
                config.display()
            );
        }
        Ok(Remote {
            urls,
            client: None,
            auth: Auth::Operator {
                key: OperatorKey::new(secret),
                file: config.display().to_string(),
            },
        })
    }

    /// The server asked (the first candidate until one has answered).
    pub fn url(&self) -> &ServerUrl {
        &self.urls[0]
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.call("GET", path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&mut self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        self.call("POST", path, Some(body)).await
    }

    /// One request, to the first candidate that can be reached. A login
    /// that is refused, a server that is not a Convene web front, or none
    /// reachable, is an error that says what to do.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()?
            .unwrap_or_default();
        loop {
            let url = self.urls[0].clone();
            let mut client = match self.client.take() {
                Some(client) => client,
                None => http_client(&url)?,
            };
            let now_ms = jiff::Timestamp::now().as_millisecond();
            let authorization = match &self.auth {
                Auth::Session { token, .. } => format!("Bearer {token}"),
                Auth::Operator { key, .. } => key.authorization(method, path, &body, now_ms),
            };
            let mut headers = vec![("authorization", authorization.as_str())];
            if method == "POST" {
                headers.push(("content-type", "application/json"));
            }
            match client.request(method, path, &headers, &body).await {
                Ok(response) => {
                    // The first that answers is the one asked from now on.
                    self.urls.truncate(1);
                    self.client = Some(client);
                    return self.answer(&url, path, response);
                }
                Err(e) if self.urls.len() > 1 => {
                    tracing::info!(%url, "not reachable: {e}; trying the next web front");
                    self.urls.remove(0);
                }
                Err(e) => bail!(
                    "cannot reach {url}: {e} (is it a Convene node's web front, its http_port? start the demo with `convene up`)"
                ),
            }
        }
    }

    fn answer(
        &self,
        url: &ServerUrl,
        path: &str,
        response: HttpResponse,
    ) -> anyhow::Result<Answer> {
        let Ok(body) = response.json() else {
            bail!(
                "{url} answered {path} with something that is not Convene's API (HTTP {}): is it a Convene node's web front?",
                response.status
            );
        };
        let answer = Answer {
            status: response.status,
            body,
        };
        match (answer.status, &self.auth) {
            (401, Auth::Session { user, .. }) => bail!(
                "{url} did not accept the login of {user} ({}): it has expired or ended, or belongs to another server; run `convene login --server {url}` again",
                answer.error()
            ),
            (401, Auth::Operator { file, .. }) => bail!(
                "{url} refused the operator credential from {file}: {}",
                answer.error()
            ),
            (404, _) if answer.error() == "no such API route" => bail!(
                "{url} has no {path}: is it a Convene node's web front, of a version with `convene status` over HTTP?"
            ),
            _ => Ok(answer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_spelled_one_way() {
        for (given, spelled) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("HTTP://LocalHost:8080/", "http://localhost:8080"),
            ("127.0.0.1:8081", "http://127.0.0.1:8081"),
            ("https://convene.example", "https://convene.example:443"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[::1]", "http://[::1]:80"),
        ] {
            assert_eq!(
                ServerUrl::parse(given).unwrap().to_string(),
                spelled,
                "{given}"
            );
        }
        for bad in [
            "",
            "ftp://x:1",
            "http://",
            "http://x:port",
            "http://x:1/api",
            "http://u@x:1",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
