//! Queries against a real MariaDB: multi-statement queries (statuses,
//! an error in the middle stops there, cursor navigation), stored
//! procedures with several result sets (text and binary protocol),
//! `escape_string` round trips, 1000-row results, and 32 concurrent
//! series sharing the connection pool.

use crate::support;

use std::collections::HashSet;
use std::sync::mpsc;

use support::{Outcome, fresh_database, prepared, query, results, root_sql, shared, text};
use wf_core::State;
use wf_mysql::{
    CursorStatus, MySQLCell, MySQLResultCursor, PacketType, create_mysql_task, escape_string, escape_string_quote,
};

#[test]
fn four_statements_give_four_results() {
    let url = fresh_database(shared(), "q_multi");
    query(&url, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))").clean();
    let r =
        query(&url, "SELECT 1; SELECT 2, 3; INSERT INTO t (v) VALUES ('a'), ('b'); SELECT id, v FROM t ORDER BY id");
    let resp = r.clean();
    assert_eq!(resp.result_count(), 4);
    assert_eq!(resp.packet_type(), PacketType::ResultSet);
    let res = results(resp);
    let statuses: Vec<CursorStatus> = res.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [CursorStatus::GetResult, CursorStatus::GetResult, CursorStatus::Ok, CursorStatus::GetResult]);
    assert_eq!(res[0].1, vec![vec![MySQLCell::Int(1)]]);
    assert_eq!(res[1].1, vec![vec![MySQLCell::Int(2), MySQLCell::Int(3)]]);
    assert_eq!(res[3].1, vec![vec![MySQLCell::Int(1), text("a")], vec![MySQLCell::Int(2), text("b")]]);
    // The OK's counters, through the cursor and the response.
    let mut c = MySQLResultCursor::new(resp);
    c.next_result_set();
    c.next_result_set();
    assert_eq!((c.affected_rows(), c.insert_id()), (2, 1));
    assert_eq!((resp.affected_rows(), resp.last_insert_id()), (2, 1));
    assert_eq!((resp.error_code(), resp.error_msg(), resp.sql_state()), (0, "", ""));

    // Statements that only say OK.
    let r = query(&url, "UPDATE t SET v = 'c' WHERE id = 1; UPDATE t SET v = 'c' WHERE id = 1; DELETE FROM t");
    let resp = r.clean();
    assert_eq!(resp.packet_type(), PacketType::Ok);
    assert!(resp.is_ok_packet());
    let mut c = MySQLResultCursor::new(resp);
    let mut counts = Vec::new();
    while c.status() == CursorStatus::Ok {
        counts.push(c.affected_rows());
        c.next_result_set();
    }
    assert_eq!(c.status(), CursorStatus::End);
    assert_eq!(counts, [1, 0, 2]);
}

/// The info text of an OK packet is a length-encoded string (MariaDB and
/// MySQL servers always write it so): read as it is, the first byte (its
/// length) leaks into the text.
#[test]
fn ok_packet_info_text_is_exact() {
    let url = fresh_database(shared(), "q_info");
    query(&url, "CREATE TABLE t (id INT PRIMARY KEY, v INT)").clean();
    let r = query(&url, "INSERT INTO t VALUES (1, 0), (2, 0); UPDATE t SET v = 1 WHERE id = 1; UPDATE t SET v = 1");
    let resp = r.clean();
    assert_eq!(resp.info(), "Records: 2  Duplicates: 0  Warnings: 0");
    let mut c = MySQLResultCursor::new(resp);
    assert_eq!(c.info(), "Records: 2  Duplicates: 0  Warnings: 0");
    c.next_result_set();
    assert_eq!(c.info(), "Rows matched: 1  Changed: 1  Warnings: 0");
    c.next_result_set();
    assert_eq!(c.info(), "Rows matched: 2  Changed: 1  Warnings: 0");
    // A statement without info: empty.
    let r = query(&url, "DELETE FROM t WHERE id = 2");
    assert_eq!((r.clean().affected_rows(), r.clean().info()), (1, ""));
}

