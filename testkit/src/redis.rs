//! A hermetic `redis-server`.
//!
//! ```no_run
//! use testkit::redis::RedisServer;
//!
//! let plain = RedisServer::start();
//! let secured = RedisServer::builder().password("s3cret").user("app", "app-pass").unix_socket().start();
//! assert_eq!(secured.url(), format!("redis://:s3cret@127.0.0.1:{}", secured.port()));
//! # drop(plain);
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use crate::TempDir;
use crate::process::{self, Failure, ServerProcess};

/// How long a start may take before it is a failure.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `redis-server` may take to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running `redis-server` child process on 127.0.0.1, without persistence,
/// whose files (log, unix socket) live in a temporary directory.
///
/// Dropping it kills the server (SIGTERM, then SIGKILL) and removes the
/// directory.
#[derive(Debug)]
pub struct RedisServer {
    config: RedisBuilder,
    server: PathBuf,
    port: u16,
    socket: Option<PathBuf>,
    child: Option<ServerProcess>,
    // Declared last: dropped after the server is stopped.
    dir: TempDir,
}

/// Configures a [`RedisServer`] before it starts: see
/// [`RedisServer::builder`].
#[derive(Debug, Clone, Default)]
pub struct RedisBuilder {
    password: Option<String>,
    users: Vec<(String, String)>,
    unix_socket: bool,
    args: Vec<String>,
}

impl RedisBuilder {
    /// Requires this password from every client (`requirepass`).
    pub fn password(mut self, p: &str) -> Self {
        self.password = Some(p.to_owned());
        self
    }

    /// Adds an ACL user with all permissions
    /// (`--user NAME on >PASSWORD ~* &* +@all`). May be called several
    /// times. The `default` user is unchanged (no password unless
    /// [`password`](Self::password) sets one).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// Also listens on a unix socket in the temporary directory
    /// (`unixsocketperm 700`); see [`RedisServer::unix_socket`].
    pub fn unix_socket(mut self) -> Self {
        self.unix_socket = true;
        self
    }

    /// Appends one raw `redis-server` argument, after the ones this crate
    /// sets (so it overrides them): `.arg("--maxmemory").arg("10mb")`.
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_owned());
        self
    }

    /// Starts the server on a free port and waits until it answers.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not installed (the message says how to install
    /// it), or if it does not start within 10 seconds (the message holds the
    /// end of its log).
    pub fn start(self) -> RedisServer {
        let server = process::require_binary(&["redis-server"], "redis-server");
        let dir = TempDir::new("redis");
        let socket = self.unix_socket.then(|| dir.path().join("redis.sock"));
        let mut redis = RedisServer { config: self, server, port: 0, socket, child: None, dir };
        process::launch_on_free_port("redis-server", |port| {
            redis.port = port;
            redis.launch()
        });
        redis
    }
}

impl RedisServer {
    /// Starts a server with the default configuration:
    /// `RedisServer::builder().start()`.
    pub fn start() -> RedisServer {
        RedisServer::builder().start()
    }

    /// A builder, for a password, ACL users, a unix socket or raw arguments.
    pub fn builder() -> RedisBuilder {
        RedisBuilder::default()
    }

