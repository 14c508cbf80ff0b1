//! Logging in to a real MariaDB: the `wf` user, wrong passwords and
//! unknown users (`TASK_ERROR` 4002, never retried: one login attempt),
//! `client_ed25519` (an auth switch: MariaDB greets with
//! `mysql_native_password`), `mysql_native_password` named explicitly,
//! empty and percent-encoded passwords, a database that does not exist or
//! is not granted, and `mysqls://` to a server without TLS (4006).

mod support;

use std::sync::{Mutex, MutexGuard, OnceLock};

use support::{global_status, query, query_retry, root_sql, shared, text, url_of};
use wf_core::State;
use wf_mysql::MySQLCell;

/// Held by every test whose login fails, so that the server's
/// `Aborted_connects` counts one test's attempts at a time.
fn failing_logins() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    wf_core::lock::lock(&LOCK)
}

/// Installs `auth_ed25519` once (a second `INSTALL SONAME` fails).
fn ed25519_installed() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        shared().sql_ok("INSTALL SONAME 'auth_ed25519'");
    });
}

/// The login counters of the shared server: failed logins, and the ones
/// refused for a bad password.
fn login_failures() -> (u64, u64) {
    (global_status(shared(), "Aborted_connects"), global_status(shared(), "Access_denied_errors"))
}

#[test]
fn the_wf_user_logs_in_to_its_database() {
    let db = shared();
    let rows = query(&db.url(), "SELECT CURRENT_USER(), DATABASE(), @@character_set_client").rows();
    assert_eq!(rows.len(), 1);
    assert!(rows[0][0].as_str().unwrap().starts_with("wf@"), "{rows:?}");
    assert_eq!(rows[0][1], text("wf_test"));
    assert_eq!(rows[0][2], text("utf8mb4"));
    // The URL without a database: none is selected.
    let url = format!("mysql://wf:wf_pass@127.0.0.1:{}", db.port());
    assert_eq!(query(&url, "SELECT DATABASE()").value(), MySQLCell::Null);
    let url = format!("mysql://wf:wf_pass@127.0.0.1:{}/", db.port());
    assert_eq!(query(&url, "SELECT DATABASE()").value(), MySQLCell::Null);
}

#[test]
fn login_over_the_unix_socket() {
    let db = shared();
    let host = db.socket().to_str().unwrap().replace('/', "%2F");
    let url = format!("mysql://wf:wf_pass@{host}/wf_test");
    let rows = query(&url, "SELECT CURRENT_USER(), DATABASE()").rows();
    // Over the socket the account is 'wf'@'localhost'.
    assert_eq!(rows, vec![vec![text("wf@localhost"), text("wf_test")]]);
    let prepared = support::prepared(&url, "SELECT ?", vec![text("unix")]).value();
    assert_eq!(prepared, text("unix"));
    // root has no password.
    let url = format!("mysql://root@{host}/");
    assert_eq!(query(&url, "SELECT CURRENT_USER()").value(), text("root@localhost"));
}

#[test]
fn a_wrong_password_is_access_denied_and_not_retried() {
    let db = shared();
    let _g = failing_logins();
    let (aborted, denied) = login_failures();
    let url = url_of(db, "wf", "not_the_password", "wf_test");
    query_retry(&url, "SELECT 1", 3).assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    let (aborted2, denied2) = login_failures();
    assert_eq!(aborted2 - aborted, 1, "one login attempt, not retried (Aborted_connects {aborted} -> {aborted2})");
    assert_eq!(denied2 - denied, 1, "Access_denied_errors {denied} -> {denied2}");
    // The right password still works afterwards.
    assert_eq!(query(&db.url(), "SELECT 1").value(), MySQLCell::Int(1));
}

#[test]
fn an_unknown_user_is_access_denied_and_not_retried() {
    let db = shared();
    let _g = failing_logins();
    let (aborted, _) = login_failures();
    let url = url_of(db, "nobody_here", "x", "wf_test");
    query_retry(&url, "SELECT 1", 3).assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    // Without a password too.
    let url = format!("mysql://nobody_here@127.0.0.1:{}/", db.port());
    query_retry(&url, "SELECT 1", 3).assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    let (aborted2, _) = login_failures();
    assert_eq!(aborted2 - aborted, 2, "one attempt per task");
}

#[test]
fn a_database_that_does_not_exist_is_access_denied() {
    // MariaDB refuses the login with 1049 (Unknown database); the task
    // maps every refusal but 1040/1129/1130 to 4002.
    let db = shared();
    let _g = failing_logins();
    let url = url_of(db, "wf", "wf_pass", "no_such_database");
    query_retry(&url, "SELECT 1", 2).assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
}

