//! TLV over UDP: client tasks with `Transport::Datagram`, servers started
//! with `start_udp`. One message per datagram; timeouts, retries and
//! errors as over TCP; hostile peers bounded.
#![cfg(feature = "net")]

use crate::support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use support::net::{Outcome, encode, outcome_of};
use support::{Log, WAIT, recv, wait_until};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{ClientTask, MAX_DATAGRAM, Server, ServerParams, Transport, create_client_task};
use wf_core::{State, TimeoutReason};
use wf_timer::create_timer_task;

fn udp() -> Tlv {
    Tlv::default().with_transport(Transport::Datagram)
}

/// A TLV-over-UDP client task reporting its outcome on the channel.
fn udp_task(url: &str, retry_max: u32) -> (ClientTask<Tlv>, mpsc::Receiver<Outcome>) {
    let (tx, rx) = mpsc::channel();
    let task = create_client_task(udp(), url, retry_max, move |t| {
        let _ = tx.send(outcome_of(t));
    });
    (task, rx)
}

/// Runs a task with `value` to `addr` and returns its outcome.
fn call(addr: SocketAddr, value: &[u8], retry_max: u32, setup: impl FnOnce(&mut ClientTask<Tlv>)) -> Outcome {
    let (mut t, rx) = udp_task(&format!("tlv://{addr}"), retry_max);
    t.req_mut().set_value(value.to_vec());
    setup(&mut t);
    t.start();
    recv(&rx)
}

/// An echo server on UDP only.
fn udp_echo() -> (Server<Tlv>, SocketAddr) {
    let server = Server::new(Tlv::default(), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    server.start_udp("127.0.0.1", 0).unwrap();
    let addr = server.udp_addr().unwrap();
    (server, addr)
}

/// A raw UDP socket on loopback that reads with a timeout.
fn raw_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    s
}

/// A UDP peer that answers each datagram it receives with what `answer`
/// returns (each `Vec` one datagram), counting the datagrams.
fn fake_peer(answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> (SocketAddr, Arc<AtomicUsize>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            seen.fetch_add(1, Ordering::SeqCst);
            for d in answer(&buf[..n]) {
                let _ = s.send_to(&d, from);
            }
        }
    });
    (addr, count)
}

fn assert_error(o: &Outcome, code: i32) {
    assert_eq!((o.state, o.error.code()), (State::SysError, code), "{}", o.error);
}

#[test]
fn round_trip() {
    let (server, addr) = udp_echo();
    let o = call(addr, b"hello", 0, |_| {});
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp, TlvMessage::new(0, "hello"));
    assert_eq!(o.peer, Some(addr));
    assert_eq!(server.listen_addr(), None, "UDP only");
    server.stop();
}

