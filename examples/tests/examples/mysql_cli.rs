//! `mysql_cli` (tutorial 12) run as a program: SQL on its standard input,
//! tables on its standard output, against wf's own `MySQLServer` and a
//! real MariaDB.

use std::io::Write;
use std::process::{Command, Stdio};

use wf::mysql::MySQLServer;

/// Runs `mysql_cli <url>` with `input` on its standard input and returns
/// its standard output.
fn cli(url: &str, input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mysql_cli"))
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mysql_cli starts");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write the SQL");
    let out = child.wait_with_output().expect("mysql_cli ends");
    assert!(out.status.success(), "mysql_cli failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("text")
}

/// A server that answers `SELECT…` with a table, `INSERT…` with an OK and
/// anything else with an error.
fn server() -> (MySQLServer, String) {
    let server = MySQLServer::new(|task| {
        let sql = String::from_utf8_lossy(task.req().query()).into_owned();
        let resp = task.resp_mut();
        if sql.starts_with("SELECT") {
            resp.set_result_set(&["id", "query"], [[Some("1".to_owned()), Some(sql)], [Some("22".to_owned()), None]]);
        } else if sql.starts_with("INSERT") {
            resp.set_ok_packet(1, 42);
        } else {
            resp.set_error_packet(1064, "42000", "You have an error in your SQL syntax");
        }
    });
    server.start_on("127.0.0.1", 0).expect("listen");
    // No scheme: mysql_cli adds `mysql://`.
    let url = format!("root@127.0.0.1:{}/db", server.listen_addr().expect("listening").port());
    (server, url)
}

#[test]
fn prints_tables_oks_and_errors_from_a_wf_server() {
    let (server, url) = server();
    let out = cli(&url, "SELECT 'hi';\nINSERT INTO t VALUES (1)\n\nBOGUS\nquit\nSELECT 'never sent'\n");
    let expected = "\
mysql> SELECT 'hi';
+----+-------------+
| id | query       |
+----+-------------+
| 1  | SELECT 'hi' |
| 22 | NULL        |
+----+-------------+
2 rows in set

mysql> INSERT INTO t VALUES (1)
Query OK, 1 row affected, insert id 42

mysql>\x20
mysql> BOGUS
ERROR 1064 (42000): You have an error in your SQL syntax

mysql> quit
Bye
";
    assert_eq!(out, expected);
    server.stop();
}

#[test]
fn end_of_input_ends_it_and_a_dead_server_is_an_error() {
    let (server, url) = server();
    server.stop();
    let out = cli(&url, "SELECT 1");
    assert!(out.starts_with("mysql> SELECT 1\nERROR: "), "{out}");
    assert!(out.ends_with("mysql> \nBye\n"), "{out}");
}

#[test]
fn walks_every_result_set_of_a_multi_statement_line_against_mariadb() {
    let db = testkit::MariaDb::start();
    let input = "\
CREATE TABLE cli (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32), score DOUBLE, at DATETIME(6))
INSERT INTO cli (name, score, at) VALUES ('wf', 1.5, '2026-11-25 12:00:00.250000'); INSERT INTO cli (name) VALUES ('ü'); SELECT * FROM cli ORDER BY id; SELECT COUNT(*) AS n FROM cli WHERE id > 10
DELETE FROM cli WHERE id = 2; SELECT nosuchcol FROM cli; SELECT 'not reached'
SELECT 'semicolons and spaces at the end are dropped' AS s ;\x20\x20
exit
";
    let out = cli(&db.url(), input);
    let expected = "\
mysql> CREATE TABLE cli (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32), score DOUBLE, at DATETIME(6))
Query OK, 0 rows affected

mysql> INSERT INTO cli (name, score, at) VALUES ('wf', 1.5, '2026-11-25 12:00:00.250000'); INSERT INTO cli (name) VALUES ('ü'); SELECT * FROM cli ORDER BY id; SELECT COUNT(*) AS n FROM cli WHERE id > 10
Query OK, 1 row affected, insert id 1

Query OK, 1 row affected, insert id 2

+----+------+-------+----------------------------+
| id | name | score | at                         |
+----+------+-------+----------------------------+
|  1 | wf   |   1.5 | 2026-11-25 12:00:00.250000 |
|  2 | ü    |  NULL | NULL                       |
+----+------+-------+----------------------------+
2 rows in set

+---+
| n |
+---+
| 0 |
+---+
1 row in set

mysql> DELETE FROM cli WHERE id = 2; SELECT nosuchcol FROM cli; SELECT 'not reached'
Query OK, 1 row affected

ERROR 1054 (42S22): Unknown column 'nosuchcol' in 'SELECT'

mysql> SELECT 'semicolons and spaces at the end are dropped' AS s ;\x20\x20
+----------------------------------------------+
| s                                            |
+----------------------------------------------+
| semicolons and spaces at the end are dropped |
+----------------------------------------------+
1 row in set

mysql> exit
Bye
";
    assert_eq!(out, expected);
}

#[test]
fn prints_the_info_of_an_ok() {
    let db = testkit::MariaDb::start();
    let input = "\
CREATE TABLE info (id INT PRIMARY KEY, n INT)
INSERT INTO info VALUES (1, 1), (2, 2); UPDATE info SET n = 2
";
    let out = cli(&db.url(), input);
    let expected = "\
mysql> CREATE TABLE info (id INT PRIMARY KEY, n INT)
Query OK, 0 rows affected

mysql> INSERT INTO info VALUES (1, 1), (2, 2); UPDATE info SET n = 2
Query OK, 2 rows affected
Records: 2  Duplicates: 0  Warnings: 0

Query OK, 1 row affected
Rows matched: 2  Changed: 1  Warnings: 0

mysql>\x20
Bye
";
    assert_eq!(out, expected);
}
