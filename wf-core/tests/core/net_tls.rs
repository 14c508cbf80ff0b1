//! TLS configurations through the public API: client verification
//! (private CA, default roots, insecure opt-out, name checks), SNI-based
//! certificate selection on servers, and PEM loading errors.
//!
//! Handshakes run over loopback TCP with the re-exported rustls in blocking
//! mode (the async `connect`/`accept` helpers are crate-private and tested
//! in `net/tls.rs`).
#![cfg(feature = "tls")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use testkit::TempDir;
use wf_core::net::tls::rustls::pki_types::pem::PemObject;
use wf_core::net::tls::rustls::pki_types::{CertificateDer, ServerName};
use wf_core::net::tls::rustls::{self, ClientConnection, ServerConnection, StreamOwned};
use wf_core::net::tls::{TlsClient, TlsServer};
use wf_core::{Error, State};

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

struct Pki {
    ca_pem: String,
    /// For "localhost" and 127.0.0.1, signed by the CA.
    local: Leaf,
    /// For "other.test", signed by the CA.
    other: Leaf,
}

fn pki() -> Pki {
    let ca = testkit::Pki::new("wf test CA");
    let leaf =
        |l: testkit::Leaf| Leaf { der: CertificateDer::from(l.cert_der), cert_pem: l.cert_pem, key_pem: l.key_pem };
    Pki {
        ca_pem: ca.ca_pem.clone(),
        local: leaf(ca.issue(&["localhost", "127.0.0.1"])),
        other: leaf(ca.issue(&["other.test"])),
    }
}

/// What the client saw: the server's end-entity certificate and the echo.
#[derive(Debug)]
struct Session {
    peer_cert: CertificateDer<'static>,
    echoed: Vec<u8>,
}

/// Handshakes `client` (sending `name`) with `server` over loopback TCP and
/// echoes a message. Returns the client's view, or the rustls error that
/// failed its handshake.
fn exchange(client: &TlsClient, name: &str, server: &TlsServer) -> Result<Session, rustls::Error> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server_config = Arc::clone(server.config());
    let server_thread = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut tls = StreamOwned::new(ServerConnection::new(server_config).unwrap(), tcp);
        let mut buf = [0u8; 64];
        // A failed handshake surfaces here; the client reports it.
        if let Ok(n) = tls.read(&mut buf) {
            let _ = tls.write_all(&buf[..n]);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });

    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let conn = ClientConnection::new(Arc::clone(client.config()), server_name).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    let result = (|| {
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        tls.write_all(b"ping over tls")?;
        let mut echoed = Vec::new();
        tls.read_to_end(&mut echoed)?;
        let peer_cert = tls.conn.peer_certificates().unwrap()[0].clone();
        Ok::<_, std::io::Error>(Session { peer_cert, echoed })
    })();
    drop(tls);
    server_thread.join().unwrap();
    result.map_err(|e| match e.into_inner().map(|inner| inner.downcast::<rustls::Error>()) {
        Some(Ok(tls_error)) => *tls_error,
        other => panic!("not a TLS error: {other:?}"),
    })
}

#[test]
fn private_ca_round_trip_from_files() {
    let pki = pki();
    let dir = TempDir::new("files");
    let cert = dir.write("cert.pem", &pki.local.cert_pem);
    let key = dir.write("key.pem", &pki.local.key_pem);
    let ca = dir.write("ca.pem", &pki.ca_pem);

    let server = TlsServer::from_pem_files(&cert, &key).unwrap();
    let client = TlsClient::with_root_file(&ca).unwrap();
    for name in ["localhost", "127.0.0.1"] {
        let session = exchange(&client, name, &server).unwrap();
        assert_eq!(session.echoed, b"ping over tls");
        assert_eq!(session.peer_cert, pki.local.der);
    }
}

#[test]
fn default_client_rejects_self_signed_insecure_accepts() {
    let pki = pki();
    let server = TlsServer::from_pem(pki.local.cert_pem.as_bytes(), pki.local.key_pem.as_bytes()).unwrap();

    let err = exchange(&TlsClient::verified(), "localhost", &server).unwrap_err();
    assert!(matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)), "{err:?}");
    assert_eq!(TlsClient::default(), TlsClient::verified());

    let session = exchange(&TlsClient::insecure(), "localhost", &server).unwrap();
    assert_eq!(session.echoed, b"ping over tls");
    // Any name goes with the opt-out.
    assert!(exchange(&TlsClient::insecure(), "not.the.name", &server).is_ok());
}

