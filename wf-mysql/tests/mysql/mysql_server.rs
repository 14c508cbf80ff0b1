//! `MySQLServer` with wf's own client and with the `mariadb` command-line
//! client: logins checked with `mysql_native_password` and
//! `caching_sha2_password` (fast path; full authentication, which over
//! TCP would need the server's RSA key and over a Unix socket sends the
//! password itself), result sets, OK and error replies, NULLs, large
//! replies.

use crate::support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use support::{Outcome, query, query_retry, results, text};
use wf_core::State;
use wf_mysql::{CursorStatus, MySQLCell, MySQLResultCursor, MySQLServer, MySQLServerTask, ServerAuth};

/// Every query a server saw.
type Seen = Arc<Mutex<Vec<String>>>;

fn sql_of(task: &MySQLServerTask) -> String {
    String::from_utf8_lossy(task.req().query()).into_owned()
}

/// A server answering `answer(sql, task)`, recording each query; users
/// checked with `auth` when given.
fn server(
    users: Option<ServerAuth>,
    answer: impl Fn(&str, &mut MySQLServerTask) + Send + Sync + 'static,
) -> (MySQLServer, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let process = move |task: &mut MySQLServerTask| {
        let sql = sql_of(task);
        log.lock().unwrap().push(sql.clone());
        answer(&sql, task);
    };
    let server = match users {
        Some(auth) => {
            MySQLServer::with_users(&[("alice", "alice pw"), ("bob", ""), ("ünï", "pässwörd")], auth, process)
        }
        None => MySQLServer::new(process),
    };
    (server, seen)
}

/// Answers every query with a one-row result set echoing it.
fn echo(sql: &str, task: &mut MySQLServerTask) {
    task.resp_mut().set_result_set(&["you said"], [[Some(sql.to_owned())]]);
}

fn start_tcp(server: &MySQLServer) -> u16 {
    server.start_on("127.0.0.1", 0).expect("the MySQLServer starts");
    server.listen_addr().expect("a TCP address").port()
}

fn tcp_url(port: u16, user: &str, password: &str) -> String {
    format!("mysql://{user}:{password}@127.0.0.1:{port}/db")
}

/// A Unix socket path of this test process, removed first and on drop.
struct SocketPath(PathBuf);

