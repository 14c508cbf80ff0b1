//! The hermetic servers really start, answer, restart on their port, run
//! side by side and leave nothing behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use testkit::mariadb::MariaDb;
use testkit::redis::RedisServer;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "command failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends one RESP request over `stream` and returns the first bytes of the
/// reply.
fn roundtrip(stream: &mut impl ReadWrite, request: &[u8]) -> String {
    stream.write_all(request).unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// The `process_id` of a Redis server, from `INFO server`.
fn redis_pid(redis: &RedisServer) -> u32 {
    let info = stdout(&redis.cli(&["INFO", "server"]));
    info.lines().find_map(|l| l.strip_prefix("process_id:")).unwrap().trim().parse().unwrap()
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn wait_gone(pid: u32) -> bool {
    testkit::wait_until(Duration::from_secs(10), || process_gone(pid))
}

#[test]
fn redis_plain() {
    let started = Instant::now();
    let redis = RedisServer::start();
    eprintln!("RedisServer::start took {:?}", started.elapsed());
    assert_ne!(redis.port(), 6379);
    assert_eq!(redis.addr().to_string(), format!("127.0.0.1:{}", redis.port()));
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
    assert_eq!(redis.password(), None);
    assert_eq!(redis.unix_socket(), None);
    assert_eq!(stdout(&redis.cli(&["SET", "k", "v"])).trim(), "OK");
    assert_eq!(stdout(&redis.cli(&["GET", "k"])).trim(), "v");
    let mut stream = TcpStream::connect(redis.addr()).unwrap();
    assert_eq!(roundtrip(&mut stream, PING), "+PONG\r\n");
    // No persistence.
    assert_eq!(stdout(&redis.cli(&["CONFIG", "GET", "save"])).lines().nth(1), Some(""));
    assert_eq!(stdout(&redis.cli(&["CONFIG", "GET", "appendonly"])).lines().nth(1), Some("no"));
}

#[test]
fn redis_password() {
    let redis = RedisServer::builder().password("p@ss word").start();
    assert_eq!(redis.password(), Some("p@ss word"));
    assert_eq!(redis.url(), format!("redis://:p%40ss%20word@127.0.0.1:{}", redis.port()));
    assert_eq!(stdout(&redis.cli(&["PING"])).trim(), "PONG");
    let mut stream = TcpStream::connect(redis.addr()).unwrap();
    assert!(roundtrip(&mut stream, PING).starts_with("-NOAUTH"));
    let auth = b"*2\r\n$4\r\nAUTH\r\n$9\r\np@ss word\r\n";
    assert_eq!(roundtrip(&mut stream, auth), "+OK\r\n");
    assert_eq!(roundtrip(&mut stream, PING), "+PONG\r\n");
}

#[test]
fn redis_acl_user() {
    let redis = RedisServer::builder().user("app", "app-pass").start();
    let whoami = redis.cli(&["--user", "app", "--pass", "app-pass", "--no-auth-warning", "ACL", "WHOAMI"]);
    assert_eq!(stdout(&whoami).trim(), "app");
    let wrong = redis.cli(&["--user", "app", "--pass", "nope", "--no-auth-warning", "ACL", "WHOAMI"]);
    assert!(!stdout(&wrong).contains("app"), "{wrong:?}");
    let mut stream = TcpStream::connect(redis.addr()).unwrap();
    let auth = b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$8\r\napp-pass\r\n";
    assert_eq!(roundtrip(&mut stream, auth), "+OK\r\n");
    assert_eq!(roundtrip(&mut stream, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), "+OK\r\n");
}

#[test]
fn redis_unix_socket() {
    let redis = RedisServer::builder().unix_socket().arg("--maxmemory").arg("10mb").start();
    let socket = redis.unix_socket().expect("a socket was asked for").to_owned();
    assert!(socket.starts_with(std::env::temp_dir()));
    let mut stream = UnixStream::connect(&socket).unwrap();
    assert_eq!(roundtrip(&mut stream, PING), "+PONG\r\n");
    let maxmemory = stdout(&redis.cli(&["CONFIG", "GET", "maxmemory"]));
    assert_eq!(maxmemory.lines().nth(1), Some("10485760"));
    let dir = socket.parent().unwrap().to_owned();
    drop(redis);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn redis_restart_keeps_the_port() {
    let mut redis = RedisServer::builder().password("pw").start();
    let port = redis.port();
    let pid = redis_pid(&redis);
    stdout(&redis.cli(&["SET", "k", "v"]));
    redis.stop();
    assert!(wait_gone(pid));
    assert!(TcpStream::connect(redis.addr()).is_err(), "still listening after stop");
    assert_eq!(redis.port(), port);
    redis.restart();
    assert_eq!(redis.port(), port);
    assert_ne!(redis_pid(&redis), pid);
    assert_eq!(stdout(&redis.cli(&["PING"])).trim(), "PONG");
    assert_eq!(stdout(&redis.cli(&["GET", "k"])).trim(), "", "no persistence across a restart");
    // A restart of a running server works too.
    redis.restart();
    assert_eq!(stdout(&redis.cli(&["PING"])).trim(), "PONG");
    let pid = redis_pid(&redis);
    drop(redis);
    assert!(wait_gone(pid), "redis-server {pid} survived its drop");
}

#[test]
fn four_redis_and_two_mariadb_at_once() {
    let redis: Vec<_> = (0..4).map(|_| thread::spawn(RedisServer::start)).collect();
    let maria: Vec<_> = (0..2).map(|_| thread::spawn(MariaDb::start)).collect();
    let redis: Vec<RedisServer> = redis.into_iter().map(|h| h.join().unwrap()).collect();
    let maria: Vec<MariaDb> = maria.into_iter().map(|h| h.join().unwrap()).collect();
    let mut ports: Vec<u16> = redis.iter().map(|r| r.port()).chain(maria.iter().map(|m| m.port())).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 6);
    for (i, r) in redis.iter().enumerate() {
        stdout(&r.cli(&["SET", "who", &i.to_string()]));
    }
    for (i, r) in redis.iter().enumerate() {
        assert_eq!(stdout(&r.cli(&["GET", "who"])).trim(), i.to_string());
    }
    for (i, m) in maria.iter().enumerate() {
        m.sql_ok(&format!("CREATE TABLE wf_test.who (i INT); INSERT INTO wf_test.who VALUES ({i})"));
    }
    for (i, m) in maria.iter().enumerate() {
        assert_eq!(m.sql_ok("SELECT i FROM wf_test.who"), format!("{i}\n"));
    }
    assert_ne!(maria[0].socket(), maria[1].socket());
}

/// Runs the mariadb client over TCP as `user`, with `extra` arguments.
fn tcp_client(db: &MariaDb, user: &str, password: Option<&str>, extra: &[&str], sql: &str) -> Output {
    let mut cmd = Command::new("mariadb");
    cmd.args(["--no-defaults", "--batch", "--skip-column-names", "-h", "127.0.0.1", "-P"]);
    cmd.arg(db.port().to_string()).arg(format!("-u{user}"));
    if let Some(p) = password {
        cmd.arg(format!("-p{p}"));
    }
    cmd.args(extra).args(["-e", sql]).output().unwrap()
}

#[test]
fn mariadb_start_users_and_restart() {
    let started = Instant::now();
    let mut db = MariaDb::start();
    eprintln!("MariaDb::start took {:?}", started.elapsed());
    assert_ne!(db.port(), 3306);
    assert_eq!(db.url(), format!("mysql://wf:wf_pass@127.0.0.1:{}/wf_test", db.port()));
    assert_eq!(db.root_url(), format!("mysql://root@127.0.0.1:{}/", db.port()));
    assert!(db.socket().starts_with(std::env::temp_dir()));
    assert_eq!(db.sql_ok("SELECT 1"), "1\n");
    assert!(!db.sql("SELECT * FROM no_such_db.t").status.success());

    let wf = tcp_client(&db, "wf", Some("wf_pass"), &[], "SELECT CURRENT_USER(), DATABASE(), @@port");
    assert_eq!(stdout(&wf), format!("wf@%\tNULL\t{}\n", db.port()));
    let wrong = tcp_client(&db, "wf", Some("nope"), &[], "SELECT 1");
    assert!(!wrong.status.success());
    let root = tcp_client(&db, "root", None, &[], "SELECT CURRENT_USER()");
    assert_eq!(stdout(&root), "root@127.0.0.1\n");
    assert_eq!(db.sql_ok("SELECT @@character_set_server, @@max_allowed_packet"), "utf8mb4\t1073741824\n");

    // Rows bigger than 16 MiB (several packets), bigger than the redo log,
    // in one transaction.
    db.sql_ok(
        "CREATE TABLE wf_test.big (b LONGBLOB); \
         INSERT INTO wf_test.big VALUES (REPEAT('x', 40 * 1024 * 1024)), (REPEAT('y', 40 * 1024 * 1024))",
    );
    let len = tcp_client(&db, "wf", Some("wf_pass"), &["wf_test"], "SELECT SUM(LENGTH(b)) FROM big");
    assert_eq!(stdout(&len), format!("{}\n", 80 * 1024 * 1024));

    let port = db.port();
    let started = Instant::now();
    db.restart();
    eprintln!("MariaDb::restart took {:?}", started.elapsed());
    assert_eq!(db.port(), port);
    assert_eq!(db.sql_ok("SELECT COUNT(*) FROM wf_test.big"), "2\n");
    let wf = tcp_client(&db, "wf", Some("wf_pass"), &["wf_test"], "SELECT COUNT(*) FROM big");
    assert_eq!(stdout(&wf), "2\n");

    db.stop();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "still listening after stop");
    db.restart();
    assert_eq!(db.sql_ok("SELECT 1"), "1\n");
    let dir = db.socket().parent().unwrap().to_owned();
    drop(db);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn mariadb_tls() {
    let dir = testkit::TempDir::new("tls-test");
    let pki = testkit::Pki::new("testkit test CA");
    let (cert_path, key_path) = (dir.write("cert.pem", &pki.cert_pem), dir.write("key.pem", &pki.key_pem));
    let db = MariaDb::builder().tls(&cert_path, &key_path).start();
    drop(dir);
    let tls = tcp_client(
        &db,
        "wf",
        Some("wf_pass"),
        &["--ssl", "--skip-ssl-verify-server-cert"],
        "SHOW SESSION STATUS LIKE 'Ssl_version'",
    );
    let tls = stdout(&tls);
    assert!(tls.starts_with("Ssl_version\tTLSv1."), "{tls:?}");
}

/// Started by the tests below in a child process (`TESTKIT_HELPER` says how
/// it ends): starts servers, prints their pids and directories, and ends
/// without dropping them, like a test binary with servers in `static`s.
#[test]
fn helper_ends_without_drop() {
    let Some(mode) = std::env::var_os("TESTKIT_HELPER") else { return };
    let redis = RedisServer::builder().unix_socket().start();
    let db = MariaDb::start();
    let db_pid = std::fs::read_to_string(db.socket().parent().unwrap().join("mariadbd.pid")).unwrap();
    println!("\nHELPER redis {} {}", redis_pid(&redis), redis.unix_socket().unwrap().parent().unwrap().display());
    println!("HELPER mariadb {} {}", db_pid.trim(), db.socket().parent().unwrap().display());
    if mode == "kill" {
        // SAFETY: plain system calls; the process dies here.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    std::process::exit(0);
}

/// Runs [`helper_ends_without_drop`] and returns the servers it printed:
/// kind, pid, directory.
fn run_helper(mode: &str) -> Vec<(String, u32, PathBuf)> {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_ends_without_drop", "--nocapture", "--test-threads=1"])
        .env("TESTKIT_HELPER", mode)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = Vec::new();
    for line in text.lines() {
        let Some((_, line)) = line.split_once("HELPER ") else { continue };
        let mut words = line.split(' ');
        if let (Some(kind), Some(pid), Some(dir)) = (words.next(), words.next(), words.next()) {
            found.push((kind.to_owned(), pid.parse::<u32>().unwrap(), PathBuf::from(dir)));
        }
    }
    assert_eq!(found.len(), 2, "helper output: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    found
}

#[test]
fn servers_and_dirs_go_when_the_test_process_exits() {
    for (kind, pid, dir) in run_helper("exit") {
        assert!(wait_gone(pid), "{kind} {pid} outlived the test process");
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn servers_die_when_the_test_process_is_killed() {
    let found = run_helper("kill");
    for (kind, pid, _) in &found {
        assert!(wait_gone(*pid), "{kind} {pid} outlived the test process");
    }
    // The next server started cleans up the directories of dead processes.
    drop(RedisServer::start());
    for (_, _, dir) in &found {
        assert!(!Path::new(dir).exists(), "{} not cleaned up", dir.display());
    }
}

/// The A record of `name` that dnsmasq on `port` gives, if it answers
/// within 500 ms (the last 4 bytes of a one-answer reply).
fn dns_a(port: u16, name: &str) -> Option<[u8; 4]> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&q, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    assert_eq!(&buf[..2], &[0x12, 0x34]);
    assert_eq!(&buf[6..8], &[0, 1], "one answer");
    Some(buf[n - 4..n].try_into().unwrap())
}

#[test]
fn dnsmasq_records_restart_and_stop() {
    let mut dns = testkit::Dnsmasq::builder().host("a.example.test", "127.0.0.5").start();
    let port = dns.port();
    assert_eq!(dns.addr(), std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(dns_a(port, "a.example.test"), Some([127, 0, 0, 5]));
    assert!(dns.log().contains("query[A] a.example.test"), "{}", dns.log());
    dns.restart_with(testkit::Dnsmasq::builder().host("a.example.test", "127.0.0.6"));
    assert_eq!(dns.port(), port);
    assert_eq!(dns_a(port, "a.example.test"), Some([127, 0, 0, 6]));
    dns.stop();
    assert_eq!(dns_a(port, "a.example.test"), None);
    dns.restart();
    assert_eq!(dns_a(port, "a.example.test"), Some([127, 0, 0, 6]));
    drop(dns);
    assert_eq!(dns_a(port, "a.example.test"), None);
}