#[test]
fn an_error_in_the_middle_stops_the_statements_after_it() {
    let url = fresh_database(shared(), "q_error");
    query(&url, "CREATE TABLE t (id INT)").clean();
    let r = query(&url, "INSERT INTO t VALUES (1); SELECT * FROM no_such_table; INSERT INTO t VALUES (2); SELECT 9");
    let resp = r.ok();
    assert_eq!(r.state, State::Success);
    assert_eq!(resp.result_count(), 2);
    assert_eq!(resp.packet_type(), PacketType::Error);
    assert!(resp.is_error_packet());
    assert!(!resp.is_ok_packet());
    assert_eq!(resp.error_code(), 1146);
    assert_eq!(resp.sql_state(), "42S02");
    assert!(resp.error_msg().contains("no_such_table"), "{}", resp.error_msg());
    let mut c = MySQLResultCursor::new(resp);
    assert_eq!(c.status(), CursorStatus::Ok);
    assert_eq!(c.error(), None);
    assert!(c.next_result_set());
    assert_eq!(c.status(), CursorStatus::Error);
    let (code, state, msg) = c.error().unwrap();
    assert_eq!((code, state), (1146, "42S02"));
    assert!(msg.contains("no_such_table"));
    assert!(!c.next_result_set());
    assert_eq!(c.status(), CursorStatus::End);
    // The statements after the error did not run; the connection is fine.
    assert_eq!(query(&url, "SELECT COUNT(*) FROM t").value(), MySQLCell::Int(1));

    // An error first: one result.
    let r = query(&url, "SELEKT 1; SELECT 2");
    let resp = r.ok();
    assert_eq!((resp.result_count(), resp.error_code(), resp.sql_state()), (1, 1064, "42000"));
    // An empty query is the server's error.
    let r = query(&url, "");
    assert_eq!(r.ok().error_code(), 1065);
    // A semicolon inside a string is not a statement boundary.
    let res = results(query(&url, "SELECT ';' AS a; SELECT 'x;y'").clean());
    assert_eq!(res.len(), 2);
    assert_eq!(res[0].1, vec![vec![text(";")]]);
    assert_eq!(res[1].1, vec![vec![text("x;y")]]);
}

#[test]
fn cursor_navigation_rewind_and_partial_fetches() {
    let url = shared().url();
    let r = query(&url, "SELECT seq FROM seq_1_to_5; DO 1; SELECT 'a' UNION ALL SELECT 'b'");
    let resp = r.clean();
    let mut c = MySQLResultCursor::new(resp);
    assert_eq!((c.status(), c.field_count(), c.rows_count()), (CursorStatus::GetResult, 1, 5));
    assert_eq!(c.fetch_row().unwrap(), &[MySQLCell::UInt(1)]);
    assert_eq!(c.fetch_row().unwrap(), &[MySQLCell::UInt(2)]);
    // fetch_all after a partial fetch_row: the rest.
    let rest = c.fetch_all();
    assert_eq!(rest, vec![vec![MySQLCell::UInt(3)], vec![MySQLCell::UInt(4)], vec![MySQLCell::UInt(5)]]);
    assert!(c.fetch_row().is_none());
    assert!(c.fetch_all().is_empty());
    // rewind: back to the first row of this set.
    c.rewind();
    assert_eq!(c.fetch_all().len(), 5);
    assert!(c.next_result_set());
    assert_eq!((c.status(), c.field_count(), c.rows_count()), (CursorStatus::Ok, 0, 0));
    assert!(c.fetch_row().is_none());
    assert!(c.fetch_fields().is_empty());
    assert!(c.next_result_set());
    assert_eq!(c.fetch_row().unwrap(), &[text("a")]);
    assert!(!c.next_result_set());
    assert_eq!(c.status(), CursorStatus::End);
    assert!(!c.next_result_set(), "still at the end");
    assert!(c.fetch_row().is_none());
    // At the end, rewind goes back to the first result.
    c.rewind();
    assert_eq!(c.status(), CursorStatus::GetResult);
    assert_eq!(c.fetch_all().len(), 5);
    // first_result_set from the end, and from the middle of a set.
    while c.next_result_set() {}
    c.first_result_set();
    assert_eq!((c.status(), c.rows_count()), (CursorStatus::GetResult, 5));
    c.fetch_row();
    c.next_result_set();
    c.next_result_set();
    c.fetch_row();
    c.first_result_set();
    assert_eq!(c.fetch_row().unwrap(), &[MySQLCell::UInt(1)]);
    // Two cursors on one response are independent.
    let mut d = MySQLResultCursor::new(resp);
    assert_eq!(d.fetch_all().len(), 5);
    assert_eq!(c.fetch_row().unwrap(), &[MySQLCell::UInt(2)]);
}

