//! KV-line, client and server in one process over loopback: the proof
//! that a protocol written outside wf-core gets client tasks, pooling,
//! hidden handshakes, retries and a server from the public API alone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use bytes::BytesMut;
use testkit::WAIT;
use tokio_util::codec::{Decoder, Encoder};
use wf_core::net::{ClientProtocol, KeepAlive, ServerProtocol, create_client_task};
use wf_core::{Error, State, series_of};
use wf_plugin_proof::{
    ACCESS_DENIED, DEFAULT_LINE_LIMIT, DEFAULT_PORT, KvClientCodec, KvLine, KvServer, KvServerCodec, Request, Response,
    create_kv_task,
};

/// A started server on a free loopback port, and its URL with `password`.
fn serve(passwords: &[&str]) -> (KvServer, String) {
    let server = KvServer::new(passwords.iter().copied());
    let addr = server.start_on("127.0.0.1", 0).unwrap();
    (server, format!("kvline://{addr}"))
}

/// `url` with a password.
fn with_password(url: &str, password: &str) -> String {
    url.replacen("kvline://", &format!("kvline://:{password}@"), 1)
}

/// What a client callback saw.
type Seen = (State, Error, Request, Response);

fn seen(t: &wf_core::net::ClientTask<KvLine>) -> Seen {
    (t.state(), t.error().cloned().unwrap_or_else(|| Error::new(t.state(), 0)), t.req().clone(), t.resp().clone())
}

/// Runs one task to completion from async code and returns what its
/// callback saw.
async fn run(url: &str, retry_max: u32, req: Request) -> Seen {
    let t = create_kv_task(url, retry_max, req, |_| {}).await;
    seen(&t)
}

fn ok(req: Request, resp: Response) -> Seen {
    (State::Success, Error::new(State::Success, 0), req, resp)
}

/// Sends `bytes` on a raw connection and reads until the server closes.
fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("the server closes the connection");
    out
}

#[test]
fn set_then_get_in_one_series() {
    let (server, url) = serve(&[]);
    let (tx, rx) = mpsc::channel();
    let set_tx = tx.clone();
    let get_url = url.clone();
    create_kv_task(&url, 0, Request::Set("greeting".into(), "hello world".into()), move |t| {
        set_tx.send(seen(t)).unwrap();
        let get = create_kv_task(&get_url, 0, Request::Get("greeting".into()), move |t| tx.send(seen(t)).unwrap());
        series_of(t).push_back(get);
    })
    .start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), ok(Request::Set("greeting".into(), "hello world".into()), Response::Ok));
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        ok(Request::Get("greeting".into()), Response::Value("hello world".into()))
    );
    // The GET reused the SET's connection.
    assert_eq!(server.connections().len(), 1);
    assert_eq!(server.commands_on(server.connections()[0]), ["SET", "GET"]);
    server.stop();
}

#[tokio::test]
async fn get_is_a_delayed_reply() {
    let (server, url) = serve(&[]);
    assert_eq!(run(&url, 0, Request::Get("nope".into())).await.3, Response::Error("no such key".into()));
    assert_eq!(run(&url, 0, Request::Set("k".into(), "".into())).await.3, Response::Ok);
    assert_eq!(run(&url, 0, Request::Get("k".into())).await.3, Response::Value("".into()));
    assert_eq!(run(&url, 0, Request::Del("k".into())).await.3, Response::Integer(1));
    assert_eq!(run(&url, 0, Request::Del("k".into())).await.3, Response::Integer(0));
    server.stop();
}

