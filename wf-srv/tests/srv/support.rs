//! A fake DNS server whose replies the test writes.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// A UDP server on 127.0.0.1 that answers each query with what `reply`
/// returns for it (any number of datagrams, none included).
pub(crate) struct FakeDns {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeDns {
    pub(crate) fn start(reply: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> FakeDns {
        FakeDns::on(UdpSocket::bind("127.0.0.1:0").unwrap(), reply)
    }

    pub(crate) fn on(sock: UdpSocket, reply: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> FakeDns {
        sock.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let (stop2, queries2) = (stop.clone(), queries.clone());
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else { continue };
                queries2.fetch_add(1, Ordering::Relaxed);
                for d in reply(&buf[..n]) {
                    let _ = sock.send_to(&d, peer);
                }
            }
        });
        FakeDns { addr, stop, queries, thread: Some(thread) }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply header for `query`: its ID, QR set, `flags` or'ed in, and
/// the counts; then the query's question when `qd` is 1.
pub(crate) fn reply_head(query: &[u8], flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut r = query[..2].to_vec();
    r.extend_from_slice(&(0x8180 | flags).to_be_bytes());
    for c in counts {
        r.extend_from_slice(&c.to_be_bytes());
    }
    if counts[0] == 1 {
        r.extend_from_slice(&query[12..]);
    }
    r
}

/// An SRV answer record owned by the question (pointer to offset 12).
pub(crate) fn srv_record(ttl: u32, priority: u16, weight: u16, port: u16, target: &str) -> Vec<u8> {
    let mut name = Vec::new();
    for label in target.split('.').filter(|l| !l.is_empty()) {
        name.push(label.len() as u8);
        name.extend_from_slice(label.as_bytes());
    }
    name.push(0);
    let mut r = vec![0xC0, 12, 0, 33, 0, 1];
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&((6 + name.len()) as u16).to_be_bytes());
    for v in [priority, weight, port] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r.extend_from_slice(&name);
    r
}

/// The question's type in a query.
pub(crate) fn qtype(query: &[u8]) -> u16 {
    let n = query.len();
    u16::from_be_bytes([query[n - 4], query[n - 3]])
}
