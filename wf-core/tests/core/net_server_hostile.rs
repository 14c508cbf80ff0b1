//! Hostile clients against a server (issue 12, "slow clients" and
//! "declared lengths"): each test replays an attack with raw sockets and
//! exact bytes.
//!
//! - a head dripped byte by byte: closed by `header_timeout`;
//! - a body dripped: closed by `min_receive_rate`; a steady upload and a
//!   pause after the head are not;
//! - a protocol without a head: held to the rate from its first byte;
//! - slow-header connections filling `max_connections`: evicted, so a
//!   legitimate client is still served;
//! - 200 TLV headers declaring 4 GiB: refused at once, nothing reserved;
//! - a third-party codec that ignores `request_size_limit`: the backstop
//!   answers `EMSGSIZE` and closes, after the codec's own limit had its
//!   say;
//! - a reply asking `KeepFor(300 s)`: held no longer than the server's
//!   `keep_alive_timeout`.
#![cfg(feature = "net")]

use crate::support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use support::net::{connect, encode, expect_closed, read_tlv, round_trip};
use support::{WAIT, wait_until};
use tokio_util::codec::{Decoder, Encoder};
use wf_core::net::tlv::{Tlv, TlvCodec, TlvMessage};
use wf_core::net::{KeepAlive, Protocol, Server, ServerParams, ServerProtocol};

const MS: Duration = Duration::from_millis(1);

/// TLV served with knobs: a protocol without a head (the default
/// `head_complete`), and a reply's keep-alive.
#[derive(Clone, Default)]
struct TlvWith {
    headless: bool,
    keep_for: Option<Duration>,
}

impl Protocol for TlvWith {
    type Request = TlvMessage;
    type Response = TlvMessage;

    fn schemes(&self) -> &'static [&'static str] {
        &["tlv"]
    }
}

impl ServerProtocol for TlvWith {
    type ServerCodec = TlvCodec;

    fn server_codec(&self, params: &ServerParams) -> TlvCodec {
        Tlv::default().server_codec(params)
    }

    fn head_complete(&self, codec: &TlvCodec) -> bool {
        self.headless || Tlv::default().head_complete(codec)
    }

    fn keep_alive_after_reply(&self, _: &TlvMessage, _: &TlvMessage, _: u64) -> KeepAlive {
        self.keep_for.map_or(KeepAlive::Keep, KeepAlive::KeepFor)
    }
}

/// An echo server of `protocol` that counts processed requests.
fn echo<P>(protocol: P, params: ServerParams) -> (Server<P>, SocketAddr, Arc<AtomicUsize>)
where
    P: ServerProtocol<Request = TlvMessage, Response = TlvMessage>,
{
    let processed = Arc::new(AtomicUsize::new(0));
    let seen = processed.clone();
    let server = Server::with_params(protocol, params, move |task| {
        seen.fetch_add(1, Ordering::SeqCst);
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let addr = server.listen_addr().unwrap();
    (server, addr, processed)
}

/// Writes `wire` one byte every `step` until the server closes (or all is
/// sent); gives how long that took and how many bytes went out.
fn drip(s: &mut TcpStream, wire: &[u8], step: Duration) -> (Duration, usize) {
    let reader = s.try_clone().unwrap();
    let start = Instant::now();
    std::thread::scope(|scope| {
        let closed = scope.spawn(move || {
            let mut reader = reader;
            let mut b = [0u8; 64];
            // Whatever comes (a timeout reply), read until the close.
            loop {
                match reader.read(&mut b) {
                    Ok(0) | Err(_) => return start.elapsed(),
                    Ok(_) => {}
                }
            }
        });
        let mut sent = 0;
        for b in wire {
            if closed.is_finished() || s.write_all(&[*b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(step);
        }
        (closed.join().unwrap(), sent)
    })
}

#[test]
fn dripped_head_closed_by_header_timeout() {
    let mut params = ServerParams::default();
    params.header_timeout = Some(300 * MS);
    params.peer_response_timeout = Some(Duration::from_secs(5));
    let (server, addr, processed) = echo(Tlv::default(), params);
    let mut s = connect(addr);
    // The 8-byte header, a byte every 150 ms: 1.2 s for the head alone.
    let (closed_after, sent) = drip(&mut s, &encode(1, b"x"), 150 * MS);
    assert!(closed_after >= 300 * MS, "closed after {closed_after:?}");
    assert!(closed_after < WAIT, "closed after {closed_after:?}");
    assert!(sent < 8, "the whole head ({sent} bytes) was sent before the server closed");
    assert_eq!(processed.load(Ordering::SeqCst), 0);
    server.stop();
}

#[test]
fn dripped_body_closed_by_min_receive_rate() {
    let mut params = ServerParams::default();
    params.min_receive_rate = Some(256);
    params.min_receive_rate_grace = 300 * MS;
    params.peer_response_timeout = Some(Duration::from_secs(5));
    let (server, addr, processed) = echo(Tlv::default(), params);
    let mut s = connect(addr);
    let wire = encode(1, &[b'x'; 1000]);
    s.write_all(&wire[..8]).unwrap();
    // 10 bytes/s, far under 256.
    let (closed_after, sent) = drip(&mut s, &wire[8..], 100 * MS);
    assert!(closed_after >= 300 * MS, "closed after {closed_after:?}");
    assert!(closed_after < WAIT, "closed after {closed_after:?}");
    assert!(sent < 100, "{sent} bytes sent");
    assert_eq!(processed.load(Ordering::SeqCst), 0);
    server.stop();
}

/// A body arriving steadily above the minimum rate is never cut, however
/// long it takes (here 5 times the grace), and neither the keep-alive nor
/// the header timeout applies to it.
#[test]
fn steady_upload_is_served() {
    let mut params = ServerParams::default();
    params.min_receive_rate = Some(500);
    params.min_receive_rate_grace = 300 * MS;
    params.keep_alive_timeout = Some(400 * MS);
    params.header_timeout = Some(400 * MS);
    params.peer_response_timeout = Some(Duration::from_secs(2));
    let (server, addr, processed) = echo(Tlv::default(), params);
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"first"), TlvMessage::new(1, "first"));
    // 100 bytes every 50 ms (2000 B/s) for 1.6 s.
    let value = vec![b'u'; 3200];
    let wire = encode(2, &value);
    s.write_all(&wire[..8]).unwrap();
    for chunk in wire[8..].chunks(100) {
        std::thread::sleep(50 * MS);
        s.write_all(chunk).unwrap();
    }
    assert_eq!(read_tlv(&mut s).unwrap(), Some(TlvMessage::new(2, value)));
    assert_eq!(processed.load(Ordering::SeqCst), 2);
    drop(s);
    server.stop();
}

/// The head in, then a pause longer than the keep-alive timeout with
/// nothing buffered (the codec holds the head): the request is not idle.
#[test]
fn pause_after_the_head_is_not_idle() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(300 * MS);
    params.peer_response_timeout = Some(Duration::from_secs(3));
    let (server, addr, _) = echo(Tlv::default(), params);
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"first"), TlvMessage::new(1, "first"));
    let wire = encode(2, b"after a pause");
    s.write_all(&wire[..8]).unwrap();
    std::thread::sleep(900 * MS);
    s.write_all(&wire[8..]).unwrap();
    assert_eq!(read_tlv(&mut s).unwrap(), Some(TlvMessage::new(2, "after a pause")));
    drop(s);
    server.stop();
}

