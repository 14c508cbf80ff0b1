//! A hermetic single-member `etcd` (v3 API, JSON gateway on its client
//! port).
//!
//! ```no_run
//! use testkit::etcd::Etcd;
//!
//! let mut etcd = Etcd::start();
//! etcd.ctl_ok(&["put", "/k", "v"]);
//! assert_eq!(etcd.ctl_ok(&["get", "/k", "--print-value-only"]), "v\n");
//! etcd.restart(); // same ports, same data
//! assert_eq!(etcd.ctl_ok(&["get", "/k", "--print-value-only"]), "v\n");
//! println!("{}", etcd.url()); // http://127.0.0.1:PORT
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::TempDir;
use crate::process::{self, Failure, ServerProcess};

/// How long a start may take before it is a failure.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `etcd` may take to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The most a health probe reads of a reply.
const PROBE_LIMIT: u64 = 64 << 10;

/// A running `etcd` child process: one member, listening on free ports of
/// 127.0.0.1 (client and peer), its data in a temporary directory.
///
/// Dropping it kills the server (SIGTERM, then SIGKILL) and removes the
/// directory. [`stop`](Self::stop), [`kill`](Self::kill) and
/// [`restart`](Self::restart) keep the ports and the data (keys, revisions,
/// leases), as a real member's restart does.
#[derive(Debug)]
pub struct Etcd {
    server: PathBuf,
    name: String,
    port: u16,
    peer_port: u16,
    child: Option<ServerProcess>,
    // Declared last: dropped after the server is stopped.
    dir: TempDir,
}

impl Etcd {
    /// Starts a member on free ports and waits until it is healthy.
    ///
    /// # Panics
    ///
    /// If `etcd` is not installed (the message says how to install it), or
    /// if it is not healthy within 20 seconds (the message holds the end of
    /// its log).
    pub fn start() -> Etcd {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let server = process::require_binary(&["etcd"], "etcd-server");
        let dir = TempDir::new("etcd");
        let name = format!("wf-testkit-{}-{}", std::process::id(), STARTED.fetch_add(1, Ordering::Relaxed));
        let mut etcd = Etcd { server, name, port: 0, peer_port: 0, child: None, dir };
        process::launch_on_free_port("etcd", |port| {
            etcd.port = port;
            etcd.peer_port = crate::free_port();
            etcd.launch()
        });
        etcd
    }

    /// The client port, on 127.0.0.1 (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT` of the client port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:PORT`: the client URL, where the v3 JSON gateway
    /// answers (`/v3/kv/range`, `/v3/watch`…).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether the server process is running (not stopped nor killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server at once (SIGKILL, as a crash would). Ports and
    /// data are kept for [`restart`](Self::restart). Does nothing if it is
    /// not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::ZERO);
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 seconds). Ports and
    /// data are kept for [`restart`](Self::restart). Does nothing if it is
    /// not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(STOP_GRACE);
        }
    }

    /// Stops the server if it runs and starts it again on the same ports
    /// with the same data directory, then waits until it is healthy.
    ///
    /// # Panics
    ///
    /// If it is not healthy within 20 seconds, for instance because
    /// another process took a port meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        process::relaunch("etcd", port, START_TIMEOUT, || self.launch());
    }

    /// Runs `etcdctl --endpoints URL ARGS...` (API v3) and returns its
    /// output (a failing command is not a panic): a second, independent
    /// client of this server.
    ///
    /// # Panics
    ///
    /// If `etcdctl` is not installed.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let ctl = process::require_binary(&["etcdctl"], "etcd-client");
        Command::new(&ctl)
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url(), "--dial-timeout", "5s", "--command-timeout", "10s"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", ctl.display()))
    }

    /// Like [`ctl`](Self::ctl), returning standard output.
    ///
    /// # Panics
    ///
    /// If the command fails (the message holds its standard error).
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(out.status.success(), "etcdctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn output_file(&self) -> PathBuf {
        self.dir.path().join("etcd.out")
    }

    fn logs(&self) -> String {
        process::tail(&[&self.output_file()], 30)
    }

    /// Starts the member on `self.port` and `self.peer_port` and waits
    /// until it is healthy.
    fn launch(&mut self) -> Result<(), Failure> {
        // A fresh log, so that a port-taken error is this attempt's.
        let _ = std::fs::remove_file(self.output_file());
        let client = format!("http://127.0.0.1:{}", self.port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut cmd = Command::new(&self.server);
        cmd.args(["--name", &self.name]);
        cmd.arg("--data-dir").arg(self.dir.path().join("data"));
        cmd.args(["--listen-client-urls", &client, "--advertise-client-urls", &client]);
        cmd.args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer]);
        cmd.args(["--initial-cluster", &format!("{}={peer}", self.name)]);
        cmd.args(["--initial-cluster-state", "new", "--initial-cluster-token", &self.name]);
        let mut child = process::spawn(cmd, &self.output_file());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if child.exited() {
                let logs = self.logs();
                return Err(if logs.contains("address already in use") {
                    Failure::PortTaken(logs)
                } else {
                    Failure::Other(format!("testkit: etcd exited while starting on port {}\n{logs}", self.port))
                });
            }
            // Only this member counts: on a taken port, another etcd may
            // answer until the child notices and exits.
            if healthy(self.port) && member_name(self.port).is_some_and(|n| n.contains(&format!("\"{}\"", self.name))) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                child.terminate(Duration::ZERO);
                return Err(Failure::Other(format!(
                    "testkit: etcd was not healthy on port {} within {START_TIMEOUT:?}\n{}",
                    self.port,
                    self.logs()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `GET /health` on 127.0.0.1:`port` says `"health":"true"`.
fn healthy(port: u16) -> bool {
    exchange(port, "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_some_and(|r| r.contains("\"health\":\"true\""))
}

/// The reply to `POST /v3/cluster/member/list`, which names each member.
fn member_name(port: u16) -> Option<String> {
    let body = "{}";
    let req = format!(
        "POST /v3/cluster/member/list HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(port, &req)
}

/// Sends `request` to 127.0.0.1:`port` and reads the reply until the
/// server closes (HTTP/1.0), at most [`PROBE_LIMIT`] bytes, within a
/// second.
fn exchange(port: u16, request: &str) -> Option<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = Vec::new();
    stream.take(PROBE_LIMIT).read_to_end(&mut reply).ok()?;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    reply.starts_with("HTTP/1.").then_some(reply)
}