#[tokio::test]
async fn auth_is_sent_by_on_connect_and_invisible() {
    let (server, url) = serve(&["secret"]);
    let url = with_password(&url, "secret");

    // Callbacks see their own command and its reply, never AUTH's `+OK`.
    assert_eq!(run(&url, 0, Request::Ping).await, ok(Request::Ping, Response::Value("PONG".into())));
    assert_eq!(
        run(&url, 0, Request::Set("k".into(), "v".into())).await,
        ok(Request::Set("k".into(), "v".into()), Response::Ok)
    );
    assert_eq!(run(&url, 0, Request::Get("k".into())).await, ok(Request::Get("k".into()), Response::Value("v".into())));
    let conns = server.connections();
    assert_eq!(conns.len(), 1);
    assert_eq!(server.commands_on(conns[0]), ["AUTH", "PING", "SET", "GET"]);

    // Without keep-alive a connection closes after its task, so each task
    // after the first (which takes the idle one) opens a fresh connection,
    // and every connection starts with AUTH.
    for key in ["a", "b", "c"] {
        let mut t = create_kv_task(&url, 0, Request::Get(key.into()), |_| {});
        t.set_keep_alive(Duration::ZERO);
        let t = t.await;
        assert_eq!(seen(&t), ok(Request::Get(key.into()), Response::Error("no such key".into())));
    }
    let conns = server.connections();
    assert_eq!(conns.len(), 3);
    assert_eq!(server.commands_on(conns[0]), ["AUTH", "PING", "SET", "GET", "GET"]);
    assert_eq!(server.commands_on(conns[1]), ["AUTH", "GET"]);
    assert_eq!(server.commands_on(conns[2]), ["AUTH", "GET"]);
    assert_eq!(server.count("AUTH"), 3);

    // No password: no AUTH, and the server refuses the command (a reply,
    // not a task error).
    let bare = url.replacen(":secret@", "", 1);
    assert_eq!(
        run(&bare, 0, Request::Get("k".into())).await,
        ok(Request::Get("k".into()), Response::Error("NOAUTH authentication required".into()))
    );
    assert_eq!(server.count("AUTH"), 3);
    assert_eq!(server.connections().len(), 4, "no password, another pool");
    server.stop();
}

#[test]
fn wrong_password_is_a_task_error_and_not_retried() {
    let (server, url) = serve(&["secret"]);
    let (tx, rx) = mpsc::channel();
    create_kv_task(&with_password(&url, "guess"), 3, Request::Get("k".into()), move |t| tx.send(seen(t)).unwrap())
        .start();
    let (state, error, req, resp) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(state, State::TaskError);
    assert_eq!(error, Error::task(ACCESS_DENIED));
    assert_eq!(error.code(), 10_001);
    assert_eq!(error.to_string(), "KV-line Access Denied");
    assert_eq!(req, Request::Get("k".into()), "the callback sees its own request");
    assert_eq!(resp, Response::default(), "and an untouched response");
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "one callback");
    // One attempt despite retry_max = 3, and the GET never went out.
    assert_eq!(server.count("AUTH"), 1);
    assert_eq!(server.journal().iter().map(|(_, w)| *w).collect::<Vec<_>>(), ["AUTH"]);
    assert!(!KvLine::new().is_retryable(&error));
    server.stop();
}

#[tokio::test]
async fn connections_are_pooled_per_password() {
    let (server, url) = serve(&["alpha", "beta"]);
    let alpha = with_password(&url, "alpha");
    let beta = with_password(&url, "beta");

    for i in 0..10 {
        let r = run(&alpha, 0, Request::Set(format!("k{i}"), i.to_string())).await;
        assert_eq!(r.3, Response::Ok);
    }
    assert_eq!(server.connections().len(), 1, "10 sequential tasks, one connection");
    assert_eq!(server.count("AUTH"), 1);

    for i in 0..10 {
        let url = if i % 2 == 0 { &alpha } else { &beta };
        let r = run(url, 0, Request::Get(format!("k{i}"))).await;
        assert_eq!(r.3, Response::Value(i.to_string()));
    }
    assert_eq!(server.connections().len(), 2, "one connection per password");
    assert_eq!(server.count("AUTH"), 2);
    assert_eq!(server.server().conn_count(), 2, "both kept alive");
    server.stop();
}

#[tokio::test]
async fn quit_closes_the_connection() {
    let (server, url) = serve(&[]);
    assert_eq!(run(&url, 0, Request::Quit).await.3, Response::Ok);
    assert_eq!(run(&url, 0, Request::Ping).await.3, Response::Value("PONG".into()));
    // QUIT's connection was not pooled: PING needed a new one.
    assert_eq!(server.connections().len(), 2);

    let addr = server.server().listen_addr().unwrap();
    assert_eq!(raw_exchange(addr, b"PING\nQUIT\nPING\n"), b"$PONG\n+OK\n");
    server.stop();
}