/// A protocol without a head (the default `head_complete`) is held to the
/// rate from the first byte: the header timeout (here an hour) plays no
/// part.
#[test]
fn headless_protocol_held_to_the_rate_from_the_first_byte() {
    let mut params = ServerParams::default();
    params.header_timeout = Some(Duration::from_secs(3600));
    params.min_receive_rate = Some(256);
    params.min_receive_rate_grace = 300 * MS;
    params.peer_response_timeout = Some(Duration::from_secs(5));
    let (server, addr, processed) = echo(TlvWith { headless: true, keep_for: None }, params);
    let mut s = connect(addr);
    let (closed_after, sent) = drip(&mut s, &encode(1, b"x"), 150 * MS);
    assert!(closed_after >= 300 * MS, "closed after {closed_after:?}");
    assert!(closed_after < WAIT, "closed after {closed_after:?}");
    assert!(sent < 8, "{sent} bytes sent");
    assert_eq!(processed.load(Ordering::SeqCst), 0);
    server.stop();
}

/// The lock-out (2,100 slow-header connections against
/// `max_connections` 2,000), scaled down: connections that have not
/// completed their request are evicted, oldest first, so a legitimate
/// client still gets in; one being served is never evicted.
#[test]
fn slow_headers_cannot_lock_out_a_client() {
    const MAX: usize = 8;
    let mut params = ServerParams::default();
    params.max_connections = MAX;
    let (server, addr, processed) = echo(Tlv::default(), params);

    let mut slow = Vec::new();
    for i in 0..MAX + 4 {
        let mut s = connect(addr);
        s.write_all(&encode(i as u32, b"never finished")[..3]).unwrap();
        slow.push(s);
        // Let it be seen receiving before the next one comes.
        std::thread::sleep(100 * MS);
    }
    assert!(wait_until(WAIT, || server.conn_count() == MAX), "{} open", server.conn_count());
    // The oldest was evicted.
    expect_closed(&mut slow[0]);

    let mut client = connect(addr);
    assert_eq!(round_trip(&mut client, 100, b"legitimate"), TlvMessage::new(100, "legitimate"));
    assert_eq!(processed.load(Ordering::SeqCst), 1);
    assert!(server.conn_count() <= MAX);
    // Five evicted in all (four slow ones, then one for the client);
    // the others are still open, receiving.
    let closed = slow
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(300 * MS)).unwrap();
            let mut b = [0u8; 1];
            let mut r: &TcpStream = s;
            !matches!(r.read(&mut b), Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
        })
        .count();
    assert_eq!(closed, 5);
    drop((slow, client));
    server.stop();
}

