//! Every example server runs with standard input closed or `/dev/null`,
//! serves, and exits 0 promptly on SIGTERM (and SIGINT).

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::daemon::{Daemon, exchange, request};

#[test]
fn helloworld_serves_with_stdin_closed_and_stops_on_sigterm() {
    let d = Daemon::start_stdin_closed(env!("CARGO_BIN_EXE_helloworld"), &["0"]);
    let r = request(d.port(), "GET", "/", "");
    assert_eq!((r.code(), &r.body[..]), (200, &b"<html>Hello World!</html>"[..]));
    // Still serving a moment later: nothing made it exit.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(request(d.port(), "GET", "/", "").code(), 200);
    assert_eq!(d.stop_with(libc::SIGTERM), ["SIGTERM: stopping"]);
}

#[test]
fn helloworld_stops_on_sigint() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_helloworld"), &["0"]);
    assert_eq!(request(d.port(), "GET", "/", "").code(), 200);
    assert_eq!(d.stop_with(libc::SIGINT), ["SIGINT: stopping"]);
}

#[test]
fn echo_server_escapes_what_it_reflects() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_http_echo_server"), &["0"]);
    let raw = exchange(
        d.port(),
        b"GET /<script>alert(1)</script>?a=\"b\"&c='d' HTTP/1.1\r\nHost: x\r\n\
          X-Evil: <script>alert('x')</script> & \"q\"\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = &text[text.find("\r\n\r\n").expect("a head") + 4..];
    assert!(!body.contains("<script"), "reflected unescaped: {body}");
    assert!(!body[6..].contains(['"', '\'']), "quotes escaped: {body}");
    assert!(
        body.contains("<p>GET /&lt;script&gt;alert(1)&lt;/script&gt;?a=&quot;b&quot;&amp;c=&#39;d&#39; HTTP/1.1</p>"),
        "{body}"
    );
    assert!(
        body.contains("<p>X-Evil: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p>"),
        "{body}"
    );
    d.stop_with(libc::SIGTERM);
}

#[test]
fn kv_server_answers_resp_and_stops_on_sigterm() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_redis_kv_server"), &["0"]);
    let mut s = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
    s.set_read_timeout(Some(testkit::WAIT)).unwrap();
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
    drop(s);
    assert_eq!(d.stop_with(libc::SIGTERM), ["SIGTERM: stopping"]);
}

#[test]
fn tlv_server_answers_and_stops_on_sigterm() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_tlv_server"), &["0"]);
    let mut s = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
    s.set_read_timeout(Some(testkit::WAIT)).unwrap();
    s.write_all(b"\0\0\0\x07\0\0\0\x05hello").unwrap();
    let mut buf = [0u8; 13];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\x08\0\0\0\x05HELLO");
    drop(s);
    let rest = d.stop_with(libc::SIGTERM);
    assert_eq!(rest.last().map(String::as_str), Some("SIGTERM: stopping"), "{rest:?}");
}

/// The TLV server answers datagrams on its TCP port too, and `tlv_client
/// --udp` talks to it that way.
#[test]
fn tlv_server_answers_udp_and_tlv_client_sends_datagrams() {
    let d = Daemon::start(env!("CARGO_BIN_EXE_tlv_server"), &["0"]);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(testkit::WAIT)).unwrap();
    s.send_to(b"\0\0\0\x07\0\0\0\x05hello", ("127.0.0.1", d.port())).unwrap();
    let mut buf = [0u8; 64];
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\0\0\0\x08\0\0\0\x05HELLO");

    let port = d.port().to_string();
    for args in [vec![port.as_str(), "--udp"], vec![port.as_str()]] {
        let mut client = std::process::Command::new(env!("CARGO_BIN_EXE_tlv_client"))
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        client.stdin.take().unwrap().write_all(b"one\ntwo\n").unwrap();
        let out = client.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "reply type 2: ONE\nreply type 2: TWO\nbye\n", "{args:?}");
    }
    let rest = d.stop_with(libc::SIGTERM);
    assert_eq!(rest.last().map(String::as_str), Some("SIGTERM: stopping"), "{rest:?}");
}

#[test]
fn proxy_with_an_allow_list_refuses_other_loopback_targets() {
    let origin = Daemon::start(env!("CARGO_BIN_EXE_helloworld"), &["0"]);
    let allow = format!("127.0.0.1:{}", origin.port());
    let proxy = Daemon::start(env!("CARGO_BIN_EXE_http_proxy"), &["0", "--allow", &allow]);
    // A loopback service not on the list: it must see no connection.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let other_port = other.local_addr().unwrap().port();

    let ok = request(proxy.port(), "GET", &format!("http://127.0.0.1:{}/", origin.port()), "");
    assert_eq!((ok.code(), &ok.body[..]), (200, &b"<html>Hello World!</html>"[..]));
    for target in [
        format!("http://127.0.0.1:{other_port}/"),
        format!("http://localhost:{other_port}/"),
        format!("http://127.0.0.1:{}@127.0.0.1:{other_port}/", origin.port()),
        format!("http://2130706433:{other_port}/"),
        // The allowed host on another port, and a Unix socket.
        format!("http://127.0.0.1:{}/", proxy.port()),
        "http://%2Frun%2Fdocker.sock/containers/json".to_string(),
    ] {
        let r = request(proxy.port(), "GET", &target, "");
        assert_eq!(r.code(), 403, "{target}: {}", r.status);
    }
    assert!(other.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "a refused target was reached");
    proxy.stop_with(libc::SIGTERM);
    origin.stop_with(libc::SIGTERM);
}

#[test]
fn proxy_without_an_allow_list_is_open_and_says_so() {
    let origin = Daemon::start(env!("CARGO_BIN_EXE_helloworld"), &["0"]);
    let proxy = Daemon::start(env!("CARGO_BIN_EXE_http_proxy"), &["0"]);
    let r = request(proxy.port(), "GET", &format!("http://127.0.0.1:{}/", origin.port()), "");
    assert_eq!(r.code(), 200);
    proxy.stop_with(libc::SIGINT);
    origin.stop_with(libc::SIGTERM);
}

/// The subscriber (a long-running client) with no terminal: it prints what
/// is published and leaves cleanly on SIGTERM.
#[test]
fn redis_subscriber_runs_without_a_terminal_and_quits_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let redis = testkit::RedisServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_redis_subscriber"))
        .args([&redis.url(), "news"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis_subscriber starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let published = |msg: &str| {
        let out = redis.cli(&["PUBLISH", "news", msg]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    };
    assert!(testkit::wait_until(testkit::WAIT, || published("hello")), "subscribed");
    let printed = std::iter::from_fn(|| rx.recv_timeout(testkit::WAIT).ok()).find(|l| l.contains("hello"));
    assert!(printed.is_some(), "the message printed");

    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory-safety preconditions; our child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(testkit::wait_until(testkit::WAIT, || child.try_wait().unwrap().is_some()), "exits after SIGTERM");
    assert!(child.wait().unwrap().success());
    // Until the reader thread sees the end of the output.
    let rest: Vec<String> = std::iter::from_fn(|| rx.recv_timeout(testkit::WAIT).ok()).collect();
    assert!(rest.iter().any(|l| l == "subscription ended"), "{rest:?}");
}
