//! TLS for clients and servers: [rustls] with the `ring` crypto provider.
//!
//! * Clients use a [`TlsClient`]. Unlike C++ Workflow, whose global client
//!   context does not verify certificates, the default here,
//!   [`TlsClient::verified`], verifies the server's certificate against the
//!   system's roots (or the bundled Mozilla roots when the system has none)
//!   and checks that it is valid for the host name, which is also sent as
//!   SNI. A task may opt out with [`TlsClient::insecure`], trust its own CA
//!   with [`TlsClient::with_root_pem`], or bring any rustls configuration
//!   (client certificates, ALPN) with [`TlsClient::from_config`].
//! * Servers use a [`TlsServer`], built from a PEM certificate chain and
//!   private key ([`TlsServer::from_pem_files`], Workflow's
//!   `start(port, cert_file, key_file)`), optionally with more certificates
//!   picked by the client's SNI ([`TlsServer::builder`], Workflow's
//!   `get_server_ssl_ctx(servername)`), or from any rustls configuration
//!   (client-certificate verification) with [`TlsServer::from_config`].
//!
//! Handshake failures are reported as `SSL_ERROR`/1 (Workflow's
//! `WFT_STATE_SSL_ERROR` with `SSL_ERROR_SSL`), handshakes that take too long
//! as `SYS_ERROR`/`ETIMEDOUT` with [`TimeoutReason::Connect`], and socket
//! errors during the handshake as `SYS_ERROR` with their `errno`.
//!
//! The [`rustls`] crate is re-exported so that custom configurations are
//! built against the same version wf uses.
//!
//! ```
//! use wf_core::net::tls::{TlsClient, TlsServer};
//! # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
//! # let (cert_pem, key_pem) = (ck.cert.pem(), ck.signing_key.serialize_pem());
//!
//! // A server from a PEM certificate chain and key.
//! let server = TlsServer::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
//! // A client that trusts exactly that (self-signed) certificate.
//! let client = TlsClient::with_root_pem(cert_pem.as_bytes())?;
//! # let _ = (server, client);
//! # Ok::<(), wf_core::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use rustls;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Error, State, TimeoutReason};

/// `SSL_ERROR`/`SSL_ERROR_SSL`: what every failed handshake reports.
const SSL_ERROR: Error = Error::new(State::SslError, 1);

/// The `ring` provider, built once and shared by every configuration made
/// here (never the process-default provider).
fn provider() -> &'static Arc<CryptoProvider> {
    crate::global::tls_provider().get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// A client configuration builder with the ring provider and the default
/// (TLS 1.2 and 1.3) protocol versions.
fn client_builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(provider().clone())
        .with_safe_default_protocol_versions()
        // Only fails if the provider supports neither TLS 1.2 nor 1.3 cipher
        // suites; ring's default provider supports both, always.
        .expect("the ring provider supports the default TLS versions")
}

/// SNI as `Settings::use_tls_sni` says (configurations a user builds
/// keep their own choice).
fn with_sni_setting(mut config: ClientConfig) -> ClientConfig {
    config.enable_sni = crate::settings().use_tls_sni;
    config
}