/// The 200 TLV headers declaring 4 GiB each: every connection is
/// refused at once (EMSGSIZE in the codec, over the 1 MiB default), and
/// the server still answers.
#[test]
fn huge_declared_lengths_are_refused_at_once() {
    let (server, addr, processed) = echo(Tlv::default(), ServerParams::default());
    assert_eq!(server.params().request_size_limit, Some(1 << 20));
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = connect(addr);
            let mut header = (i as u32).to_be_bytes().to_vec();
            header.extend_from_slice(&u32::MAX.to_be_bytes());
            s.write_all(&header).unwrap();
            s
        })
        .collect();
    for s in &mut conns {
        expect_closed(s);
    }
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"alive"), TlvMessage::new(1, "alive"));
    assert_eq!(processed.load(Ordering::SeqCst), 1);
    drop((conns, s));
    server.stop();
}

/// A third party's line protocol: its codec has a limit of its own, or
/// none at all (it ignores `request_size_limit`); its error reply names
/// the error code.
#[derive(Clone)]
struct Lines {
    own_limit: Option<usize>,
}

struct LineCodec {
    own_limit: Option<usize>,
}

impl Decoder for LineCodec {
    type Item = String;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<String>> {
        match src.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = String::from_utf8_lossy(&src[..i]).into_owned();
                src.advance(i + 1);
                Ok(Some(line))
            }
            None if self.own_limit.is_some_and(|l| src.len() > l) => Err(io::Error::from_raw_os_error(libc::E2BIG)),
            None => Ok(None),
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

impl Protocol for Lines {
    type Request = String;
    type Response = String;

    fn schemes(&self) -> &'static [&'static str] {
        &["lines"]
    }
}

impl ServerProtocol for Lines {
    type ServerCodec = LineCodec;

    fn server_codec(&self, _: &ServerParams) -> LineCodec {
        LineCodec { own_limit: self.own_limit }
    }

    fn error_reply(&self, _: &mut LineCodec, error: &wf_core::Error) -> Option<String> {
        Some(format!("ERR {}", error.code()))
    }
}

/// Sends `len` bytes with no newline, 16 KiB at a time, until the server
/// answers or closes; gives what it answered.
fn endless_line(addr: SocketAddr, len: usize) -> (String, usize) {
    let mut s = connect(addr);
    let mut reader = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 16 << 10];
        let mut sent = 0;
        while sent < len && s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let mut answer = Vec::new();
    let _ = reader.read_to_end(&mut answer);
    let sent = writer.join().unwrap();
    (String::from_utf8_lossy(&answer).into_owned(), sent)
}

#[test]
fn backstop_holds_a_codec_that_ignores_the_limit() {
    let mut params = ServerParams::default();
    params.request_size_limit = Some(1024);
    let server = Server::with_params(Lines { own_limit: None }, params, |task| {
        let line = task.req().clone();
        *task.resp_mut() = line;
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let addr = server.listen_addr().unwrap();

    let mut s = connect(addr);
    s.write_all(b"short\n").unwrap();
    let mut got = [0u8; 6];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"short\n");
    drop(s);

    // 2 × 1 KiB + 64 KiB is the backstop: the answer comes while the
    // client is still sending (what it sends after is read and dropped
    // for a moment before the close, never buffered).
    let (answer, _) = endless_line(addr, 64 << 20);
    assert_eq!(answer, format!("ERR {}\n", libc::EMSGSIZE));
    server.stop();

    // A codec with its own limit answers first, with its own error.
    let mut params = ServerParams::default();
    params.request_size_limit = Some(1024);
    let server = Server::with_params(Lines { own_limit: Some(1024) }, params, |_| {});
    server.start_on("127.0.0.1", 0).unwrap();
    let (answer, _) = endless_line(server.listen_addr().unwrap(), 64 << 20);
    assert_eq!(answer, format!("ERR {}\n", libc::E2BIG));
    server.stop();
}

/// A reply asking to keep the connection 300 s is held to the server's
/// `keep_alive_timeout` (a client's `Keep-Alive: timeout=300` cannot raise
/// it).
#[test]
fn reply_keep_for_is_capped_by_the_server() {
    let mut params = ServerParams::default();
    params.keep_alive_timeout = Some(300 * MS);
    let protocol = TlvWith { headless: false, keep_for: Some(Duration::from_secs(300)) };
    let (server, addr, _) = echo(protocol, params);
    let mut s = connect(addr);
    assert_eq!(round_trip(&mut s, 1, b"keep me"), TlvMessage::new(1, "keep me"));
    let replied = Instant::now();
    expect_closed(&mut s);
    let idle = replied.elapsed();
    assert!(idle >= 250 * MS, "closed {idle:?} after the reply");
    assert!(idle < WAIT, "held {idle:?}");
    server.stop();
}