#[test]
fn name_mismatch_fails() {
    let pki = pki();
    let server = TlsServer::from_pem(pki.local.cert_pem.as_bytes(), pki.local.key_pem.as_bytes()).unwrap();
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    let err = exchange(&client, "other.test", &server).unwrap_err();
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })),
        "{err:?}"
    );
}

#[test]
fn sni_selects_the_certificate() {
    let pki = pki();
    let dir = TempDir::new("sni");
    let other_cert = dir.write("other.pem", &pki.other.cert_pem);
    let other_key = dir.write("other.key", &pki.other.key_pem);
    let from_pem = TlsServer::builder(pki.local.cert_pem.as_bytes(), pki.local.key_pem.as_bytes())
        .unwrap()
        .add_sni_pem("other.test", pki.other.cert_pem.as_bytes(), pki.other.key_pem.as_bytes())
        .unwrap()
        .build();
    let from_files = TlsServer::builder(pki.local.cert_pem.as_bytes(), pki.local.key_pem.as_bytes())
        .unwrap()
        .add_sni_pem_files("other.test", &other_cert, &other_key)
        .unwrap()
        .build();
    let client = TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap();
    for server in [&from_pem, &from_files] {
        assert_eq!(exchange(&client, "other.test", server).unwrap().peer_cert, pki.other.der);
        assert_eq!(exchange(&client, "localhost", server).unwrap().peer_cert, pki.local.der);
        // An IP address sends no SNI: the default certificate.
        assert_eq!(exchange(&client, "127.0.0.1", server).unwrap().peer_cert, pki.local.der);
    }
}

