//! `SELECT` from the URL's path: `/6` writes land in database 6 only; a
//! database the server does not have is `REDIS_ACCESS_DENIED` (3001); a
//! database that is not a number is `URI_PARSE_FAILED` (1001), before any
//! connection.

use crate::support;

use support::{cli, connections_received, exec, query, run, s, status, task};
use wf_core::{State, code};

#[test]
fn writes_land_in_the_selected_database() {
    let redis = testkit::RedisServer::start();
    let url6 = format!("redis://127.0.0.1:{}/6", redis.port());
    assert_eq!(query(&url6, "SET", ["k", "in-six"]), status("OK"));
    assert_eq!(cli(&redis, &["-n", "6", "GET", "k"]), "in-six");
    assert_eq!(cli(&redis, &["-n", "0", "EXISTS", "k"]), "0");
    // Database 0 (no path, or `/0`) and database 6 do not share a connection.
    let url0 = format!("redis://127.0.0.1:{}/0", redis.port());
    assert_eq!(query(&url0, "SET", ["k", "in-zero"]), status("OK"));
    assert_eq!(query(&format!("redis://127.0.0.1:{}", redis.port()), "GET", ["k"]), s("in-zero"));
    assert_eq!(query(&url6, "GET", ["k"]), s("in-six"));
    assert_eq!(cli(&redis, &["-n", "6", "GET", "k"]), "in-six");
}

#[test]
fn select_with_a_password() {
    let redis = testkit::RedisServer::builder().password("pw").start();
    let url = format!("redis://:pw@127.0.0.1:{}/3", redis.port());
    assert_eq!(query(&url, "SET", ["k", "three"]), status("OK"));
    assert_eq!(cli(&redis, &["-n", "3", "GET", "k"]), "three");
    let resp3 = format!("redis://:pw@127.0.0.1:{}/4?protocol=3", redis.port());
    assert_eq!(query(&resp3, "SET", ["k", "four"]), status("OK"));
    assert_eq!(cli(&redis, &["-n", "4", "GET", "k"]), "four");
}

#[test]
fn database_out_of_range_is_access_denied_without_retry() {
    let redis = testkit::RedisServer::start();
    let url = format!("redis://127.0.0.1:{}/99", redis.port());
    let before = connections_received(&redis);
    let mut t = task(&url, 3);
    t.set_request("SET", ["k", "v"]);
    run(t).assert_failed(State::TaskError, wf_redis::code::ACCESS_DENIED);
    assert_eq!(connections_received(&redis) - before, 2, "the refused SELECT was retried");
    assert_eq!(cli(&redis, &["EXISTS", "k"]), "0");
}

#[test]
fn non_numeric_database_is_a_uri_parse_error() {
    let redis = testkit::RedisServer::start();
    let before = connections_received(&redis);
    for path in ["x", "1x", "-1"] {
        let url = format!("redis://127.0.0.1:{}/{path}", redis.port());
        exec(&url, "GET", ["k"]).assert_failed(State::TaskError, code::URI_PARSE_FAILED);
    }
    assert_eq!(connections_received(&redis) - before, 1, "a task with a bad URL connected");
}
