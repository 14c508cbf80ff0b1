//! `AUTH` from the URL against a real `redis-server` with `requirepass`
//! and an ACL user: the right password works; a wrong one, or none, is
//! `TASK_ERROR`/`REDIS_ACCESS_DENIED` (3001) and is never retried.

use crate::support;

use support::{connections_received, exec, int, query, run, s, status, task};
use wf_core::State;

const PASSWORD: &str = "s3cret";

fn secured() -> testkit::RedisServer {
    testkit::RedisServer::builder().password(PASSWORD).user("app", "app-pw").start()
}

#[test]
fn correct_password_works() {
    let redis = secured();
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.port());
    assert_eq!(url, redis.url());
    assert_eq!(query(&url, "SET", ["k", "v"]), status("OK"));
    assert_eq!(query(&url, "GET", ["k"]), s("v"));
    // A second task reuses the authenticated connection.
    assert_eq!(query(&url, "INCR", ["n"]), int(1));
}

#[test]
fn wrong_password_is_access_denied_without_retry() {
    let redis = secured();
    let url = format!("redis://:wrong@127.0.0.1:{}", redis.port());
    let before = connections_received(&redis);
    let mut t = task(&url, 3);
    t.set_request("GET", ["k"]);
    let o = run(t);
    o.assert_failed(State::TaskError, wf_redis::code::ACCESS_DENIED);
    assert!(o.results.is_empty(), "{:?}", o.results);
    // One connection for the task (not 4), one for this INFO.
    let after = connections_received(&redis);
    assert_eq!(after - before, 2, "the refused AUTH was retried");
}

#[test]
fn no_password_is_noauth_access_denied() {
    let redis = secured();
    let url = format!("redis://127.0.0.1:{}", redis.port());
    let before = connections_received(&redis);
    let mut t = task(&url, 2);
    t.set_request("SET", ["k", "v"]);
    run(t).assert_failed(State::TaskError, wf_redis::code::ACCESS_DENIED);
    // And the write did not happen.
    assert_eq!(support::cli(&redis, &["EXISTS", "k"]), "0");
    let after = connections_received(&redis);
    assert_eq!(after - before, 3, "NOAUTH was retried (connections: task + EXISTS + INFO)");
}

#[test]
fn acl_user_and_password_work() {
    let redis = secured();
    let url = format!("redis://app:app-pw@127.0.0.1:{}", redis.port());
    assert_eq!(query(&url, "SET", ["acl", "yes"]), status("OK"));
    assert_eq!(query(&url, "ACL", ["WHOAMI"]), s("app"));
    assert_eq!(support::cli(&redis, &["GET", "acl"]), "yes");
}

#[test]
fn acl_user_with_wrong_password_is_access_denied() {
    let redis = secured();
    let url = format!("redis://app:nope@127.0.0.1:{}", redis.port());
    exec(&url, "PING", support::NONE).assert_failed(State::TaskError, wf_redis::code::ACCESS_DENIED);
    // The refusal left nothing behind: the right credentials still work.
    let good = format!("redis://app:app-pw@127.0.0.1:{}", redis.port());
    assert_eq!(query(&good, "PING", support::NONE), status("PONG"));
}

#[test]
fn password_with_reserved_characters_is_percent_decoded() {
    let password = "p@ss:w/rd%";
    let redis = testkit::RedisServer::builder().password(password).start();
    // testkit percent-encodes the password in its URL.
    let url = redis.url();
    assert!(url.contains("%40"), "{url}");
    assert_eq!(query(&url, "SET", ["k", "v"]), status("OK"));
    assert_eq!(query(&url, "GET", ["k"]), s("v"));
}

#[test]
fn resp3_hello_carries_the_credentials() {
    let redis = secured();
    let url = format!("redis://app:app-pw@127.0.0.1:{}/?protocol=3", redis.port());
    assert_eq!(query(&url, "ACL", ["WHOAMI"]), s("app"));
    let bad = format!("redis://app:nope@127.0.0.1:{}/?protocol=3", redis.port());
    exec(&bad, "PING", support::NONE).assert_failed(State::TaskError, wf_redis::code::ACCESS_DENIED);
    let default_user = format!("redis://:{PASSWORD}@127.0.0.1:{}?protocol=3", redis.port());
    assert_eq!(query(&default_user, "ACL", ["WHOAMI"]), s("default"));
}