#[test]
fn oversize_line_gets_an_error_reply_then_close() {
    let mut params = KvLine::new().server_params();
    assert_eq!(params.request_size_limit, Some(DEFAULT_LINE_LIMIT));
    params.request_size_limit = Some(16);
    let server = KvServer::with_params(Vec::<String>::new(), params);
    let addr = server.start_on("127.0.0.1", 0).unwrap();

    // Replies to the requests before the bad line go out first.
    let line = format!("PING\nSET k {}\nPING\n", "x".repeat(20));
    assert_eq!(raw_exchange(addr, line.as_bytes()), b"$PONG\n-ERR line too long\n");
    // Refused before the line ends.
    assert_eq!(raw_exchange(addr, "y".repeat(17).as_bytes()), b"-ERR line too long\n");
    // At the limit exactly: accepted.
    assert_eq!(raw_exchange(addr, format!("SET k {}\nQUIT\n", "z".repeat(10)).as_bytes()), b"+OK\n+OK\n");
    server.stop();

    // The default limit, 64 KiB.
    let (server, _) = serve(&[]);
    let addr = server.server().listen_addr().unwrap();
    assert_eq!(raw_exchange(addr, &vec![b'x'; DEFAULT_LINE_LIMIT + 1]), b"-ERR line too long\n");
    server.stop();
}

#[test]
fn malformed_line_gets_an_error_reply_then_close() {
    let (server, _) = serve(&[]);
    let addr = server.server().listen_addr().unwrap();
    assert_eq!(raw_exchange(addr, b"PING\r\nFLY me\nPING\n"), b"$PONG\n-ERR bad request\n");
    assert_eq!(raw_exchange(addr, b"GET\n"), b"-ERR bad request\n");
    assert_eq!(raw_exchange(addr, b"GET a b\n"), b"-ERR bad request\n");
    assert_eq!(raw_exchange(addr, b"SET k\n"), b"-ERR bad request\n");
    assert_eq!(raw_exchange(addr, b"GET \xff\n"), b"-ERR bad request\n");
    server.stop();
}

#[tokio::test]
async fn reply_too_long_for_the_client_is_emsgsize_and_not_retried() {
    let (server, url) = serve(&[]);
    assert_eq!(run(&url, 0, Request::Set("big".into(), "v".repeat(100))).await.3, Response::Ok);
    // Another reply limit is another pool (`pool_key`): this task's
    // connection has a codec with its limit, not the SET's connection.
    let mut t = create_client_task(KvLine::with_reply_limit(32), &url, 2, |_| {});
    *t.req_mut() = Request::Get("big".into());
    let t = t.await;
    assert_eq!(t.state(), State::SysError);
    assert_eq!(t.error_code(), libc::EMSGSIZE);
    assert_eq!(server.count("GET"), 1, "retry_max = 2, but the same reply would fail again");
    assert_eq!(server.connections().len(), 2);
    server.stop();
}

#[test]
fn unencodable_request_fails_the_task() {
    let (server, url) = serve(&[]);
    let (tx, rx) = mpsc::channel();
    create_kv_task(&url, 1, Request::Get("two words".into()), move |t| tx.send(seen(t)).unwrap()).start();
    let (state, error, _, _) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((state, error.code()), (State::SysError, libc::EINVAL));
    assert!(server.journal().is_empty());
    server.stop();
}

#[tokio::test]
async fn awaiting_a_client_task() {
    let (server, url) = serve(&[]);
    let mut t = create_client_task(KvLine::new(), &url, 0, |_| {});
    *t.req_mut() = Request::Set("k".into(), "v".into());
    let t = t.await;
    assert_eq!(t.state(), State::Success);
    assert_eq!(t.resp(), &Response::Ok);

    // The default request is PING.
    let t = create_client_task(KvLine::new(), &url, 0, |_| {}).await;
    assert_eq!((t.req(), t.resp()), (&Request::Ping, &Response::Value("PONG".into())));
    server.stop();
}