impl std::ops::Deref for SocketPath {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn socket_path(tag: &str) -> SocketPath {
    let p = std::env::temp_dir().join(format!("wf-mysql-{}-{tag}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    SocketPath(p)
}

fn unix_url(path: &std::path::Path, user: &str, password: &str) -> String {
    let host = path.to_str().unwrap().replace('/', "%2F");
    format!("mysql://{user}:{password}@{host}/db")
}

#[track_caller]
fn assert_echo(o: &Outcome, sql: &str) {
    let fields = o.fields();
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].name(), "you said");
    assert_eq!(o.rows(), vec![vec![text(sql)]]);
}

#[test]
fn native_password_users_log_in_and_read_a_result_set() {
    let (server, seen) = server(Some(ServerAuth::NativePassword), echo);
    let port = start_tcp(&server);
    let o = query(&tcp_url(port, "alice", "alice%20pw"), "SELECT 'hello'");
    // The login worked: the query reached the process function.
    assert_eq!(*seen.lock().unwrap(), ["SELECT 'hello'"]);
    assert_echo(&o, "SELECT 'hello'");
    // An empty password, and a non-ASCII name and password.
    assert_echo(&query(&tcp_url(port, "bob", ""), "SELECT 2"), "SELECT 2");
    assert_echo(&query(&tcp_url(port, "%C3%BCn%C3%AF", "p%C3%A4ssw%C3%B6rd"), "SELECT 3"), "SELECT 3");
    server.stop();
}

#[test]
fn wrong_passwords_and_unknown_users_are_access_denied() {
    let (server, seen) = server(Some(ServerAuth::NativePassword), echo);
    let port = start_tcp(&server);
    for url in [tcp_url(port, "alice", "wrong"), tcp_url(port, "alice", ""), tcp_url(port, "carol", "alice%20pw")] {
        query_retry(&url, "SELECT 1", 3).assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
        let r = support::run(wf_mysql::create_prepared_task(&url, "SELECT 1", vec![], 3, |_| {}));
        r.assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    }
    assert!(seen.lock().unwrap().is_empty(), "{:?}", seen.lock().unwrap());
    server.stop();
}

#[test]
fn caching_sha2_fast_path() {
    let (server, seen) = server(Some(ServerAuth::CachingSha2 { full: false }), echo);
    let port = start_tcp(&server);
    let o = query(&tcp_url(port, "alice", "alice%20pw"), "SELECT 'sha2'");
    assert_eq!(*seen.lock().unwrap(), ["SELECT 'sha2'"]);
    assert_echo(&o, "SELECT 'sha2'");
    assert_echo(&query(&tcp_url(port, "%C3%BCn%C3%AF", "p%C3%A4ssw%C3%B6rd"), "SELECT 3"), "SELECT 3");
    query(&tcp_url(port, "alice", "wrong"), "SELECT 1").assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    server.stop();
}

/// With an empty password the client sends an empty scramble and its
/// plugin is done; MySQL answers OK at once, but MySQLServer sends "fast
/// auth success" (0x01 0x03), which the client's finished plugin rejects.
#[test]
fn caching_sha2_with_an_empty_password() {
    let (server, seen) = server(Some(ServerAuth::CachingSha2 { full: false }), echo);
    let port = start_tcp(&server);
    let o = query(&tcp_url(port, "bob", ""), "SELECT 2");
    assert_eq!(*seen.lock().unwrap(), ["SELECT 2"], "{o:?}");
    assert_echo(&o, "SELECT 2");
    server.stop();
}

#[test]
fn caching_sha2_full_authentication_over_tcp_is_refused_cleanly() {
    // The client, without TLS or a Unix socket, asks for the server's RSA
    // key (0x02), which MySQLServer does not send: it reads the request
    // as a wrong clear-text password and refuses the login.
    let (server, seen) = server(Some(ServerAuth::CachingSha2 { full: true }), echo);
    let port = start_tcp(&server);
    query_retry(&tcp_url(port, "alice", "alice%20pw"), "SELECT 1", 2)
        .assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    assert!(seen.lock().unwrap().is_empty());
    server.stop();
}

#[test]
fn caching_sha2_full_authentication_over_a_unix_socket() {
    let (server, seen) = server(Some(ServerAuth::CachingSha2 { full: true }), echo);
    let path = socket_path("sha2-full");
    server.start_unix(&*path).expect("the MySQLServer listens on a Unix socket");
    let o = query(&unix_url(&path, "alice", "alice%20pw"), "SELECT 'unix'");
    assert_eq!(*seen.lock().unwrap(), ["SELECT 'unix'"]);
    assert_echo(&o, "SELECT 'unix'");
    assert_eq!(o.ok().result_count(), 1);
    query(&unix_url(&path, "alice", "nope"), "SELECT 1").assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    server.stop();
}

#[test]
fn native_password_over_a_unix_socket() {
    let (server, seen) = server(Some(ServerAuth::NativePassword), echo);
    let path = socket_path("native");
    server.start_unix(&*path).unwrap();
    let o = query(&unix_url(&path, "alice", "alice%20pw"), "SELECT 1");
    assert_eq!(*seen.lock().unwrap(), ["SELECT 1"]);
    assert_echo(&o, "SELECT 1");
    server.stop();
}

#[test]
fn ok_and_error_replies() {
    let (server, _) = server(None, |sql, task| match sql {
        s if s.starts_with("INSERT") => task.resp_mut().set_ok_packet(3, 42),
        s if s.starts_with("BIG") => task.resp_mut().set_ok_packet(u64::MAX, 1 << 40),
        _ => task.resp_mut().set_error_packet(1146, "42S02", "Table 'db.nope' doesn't exist"),
    });
    let port = start_tcp(&server);
    let url = tcp_url(port, "anyone", "anything");
    let o = query(&url, "INSERT INTO t VALUES (1), (2), (3)");
    let resp = o.clean();
    assert!(resp.is_ok_packet());
    assert_eq!((resp.affected_rows(), resp.last_insert_id()), (3, 42));
    let c = MySQLResultCursor::new(resp);
    assert_eq!((c.status(), c.affected_rows(), c.insert_id()), (CursorStatus::Ok, 3, 42));
    let resp = query(&url, "BIG").clean().clone();
    assert_eq!((resp.affected_rows(), resp.last_insert_id()), (u64::MAX, 1 << 40));
    // An error reply: the task succeeds, the response says what failed.
    let o = query(&url, "SELECT * FROM nope");
    let resp = o.ok();
    assert!(resp.is_error_packet());
    assert_eq!(resp.packet_type(), wf_mysql::PacketType::Error);
    assert_eq!((resp.error_code(), resp.sql_state()), (1146, "42S02"));
    assert_eq!(resp.error_msg(), "Table 'db.nope' doesn't exist");
    let c = MySQLResultCursor::new(resp);
    assert_eq!(c.error(), Some((1146, "42S02", "Table 'db.nope' doesn't exist")));
    server.stop();
}

#[test]
fn result_sets_with_nulls_many_rows_and_a_large_value() {
    let (server, _) = server(None, |sql, task| {
        let resp = task.resp_mut();
        match sql {
            "NULLS" => resp.set_result_set(&["a", "b", "c"], [[Some("x".to_owned()), None, Some(String::new())]]),
            "MANY" => resp
                .set_result_set(&["n", "sq"], (0..1000).map(|i: u64| [Some(i.to_string()), Some((i * i).to_string())])),
            "EMPTY" => resp.set_result_set(&["nothing"], Vec::<[Option<String>; 1]>::new()),
            _ => resp.set_result_set(&["big"], [[Some("z".repeat(17 * 1024 * 1024 + 3))]]),
        }
    });
    let port = start_tcp(&server);
    let url = tcp_url(port, "u", "p");
    assert_eq!(query(&url, "NULLS").rows(), vec![vec![text("x"), MySQLCell::Null, text("")]]);
    let rows = query(&url, "MANY").rows();
    assert_eq!(rows.len(), 1000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row, &vec![text(&i.to_string()), text(&(i * i).to_string())]);
    }
    let o = query(&url, "EMPTY");
    assert_eq!((o.fields().len(), o.rows().len()), (1, 0));
    let rows = query(&url, "BIG").rows();
    let v = rows[0][0].as_bytes().unwrap();
    assert!(v.len() == 17 * 1024 * 1024 + 3 && v.iter().all(|&c| c == b'z'), "{} bytes", v.len());
    server.stop();
}

