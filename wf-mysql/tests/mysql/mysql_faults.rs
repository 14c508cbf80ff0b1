//! Client fault injection: a MariaDB killed (SIGKILL) while queries are
//! in flight on pooled connections, then started again on the same port
//! (one cycle: MariaDB starts slowly). Every callback runs once, with a
//! clear state (a result, or `SYS_ERROR` with a connection errno); an
//! `INSERT` cut by the crash is not sent again unasked; tasks after the
//! restart succeed on fresh connections (the pooled ones are dropped
//! without costing a retry) and each runs once.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use support::{Outcome, WAIT, query};
use wf_core::State;
use wf_mysql::{MySQLCell, create_mysql_task};

fn start(url: &str, sql: String, calls: &Arc<AtomicUsize>, tx: &mpsc::Sender<(usize, Outcome)>, id: usize) {
    let (calls, tx) = (calls.clone(), tx.clone());
    let mut t = create_mysql_task(url, 0, move |t| {
        calls.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send((id, support::outcome_of(t)));
    });
    t.set_query(sql);
    t.start();
}

/// Waits for `n` callbacks; panics if one is missing after `WAIT` or a
/// task reports twice.
fn collect(rx: &mpsc::Receiver<(usize, Outcome)>, n: usize) -> Vec<(usize, Outcome)> {
    let mut seen = std::collections::HashSet::new();
    (0..n)
        .map(|i| {
            let (id, o) = rx.recv_timeout(WAIT).unwrap_or_else(|_| panic!("{i} of {n} callbacks after WAIT"));
            assert!(seen.insert(id), "task {id}'s callback ran twice");
            (id, o)
        })
        .collect()
}

#[track_caller]
fn assert_connection_error(o: &Outcome, codes: &[i32]) {
    assert_eq!(o.state, State::SysError, "{:?}: {}", o.error, o.error);
    assert!(codes.contains(&o.error.code()), "{:?}: {}", o.error, o.error);
}

#[test]
fn killed_and_restarted_with_queries_in_flight() {
    let mut db = testkit::MariaDb::start();
    let url = db.url();
    query(&url, "CREATE TABLE f_rows (v INT NOT NULL)").ok();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();

    // In flight when the server dies: queries that sleep in the server.
    let n = 40;
    for i in 0..n {
        start(&url, "SELECT SLEEP(5)".into(), &calls, &tx, i);
    }
    assert!(
        support::wait_until(WAIT, || db.sql("SHOW PROCESSLIST").stdout.split(|b| *b == b'\n').count() > n),
        "the queries never reached the server"
    );
    db.kill();
    for (_, o) in collect(&rx, n) {
        assert_connection_error(&o, &[libc::ECONNRESET, libc::EPIPE]);
    }
    // While it is down: refused, once each.
    for i in 0..10 {
        start(&url, format!("INSERT INTO f_rows VALUES ({i})"), &calls, &tx, 100 + i);
    }
    for (_, o) in collect(&rx, 10) {
        assert_connection_error(&o, &[libc::ECONNREFUSED]);
    }
    db.restart();
    // Afterwards: every task succeeds, with no retry, and runs once.
    let m = 50;
    for i in 0..m {
        start(&url, format!("INSERT INTO f_rows VALUES ({})", 1000 + i), &calls, &tx, 200 + i);
    }
    for (id, o) in collect(&rx, m) {
        assert_eq!(o.state, State::Success, "task {id}: {}", o.error);
    }
    let count = query(&url, "SELECT COUNT(*), COUNT(DISTINCT v) FROM f_rows").rows();
    assert_eq!(count, vec![vec![MySQLCell::Int(m as i64), MySQLCell::Int(m as i64)]]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), n + 10 + m, "a callback ran twice");
}
