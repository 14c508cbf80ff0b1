//! Every column type through both protocols: values inserted by SQL and
//! read back with a plain query (the text protocol) and with a prepared
//! statement (the binary protocol), at the types' limits, with NULL in
//! every column; the column definitions (name, table, type, charset,
//! flags); and typed parameters bound to `?` (`SELECT ?` round trips,
//! `INSERT … VALUES (?, …)` read back, NULL parameters); and prepared
//! statements' errors (wrong parameter count, statements that do not
//! prepare or fail to execute) and write counters.

use crate::support;

use std::sync::OnceLock;

use bytes::Bytes;
use support::{bin, prepared, query, text};
use wf_mysql::{Date, DateTime, MySQLCell, Time};

/// The server of this file: UTC, so `TIMESTAMP` values read as written.
fn server() -> &'static testkit::MariaDb {
    static DB: OnceLock<testkit::MariaDb> = OnceLock::new();
    DB.get_or_init(|| testkit::MariaDb::builder().arg("--default-time-zone=+00:00").start())
}

/// The table `types.all_types` with rows 1 (minimums), 2 (maximums) and 3
/// (NULLs), created once; returns the URL of database `types`.
fn types_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let db = server();
        let url = support::fresh_database(db, "types");
        db.sql_ok(&format!("CREATE TABLE types.all_types ({COLUMNS}); CREATE TABLE types.copies LIKE types.all_types"));
        let insert = format!(
            "INSERT INTO all_types VALUES ({}); INSERT INTO all_types VALUES ({}); \
             INSERT INTO all_types (id) VALUES (3)",
            min_sql(),
            max_sql()
        );
        let r = query(&url, &insert);
        assert_eq!(support::results(r.clean()).len(), 3);
        url
    })
}

const COLUMNS: &str = "id INT PRIMARY KEY, \
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, \
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, \
    f FLOAT, d DOUBLE, de DECIMAL(65,30), da DATE, tm TIME(6), dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, \
    y YEAR, b1 BIT(1), b64 BIT(64), bl BLOB, vb VARBINARY(300), c CHAR(10), vc VARCHAR(100), tx TEXT, \
    e ENUM('a','b','ç'), st SET('x','y','z'), j JSON";

const NAMES: [&str; 30] = [
    "id", "ti", "tiu", "si", "siu", "mi", "miu", "i", "iu", "bi", "biu", "f", "d", "de", "da", "tm", "dt", "ts", "y",
    "b1", "b64", "bl", "vb", "c", "vc", "tx", "e", "st", "j", "",
];

const DEC_MIN: &str = "-99999999999999999999999999999999999.999999999999999999999999999999";
const DEC_MAX: &str = "99999999999999999999999999999999999.000000000000000000000000000001";

fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Row 1 (minimums) as SQL values.
fn min_sql() -> String {
    format!(
        "1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, \
    -3.5, -1.7976931348623157e308, \
    -99999999999999999999999999999999999.999999999999999999999999999999, '1000-01-01', '-838:59:59.000000', \
    '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', 1901, b'0', b'0', \
    X'{all}', \
    X'', '', '', '', 'a', '', '[]'",
        all = hex(&all_bytes())
    )
}

/// Row 2 (maximums) as SQL values.
fn max_sql() -> String {
    let mut reversed = all_bytes();
    reversed.reverse();
    format!(
        "2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, \
    9223372036854775807, 18446744073709551615, 1234.5, 1.7976931348623157e308, \
    99999999999999999999999999999999999.000000000000000000000000000001, '9999-12-31', '838:59:59.000000', \
    '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', 2155, b'1', \
    b'1111111111111111111111111111111111111111111111111111111111111111', X'FF00', \
    X'{reversed}', \
    'abc', 'héllo wörld 🦀 ✓', '日本語のテキスト\\n\\ttab 🎉', 'ç', 'x,z', '{{\"k\": [1, 2.5, \"é\"], \"n\": null}}'",
        reversed = hex(&reversed)
    )
}

