//! Helpers shared by the wf-mysql integration tests: MySQL tasks whose
//! callbacks report their outcome on a channel, readers of a response's
//! results, one hermetic MariaDB per test binary, and the `mariadb`
//! command-line client. What is not MySQL's (waiting, finding binaries) is
//! `testkit`'s.
// Each test binary uses some of these helpers (and re-exports), not all.
#![allow(dead_code, unused_imports)]

use std::sync::{OnceLock, mpsc};

pub(crate) use testkit::mariadb::client_path as mariadb_client;
pub(crate) use testkit::{WAIT, wait_until};
use wf_core::{Error, State};
use wf_mysql::{
    CursorStatus, MySQLCell, MySQLField, MySQLResponse, MySQLResultCursor, MySQLTask, create_mysql_task,
    create_prepared_task,
};

/// What a `MySQLTask`'s callback saw.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) state: State,
    pub(crate) error: Error,
    pub(crate) resp: MySQLResponse,
}

impl Outcome {
    /// Panics with the error text unless the task succeeded.
    #[track_caller]
    pub(crate) fn ok(&self) -> &MySQLResponse {
        assert_eq!(self.state, State::Success, "task failed: {} ({:?})", self.error, self.error);
        &self.resp
    }

    /// Panics unless the task succeeded and no statement failed.
    #[track_caller]
    pub(crate) fn clean(&self) -> &MySQLResponse {
        let resp = self.ok();
        assert!(
            !resp.is_error_packet(),
            "statement failed: {} {} {}",
            resp.error_code(),
            resp.sql_state(),
            resp.error_msg()
        );
        resp
    }

    /// Asserts the task failed with `state` and `code`.
    #[track_caller]
    pub(crate) fn assert_failed(&self, state: State, code: i32) {
        assert_eq!(
            (self.state, self.error.code()),
            (state, code),
            "expected {state:?}/{code}, got {:?} ({}) resp {:?}",
            self.error,
            self.error,
            self.resp
        );
    }

    /// The rows of the first result set (the task must have succeeded
    /// without a failing statement).
    #[track_caller]
    pub(crate) fn rows(&self) -> Vec<Vec<MySQLCell>> {
        let resp = self.clean();
        let mut c = MySQLResultCursor::new(resp);
        while c.status() != CursorStatus::GetResult {
            assert!(c.next_result_set(), "no result set in {resp:?}");
        }
        c.fetch_all()
    }

    /// The single value of a one-row, one-column result.
    #[track_caller]
    pub(crate) fn value(&self) -> MySQLCell {
        let rows = self.rows();
        assert_eq!(rows.len(), 1, "expected one row: {rows:?}");
        assert_eq!(rows[0].len(), 1, "expected one column: {rows:?}");
        rows[0][0].clone()
    }

    /// The fields of the first result set.
    #[track_caller]
    pub(crate) fn fields(&self) -> Vec<MySQLField> {
        let resp = self.clean();
        let mut c = MySQLResultCursor::new(resp);
        while c.status() != CursorStatus::GetResult {
            assert!(c.next_result_set(), "no result set in {resp:?}");
        }
        c.fetch_fields().to_vec()
    }
}

/// The [`Outcome`] of a finished task.
pub(crate) fn outcome_of(t: &MySQLTask) -> Outcome {
    Outcome {
        state: t.state(),
        error: t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0)),
        resp: t.resp().clone(),
    }
}

/// A callback sending the task's outcome on `tx`.
pub(crate) fn reporter(tx: mpsc::Sender<Outcome>) -> impl FnOnce(&mut MySQLTask) + Send + 'static {
    move |t: &mut MySQLTask| {
        let _ = tx.send(outcome_of(t));
    }
}

/// Starts `task` (its callback replaced by one reporting the outcome) and
/// waits for it to finish.
#[track_caller]
pub(crate) fn run(mut task: MySQLTask) -> Outcome {
    testkit::capture(|tx| {
        task.set_callback(reporter(tx));
        task.start();
    })
}

