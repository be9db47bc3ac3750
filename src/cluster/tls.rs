//! TLS for the channel off loopback (rustls). The manager serves a certificate
//! from PEM files (`--tls-cert`, `--tls-key`) or a self-signed one it makes at
//! start (`--tls-self-signed`), and prints its SHA-256 fingerprint; a worker
//! pins that fingerprint (`--manager-fingerprint`): it accepts exactly that
//! certificate, whatever its names, issuer or dates say. Plain HTTP off
//! loopback needs `--allow-plain-http` on either side. The worker's client
//! follows no redirect: nothing the manager answers changes where it connects.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use crate::error::{Error, Result};

/// The variable a worker may take the fingerprint from (not a secret).
pub const FINGERPRINT_ENV: &str = "DASHLOAD_MANAGER_FINGERPRINT";

/// A certificate's SHA-256, shown as `AB:CD:…` (as `openssl x509 -fingerprint
/// -sha256` prints it); parsed with or without the colons, in either case.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Parse 64 hex digits, colons allowed between pairs.
    pub fn parse(text: &str) -> std::result::Result<Fingerprint, String> {
        let hexdigits: String = text.trim().chars().filter(|&c| c != ':').collect();
        let bytes = hex::decode(&hexdigits).ok().filter(|b| b.len() == 32);
        match bytes {
            Some(b) => Ok(Fingerprint(b.try_into().expect("32 bytes"))),
            None => Err(format!(
                "`{}`: expected a SHA-256 fingerprint (64 hex digits, colons allowed)",
                text.chars().take(120).collect::<String>()
            )),
        }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&pairs.join(":"))
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Accepts the one certificate whose fingerprint is pinned; the handshake's
/// signatures are still checked against it (the peer holds its key).
#[derive(Debug)]
struct Pinned {
    want: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        if got == self.want {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the manager's certificate has SHA-256 fingerprint {got}, not the pinned {}",
                self.want
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The worker's HTTP client for `manager`: TLS pinned to `fingerprint` for an
/// `https` manager (required there), plain HTTP on loopback or when allowed;
/// no redirects.
pub fn client_for(
    manager: &url::Url,
    fingerprint: Option<&Fingerprint>,
    allow_plain_http: bool,
) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("dashload-worker/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    let builder = match manager.scheme() {
        "https" => {
            let want = *fingerprint.ok_or_else(|| {
                Error::Usage(format!(
                    "--manager {manager}: an https manager needs its certificate's fingerprint: --manager-fingerprint or {FINGERPRINT_ENV} (the manager prints it at start)"
                ))
            })?;
            let provider = provider();
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| Error::Other(e.into()))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned { want, provider }))
                .with_no_client_auth();
            builder.tls_backend_preconfigured(config)
        }
        "http" => {
            if fingerprint.is_some() {
                return Err(Error::Usage(format!(
                    "--manager {manager}: a fingerprint pins a TLS certificate: use https://"
                )));
            }
            if !super::worker::is_loopback_host(manager) && !allow_plain_http {
                return Err(Error::Usage(format!(
                    "--manager {manager}: plain HTTP off loopback (the run's messages and files would cross the network in clear): use https:// with --manager-fingerprint, or --allow-plain-http"
                )));
            }
            builder
        }
        other => {
            return Err(Error::Usage(format!(
                "--manager {manager}: `{other}` is not http or https"
            )))
        }
    };
    builder.build().map_err(|e| Error::Other(e.into()))
}

/// The manager's certificate and key, ready to serve.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    /// Its certificate's fingerprint, for the workers to pin.
    pub fingerprint: Fingerprint,
}

impl ServerTls {
    /// A certificate chain and key from PEM files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<ServerTls> {
        let pem_error = |path: &Path, what: &str, e: rustls::pki_types::pem::Error| Error::Config {
            location: path.display().to_string(),
            message: format!("no PEM {what} could be read: {e}"),
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_error(cert, "certificate", e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| pem_error(cert, "certificate", e))?;
        let Some(leaf) = chain.first() else {
            return Err(Error::Config {
                location: cert.display().to_string(),
                message: "no certificate in the file".into(),
            });
        };
        let fingerprint = Fingerprint::of(leaf);
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, "private key", e))?;
        ServerTls::build(chain, key, fingerprint)
    }

    /// A fresh self-signed certificate for `names` (the workers pin it, so
    /// the names are for show).
    pub fn self_signed(names: Vec<String>) -> Result<ServerTls> {
        let made = rcgen::generate_simple_self_signed(names)
            .map_err(|e| Error::Other(anyhow::anyhow!("a self-signed certificate: {e}")))?;
        let der = made.cert.der().clone();
        let fingerprint = Fingerprint::of(&der);
        let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
            .map_err(|e| Error::Other(anyhow::anyhow!("the self-signed key: {e}")))?;
        ServerTls::build(vec![der], key, fingerprint)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        fingerprint: Fingerprint,
    ) -> Result<ServerTls> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Other(e.into()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| Error::Usage(format!("--tls-cert/--tls-key: {e}")))?;
        Ok(ServerTls {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

/// A TCP listener that hands out TLS streams: handshakes run on their own
/// tasks (at most [`TlsListener::HANDSHAKES`] at once, each at most 10 s), so
/// a client that stalls in its handshake holds up nobody.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    const HANDSHAKES: usize = 64;

    /// Serve `tls` on `listener`.
    pub fn new(listener: TcpListener, tls: &ServerTls) -> std::io::Result<TlsListener> {
        let addr = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
        let (tx, rx) = tokio::sync::mpsc::channel(Self::HANDSHAKES);
        let slots = Arc::new(tokio::sync::Semaphore::new(Self::HANDSHAKES));
        let accepting = tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(_) => {
                        // Out of descriptors and the like: wait, as axum does.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let shaken =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await;
                    drop(slot);
                    if let Ok(Ok(stream)) = shaken {
                        let _ = tx.send((stream, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener {
            rx,
            addr,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons_and_print_as_openssl_does() {
        let f = Fingerprint::of(b"certificate");
        let shown = f.to_string();
        assert_eq!(shown.len(), 32 * 3 - 1);
        assert_eq!(Fingerprint::parse(&shown), Ok(f));
        assert_eq!(
            Fingerprint::parse(&shown.replace(':', "").to_lowercase()),
            Ok(f)
        );
        assert!(Fingerprint::parse("AB:CD").is_err());
        assert!(Fingerprint::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn plain_http_off_loopback_and_https_without_a_pin_are_refused() {
        let remote = url::Url::parse("http://10.0.0.7:7700").unwrap();
        let e = client_for(&remote, None, false).unwrap_err().to_string();
        assert!(e.contains("--allow-plain-http"), "{e}");
        assert!(client_for(&remote, None, true).is_ok());
        let local = url::Url::parse("http://127.0.0.1:7700").unwrap();
        assert!(client_for(&local, None, false).is_ok());
        let tls = url::Url::parse("https://manager:7700").unwrap();
        let e = client_for(&tls, None, false).unwrap_err().to_string();
        assert!(e.contains("--manager-fingerprint"), "{e}");
        let pin = Fingerprint::of(b"x");
        assert!(client_for(&tls, Some(&pin), false).is_ok());
        assert!(client_for(&local, Some(&pin), false).is_err());
    }
}