/// A server configuration builder, as [`client_builder`].
fn server_builder() -> rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier> {
    ServerConfig::builder_with_provider(provider().clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
}

fn einval() -> Error {
    Error::sys(libc::EINVAL)
}

/// PEM errors: IO errors keep their errno, everything else is bad data.
fn pem_error(e: pem::Error) -> Error {
    match e {
        pem::Error::Io(e) => Error::from(e),
        _ => einval(),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(Error::from)
}

/// Every certificate in `pem`, in order; at least one.
fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(pem_error)?;
    if certs.is_empty() {
        return Err(einval());
    }
    Ok(certs)
}

/// A certificate chain and its private key, checked to belong together.
fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, Error> {
    let certs = parse_certs(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(pem_error)?;
    let ck = CertifiedKey::from_der(certs, key, provider()).map_err(|_| einval())?;
    Ok(Arc::new(ck))
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// How a client verifies servers: a shared rustls [`ClientConfig`].
///
/// Cloning is cheap (an `Arc`). Two `TlsClient`s are equal when they share
/// the same configuration object, and connections are pooled per
/// configuration: reuse one `TlsClient` rather than building an equal one
/// per task.
///
/// ```
/// use wf_core::net::tls::TlsClient;
///
/// // The default: verify against the system's (or bundled) roots. Built
/// // once per process.
/// let verified = TlsClient::verified();
/// assert_eq!(verified, TlsClient::default());
/// // An explicit opt-out: encryption without authentication.
/// let insecure = TlsClient::insecure();
/// assert_ne!(verified, insecure);
/// ```
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    /// Unique per `from_config` call, never reused: pooled connections are
    /// keyed by it, so a connection checked under one configuration never
    /// serves a task using another, even after the first is dropped.
    id: usize,
}

impl TlsClient {
    /// The default client: verifies the server's certificate chain and
    /// name against the system's trusted roots (`rustls-native-certs`:
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR` or the platform store), or the bundled
    /// Mozilla roots (`webpki-roots`) when the system yields none.
    ///
    /// Built on first use and shared by the whole process afterwards.
    pub fn verified() -> TlsClient {
        crate::global::tls_verified()
            .get_or_init(|| {
                let config = client_builder().with_root_certificates(default_roots()).with_no_client_auth();
                TlsClient::from_config(Arc::new(with_sni_setting(config)))
            })
            .clone()
    }

    /// A client that accepts **any** certificate for any name: the
    /// connection is encrypted but the server is not authenticated, so a
    /// man in the middle goes unnoticed. This is C++ Workflow's default
    /// behaviour, available here only as an explicit per-task opt-out (test
    /// servers, self-signed internal services).
    ///
    /// The handshake signatures are still checked, so the server must hold
    /// the key of the certificate it presents. Shared by the whole process.
    pub fn insecure() -> TlsClient {
        crate::global::tls_insecure()
            .get_or_init(|| {
                let verifier = NoVerification(provider().signature_verification_algorithms);
                let config = client_builder()
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth();
                TlsClient::from_config(Arc::new(with_sni_setting(config)))
            })
            .clone()
    }

    /// A client that trusts exactly the CA certificates in `pem` (one or
    /// more `CERTIFICATE` blocks) and verifies names as usual.
    ///
    /// Fails with `SYS_ERROR`/`EINVAL` if `pem` holds no usable certificate.
    ///
    /// ```
    /// # let ca = rcgen::generate_simple_self_signed(vec!["internal.example".to_string()]).unwrap();
    /// # let ca_pem = ca.cert.pem();
    /// let client = wf_core::net::tls::TlsClient::with_root_pem(ca_pem.as_bytes())?;
    /// assert_eq!(
    ///     wf_core::net::tls::TlsClient::with_root_pem(b"not a certificate").unwrap_err(),
    ///     wf_core::Error::sys(libc::EINVAL),
    /// );
    /// # let _ = client;
    /// # Ok::<(), wf_core::Error>(())
    /// ```
    pub fn with_root_pem(pem: &[u8]) -> Result<TlsClient, Error> {
        let mut roots = RootCertStore::empty();
        for cert in parse_certs(pem)? {
            roots.add(cert).map_err(|_| einval())?;
        }
        let config = client_builder().with_root_certificates(roots).with_no_client_auth();
        Ok(TlsClient::from_config(Arc::new(with_sni_setting(config))))
    }

    /// [`with_root_pem`](TlsClient::with_root_pem) reading the PEM from a
    /// file; a file that cannot be read fails with its `errno` (e.g.
    /// `ENOENT`).
    pub fn with_root_file(path: impl AsRef<Path>) -> Result<TlsClient, Error> {
        TlsClient::with_root_pem(&read_file(path.as_ref())?)
    }

    /// A client with any rustls configuration: client certificates (mutual
    /// TLS), ALPN, other roots or verifiers.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wf_core::net::tls::{TlsClient, rustls};
    ///
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let mut config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .unwrap()
    ///     .with_root_certificates(rustls::RootCertStore::empty())
    ///     .with_no_client_auth();
    /// config.alpn_protocols = vec![b"http/1.1".to_vec()];
    /// let client = TlsClient::from_config(Arc::new(config));
    /// assert_eq!(client.config().alpn_protocols, [b"http/1.1".to_vec()]);
    /// ```
    pub fn from_config(config: Arc<ClientConfig>) -> TlsClient {
        TlsClient { config, id: crate::global::tls_next_id().fetch_add(1, std::sync::atomic::Ordering::Relaxed) }
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Identity of the configuration, for connection-pool keys (a
    /// protocol that starts TLS inside its own handshake, say): equal for
    /// clones, distinct for every `TlsClient` built, never reused.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl Default for TlsClient {
    /// [`TlsClient::verified`].
    fn default() -> TlsClient {
        TlsClient::verified()
    }
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &TlsClient) -> bool {
        self.id == other.id
    }
}

impl Eq for TlsClient {}

impl Hash for TlsClient {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("config", &Arc::as_ptr(&self.config))
            .field("alpn_protocols", &Alpn(&self.config.alpn_protocols))
            .field("client_auth", &self.config.client_auth_cert_resolver.has_certs())
            .finish_non_exhaustive()
    }
}

/// ALPN names as text in `Debug` output.
struct Alpn<'a>(&'a [Vec<u8>]);

impl fmt::Debug for Alpn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|p| String::from_utf8_lossy(p))).finish()
    }
}