#[test]
fn scheme_and_default_port() {
    let _ = KvLine::new();
    assert_eq!(wf_core::net::default_port("kvline"), Some(DEFAULT_PORT));
    let (tx, rx) = mpsc::channel();
    create_kv_task("redis://127.0.0.1/", 0, Request::Ping, move |t| {
        tx.send(t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))).unwrap()
    })
    .start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Error::task(wf_core::code::URI_SCHEME_INVALID));
    let t = create_kv_task("kvline://127.0.0.1/", 0, Request::Ping, |_| {});
    assert_eq!(t.uri().unwrap().port(), DEFAULT_PORT);
}

#[test]
fn protocol_hooks() {
    let p = KvLine::new();
    let uri = |s: &str| wf_core::net::Uri::parse(s).unwrap();
    let opts = wf_core::net::ClientOptions::default();
    // Connections are pooled per protocol value and handshake: the
    // password and the reply limit separate them.
    let hs = |s: &str| p.handshake(&uri(s), &opts).unwrap();
    assert_eq!(hs("kvline://h/"), None);
    assert_eq!(hs("kvline://:a@h/"), Some("a".to_owned()));
    assert_ne!(hs("kvline://:a@h/"), hs("kvline://:b@h/"));
    assert_ne!(p, KvLine::with_reply_limit(10));
    assert_eq!(p.default_keep_alive(), Duration::from_secs(60));
    assert!(p.is_retryable(&Error::sys(libc::ECONNRESET)));
    assert!(!p.is_retryable(&Error::sys(libc::EBADMSG)));
    assert!(!p.is_retryable(&Error::sys(libc::EMSGSIZE)));
    assert!(!p.is_retryable(&Error::task(ACCESS_DENIED)));
    assert_eq!(p.keep_alive(&Request::Ping, &Response::Ok), KeepAlive::Keep);
    assert_eq!(p.keep_alive(&Request::Quit, &Response::Ok), KeepAlive::Close);
    let mut codec = p.server_codec(&p.server_params());
    assert_eq!(p.error_reply(&mut codec, &Error::sys(libc::EMSGSIZE)), Some(Response::Error("line too long".into())));
    assert_eq!(p.error_reply(&mut codec, &Error::sys(libc::EBADMSG)), Some(Response::Error("bad request".into())));
}

// Codecs on byte literals.

fn decode_all<D: Decoder>(codec: &mut D, bytes: &[u8]) -> Result<Vec<D::Item>, D::Error> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = codec.decode(&mut buf)? {
        out.push(item);
    }
    Ok(out)
}

fn io_errno(e: std::io::Error) -> i32 {
    Error::from(e).code()
}

#[test]
fn client_codec_encodes_requests() {
    let mut codec = KvClientCodec::default();
    let mut buf = BytesMut::new();
    for req in [
        Request::Get("k".into()),
        Request::Set("k".into(), "a  b".into()),
        Request::Set("k".into(), "".into()),
        Request::Del("k".into()),
        Request::Auth("s e".into()),
        Request::Ping,
        Request::Quit,
    ] {
        codec.encode(&req, &mut buf).unwrap();
    }
    assert_eq!(&buf[..], b"GET k\nSET k a  b\nSET k \nDEL k\nAUTH s e\nPING\nQUIT\n");
    for bad in [
        Request::Get("".into()),
        Request::Get("a b".into()),
        Request::Set("k".into(), "a\nb".into()),
        Request::Auth("".into()),
        Request::Del("k\r".into()),
    ] {
        let e = codec.encode(&bad, &mut buf).unwrap_err();
        assert_eq!(io_errno(e), libc::EINVAL, "{bad:?}");
    }
}

