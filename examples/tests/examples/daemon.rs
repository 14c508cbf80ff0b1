//! Example servers run as daemons would be: standard input not a
//! terminal, the listening address read from the first line they print,
//! stopped with a real signal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A server binary running as a child process; killed if still running
/// when dropped.
pub(crate) struct Daemon {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Daemon {
    /// Starts `bin args…` with standard input `/dev/null` and waits for
    /// its `listening on ADDR` line.
    pub(crate) fn start(bin: &str, args: &[&str]) -> Daemon {
        Daemon::spawn(Command::new(bin).args(args).stdin(Stdio::null()))
    }

    /// Starts `bin args…` with standard input closed (no descriptor 0 at
    /// all, as some supervisors leave it).
    pub(crate) fn start_stdin_closed(bin: &str, args: &[&str]) -> Daemon {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(bin);
        cmd.args(args).stdin(Stdio::null());
        // SAFETY: close is async-signal-safe, as pre_exec requires.
        unsafe {
            cmd.pre_exec(|| {
                libc::close(0);
                Ok(())
            })
        };
        Daemon::spawn(&mut cmd)
    }

    fn spawn(cmd: &mut Command) -> Daemon {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("the server starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(testkit::WAIT).expect("the server prints its address");
        let port = listening_port(&first).unwrap_or_else(|| panic!("no `listening on ADDR` in {first:?}"));
        Daemon { child, port, lines }
    }

    /// The TCP port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the process (or a child sharing its output) prints,
    /// within `timeout`.
    pub(crate) fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Sends `sig` to the process.
    pub(crate) fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill has no memory-safety preconditions; the pid is our
        // child's, not yet reaped.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {pid}");
    }

    /// Waits (at most `testkit::WAIT`) for the process to exit.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + testkit::WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit after the signal");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `sig`, asserts a prompt clean exit (status 0) and returns
    /// the lines printed after the address.
    pub(crate) fn stop_with(mut self, sig: libc::c_int) -> Vec<String> {
        self.signal(sig);
        let status = self.wait_exit();
        assert!(status.success(), "exit status after signal {sig}: {status}");
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        rest
    }

    /// The server's peak resident memory so far (VmHWM), in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc/PID/status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
        line.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()).expect("a size in kB") * 1024
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in `… listening on 0.0.0.0:PORT …`.
fn listening_port(line: &str) -> Option<u16> {
    let addr = line.split("listening on ").nth(1)?.split([' ', ';', ',']).next()?;
    addr.parse::<std::net::SocketAddr>().ok().map(|a| a.port())
}

/// Writes `request` on a fresh connection to 127.0.0.1:`port` and reads
/// until the server closes it (bounded by `testkit::WAIT`).
pub(crate) fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(testkit::WAIT)).unwrap();
    s.write_all(request).expect("write the request");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read until the server closes");
    out
}

/// An HTTP response split into its status line, lower-case headers and
/// body (chunked bodies decoded; their chunk sizes returned too).
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) chunks: Vec<usize>,
}

impl Response {
    pub(crate) fn parse(raw: &[u8]) -> Response {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
        let head = String::from_utf8(raw[..split].to_vec()).expect("a text head");
        let mut lines = head.split("\r\n");
        let status = lines.next().expect("a status line").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &raw[split + 4..];
        let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let (body, chunks) = if chunked { dechunk(rest) } else { (rest.to_vec(), Vec::new()) };
        Response { status, headers, body, chunks }
    }

    pub(crate) fn code(&self) -> u16 {
        self.status.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status code")
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Decodes a complete chunked body (panics if it is cut short).
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let (mut body, mut sizes) = (Vec::new(), Vec::new());
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16).expect("hex size");
        raw = &raw[eol + 2..];
        if size == 0 {
            assert!(raw.starts_with(b"\r\n"), "the last chunk ends the body");
            return (body, sizes);
        }
        assert!(raw.len() >= size + 2, "a chunk cut short: the body is incomplete");
        body.extend_from_slice(&raw[..size]);
        sizes.push(size);
        raw = &raw[size + 2..];
    }
}

/// `GET path` (or another method) with `Connection: close`, parsed.
pub(crate) fn request(port: u16, method: &str, path: &str, extra: &str) -> Response {
    let raw =
        exchange(port, format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").as_bytes());
    Response::parse(&raw)
}
