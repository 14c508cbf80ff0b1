//! RESP3 (`?protocol=3`, `HELLO 3` on connect) from a real `redis-server`:
//! maps, sets, doubles, booleans, big numbers, verbatim strings, nulls,
//! attributes, and an out-of-band push between replies. `DEBUG PROTOCOL`
//! (enabled with `--enable-debug-command yes`) answers each kind.

use crate::support;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use support::{NONE, int, query, s, status};
use wf_redis::RedisValue;

fn server() -> &'static (testkit::RedisServer, String, String) {
    static SERVER: OnceLock<(testkit::RedisServer, String, String)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let redis = testkit::RedisServer::builder().arg("--enable-debug-command").arg("yes").start();
        let v3 = format!("redis://127.0.0.1:{}/?protocol=3", redis.port());
        let v2 = format!("redis://127.0.0.1:{}/", redis.port());
        (redis, v3, v2)
    })
}

fn v3() -> &'static str {
    &server().1
}

fn v2() -> &'static str {
    &server().2
}

fn debug_protocol(url: &str, kind: &str) -> RedisValue {
    query(url, "DEBUG", ["PROTOCOL", kind])
}

/// The pairs of a map as text, order ignored.
fn pairs(v: &RedisValue) -> BTreeSet<(String, String)> {
    v.as_map()
        .unwrap_or_else(|| panic!("not a map: {v:?}"))
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn hello_3_is_sent_on_connect() {
    let v = query(v3(), "CLIENT", ["INFO"]);
    let text = String::from_utf8_lossy(v.as_bytes().expect("CLIENT INFO is text")).into_owned();
    assert!(text.contains("resp=3"), "{text}");
    let v = query(v2(), "CLIENT", ["INFO"]);
    assert!(v.as_str().unwrap().contains("resp=2"), "{v}");
}

#[test]
fn hgetall_is_a_map() {
    query(v3(), "HSET", ["resp3:h", "f1", "v1", "f2", "v2", "f3", "v3"]);
    let v = query(v3(), "HGETALL", ["resp3:h"]);
    assert!(v.is_map(), "{v:?}");
    assert_eq!(v.len(), 3);
    let expected: BTreeSet<_> = [("f1", "v1"), ("f2", "v2"), ("f3", "v3")]
        .iter()
        .map(|(k, v)| (format!("\"{k}\""), format!("\"{v}\"")))
        .collect();
    assert_eq!(pairs(&v), expected);
    assert_eq!(v.map_get("f2"), Some(&s("v2")));
    assert_eq!(v.map_get("nope"), None);
    // The same command over RESP2 is a flat array.
    assert_eq!(query(v2(), "HGETALL", ["resp3:h"]).len(), 6);
}

#[test]
fn smembers_is_a_set() {
    query(v3(), "SADD", ["resp3:set", "a", "b", "c"]);
    let v = query(v3(), "SMEMBERS", ["resp3:set"]);
    let RedisValue::Set(items) = &v else { panic!("not a set: {v:?}") };
    let got: BTreeSet<_> = items.iter().map(|i| i.as_str().unwrap().to_owned()).collect();
    assert_eq!(got, ["a", "b", "c"].map(String::from).into());
    assert!(v.is_array());
    assert_eq!(v.len(), 3);
    assert!(v.to_string().starts_with("~{"), "{v}");
    assert!(matches!(query(v2(), "SMEMBERS", ["resp3:set"]), RedisValue::Array(_)));
}

#[test]
fn zscore_is_a_double() {
    query(v3(), "ZADD", ["resp3:z", "1.5", "m"]);
    let v = query(v3(), "ZSCORE", ["resp3:z", "m"]);
    assert_eq!(v, RedisValue::Double(1.5));
    assert_eq!(v.as_double(), Some(1.5));
    assert_eq!(v.to_string(), "1.5");
    // RESP2: the same score is a bulk string.
    assert_eq!(query(v2(), "ZSCORE", ["resp3:z", "m"]), s("1.5"));
    // `DEBUG PROTOCOL double` is Redis's fixed 3.141 (not π).
    let d = debug_protocol(v3(), "double").as_double().expect("a double");
    assert_eq!(d.to_string(), "3.141");
}

#[test]
fn booleans() {
    let t = query(v3(), "EVAL", ["redis.setresp(3); return true", "0"]);
    assert_eq!(t, RedisValue::Boolean(true));
    assert_eq!(t.as_bool(), Some(true));
    assert_eq!(t.to_string(), "true");
    assert_eq!(debug_protocol(v3(), "true"), RedisValue::Boolean(true));
    assert_eq!(debug_protocol(v3(), "false"), RedisValue::Boolean(false));
    // RESP2: 1 and nil.
    assert_eq!(debug_protocol(v2(), "true"), int(1));
    assert_eq!(debug_protocol(v2(), "false"), int(0));
}

#[test]
fn big_number() {
    let v = debug_protocol(v3(), "bignum");
    assert_eq!(v, RedisValue::BigNumber("1234567999999999999999999999999999999".into()));
    assert_eq!(v.as_str(), Some("1234567999999999999999999999999999999"));
    assert_eq!(v.to_string(), "1234567999999999999999999999999999999");
    assert_eq!(debug_protocol(v2(), "bignum"), s("1234567999999999999999999999999999999"));
}

#[test]
fn verbatim_strings() {
    let v = debug_protocol(v3(), "verbatim");
    assert_eq!(v, RedisValue::Verbatim { format: "txt".into(), text: "This is a verbatim\nstring".into() });
    assert_eq!(v.as_str(), Some("This is a verbatim\nstring"));
    assert_eq!(v.to_string(), r#""This is a verbatim\nstring""#);
    // INFO is verbatim text under RESP3, a bulk string under RESP2.
    let info = query(v3(), "INFO", ["server"]);
    let RedisValue::Verbatim { format, text } = &info else { panic!("INFO is not verbatim: {info:?}") };
    assert_eq!(format, "txt");
    assert!(String::from_utf8_lossy(text).contains("redis_version:"));
    assert!(matches!(query(v2(), "INFO", ["server"]), RedisValue::String(_)));
}

#[test]
fn null_map_and_set_from_debug_protocol() {
    assert_eq!(debug_protocol(v3(), "null"), RedisValue::Nil);
    assert_eq!(debug_protocol(v2(), "null"), RedisValue::Nil);
    // `DEBUG PROTOCOL map`: {0: false, 1: true, 2: false}.
    let m = debug_protocol(v3(), "map");
    let expected: BTreeSet<_> =
        [("0", "false"), ("1", "true"), ("2", "false")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(pairs(&m), expected);
    // `DEBUG PROTOCOL set`: {0, 1, 2}.
    let set = debug_protocol(v3(), "set");
    let RedisValue::Set(items) = &set else { panic!("not a set: {set:?}") };
    let got: BTreeSet<i64> = items.iter().map(|i| i.as_int().unwrap()).collect();
    assert_eq!(got, [0, 1, 2].into());
    assert_eq!(debug_protocol(v3(), "integer"), int(12345));
    assert_eq!(debug_protocol(v3(), "string"), s("Hello World"));
    assert_eq!(debug_protocol(v3(), "array"), RedisValue::Array(vec![int(0), int(1), int(2)]));
}

#[test]
fn attribute_before_a_reply_does_not_hide_it() {
    // An attribute (`|`) annotates the reply that follows it.
    let v = debug_protocol(v3(), "attrib");
    assert_eq!(v, s("Some real reply following the attribute"));
    // The connection is still in step.
    assert_eq!(query(v3(), "PING", NONE), status("PONG"));
}

#[test]
fn push_between_replies_is_not_taken_for_a_reply() {
    // `DEBUG PROTOCOL push` sends a push (`>`), then its reply.
    let v = debug_protocol(v3(), "push");
    assert_eq!(v, s("Some real reply following the push reply"));
    // Replies to the next commands stay matched to their commands.
    query(v3(), "SET", ["resp3:after-push", "ok"]);
    assert_eq!(query(v3(), "GET", ["resp3:after-push"]), s("ok"));
    let mut t = support::task(v3(), 0);
    t.req_mut().push_command("DEBUG", ["PROTOCOL", "push"]);
    t.req_mut().push_command("ECHO", ["one"]);
    t.req_mut().push_command("DEBUG", ["PROTOCOL", "push"]);
    t.req_mut().push_command("ECHO", ["two"]);
    let o = support::run(t);
    o.ok();
    assert_eq!(
        o.results,
        vec![
            s("Some real reply following the push reply"),
            s("one"),
            s("Some real reply following the push reply"),
            s("two")
        ]
    );
}

#[test]
fn error_reply_over_resp3() {
    query(v3(), "SET", ["resp3:text", "abc"]);
    let o = support::exec(v3(), "INCR", ["resp3:text"]);
    assert_eq!(o.value(), &RedisValue::error("ERR value is not an integer or out of range"));
    let unknown = query(v3(), "NOSUCHCOMMAND", NONE);
    assert!(unknown.as_str().unwrap().starts_with("ERR unknown command"), "{unknown:?}");
}

#[test]
fn nested_resp3_display() {
    let v = RedisValue::Map(vec![
        (s("k"), RedisValue::Set(vec![int(1), RedisValue::Double(2.5)])),
        (status("b"), RedisValue::Push(vec![RedisValue::Boolean(false), RedisValue::Nil])),
    ]);
    assert_eq!(v.to_string(), r#"{"k": ~{1, 2.5}, b: >[false, nil]}"#);
    // From the server: HELLO-like nested values (a map holding an array).
    query(v3(), "XADD", ["resp3:stream", "1-1", "f", "v"]);
    let info = query(v3(), "XINFO", ["STREAM", "resp3:stream"]);
    assert!(info.is_map(), "{info:?}");
    assert_eq!(info.map_get("length"), Some(&int(1)));
    let first = info.map_get("first-entry").expect("first-entry");
    assert_eq!(first, &RedisValue::Array(vec![s("1-1"), RedisValue::Array(vec![s("f"), s("v")])]));
}
