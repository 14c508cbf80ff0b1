//! A hermetic MariaDB server (`mariadbd`).
//!
//! ```no_run
//! use testkit::mariadb::MariaDb;
//!
//! let db = MariaDb::start();
//! db.sql_ok("CREATE TABLE wf_test.t (id INT PRIMARY KEY, name TEXT)");
//! assert_eq!(db.url(), format!("mysql://wf:wf_pass@127.0.0.1:{}/wf_test", db.port()));
//! ```

use std::fs;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use crate::TempDir;
use crate::process::{self, Failure, ServerProcess};

/// How long `mariadbd` may take to accept connections (it may have to
/// recover InnoDB after a kill).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `mariadbd` may take to shut down after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// Settings shared by the bootstrap and the server: small, for a fast start
/// and a fast copy of the data directory (rows of 64 MiB still work: the
/// redo log is circular).
const SMALL: &[&str] = &["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--skip-name-resolve"];

/// Creates the test database and users once, during `mariadb-install-db`.
/// The bootstrap runs without grant tables; `FLUSH PRIVILEGES` loads them so
/// that account statements work.
const SETUP_SQL: &str = "\
FLUSH PRIVILEGES;
CREATE DATABASE wf_test;
CREATE USER 'wf'@'%' IDENTIFIED BY 'wf_pass';
CREATE USER 'wf'@'localhost' IDENTIFIED BY 'wf_pass';
GRANT ALL ON *.* TO 'wf'@'%' WITH GRANT OPTION;
GRANT ALL ON *.* TO 'wf'@'localhost' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
";

/// A running `mariadbd` with its own data directory, unix socket, pid file
/// and tmpdir in a temporary directory, listening on 127.0.0.1 on a free
/// port.
///
/// It has a database `wf_test`, a user `wf` (host `%` and `localhost`) with
/// password `wf_pass` granted everything, and `root` without a password over
/// the socket and over TCP. Configuration files of the machine are ignored
/// (`--no-defaults`); the server uses `utf8mb4` and
/// `max_allowed_packet = 1G`.
///
/// Dropping it kills the server (SIGKILL: the data is thrown away) and
/// removes the directory.
#[derive(Debug)]
pub struct MariaDb {
    config: MariaDbBuilder,
    server: PathBuf,
    port: u16,
    socket: PathBuf,
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<ServerProcess>,
    // Declared last: dropped after the server is stopped.
    dir: TempDir,
}

/// Configures a [`MariaDb`] before it starts: see [`MariaDb::builder`].
#[derive(Debug, Clone, Default)]
pub struct MariaDbBuilder {
    tls: Option<(PathBuf, PathBuf)>,
    args: Vec<String>,
}

impl MariaDbBuilder {
    /// Serves TLS with this certificate chain and private key (PEM files,
    /// copied into the temporary directory at start): `--ssl-cert`,
    /// `--ssl-key`. Plain connections are still accepted; add
    /// `.arg("--require-secure-transport=ON")` to refuse them.
    pub fn tls(mut self, cert_pem: impl AsRef<Path>, key_pem: impl AsRef<Path>) -> Self {
        self.tls = Some((cert_pem.as_ref().to_owned(), key_pem.as_ref().to_owned()));
        self
    }

    /// Appends one raw `mariadbd` argument, after the ones this crate sets
    /// (so it overrides them), e.g. `.arg("--max-connections=20")`.
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_owned());
        self
    }

    /// Creates the data directory (a copy of one made by
    /// `mariadb-install-db` at the first start in the process), starts the
    /// server on a free port and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If MariaDB is not installed (the message says how to install it), or
    /// if it does not start (the message holds the end of its log).
    pub fn start(self) -> MariaDb {
        let server = process::require_binary(&["mariadbd", "mysqld"], "mariadb-server");
        let install = process::require_binary(&["mariadb-install-db", "mysql_install_db"], "mariadb-server");
        client();
        let dir = TempDir::new("mariadb");
        let socket = dir.path().join("mysqld.sock");
        fs::create_dir(dir.path().join("tmp")).expect("testkit: cannot create tmpdir");
        copy_dir(&template(&install).join("data"), &dir.path().join("data"));
        let tls = self.tls.as_ref().map(|(cert, key)| {
            let copy = |from: &Path, name: &str| {
                let to = dir.path().join(name);
                fs::copy(from, &to).unwrap_or_else(|e| panic!("testkit: cannot copy {}: {e}", from.display()));
                to
            };
            (copy(cert, "server-cert.pem"), copy(key, "server-key.pem"))
        });
        let mut db = MariaDb { config: self, server, port: 0, socket, tls, child: None, dir };
        process::launch_on_free_port("mariadbd", |port| {
            db.port = port;
            db.launch()
        });
        db
    }
}

