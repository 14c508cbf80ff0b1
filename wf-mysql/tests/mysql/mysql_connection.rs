//! `MySQLConnection` and lost connections against a real MariaDB:
//! transactions committed and rolled back in a series, session state
//! kept between tasks, a second task started while one runs (`EAGAIN`),
//! the connection killed by root (the next task fails with `ECONNRESET`,
//! the one after runs on a new connection), disconnect tasks, prepared
//! statements inside a transaction; a query whose connection is killed
//! while it runs, and a server restart under pooled connections.

use crate::support;

use std::sync::mpsc;

use support::{Outcome, fresh_database, query, query_retry, reporter, root_sql, run_series, shared, text, wait_until};
use wf_core::State;
use wf_mysql::{MySQLCell, MySQLConnection, create_mysql_task, create_prepared_task};

/// The server's id of the connection a query ran on.
#[track_caller]
fn connection_id(o: &Outcome) -> u64 {
    o.value().as_u64().expect("CONNECTION_ID() is a number")
}

/// The processlist id of the session running a query that contains
/// `marker`, once it runs.
#[track_caller]
fn running(db: &testkit::MariaDb, marker: &str) -> u64 {
    let sql = format!(
        "SELECT id FROM information_schema.processlist WHERE info LIKE '%{marker}%' AND info NOT LIKE '%processlist%'"
    );
    let mut id = String::new();
    assert!(
        wait_until(support::WAIT, || {
            id = root_sql(db, &sql);
            !id.is_empty()
        }),
        "no session runs {marker}"
    );
    id.parse().unwrap_or_else(|e| panic!("processlist id {id:?}: {e}"))
}

/// Kills session `id` and waits until it is gone.
fn kill(db: &testkit::MariaDb, id: u64) {
    db.sql_ok(&format!("KILL {id}"));
    let gone = format!("SELECT COUNT(*) FROM information_schema.processlist WHERE id = {id}");
    assert!(wait_until(support::WAIT, || root_sql(db, &gone) == "0"), "session {id} still there");
}

#[test]
fn a_committed_transaction_is_visible_to_other_connections() {
    let url = fresh_database(shared(), "c_commit");
    query(&url, "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB").clean();
    let conn = MySQLConnection::new(1, &url);
    let out = run_series(|tx| {
        let mut count = create_mysql_task(&url, 0, reporter(tx.clone()));
        count.set_query("SELECT COUNT(*) FROM t");
        let mut count2 = create_mysql_task(&url, 0, reporter(tx.clone()));
        count2.set_query("SELECT COUNT(*) FROM t");
        vec![
            conn.create_query_task("BEGIN", reporter(tx.clone())),
            conn.create_query_task("INSERT INTO t VALUES (1), (2)", reporter(tx.clone())),
            conn.create_query_task("SELECT COUNT(*) FROM t", reporter(tx.clone())),
            count,
            conn.create_query_task("COMMIT", reporter(tx.clone())),
            count2,
        ]
    });
    out[0].clean();
    assert_eq!(out[1].clean().affected_rows(), 2);
    assert_eq!(out[2].value(), MySQLCell::Int(2), "the transaction sees its rows");
    assert_eq!(out[3].value(), MySQLCell::Int(0), "another connection does not, before COMMIT");
    out[4].clean();
    assert_eq!(out[5].value(), MySQLCell::Int(2), "visible after COMMIT");
}

#[test]
fn a_rolled_back_transaction_leaves_nothing() {
    let url = fresh_database(shared(), "c_rollback");
    query(&url, "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB").clean();
    let conn = MySQLConnection::new(2, &url);
    let out = run_series(|tx| {
        vec![
            conn.create_query_task("BEGIN", reporter(tx.clone())),
            conn.create_query_task("INSERT INTO t VALUES (1)", reporter(tx.clone())),
            conn.create_query_task("SELECT COUNT(*) FROM t", reporter(tx.clone())),
            conn.create_query_task("ROLLBACK", reporter(tx.clone())),
            conn.create_query_task("SELECT COUNT(*) FROM t", reporter(tx.clone())),
        ]
    });
    assert_eq!(out[2].value(), MySQLCell::Int(1));
    out[3].clean();
    assert_eq!(out[4].value(), MySQLCell::Int(0));
    assert_eq!(query(&url, "SELECT COUNT(*) FROM t").value(), MySQLCell::Int(0));
}