/// One server on TCP and UDP at the same port; the server task sees each
/// datagram's sender, a new pseudo-connection each time, `task_seq` 0.
#[test]
fn tcp_and_udp_on_one_port() {
    let seen = Log::new();
    let log = seen.clone();
    let server = Server::new(Tlv::default(), move |task| {
        log.push((task.peer_addr(), task.connection().id(), task.task_seq()));
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();
    server.start_udp("127.0.0.1", port).unwrap();
    assert_eq!(server.udp_addr().unwrap().port(), port);
    assert_eq!(server.start_udp("127.0.0.1", 0).unwrap_err().code(), libc::EBUSY);

    let (tcp, rx) = support::net::tlv_task(&format!("tlv://127.0.0.1:{port}"), 0);
    tcp.start();
    assert_eq!(recv(&rx).state, State::Success);

    let s = raw_socket();
    for i in 0..2u32 {
        s.send_to(&encode(i, b"raw"), server.udp_addr().unwrap()).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = s.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &encode(i, b"raw")[..]);
        assert_eq!(from.port(), port);
    }
    let seen = seen.get();
    assert_eq!(seen.len(), 3);
    let me = s.local_addr().unwrap();
    assert_eq!((seen[1].0, seen[1].2), (Some(me), 0));
    assert_eq!((seen[2].0, seen[2].2), (Some(me), 0));
    assert_ne!(seen[1].1, seen[2].1, "each datagram is its own pseudo-connection");
    server.stop();
}

#[test]
fn many_concurrent_tasks() {
    let (server, addr) = udp_echo();
    let (tx, rx) = mpsc::channel();
    const N: usize = 200;
    for i in 0..N {
        let tx = tx.clone();
        let mut t = create_client_task(udp(), &format!("tlv://{addr}"), 2, move |t| {
            let _ = tx.send((i, t.state(), t.resp().clone()));
        });
        t.req_mut().set_type(i as u32);
        t.req_mut().set_value(format!("v{i}"));
        t.start();
    }
    for _ in 0..N {
        let (i, state, resp) = rx.recv_timeout(WAIT).expect("every task ends");
        assert_eq!(state, State::Success);
        assert_eq!(resp, TlvMessage::new(i as u32, format!("v{i}")));
    }
    server.stop();
}

/// A peer that never answers: each attempt times out after the watch
/// timeout; `retry_max` sends the request again (a datagram each).
#[test]
fn silent_peer_times_out_after_retries() {
    let (addr, count) = fake_peer(|_| vec![]);
    let o = call(addr, b"anyone?", 2, |t| t.set_watch_timeout(Duration::from_millis(100)));
    assert_error(&o, libc::ETIMEDOUT);
    assert_eq!(o.error.timeout_reason(), TimeoutReason::Transmit);
    assert!(wait_until(WAIT, || count.load(Ordering::SeqCst) == 3), "{} datagrams", count.load(Ordering::SeqCst));

    // The task's deadline ends it, retries or not.
    let o = call(addr, b"anyone?", 100, |t| t.set_deadline(Duration::from_millis(300)));
    assert_error(&o, libc::ETIMEDOUT);
    assert_eq!(o.error.timeout_reason(), TimeoutReason::Deadline);
}

/// Nothing on the port: ICMP port unreachable is `ECONNREFUSED`.
#[test]
fn closed_port_is_refused() {
    let addr = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let o = call(addr, b"x", 0, |_| {});
    assert_error(&o, libc::ECONNREFUSED);
    let o = call(addr, b"x", 3, |_| {});
    assert_error(&o, libc::ECONNREFUSED);
}

/// Datagrams from the peer that do not decode as a reply (too short for
/// one) are dropped; the reply after them is the task's.
#[test]
fn stray_datagrams_are_ignored() {
    let (addr, _) = fake_peer(|req| vec![b"abc".to_vec(), vec![0, 0, 0, 9, 0, 0, 0, 200, 1], req.to_vec()]);
    let o = call(addr, b"mine", 0, |_| {});
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp, TlvMessage::new(0, "mine"));

    // Only strays: the task times out (the strays do not extend the wait).
    let (addr, _) = fake_peer(|_| vec![b"abc".to_vec(); 3]);
    let o = call(addr, b"mine", 0, |t| t.set_watch_timeout(Duration::from_millis(200)));
    assert_error(&o, libc::ETIMEDOUT);
}