impl MariaDb {
    /// Starts a server with the default configuration:
    /// `MariaDb::builder().start()`.
    pub fn start() -> MariaDb {
        MariaDb::builder().start()
    }

    /// A builder, for TLS or raw server arguments.
    pub fn builder() -> MariaDbBuilder {
        MariaDbBuilder::default()
    }

    /// The TCP port, on 127.0.0.1. It stays the same across
    /// [`stop`](Self::stop) and [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's unix socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `mysql://wf:wf_pass@127.0.0.1:PORT/wf_test`.
    pub fn url(&self) -> String {
        format!("mysql://wf:wf_pass@127.0.0.1:{}/wf_test", self.port)
    }

    /// `mysql://root@127.0.0.1:PORT/` (root has no password).
    pub fn root_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/", self.port)
    }

    /// Runs `statements` with the `mariadb` client as root over the unix
    /// socket, in batch mode without column names (`--batch
    /// --skip-column-names`: one line per row, tab-separated), and returns
    /// its output (a failing statement is not a panic).
    ///
    /// # Panics
    ///
    /// If the client is not installed.
    pub fn sql(&self, statements: &str) -> Output {
        let client = client();
        Command::new(&client)
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["--batch", "--skip-column-names", "--max-allowed-packet=1G", "-e", statements])
            .output()
            .unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", client.display()))
    }

    /// Like [`sql`](Self::sql), but returns the standard output and panics
    /// with the client's standard error when it fails.
    pub fn sql_ok(&self, statements: &str) -> String {
        let out = self.sql(statements);
        if !out.status.success() {
            panic!(
                "testkit: mariadb client failed ({}) on:\n{statements}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
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

    /// Shuts the server down (SIGTERM, then SIGKILL after 30 seconds). The
    /// port and the data are kept for [`restart`](Self::restart). Does
    /// nothing if it is not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.terminate(STOP_GRACE);
        }
    }

    /// Stops the server and starts it again on the same port, with the same
    /// data, then waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If it does not come back, for instance because another process took
    /// the port meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        process::relaunch("mariadbd", port, Duration::from_secs(10), || self.launch());
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("mariadbd.err")
    }

    fn output_file(&self) -> PathBuf {
        self.dir.path().join("mariadbd.out")
    }

    fn logs(&self) -> String {
        process::tail(&[&self.output_file(), &self.log_file()], 30)
    }

    /// Starts the server on `self.port` and waits until it accepts
    /// connections.
    fn launch(&mut self) -> Result<(), Failure> {
        // Fresh logs, so that a port-taken error is this attempt's.
        let _ = fs::remove_file(self.log_file());
        let _ = fs::remove_file(self.output_file());
        let dir = self.dir.path();
        let mut cmd = Command::new(&self.server);
        // --no-defaults must come first.
        cmd.arg("--no-defaults");
        if process::is_root() {
            // mariadbd refuses to run as root unless told to.
            cmd.arg("--user=root");
        }
        let path_arg = |name: &str, path: &Path| format!("--{name}={}", path.display());
        cmd.arg(path_arg("datadir", &dir.join("data")))
            .arg(path_arg("socket", &self.socket))
            .arg(path_arg("pid-file", &dir.join("mariadbd.pid")))
            .arg(path_arg("tmpdir", &dir.join("tmp")))
            .arg(path_arg("log-error", &self.log_file()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .args(SMALL)
            .args([
                "--max-allowed-packet=1G",
                "--innodb-flush-log-at-trx-commit=2",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
            ]);
        if let Some((cert, key)) = &self.tls {
            cmd.arg(path_arg("ssl-cert", cert)).arg(path_arg("ssl-key", key));
        }
        cmd.args(&self.config.args);
        let mut child = process::spawn(cmd, &self.output_file());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if child.exited() {
                let logs = self.logs();
                return Err(if logs.contains("Address already in use") || logs.contains("error: 98") {
                    Failure::PortTaken(logs)
                } else {
                    Failure::Other(format!("testkit: mariadbd exited while starting on port {}\n{logs}", self.port))
                });
            }
            // mariadbd binds its TCP port before it creates the socket, and
            // the socket is in our own directory: a greeting on it means
            // this child is up and owns the port.
            if greets(&self.socket) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                child.terminate(Duration::ZERO);
                return Err(Failure::Other(format!(
                    "testkit: mariadbd did not accept connections within {START_TIMEOUT:?}\n{}",
                    self.logs()
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        // The data is about to be deleted: no need for a clean shutdown.
        if let Some(mut child) = self.child.take() {
            child.terminate(Duration::ZERO);
        }
    }
}

/// The `mariadb` client binary.
fn client() -> PathBuf {
    process::require_binary(&["mariadb", "mysql"], "mariadb-client")
}

/// The `mariadb` (or `mysql`) command-line client, searched for as the
/// server is (the `PATH`, then `/usr/sbin` and `/usr/local/sbin`), for
/// tests that run it against a server of their own.
///
/// # Panics
///
/// If the client is not installed (the message says how to install it).
pub fn client_path() -> PathBuf {
    client()
}

/// A data directory made by `mariadb-install-db` once per test process, and
/// copied by each server: installing takes a second or more, a copy a few
/// milliseconds. Removed when the process exits.
fn template(install: &Path) -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = TempDir::new("mariadb-template");
        fs::create_dir(dir.path().join("tmp")).expect("testkit: cannot create tmpdir");
        install_db(install, dir.path());
        dir.keep_until_exit()
    })
}

/// Copies the directory tree `from` to `to` (files and directories only, as
/// in a data directory).
fn copy_dir(from: &Path, to: &Path) {
    let fail =
        |what: &str, path: &Path, e: std::io::Error| -> ! { panic!("testkit: cannot {what} {}: {e}", path.display()) };
    fs::create_dir(to).unwrap_or_else(|e| fail("create", to, e));
    for entry in fs::read_dir(from).unwrap_or_else(|e| fail("read", from, e)) {
        let entry = entry.unwrap_or_else(|e| fail("read", from, e));
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap_or_else(|e| fail("stat", &src, e)).is_dir() {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| fail("copy", &src, e));
        }
    }
}

/// Runs `mariadb-install-db` into `dir/data`, creating the test database and
/// users.
fn install_db(install: &Path, dir: &Path) {
    let setup = dir.join("setup.sql");
    fs::write(&setup, SETUP_SQL).expect("testkit: cannot write setup.sql");
    // The installation prefix: /usr for /usr/bin/mariadb-install-db.
    let basedir = install.parent().and_then(Path::parent).unwrap_or(Path::new("/usr"));
    let mut cmd = Command::new(install);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--basedir={}", basedir.display()))
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .arg(format!("--extra-file={}", setup.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(SMALL);
    if process::is_root() {
        cmd.arg("--user=root");
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("testkit: cannot run {}: {e}", install.display()));
    if !out.status.success() {
        panic!(
            "testkit: {} failed ({}):\n{}\n{}",
            install.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Whether a server greets on the unix socket with a protocol-10 handshake.
fn greets(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else { return false };
    if stream.set_read_timeout(Some(Duration::from_secs(2))).is_err() {
        return false;
    }
    let mut header = [0u8; 5];
    // 3 bytes length, 1 byte sequence, then the first payload byte: 10 for
    // a handshake, 0xff for an error packet.
    stream.read_exact(&mut header).is_ok() && header[4] == 10
}
