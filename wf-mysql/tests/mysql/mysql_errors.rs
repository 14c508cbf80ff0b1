//! Task errors that need no real database: no query (4005), statements
//! that would change the pooled connection (4004: `USE`, `SET NAMES`,
//! `SET CHARSET`, `SET CHARACTER SET`) checked before anything is sent,
//! unknown character sets in the URL (4003), bad schemes and URLs, a
//! refused connection, and servers refusing the host (4001) or saying
//! they have too many connections (retried). An in-process `MySQLServer`
//! records what reaches a server.

use crate::support;

use std::sync::{Arc, Mutex};

use support::{Outcome, run};
use wf_core::{State, code};
use wf_mysql::{MySQLServer, create_mysql_task, create_prepared_task};

/// A server answering every query with its own text, recording them.
fn echo_server() -> (MySQLServer, String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let server = MySQLServer::new(move |task| {
        let sql = String::from_utf8_lossy(task.req().query()).into_owned();
        log.lock().unwrap().push(sql.clone());
        task.resp_mut().set_result_set(&["sql"], [[Some(sql)]]);
    });
    server.start_on("127.0.0.1", 0).expect("the MySQLServer starts");
    let port = server.listen_addr().unwrap().port();
    (server, format!("mysql://u:p@127.0.0.1:{port}/db"), seen)
}

fn query(url: &str, sql: &str) -> Outcome {
    support::query_retry(url, sql, 1)
}

/// Asserts the task got past the checks: its query reached the server
/// (the reply itself is `mysql_server.rs`'s business).
#[track_caller]
fn assert_sent(r: &Outcome) {
    assert_ne!(r.state, State::TaskError, "refused before sending: {:?}", r.error);
}

#[test]
fn a_task_without_a_query_is_query_not_set() {
    let (server, url, seen) = echo_server();
    run(create_mysql_task(&url, 2, |_| {})).assert_failed(State::TaskError, wf_mysql::code::QUERY_NOT_SET);
    // An empty query is a query (the server answers it).
    let mut t = create_mysql_task(&url, 0, |_| {});
    t.set_query("");
    assert_sent(&run(t));
    assert_eq!(*seen.lock().unwrap(), [""]);
    server.stop();
}

