//! Helpers shared by the wf-http integration tests: HTTP tasks reporting
//! their outcome, a blocking wire-level client that reads HTTP replies
//! byte for byte, a blocking raw HTTP server that records what clients
//! send, a sleep task, and a throwaway PKI for TLS. What is not HTTP's
//! (waiting, the raw server's accept loop, certificates) is `testkit`'s.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(crate) use testkit::free_port as closed_port;
pub(crate) use testkit::{Pki, WAIT};
use wf_core::{Error, RunContext, State, Task, TaskKind};
use wf_http::{HttpRequest, HttpResponse, HttpServer, HttpTask, create_http_task, create_http_task_with_proxy};

// ---------------------------------------------------------------------------
// Client tasks

/// What an `HttpTask`'s callback saw.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) state: State,
    pub(crate) error: Error,
    pub(crate) req: HttpRequest,
    pub(crate) resp: HttpResponse,
    pub(crate) redirects: u32,
    pub(crate) uri: Option<String>,
    pub(crate) peer: Option<SocketAddr>,
}

impl Outcome {
    /// Panics with the error text unless the task succeeded.
    pub(crate) fn ok(&self) -> &Outcome {
        assert_eq!(self.state, State::Success, "task failed: {} ({:?})", self.error, self.error);
        self
    }

    pub(crate) fn body(&self) -> String {
        String::from_utf8_lossy(&self.resp.body()).into_owned()
    }
}

fn outcome_of(t: &HttpTask) -> Outcome {
    Outcome {
        state: t.state(),
        error: t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0)),
        req: t.req().clone(),
        resp: t.resp().clone(),
        redirects: t.redirects(),
        uri: t.uri().map(|u| u.as_str().to_string()),
        peer: t.peer_addr(),
    }
}

/// Runs an `HttpTask` for `url` (after `setup`) and returns its outcome.
#[track_caller]
pub(crate) fn fetch(url: &str, redirect_max: u32, retry_max: u32, setup: impl FnOnce(&mut HttpTask)) -> Outcome {
    testkit::capture(|tx| {
        let mut t = create_http_task(url, redirect_max, retry_max, move |t| {
            let _ = tx.send(outcome_of(t));
        });
        setup(&mut t);
        t.start();
    })
}

/// Like [`fetch`], through the proxy `proxy`.
#[track_caller]
pub(crate) fn fetch_via(
    url: &str,
    proxy: &str,
    redirect_max: u32,
    retry_max: u32,
    setup: impl FnOnce(&mut HttpTask),
) -> Outcome {
    testkit::capture(|tx| {
        let mut t = create_http_task_with_proxy(url, proxy, redirect_max, retry_max, move |t| {
            let _ = tx.send(outcome_of(t));
        });
        setup(&mut t);
        t.start();
    })
}

/// Starts `server` on an ephemeral loopback port.
/// An `HttpServer` with `params` whose replies carry the request body's
/// length, counting the requests it processed.
pub(crate) fn counting_server(
    params: wf_core::net::ServerParams,
) -> (HttpServer, SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let server = HttpServer::with_params(params, move |task| {
        counted.fetch_add(1, Ordering::SeqCst);
        let n = task.req().body_len();
        task.resp_mut().append_body(n.to_string());
    });
    let addr = start(&server);
    (server, addr, calls)
}

pub(crate) fn start(server: &HttpServer) -> SocketAddr {
    start_on(server, "127.0.0.1")
}

/// Starts `server` on an ephemeral port of `ip`.
pub(crate) fn start_on(server: &HttpServer, ip: &str) -> SocketAddr {
    server.start_on(ip, 0).expect("the server starts");
    server.listen_addr().expect("a TCP listen address")
}

// ---------------------------------------------------------------------------
// A sleep task (no wf-timer dependency): tokio's timer on wf's runtime.

/// The kind of a task that waits.
pub(crate) struct Sleep {
    length: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TaskKind for Sleep {
    fn poll_run(&mut self, cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        let length = self.length;
        let timer = self.timer.get_or_insert_with(|| {
            let _rt = wf_core::handle().enter();
            Box::pin(tokio::time::sleep(length))
        });
        timer.as_mut().poll(cx)
    }
}

/// A task that finishes after `length`, then runs `callback`.
pub(crate) fn sleep_task(length: Duration, callback: impl FnOnce(&mut Task<Sleep>) + Send + 'static) -> Task<Sleep> {
    Task::new(Sleep { length, timer: None }).with_callback(callback)
}

// ---------------------------------------------------------------------------
// A blocking wire-level client.

/// A TCP connection that reads HTTP replies byte for byte.
pub(crate) struct Wire {
    pub(crate) stream: TcpStream,
    /// Bytes read but not yet returned.
    pub(crate) buf: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Wire {
    pub(crate) fn connect(addr: SocketAddr) -> Wire {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Wire { stream, buf: Vec::new() }
    }

    pub(crate) fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("send");
    }