#[test]
fn tasks_of_one_connection_share_the_session() {
    let url = shared().url();
    let conn = MySQLConnection::new(3, &url);
    let same = MySQLConnection::new(3, &url);
    let other = MySQLConnection::new(4, &url);
    let out = run_series(|tx| {
        vec![
            conn.create_query_task("SET @v = 'kept'; SELECT CONNECTION_ID()", reporter(tx.clone())),
            conn.create_query_task("SELECT CONNECTION_ID()", reporter(tx.clone())),
            same.create_query_task("SELECT @v", reporter(tx.clone())),
            other.create_query_task("SELECT @v", reporter(tx.clone())),
            other.create_query_task("SELECT CONNECTION_ID()", reporter(tx.clone())),
        ]
    });
    let first = support::results(out[0].clean());
    assert_eq!(first.len(), 2);
    let id = first[1].1[0][0].as_u64().unwrap();
    assert_eq!(connection_id(&out[1]), id);
    assert_eq!(out[2].value(), text("kept"), "same id and URL: same connection");
    assert_eq!(out[3].value(), MySQLCell::Null, "another id: another connection");
    assert_ne!(connection_id(&out[4]), id);
}

#[test]
fn a_second_task_while_one_runs_is_eagain() {
    let db = shared();
    let url = db.url();
    let holder = MySQLConnection::new(5, &url);
    let conn = MySQLConnection::new(6, &url);
    let take = support::run_with(|cb| holder.create_query_task("SELECT GET_LOCK('c_eagain', 0)", cb));
    assert_eq!(take.value(), MySQLCell::Int(1));
    // The first task waits for the lock the holder has.
    let (tx, rx) = mpsc::channel();
    conn.create_query_task("SELECT GET_LOCK('c_eagain', 30) AS c_eagain_waiter", reporter(tx)).start();
    running(db, "c_eagain_waiter");
    let second = support::run_with(|cb| conn.create_query_task("SELECT 2", cb));
    second.assert_failed(State::SysError, libc::EAGAIN);
    let second = support::run_with(|cb| conn.create_prepared_task("SELECT ?", vec![MySQLCell::Int(2)], cb));
    second.assert_failed(State::SysError, libc::EAGAIN);
    // Let the first one finish: it got the lock, and the connection works.
    let release = support::run_with(|cb| holder.create_query_task("SELECT RELEASE_LOCK('c_eagain')", cb));
    assert_eq!(release.value(), MySQLCell::Int(1));
    let first = rx.recv_timeout(support::WAIT).expect("the waiting task finishes");
    assert_eq!(first.value(), MySQLCell::Int(1));
    let after = support::run_with(|cb| conn.create_query_task("SELECT RELEASE_LOCK('c_eagain')", cb));
    assert_eq!(after.value(), MySQLCell::Int(1), "the same session holds the lock");
}

#[test]
fn a_killed_connection_fails_the_next_task_once() {
    let db = shared();
    let url = fresh_database(db, "c_killed");
    query(&url, "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB").clean();
    let conn = MySQLConnection::new(7, &url);
    let out = run_series(|tx| {
        vec![
            conn.create_query_task("BEGIN", reporter(tx.clone())),
            conn.create_query_task("INSERT INTO t VALUES (1)", reporter(tx.clone())),
            conn.create_query_task("SELECT CONNECTION_ID()", reporter(tx.clone())),
        ]
    });
    let id = connection_id(&out[2]);
    kill(db, id);
    // The transaction is gone: the next task says so.
    let lost = support::run_with(|cb| conn.create_query_task("COMMIT", cb));
    lost.assert_failed(State::SysError, libc::ECONNRESET);
    // The one after runs on a new connection.
    let again = support::run_with(|cb| conn.create_query_task("SELECT CONNECTION_ID()", cb));
    assert_ne!(connection_id(&again), id);
    assert_eq!(query(&url, "SELECT COUNT(*) FROM t").value(), MySQLCell::Int(0), "the insert was rolled back");
    // And it stays the same connection.
    let still = support::run_with(|cb| conn.create_query_task("SELECT CONNECTION_ID()", cb));
    assert_eq!(connection_id(&still), connection_id(&again));
}