fn date(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

fn datetime(date: Date, hour: u8, minute: u8, second: u8, micros: u32) -> MySQLCell {
    MySQLCell::DateTime(DateTime { date, hour, minute, second, micros })
}

fn time(negative: bool, hours: u32, minutes: u8, seconds: u8, micros: u32) -> MySQLCell {
    MySQLCell::Time(Time { negative, hours, minutes, seconds, micros })
}

fn bit(b: &[u8]) -> MySQLCell {
    MySQLCell::Bit(Bytes::copy_from_slice(b))
}

/// Row 1 as cells.
fn min_row() -> Vec<MySQLCell> {
    use MySQLCell::*;
    vec![
        Int(1),
        Int(-128),
        UInt(0),
        Int(-32768),
        UInt(0),
        Int(-8388608),
        UInt(0),
        Int(-2147483648),
        UInt(0),
        Int(i64::MIN),
        UInt(0),
        Float(-3.5),
        Double(f64::MIN),
        Decimal(DEC_MIN.into()),
        Date(date(1000, 1, 1)),
        time(true, 838, 59, 59, 0),
        datetime(date(1000, 1, 1), 0, 0, 0, 0),
        datetime(date(1970, 1, 1), 0, 0, 1, 0),
        Year(1901),
        bit(&[0]),
        bit(&[0; 8]),
        bin(&all_bytes()),
        bin(b""),
        text(""),
        text(""),
        text(""),
        text("a"),
        text(""),
        text("[]"),
    ]
}

/// Row 2 as cells.
fn max_row() -> Vec<MySQLCell> {
    use MySQLCell::*;
    let mut reversed = all_bytes();
    reversed.reverse();
    vec![
        Int(2),
        Int(127),
        UInt(255),
        Int(32767),
        UInt(65535),
        Int(8388607),
        UInt(16777215),
        Int(2147483647),
        UInt(4294967295),
        Int(i64::MAX),
        UInt(u64::MAX),
        Float(1234.5),
        Double(f64::MAX),
        Decimal(DEC_MAX.into()),
        Date(date(9999, 12, 31)),
        time(false, 838, 59, 59, 0),
        datetime(date(9999, 12, 31), 23, 59, 59, 999_999),
        datetime(date(2038, 1, 19), 3, 14, 7, 999_999),
        Year(2155),
        bit(&[1]),
        bit(&[0xff; 8]),
        bin(&[0xff, 0x00]),
        bin(&reversed),
        text("abc"),
        text("héllo wörld 🦀 ✓"),
        text("日本語のテキスト\n\ttab 🎉"),
        text("ç"),
        text("x,z"),
        text(r#"{"k": [1, 2.5, "é"], "n": null}"#),
    ]
}

/// Row 3: the id, then NULL everywhere.
fn null_row(id: i64) -> Vec<MySQLCell> {
    let mut row = vec![MySQLCell::Null; 29];
    row[0] = MySQLCell::Int(id);
    row
}

#[track_caller]
fn assert_rows(got: &[Vec<MySQLCell>], want: &[Vec<MySQLCell>]) {
    assert_eq!(got.len(), want.len(), "row count");
    for (r, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "row {r}: column count");
        for (i, (gc, wc)) in g.iter().zip(w).enumerate() {
            assert_eq!(gc, wc, "row {r}, column {} ({})", i, NAMES[i]);
        }
    }
}

#[test]
fn text_protocol_reads_every_type_at_its_limits() {
    let rows = query(types_url(), "SELECT * FROM all_types WHERE id <= 3 ORDER BY id").rows();
    assert_rows(&rows, &[min_row(), max_row(), null_row(3)]);
    // Display as the mysql client prints.
    assert_eq!(rows[0][15].to_string(), "-838:59:59");
    assert_eq!(rows[1][16].to_string(), "9999-12-31 23:59:59.999999");
    assert_eq!(rows[1][20].as_u64(), Some(u64::MAX));
    assert_eq!(rows[1][19].as_u64(), Some(1));
}

#[test]
fn binary_protocol_reads_every_type_at_its_limits() {
    let rows =
        prepared(types_url(), "SELECT * FROM all_types WHERE id <= ? ORDER BY id", vec![MySQLCell::Int(3)]).rows();
    assert_rows(&rows, &[min_row(), max_row(), null_row(3)]);
}

#[test]
fn column_definitions() {
    let fields = query(types_url(), "SELECT t.*, 1 + 1 AS two FROM all_types AS t WHERE id = 1").fields();
    assert_eq!(fields.len(), 30);
    for (f, name) in fields.iter().zip(NAMES) {
        if name.is_empty() {
            break;
        }
        assert_eq!((f.name(), f.org_name(), f.table(), f.org_table(), f.db()), (name, name, "t", "all_types", "types"));
    }
    let field = |name: &str| fields.iter().find(|f| f.name() == name).unwrap_or_else(|| panic!("no field {name}"));
    // MYSQL_TYPE_* and UNSIGNED (32).
    let types = [
        ("ti", 1),
        ("si", 2),
        ("mi", 9),
        ("i", 3),
        ("bi", 8),
        ("f", 4),
        ("d", 5),
        ("de", 246),
        ("da", 10),
        ("tm", 11),
        ("dt", 12),
        ("ts", 7),
        ("y", 13),
        ("b1", 16),
        ("b64", 16),
        ("bl", 252),
        ("vb", 253),
        ("c", 254),
        ("vc", 253),
        ("tx", 252),
    ];
    for (name, ty) in types {
        assert_eq!(field(name).data_type(), ty, "type of {name}");
    }
    for name in ["tiu", "siu", "miu", "iu", "biu"] {
        assert_ne!(field(name).flags() & 32, 0, "{name} is UNSIGNED");
        assert_eq!(field(name).data_type(), field(&name[..name.len() - 1]).data_type());
    }
    for name in ["ti", "si", "mi", "i", "bi"] {
        assert_eq!(field(name).flags() & 32, 0, "{name} is signed");
    }
    assert_ne!(field("id").flags() & 2, 0, "id is the primary key");
    assert_ne!(field("id").flags() & 1, 0, "id is NOT NULL");
    assert_eq!(field("de").decimals(), 30);
    assert_eq!(field("dt").decimals(), 6);
    for name in ["bl", "vb"] {
        assert_eq!(field(name).charset(), 63, "{name} is binary");
    }
    for name in ["c", "vc", "tx", "e", "st"] {
        assert_ne!(field(name).charset(), 63, "{name} is text");
    }
    // An expression has no table.
    let two = field("two");
    assert_eq!((two.table(), two.org_table(), two.org_name()), ("", "", ""));
    assert_eq!(two.data_type(), 3);
}

#[test]
fn zero_dates_and_fractional_times() {
    let url = types_url();
    let r = query(
        url,
        "CREATE TABLE zero_dates (id INT, d DATE, dt DATETIME, tm TIME(6), dt6 DATETIME(6), ts TIMESTAMP(6) NULL); \
         SET sql_mode = ''; \
         INSERT INTO zero_dates VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '12:34:56.789012', \
         '2024-02-29 23:59:59.000001', '2024-02-29 12:00:00.5'); \
         INSERT INTO zero_dates VALUES (2, '2024-02-29', '2024-02-29 01:02:03', '-00:00:00.000001', \
         '2000-01-01 00:00:00', '2000-01-01 00:00:00'); \
         SELECT @@sql_mode",
    );
    let res = support::results(r.clean());
    assert_eq!(res.len(), 5);
    assert_eq!(res[4].1, vec![vec![text("")]]);
    let want = vec![
        vec![
            MySQLCell::Int(1),
            MySQLCell::Date(date(0, 0, 0)),
            datetime(date(0, 0, 0), 0, 0, 0, 0),
            time(false, 12, 34, 56, 789_012),
            datetime(date(2024, 2, 29), 23, 59, 59, 1),
            datetime(date(2024, 2, 29), 12, 0, 0, 500_000),
        ],
        vec![
            MySQLCell::Int(2),
            MySQLCell::Date(date(2024, 2, 29)),
            datetime(date(2024, 2, 29), 1, 2, 3, 0),
            time(true, 0, 0, 0, 1),
            datetime(date(2000, 1, 1), 0, 0, 0, 0),
            datetime(date(2000, 1, 1), 0, 0, 0, 0),
        ],
    ];
    let sql = "SELECT * FROM zero_dates ORDER BY id";
    let rows = query(url, sql).rows();
    assert_eq!(rows, want, "text protocol");
    assert_eq!(rows[0][1].to_string(), "0000-00-00");
    assert_eq!(rows[0][3].to_string(), "12:34:56.789012");
    assert_eq!(rows[1][3].to_string(), "-00:00:00.000001");
    assert_eq!(prepared(url, sql, vec![]).rows(), want, "binary protocol");
}

#[test]
fn select_parameter_round_trips() {
    let url = types_url();
    let all = all_bytes();
    let cases: Vec<(MySQLCell, MySQLCell)> = vec![
        (MySQLCell::Int(i64::MIN), MySQLCell::Int(i64::MIN)),
        (MySQLCell::Int(i64::MAX), MySQLCell::Int(i64::MAX)),
        (MySQLCell::Int(-1), MySQLCell::Int(-1)),
        (MySQLCell::UInt(u64::MAX), MySQLCell::UInt(u64::MAX)),
        (MySQLCell::Double(f64::MIN_POSITIVE), MySQLCell::Double(f64::MIN_POSITIVE)),
        (MySQLCell::Double(-0.1), MySQLCell::Double(-0.1)),
        (
            MySQLCell::Decimal("-12345678901234567890.123456789".into()),
            MySQLCell::Decimal("-12345678901234567890.123456789".into()),
        ),
        (MySQLCell::Date(date(2024, 2, 29)), MySQLCell::Date(date(2024, 2, 29))),
        (datetime(date(2024, 2, 29), 23, 59, 59, 999_999), datetime(date(2024, 2, 29), 23, 59, 59, 999_999)),
        (time(true, 838, 59, 59, 0), time(true, 838, 59, 59, 0)),
        (time(false, 12, 34, 56, 789_012), time(false, 12, 34, 56, 789_012)),
        (text("it's \"quoted\" \\ 🦀"), text("it's \"quoted\" \\ 🦀")),
        (text(""), text("")),
        (bin(&all), bin(&all)),
        (MySQLCell::Null, MySQLCell::Null),
    ];
    for (param, want) in cases {
        let got = prepared(url, "SELECT ?", vec![param.clone()]).value();
        assert_eq!(got, want, "SELECT ? with {param:?}");
    }
    // Kinds whose column type the server chooses: compare the values.
    let got = prepared(url, "SELECT ?", vec![MySQLCell::Float(-3.5)]).value();
    assert_eq!(got.as_f64(), Some(-3.5), "{got:?}");
    let got = prepared(url, "SELECT ?", vec![MySQLCell::Year(2024)]).value();
    assert_eq!(got.as_u64(), Some(2024), "{got:?}");
    let got = prepared(url, "SELECT ?", vec![bit(&[0x80, 0x01])]).value();
    assert_eq!(got.as_bytes(), Some(&[0x80, 0x01][..]), "{got:?}");
    // Several parameters, with NULLs between them (the NULL bitmap).
    let mut params = Vec::new();
    for i in 0..20 {
        params.push(if i % 3 == 0 { MySQLCell::Null } else { MySQLCell::Int(i) });
    }
    let placeholders = vec!["?"; 20].join(", ");
    let rows = prepared(url, &format!("SELECT {placeholders}"), params.clone()).rows();
    assert_eq!(rows, vec![params]);
}

/// The parameters that write `row` (id replaced by `id`) into a table
/// like `all_types`.
fn params_of(row: &[MySQLCell], id: i64) -> Vec<MySQLCell> {
    let mut p = row.to_vec();
    p[0] = MySQLCell::Int(id);
    p
}

#[test]
fn insert_with_typed_parameters_then_select() {
    let url = types_url();
    let placeholders = vec!["?"; 29].join(", ");
    let insert = format!("INSERT INTO copies VALUES ({placeholders})");
    for (id, row) in [(11, min_row()), (12, max_row()), (13, null_row(13))] {
        let r = prepared(url, &insert, params_of(&row, id));
        let resp = r.clean();
        assert_eq!(resp.affected_rows(), 1, "insert {id}");
    }
    let want = [params_of(&min_row(), 11), params_of(&max_row(), 12), null_row(13)];
    let sql = "SELECT * FROM copies WHERE id BETWEEN 11 AND 13 ORDER BY id";
    assert_rows(&query(url, sql).rows(), &want);
    assert_rows(&prepared(url, sql, vec![]).rows(), &want);
    // Both ways of writing give the same row.
    let r = query(
        url,
        "SELECT COUNT(*) FROM all_types a JOIN copies c ON c.id = a.id + 10 \
         WHERE a.ti <=> c.ti AND a.biu <=> c.biu AND a.de <=> c.de AND a.tm <=> c.tm AND a.dt <=> c.dt \
         AND a.ts <=> c.ts AND a.bl <=> c.bl AND a.b64 <=> c.b64 AND a.vc <=> c.vc AND a.j <=> c.j",
    );
    assert_eq!(r.value(), MySQLCell::Int(3));
}

#[test]
fn hex_of_binary_columns_matches() {
    // The server agrees on what the BLOB holds (not only our reader).
    let r = query(types_url(), "SELECT HEX(bl), LENGTH(bl), HEX(b64) FROM all_types WHERE id = 1");
    let row = &r.rows()[0];
    assert_eq!(row[0], text(&hex(&all_bytes())));
    assert_eq!(row[1], MySQLCell::Int(256));
    assert_eq!(row[2], text("0"));
}

#[test]
fn a_wrong_parameter_count_is_einval() {
    let url = types_url();
    for (sql, params) in [
        ("SELECT ?, ?", vec![MySQLCell::Int(1)]),
        ("SELECT ?", vec![MySQLCell::Int(1), MySQLCell::Int(2)]),
        ("SELECT ?", vec![]),
        ("SELECT 1", vec![MySQLCell::Null]),
    ] {
        prepared(url, sql, params).assert_failed(wf_core::State::SysError, libc::EINVAL);
    }
    // The pool is fine afterwards.
    assert_eq!(prepared(url, "SELECT ?", vec![MySQLCell::Int(1)]).value(), MySQLCell::Int(1));
}

#[test]
fn a_statement_that_does_not_prepare_is_an_error_packet() {
    let url = types_url();
    let r = prepared(url, "SELEC ?", vec![MySQLCell::Int(1)]);
    let resp = r.ok();
    assert_eq!((resp.error_code(), resp.sql_state()), (1064, "42000"), "{}", resp.error_msg());
    assert_eq!(resp.packet_type(), wf_mysql::PacketType::Error);
    let r = prepared(url, "SELECT * FROM no_such_table WHERE id = ?", vec![MySQLCell::Int(1)]);
    assert_eq!(r.ok().error_code(), 1146);
    // Several statements do not prepare.
    let r = prepared(url, "SELECT 1; SELECT 2", vec![]);
    assert_eq!(r.ok().error_code(), 1064);
    assert_eq!(prepared(url, "SELECT 2", vec![]).value(), MySQLCell::Int(2));
}

#[test]
fn prepared_writes_report_affected_rows_and_insert_ids() {
    let url = types_url();
    query(url, "CREATE TABLE auto_ids (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v INT UNIQUE)").clean();
    let r = prepared(url, "INSERT INTO auto_ids (v) VALUES (?)", vec![MySQLCell::Int(10)]);
    let resp = r.clean();
    assert_eq!((resp.affected_rows(), resp.last_insert_id(), resp.packet_type()), (1, 1, wf_mysql::PacketType::Ok));
    let r = prepared(
        url,
        "INSERT INTO auto_ids (v) VALUES (?), (?), (?)",
        vec![MySQLCell::Int(11), MySQLCell::Int(12), MySQLCell::Int(13)],
    );
    let resp = r.clean();
    assert_eq!((resp.affected_rows(), resp.last_insert_id()), (3, 2));
    let r = prepared(url, "UPDATE auto_ids SET v = v + ? WHERE id >= ?", vec![MySQLCell::Int(100), MySQLCell::UInt(3)]);
    assert_eq!(r.clean().affected_rows(), 2);
    // An explicit id beyond 32 bits.
    let r = prepared(url, "INSERT INTO auto_ids VALUES (?, ?)", vec![MySQLCell::UInt(1 << 40), MySQLCell::Int(1)]);
    let resp = r.clean();
    assert_eq!(resp.affected_rows(), 1);
    let r = prepared(url, "INSERT INTO auto_ids (v) VALUES (?)", vec![MySQLCell::Int(2)]);
    assert_eq!(r.clean().last_insert_id(), (1 << 40) + 1);
    // Executing (not preparing) fails: a duplicate key.
    let r = prepared(url, "INSERT INTO auto_ids (v) VALUES (?)", vec![MySQLCell::Int(10)]);
    let resp = r.ok();
    assert_eq!((resp.error_code(), resp.sql_state()), (1062, "23000"), "{}", resp.error_msg());
    // A statement without parameters or rows.
    assert!(prepared(url, "DO 1", vec![]).clean().is_ok_packet());
}

#[test]
fn a_thousand_parameters() {
    let sql = format!("SELECT {}", vec!["?"; 1000].join(", "));
    let params: Vec<MySQLCell> =
        (0..1000).map(|i| if i % 7 == 3 { MySQLCell::Null } else { MySQLCell::Int(i * 1_000_003) }).collect();
    assert_eq!(prepared(types_url(), &sql, params.clone()).rows(), vec![params]);
}