#[test]
fn a_database_the_user_may_not_use_is_access_denied() {
    let db = shared();
    db.sql_ok(
        "CREATE DATABASE IF NOT EXISTS auth_private; \
         CREATE USER IF NOT EXISTS 'limited'@'%' IDENTIFIED BY 'limited_pw'; \
         CREATE DATABASE IF NOT EXISTS auth_limited; \
         GRANT ALL ON auth_limited.* TO 'limited'@'%'",
    );
    assert_eq!(query(&url_of(db, "limited", "limited_pw", "auth_limited"), "SELECT 7").value(), MySQLCell::Int(7));
    let _g = failing_logins();
    query(&url_of(db, "limited", "limited_pw", "auth_private"), "SELECT 1")
        .assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
}

#[test]
fn an_ed25519_user_logs_in_through_an_auth_switch() {
    let db = shared();
    ed25519_installed();
    db.sql_ok(
        "CREATE DATABASE IF NOT EXISTS auth_ed; \
         CREATE USER 'ed_user'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed pw ✓'); \
         GRANT ALL ON auth_ed.* TO 'ed_user'@'%'",
    );
    assert_eq!(root_sql(db, "SELECT plugin FROM mysql.user WHERE user = 'ed_user'"), "ed25519");
    // The server greets every client with its default plugin, so an
    // ed25519 account is always reached through an AuthSwitchRequest.
    let url = url_of(db, "ed_user", "ed%20pw%20%E2%9C%93", "auth_ed");
    let rows = query(&url, "SELECT CURRENT_USER(), DATABASE()").rows();
    assert_eq!(rows, vec![vec![text("ed_user@%"), text("auth_ed")]]);
    // Pooled: a second task reuses the connection; a prepared one works too.
    let rows = support::prepared(&url, "SELECT ?", vec![MySQLCell::Int(5)]).rows();
    assert_eq!(rows[0][0].as_i64(), Some(5));

    let _g = failing_logins();
    let (aborted, _) = login_failures();
    query_retry(&url_of(db, "ed_user", "wrong", "auth_ed"), "SELECT 1", 3)
        .assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
    let (aborted2, _) = login_failures();
    assert_eq!(aborted2 - aborted, 1);
}

#[test]
fn a_mysql_native_password_user_logs_in() {
    let db = shared();
    db.sql_ok(
        "CREATE DATABASE IF NOT EXISTS auth_native; \
         CREATE USER 'native_user'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('native_pw'); \
         GRANT ALL ON auth_native.* TO 'native_user'@'%'",
    );
    assert_eq!(root_sql(db, "SELECT plugin FROM mysql.user WHERE user = 'native_user'"), "mysql_native_password");
    let rows = query(&url_of(db, "native_user", "native_pw", "auth_native"), "SELECT CURRENT_USER()").rows();
    assert_eq!(rows, vec![vec![text("native_user@%")]]);
}

#[test]
fn a_user_without_a_password_logs_in() {
    let db = shared();
    db.sql_ok("CREATE USER 'nopw'@'%'; GRANT SELECT ON wf_test.* TO 'nopw'@'%'");
    for url in [
        format!("mysql://nopw@127.0.0.1:{}/wf_test", db.port()),
        format!("mysql://nopw:@127.0.0.1:{}/wf_test", db.port()),
    ] {
        assert_eq!(query(&url, "SELECT CURRENT_USER()").value(), text("nopw@%"), "{url}");
    }
    // A password where none is set is refused.
    let _g = failing_logins();
    query(&url_of(db, "nopw", "something", "wf_test"), "SELECT 1")
        .assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
}

#[test]
fn a_password_with_reserved_characters_is_percent_decoded() {
    let db = shared();
    db.sql_ok("CREATE USER 'odd'@'%' IDENTIFIED BY 'p@ss:w/rd?#%&'; GRANT SELECT ON wf_test.* TO 'odd'@'%'");
    let url = url_of(db, "odd", "p%40ss%3Aw%2Frd%3F%23%25%26", "wf_test");
    assert_eq!(query(&url, "SELECT CURRENT_USER()").value(), text("odd@%"));
}

#[test]
fn mysqls_to_a_server_without_tls_is_ssl_not_supported() {
    let db = shared();
    assert_eq!(root_sql(db, "SELECT @@have_ssl"), "DISABLED");
    let _g = failing_logins();
    let url = format!("mysqls://wf:wf_pass@127.0.0.1:{}/wf_test", db.port());
    query_retry(&url, "SELECT 1", 2).assert_failed(State::TaskError, wf_mysql::code::SSL_NOT_SUPPORTED);
}
