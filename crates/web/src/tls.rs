//! TLS for the web front (rustls on the `ring` provider): loading a node's
//! certificate and key, what changes in responses when pages travel
//! encrypted, and the trust a client puts in a server.
//!
//! # A node's certificate
//!
//! A node with `tls_cert` and `tls_key` in the cluster file serves its
//! `http_port` over TLS only. [`ServerTls::load`] reads both PEM files when
//! the node starts, before any service runs, so a missing file, a file that
//! holds no certificate, or a key that belongs to another certificate stops
//! the node with a message naming the file and what is wrong with it, rather
//! than failing every visitor's handshake later. The files are read once:
//! a renewed certificate takes effect when the node restarts.
//!
//! # What TLS changes in responses
//!
//! Over TLS, [`harden`] adds to every response:
//!
//! - `Secure` on every cookie the app sets, so the browser never sends the
//!   session or CSRF cookie over plain HTTP, where anyone on the path could
//!   read it. Adding it here, at the one place every response passes,
//!   means no handler can forget it.
//! - `Strict-Transport-Security: max-age=31536000` (a year): once a browser
//!   has seen the site over TLS, it refuses plain HTTP to it, so a network
//!   attacker cannot strip TLS from a later visit.
//!
//! Plain HTTP (the loopback default) gets neither: a `Secure` cookie would
//! never come back over plain HTTP, and HSTS sent over plain HTTP is
//! ignored by browsers anyway.
//!
//! # A client's trust
//!
//! [`ClientTls`] is what [`HttpClient`](crate::client::HttpClient) uses for
//! `https://` servers: the operating system's trusted roots, plus, if given,
//! the certificates in one PEM file. That file is how a client trusts a node
//! whose certificate is self-signed (give the node's certificate itself) or
//! issued by a private authority (give the authority's).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::header::{HeaderValue, SET_COOKIE, STRICT_TRANSPORT_SECURITY};
use axum::response::Response;
use convene_cluster::TlsFiles;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Why TLS could not be set up. Each variant names the file at fault, and
/// its message shows the cause (none is chained as a `source`).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {what} {}: {error}", path.display())]
    Read {
        /// `tls_cert`, `tls_key` or "trusted root".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is not PEM, or holds nothing of the kind expected.
    #[error("{what} {}: {problem}", path.display())]
    Pem {
        /// `tls_cert`, `tls_key` or "trusted root".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// rustls refused the certificate and key together (most often: the key
    /// belongs to another certificate).
    #[error("tls_cert {} with tls_key {}: {error}", cert.display(), key.display())]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        error: rustls::Error,
    },
    /// A client has no root it could trust a server by.
    #[error("no trusted root certificates: the system has none readable{}", .0.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())]
    NoRoots(Option<String>),
    /// A client was given a server name that cannot be checked against a
    /// certificate.
    #[error("{0:?} is not a host name or IP address a certificate can name")]
    ServerName(String),
    /// Anything else rustls refused (not expected with its safe defaults).
    #[error("TLS setup: {0}")]
    Setup(rustls::Error),
}

/// For `?` on rustls's builders. Written out rather than `#[from]`, which
/// would also chain the error as the `source`, and `{:#}` would print it
/// twice.
impl From<rustls::Error> for TlsError {
    fn from(error: rustls::Error) -> Self {
        TlsError::Setup(error)
    }
}

/// A node's loaded certificate and key, ready to accept TLS connections.
/// Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// Reads the node's certificate chain and private key (PEM) and checks
    /// that they belong together. Speaks HTTP/1.1 only (ALPN), as the
    /// server does.
    pub fn load(files: &TlsFiles) -> Result<ServerTls, TlsError> {
        let chain = read_certificates("tls_cert", &files.cert)?;
        let key = read_key(&files.key)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| TlsError::Pair {
                cert: files.cert.clone(),
                key: files.key.clone(),
                error,
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    /// What accepts a connection's handshake.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// How a client connects to one `https://` server: whom it trusts, and the
/// name the server's certificate must carry. Cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Trusts the system's root certificates and, if given, every
    /// certificate in the PEM file `extra_roots`, and expects the server's
    /// certificate to name `server_name` (a host name, or an IP address
    /// such as `127.0.0.1`).
    ///
    /// A system without readable roots is fine when `extra_roots` is given.
    pub fn new(server_name: &str, extra_roots: Option<&Path>) -> Result<ClientTls, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
        if let Some(path) = extra_roots {
            for cert in read_certificates("trusted root", path)? {
                roots.add(cert).map_err(|e| TlsError::Pem {
                    what: "trusted root",
                    path: path.to_path_buf(),
                    problem: format!("not a usable root certificate: {e}"),
                })?;
            }
        }
        if roots.is_empty() {
            return Err(TlsError::NoRoots(
                system.errors.first().map(|e| e.to_string()),
            ));
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|_| TlsError::ServerName(server_name.to_string()))?;
        Ok(ClientTls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// Performs the handshake over `stream`.
    pub(crate) async fn connect(
        &self,
        stream: tokio::net::TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        self.connector
            .connect(self.server_name.clone(), stream)
            .await
    }
}

/// The one cryptography provider, named rather than left to a process-wide
/// default, so that no other crate's choice can change it.
///
/// rustls 0.23.48 marks *ring*'s provider deprecated because it has no
/// post-quantum key exchange (aws-lc-rs has). We keep *ring* on purpose:
/// aws-lc-rs needs CMake and a C toolchain's worth of build time, and
/// X25519 protects today's traffic; moving is one line here.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file, in order (a chain: leaf first).
fn read_certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_problem(what, path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            path: path.to_path_buf(),
            problem: "holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)".into(),
        });
    }
    Ok(certs)
}