#[test]
fn statements_that_change_the_connection_are_disallowed() {
    let (server, url, seen) = echo_server();
    let disallowed = [
        "USE x",
        "use x",
        "  \n\tUSE `x`",
        "SET NAMES utf8",
        "set names 'latin1' COLLATE latin1_bin",
        "SET CHARACTER SET gbk",
        "SET CHARSET latin1",
        "SELECT 1; USE x",
        "SELECT 1;USE x;SELECT 2",
        "/* comment */ USE x",
        "-- comment\nSET NAMES utf8",
        "# comment\nUSE x",
        "SELECT 'a;b'; SET NAMES utf8",
    ];
    for sql in disallowed {
        query(&url, sql).assert_failed(State::TaskError, wf_mysql::code::COMMAND_DISALLOWED);
        let r = run(create_prepared_task(&url, sql, vec![], 1, |_| {}));
        r.assert_failed(State::TaskError, wf_mysql::code::COMMAND_DISALLOWED);
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent: {:?}", seen.lock().unwrap());
    let allowed = [
        "SELECT 'USE x'",
        "SELECT \"SET NAMES utf8\"",
        "SELECT 1 -- ; USE x",
        "SELECT `use` FROM t",
        "UPDATE users SET names = 'x'",
        "SET @names = 1",
        "SET sql_mode = ''",
        "SET character_set_results = latin1",
        "SELECT 'it''s'; SELECT 2",
        "SELECT '\\'; USE x'",
        "/* USE x */ SELECT 1",
    ];
    for sql in allowed {
        assert_sent(&support::query(&url, sql));
    }
    assert_eq!(*seen.lock().unwrap(), allowed);
    server.stop();
}

#[test]
fn unknown_character_sets_in_the_url() {
    let (server, url, seen) = echo_server();
    for params in ["character_set=klingon", "character_set_results=klingon", "character_set=utf8&character_set=x"] {
        let url = format!("{url}?{params}");
        query(&url, "SELECT 1").assert_failed(State::TaskError, wf_mysql::code::INVALID_CHARACTER_SET);
    }
    assert!(seen.lock().unwrap().is_empty());
    // Known ones, character sets and collations, are accepted.
    let known = ["character_set=latin1", "character_set=utf8mb4_unicode_ci", "character_set=GBK"];
    for params in known {
        assert_sent(&support::query(&format!("{url}?{params}"), params));
    }
    assert_eq!(*seen.lock().unwrap(), known);
    server.stop();
}

#[test]
fn bad_schemes_and_urls() {
    for url in ["http://u:p@127.0.0.1:1/db", "redis://127.0.0.1:1", "mysqlx://u:p@127.0.0.1:1/"] {
        let r = query(url, "SELECT 1");
        assert_eq!(r.error.code(), code::URI_SCHEME_INVALID, "{url}: {:?}", r.error);
        assert_ne!(r.state, State::Success);
    }
    let r = query("not a url", "SELECT 1");
    assert_ne!(r.state, State::Success);
    assert_eq!(r.error.code(), code::URI_PARSE_FAILED, "{:?}", r.error);
    let r = query("mysql://u:p@127.0.0.1:99999/db", "SELECT 1");
    assert_ne!(r.state, State::Success);
    assert_eq!(r.error.code(), code::URI_PORT_INVALID, "{:?}", r.error);
}

#[test]
fn a_refused_connection_is_a_system_error() {
    let port = testkit::free_port();
    let url = format!("mysql://u:p@127.0.0.1:{port}/db");
    for retry in [0, 2] {
        support::query_retry(&url, "SELECT 1", retry).assert_failed(State::SysError, libc::ECONNREFUSED);
        let r = run(create_prepared_task(&url, "SELECT 1", vec![], retry, |_| {}));
        r.assert_failed(State::SysError, libc::ECONNREFUSED);
    }
}

/// MySQL and MariaDB run the text of `/*! … */` and `/*M! … */`
/// comments (mysqldump writes `/*!40101 SET NAMES utf8 */`): such a
/// comment changes the pooled connection as the statement itself would,
/// but the check strips comments before it looks.
#[test]
fn executable_comments_are_checked_too() {
    let (server, url, seen) = echo_server();
    for sql in [
        "/*!40101 SET NAMES latin1 */",
        "/*M!100100 SET NAMES gbk */",
        "/*!USE mysql */",
        "SELECT 1; /*!SET CHARACTER SET gbk */",
    ] {
        let r = support::query(&url, sql);
        assert_eq!(
            (r.state, r.error.code()),
            (State::TaskError, wf_mysql::code::COMMAND_DISALLOWED),
            "{sql:?} was sent; the server saw {:?}",
            seen.lock().unwrap()
        );
    }
    server.stop();
}

/// A fake server that answers every connection with `greeting` (an error
/// packet instead of a handshake, as MySQL does for a refused host) and
/// counts the connections.
fn refusing_server(code: u16, message: &str) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut payload = vec![0xff];
    payload.extend_from_slice(&code.to_le_bytes());
    payload.extend_from_slice(message.as_bytes());
    let mut packet = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(0);
    packet.extend_from_slice(&payload);
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream.write_all(&packet);
            // Closed on drop, as the server does.
        }
    });
    (port, count)
}

#[test]
fn a_refused_host_is_host_not_allowed() {
    for (code_sent, message) in [
        (1130, "Host '127.0.0.1' is not allowed to connect to this MariaDB server"),
        (1129, "Host '127.0.0.1' is blocked because of many connection errors"),
    ] {
        let (port, count) = refusing_server(code_sent, message);
        let url = format!("mysql://u:p@127.0.0.1:{port}/db");
        support::query_retry(&url, "SELECT 1", 3).assert_failed(State::TaskError, wf_mysql::code::HOST_NOT_ALLOWED);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1, "{code_sent}: not retried");
    }
}

#[test]
fn too_many_connections_is_retried() {
    let (port, count) = refusing_server(1040, "Too many connections");
    let url = format!("mysql://u:p@127.0.0.1:{port}/db");
    support::query_retry(&url, "SELECT 1", 2).assert_failed(State::SysError, libc::EAGAIN);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3, "the first try and two retries");
}
