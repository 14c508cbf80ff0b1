//! Idle keep-alive connections: what a server's memory costs per
//! connection (`cargo xtask bench http-server idle10k`).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::PinnedServer;

/// The request each connection makes once.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// The most a reply to [`REQUEST`] may take (a hello server's is ~100 bytes).
const REPLY_MAX: usize = 64 * 1024;

/// How long one connect, write or read may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server is left alone with its idle connections before
/// its RSS is read.
const SETTLE: Duration = Duration::from_secs(2);

/// One measurement of a server with idle connections.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdleSample {
    /// RSS after one request on a single connection, before the idle ones.
    pub rss_before: u64,
    /// RSS with the idle connections open.
    pub rss: u64,
    /// Connections the server still had open when its RSS was read.
    pub open: usize,
}

impl IdleSample {
    /// RSS growth per open connection, in bytes.
    pub fn per_conn(&self) -> f64 {
        if self.open == 0 {
            return f64::NAN;
        }
        self.rss.saturating_sub(self.rss_before) as f64 / self.open as f64
    }
}

/// Raises this process's soft limit on open files to at least `n` (up to
/// the hard limit); an error if the hard limit is below `n`.
pub fn raise_nofile(n: u64) -> io::Result<()> {
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur >= n {
            return Ok(());
        }
        if lim.rlim_max < n {
            return Err(io::Error::other(format!("the hard limit on open files is {} (`ulimit -Hn`)", lim.rlim_max)));
        }
        lim.rlim_cur = n;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Makes one request on a new connection to `port` and reads the whole
/// reply (its head and `Content-Length` bytes of body); returns the
/// connection, kept alive.
pub fn one_request(port: u16) -> io::Result<TcpStream> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.write_all(REQUEST)?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed before its reply ended"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if reply_len(&buf)?.is_some_and(|len| buf.len() >= len) {
            return Ok(s);
        }
        if buf.len() > REPLY_MAX {
            return Err(io::Error::other("reply too long"));
        }
    }
}

/// The length of the reply at the start of `buf` (head and body), once
/// its head is complete.
fn reply_len(buf: &[u8]) -> io::Result<Option<usize>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| io::Error::other("reply head is not text"))?;
    let body = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| io::Error::other("reply without Content-Length"))?;
    Ok(Some(end + 4 + body))
}

/// True while the server keeps `s` open: nothing to read yet, no end of
/// input.
fn still_open(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    matches!(s.peek(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Opens `conns` connections to `server`, one request each, leaves them
/// idle for a moment and reads the server's RSS; then closes them.
pub fn measure(server: &PinnedServer, conns: usize) -> io::Result<IdleSample> {
    drop(one_request(server.port)?);
    std::thread::sleep(Duration::from_millis(200));
    let rss_before = server.rss().ok_or_else(|| io::Error::other("cannot read the server's RSS"))?;
    let mut open = Vec::with_capacity(conns);
    for _ in 0..conns {
        open.push(one_request(server.port)?);
    }
    std::thread::sleep(SETTLE);
    let rss = server.rss().ok_or_else(|| io::Error::other("cannot read the server's RSS"))?;
    let open = open.iter().filter(|s| still_open(s)).count();
    Ok(IdleSample { rss_before, rss, open })
}
