//! Hostile servers against client tasks (issue 12, "hostile servers
//! bloat the clients", "declared lengths", "client deadlines"), each a
//! raw TCP server writing exact bytes:
//!
//! - an endless reply: `EMSGSIZE` at the task's response size limit,
//!   pooled and pipelined, and the connection is not reused;
//! - a TLV header declaring 4 GiB: refused at once, not waited for;
//! - a reply dripped within the response timeout: the task's deadline
//!   ends it (`ETIMEDOUT`, `TimeoutReason::Deadline`), callback once;
//! - a server that always drops the connection: the deadline bounds the
//!   retries too.
#![cfg(feature = "net")]

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use support::net::{Outcome, RawServer, drain, tlv_task};
use support::recv;
use wf_core::net::tlv::{Tlv, TlvCodec, TlvMessage};
use wf_core::net::{ClientOptions, ClientProtocol, ClientTask, Mode, Protocol, Uri, create_client_task};
use wf_core::{Error, State, TimeoutReason};

const MS: Duration = Duration::from_millis(1);

/// Reads one TLV request (header and value) from a raw connection.
fn read_request(s: &mut TcpStream) -> bool {
    let mut header = [0u8; 8];
    if s.read_exact(&mut header).is_err() {
        return false;
    }
    let len = u32::from_be_bytes(header[4..].try_into().unwrap()) as usize;
    let mut value = vec![0u8; len];
    s.read_exact(&mut value).is_ok()
}

/// A TLV header of type 1 declaring `len` bytes.
fn header(len: u32) -> Vec<u8> {
    let mut v = 1u32.to_be_bytes().to_vec();
    v.extend_from_slice(&len.to_be_bytes());
    v
}

/// A server that answers every request with a header declaring `len`,
/// then zeros without end.
fn endless_server(len: u32, served: Arc<AtomicUsize>) -> RawServer {
    RawServer::spawn(move |mut s| {
        while read_request(&mut s) {
            served.fetch_add(1, Ordering::SeqCst);
            if s.write_all(&header(len)).is_err() {
                return;
            }
            let zeros = [0u8; 16 << 10];
            while s.write_all(&zeros).is_ok() {}
        }
    })
}

/// TLV with a codec that trusts declared lengths fully (no limit of its
/// own), pooled or pipelined: only the connection's count holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Unlimited(bool);

impl Protocol for Unlimited {
    type Request = TlvMessage;
    type Response = TlvMessage;

    fn schemes(&self) -> &'static [&'static str] {
        &["tlv"]
    }
}

impl ClientProtocol for Unlimited {
    type ClientCodec = TlvCodec;
    type Handshake = ();

    fn client_codec(&self) -> TlvCodec {
        TlvCodec::new(None)
    }

    fn handshake(&self, _: &Uri, _: &ClientOptions) -> Result<(), Error> {
        Ok(())
    }