    /// Like [`send`](Wire::send), reporting a closed connection instead
    /// of panicking.
    pub(crate) fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// A second handle on the same connection, to read on one thread while
    /// another writes.
    pub(crate) fn clone_reader(&self) -> Wire {
        Wire { stream: self.stream.try_clone().expect("clone"), buf: Vec::new() }
    }

    /// Reads more bytes into the buffer; panics on the end of the stream.
    fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("the peer closed; unread so far: {:?}", String::from_utf8_lossy(&self.buf)),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read failed ({e}); unread so far: {:?}", String::from_utf8_lossy(&self.buf)),
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill();
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one head, up to and including the blank line.
    pub(crate) fn read_head(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                return self.take(i + 4);
            }
            self.fill();
        }
    }

    fn read_line(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                return self.take(i + 2);
            }
            self.fill();
        }
    }

    /// Reads one whole response (head and the body its head announces,
    /// `Content-Length` or chunked), as received.
    pub(crate) fn read_response(&mut self) -> Vec<u8> {
        self.read_response_to(false)
    }

    /// Reads one response to a HEAD request: the head only.
    pub(crate) fn read_head_response(&mut self) -> Vec<u8> {
        self.read_response_to(true)
    }

    fn read_response_to(&mut self, head_request: bool) -> Vec<u8> {
        let mut out = self.read_head();
        let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
        let status: u16 = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
            return out;
        }
        if text.contains("\r\ntransfer-encoding: chunked\r\n") {
            loop {
                let line = self.read_line();
                let size_text = String::from_utf8_lossy(&line);
                let size = usize::from_str_radix(size_text.trim().split(';').next().unwrap(), 16).unwrap();
                out.extend_from_slice(&line);
                if size == 0 {
                    loop {
                        let trailer = self.read_line();
                        out.extend_from_slice(&trailer);
                        if trailer == b"\r\n" {
                            return out;
                        }
                    }
                }
                let data = self.take(size + 2);
                out.extend_from_slice(&data);
            }
        }
        let len = header_value(&out, "content-length").map_or(0, |v| v.parse::<usize>().unwrap());
        let body = self.take(len);
        out.extend_from_slice(&body);
        out
    }

    /// Asserts that nothing more comes and the peer closes (within
    /// [`WAIT`]).
    pub(crate) fn expect_closed(&mut self) {
        assert!(self.buf.is_empty(), "unexpected extra bytes: {:?}", String::from_utf8_lossy(&self.buf));
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!("expected the connection closed, got {:?}", String::from_utf8_lossy(&chunk[..n])),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the connection closed, got {e}"),
        }
    }

    /// Asserts that the connection stays open and silent for `d`.
    pub(crate) fn expect_open_for(&mut self, d: Duration) {
        assert!(self.buf.is_empty(), "unexpected extra bytes: {:?}", String::from_utf8_lossy(&self.buf));
        self.stream.set_read_timeout(Some(d)).unwrap();
        let mut chunk = [0u8; 1024];
        let r = self.stream.read(&mut chunk);
        self.stream.set_read_timeout(Some(WAIT)).unwrap();
        match r {
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Ok(0) => panic!("the connection closed within {d:?}"),
            Ok(n) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&chunk[..n])),
            Err(e) => panic!("the connection failed within {d:?}: {e}"),
        }
    }

    /// Waits until the peer closes; returns how long that took.
    pub(crate) fn time_until_closed(&mut self) -> Duration {
        let t0 = Instant::now();
        self.expect_closed();
        t0.elapsed()
    }
}

