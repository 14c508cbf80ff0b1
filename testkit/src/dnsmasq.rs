//! A hermetic `dnsmasq`: a real DNS server with the SRV and address
//! records a test gives it, on a free port of 127.0.0.1 (UDP and TCP).
//!
//! ```no_run
//! use testkit::dnsmasq::Dnsmasq;
//!
//! let mut dns = Dnsmasq::builder()
//!     .srv("_http._tcp.example.test", "a.example.test", 8080, 10, 5)
//!     .host("a.example.test", "127.0.0.1")
//!     .start();
//! println!("ask {}", dns.addr());
//! // New records: dnsmasq takes SRV records from its command line only, so
//! // it restarts on the same port.
//! dns.restart_with(Dnsmasq::builder().srv("_http._tcp.example.test", "a.example.test", 9090, 10, 5));
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::TempDir;
use crate::process::{self, Failure, ServerProcess};

/// How long a start may take before it is a failure.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `dnsmasq` may take to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One SRV record: `service` (`_http._tcp.example.test`), `target`,
/// `port`, `priority`, `weight`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Srv {
    service: String,
    target: String,
    port: u16,
    priority: u16,
    weight: u16,
}

/// The records and settings of a [`Dnsmasq`]: see [`Dnsmasq::builder`].
#[derive(Debug, Clone, Default)]
pub struct DnsmasqBuilder {
    srv: Vec<Srv>,
    hosts: Vec<(String, IpAddr)>,
    ttl: Option<u32>,
    args: Vec<String>,
}

impl DnsmasqBuilder {
    /// Adds an SRV record (`--srv-host=SERVICE,TARGET,PORT,PRIORITY,WEIGHT`).
    /// May be called several times, also for one service.
    pub fn srv(mut self, service: &str, target: &str, port: u16, priority: u16, weight: u16) -> Self {
        self.srv.push(Srv { service: service.to_owned(), target: target.to_owned(), port, priority, weight });
        self
    }

    /// Adds an address record (A for IPv4, AAAA for IPv6) for `name`
    /// (`--host-record=NAME,IP`). May be called several times, also for
    /// one name.
    ///
    /// # Panics
    ///
    /// If `ip` is not an IP address.
    pub fn host(mut self, name: &str, ip: &str) -> Self {
        let ip: IpAddr = ip.parse().unwrap_or_else(|e| panic!("testkit: dnsmasq host {name}: bad IP {ip:?}: {e}"));
        self.hosts.push((name.to_owned(), ip));
        self
    }

    /// The TTL of every record, in seconds (`--local-ttl`; dnsmasq's
    /// default is 0).
    pub fn ttl(mut self, seconds: u32) -> Self {
        self.ttl = Some(seconds);
        self
    }

    /// Appends one raw `dnsmasq` argument after the ones this crate sets.
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_owned());
        self
    }

    /// Starts dnsmasq on a free port of 127.0.0.1 (UDP and TCP) and waits
    /// until it answers.
    ///
    /// # Panics
    ///
    /// If `dnsmasq` is not installed (the message says how to install it),
    /// or if it does not answer within 10 seconds (the message holds the end
    /// of its log).
    pub fn start(self) -> Dnsmasq {
        let binary = process::require_binary(&["dnsmasq"], "dnsmasq-base");
        let dir = TempDir::new("dnsmasq");
        let mut dns = Dnsmasq { config: self, binary, port: 0, child: None, dir };
        process::launch_on_free_port("dnsmasq", |port| {
            dns.port = port;
            dns.launch()
        });
        dns
    }
}

/// A running `dnsmasq` child process answering on 127.0.0.1 (UDP and TCP)
/// from the records it was given only: no upstream servers, no
/// `/etc/hosts`, no DHCP. Its pid file and log (every query logged) live
/// in a temporary directory.
///
/// Dropping it kills the server and removes the directory.
#[derive(Debug)]
pub struct Dnsmasq {
    config: DnsmasqBuilder,
    binary: PathBuf,
    port: u16,
    child: Option<ServerProcess>,
    // Declared last: dropped after the server is stopped.
    dir: TempDir,
}

