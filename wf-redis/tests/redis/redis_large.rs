//! Large values: 16 MiB bulk strings go both ways intact; a reply over
//! the protocol's size limit (`Redis::with_size_limit`) fails the task with
//! `SYS_ERROR`/`EMSGSIZE`, and the limit does not affect smaller replies or
//! other connections.

use crate::support;

use support::{exec, int, query, run, status};
use wf_core::State;
use wf_redis::{Redis, RedisValue, create_redis_task_with};

/// `len` bytes of a cheap pseudo-random sequence (every byte value).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn sixteen_mib_round_trip() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let big = noise(16 << 20, 7);
    let o = exec(&url, "SET", [b"large:16m".as_slice(), big.as_slice()]);
    assert_eq!(o.value(), &status("OK"));
    assert_eq!(query(&url, "STRLEN", ["large:16m"]), int(16 << 20));
    let o = exec(&url, "GET", ["large:16m"]);
    let got = o.value().as_bytes().expect("a bulk string");
    assert_eq!(got.len(), big.len());
    assert!(got == big.as_slice(), "the 16 MiB value came back different");
    // Several large replies in flight on the shared connection at once.
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..4 {
        let tx = tx.clone();
        let mut t = support::task(&url, 0);
        t.set_request("GET", ["large:16m"]);
        t.set_callback(move |t| {
            let _ = tx.send((t.state(), t.result().as_bytes().map(<[u8]>::to_vec)));
        });
        t.start();
    }
    for _ in 0..4 {
        let (state, v) = rx.recv_timeout(support::WAIT).expect("a GET finishes");
        assert_eq!(state, State::Success);
        assert!(v.as_deref() == Some(big.as_slice()), "a concurrent 16 MiB GET came back different");
    }
}

#[test]
fn reply_over_the_size_limit_is_emsgsize() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let two_mib = noise(2 << 20, 3);
    assert_eq!(query(&url, "SET", [b"large:2m".as_slice(), two_mib.as_slice()]), status("OK"));
    assert_eq!(query(&url, "SET", ["large:small", "tiny"]), status("OK"));

    let limited = |command: &str, key: &str| {
        let mut t = create_redis_task_with(Redis::with_size_limit(1 << 20), &url, 0, |_| {});
        t.set_request(command, [key]);
        run(t)
    };
    let o = limited("GET", "large:2m");
    o.assert_failed(State::SysError, libc::EMSGSIZE);
    assert!(o.results.is_empty());
    // Small replies under the same limit are fine (a fresh connection).
    assert_eq!(limited("GET", "large:small").value(), &RedisValue::from("tiny"));
    assert_eq!(limited("STRLEN", "large:2m").value(), &int(2 << 20));
    // Without the limit, the same value arrives.
    let o = exec(&url, "GET", ["large:2m"]);
    assert!(o.value().as_bytes() == Some(two_mib.as_slice()));
}

#[test]
fn size_limit_counts_a_whole_array_reply() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    // 64 values of 32 KiB: 2 MiB in one LRANGE reply, no single value over 1 MiB.
    let chunk = noise(32 << 10, 11);
    let mut t = support::task(&url, 0);
    for _ in 0..64 {
        t.req_mut().push_command("RPUSH", [b"large:list".as_slice(), chunk.as_slice()]);
    }
    assert_eq!(run(t).ok().results.len(), 64);
    let mut t = create_redis_task_with(Redis::with_size_limit(1 << 20), &url, 0, |_| {});
    t.set_request("LRANGE", ["large:list", "0", "-1"]);
    run(t).assert_failed(State::SysError, libc::EMSGSIZE);
}

/// The limit holds however the reply arrives: a reply of 2 KB comes in
/// one read, complete, and must still be refused when it is over the
/// limit (1 KiB).
#[test]
fn small_limit_refuses_a_reply_that_arrives_whole() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    for len in [1500, 2000, 3000] {
        let value = noise(len, 5);
        let key = format!("large:{len}");
        assert_eq!(query(&url, "SET", [key.as_bytes(), value.as_slice()]), status("OK"));
        let mut t = create_redis_task_with(Redis::with_size_limit(1024), &url, 0, |_| {});
        t.set_request("GET", [key.as_str()]);
        let o = run(t);
        assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "a reply of {len} bytes");
    }
}