/// The system's roots, or the bundled Mozilla roots if there are none.
fn default_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    // Errors (an unreadable directory, a malformed file) are not fatal:
    // whatever did load is used.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

/// The verifier of [`TlsClient::insecure`]: any certificate, any name;
/// handshake signatures are still verified.
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The name to verify and send as SNI: an IP address (optionally in
/// brackets) is verified against the certificate's IP addresses and sends
/// no SNI; anything else must be a valid DNS name.
fn server_name_of(name: &str) -> Result<ServerName<'static>, Error> {
    let bare = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    let host = name.strip_suffix('.').unwrap_or(name);
    DnsName::try_from(host.to_owned()).map(ServerName::DnsName).map_err(|e| SSL_ERROR.with_cause(e))
}

/// Runs the TLS client handshake on `stream`, verifying the server as
/// `tls` says and sending `server_name` as SNI (unless it is an IP
/// address).
///
/// Errors: `SSL_ERROR`/1 when the handshake fails (certificate rejected,
/// peer not speaking TLS, invalid `server_name`); `SYS_ERROR`/`ETIMEDOUT`
/// with [`TimeoutReason::Connect`] when it takes longer than `timeout`
/// (`None` waits forever); `SYS_ERROR` with the socket's `errno` when the
/// connection fails underneath (a peer closing mid-handshake gives
/// `ECONNRESET`).
pub(crate) async fn connect<S>(
    tls: &TlsClient,
    server_name: &str,
    stream: S,
    timeout: Option<Duration>,
) -> Result<tokio_rustls::client::TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = server_name_of(server_name)?;
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    handshake(connector.connect(name, stream), timeout).await
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// How a server does TLS: a shared rustls [`ServerConfig`].
///
/// ```
/// use wf_core::net::tls::TlsServer;
/// # let dir = std::env::temp_dir().join(format!("wf-tls-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
/// # std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
/// # std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
/// # let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
///
/// let server = TlsServer::from_pem_files(&cert_file, &key_file)?;
/// assert_eq!(
///     TlsServer::from_pem_files("/nonexistent/cert.pem", &key_file).unwrap_err(),
///     wf_core::Error::sys(libc::ENOENT),
/// );
/// # let _ = server;
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), wf_core::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsServer {
    config: Arc<ServerConfig>,
}

impl TlsServer {
    /// A server from a PEM certificate chain file (the server's certificate
    /// first, then intermediates) and a PEM private key file (PKCS#8,
    /// PKCS#1/RSA or SEC1/EC).
    ///
    /// Fails with `SYS_ERROR` and the `errno` of a file that cannot be read
    /// (e.g. `ENOENT`), or `EINVAL` when the files hold no certificate, no
    /// key, an unsupported key, or a key that does not match the
    /// certificate.
    pub fn from_pem_files(cert_path: impl AsRef<Path>, key_path: impl AsRef<Path>) -> Result<TlsServer, Error> {
        TlsServer::from_pem(&read_file(cert_path.as_ref())?, &read_file(key_path.as_ref())?)
    }

