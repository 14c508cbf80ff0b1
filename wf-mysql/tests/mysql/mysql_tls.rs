//! `mysqls://` against a MariaDB serving TLS with a certificate from a
//! private CA: the TLS upgrade after the greeting (`Ssl_cipher` set on the
//! session), the default verifying client refusing the unknown CA, plain
//! `mysql://` on the same server, a `REQUIRE SSL` account, fixed
//! connections and prepared statements over TLS.
#![cfg(feature = "tls")]

use crate::support;

use std::sync::OnceLock;

use support::{Outcome, query, run, run_with, text};
use testkit::Pki;
use wf_core::State;
use wf_core::net::tls::TlsClient;
use wf_mysql::{MySQLCell, MySQLConnection, MySql, create_mysql_task, create_mysql_task_with};

fn pki() -> Pki {
    Pki::new("wf-mysql test CA")
}

struct Tls {
    db: testkit::MariaDb,
    ca_pem: String,
}

/// The TLS MariaDB of this file (the certificate files are copied by
/// testkit at start, so they are removed right after).
fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let pki = pki();
        let dir = std::env::temp_dir().join(format!("wf-mysql-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &pki.cert_pem).unwrap();
        std::fs::write(&key, &pki.key_pem).unwrap();
        let db = testkit::MariaDb::builder().tls(&cert, &key).start();
        std::fs::remove_dir_all(&dir).unwrap();
        db.sql_ok(
            "CREATE USER 'secure'@'%' IDENTIFIED BY 'secure_pw' REQUIRE SSL; \
             GRANT ALL ON wf_test.* TO 'secure'@'%'",
        );
        Tls { db, ca_pem: pki.ca_pem }
    })
}

fn client() -> TlsClient {
    TlsClient::with_root_pem(tls().ca_pem.as_bytes()).expect("the CA parses")
}

fn mysqls(user: &str, password: &str) -> String {
    format!("mysqls://{user}:{password}@127.0.0.1:{}/wf_test", tls().db.port())
}

fn query_tls(protocol: &MySql, url: &str, sql: &str) -> Outcome {
    let mut t = create_mysql_task_with(protocol.clone(), url, 0, |_| {});
    t.set_query(sql.to_owned());
    run(t)
}

/// The session's `Ssl_cipher` (empty without TLS).
#[track_caller]
fn cipher(o: &Outcome) -> String {
    let rows = o.rows();
    assert_eq!(rows[0][0], text("Ssl_cipher"));
    rows[0][1].as_str().unwrap().to_owned()
}

