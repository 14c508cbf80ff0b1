//! Certificates for TLS tests: a private CA, a server certificate it
//! signed, and more certificates from the same CA on demand.

use std::fmt;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// A private CA and a server certificate it signed (by default for
/// `localhost` and `127.0.0.1`), all as PEM.
///
/// ```
/// let pki = testkit::Pki::new("example CA");
/// assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(pki.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
/// // Another certificate from the same CA, for SNI or name checks.
/// let other = pki.issue(&["other.test"]);
/// assert_ne!(other.cert_pem, pki.cert_pem);
/// ```
#[derive(Clone)]
pub struct Pki {
    /// The CA's certificate: what a client trusts.
    pub ca_pem: String,
    /// The server's certificate.
    pub cert_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
    /// The server's certificate, DER-encoded (what a client sees in the
    /// handshake).
    pub cert_der: Vec<u8>,
    ca: Arc<CertifiedIssuer<'static, KeyPair>>,
}

/// A certificate signed by a [`Pki`]'s CA, with its key.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// The certificate, DER-encoded.
    pub cert_der: Vec<u8>,
}

impl Pki {
    /// A new CA named `ca_name` and a server certificate from it for
    /// `localhost` and `127.0.0.1`.
    pub fn new(ca_name: &str) -> Pki {
        Pki::for_names(ca_name, &["localhost", "127.0.0.1"])
    }

    /// A new CA named `ca_name` and a server certificate from it for
    /// `names` (DNS names or IP addresses).
    pub fn for_names(ca_name: &str, names: &[&str]) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, ca_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA certificate");
        let ca = Arc::new(ca);
        let server = issue(&ca, names);
        Pki { ca_pem: ca.pem(), cert_pem: server.cert_pem, key_pem: server.key_pem, cert_der: server.cert_der, ca }
    }

    /// Another certificate signed by this CA, for `names`, with a key of
    /// its own.
    pub fn issue(&self, names: &[&str]) -> Leaf {
        issue(&self.ca, names)
    }
}

fn issue(ca: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> Leaf {
    let key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("leaf parameters");
    // RFC 5280 asks for it, and strict verifiers (Python 3.13's default
    // `ssl` context) refuse a leaf without it.
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, ca).expect("leaf certificate");
    Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), cert_der: cert.der().to_vec() }
}

impl fmt::Debug for Pki {
    // The CA's key stays out of test output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki").field("ca_pem", &self.ca_pem).field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}