    /// The TCP port, on 127.0.0.1. It stays the same across
    /// [`stop`](Self::stop) and [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT` when a
    /// password is required (percent-encoded).
    pub fn url(&self) -> String {
        match &self.config.password {
            Some(p) => format!("redis://:{}@127.0.0.1:{}", process::url_encode(p), self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The password set with [`RedisBuilder::password`].
    pub fn password(&self) -> Option<&str> {
        self.config.password.as_deref()
    }

    /// The unix socket's path, when the builder asked for one.
    pub fn unix_socket(&self) -> Option<&Path> {
        self.socket.as_deref()
    }

    /// Kills the server at once (SIGKILL, as a crash would): connections
    /// are reset, nothing is flushed. The port (and the data directory) are
    /// kept for [`restart`](Self::restart). Does nothing if it is not
    /// running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::ZERO);
        }
    }

    /// Kills the server (SIGTERM, then SIGKILL after 5 seconds). The port
    /// number is kept for [`restart`](Self::restart). Does nothing if it is
    /// not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(STOP_GRACE);
        }
    }

    /// Stops the server and starts it again on the same port with the same
    /// configuration (the data is gone: there is no persistence), then waits
    /// until it answers.
    ///
    /// # Panics
    ///
    /// If it does not come back within 10 seconds, for instance because
    /// another process took the port meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        process::relaunch("redis-server", port, START_TIMEOUT, || self.launch());
    }

    /// Runs `redis-cli -h 127.0.0.1 -p PORT [-a PASSWORD --no-auth-warning]
    /// ARGS...` and returns its output (a failing command is not a panic).
    ///
    /// # Panics
    ///
    /// If `redis-cli` is not installed.
    pub fn cli(&self, args: &[&str]) -> Output {
        let cli = cli_path();
        let mut cmd = Command::new(&cli);
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(p) = &self.config.password {
            cmd.args(["-a", p, "--no-auth-warning"]);
        }
        cmd.args(args).output().unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", cli.display()))
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn output_file(&self) -> PathBuf {
        self.dir.path().join("redis.out")
    }

    fn logs(&self) -> String {
        process::tail(&[&self.output_file(), &self.log_file()], 30)
    }

    /// Starts the server on `self.port` and waits until it answers.
    fn launch(&mut self) -> Result<(), Failure> {
        // Fresh logs, so that a port-taken error is this attempt's.
        let _ = std::fs::remove_file(self.log_file());
        let _ = std::fs::remove_file(self.output_file());
        let mut cmd = Command::new(&self.server);
        cmd.arg("--port").arg(self.port.to_string());
        cmd.args(["--bind", "127.0.0.1", "--protected-mode", "no", "--daemonize", "no"]);
        cmd.args(["--save", "", "--appendonly", "no"]);
        cmd.arg("--dir").arg(self.dir.path());
        cmd.arg("--logfile").arg(self.log_file());
        if let Some(socket) = &self.socket {
            cmd.arg("--unixsocket").arg(socket).args(["--unixsocketperm", "700"]);
        }
        if let Some(p) = &self.config.password {
            cmd.args(["--requirepass", p]);
        }
        for (name, password) in &self.config.users {
            cmd.args(["--user", name, "on", &format!(">{password}"), "~*", "&*", "+@all"]);
        }
        cmd.args(&self.config.args);
        let mut child = process::spawn(cmd, &self.output_file());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if child.exited() {
                let logs = self.logs();
                return Err(if logs.contains("Address already in use") {
                    Failure::PortTaken(logs)
                } else {
                    Failure::Other(format!("testkit: redis-server exited while starting on port {}\n{logs}", self.port))
                });
            }
            // Only this child counts: on a taken port, another server may
            // answer until the child notices and exits.
            if answering_pid(self.port, self.config.password.as_deref()).is_some_and(|pid| pid == child.id()) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                child.terminate(Duration::ZERO);
                return Err(Failure::Other(format!(
                    "testkit: redis-server did not answer on port {} within {START_TIMEOUT:?}\n{}",
                    self.port,
                    self.logs()
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `redis-cli` binary, searched for as `redis-server` is (the `PATH`,
/// then `/usr/sbin` and `/usr/local/sbin`), for tests that run it against a
/// server of their own.
///
/// # Panics
///
/// If `redis-cli` is not installed (the message says how to install it).
pub fn cli_path() -> PathBuf {
    process::require_binary(&["redis-cli"], "redis-server")
}

/// Connects to 127.0.0.1:`port`, sends `AUTH` (with a password) and
/// `INFO server`, and returns the `process_id` of the server that answers.
fn answering_pid(port: u16, password: Option<&str>) -> Option<u32> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let mut request = Vec::new();
    if let Some(p) = password {
        request.extend(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{p}\r\n", p.len()).bytes());
    }
    request.extend(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n");
    stream.write_all(&request).ok()?;
    let mut replies = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let expected = 1 + usize::from(password.is_some());
    while replies.len() < expected {
        match parse_reply(&buf) {
            Some((reply, used)) => {
                buf.drain(..used);
                replies.push(reply);
            }
            None => {
                let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    let info = String::from_utf8_lossy(replies.last()?);
    info.lines().find_map(|l| l.strip_prefix("process_id:")).and_then(|pid| pid.trim().parse().ok())
}

/// Parses one RESP2 reply of the kinds `INFO` and `AUTH` return (simple
/// string, error, bulk string): its payload and the bytes it used, or `None`
/// when more bytes are needed. An error's payload is the error line.
fn parse_reply(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[1..line_end];
    match buf.first()? {
        b'$' => {
            let len: i64 = std::str::from_utf8(line).ok()?.parse().ok()?;
            if len < 0 {
                return Some((Vec::new(), line_end + 2));
            }
            let start = line_end + 2;
            let end = start + len as usize;
            (buf.len() >= end + 2).then(|| (buf[start..end].to_vec(), end + 2))
        }
        _ => Some((line.to_vec(), line_end + 2)),
    }
}