#[test]
fn a_killed_connection_fails_the_next_prepared_task_once() {
    let db = shared();
    let conn = MySQLConnection::new(8, &db.url());
    let id = connection_id(&support::run_with(|cb| conn.create_query_task("SELECT CONNECTION_ID()", cb)));
    kill(db, id);
    let lost = support::run_with(|cb| conn.create_prepared_task("SELECT ?", vec![MySQLCell::Int(1)], cb));
    lost.assert_failed(State::SysError, libc::ECONNRESET);
    let again =
        support::run_with(|cb| conn.create_prepared_task("SELECT CONNECTION_ID() + ?", vec![MySQLCell::Int(0)], cb));
    assert_ne!(again.value().as_u64(), Some(id));
}

#[test]
fn a_disconnect_task_closes_and_the_next_task_connects_afresh() {
    let db = shared();
    let conn = MySQLConnection::new(9, &db.url());
    let out = run_series(|tx| {
        vec![
            conn.create_query_task("SET @v = 1; SELECT CONNECTION_ID()", reporter(tx.clone())),
            conn.create_disconnect_task(reporter(tx.clone())),
            conn.create_query_task("SELECT @v", reporter(tx.clone())),
            conn.create_query_task("SELECT CONNECTION_ID()", reporter(tx.clone())),
        ]
    });
    let id = support::results(out[0].clean())[1].1[0][0].as_u64().unwrap();
    out[1].ok();
    assert_eq!(out[2].value(), MySQLCell::Null, "a new session, without an error");
    assert_ne!(connection_id(&out[3]), id);
    let gone = format!("SELECT COUNT(*) FROM information_schema.processlist WHERE id = {id}");
    assert!(wait_until(support::WAIT, || root_sql(db, &gone) == "0"), "the old session was closed");
    // A disconnect before anything connected is harmless too.
    let fresh = MySQLConnection::new(10, &db.url());
    support::run_with(|cb| fresh.create_disconnect_task(cb)).ok();
    assert_eq!(support::run_with(|cb| fresh.create_query_task("SELECT 1", cb)).value(), MySQLCell::Int(1));
}

#[test]
fn prepared_statements_inside_a_transaction() {
    let url = fresh_database(shared(), "c_prepared");
    query(&url, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB").clean();
    let conn = MySQLConnection::new(11, &url);
    let out = run_series(|tx| {
        vec![
            conn.create_query_task("BEGIN; SET @who = 'me'", reporter(tx.clone())),
            conn.create_prepared_task(
                "INSERT INTO t (v) VALUES (?), (?)",
                vec![text("a"), text("b")],
                reporter(tx.clone()),
            ),
            conn.create_prepared_task(
                "SELECT COUNT(*), @who FROM t WHERE v IN (?, ?)",
                vec![text("a"), text("b")],
                reporter(tx.clone()),
            ),
            conn.create_query_task("ROLLBACK", reporter(tx.clone())),
            conn.create_prepared_task(
                "SELECT COUNT(*) FROM t WHERE id > ?",
                vec![MySQLCell::Int(0)],
                reporter(tx.clone()),
            ),
        ]
    });
    out[0].clean();
    let resp = out[1].clean();
    assert_eq!((resp.affected_rows(), resp.last_insert_id()), (2, 1));
    assert_eq!(out[2].rows(), vec![vec![MySQLCell::Int(2), text("me")]]);
    out[3].clean();
    assert_eq!(out[4].value(), MySQLCell::Int(0));
}

/// Starts `sql` on `url` (no retry), kills its session once it runs
/// (`marker` is in the SQL) and returns the task's outcome.
fn kill_while_running(db: &testkit::MariaDb, url: &str, sql: &str, marker: &str, how: &str) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let mut t = create_mysql_task(url, 0, reporter(tx));
    t.set_query(sql.to_owned());
    t.start();
    let id = running(db, marker);
    db.sql_ok(&format!("KILL {how} {id}"));
    rx.recv_timeout(support::WAIT).expect("the killed query finishes")
}