    /// [`from_pem_files`](TlsServer::from_pem_files) with the PEM text in
    /// memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsServer, Error> {
        Ok(TlsServer::builder(cert_pem, key_pem)?.build())
    }

    /// Starts a server with several certificates picked by the client's SNI:
    /// `cert_pem`/`key_pem` are the default, used when no other name
    /// matches and when the client sends no SNI.
    ///
    /// ```
    /// use wf_core::net::tls::TlsServer;
    /// # let ck = |n: &str| {
    /// #     let ck = rcgen::generate_simple_self_signed(vec![n.to_string()]).unwrap();
    /// #     (ck.cert.pem(), ck.signing_key.serialize_pem())
    /// # };
    /// # let (default_cert, default_key) = ck("localhost");
    /// # let (api_cert, api_key) = ck("api.example");
    /// # let (wild_cert, wild_key) = ck("*.static.example");
    ///
    /// let server = TlsServer::builder(default_cert.as_bytes(), default_key.as_bytes())?
    ///     .add_sni_pem("api.example", api_cert.as_bytes(), api_key.as_bytes())?
    ///     .add_sni_pem("*.static.example", wild_cert.as_bytes(), wild_key.as_bytes())?
    ///     .build();
    /// # let _ = server;
    /// # Ok::<(), wf_core::Error>(())
    /// ```
    pub fn builder(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsServerBuilder, Error> {
        Ok(TlsServerBuilder { default: certified_key(cert_pem, key_pem)?, names: HashMap::new() })
    }

    /// [`builder`](TlsServer::builder) reading the default certificate and
    /// key from files.
    pub fn builder_from_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<TlsServerBuilder, Error> {
        TlsServer::builder(&read_file(cert_path.as_ref())?, &read_file(key_path.as_ref())?)
    }

    /// A server with any rustls configuration: client-certificate
    /// verification (mutual TLS), ALPN, a custom certificate resolver.
    pub fn from_config(config: Arc<ServerConfig>) -> TlsServer {
        TlsServer { config }
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("config", &Arc::as_ptr(&self.config))
            .field("alpn_protocols", &Alpn(&self.config.alpn_protocols))
            .finish_non_exhaustive()
    }
}

/// Builds a [`TlsServer`] that picks its certificate by the client's SNI;
/// see [`TlsServer::builder`].
#[derive(Debug)]
pub struct TlsServerBuilder {
    default: Arc<CertifiedKey>,
    names: HashMap<String, Arc<CertifiedKey>>,
}

impl TlsServerBuilder {
    /// Serves `cert_pem`/`key_pem` to clients whose SNI is `name`.
    ///
    /// `name` is a DNS name, compared case-insensitively, or a wildcard
    /// `*.example.com` that matches exactly one more label (`a.example.com`,
    /// not `example.com` nor `a.b.example.com`); an exact name wins over a
    /// wildcard. Adding a name again replaces its certificate. The
    /// certificate is served as given: that it is valid for `name` is the
    /// client's to check.
    ///
    /// Fails with `SYS_ERROR`/`EINVAL` for an invalid name or PEM data, as
    /// [`TlsServer::from_pem`].
    pub fn add_sni_pem(mut self, name: &str, cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsServerBuilder, Error> {
        let name = sni_key(name)?;
        self.names.insert(name, certified_key(cert_pem, key_pem)?);
        Ok(self)
    }

    /// [`add_sni_pem`](TlsServerBuilder::add_sni_pem) reading the
    /// certificate and key from files.
    pub fn add_sni_pem_files(
        self,
        name: &str,
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<TlsServerBuilder, Error> {
        let (cert, key) = (read_file(cert_path.as_ref())?, read_file(key_path.as_ref())?);
        self.add_sni_pem(name, &cert, &key)
    }

    /// The server.
    pub fn build(self) -> TlsServer {
        let resolver = SniResolver { default: self.default, names: self.names };
        let config = server_builder().with_no_client_auth().with_cert_resolver(Arc::new(resolver));
        TlsServer::from_config(Arc::new(config))
    }
}

/// The lookup key for an SNI name: lowercase, no trailing dot, validated.
fn sni_key(name: &str) -> Result<String, Error> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let host = name.strip_prefix("*.").unwrap_or(&name);
    if host.parse::<IpAddr>().is_ok() || DnsName::try_from(host).is_err() {
        return Err(einval());
    }
    Ok(name)
}

/// Picks the certificate for the client's SNI: an exact name, else a
/// `*.parent` wildcard, else the default.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    names: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    fn lookup(&self, sni: &str) -> Option<&Arc<CertifiedKey>> {
        let sni = sni.strip_suffix('.').unwrap_or(sni).to_ascii_lowercase();
        if let Some(ck) = self.names.get(&sni) {
            return Some(ck);
        }
        let (_, parent) = sni.split_once('.')?;
        self.names.get(&format!("*.{parent}"))
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let picked = client_hello.server_name().and_then(|sni| self.lookup(sni));
        Some(picked.unwrap_or(&self.default).clone())
    }
}