#[test]
fn a_stored_procedure_gives_its_result_sets_and_a_final_ok() {
    let url = fresh_database(shared(), "q_proc");
    query(
        &url,
        "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2, 3 UNION ALL SELECT 4, 5; END; \
         CREATE PROCEDURE p_err() BEGIN SELECT 1; SELECT * FROM no_such_table; SELECT 3; END; \
         CREATE PROCEDURE p_in(IN n INT) BEGIN SELECT n * 2 AS twice; SELECT CONCAT('n=', n) AS s; END",
    )
    .clean();
    let want = |res: &[(CursorStatus, Vec<Vec<MySQLCell>>)]| {
        let statuses: Vec<CursorStatus> = res.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [CursorStatus::GetResult, CursorStatus::GetResult, CursorStatus::Ok]);
        assert_eq!(res[0].1, vec![vec![MySQLCell::Int(1)]]);
        assert_eq!(
            res[1].1,
            vec![vec![MySQLCell::Int(2), MySQLCell::Int(3)], vec![MySQLCell::Int(4), MySQLCell::Int(5)]]
        );
    };
    want(&results(query(&url, "CALL p()").clean()));
    // CALL then another statement: the procedure's results, then the next.
    let res = results(query(&url, "CALL p(); SELECT 'after'").clean());
    assert_eq!(res.len(), 4);
    assert_eq!(res[3].1, vec![vec![text("after")]]);
    // The binary protocol (prepared CALL) has the same shape.
    want(&results(prepared(&url, "CALL p()", vec![]).clean()));
    let res = results(prepared(&url, "CALL p_in(?)", vec![MySQLCell::Int(21)]).clean());
    assert_eq!(res.len(), 3);
    assert_eq!(res[0].1, vec![vec![MySQLCell::Int(42)]]);
    assert_eq!(res[1].1, vec![vec![text("n=21")]]);
    // An error inside the procedure ends the response.
    for r in [query(&url, "CALL p_err()"), prepared(&url, "CALL p_err()", vec![])] {
        let resp = r.ok();
        assert_eq!(resp.error_code(), 1146);
        let statuses: Vec<CursorStatus> = results(resp).iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [CursorStatus::GetResult, CursorStatus::Error]);
    }
    // The pooled connection is still in step afterwards.
    assert_eq!(query(&url, "SELECT 5").value(), MySQLCell::Int(5));
}

#[test]
fn escape_string_round_trips_nasty_strings() {
    let url = fresh_database(shared(), "q_escape");
    query(&url, "CREATE TABLE t (id INT PRIMARY KEY, s LONGTEXT)").clean();
    let nasty = [
        "it's \"quoted\" \\ back\\slash \\' \\\" \\\\",
        "NUL\0inside\0\0",
        "new\nline\r\ncarriage\rtab\tctrl-z\x1aend",
        "'; DROP TABLE t; -- ",
        "%_ like wildcards \\% \\_",
        "émoji 🦀 ✓ 日本語",
        "\\",
        "'",
        "",
    ];
    for (i, s) in nasty.iter().enumerate() {
        let sql = format!("INSERT INTO t VALUES ({i}, {})", escape_string_quote(s));
        query(&url, &sql).clean();
        // Directly in a SELECT, and stored.
        assert_eq!(query(&url, &format!("SELECT {}", escape_string_quote(s))).value(), text(s), "SELECT {s:?}");
        let got = query(&url, &format!("SELECT s FROM t WHERE id = {i}")).value();
        assert_eq!(got, text(s), "stored {s:?}");
        // escape_string inside quotes of our own: the same literal.
        let like = format!("SELECT COUNT(*) FROM t WHERE s = '{}'", escape_string(s));
        assert_eq!(query(&url, &like).value(), MySQLCell::Int(1), "{like}");
    }
    assert_eq!(query(&url, "SELECT COUNT(*) FROM t").value(), MySQLCell::Int(nasty.len() as i64));
}

#[test]
fn a_thousand_rows() {
    let url = fresh_database(shared(), "q_rows");
    query(
        &url,
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(10,2), blobby VARBINARY(16)); \
         INSERT INTO t SELECT seq, CONCAT('row-', seq), seq / 4, UNHEX(LPAD(HEX(seq), 8, '0')) FROM seq_1_to_1000",
    )
    .clean();
    let check = |rows: Vec<Vec<MySQLCell>>| {
        assert_eq!(rows.len(), 1000);
        for (i, row) in rows.iter().enumerate() {
            let n = i as u32 + 1;
            assert_eq!(row[0], MySQLCell::Int(n.into()));
            assert_eq!(row[1], text(&format!("row-{n}")));
            assert_eq!(row[2], MySQLCell::Decimal(format!("{}.{:02}", n / 4, (n % 4) * 25)));
            assert_eq!(row[3], support::bin(&n.to_be_bytes()));
        }
    };
    check(query(&url, "SELECT * FROM t ORDER BY id").rows());
    check(prepared(&url, "SELECT * FROM t WHERE id > ? ORDER BY id", vec![MySQLCell::Int(0)]).rows());
}