#[track_caller]
fn assert_lost(o: &Outcome) {
    assert_eq!(o.state, State::SysError, "{:?} {:?}", o.error, o.resp);
    assert!(
        [libc::ECONNRESET, libc::EPIPE, libc::ECONNABORTED].contains(&o.error.code()),
        "{:?} ({})",
        o.error,
        o.error
    );
}

#[test]
fn a_query_whose_new_connection_is_killed_while_it_runs_fails() {
    let db = shared();
    // A database of its own: the task opens a new connection.
    let url = fresh_database(db, "c_kill_fresh");
    let o = kill_while_running(db, &url, "SELECT SLEEP(5) AS c_kill_fresh_marker", "c_kill_fresh_marker", "");
    assert_lost(&o);
    // Nothing broken stays in the pool.
    assert_eq!(query(&url, "SELECT 1").value(), MySQLCell::Int(1));
}

/// A query that was running when its (reused, pooled) connection was
/// killed must not be sent again: it may have changed data already. With
/// `retry_max` 0 the task should fail; instead wf-core's client takes the
/// connection for one the server had closed while idle and silently runs
/// the whole query again on a new connection.
#[test]
fn a_query_whose_pooled_connection_is_killed_while_it_runs_fails_and_is_not_run_twice() {
    let db = shared();
    let url = fresh_database(db, "c_kill_reused");
    query(&url, "CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY)").clean();
    // The connection is now idle in the pool: the next task reuses it.
    let o = kill_while_running(
        db,
        &url,
        "INSERT INTO log VALUES (NULL); SELECT SLEEP(5) AS c_kill_reused_marker",
        "c_kill_reused_marker",
        "",
    );
    let inserted = query(&url, "SELECT COUNT(*) FROM log").value();
    assert_eq!(inserted, MySQLCell::Int(1), "the killed query ran again; the task saw {o:?}");
    assert_lost(&o);
}

#[test]
fn a_query_killed_with_kill_query_is_an_error_packet_and_the_connection_stays() {
    let db = shared();
    let url = db.url();
    let o = kill_while_running(db, &url, "SELECT SLEEP(20) AS c_sleep_query_killed", "c_sleep_query_killed", "QUERY");
    let resp = o.ok();
    assert_eq!((resp.error_code(), resp.sql_state()), (1317, "70100"), "{}", resp.error_msg());
    assert_eq!(query(&url, "SELECT 1").value(), MySQLCell::Int(1));
}

#[test]
fn pooled_and_fixed_connections_survive_a_server_restart() {
    let mut db = testkit::MariaDb::start();
    let url = db.url();
    assert_eq!(query(&url, "SELECT 1").value(), MySQLCell::Int(1));
    assert_eq!(support::prepared(&url, "SELECT ?", vec![MySQLCell::Int(2)]).value(), MySQLCell::Int(2));
    let conn = MySQLConnection::new(12, &url);
    let before = connection_id(&support::run_with(|cb| conn.create_query_task("SELECT CONNECTION_ID()", cb)));
    db.restart();
    // The pooled connections are stale: a task with a retry gets through.
    assert_eq!(query_retry(&url, "SELECT 3", 1).value(), MySQLCell::Int(3));
    let r = support::run(create_prepared_task(&url, "SELECT ?", vec![MySQLCell::Int(4)], 1, |_| {}));
    assert_eq!(r.value(), MySQLCell::Int(4));
    // The fixed connection reports the loss once.
    let lost = support::run_with(|cb| conn.create_query_task("SELECT CONNECTION_ID()", cb));
    lost.assert_failed(State::SysError, libc::ECONNRESET);
    let after = support::run_with(|cb| conn.create_query_task("SELECT CONNECTION_ID()", cb));
    let _ = (before, connection_id(&after));
}