#[test]
fn a_multi_statement_query_reaches_the_process_function_whole() {
    // MySQLResponse has no public way to build several results: a server
    // answers a multi-statement query with one.
    let (server, seen) = server(None, echo);
    let port = start_tcp(&server);
    let o = query(&tcp_url(port, "u", "p"), "SELECT 1; SELECT 2");
    assert_eq!(*seen.lock().unwrap(), ["SELECT 1; SELECT 2"]);
    let res = results(o.clean());
    assert_eq!(res, vec![(CursorStatus::GetResult, vec![vec![text("SELECT 1; SELECT 2")]])]);
    server.stop();
}

#[test]
fn the_mariadb_client_talks_to_a_mysql_server() {
    let (server, seen) = server(Some(ServerAuth::NativePassword), |sql, task| {
        if sql.to_ascii_lowercase().contains("version_comment") {
            task.resp_mut().set_result_set(&["@@version_comment"], [[Some("wf".to_owned())]]);
        } else {
            task.resp_mut().set_result_set(&["greeting", "nothing"], [[Some("hello from wf".to_owned()), None]]);
        }
    });
    let port = start_tcp(&server);
    let out = Command::new(support::mariadb_client())
        .args(["--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", &port.to_string()])
        .args(["-u", "alice", "-palice pw", "--batch", "-e", "SELECT 1"])
        .output()
        .expect("the mariadb client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mariadb failed ({}): {}{stdout}\nthe server saw {:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        seen.lock().unwrap()
    );
    assert_eq!(stdout, "greeting\tnothing\nhello from wf\tNULL\n");
    assert!(seen.lock().unwrap().contains(&"SELECT 1".to_owned()));
    server.stop();
}

#[test]
fn a_multi_result_answer_reaches_the_cursor_in_order() {
    use wf_mysql::{CursorStatus, MySQLResultCursor, MySQLServer};
    let server = MySQLServer::new(|task| {
        let resp = task.resp_mut();
        resp.add_result_set(&["a"], [[Some("1".to_string())]]);
        resp.add_ok_packet(3, 7);
        resp.add_result_set(&["b", "c"], [[Some("x".to_string()), None], [None, Some("y".to_string())]]);
    });
    server.start_on("127.0.0.1", 0).expect("listen");
    let url = format!("mysql://u@127.0.0.1:{}/", server.listen_addr().expect("listening").port());
    let (tx, rx) = std::sync::mpsc::channel();
    let mut t = wf_mysql::create_mysql_task(&url, 0, move |t| tx.send((t.state(), t.resp().clone())).unwrap());
    t.set_query("SELECT 1; DO 2; SELECT 3");
    t.start();
    let (state, resp) = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("callback");
    assert_eq!(state, wf_core::State::Success);
    let mut c = MySQLResultCursor::new(&resp);
    assert_eq!((c.status(), c.rows_count()), (CursorStatus::GetResult, 1));
    assert!(c.next_result_set());
    assert_eq!((c.status(), c.affected_rows(), c.insert_id()), (CursorStatus::Ok, 3, 7));
    assert!(c.next_result_set());
    assert_eq!((c.field_count(), c.rows_count()), (2, 2));
    assert_eq!(c.fetch_all()[1][1].as_str(), Some("y"));
    assert!(!c.next_result_set());
    server.stop();
}