#[test]
fn thirty_two_concurrent_series_share_a_bounded_pool() {
    const SERIES: usize = 32;
    const QUERIES: usize = 20;
    let db = shared();
    let url = fresh_database(db, "q_concurrent");
    let (tx, rx) = mpsc::channel::<(usize, usize, Outcome)>();
    for s in 0..SERIES {
        let mut series: Option<wf_core::SeriesWork> = None;
        for q in 0..QUERIES {
            let tx = tx.clone();
            let mut t = create_mysql_task(&url, 0, move |t| {
                let _ = tx.send((s, q, support::outcome_of(t)));
            });
            t.set_query(format!("SELECT {s}, {q}, CONNECTION_ID(), REPEAT('x', {q} * 100)"));
            match &mut series {
                None => series = Some(wf_core::create_series_work(t, |_| {})),
                Some(series) => series.push_back(t),
            }
        }
        series.unwrap().start();
    }
    drop(tx);
    let mut connection_ids = HashSet::new();
    let mut next = vec![0; SERIES];
    for _ in 0..SERIES * QUERIES {
        let (s, q, o) = rx.recv_timeout(support::WAIT * 2).expect("a query of the concurrent series");
        assert_eq!(q, next[s], "series {s} runs its queries in order");
        next[s] += 1;
        let row = &o.rows()[0];
        assert_eq!(row[0].as_i64(), Some(s as i64));
        assert_eq!(row[1].as_i64(), Some(q as i64));
        assert_eq!(row[3].as_bytes().map(<[u8]>::len), Some(q * 100));
        connection_ids.insert(row[2].as_u64().unwrap());
    }
    assert!(rx.recv_timeout(std::time::Duration::from_millis(100)).is_err(), "no extra callbacks");
    assert!(
        !connection_ids.is_empty() && connection_ids.len() <= SERIES,
        "{} server connections for {SERIES} series",
        connection_ids.len()
    );
    // The idle pooled connections are still open on the server: no more
    // than one per series.
    let open: usize =
        root_sql(db, "SELECT COUNT(*) FROM information_schema.processlist WHERE db = 'q_concurrent'").parse().unwrap();
    assert!(open <= SERIES, "{open} connections open to q_concurrent");
}

/// Runs raw SQL bytes (not UTF-8 when the URL's character set is not).
fn query_bytes(url: &str, sql: &[u8]) -> Outcome {
    let mut t = create_mysql_task(url, 0, |_| {});
    t.set_query(sql.to_vec());
    support::run(t)
}

fn raw(b: &[u8]) -> MySQLCell {
    MySQLCell::String(bytes::Bytes::copy_from_slice(b))
}

#[test]
fn character_set_in_the_url() {
    let url = shared().url();
    // latin1: the query is read as latin1, and results come back in it.
    let r = query_bytes(
        &format!("{url}?character_set=latin1"),
        b"SELECT @@character_set_client, @@character_set_results, HEX(CONVERT('caf\xe9' USING utf8mb4)), 'caf\xe9'",
    );
    assert_eq!(r.rows(), vec![vec![text("latin1"), text("latin1"), text("636166C3A9"), raw(b"caf\xe9")]]);
    // gbk.
    let r =
        query_bytes(&format!("{url}?character_set=gbk"), b"SELECT HEX(CONVERT('\xd6\xd0' USING utf8mb4)), '\xd6\xd0'");
    assert_eq!(r.rows(), vec![vec![text("E4B8AD"), raw(b"\xd6\xd0")]]);
    // A collation name picks its character set.
    let r = query(&format!("{url}?character_set=utf8mb4_unicode_ci"), "SELECT @@collation_connection");
    assert_eq!(r.value(), text("utf8mb4_unicode_ci"));
    // The default: utf8mb4.
    let r = query(&url, "SELECT @@character_set_client, @@character_set_results, '🦀'");
    assert_eq!(r.rows(), vec![vec![text("utf8mb4"), text("utf8mb4"), text("🦀")]]);
}

