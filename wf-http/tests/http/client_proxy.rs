//! `create_http_task_with_proxy` against a tiny CONNECT proxy written
//! here with tokio: the tunnel request, Proxy-Authorization from the
//! proxy URL, tunnel reuse, HTTPS inside the tunnel, and a refusing proxy
//! (`TASK_ERROR` 2002).

use crate::support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use support::{Outcome, RawServer, Reply, closed_port, fetch_via, pki, response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wf_core::net::tls::{TlsClient, TlsServer};
use wf_core::{State, code};
use wf_http::HttpServer;

/// A CONNECT proxy that sends every tunnel to `upstream` (whatever the
/// requested target) or refuses with `refuse`.
struct Proxy {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    accepts: Arc<Mutex<usize>>,
    _rt: tokio::runtime::Runtime,
}

impl Proxy {
    fn spawn(upstream: SocketAddr, refuse: Option<&'static str>) -> Proxy {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let accepts = Arc::new(Mutex::new(0));
        let (h, a) = (heads.clone(), accepts.clone());
        rt.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                *a.lock().unwrap() += 1;
                tokio::spawn(tunnel(client, upstream, refuse, h.clone()));
            }
        });
        Proxy { addr, heads, accepts, _rt: rt }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    fn accepts(&self) -> usize {
        *self.accepts.lock().unwrap()
    }
}

async fn tunnel(mut client: TcpStream, upstream: SocketAddr, refuse: Option<&str>, heads: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    heads.lock().unwrap().push(String::from_utf8_lossy(&buf[..end]).into_owned());
    if let Some(status) = refuse {
        let _ = client.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
        let _ = client.shutdown().await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
        return;
    }
    if server.write_all(&buf[end..]).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn origin() -> RawServer {
    RawServer::spawn(|req| Reply::Send(response("200 OK", &[], &format!("origin saw {}", req.target))))
}

#[test]
fn http_through_a_tunnel() {
    let origin = origin();
    let proxy = Proxy::spawn(origin.addr(), None);
    let o = fetch_via(&origin.url("/x?y=1"), &proxy.url(), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "origin saw /x?y=1");
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1);
    let target = origin.addr().to_string();
    assert!(heads[0].starts_with(&format!("CONNECT {target} HTTP/1.1\r\n")), "{}", heads[0]);
    assert_eq!(header(&heads[0], "host"), Some(target.as_str()));
    assert_eq!(header(&heads[0], "proxy-authorization"), None);
    // Inside the tunnel: an origin-form request to the target.
    let seen = &origin.seen()[0];
    assert_eq!((seen.method.as_str(), seen.target.as_str()), ("GET", "/x?y=1"));
    assert_eq!(seen.header("host"), Some(target.as_str()));
}

#[test]
fn named_target_with_default_port() {
    // The proxy resolves the target, not the task: any name works.
    let origin = origin();
    let proxy = Proxy::spawn(origin.addr(), None);
    let o = fetch_via("http://origin.invalid/page", &proxy.url(), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "origin saw /page");
    assert!(proxy.heads()[0].starts_with("CONNECT origin.invalid:80 HTTP/1.1\r\n"), "{}", proxy.heads()[0]);
    assert_eq!(origin.seen()[0].header("host"), Some("origin.invalid"), "the default port is left out");
}

#[test]
fn proxy_credentials() {
    let origin = origin();
    let proxy = Proxy::spawn(origin.addr(), None);
    let target = format!("http://site:secret@{}/", origin.addr());
    fetch_via(&target, &format!("http://puser:ppass@{}", proxy.addr), 0, 0, |_| {}).ok();
    let head = &proxy.heads()[0];
    assert_eq!(header(head, "proxy-authorization"), Some("Basic cHVzZXI6cHBhc3M="));
    assert_eq!(header(head, "authorization"), None, "the target's credentials are not the proxy's business");
    let seen = &origin.seen()[0];
    assert_eq!(seen.header("authorization"), Some("Basic c2l0ZTpzZWNyZXQ="));
    assert_eq!(seen.header("proxy-authorization"), None, "the proxy's credentials stay with the proxy");
}