/// The value of header `name` (any case) in a raw head.
pub(crate) fn header_value(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// A raw message as text with the value of every `date` header replaced by
/// `<date>` (checked to be a valid HTTP date first).
pub(crate) fn mask_date(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.to_ascii_lowercase().find("\r\ndate: ") {
        let start = i + "\r\ndate: ".len();
        let end = start + rest[start..].find("\r\n").expect("a whole header line");
        httpdate::parse_http_date(&rest[start..end]).expect("a valid HTTP date");
        out.push_str(&rest[..start]);
        out.push_str("<date>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------
// A raw HTTP server recording requests.

/// A request as a raw server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// Which accepted connection (from 0) it came on.
    pub(crate) conn: usize,
    pub(crate) method: String,
    pub(crate) target: String,
    /// The head as sent, blank line included.
    pub(crate) head: Vec<u8>,
    /// Headers in order, names as sent.
    pub(crate) headers: Vec<(String, String)>,
    /// The body, chunked coding removed.
    pub(crate) body: Vec<u8>,
}

impl Seen {
    /// The first value of header `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn head_text(&self) -> String {
        String::from_utf8_lossy(&self.head).into_owned()
    }
}

/// What a raw server does with a request.
pub(crate) enum Reply {
    /// Sends these bytes and keeps reading.
    Send(Vec<u8>),
    /// Sends these bytes and closes.
    SendAndClose(Vec<u8>),
    /// Closes without replying.
    Close,
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A blocking HTTP/1.1 server on loopback ([`testkit::RawServer`]) that
/// records each request and answers with what its handler returns.
pub(crate) struct RawServer {
    server: testkit::RawServer,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RawServer {
    pub(crate) fn spawn(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> RawServer {
        RawServer::spawn_on("127.0.0.1".parse().unwrap(), handler)
    }

    pub(crate) fn spawn_on(ip: IpAddr, handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> RawServer {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let seen = seen.clone();
            testkit::RawServer::spawn_on(ip, move |s, conn| serve_raw(s, conn, &handler, &seen))
        };
        RawServer { server, seen }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://ip:port` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    pub(crate) fn accepts(&self) -> usize {
        self.server.accepts()
    }

    /// The requests seen so far, in arrival order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_raw(s: TcpStream, conn: usize, handler: &Handler, seen: &Mutex<Vec<Seen>>) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut wire = Wire { stream: s, buf: Vec::new() };
    loop {
        // Wait for a request's first byte; the client may just close.
        if wire.buf.is_empty() {
            let mut chunk = [0u8; 16 * 1024];
            match wire.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => wire.buf.extend_from_slice(&chunk[..n]),
            }
        }
        let Some(req) = read_request(&mut wire, conn) else { return };
        seen.lock().unwrap().push(req.clone());
        match handler(&req) {
            Reply::Send(bytes) => {
                if wire.stream.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::SendAndClose(bytes) => {
                let _ = wire.stream.write_all(&bytes);
                let _ = wire.stream.shutdown(std::net::Shutdown::Write);
                // Reads until the client closes (so that closing sends no reset).
                testkit::drain(wire.stream);
                return;
            }
            Reply::Close => return,
        }
    }
}

fn read_request(wire: &mut Wire, conn: usize) -> Option<Seen> {
    let head = loop {
        if let Some(i) = find(&wire.buf, b"\r\n\r\n") {
            break wire.buf.drain(..i + 4).collect::<Vec<u8>>();
        }
        let mut chunk = [0u8; 16 * 1024];
        match wire.stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => wire.buf.extend_from_slice(&chunk[..n]),
        }
    };
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut slots);
    parsed.parse(&head).expect("a well-formed request head");
    let headers: Vec<(String, String)> =
        parsed.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
    let mut req = Seen {
        conn,
        method: parsed.method.unwrap().to_string(),
        target: parsed.path.unwrap().to_string(),
        head: head.clone(),
        headers,
        body: Vec::new(),
    };
    if req.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let line = wire.read_line();
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16).unwrap();
            if size == 0 {
                while wire.read_line() != b"\r\n" {}
                break;
            }
            let data = wire.take(size + 2);
            req.body.extend_from_slice(&data[..size]);
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().unwrap();
        req.body = wire.take(len);
    }
    Some(req)
}

/// A response's bytes: `status_line` (e.g. `"200 OK"`), extra header
/// lines, and a body framed with `Content-Length`.
pub(crate) fn response(status: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

// ---------------------------------------------------------------------------
// TLS

/// A private CA and a certificate for `localhost` and 127.0.0.1.
pub(crate) fn pki() -> Pki {
    Pki::new("wf-http test CA")
}

/// A private CA and a certificate for `names` it signed.
pub(crate) fn pki_for(names: &[&str]) -> Pki {
    Pki::for_names("wf-http test CA", names)
}
