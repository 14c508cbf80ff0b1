//! Graceful stop against slow and busy clients (issue 12, items 2 and
//! 5): a client dripping its head holds `stop()` no longer than the header
//! timeout; a request in progress is finished and answered; under a
//! sustained keep-alive and pipelined load every request the server
//! processed is answered whole to its client, and clients see only whole
//! replies, then the end of the stream or a refusal.
#![cfg(feature = "net")]

use crate::support;

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use support::net::{connect, encode, expect_closed, read_tlv, start_local};
use support::{WAIT, wait_until};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, ServerParams};

const MS: Duration = Duration::from_millis(1);

fn echo(params: ServerParams) -> (Arc<Server<Tlv>>, SocketAddr, Arc<AtomicUsize>) {
    let processed = Arc::new(AtomicUsize::new(0));
    let seen = processed.clone();
    let server = Server::with_params(Tlv::default(), params, move |task| {
        seen.fetch_add(1, Ordering::SeqCst);
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    let addr = start_local(&server);
    (Arc::new(server), addr, processed)
}

/// Runs `server.stop()` on a thread; the receiver gets how long it took.
fn stop_in_background(server: &Arc<Server<Tlv>>) -> mpsc::Receiver<Duration> {
    let (tx, rx) = mpsc::channel();
    let server = server.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        server.stop();
        let _ = tx.send(start.elapsed());
    });
    rx
}

/// The issue: "a graceful stop waits without bound for a client dripping
/// its head". The drip keeps every read within the peer response timeout;
/// the header timeout ends it, and the stop with it.
#[test]
fn stop_is_bounded_by_the_header_timeout() {
    let mut params = ServerParams::default();
    params.header_timeout = Some(500 * MS);
    params.peer_response_timeout = Some(Duration::from_secs(5));
    let (server, addr, processed) = echo(params);
    let mut s = connect(addr);
    let wire = encode(1, b"dripped");
    s.write_all(&wire[..1]).unwrap();
    let dripping = Arc::new(AtomicBool::new(true));
    let drip = {
        let mut s = s.try_clone().unwrap();
        let dripping = dripping.clone();
        std::thread::spawn(move || {
            for b in &wire[1..] {
                std::thread::sleep(200 * MS);
                if !dripping.load(Ordering::SeqCst) || s.write_all(&[*b]).is_err() {
                    return;
                }
            }
        })
    };
    std::thread::sleep(100 * MS);
    let stopped = stop_in_background(&server);
    let took = stopped.recv_timeout(WAIT).expect("stop() returns while a client drips its head");
    assert!(took < WAIT, "{took:?}");
    expect_closed(&mut s);
    dripping.store(false, Ordering::SeqCst);
    drip.join().unwrap();
    assert_eq!(processed.load(Ordering::SeqCst), 0);
}

/// A request coming in when the server stops is not cut: it finishes,
/// is answered whole, and then the connection closes.
#[test]
fn stop_lets_a_request_in_progress_finish() {
    let (server, addr, processed) = echo(ServerParams::default());
    let mut s = connect(addr);
    let value = vec![b'v'; 1000];
    let wire = encode(7, &value);
    s.write_all(&wire[..500]).unwrap();
    std::thread::sleep(100 * MS);
    let stopped = stop_in_background(&server);
    std::thread::sleep(300 * MS);
    assert!(stopped.try_recv().is_err(), "stop() returned with a request coming in");
    s.write_all(&wire[500..]).unwrap();
    assert_eq!(read_tlv(&mut s).unwrap(), Some(TlvMessage::new(7, value)));
    expect_closed(&mut s);
    stopped.recv_timeout(WAIT).expect("stop() returns once the request is answered");
    assert_eq!(processed.load(Ordering::SeqCst), 1);
}

/// What one load client saw.
#[derive(Debug, Default)]
struct Seen {
    /// Whole replies, each matching its request.
    replies: usize,
    /// Connections that ended with the end of the stream (or a reset
    /// with no partial reply pending) after their replies.
    ended: usize,
}

/// A client that keeps its connection busy until the server goes: a
/// writer sends bursts of `burst` pipelined requests with numbered
/// values, a reader checks every reply is whole and is the next one's
/// echo. It reconnects after the end of a stream until connecting is
/// refused, or `quit` is set.
fn load_client(addr: SocketAddr, id: u32, burst: usize, quit: Arc<AtomicBool>) -> io::Result<Seen> {
    let mut seen = Seen::default();
    let mut next: u64 = 0;
    loop {
        if quit.load(Ordering::SeqCst) {
            return Ok(seen);
        }
        let s = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(seen),
            Err(e) => return Err(e),
        };
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(WAIT))?;
        let mut reader = s.try_clone()?;
        let writing = Arc::new(AtomicBool::new(true));
        let first = next;
        let writer = {
            let mut s = s;
            let writing = writing.clone();
            std::thread::spawn(move || {
                let mut n = first;
                while writing.load(Ordering::SeqCst) {
                    let mut wire = Vec::new();
                    for _ in 0..burst {
                        wire.extend(encode(id, format!("{id}:{n}").as_bytes()));
                        n += 1;
                    }
                    if s.write_all(&wire).is_err() {
                        break;
                    }
                    std::thread::sleep(MS);
                }
                let _ = s.shutdown(Shutdown::Write);
            })
        };
        loop {
            match read_tlv(&mut reader) {
                Ok(Some(reply)) => {
                    assert_eq!(reply, TlvMessage::new(id, format!("{id}:{next}")), "client {id}: out of order");
                    next += 1;
                    seen.replies += 1;
                }
                // The end of the stream between replies.
                Ok(None) => break,
                // A reset between replies: still no partial reply.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => {
                    writing.store(false, Ordering::SeqCst);
                    let _ = writer.join();
                    return Err(e);
                }
            }
        }
        seen.ended += 1;
        writing.store(false, Ordering::SeqCst);
        writer.join().unwrap();
        // Requests sent on that connection and never answered were never
        // processed (checked by the counts): the next connection
        // numbers on from the last reply.
    }
}

#[test]
fn stop_under_pipelined_load_loses_no_request() {
    const CLIENTS: u32 = 4;
    let (server, addr, processed) = echo(ServerParams::default());
    let quit = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let quit = quit.clone();
            // Half keep-alive (one request at a time in flight per
            // burst), half pipelined in bursts of 16.
            let burst = if id % 2 == 0 { 1 } else { 16 };
            std::thread::spawn(move || load_client(addr, id, burst, quit))
        })
        .collect();
    assert!(wait_until(WAIT, || processed.load(Ordering::SeqCst) > 2000), "the load runs");
    std::thread::sleep(200 * MS);

    let stopped = stop_in_background(&server);
    stopped.recv_timeout(WAIT).expect("stop() returns under load");
    let at_stop = processed.load(Ordering::SeqCst);
    // Clients still running get refused now; make sure none waits on.
    quit.store(true, Ordering::SeqCst);

    let mut replies = 0;
    for (id, c) in clients.into_iter().enumerate() {
        let seen = c.join().unwrap().unwrap_or_else(|e| panic!("client {id}: {e}"));
        assert!(seen.ended >= 1, "client {id}: {seen:?}");
        replies += seen.replies;
    }
    assert_eq!(processed.load(Ordering::SeqCst), at_stop, "requests processed after stop() returned");
    assert_eq!(replies, at_stop, "every request the server processed was answered whole to its client");
    assert_eq!(server.conn_count(), 0);
}
