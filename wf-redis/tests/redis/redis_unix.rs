//! A real `redis-server` over its Unix socket: the URL's host is the
//! socket's absolute path, percent-encoded
//! (`redis://%2Fpath%2Fto%2Fredis.sock/`), with a database and a password
//! as over TCP; a subscriber works there too.

use crate::support;

use std::sync::mpsc;

use support::{NONE, WAIT, cli, exec, int, query, s, status};
use wf_core::State;
use wf_redis::{RedisSubscriber, RedisValue};

/// `redis://[userinfo@]%2F…%2Fredis.sock/path`.
fn unix_url(redis: &testkit::RedisServer, userinfo: &str, path: &str) -> String {
    let socket = redis.unix_socket().expect("a unix socket").to_str().expect("a UTF-8 socket path");
    format!("redis://{userinfo}{}/{path}", socket.replace('/', "%2F"))
}

#[test]
fn commands_over_the_unix_socket() {
    let redis = testkit::RedisServer::builder().unix_socket().start();
    let url = unix_url(&redis, "", "");
    assert!(url.starts_with("redis://%2F"), "{url}");
    assert_eq!(query(&url, "SET", ["k", "over-unix"]), status("OK"));
    let o = exec(&url, "GET", ["k"]);
    assert_eq!(o.value(), &s("over-unix"));
    assert_eq!(o.peer, None, "no IP peer over a Unix socket");
    // The same data over TCP: one server.
    assert_eq!(cli(&redis, &["GET", "k"]), "over-unix");
    // The server sees the client on its socket.
    let info = query(&url, "CLIENT", ["INFO"]);
    assert!(info.as_str().unwrap().contains("laddr=") || info.as_str().unwrap().contains("addr=/"), "{info:?}");
    let list = cli(&redis, &["CLIENT", "LIST"]);
    assert!(list.contains("flags=U"), "no unix-socket client in {list}");
}

#[test]
fn database_and_password_over_the_unix_socket() {
    let redis = testkit::RedisServer::builder().unix_socket().password("upw").start();
    let url = unix_url(&redis, ":upw@", "9");
    assert_eq!(query(&url, "SET", ["k", "nine"]), status("OK"));
    assert_eq!(cli(&redis, &["-n", "9", "GET", "k"]), "nine");
    let wrong = unix_url(&redis, ":nope@", "");
    exec(&wrong, "PING", NONE).assert_failed(State::TaskError, wf_redis::code::ACCESS_DENIED);
    let resp3 = format!("{}?protocol=3", unix_url(&redis, ":upw@", "9"));
    query(&resp3, "HSET", ["h", "f", "v"]);
    assert_eq!(query(&resp3, "HGETALL", ["h"]), RedisValue::Map(vec![(s("f"), s("v"))]));
}

#[test]
fn concurrent_tasks_over_the_unix_socket() {
    let redis = testkit::RedisServer::builder().unix_socket().start();
    let url = unix_url(&redis, "", "");
    let (tx, rx) = mpsc::channel();
    const N: usize = 64;
    for i in 0..N {
        let tx = tx.clone();
        let mut t = support::task(&url, 0);
        t.set_request("INCR", ["n"]);
        t.req_mut().push_command("ECHO", [i.to_string()]);
        t.set_callback(move |t| {
            let _ = tx.send((i, t.state(), t.resp().results().to_vec()));
        });
        t.start();
    }
    let mut counts: Vec<i64> = (0..N)
        .map(|_| {
            let (i, state, results) = rx.recv_timeout(WAIT).unwrap();
            assert_eq!(state, State::Success);
            assert_eq!(results[1], s(&i.to_string()));
            results[0].as_int().unwrap()
        })
        .collect();
    counts.sort();
    assert_eq!(counts, (1..=N as i64).collect::<Vec<_>>());
    assert_eq!(query(&url, "GET", ["n"]), s(&N.to_string()));
}

#[test]
fn missing_socket_is_a_sys_error() {
    let dir = std::env::temp_dir().join(format!("wf-redis-unix-missing-{}", std::process::id()));
    let url = format!("redis://{}/", dir.join("nothing.sock").to_str().unwrap().replace('/', "%2F"));
    let o = exec(&url, "PING", NONE);
    o.assert_failed(State::SysError, libc::ENOENT);
}

#[test]
fn subscriber_over_the_unix_socket() {
    let redis = testkit::RedisServer::builder().unix_socket().start();
    let url = unix_url(&redis, "", "");
    let (vtx, values) = mpsc::channel();
    let (etx, ended) = mpsc::channel();
    let task = RedisSubscriber::new(&url).create_subscribe_task(
        ["u"],
        move |_, v| {
            let _ = vtx.send(v);
        },
        move |t| {
            let _ = etx.send(t.state());
        },
    );
    let handle = task.handle();
    task.start();
    let next = || values.recv_timeout(WAIT).expect("a message");
    assert_eq!(next(), RedisValue::Array(vec![s("subscribe"), s("u"), int(1)]));
    assert_eq!(query(&url, "PUBLISH", ["u", "via-socket"]), int(1));
    assert_eq!(next(), RedisValue::Array(vec![s("message"), s("u"), s("via-socket")]));
    handle.unsubscribe(["u"]).unwrap();
    assert_eq!(next()[0], s("unsubscribe"));
    assert_eq!(ended.recv_timeout(WAIT).unwrap(), State::Success);
}