#[test]
fn pem_errors() {
    let pki = pki();
    let dir = TempDir::new("errors");
    let cert = dir.write("cert.pem", &pki.local.cert_pem);
    let key = dir.write("key.pem", &pki.local.key_pem);
    let garbage = dir.write("garbage.pem", "this is not PEM at all\n");
    let broken = dir.write("broken.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    let missing = dir.path().join("missing.pem");
    let einval = Error::sys(libc::EINVAL);
    let enoent = Error::sys(libc::ENOENT);

    assert_eq!(TlsServer::from_pem_files(&missing, &key).unwrap_err(), enoent);
    assert_eq!(TlsServer::from_pem_files(&cert, &missing).unwrap_err(), enoent);
    assert_eq!(TlsServer::from_pem_files(&garbage, &key).unwrap_err(), einval);
    assert_eq!(TlsServer::from_pem_files(&broken, &key).unwrap_err(), einval);
    assert_eq!(TlsServer::from_pem_files(&cert, &garbage).unwrap_err(), einval);
    // A certificate file is not a key.
    assert_eq!(TlsServer::from_pem_files(&cert, &cert).unwrap_err(), einval);
    // The key of another certificate.
    assert_eq!(TlsServer::from_pem(pki.local.cert_pem.as_bytes(), pki.other.key_pem.as_bytes()).unwrap_err(), einval);
    assert_eq!(TlsServer::builder_from_files(&missing, &key).unwrap_err(), enoent);
    let builder = TlsServer::builder_from_files(&cert, &key).unwrap();
    assert_eq!(builder.add_sni_pem("bad name!", pki.other.cert_pem.as_bytes(), b"").unwrap_err(), einval);

    assert_eq!(TlsClient::with_root_file(&missing).unwrap_err(), enoent);
    assert_eq!(TlsClient::with_root_file(&garbage).unwrap_err(), einval);
    assert_eq!(TlsClient::with_root_pem(b"").unwrap_err(), einval);
    assert_eq!(einval.state(), State::SysError);
}

#[test]
fn configs_and_debug() {
    let pki = pki();
    let server = TlsServer::from_pem(pki.local.cert_pem.as_bytes(), pki.local.key_pem.as_bytes()).unwrap();
    let again = TlsServer::from_config(Arc::clone(server.config()));
    assert!(Arc::ptr_eq(server.config(), again.config()));
    assert!(format!("{server:?}").starts_with("TlsServer {"));

    // Equality is identity: clones are equal; a client built again from
    // the same configuration is another client (its own pool entries).
    let client = TlsClient::from_config(Arc::clone(TlsClient::insecure().config()));
    assert!(Arc::ptr_eq(client.config(), TlsClient::insecure().config()));
    assert_ne!(client, TlsClient::insecure());
    assert_eq!(client, client.clone());
    assert!(format!("{client:?}").starts_with("TlsClient {"));
}

#[test]
fn pkcs1_and_sec1_keys() {
    for (cert_pem, key_pem, header) in [
        (RSA_PKCS1_CERT, RSA_PKCS1_KEY, "-----BEGIN RSA PRIVATE KEY-----"),
        (EC_SEC1_CERT, EC_SEC1_KEY, "-----BEGIN EC PRIVATE KEY-----"),
    ] {
        assert!(key_pem.starts_with(header));
        let server = TlsServer::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
        let want = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let session = exchange(&TlsClient::insecure(), "localhost", &server).unwrap();
        assert_eq!(session.peer_cert, want);
        // The self-signed certificate as the only root verifies too.
        let client = TlsClient::with_root_pem(cert_pem.as_bytes()).unwrap();
        assert_eq!(exchange(&client, "localhost", &server).unwrap().echoed, b"ping over tls");
    }
    // A key of the other type does not match.
    assert_eq!(
        TlsServer::from_pem(RSA_PKCS1_CERT.as_bytes(), EC_SEC1_KEY.as_bytes()).unwrap_err(),
        Error::sys(libc::EINVAL)
    );
}

// Fixtures made once with OpenSSL 3 (`genrsa -traditional`, `ecparam -genkey -noout`,
// `req -x509 -days 36500`, SAN localhost, CA:FALSE): rcgen with ring only writes PKCS#8.

const RSA_PKCS1_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDHjCCAgagAwIBAgIUdr4gtP272met7vbKwVfL8Iz9aNswDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTE2NDQ0MloYDzIxMjYx
MTAxMTY0NDQyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQDfj5NYy3YbQ5bAOEG2KgysI6UwT7371tdrgsZLOcyx
Erj9z/p6WDUdwUrce0JO9c3uj7SIgo+7JXKjIMGTTtXpfKttljZlG+X5kKacM6nb
cWMbOCS8D8BlGmL/c8WKgGEOgOlTDXfzoITCJczcLlx8HY5AiS2DaZivsGiwhoPq
8EnZcddr71BkBOJJ73VbknfNtvG30csDt5ibvsduiWfjJASynY7QIv4TOCI/FPbD
fBJQK0sDUdJ8opHHGMqDyGiSWuOiSd00jCO2EA3uRxaAvvpFb6iKv4FyHXW0xmNi
giuzp2eqLlp/zhaXo02ub2jSOtKDZo5VqfB5fUpcBhtzAgMBAAGjZjBkMB0GA1Ud
DgQWBBRJDlCvxxMDRLn8X4erzHf0cCTlBjAfBgNVHSMEGDAWgBRJDlCvxxMDRLn8
X4erzHf0cCTlBjAUBgNVHREEDTALgglsb2NhbGhvc3QwDAYDVR0TAQH/BAIwADAN
BgkqhkiG9w0BAQsFAAOCAQEACJK0+1OP2B6wsn6OWkJJN2FlccOaJZ/l9Tl/e+Jw
zohY82kxrVJFqgf/XpZ3o8CkxdQgBI+knUSm0872QF3ZmWBXFSL0DpgH01rn7/KJ
tRVWbxxlsDx5arLACBAAiyzGSjpI135MvOPPQVEmGQHAcvE04XuLSWbwZCWK+z7m
A1p6nc+AX8BbpeoHCQVr9JreFPrnAHlBT1wt7eJ9aMB8o+8D7XReoJzeMIaeiAXV
6qCAVvtpz8a6GL1Y0O85HpxOy+juOlOgzQCP5DanbYuwU1j13MCAAhwzOartAIhf
kmJQGpr/j40MkAu7ilkHJdBKmhuOMERpAwIDiZ3+c6Y+Ew==
-----END CERTIFICATE-----
";

const RSA_PKCS1_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA34+TWMt2G0OWwDhBtioMrCOlME+9+9bXa4LGSznMsRK4/c/6
elg1HcFK3HtCTvXN7o+0iIKPuyVyoyDBk07V6XyrbZY2ZRvl+ZCmnDOp23FjGzgk
vA/AZRpi/3PFioBhDoDpUw1386CEwiXM3C5cfB2OQIktg2mYr7BosIaD6vBJ2XHX
a+9QZATiSe91W5J3zbbxt9HLA7eYm77Hboln4yQEsp2O0CL+EzgiPxT2w3wSUCtL
A1HSfKKRxxjKg8hoklrjokndNIwjthAN7kcWgL76RW+oir+Bch11tMZjYoIrs6dn
qi5af84Wl6NNrm9o0jrSg2aOVanweX1KXAYbcwIDAQABAoIBAEbg1ExwpU9bjG4A
6ASDLGVfH75Dae5wXPf/DDNJbfYuA2ylBbrIQH7gi4V/prQ2BkY+VXR6QGuLId9K
QVUcx4ExP4CNAU3pHG6VR916G74xIsS8dhkRvWPQi9aFs/mHXj4k7NSiDoe1OqH7
LgoYwMWw8SrQ0xc44WnCOk7NNwHC+P4KJ3+SD9iPGob3hJlqGnqCNZhAh24LqO3+
Kyy+E3+30L4XmY+dg52egTQGO5U8aUtTSLcAcaqM+7KDmQLqrMxeT8wdRUL3Ef+0
gP7s9CcsbZpKDYChzo6wskhpLy9gNUYBnEgwYv8fTvdAnohAjIt+Zxie14jwHfos
HcLrE1ECgYEA/8jgtnTge8VUihl20D6GVqdxu4GEk1iWyr0YfMlumBJCFYnKFSb8
YvM4N3jVMIyTo0hriAHVfq0WAr/BoUwgPXW/p2NgEyDlkwvBHAreYFMyqJ0Aw25i
cdaMoqb6sJCXOu590oRPvdFaoTWme/3nglQjLmjP40wBvTyWAUGkcA8CgYEA37/A
47wFvrsKGZMV9hkx1QyV4ve1+N/+yXaTQQYHXeBdpztzZwqefv7Bwt+WZNA6I2Jf
iVEQMUabyLhyfoUPP0FuglIe01B8fYJiDtlbHvOof81y6gGJmRnQJBYCA2P/7VFW
NGh3mJ8lGP68p8nTBbZ11ohEtXBqiTVWXrm6Ol0CgYBXrcMhqCS/KKBXCm2I6rXg
BFvfG4GXhJmD+5fmRqIrbK7MdUQZRhjjzl2p3jiuALInGY8Kux404x4VaSf1o4O1
raQ5u73WMMOhSTkz5KHfwQUveUoms7L5NMNWigiK97VvVQs6W3J+LcJ0WlCsVhfC
vBanNPR2BLrf5GHDIn48jwKBgALGkTECCxwzm8t3bKVR6LFY558aLZK5zKJZKzh6
R6sddmv1q9fSZOb0aBjvxyDXCHGZ7c95Rvclhhc2Wo1BP1Askp9hP2qlq/WuoWLH
xX6bzTJQrSVEAZ35mQBpmXrLSch64tPhm+IzzzUBK/v03/5JJisUI64Qh/HNzJV+
PlYtAoGBAIhMJjz24W9fwmV/txYJwD3/JlRBCpcy/cQJTYDQXslEFIh65Ly5hm0W
TNu03lppr9Y5SKl9FpXKtAEgtBV4nMp8CP5QfFAo/Wku13B/svmVzXmcVBwEvjiG
zBQkSd157RHWUEWtj8mW8y0OLh84NNNCGDuLou3+s3cjafvJRPlH
-----END RSA PRIVATE KEY-----
";

const EC_SEC1_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBkjCCATigAwIBAgIUGplbZWFvRpJLFLKhfZer9PkHqiwwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTE2NDQ0MloYDzIxMjYxMTAx
MTY0NDQyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARoeLptnCA5vhc+2CS5IEMpYqEWf5nEOgPHuXKADKvoFfs3twV6Z8Fv
hsrg2E4oRAeRiYUr2JKoRSRbupDX1+ZTo2YwZDAdBgNVHQ4EFgQUKJQBye1fwf2c
JS3a/Mj+mUE03xwwHwYDVR0jBBgwFoAUKJQBye1fwf2cJS3a/Mj+mUE03xwwFAYD
VR0RBA0wC4IJbG9jYWxob3N0MAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0EAwIDSAAw
RQIhANaAi0LRBLA+doqcuRKZkNo1+8yYLT88HjTD6ExNoSBvAiA0YztBnLK1ZeEi
RhC4ueRbKJ6Gc9xyktstizNxzmec4Q==
-----END CERTIFICATE-----
";

const EC_SEC1_KEY: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIJWyQG68qouKiee8/ZoLWy3iiTF5YWKHfH0Z2enuqnRRoAoGCCqGSM49
AwEHoUQDQgAEaHi6bZwgOb4XPtgkuSBDKWKhFn+ZxDoDx7lygAyr6BX7N7cFemfB
b4bK4NhOKEQHkYmFK9iSqEUkW7qQ19fmUw==
-----END EC PRIVATE KEY-----
";
