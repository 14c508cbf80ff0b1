//! A first round trip against a real MariaDB: login, a multi-statement
//! query, typed cells, an error packet, a prepared statement.

use std::sync::mpsc;
use std::time::Duration;

use wf_core::State;
use wf_mysql::{CursorStatus, MySQLCell, MySQLResultCursor, MySQLTask, create_mysql_task, create_prepared_task};

fn run(
    task: impl FnOnce(Box<dyn FnOnce(&mut MySQLTask) + Send>) -> MySQLTask,
) -> (State, i32, wf_mysql::MySQLResponse) {
    let (tx, rx) = mpsc::channel();
    task(Box::new(move |t: &mut MySQLTask| {
        tx.send((t.state(), t.error_code(), t.resp().clone())).unwrap();
    }))
    .start();
    rx.recv_timeout(Duration::from_secs(30)).expect("callback")
}

#[test]
fn query_cells_errors_and_prepared() {
    let db = testkit::MariaDb::start();
    let url = db.url();
    let (state, code, resp) = run(|cb| {
        let mut t = create_mysql_task(&url, 0, cb);
        t.set_query(
            "CREATE TABLE t (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, big BIGINT UNSIGNED, d DECIMAL(30,10), \
             tm TIME(6), dt DATETIME(6), b BLOB, s VARCHAR(10), n INT);\
             INSERT INTO t (big, d, tm, dt, b, s, n) VALUES (18446744073709551615, -12345678901234567890.0123456789, \
             '-838:59:59.000001', '2024-02-29 23:59:59.999999', x'00ff', 'héllo', NULL);\
             SELECT * FROM t; SELECT 1 FROM nowhere",
        );
        t
    });
    assert_eq!((state, code), (State::Success, 0));
    assert_eq!(resp.result_count(), 4);
    assert_eq!(resp.error_code(), 1146);
    let mut c = MySQLResultCursor::new(&resp);
    assert_eq!(c.status(), CursorStatus::Ok);
    c.next_result_set();
    assert_eq!((c.status(), c.affected_rows(), c.insert_id()), (CursorStatus::Ok, 1, 1));
    c.next_result_set();
    assert_eq!(c.status(), CursorStatus::GetResult);
    let row = c.fetch_row().unwrap().to_vec();
    assert_eq!(row[0], MySQLCell::UInt(1));
    assert_eq!(row[1], MySQLCell::UInt(u64::MAX));
    assert_eq!(row[2], MySQLCell::Decimal("-12345678901234567890.0123456789".into()));
    assert_eq!(row[3].to_string(), "-838:59:59.000001");
    assert_eq!(row[4].to_string(), "2024-02-29 23:59:59.999999");
    assert_eq!(row[5], MySQLCell::Bytes(bytes::Bytes::from_static(b"\x00\xff")));
    assert_eq!(row[6].as_str(), Some("héllo"));
    assert!(row[7].is_null());
    c.next_result_set();
    assert_eq!(c.status(), CursorStatus::Error);

    let (state, _, resp) = run(|cb| {
        create_prepared_task(
            &url,
            "SELECT big, d, tm, dt, b, s, n, ? + 1, ? FROM t WHERE id = ?",
            vec![MySQLCell::Int(41), MySQLCell::String("x'y".into()), MySQLCell::UInt(1)],
            0,
            cb,
        )
    });
    assert_eq!(state, State::Success, "{}", resp.error_msg());
    let mut c = MySQLResultCursor::new(&resp);
    let row = c.fetch_row().expect("a row").to_vec();
    assert_eq!(row[0], MySQLCell::UInt(u64::MAX));
    assert_eq!(row[2].to_string(), "-838:59:59.000001");
    assert_eq!(row[3].to_string(), "2024-02-29 23:59:59.999999");
    assert_eq!(row[4], MySQLCell::Bytes(bytes::Bytes::from_static(b"\x00\xff")));
    assert!(row[6].is_null());
    assert_eq!(row[7].as_i64(), Some(42));
    assert_eq!(row[8].as_str(), Some("x'y"));
}
