//! A blocking TCP server for tests that script a peer byte by byte: a
//! thread per connection, running the test's handler.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crate::WAIT;

/// A blocking TCP server on an ephemeral port that runs a handler on a
/// thread of its own for each accepted connection, and counts accepts.
/// Dropping it stops accepting (connections already handed to a handler
/// stay with it).
///
/// ```
/// use std::io::{Read, Write};
///
/// let server = testkit::RawServer::spawn(|mut s| {
///     let mut buf = [0u8; 4];
///     s.read_exact(&mut buf).unwrap();
///     s.write_all(&buf).unwrap();
/// });
/// let mut c = std::net::TcpStream::connect(server.addr()).unwrap();
/// c.write_all(b"ping").unwrap();
/// let mut echoed = [0u8; 4];
/// c.read_exact(&mut echoed).unwrap();
/// assert_eq!(&echoed, b"ping");
/// assert_eq!(server.accepts(), 1);
/// ```
#[derive(Debug)]
pub struct RawServer {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RawServer {
    /// Listens on 127.0.0.1 and runs `handler` with each accepted
    /// connection (blocking).
    pub fn spawn(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> RawServer {
        RawServer::spawn_on(Ipv4Addr::LOCALHOST.into(), move |s, _| handler(s))
    }

    /// Listens on `ip` and runs `handler` with each accepted connection
    /// (blocking) and its number: 0 for the first one accepted, 1 for the
    /// next, and so on.
    ///
    /// # Panics
    ///
    /// If `ip` cannot be bound; accepting panics on the server's thread on
    /// errors other than `WouldBlock`.
    pub fn spawn_on(ip: IpAddr, handler: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("testkit: cannot bind {ip}:0: {e}"));
        listener.set_nonblocking(true).expect("testkit: a non-blocking listener");
        let addr = listener.local_addr().expect("testkit: local_addr of a bound socket");
        let accepts = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let thread = {
            let (accepts, stop) = (accepts.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            let n = accepts.fetch_add(1, Ordering::SeqCst);
                            s.set_nonblocking(false).expect("testkit: a blocking connection");
                            let handler = handler.clone();
                            thread::spawn(move || handler(s, n));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(1)),
                        Err(e) => panic!("testkit: accept: {e}"),
                    }
                }
            })
        };
        RawServer { addr, accepts, stop, thread: Some(thread) }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads and discards until the peer closes, a read fails, or nothing
/// comes for [`WAIT`]; then drops (closes) the connection. As a
/// [`RawServer`] handler: a peer that reads requests and never answers.
pub fn drain(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(WAIT));
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}