#[test]
fn refused_tunnel_is_2002() {
    let origin = origin();
    let proxy = Proxy::spawn(origin.addr(), Some("403 Forbidden"));
    let o = fetch_via(&origin.url("/"), &proxy.url(), 0, 2, |_| {});
    assert_eq!((o.state, o.error.code()), (State::TaskError, wf_http::code::PROXY_CONNECT_FAILED), "{}", o.error);
    assert_eq!(o.error.code(), 2002);
    assert_eq!(proxy.heads().len(), 1, "a refusal is not retried");
    assert_eq!(origin.accepts(), 0);
}

#[test]
fn proxy_auth_required_is_2002() {
    let origin = origin();
    let proxy = Proxy::spawn(origin.addr(), Some("407 Proxy Authentication Required"));
    let o = fetch_via(&origin.url("/"), &proxy.url(), 0, 2, |_| {});
    assert_eq!((o.state, o.error.code()), (State::TaskError, wf_http::code::PROXY_CONNECT_FAILED), "{}", o.error);
    assert_eq!(proxy.accepts(), 1, "407 is not retried");
}

#[test]
fn tunnel_is_reused() {
    let origin = origin();
    let proxy = Proxy::spawn(origin.addr(), None);
    for path in ["/1", "/2", "/3"] {
        let o = fetch_via(&origin.url(path), &proxy.url(), 0, 0, |_| {});
        assert_eq!(o.ok().body(), format!("origin saw {path}"));
    }
    assert_eq!((proxy.accepts(), proxy.heads().len(), origin.accepts()), (1, 1, 1));
}

#[test]
fn https_inside_the_tunnel() {
    let pki = pki();
    let server = HttpServer::new(|task| {
        let uri = task.req().request_uri().to_string();
        task.resp_mut().append_body(format!("tls origin saw {uri}"));
    });
    server.set_tls(TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap());
    let addr = support::start(&server);
    let proxy = Proxy::spawn(addr, None);
    let url = format!("https://localhost:{}/secure", addr.port());
    let ca = pki.ca_pem.clone();
    let o = fetch_via(&url, &proxy.url(), 0, 0, move |t| {
        t.options_mut().set_tls(TlsClient::with_root_pem(ca.as_bytes()).unwrap());
    });
    assert_eq!(o.ok().body(), "tls origin saw /secure");
    assert!(proxy.heads()[0].starts_with(&format!("CONNECT localhost:{} HTTP/1.1\r\n", addr.port())));
    // Without the private CA the certificate is not trusted.
    let proxy = Proxy::spawn(addr, None);
    let o = fetch_via(&url, &proxy.url(), 0, 0, |_| {});
    assert_ne!(o.state, State::Success, "an unverified certificate was accepted");
    server.stop();
}

fn expect_task_error(o: &Outcome, expected: i32) {
    assert_eq!((o.state, o.error.code()), (State::TaskError, expected), "{}", o.error);
}

#[test]
fn bad_proxy_urls() {
    let origin = origin();
    expect_task_error(&fetch_via(&origin.url("/"), "https://127.0.0.1:1/", 0, 0, |_| {}), code::URI_SCHEME_INVALID);
    expect_task_error(&fetch_via(&origin.url("/"), "not a proxy", 0, 0, |_| {}), code::URI_PARSE_FAILED);
    expect_task_error(&fetch_via("nope", "http://127.0.0.1:1/", 0, 0, |_| {}), code::URI_PARSE_FAILED);
    assert_eq!(origin.accepts(), 0);
}

#[test]
fn proxy_down_is_a_system_error() {
    let origin = origin();
    let o = fetch_via(&origin.url("/"), &format!("http://127.0.0.1:{}", closed_port()), 0, 1, |_| {});
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNREFUSED), "{}", o.error);
}

#[test]
fn redirect_to_another_host_opens_another_tunnel() {
    let origin = RawServer::spawn(|req| {
        if req.target == "/start" {
            Reply::Send(response("302 Found", &["Location: http://second.invalid:8080/landed"], ""))
        } else {
            Reply::Send(response("200 OK", &[], &format!("{} {}", req.header("host").unwrap_or("-"), req.target)))
        }
    });
    let proxy = Proxy::spawn(origin.addr(), None);
    let o = fetch_via("http://first.invalid/start", &proxy.url(), 1, 0, |_| {});
    assert_eq!(o.ok().body(), "second.invalid:8080 /landed");
    let heads = proxy.heads();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(heads[0].starts_with("CONNECT first.invalid:80 HTTP/1.1\r\n"));
    assert!(heads[1].starts_with("CONNECT second.invalid:8080 HTTP/1.1\r\n"));
}