#[test]
fn character_set_results_in_the_url() {
    let url = shared().url();
    let r = query(
        &format!("{url}?character_set_results=latin1"),
        "SELECT @@character_set_client, @@character_set_results, 'café'",
    );
    assert_eq!(r.rows(), vec![vec![text("utf8mb4"), text("latin1"), raw(b"caf\xe9")]]);
    // Prepared statements on such a connection too.
    let r = support::run(wf_mysql::create_prepared_task(
        format!("{url}?character_set_results=latin1").as_str(),
        "SELECT CONCAT('caf', ?)",
        vec![text("é")],
        0,
        |_| {},
    ));
    assert_eq!(r.value(), raw(b"caf\xe9"));
    // A name the server does not know as a character set: refused at
    // login.
    let r = query(&format!("{url}?character_set_results=utf8mb4_unicode_ci"), "SELECT 1");
    r.assert_failed(State::TaskError, wf_mysql::code::INVALID_CHARACTER_SET);
}

/// Deterministic bytes covering every value.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn hex_literal(b: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(b.len() * 2 + 3);
    out.extend_from_slice(b"X'");
    for &x in b {
        out.push(DIGITS[usize::from(x >> 4)]);
        out.push(DIGITS[usize::from(x & 15)]);
    }
    out.push(b'\'');
    out
}

#[test]
fn a_value_over_16_mib_both_ways() {
    let url = fresh_database(shared(), "q_large");
    assert_eq!(query(&url, "SELECT @@max_allowed_packet").value().as_u64(), Some(1 << 30));
    query(&url, "CREATE TABLE t (id INT PRIMARY KEY, data LONGBLOB)").clean();
    let data = noise(20 * 1024 * 1024 + 7);
    // Client to server: a 40 MiB query (three packets and a bit).
    let mut sql = b"INSERT INTO t VALUES (1, ".to_vec();
    sql.extend_from_slice(&hex_literal(&data));
    sql.push(b')');
    assert_eq!(query_bytes(&url, &sql).clean().affected_rows(), 1);
    // And a 20 MiB parameter of a prepared statement.
    let r = prepared(&url, "INSERT INTO t VALUES (?, ?)", vec![MySQLCell::Int(2), support::bin(&data)]);
    assert_eq!(r.clean().affected_rows(), 1);
    let r = query(&url, "SELECT LENGTH(data), MD5(data) = (SELECT MD5(data) FROM t WHERE id = 1) FROM t ORDER BY id");
    assert_eq!(r.rows(), vec![vec![MySQLCell::Int(data.len() as i64), MySQLCell::Int(1)]; 2]);
    // Server to client: a 20 MiB row, in both protocols.
    let rows = query(&url, "SELECT data, id FROM t WHERE id = 1").rows();
    assert_eq!(rows[0][0].as_bytes().map(<[u8]>::len), Some(data.len()));
    assert!(rows[0][0].as_bytes() == Some(&data[..]), "text protocol: the bytes differ");
    assert_eq!(rows[0][1], MySQLCell::Int(1));
    let rows = prepared(&url, "SELECT data, id FROM t WHERE id = ?", vec![MySQLCell::Int(2)]).rows();
    assert!(rows[0][0].as_bytes() == Some(&data[..]), "binary protocol: the bytes differ");
    assert_eq!(rows[0][1], MySQLCell::Int(2));
}

#[test]
fn packets_of_exactly_16_mib_minus_one() {
    const MAX: usize = 0xff_ffff;
    let url = shared().url();
    // A text row of one value of length n is 4 + n bytes (a 3-byte
    // length): 0xffffff needs the empty packet after it.
    for n in [MAX - 5, MAX - 4, MAX - 3] {
        let rows = query(&url, &format!("SELECT REPEAT('a', {n})")).rows();
        let v = rows[0][0].as_bytes().unwrap();
        assert!(v.len() == n && v.iter().all(|&c| c == b'a'), "text row of {n}: {} bytes", v.len());
    }
    // A binary row: header, NULL bitmap, 4-byte length, value.
    for n in [MAX - 7, MAX - 6, MAX - 5] {
        let rows = prepared(&url, "SELECT REPEAT('a', ?)", vec![MySQLCell::Int(n as i64)]).rows();
        let v = rows[0][0].as_bytes().unwrap();
        assert!(v.len() == n && v.iter().all(|&c| c == b'a'), "binary row of {n}: {} bytes", v.len());
    }
    // A query of 0xffffff bytes with its command byte.
    for n in [MAX - 19, MAX - 18, MAX - 17] {
        let mut sql = b"SELECT LENGTH('".to_vec();
        sql.resize(sql.len() + n, b'b');
        sql.extend_from_slice(b"')");
        assert!((MAX - 1..=MAX + 1).contains(&(sql.len() + 1)));
        assert_eq!(query_bytes(&url, &sql).value(), MySQLCell::Int(n as i64), "query of {} bytes", sql.len() + 1);
    }
}
