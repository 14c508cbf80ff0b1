//! Redis is binary safe, and so are `RedisTask`s: keys and values holding
//! every byte value (NUL, CR, LF, invalid UTF-8) go out and come back
//! unchanged, also as a pipeline and inside arrays.

use crate::support;

use support::{int, query, run, status, task};
use wf_redis::RedisValue;

fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

#[test]
fn every_byte_in_keys_and_values() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let key = [b"bin:".as_slice(), &all_bytes()].concat();
    let value: Vec<u8> = all_bytes().into_iter().rev().chain(*b"\r\n$-1\r\n*2\r\n").collect();
    assert_eq!(query(&url, "SET", [key.as_slice(), value.as_slice()]), status("OK"));
    let got = query(&url, "GET", [key.as_slice()]);
    assert_eq!(got, RedisValue::String(value.clone().into()));
    assert_eq!(got.as_str(), None, "not UTF-8");
    assert_eq!(query(&url, "STRLEN", [key.as_slice()]), int(value.len() as i64));
    // The key as stored: KEYS returns it unchanged.
    let keys = query(&url, "KEYS", ["bin:*"]);
    assert_eq!(keys, RedisValue::Array(vec![RedisValue::String(key.into())]));
}

#[test]
fn crlf_and_nul_values_in_a_pipeline_and_arrays() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let values: Vec<Vec<u8>> =
        vec![b"\r\n".to_vec(), b"\0".to_vec(), b"a\r\nb\0c".to_vec(), vec![], b"\xff\xfe".to_vec()];
    let mut t = task(&url, 0);
    for (i, v) in values.iter().enumerate() {
        t.req_mut().push_command("SET", [format!("bin:{i}").into_bytes(), v.clone()]);
    }
    t.req_mut().push_command("MGET", (0..values.len()).map(|i| format!("bin:{i}")));
    let o = run(t);
    o.ok();
    assert_eq!(o.results.len(), values.len() + 1);
    assert!(o.results[..values.len()].iter().all(|r| *r == status("OK")), "{:?}", o.results);
    let expected = RedisValue::Array(values.iter().map(|v| RedisValue::String(v.clone().into())).collect());
    assert_eq!(o.results[values.len()], expected);
    // A list of binary values.
    let mut t = task(&url, 0);
    t.set_request("RPUSH", [b"bin:list".to_vec()].into_iter().chain(values.iter().cloned()));
    assert_eq!(run(t).value(), &int(values.len() as i64));
    assert_eq!(query(&url, "LRANGE", ["bin:list", "0", "-1"]), expected);
}

#[test]
fn arguments_of_every_kind() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    // &str, String, &[u8], Vec<u8>, &[u8; N] and numbers are all arguments.
    assert_eq!(query(&url, "SET", ["bin:n", "1"]), status("OK"));
    assert_eq!(query(&url, "INCRBY", [String::from("bin:n"), 41.to_string()]), int(42));
    assert_eq!(query(&url, "INCRBYFLOAT", [b"bin:f".as_slice(), b"0.5"]), RedisValue::from("0.5"));
    assert_eq!(query(&url, "APPEND", [b"bin:n".to_vec(), b"0".to_vec()]), int(3));
    assert_eq!(query(&url, "SET", [b"bin:a", b"1\0\r\n4"]), status("OK"));
    assert_eq!(query(&url, "GET", [b"bin:a"]), RedisValue::from(&b"1\0\r\n4"[..]));
    assert!(query(&url, "RPUSH", [b"bin:nums".as_slice()]).is_error(), "RPUSH without values");
    let mut t = task(&url, 0);
    t.set_request("RPUSH", [1i64, -2, 3]);
    t.req_mut().push_command("LRANGE", [1u32, 0, 5]);
    t.req_mut().push_command("INCRBYFLOAT", [String::from("bin:f")]);
    t.req_mut().push_command("INCRBYFLOAT", ["bin:f".to_owned(), 0.25f64.to_string()]);
    let o = run(t);
    assert_eq!(o.ok().results[0], int(2));
    assert_eq!(o.results[1], RedisValue::Array(vec![RedisValue::from("-2"), RedisValue::from("3")]));
    assert!(o.results[2].is_error(), "{:?}", o.results);
    assert_eq!(o.results[3], RedisValue::from("0.75"));
    assert_eq!(query(&url, "GET", ["bin:n"]), RedisValue::from("420"));
}