/// Runs the TLS server handshake on an accepted `stream`; errors as
/// [`connect`].
pub(crate) async fn accept<S>(
    tls: &TlsServer,
    stream: S,
    timeout: Option<Duration>,
) -> Result<tokio_rustls::server::TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
    handshake(acceptor.accept(stream), timeout).await
}

// ---------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------

async fn handshake<T>(fut: impl Future<Output = io::Result<T>>, timeout: Option<Duration>) -> Result<T, Error> {
    let result = match timeout {
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(result) => result,
            Err(_) => return Err(Error::timeout(TimeoutReason::Connect)),
        },
        None => fut.await,
    };
    result.map_err(handshake_error)
}

/// A TLS-level failure (a `rustls::Error`, which tokio-rustls wraps as
/// `InvalidData`) is `SSL_ERROR`/1 caused by rustls's error (the reason:
/// an unknown issuer, a name mismatch…); anything else is a socket error.
fn handshake_error(e: io::Error) -> Error {
    let is_tls = e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
    if !is_tls && e.kind() != io::ErrorKind::InvalidData {
        return Error::from(e);
    }
    match e.into_inner() {
        Some(inner) => SSL_ERROR.with_cause(inner),
        None => SSL_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    struct Pki {
        ca_pem: String,
        /// "localhost" and "127.0.0.1", signed by the CA.
        local: (String, String, CertificateDer<'static>),
        /// "other.test", signed by the CA.
        other: (String, String, CertificateDer<'static>),
    }

    fn pki() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "wf test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: &[&str]| {
            let key = KeyPair::generate().unwrap();
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let cert = CertificateParams::new(names).unwrap().signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem(), cert.der().clone())
        };
        Pki { ca_pem: ca.pem(), local: leaf(&["localhost", "127.0.0.1"]), other: leaf(&["other.test"]) }
    }

    /// A listener whose first connection is handshaken with `server`; the
    /// server echoes one message, and its handshake result is sent back.
    async fn echo_server(server: TlsServer) -> (std::net::SocketAddr, tokio::task::JoinHandle<Result<(), Error>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = accept(&server, tcp, Some(Duration::from_secs(5))).await?;
            let mut buf = [0u8; 64];
            let n = tls.read(&mut buf).await.unwrap();
            tls.write_all(&buf[..n]).await.unwrap();
            tls.shutdown().await.unwrap();
            Ok(())
        });
        (addr, handle)
    }

    async fn handshake_with(
        client: &TlsClient,
        name: &str,
        server: TlsServer,
    ) -> (Result<tokio_rustls::client::TlsStream<TcpStream>, Error>, tokio::task::JoinHandle<Result<(), Error>>) {
        let (addr, handle) = echo_server(server).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        (connect(client, name, tcp, Some(Duration::from_secs(5))).await, handle)
    }

    #[tokio::test]
    async fn round_trip_with_private_ca() {
        let pki = pki();
        let server = TlsServer::from_pem(pki.local.0.as_bytes(), pki.local.1.as_bytes()).unwrap();
        let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
        for name in ["localhost", "127.0.0.1", "LOCALHOST."] {
            let (tls, server_done) = handshake_with(&client, name, server.clone()).await;
            let mut tls = tls.unwrap();
            tls.write_all(b"hello over tls").await.unwrap();
            let mut got = Vec::new();
            tls.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"hello over tls");
            assert_eq!(tls.get_ref().1.peer_certificates().unwrap()[0], pki.local.2);
            server_done.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn verified_rejects_self_signed_insecure_accepts() {
        let pki = pki();
        let server = TlsServer::from_pem(pki.local.0.as_bytes(), pki.local.1.as_bytes()).unwrap();

        let (tls, server_done) = handshake_with(&TlsClient::verified(), "localhost", server.clone()).await;
        assert_eq!(tls.unwrap_err(), SSL_ERROR);
        // The server sees the client's alert: also an SSL error.
        assert_eq!(server_done.await.unwrap().unwrap_err(), SSL_ERROR);

        let (tls, server_done) = handshake_with(&TlsClient::insecure(), "localhost", server.clone()).await;
        let mut tls = tls.unwrap();
        tls.write_all(b"x").await.unwrap();
        let mut got = Vec::new();
        tls.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"x");
        server_done.await.unwrap().unwrap();

        // Insecure ignores names too.
        let (tls, _) = handshake_with(&TlsClient::insecure(), "wrong.name", server).await;
        assert!(tls.is_ok());
    }

    #[tokio::test]
    async fn name_mismatch_fails() {
        let pki = pki();
        let server = TlsServer::from_pem(pki.local.0.as_bytes(), pki.local.1.as_bytes()).unwrap();
        let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
        let (tls, _) = handshake_with(&client, "other.test", server.clone()).await;
        assert_eq!(tls.unwrap_err(), SSL_ERROR);
        let (tls, _) = handshake_with(&client, "127.0.0.2", server).await;
        assert_eq!(tls.unwrap_err(), SSL_ERROR);
    }

    #[tokio::test]
    async fn sni_selects_certificate() {
        let pki = pki();
        let server = TlsServer::builder(pki.local.0.as_bytes(), pki.local.1.as_bytes())
            .unwrap()
            .add_sni_pem("Other.Test", pki.other.0.as_bytes(), pki.other.1.as_bytes())
            .unwrap()
            .build();
        let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
        for (name, want) in [("other.test", &pki.other.2), ("localhost", &pki.local.2), ("127.0.0.1", &pki.local.2)] {
            let (tls, server_done) = handshake_with(&client, name, server.clone()).await;
            let mut tls = tls.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&tls.get_ref().1.peer_certificates().unwrap()[0], want, "{name}");
            tls.write_all(b"sni").await.unwrap();
            let mut got = Vec::new();
            tls.read_to_end(&mut got).await.unwrap();
            server_done.await.unwrap().unwrap();
        }
    }

    #[test]
    fn sni_wildcards() {
        let pki = pki();
        let ck = |c: &(String, String, CertificateDer<'static>)| certified_key(c.0.as_bytes(), c.1.as_bytes()).unwrap();
        let mut names = HashMap::new();
        names.insert(sni_key("*.Example.com").unwrap(), ck(&pki.other));
        names.insert(sni_key("exact.example.com.").unwrap(), ck(&pki.local));
        let r = SniResolver { default: ck(&pki.local), names };
        let cert = |sni: &str| r.lookup(sni).map(|k| k.cert[0].clone());
        assert_eq!(cert("a.example.com"), Some(pki.other.2.clone()));
        assert_eq!(cert("A.EXAMPLE.COM"), Some(pki.other.2.clone()));
        assert_eq!(cert("exact.example.com"), Some(pki.local.2.clone()));
        assert_eq!(cert("example.com"), None);
        assert_eq!(cert("a.b.example.com"), None);
        assert_eq!(sni_key("").unwrap_err(), einval());
        assert_eq!(sni_key("*").unwrap_err(), einval());
        assert_eq!(sni_key("127.0.0.1").unwrap_err(), einval());
        assert_eq!(sni_key("bad name").unwrap_err(), einval());
    }

    #[tokio::test]
    async fn handshake_timeout_against_silent_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(tcp);
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        let err =
            connect(&TlsClient::insecure(), "localhost", tcp, Some(Duration::from_millis(200))).await.unwrap_err();
        let elapsed = start.elapsed();
        assert_eq!(err, Error::timeout(TimeoutReason::Connect));
        assert!(err.is_timeout());
        assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2), "{elapsed:?}");
        held.abort();
    }

    #[tokio::test]
    async fn accept_timeout_against_silent_client() {
        let pki = pki();
        let server = TlsServer::from_pem(pki.local.0.as_bytes(), pki.local.1.as_bytes()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let start = Instant::now();
        let err = accept(&server, tcp, Some(Duration::from_millis(200))).await.unwrap_err();
        assert_eq!(err.timeout_reason(), TimeoutReason::Connect);
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn peer_not_speaking_tls_is_ssl_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = connect(&TlsClient::insecure(), "localhost", tcp, Some(Duration::from_secs(5))).await.unwrap_err();
        assert_eq!(err, SSL_ERROR);
        // The text is Workflow's, followed by rustls's reason (the cause).
        assert_eq!(err.text(), "SSL Error SSL");
        assert_eq!(err.to_string(), "SSL Error SSL: received corrupt message of type InvalidContentType");
        assert!(std::error::Error::source(&err).is_some_and(|c| c.is::<rustls::Error>()));

        // And a server receiving plain text.
        let pki = pki();
        let server = TlsServer::from_pem(pki.local.0.as_bytes(), pki.local.1.as_bytes()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        assert_eq!(accept(&server, tcp, Some(Duration::from_secs(5))).await.unwrap_err(), SSL_ERROR);
    }

    #[tokio::test]
    async fn socket_errors_keep_their_errno() {
        // The peer resets the connection: SYS_ERROR, not SSL_ERROR.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // Wait for the ClientHello so the reset hits a pending read.
            tcp.readable().await.unwrap();
            tcp.set_zero_linger().unwrap();
            drop(tcp);
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = connect(&TlsClient::insecure(), "localhost", tcp, None).await.unwrap_err();
        assert_eq!(err.state(), State::SysError, "{err:?}");
        assert!([libc::ECONNRESET, libc::EPIPE].contains(&err.code()), "{err:?}");

        // The peer closes cleanly mid-handshake: ECONNRESET too.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.readable().await.unwrap();
            drop(tcp);
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = connect(&TlsClient::insecure(), "localhost", tcp, None).await.unwrap_err();
        assert_eq!(err.state(), State::SysError, "{err:?}");
    }

    #[test]
    fn handshake_error_mapping() {
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(handshake_error(tls), SSL_ERROR);
        let tls_other_kind = io::Error::other(rustls::Error::HandshakeNotComplete);
        assert_eq!(handshake_error(tls_other_kind), SSL_ERROR);
        assert_eq!(handshake_error(io::Error::from_raw_os_error(libc::ECONNREFUSED)), Error::sys(libc::ECONNREFUSED));
        assert_eq!(handshake_error(io::ErrorKind::UnexpectedEof.into()), Error::sys(libc::ECONNRESET));
    }

    #[test]
    fn server_names() {
        assert!(matches!(server_name_of("127.0.0.1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name_of("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name_of("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name_of("example.com."), Ok(ServerName::DnsName(_))));
        assert_eq!(server_name_of("").unwrap_err(), SSL_ERROR);
        assert_eq!(server_name_of("bad name").unwrap_err(), SSL_ERROR);
    }

    #[test]
    fn ids_and_identity() {
        let a = TlsClient::verified();
        assert_eq!(a.id(), TlsClient::verified().id());
        assert_eq!(a.id(), a.clone().id());
        assert_ne!(a.id(), TlsClient::insecure().id());
        let pki = pki();
        let b = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
        let c = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
        assert_ne!(b, c);
        assert_ne!(b.id(), c.id());
        let dbg = format!("{a:?}");
        assert!(dbg.starts_with("TlsClient {"), "{dbg}");
    }
}