/// The first private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("tls_key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::Pem {
            what: "tls_key",
            path: path.to_path_buf(),
            problem: "holds no private key (expected PEM: -----BEGIN PRIVATE KEY-----, \
                      RSA PRIVATE KEY or EC PRIVATE KEY)"
                .into(),
        },
        other => pem_problem("tls_key", path, other),
    })
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.to_path_buf(),
        error,
    })
}

fn pem_problem(what: &'static str, path: &Path, error: pem::Error) -> TlsError {
    TlsError::Pem {
        what,
        path: path.to_path_buf(),
        problem: format!("is not valid PEM: {error}"),
    }
}

/// How long browsers keep to HTTPS once they have seen this site: a year,
/// the usual value (and the minimum for browsers' preload lists).
pub const HSTS: &str = "max-age=31536000";

/// Marks a response for a client reached over TLS: `Secure` on every
/// cookie, and `Strict-Transport-Security`. See the [module docs](self).
pub async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if !cookies.is_empty() {
        headers.remove(SET_COOKIE);
        for cookie in cookies {
            headers.append(SET_COOKIE, secure(cookie));
        }
    }
    headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    response
}

/// `cookie` with the `Secure` attribute (unchanged if it has it already).
fn secure(cookie: HeaderValue) -> HeaderValue {
    let has_it = cookie.to_str().is_ok_and(|text| {
        text.split(';')
            .skip(1)
            .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"))
    });
    if has_it {
        return cookie;
    }
    let mut bytes = cookie.as_bytes().to_vec();
    bytes.extend_from_slice(b"; Secure");
    // Appending visible ASCII to a valid header value keeps it valid.
    HeaderValue::from_bytes(&bytes).unwrap_or(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap()
    }

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        let files = TlsFiles {
            cert: dir.join("node.crt"),
            key: dir.join("node.key"),
        };
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
        files
    }

    #[test]
    fn a_matching_pair_loads() {
        let dir = tempfile::tempdir().unwrap();
        let made = self_signed();
        let files = files(
            dir.path(),
            &made.cert.pem(),
            &made.signing_key.serialize_pem(),
        );
        ServerTls::load(&files).unwrap();
    }

    #[test]
    fn every_bad_file_is_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let made = self_signed();
        let other = self_signed();
        let cert = made.cert.pem();
        let key = made.signing_key.serialize_pem();
        let message = |files: &TlsFiles| ServerTls::load(files).unwrap_err().to_string();

        let missing = TlsFiles {
            cert: dir.path().join("absent.crt"),
            key: dir.path().join("absent.key"),
        };
        let m = message(&missing);
        assert!(
            m.contains("cannot read tls_cert") && m.contains("absent.crt"),
            "{m}"
        );

        let m = message(&files(dir.path(), "not a certificate", &key));
        assert!(
            m.contains("tls_cert") && m.contains("holds no certificate"),
            "{m}"
        );

        let m = message(&files(dir.path(), &cert, &cert));
        assert!(
            m.contains("tls_key") && m.contains("holds no private key"),
            "{m}"
        );

        let truncated = &cert[..cert.len() - 30];
        let m = message(&files(dir.path(), truncated, &key));
        assert!(m.contains("tls_cert") && m.contains("not valid PEM"), "{m}");

        let m = message(&files(
            dir.path(),
            &cert,
            &other.signing_key.serialize_pem(),
        ));
        assert!(
            m.contains("node.crt") && m.contains("node.key") && m.contains("key"),
            "{m}"
        );
    }

    #[test]
    fn a_client_trusts_a_root_from_a_file_and_checks_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root.pem");
        std::fs::write(&root, self_signed().cert.pem()).unwrap();
        ClientTls::new("localhost", Some(&root)).unwrap();
        ClientTls::new("127.0.0.1", Some(&root)).unwrap();
        assert!(matches!(
            ClientTls::new("not a name!", Some(&root)),
            Err(TlsError::ServerName(_))
        ));
        let m = ClientTls::new("localhost", Some(&dir.path().join("none.pem")))
            .unwrap_err()
            .to_string();
        assert!(m.contains("trusted root") && m.contains("none.pem"), "{m}");
    }

    #[tokio::test]
    async fn tls_responses_get_secure_cookies_and_hsts() {
        let mut response = Response::new(axum::body::Body::empty());
        let headers = response.headers_mut();
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("a=1; HttpOnly; Path=/"),
        );
        headers.append(SET_COOKIE, HeaderValue::from_static("b=2; Secure"));
        let response = harden(response).await;
        let cookies: Vec<_> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(cookies, ["a=1; HttpOnly; Path=/; Secure", "b=2; Secure"]);
        assert_eq!(response.headers()[STRICT_TRANSPORT_SECURITY], HSTS);
    }
}
