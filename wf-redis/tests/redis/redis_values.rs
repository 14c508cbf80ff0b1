//! Every RESP2 reply kind from a real `redis-server`, as `RedisValue`s:
//! nil, integer, bulk string, status, error (the task still succeeds),
//! arrays and nested arrays; accessors, indexing and `Display`.

use crate::support;

use std::sync::OnceLock;

use support::{NONE, exec, int, query, s, status};
use wf_redis::RedisValue;

fn url() -> &'static str {
    static SERVER: OnceLock<(testkit::RedisServer, String)> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let redis = testkit::RedisServer::start();
            let url = redis.url();
            (redis, url)
        })
        .1
}

#[test]
fn nil() {
    let v = query(url(), "GET", ["values:missing"]);
    assert_eq!(v, RedisValue::Nil);
    assert!(v.is_nil());
    assert_eq!(v.to_string(), "nil");
    // A nil array (RESP2 `*-1`) reads as nil too.
    assert_eq!(query(url(), "BLPOP", ["values:empty-list", "0.01"]), RedisValue::Nil);
}

#[test]
fn integer() {
    assert_eq!(query(url(), "INCR", ["values:n"]), int(1));
    let v = query(url(), "INCRBY", ["values:n", "-5"]);
    assert_eq!(v, int(-4));
    assert!(v.is_int());
    assert_eq!(v.as_int(), Some(-4));
    assert_eq!(v.to_string(), "-4");
    assert_eq!(query(url(), "INCRBY", ["values:big", &i64::MAX.to_string()]), int(i64::MAX));
}

#[test]
fn string_and_status() {
    let set = query(url(), "SET", ["values:s", "hello world"]);
    assert_eq!(set, status("OK"));
    assert!(set.is_status() && set.is_string() && set.is_ok());
    assert_eq!(set.to_string(), "OK");
    let v = query(url(), "GET", ["values:s"]);
    assert_eq!(v, s("hello world"));
    assert!(v.is_string() && !v.is_status());
    assert_eq!(v.as_str(), Some("hello world"));
    assert_eq!(v.to_string(), "\"hello world\"");
    assert_eq!(query(url(), "PING", NONE), status("PONG"));
    // An empty bulk string is not nil.
    assert_eq!(query(url(), "SET", ["values:empty", ""]), status("OK"));
    let e = query(url(), "GET", ["values:empty"]);
    assert_eq!(e, s(""));
    assert!(!e.is_nil());
}

#[test]
fn error_reply_is_a_value_of_a_successful_task() {
    assert_eq!(query(url(), "SET", ["values:text", "abc"]), status("OK"));
    let o = exec(url(), "INCR", ["values:text"]);
    let v = o.value();
    assert!(v.is_error() && !v.is_ok(), "{v:?}");
    assert_eq!(v.as_str(), Some("ERR value is not an integer or out of range"));
    assert_eq!(v.to_string(), "(error) ERR value is not an integer or out of range");
    let wrong = query(url(), "LPUSH", ["values:text", "x"]);
    assert!(wrong.as_str().unwrap().starts_with("WRONGTYPE"), "{wrong:?}");
}

#[test]
fn arrays() {
    assert_eq!(query(url(), "RPUSH", ["values:list", "a", "b", "c"]), int(3));
    let v = query(url(), "LRANGE", ["values:list", "0", "-1"]);
    assert_eq!(v, RedisValue::Array(vec![s("a"), s("b"), s("c")]));
    assert!(v.is_array());
    assert_eq!(v.len(), 3);
    assert_eq!(v[1].as_str(), Some("b"));
    assert!(v[3].is_nil(), "out of range is nil");
    assert_eq!(v.to_string(), r#"["a", "b", "c"]"#);
    let empty = query(url(), "LRANGE", ["values:nolist", "0", "-1"]);
    assert_eq!(empty, RedisValue::Array(vec![]));
    assert!(empty.is_empty());
    // MGET mixes strings and nils.
    query(url(), "SET", ["values:m1", "one"]);
    assert_eq!(
        query(url(), "MGET", ["values:m1", "values:m-missing"]),
        RedisValue::Array(vec![s("one"), RedisValue::Nil])
    );
}

#[test]
fn nested_arrays_and_display() {
    let v = query(url(), "EVAL", ["return {1, {2, 'a', {}}, 'x\\n'}", "0"]);
    let expected =
        RedisValue::Array(vec![int(1), RedisValue::Array(vec![int(2), s("a"), RedisValue::Array(vec![])]), s("x\n")]);
    assert_eq!(v, expected);
    assert_eq!(v[1][1].as_str(), Some("a"));
    assert!(v[1][1][0].is_nil(), "indexing a string is nil");
    assert_eq!(v.to_string(), r#"[1, [2, "a", []], "x\n"]"#);
    // A Lua error table is an error reply; a status table a status.
    let e = query(url(), "EVAL", ["return redis.error_reply('MY bad')", "0"]);
    assert_eq!(e, RedisValue::error("MY bad"));
    let st = query(url(), "EVAL", ["return redis.status_reply('FINE')", "0"]);
    assert_eq!(st, status("FINE"));
    // Errors nested in an array.
    // (Redis prefixes a nested error with `ERR`, depending on its version.)
    let mixed = query(url(), "EVAL", ["return {redis.error_reply('E1'), redis.status_reply('S')}", "0"]);
    assert_eq!(mixed.len(), 2, "{mixed:?}");
    assert!(mixed[0].is_error() && mixed[0].as_str().unwrap().ends_with("E1"), "{mixed:?}");
    assert_eq!(mixed[1], status("S"));
    assert_eq!(mixed.to_string(), format!("[(error) {}, S]", mixed[0].as_str().unwrap()));
}

#[test]
fn stream_entries_are_nested_arrays() {
    let id = query(url(), "XADD", ["values:stream", "1-1", "field", "value"]);
    assert_eq!(id, s("1-1"));
    let v = query(url(), "XRANGE", ["values:stream", "-", "+"]);
    assert_eq!(
        v,
        RedisValue::Array(vec![RedisValue::Array(vec![s("1-1"), RedisValue::Array(vec![s("field"), s("value")])])])
    );
}

#[test]
fn resp2_hgetall_is_a_flat_array() {
    query(url(), "HSET", ["values:h", "f1", "v1"]);
    let v = query(url(), "HGETALL", ["values:h"]);
    assert_eq!(v, RedisValue::Array(vec![s("f1"), s("v1")]));
    assert!(!v.is_map());
}
