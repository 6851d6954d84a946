//! TLS with rustls (ring) for HTTPS and DICOM over TLS, with certificate reload.
//!
//! One [`CertResolver`] holds the current certificate and key; the HTTP and DICOM
//! `ServerConfig`s resolve through it, so a reload (SIGHUP, or the files' modification
//! time changing) swaps the certificate for every *new* handshake while connections
//! already open keep the one they negotiated. A reload that fails (unreadable file,
//! key not matching the certificate, e.g. half-way through replacing them) keeps the
//! previous certificate and is retried at the next change.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How often the certificate files' modification times are looked at.
const WATCH_EVERY: Duration = Duration::from_secs(5);
/// Longest a client may take for its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain and private key, and checks they belong together.
fn load(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificate {}", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", cert.display());
    let der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading private key {}", key.display()))?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .with_context(|| format!("unsupported private key {}", key.display()))?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match()
        .with_context(|| format!("{} does not match {}", key.display(), cert.display()))?;
    Ok(ck)
}

/// The server's TLS settings, shared by the HTTPS and DICOM TLS listeners.
#[derive(Clone)]
pub struct TlsSource {
    cert: PathBuf,
    key: PathBuf,
    resolver: Arc<CertResolver>,
    http: Arc<ServerConfig>,
    dicom: Arc<ServerConfig>,
}

impl TlsSource {
    /// Loads the certificate; `client_ca` makes DICOM TLS require client certificates
    /// signed by one of its CAs.
    pub fn new(cert: &Path, key: &Path, client_ca: Option<&Path>) -> anyhow::Result<Self> {
        let resolver = Arc::new(CertResolver {
            current: RwLock::new(Arc::new(load(cert, key)?)),
        });
        let mut http = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let dicom = match client_ca {
            None => builder
                .with_no_client_auth()
                .with_cert_resolver(resolver.clone()),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca)
                    .with_context(|| format!("reading CA file {}", ca.display()))?
                {
                    roots
                        .add(c.with_context(|| format!("parsing CA file {}", ca.display()))?)
                        .with_context(|| format!("CA certificate in {}", ca.display()))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .context("client certificate verifier")?;
                builder
                    .with_client_cert_verifier(verifier)
                    .with_cert_resolver(resolver.clone())
            }
        };
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            resolver,
            http: Arc::new(http),
            dicom: Arc::new(dicom),
        })
    }

    pub fn dicom_config(&self) -> Arc<ServerConfig> {
        self.dicom.clone()
    }

    /// Reads the files again; on success new handshakes use the new certificate.
    pub fn reload(&self) -> anyhow::Result<()> {
        let ck = load(&self.cert, &self.key)?;
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(ck);
        Ok(())
    }

    fn mtimes(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (m(&self.cert), m(&self.key))
    }

    /// Reloads on SIGHUP and when the files change, until `shutdown`.
    pub async fn watch(self, shutdown: CancellationToken) {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = self.mtimes();
        loop {
            #[cfg(unix)]
            let hangup = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = std::future::pending::<()>();
            let why = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = hangup => "SIGHUP",
                _ = tokio::time::sleep(WATCH_EVERY) => {
                    if self.mtimes() == seen { continue; }
                    "files changed"
                }
            };
            let now = self.mtimes();
            match self.reload() {
                Ok(()) => {
                    seen = now;
                    tracing::info!(why, cert = %self.cert.display(), "TLS certificate reloaded");
                }
                Err(e) => {
                    tracing::error!(why, error = %format!("{e:#}"), "TLS certificate reload failed; keeping the previous one");
                }
            }
        }
    }
}

/// HTTPS: a TCP listener whose connections are handed to axum after their TLS handshake.
/// Handshakes run in their own tasks, so a slow client never holds up others; closing
/// (at shutdown) drops the TCP listener, refusing new connections.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(
        tcp: TcpListener,
        tls: &TlsSource,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.http.clone());
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    a = tcp.accept() => match a {
                        Ok(x) => x,
                        Err(e) => {
                            tracing::warn!(error = %e, "HTTPS accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => {
                            let _ = tx.send((s, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
            drop(tcp);
        });
        Ok(Self { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // Closed at shutdown: axum stops accepting on the same signal.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