#[test]
fn mysqls_with_a_private_ca_runs_over_tls() {
    let protocol = MySql::with_tls(client());
    let url = mysqls("wf", "wf_pass");
    let o = query_tls(&protocol, &url, "SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    assert!(!cipher(&o).is_empty(), "no cipher: {:?}", o.rows());
    let o = query_tls(
        &protocol,
        &url,
        "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'",
    );
    assert!(o.value().as_str().unwrap().starts_with("TLSv1."), "{:?}", o.value());
    // Several statements, a larger reply, and the pooled TLS connection
    // used again.
    let o = query_tls(&protocol, &url, "SELECT REPEAT('x', 3000000); SELECT CURRENT_USER()");
    let res = support::results(o.clean());
    assert_eq!(res[0].1[0][0].as_bytes().map(<[u8]>::len), Some(3_000_000));
    assert_eq!(res[1].1, vec![vec![text("wf@%")]]);
}

#[test]
fn the_default_client_refuses_an_unknown_ca() {
    let o = query(&mysqls("wf", "wf_pass"), "SELECT 1");
    assert_eq!(o.state, State::SslError, "{:?} ({})", o.error, o.error);
}

#[test]
fn plain_mysql_on_the_tls_server_has_no_cipher() {
    let url = format!("mysql://wf:wf_pass@127.0.0.1:{}/wf_test", tls().db.port());
    assert_eq!(cipher(&query(&url, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")), "");
}

#[test]
fn a_require_ssl_user_logs_in_over_mysqls_only() {
    let protocol = MySql::with_tls(client());
    let o = query_tls(&protocol, &mysqls("secure", "secure_pw"), "SELECT CURRENT_USER()");
    assert_eq!(o.value(), text("secure@%"));
    let plain = format!("mysql://secure:secure_pw@127.0.0.1:{}/wf_test", tls().db.port());
    query(&plain, "SELECT 1").assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
}

/// Every task of a `MySQLConnection::with_tls` runs on its one TLS
/// connection. The pool key of `mysqls://` holds the address of the TLS
/// settings inside the task's own copy of the protocol, which differs
/// between tasks: the next task opens a new connection, which a fixed
/// connection reports as lost (`ECONNRESET`).
#[test]
fn a_fixed_connection_over_tls_keeps_its_connection() {
    let conn = MySQLConnection::with_tls(1, &mysqls("wf", "wf_pass"), client());
    let o = run_with(|cb| conn.create_query_task("SET @v = 'tls'; SHOW SESSION STATUS LIKE 'Ssl_cipher'", cb));
    let res = support::results(o.clean());
    assert!(!res[1].1[0][1].as_str().unwrap().is_empty());
    for i in 0..4 {
        let o = run_with(|cb| conn.create_prepared_task("SELECT @v, ?", vec![MySQLCell::Int(i)], cb));
        assert_eq!(o.rows(), vec![vec![text("tls"), MySQLCell::Int(i)]], "prepared task {i}");
        let o = run_with(|cb| conn.create_query_task("SELECT @v", cb));
        assert_eq!(o.value(), text("tls"), "query task {i}");
    }
    run_with(|cb| conn.create_disconnect_task(cb)).ok();
}

/// The same for pooled connections: one after the other, `mysqls://`
/// tasks with one protocol value should share one connection; a new one
/// is opened (and the old one left idle) for most tasks.
#[test]
fn sequential_mysqls_tasks_reuse_one_pooled_connection() {
    let db = &tls().db;
    db.sql_ok("CREATE DATABASE tls_pool");
    let url = format!("mysqls://wf:wf_pass@127.0.0.1:{}/tls_pool", db.port());
    let protocol = MySql::with_tls(client());
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..4 {
        ids.insert(query_tls(&protocol, &url, "SELECT CONNECTION_ID()").value().as_u64().unwrap());
        ids.insert(query_tls(&protocol, &url, "SELECT 1, CONNECTION_ID()").rows()[0][1].as_u64().unwrap());
    }
    let open = support::root_sql(db, "SELECT COUNT(*) FROM information_schema.processlist WHERE db = 'tls_pool'");
    assert_eq!(ids.len(), 1, "connections used: {ids:?}; open now: {open}");
}

#[test]
fn a_fixed_connection_over_tls_runs_prepared_statements() {
    // A prepared statement as the first task of the connection.
    let conn = MySQLConnection::with_tls(2, &mysqls("wf", "wf_pass"), client());
    let o = run_with(|cb| conn.create_prepared_task("SELECT ? + 1", vec![MySQLCell::Int(7)], cb));
    assert_eq!(o.value().as_i64(), Some(8));
}

/// `options_mut()` documents the task's TLS settings; for `mysqls://` the
/// handshake only looks at the protocol's (`MySql::with_tls`), so a CA
/// given there is ignored. A prepared task has no other way to get one
/// (there is no `create_prepared_task_with`).
#[test]
fn tls_settings_in_the_task_options_are_used_for_mysqls() {
    let mut t = create_mysql_task(&mysqls("wf", "wf_pass"), 0, |_| {});
    t.options_mut().set_tls(client());
    t.set_query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    let o = run(t);
    assert!(!cipher(&o).is_empty());
    let mut t =
        wf_mysql::create_prepared_task(&mysqls("wf", "wf_pass"), "SELECT ?", vec![MySQLCell::Int(1)], 0, |_| {});
    t.options_mut().set_tls(client());
    assert_eq!(run(t).value(), MySQLCell::Int(1));
}