impl Dnsmasq {
    /// A builder for the records.
    pub fn builder() -> DnsmasqBuilder {
        DnsmasqBuilder::default()
    }

    /// The port (UDP and TCP), on 127.0.0.1. It stays the same across
    /// [`stop`](Self::stop) and [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, where to send queries.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 seconds): queries
    /// go unanswered until [`restart`](Self::restart). Does nothing if it is
    /// not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(STOP_GRACE);
        }
    }

    /// Stops the server and starts it again on the same port with the same
    /// records, then waits until it answers.
    ///
    /// # Panics
    ///
    /// If it does not come back within 10 seconds, for instance because
    /// another process took the port meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        process::relaunch("dnsmasq", port, START_TIMEOUT, || self.launch());
    }

    /// Stops the server and starts it again on the same port with the
    /// records of `config` instead (dnsmasq reads SRV records from its
    /// command line only), then waits until it answers.
    ///
    /// # Panics
    ///
    /// As [`restart`](Self::restart).
    pub fn restart_with(&mut self, config: DnsmasqBuilder) {
        self.stop();
        self.config = config;
        self.restart();
    }

    /// What dnsmasq logged (its start, and every query it answered).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("dnsmasq.log")
    }

    fn output_file(&self) -> PathBuf {
        self.dir.path().join("dnsmasq.out")
    }

    fn logs(&self) -> String {
        process::tail(&[&self.output_file(), &self.log_file()], 30)
    }

    /// Starts dnsmasq on `self.port` and waits until it answers.
    fn launch(&mut self) -> Result<(), Failure> {
        let _ = std::fs::remove_file(self.log_file());
        let _ = std::fs::remove_file(self.output_file());
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--keep-in-foreground").arg(format!("--port={}", self.port));
        cmd.args(["--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--log-queries"]);
        // Nothing of the machine's: no /etc/dnsmasq.conf, no DHCP leases.
        cmd.arg("--conf-file=/dev/null");
        if process::is_root() {
            // Stay root: the temporary directory is 0700.
            cmd.arg("--user=root");
        }
        cmd.arg(format!("--pid-file={}", self.dir.path().join("dnsmasq.pid").display()));
        cmd.arg(format!("--log-facility={}", self.log_file().display()));
        if let Some(ttl) = self.config.ttl {
            cmd.arg(format!("--local-ttl={ttl}"));
        }
        for s in &self.config.srv {
            cmd.arg(format!("--srv-host={},{},{},{},{}", s.service, s.target, s.port, s.priority, s.weight));
        }
        for (name, ip) in &self.config.hosts {
            cmd.arg(format!("--host-record={name},{ip}"));
        }
        cmd.args(&self.config.args);
        let mut child = process::spawn(cmd, &self.output_file());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if child.exited() {
                let logs = self.logs();
                return Err(if logs.contains("Address already in use") || logs.contains("address in use") {
                    Failure::PortTaken(logs)
                } else {
                    Failure::Other(format!("testkit: dnsmasq exited while starting on port {}\n{logs}", self.port))
                });
            }
            // Only this child counts: it logs its pid on start, and a
            // foreign server on the port would not have logged here.
            if answers(self.port) && self.log().contains(&format!("dnsmasq[{}]", child.id())) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                child.terminate(Duration::ZERO);
                return Err(Failure::Other(format!(
                    "testkit: dnsmasq did not answer on port {} within {START_TIMEOUT:?}\n{}",
                    self.port,
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a DNS server on 127.0.0.1:`port` answers a query (for
/// `ready.invalid`, type A) within 200 ms.
fn answers(port: u16) -> bool {
    let Ok(sock) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else { return false };
    if sock.set_read_timeout(Some(Duration::from_millis(200))).is_err()
        || sock.connect((Ipv4Addr::LOCALHOST, port)).is_err()
    {
        return false;
    }
    let id: u16 = 0x7e57;
    let mut q = Vec::with_capacity(32);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["ready", "invalid"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    if sock.send(&q).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(sock.recv(&mut buf), Ok(n) if n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0)
}