    fn default_keep_alive(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn mode(&self, _: &TlvMessage) -> Mode {
        if self.0 { Mode::Pipelined } else { Mode::Pooled }
    }
}

fn run<P>(protocol: P, url: &str, opts: impl FnOnce(&mut ClientOptions)) -> (State, Error)
where
    P: ClientProtocol<Request = TlvMessage, Response = TlvMessage>,
{
    let (tx, rx) = mpsc::channel();
    let mut t: ClientTask<P> = create_client_task(protocol, url, 0, move |t| {
        let _ = tx.send((t.state(), t.error().cloned().unwrap_or_else(|| Error::new(t.state(), 0))));
    });
    *t.req_mut() = TlvMessage::new(1, "hello");
    opts(t.options_mut());
    t.start();
    recv(&rx)
}

#[test]
fn endless_reply_fails_at_the_response_size_limit() {
    for pipelined in [false, true] {
        let served = Arc::new(AtomicUsize::new(0));
        // Declares 3 GiB: under no limit of the codec's.
        let server = endless_server(3 << 30, served.clone());
        let url = format!("tlv://{}", server.addr());
        let (state, e) = run(Unlimited(pipelined), &url, |o| {
            o.set_response_size_limit(Some(1 << 20));
        });
        assert_eq!((state, e.code()), (State::SysError, libc::EMSGSIZE), "pipelined {pipelined}: {e}");

        // The connection is not reused: the next task connects anew.
        let (state, e) = run(Unlimited(pipelined), &url, |o| {
            o.set_response_size_limit(Some(1 << 20));
        });
        assert_eq!((state, e.code()), (State::SysError, libc::EMSGSIZE), "pipelined {pipelined}: {e}");
        assert_eq!(server.accepts(), 2, "pipelined {pipelined}");
        assert_eq!(served.load(Ordering::SeqCst), 2, "pipelined {pipelined}");
    }
}

/// The default limit (64 MiB) holds without any setting.
#[test]
fn default_response_size_limit() {
    let mut o = ClientOptions::default();
    assert_eq!(o.response_size_limit(), Some(64 << 20));
    o.set_response_size_limit(None);
    assert_eq!(o.response_size_limit(), None);
    assert_eq!(o.deadline(), None);
}

/// The TLV header declaring 4 GiB, from a server that then sends
/// nothing more: refused at once (`EMSGSIZE`), not waited for (that would
/// end in a timeout), nothing reserved for it.
#[test]
fn huge_declared_reply_refused_at_once() {
    let server = RawServer::spawn(|mut s| {
        if read_request(&mut s) {
            let _ = s.write_all(&header(u32::MAX));
            drain(s);
        }
    });
    let (t, rx) = tlv_task(&format!("tlv://{}", server.addr()), 0);
    t.start();
    let o: Outcome = recv(&rx);
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "{}", o.error);

    // Under the protocol's own limit, the same.
    let server = RawServer::spawn(|mut s| {
        if read_request(&mut s) {
            let _ = s.write_all(&header(1000));
            drain(s);
        }
    });
    let (state, e) = run(Tlv::with_size_limit(100), &format!("tlv://{}", server.addr()), |_| {});
    assert_eq!((state, e.code()), (State::SysError, libc::EMSGSIZE), "{e}");
}

/// A reply dripped a byte every 100 ms keeps each read within the
/// response timeout; the task's deadline ends it, and its callback runs
/// once.
#[test]
fn dripped_reply_ends_at_the_deadline() {
    let server = RawServer::spawn(|mut s| {
        if read_request(&mut s) {
            let mut wire = header(100);
            wire.extend_from_slice(&[b'x'; 100]);
            for b in wire {
                if s.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(100 * MS);
            }
        }
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let counted = calls.clone();
    let mut t = create_client_task(Tlv::default(), &format!("tlv://{}", server.addr()), 0, move |t| {
        counted.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(support::net::outcome_of(t));
    });
    *t.req_mut() = TlvMessage::new(1, "hello");
    t.options_mut().set_deadline(Some(500 * MS));
    t.start();
    let o = recv(&rx);
    assert_eq!(o.error, Error::timeout(TimeoutReason::Deadline), "{}", o.error);
    assert_eq!(o.error.timeout_reason(), TimeoutReason::Deadline);
    assert!(rx.recv_timeout(300 * MS).is_err(), "the callback ran twice");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// The deadline covers every attempt: a server that drops each
/// connection at once would be retried 1000 times; the deadline ends the
/// task first.
#[test]
fn deadline_bounds_retries() {
    let server = RawServer::spawn(|mut s| {
        let _ = read_request(&mut s);
        std::thread::sleep(50 * MS);
    });
    let (mut t, rx) = tlv_task(&format!("tlv://{}", server.addr()), 1000);
    t.options_mut().set_deadline(Some(400 * MS));
    t.start();
    let o = recv(&rx);
    assert_eq!(o.error, Error::timeout(TimeoutReason::Deadline), "{}", o.error);
    assert!(server.accepts() < 1000, "{} attempts", server.accepts());
}

/// A task whose reply comes in time is not touched by its deadline.
#[test]
fn deadline_not_reached() {
    let server = RawServer::spawn(|mut s| {
        while read_request(&mut s) {
            let mut wire = header(2);
            wire.extend_from_slice(b"ok");
            if s.write_all(&wire).is_err() {
                return;
            }
        }
    });
    let (mut t, rx) = tlv_task(&format!("tlv://{}", server.addr()), 0);
    t.options_mut().set_deadline(Some(Duration::from_secs(20)));
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp, TlvMessage::new(1, "ok"));
}