/// A datagram with bytes after the reply is bad: `EBADMSG`; one longer
/// than the task's response size limit: `EMSGSIZE`.
#[test]
fn bad_reply_datagrams() {
    // Each bad datagram is only remembered; with no good one before the
    // wait ends, it is the task's error (a short wait keeps the test quick).
    let short = |t: &mut ClientTask<Tlv>| {
        t.set_watch_timeout(Duration::from_millis(300));
    };
    let (addr, _) = fake_peer(|req| vec![[req, req].concat()]);
    assert_error(&call(addr, b"twice", 0, short), libc::EBADMSG);

    let (addr, _) = fake_peer(|_| vec![encode(1, &[7; 200])]);
    let o = call(addr, b"big", 0, |t| {
        short(t);
        t.set_response_size_limit(Some(100));
    });
    assert_error(&o, libc::EMSGSIZE);

    // Not retried: the same reply would be refused again.
    let (addr, count) = fake_peer(|_| vec![encode(1, &[7; 200])]);
    let o = call(addr, b"big", 3, |t| {
        short(t);
        t.set_response_size_limit(Some(100));
    });
    assert_error(&o, libc::EMSGSIZE);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// Bad datagrams (spoofed, say) before the reply do not fail the task:
/// the good reply that follows is taken.
#[test]
fn bad_datagrams_before_the_reply_are_outlived() {
    let (addr, _) = fake_peer(|req| vec![[req, req].concat(), encode(1, &[7; 200]), req.to_vec()]);
    let o = call(addr, b"hello", 0, |t| {
        t.set_response_size_limit(Some(100));
    });
    assert_eq!(o.state, State::Success, "{}", o.error);
}

/// A request that does not fit one datagram is not sent.
#[test]
fn oversize_request_is_not_sent() {
    let (addr, count) = fake_peer(|req| vec![req.to_vec()]);
    let o = call(addr, &vec![1; MAX_DATAGRAM], 2, |_| {});
    assert_error(&o, libc::EMSGSIZE);
    // The largest that fits goes (8 bytes of header).
    let o = call(addr, &vec![1; MAX_DATAGRAM - 8], 0, |_| {});
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn tls_scheme_over_datagrams_is_refused() {
    let (addr, count) = fake_peer(|req| vec![req.to_vec()]);
    let (t, rx) = udp_task(&format!("tlvs://{addr}"), 0);
    t.start();
    assert_error(&recv(&rx), libc::EPROTONOSUPPORT);
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

/// `noreply()` sends nothing: the client times out, the server task ends
/// `NoReply`.
#[test]
fn noreply_sends_nothing() {
    let states = Log::new();
    let log = states.clone();
    let server = Server::new(Tlv::default(), move |task| {
        if task.req().value().as_ref() == b"drop" {
            task.noreply();
        } else {
            let req = task.req().clone();
            *task.resp_mut() = req;
        }
        let log = log.clone();
        task.set_callback(move |t| log.push(t.state()));
    });
    server.start_udp("127.0.0.1", 0).unwrap();
    let addr = server.udp_addr().unwrap();
    let o = call(addr, b"drop", 0, |t| t.set_watch_timeout(Duration::from_millis(200)));
    assert_error(&o, libc::ETIMEDOUT);
    assert_eq!(call(addr, b"keep", 0, |_| {}).state, State::Success);
    assert!(wait_until(WAIT, || states.len() == 2));
    assert_eq!(states.get(), vec![State::NoReply, State::Success]);
    server.stop();
}

/// A reply too big for a datagram is not sent: the server task fails
/// `EMSGSIZE`. Pushed bytes lead the reply's datagram.
#[test]
fn server_reply_size_and_pushes() {
    let states = Log::new();
    let log = states.clone();
    let server = Server::new(Tlv::default(), move |task| {
        match task.req().value().as_ref() {
            b"big" => task.resp_mut().set_value(vec![0; MAX_DATAGRAM]),
            b"push" => {
                assert!(task.pusher().push(&b"pre"[..]));
                task.resp_mut().set_value("after");
            }
            _ => {}
        }
        let log = log.clone();
        task.set_callback(move |t| log.push((t.state(), t.error().map(|e| e.code()))));
    });
    server.start_udp("127.0.0.1", 0).unwrap();
    let addr = server.udp_addr().unwrap();
    let s = raw_socket();
    s.send_to(&encode(1, b"big"), addr).unwrap();
    let mut buf = vec![0u8; 70_000];
    assert!(s.recv_from(&mut buf).is_err(), "no reply");
    assert!(wait_until(WAIT, || states.len() == 1));
    assert_eq!(states.get()[0], (State::SysError, Some(libc::EMSGSIZE)));

    s.send_to(&encode(1, b"push"), addr).unwrap();
    let (n, _) = s.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], &[&b"pre"[..], &encode(0, b"after")].concat()[..]);
    server.stop();
}

/// Datagrams that are not requests are dropped (TLV has no error reply);
/// the server goes on answering.
#[test]
fn bad_requests_are_dropped() {
    let (server, addr) = udp_echo();
    let s = raw_socket();
    let mut buf = [0u8; 64];
    for bad in [b"abc".to_vec(), [encode(1, b"a"), encode(2, b"b")].concat(), encode(1, &[0; 2 << 20])[..8].to_vec()] {
        s.send_to(&bad, addr).unwrap();
        assert!(s.recv_from(&mut buf).is_err(), "no reply to {bad:?}");
    }
    assert_eq!(call(addr, b"still", 0, |_| {}).state, State::Success);
    server.stop();
}

/// A flood: at most `max_connections` requests are in flight; the rest
/// are dropped, and the server answers again once they are done.
#[test]
fn flood_is_bounded() {
    const CAP: usize = 8;
    let started = Arc::new(AtomicUsize::new(0));
    let count = started.clone();
    let mut params = ServerParams::default();
    params.max_connections = CAP;
    let server = Server::with_params(Tlv::default(), params, move |task| {
        count.fetch_add(1, Ordering::SeqCst);
        let req = task.req().clone();
        *task.resp_mut() = req;
        wf_core::series_of(task).push_back(create_timer_task(Duration::from_millis(500), |_| {}));
    });
    server.start_udp("127.0.0.1", 0).unwrap();
    let addr = server.udp_addr().unwrap();
    let s = raw_socket();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    for i in 0..2000u32 {
        let _ = s.send_to(&encode(i, b"flood"), addr);
    }
    std::thread::sleep(Duration::from_millis(200));
    let n = started.load(Ordering::SeqCst);
    assert!((1..=CAP).contains(&n), "{n} requests in flight");
    // The held requests are answered; then new ones are served.
    let mut replies = 0;
    let mut buf = [0u8; 64];
    while s.recv_from(&mut buf).is_ok() {
        replies += 1;
    }
    // Every request admitted is answered (on a slow machine a late
    // datagram of the flood may have been admitted after the first ones).
    assert_eq!(replies, started.load(Ordering::SeqCst));
    assert_eq!(call(addr, b"after", 0, |_| {}).state, State::Success);
    server.stop();
}

/// `stop` with requests in flight: they are answered, then the socket
/// closes.
#[test]
fn stop_answers_requests_in_flight() {
    let started = Arc::new(AtomicUsize::new(0));
    let count = started.clone();
    let server = Server::new(Tlv::default(), move |task| {
        count.fetch_add(1, Ordering::SeqCst);
        let req = task.req().clone();
        *task.resp_mut() = req;
        wf_core::series_of(task).push_back(create_timer_task(Duration::from_millis(300), |_| {}));
    });
    server.start_udp("127.0.0.1", 0).unwrap();
    let addr = server.udp_addr().unwrap();
    let mut rxs = Vec::new();
    for i in 0..5 {
        let (mut t, rx) = udp_task(&format!("tlv://{addr}"), 0);
        t.req_mut().set_value(format!("{i}"));
        t.start();
        rxs.push(rx);
    }
    assert!(wait_until(WAIT, || started.load(Ordering::SeqCst) == 5));
    server.stop();
    for (i, rx) in rxs.iter().enumerate() {
        let o = recv(rx);
        assert_eq!(o.state, State::Success, "{}", o.error);
        assert_eq!(o.resp.value().as_ref(), format!("{i}").as_bytes());
    }
    // The socket is closed: nothing answers there any more.
    let o = call(addr, b"late", 0, |t| t.set_watch_timeout(Duration::from_millis(200)));
    assert_eq!(o.state, State::SysError);
    assert!([libc::ECONNREFUSED, libc::ETIMEDOUT].contains(&o.error.code()), "{}", o.error);
    assert_eq!(started.load(Ordering::SeqCst), 5);
}

/// A Unix socket target cannot take datagrams: `EAFNOSUPPORT`.
#[test]
fn unix_target_over_datagrams_is_refused() {
    let o = call_url("tlv://%2Ftmp%2Fwf-net-udp-none.sock", b"x");
    assert_error(&o, libc::EAFNOSUPPORT);
}

fn call_url(url: &str, value: &[u8]) -> Outcome {
    let (mut t, rx) = udp_task(url, 0);
    t.req_mut().set_value(value.to_vec());
    t.start();
    recv(&rx)
}

/// A line protocol that picks the transport by scheme (`line://` TCP,
/// `lineu://` UDP) and answers a bad request with `ERR`.
mod line {
    use std::io;

    use bytes::{BufMut, BytesMut};
    use tokio_util::codec::{Decoder, Encoder};
    use wf_core::net::{ClientOptions, ClientProtocol, Protocol, ServerParams, ServerProtocol, Transport, Uri};

    /// Lines; a reply codec takes only lines that begin with its request.
    #[derive(Debug, Default)]
    pub(super) struct LineCodec {
        expect: Option<String>,
    }

    impl Decoder for LineCodec {
        type Item = String;
        type Error = io::Error;
        fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<String>> {
            let Some(n) = src.iter().position(|&b| b == b'\n') else { return Ok(None) };
            let line = src.split_to(n + 1);
            let text = std::str::from_utf8(&line[..n]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            match &self.expect {
                Some(req) if !text.starts_with(req.as_str()) => {
                    src.clear();
                    Ok(None)
                }
                _ => Ok(Some(text.to_owned())),
            }
        }
    }

    impl Encoder<&String> for LineCodec {
        type Error = io::Error;
        fn encode(&mut self, line: &String, dst: &mut BytesMut) -> io::Result<()> {
            dst.put_slice(line.as_bytes());
            dst.put_u8(b'\n');
            Ok(())
        }
    }

    #[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
    pub(super) struct Line;

    impl Protocol for Line {
        type Request = String;
        type Response = String;
        fn schemes(&self) -> &'static [&'static str] {
            &["line", "lineu"]
        }
    }

    impl ClientProtocol for Line {
        type ClientCodec = LineCodec;
        type Handshake = ();
        fn client_codec(&self) -> LineCodec {
            LineCodec::default()
        }
        fn reply_codec(&self, req: &String) -> LineCodec {
            LineCodec { expect: Some(req.clone()) }
        }
        fn handshake(&self, _uri: &Uri, _opts: &ClientOptions) -> Result<(), wf_core::Error> {
            Ok(())
        }
        fn transport(&self, uri: &Uri) -> Transport {
            if uri.scheme() == "lineu" { Transport::Datagram } else { Transport::Stream }
        }
    }

    impl ServerProtocol for Line {
        type ServerCodec = LineCodec;
        fn server_codec(&self, _params: &ServerParams) -> LineCodec {
            LineCodec::default()
        }
        fn error_reply(&self, _codec: &mut LineCodec, error: &wf_core::Error) -> Option<String> {
            Some(format!("ERR {}", error.code()))
        }
    }
}

/// The transport chosen by scheme, to one server on both; a datagram that
/// is not a request gets the protocol's error reply.
#[test]
fn scheme_chooses_the_transport_and_error_replies() {
    use line::Line;
    wf_core::net::register_scheme_port("lineu", 7);
    wf_core::net::register_scheme_port("line", 7);
    let server = Server::new(Line, |t| {
        let reply = format!("{} {}", t.req(), t.req().to_uppercase());
        *t.resp_mut() = reply;
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();
    server.start_udp("127.0.0.1", port).unwrap();
    for scheme in ["line", "lineu"] {
        let (tx, rx) = mpsc::channel();
        let mut t = create_client_task(Line, &format!("{scheme}://127.0.0.1:{port}"), 0, move |t| {
            let _ = tx.send((t.state(), t.resp().clone()));
        });
        *t.req_mut() = format!("via {scheme}");
        t.start();
        assert_eq!(
            rx.recv_timeout(WAIT).unwrap(),
            (State::Success, format!("via {scheme} VIA {}", scheme.to_uppercase()))
        );
    }
    let s = raw_socket();
    let mut buf = [0u8; 64];
    let answer = format!("ERR {}\n", libc::EBADMSG);
    for bad in [&b"no newline"[..], b"two\nlines\n", b"\xff\n"] {
        s.send_to(bad, server.udp_addr().unwrap()).unwrap();
        let (n, _) = s.recv_from(&mut buf).unwrap();
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), answer, "answer to {bad:?}");
    }
    server.stop();
}

/// `reply_codec` knows the request: datagrams that are not its reply are
/// ignored (as a DNS client ignores another ID).
#[test]
fn reply_codec_tells_ours_from_others() {
    use line::Line;
    wf_core::net::register_scheme_port("lineu", 7);
    let (addr, _) = fake_peer(|req| {
        let req = std::str::from_utf8(req).unwrap().trim_end();
        vec![b"someone else\n".to_vec(), format!("{req}: yours\n").into_bytes()]
    });
    let (tx, rx) = mpsc::channel();
    let mut t = create_client_task(Line, &format!("lineu://{addr}"), 0, move |t| {
        let _ = tx.send((t.state(), t.resp().clone()));
    });
    *t.req_mut() = "q1".to_string();
    t.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (State::Success, "q1: yours".to_string()));
}

/// Upstreams route UDP tasks as they do TCP ones: a dead server
/// (`ECONNREFUSED`) is fused, retries go to the live one.
#[test]
fn upstream_routes_datagrams_and_fuses_dead_servers() {
    use wf_core::upstream::{AddressParams, Policy, Upstream};
    let (server, live) = udp_echo();
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let up = Upstream::create("up-udp-fuse", Policy::RoundRobin { try_another: true });
    let mut p = AddressParams::default();
    p.max_fails = 2;
    up.add_server_with(&dead.to_string(), p).unwrap();
    up.add_server(&live.to_string()).unwrap();
    up.set_mttr(Duration::from_secs(3600));
    let mut peers = Vec::new();
    for i in 0..10 {
        let (mut t, rx) = udp_task("tlv://up-udp-fuse:1/", 1);
        t.req_mut().set_value(format!("{i}"));
        t.start();
        let o = recv(&rx);
        assert_eq!(o.state, State::Success, "{}", o.error);
        peers.push(o.peer);
    }
    assert!(peers.iter().all(|p| *p == Some(live)), "{peers:?}");
    server.stop();
}