#[test]
fn client_codec_decodes_responses() {
    let mut codec = KvClientCodec::default();
    assert_eq!(
        decode_all(&mut codec, b"+OK\n$v a l\n$\n-ERR no such key\n-ERR\n:42\n:-7\r\n+O").unwrap(),
        [
            Response::Ok,
            Response::Value("v a l".into()),
            Response::Value("".into()),
            Response::Error("no such key".into()),
            Response::Error("".into()),
            Response::Integer(42),
            Response::Integer(-7),
        ]
    );
    for bad in [&b"+PONG\n"[..], b"OK\n", b"-oops\n", b":x\n", b":+1\n", b"\n", b"$\xc3\n"] {
        let e = decode_all(&mut KvClientCodec::default(), bad).unwrap_err();
        assert_eq!(io_errno(e), libc::EBADMSG, "{:?}", String::from_utf8_lossy(bad));
    }
    // A line cut by the end of the stream.
    let mut buf = BytesMut::from(&b"$trunc"[..]);
    let e = KvClientCodec::default().decode_eof(&mut buf).unwrap_err();
    assert_eq!(io_errno(e), libc::ECONNRESET);
    assert_eq!(KvClientCodec::default().decode_eof(&mut BytesMut::new()).unwrap(), None);
}

#[test]
fn codecs_refuse_long_lines() {
    // The limit counts the bytes before `\n`.
    let mut codec = KvClientCodec::new(4);
    assert_eq!(decode_all(&mut codec, b"$abc\n").unwrap(), [Response::Value("abc".into())]);
    let e = decode_all(&mut KvClientCodec::new(4), b"$abcd\n").unwrap_err();
    assert_eq!(io_errno(e), libc::EMSGSIZE);
    // Refused as soon as the buffer is past the limit, before any `\n`.
    let e = decode_all(&mut KvClientCodec::new(4), b"$abcd").unwrap_err();
    assert_eq!(io_errno(e), libc::EMSGSIZE);
    assert_eq!(decode_all(&mut KvClientCodec::new(4), b"$abc").unwrap(), []);

    let mut server = KvServerCodec::new(Some(DEFAULT_LINE_LIMIT));
    let mut line = b"SET k ".to_vec();
    line.resize(DEFAULT_LINE_LIMIT, b'v');
    line.push(b'\n');
    assert_eq!(decode_all(&mut server, &line).unwrap().len(), 1);
    line.insert(0, b' ');
    let e = decode_all(&mut KvServerCodec::new(Some(DEFAULT_LINE_LIMIT)), &line).unwrap_err();
    assert_eq!(io_errno(e), libc::EMSGSIZE);
    // No limit at all.
    assert_eq!(decode_all(&mut KvServerCodec::new(None), &line[1..]).unwrap().len(), 1);
}

#[test]
fn server_codec_decodes_requests_in_pieces() {
    let mut codec = KvServerCodec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    // Fed a byte at a time, as a slow peer would.
    for &b in b"get k\r\nSet k v w\nDEL k\nauth pw\nPING\nquit\n" {
        buf.extend_from_slice(&[b]);
        if let Some(req) = codec.decode(&mut buf).unwrap() {
            out.push(req);
        }
    }
    assert_eq!(
        out,
        [
            Request::Get("k".into()),
            Request::Set("k".into(), "v w".into()),
            Request::Del("k".into()),
            Request::Auth("pw".into()),
            Request::Ping,
            Request::Quit,
        ]
    );
    for bad in [&b"NOPE\n"[..], b"PING x\n", b"GET\n", b"GET a b\n", b"SET k\n", b"AUTH\n", b"AUTH \n", b"get \xff\n"] {
        let e = decode_all(&mut KvServerCodec::default(), bad).unwrap_err();
        assert_eq!(io_errno(e), libc::EBADMSG, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn server_codec_encodes_responses() {
    let mut codec = KvServerCodec::default();
    let mut buf = BytesMut::new();
    for resp in [Response::Ok, Response::Value("x y".into()), Response::Error("nope".into()), Response::Integer(-3)] {
        codec.encode(&resp, &mut buf).unwrap();
    }
    assert_eq!(&buf[..], b"+OK\n$x y\n-ERR nope\n:-3\n");
    let e = codec.encode(&Response::Value("a\r\nb".into()), &mut buf).unwrap_err();
    assert_eq!(io_errno(e), libc::EINVAL);
}