/// Starts a task built with a reporting callback and waits for it.
#[track_caller]
pub(crate) fn run_with(make: impl FnOnce(Box<dyn FnOnce(&mut MySQLTask) + Send>) -> MySQLTask) -> Outcome {
    testkit::capture(|tx| make(Box::new(reporter(tx))).start())
}

/// Runs `sql` against `url` with `retry_max` retries.
#[track_caller]
pub(crate) fn query_retry(url: &str, sql: &str, retry_max: u32) -> Outcome {
    let mut t = create_mysql_task(url, retry_max, |_| {});
    t.set_query(sql.to_owned());
    run(t)
}

/// Runs `sql` against `url` (no retry).
#[track_caller]
pub(crate) fn query(url: &str, sql: &str) -> Outcome {
    query_retry(url, sql, 0)
}

/// Runs `sql` as a prepared statement with `params` (no retry).
#[track_caller]
pub(crate) fn prepared(url: &str, sql: &str, params: Vec<MySQLCell>) -> Outcome {
    run(create_prepared_task(url, sql.to_owned(), params, 0, |_| {}))
}

/// Runs `tasks` one after the other in one series and returns their
/// outcomes in order (each task must report through [`reporter`] on the
/// sender handed to `make`).
#[track_caller]
pub(crate) fn run_series(make: impl FnOnce(&mpsc::Sender<Outcome>) -> Vec<MySQLTask>) -> Vec<Outcome> {
    let (tx, rx) = mpsc::channel();
    let tasks = make(&tx);
    drop(tx);
    let n = tasks.len();
    let mut it = tasks.into_iter();
    let mut series = wf_core::create_series_work(it.next().expect("a task"), |_| {});
    for t in it {
        series.push_back(t);
    }
    series.start();
    (0..n).map(|i| rx.recv_timeout(WAIT).unwrap_or_else(|e| panic!("task {i} of the series: {e}"))).collect()
}

/// Each result of `resp` as a status and, for a result set, its rows.
pub(crate) fn results(resp: &MySQLResponse) -> Vec<(CursorStatus, Vec<Vec<MySQLCell>>)> {
    let mut c = MySQLResultCursor::new(resp);
    let mut out = Vec::new();
    while c.status() != CursorStatus::End {
        out.push((c.status(), c.fetch_all()));
        c.next_result_set();
    }
    out
}

/// A text cell.
pub(crate) fn text(s: &str) -> MySQLCell {
    MySQLCell::String(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// A binary cell.
pub(crate) fn bin(b: &[u8]) -> MySQLCell {
    MySQLCell::Bytes(bytes::Bytes::copy_from_slice(b))
}

// ---------------------------------------------------------------------------
// A real MariaDB (testkit)

/// The MariaDB shared by the tests of this binary (tests that stop or
/// restart a server start their own).
pub(crate) fn shared() -> &'static testkit::MariaDb {
    static DB: OnceLock<testkit::MariaDb> = OnceLock::new();
    DB.get_or_init(testkit::MariaDb::start)
}

/// `mysql://user:password@127.0.0.1:PORT/database`.
pub(crate) fn url_of(db: &testkit::MariaDb, user: &str, password: &str, database: &str) -> String {
    format!("mysql://{user}:{password}@127.0.0.1:{}/{database}", db.port())
}

/// Creates (afresh) the database `name` and returns the `wf` user's URL
/// for it.
pub(crate) fn fresh_database(db: &testkit::MariaDb, name: &str) -> String {
    db.sql_ok(&format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"));
    url_of(db, "wf", "wf_pass", name)
}

/// A global status variable as a number.
#[track_caller]
pub(crate) fn global_status(db: &testkit::MariaDb, name: &str) -> u64 {
    let out = db.sql_ok(&format!("SHOW GLOBAL STATUS LIKE '{name}'"));
    out.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status {name}: {out:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("status {name} is not a number ({out:?}): {e}"))
}

/// The trimmed output of `statements` run as root.
#[track_caller]
pub(crate) fn root_sql(db: &testkit::MariaDb, statements: &str) -> String {
    db.sql_ok(statements).trim().to_owned()
}
