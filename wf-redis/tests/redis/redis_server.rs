//! `RedisServer` (wf's server speaking RESP): answers a real `redis-cli`,
//! replies late when `process` pushes tasks into the command's series,
//! answers `RedisTask`s (pipelined ones in order), sees the `AUTH` and
//! `SELECT` a task's URL asks for (Workflow's Redis unit test), refuses
//! oversized requests, and stops.

use crate::support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use support::{NONE, Seen, WAIT, exec, fake_server, int, name, query, redis_cli, run, s, start_local, status, task};
use wf_core::net::{ServerKind, ServerParams};
use wf_core::{State, create_go_task, series_of};
use wf_redis::{Redis, RedisServer, RedisServerTask, RedisValue};

/// A small key-value server: PING, ECHO, SET, GET, DEL, QUIT; anything
/// else is an error reply.
fn kv_server() -> (RedisServer, u16, Seen) {
    let store: Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>> = Arc::default();
    let seen = Seen::default();
    let log = seen.clone();
    let server = RedisServer::new(move |task: &mut RedisServerTask| {
        log.record(task);
        let reply = answer(&store, task);
        task.resp_mut().set_result(reply);
    });
    let port = start_local(&server);
    (server, port, seen)
}

fn answer(store: &Mutex<HashMap<Vec<u8>, Vec<u8>>>, task: &RedisServerTask) -> RedisValue {
    let req = task.req();
    let p = req.params();
    let cmd = req.command().map(str::to_ascii_uppercase).unwrap_or_default();
    let mut store = store.lock().unwrap();
    match (cmd.as_str(), p.len()) {
        ("PING", 0) => status("PONG"),
        ("PING", 1) | ("ECHO", 1) => RedisValue::String(p[0].clone()),
        ("SET", 2) => {
            store.insert(p[0].to_vec(), p[1].to_vec());
            RedisValue::ok()
        }
        ("GET", 1) => store.get(p[0].as_ref()).map(|v| RedisValue::from(v.clone())).unwrap_or(RedisValue::Nil),
        ("DEL", _) => int(p.iter().filter(|k| store.remove(k.as_ref()).is_some()).count() as i64),
        ("AUTH", _) | ("SELECT", 1) => RedisValue::ok(),
        ("QUIT", 0) => RedisValue::ok(),
        _ => RedisValue::error(format!("ERR unknown command '{cmd}'")),
    }
}

/// `redis-cli -p PORT ARGS…`: its stdout (redis-cli prints replies raw
/// when its output is not a terminal).
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new(redis_cli())
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_owned()
}

#[test]
fn answers_a_real_redis_cli() {
    let (server, port, seen) = kv_server();
    assert_eq!(cli(port, &["PING"]), "PONG");
    assert_eq!(cli(port, &["PING", "hello there"]), "hello there");
    assert_eq!(cli(port, &["ECHO", "a b"]), "a b");
    assert_eq!(cli(port, &["SET", "k", "v1"]), "OK");
    assert_eq!(cli(port, &["GET", "k"]), "v1");
    assert_eq!(cli(port, &["GET", "missing"]), "");
    assert_eq!(cli(port, &["DEL", "k", "missing"]), "1");
    let err = cli(port, &["FLY", "away"]);
    assert!(err.contains("ERR unknown command 'FLY'"), "{err:?}");
    // Several commands from one redis-cli connection (a pipe on its stdin).
    let mut child = Command::new(redis_cli())
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"SET a 1\nGET a\nPING\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n1\nPONG\n");
    let names: Vec<String> = seen.get().iter().map(|c| name(c)).collect();
    for expected in ["PING", "ECHO", "SET", "GET", "DEL", "FLY"] {
        assert!(names.iter().any(|n| n == expected), "{expected} not seen: {names:?}");
    }
    server.stop();
}

#[test]
fn redis_task_round_trip() {
    let (server, port, seen) = kv_server();
    let url = format!("redis://127.0.0.1:{port}");
    assert_eq!(query(&url, "SET", ["k", "value"]), status("OK"));
    assert_eq!(query(&url, "GET", ["k"]), s("value"));
    assert_eq!(query(&url, "GET", ["nope"]), RedisValue::Nil);
    assert_eq!(query(&url, "PING", NONE), status("PONG"));
    let e = query(&url, "HGETALL", ["k"]);
    assert_eq!(e, RedisValue::error("ERR unknown command 'HGETALL'"));
    // Binary values through wf on both ends.
    let bin: Vec<u8> = (0..=255).collect();
    assert_eq!(query(&url, "SET", [b"b".as_slice(), &bin]), status("OK"));
    assert_eq!(query(&url, "GET", ["b"]), RedisValue::from(bin));
    // A pipeline of commands: answered in order.
    let mut t = task(&url, 0);
    for i in 0..20 {
        t.req_mut().push_command("ECHO", [i.to_string()]);
    }
    let o = run(t);
    assert_eq!(o.ok().results, (0..20).map(|i| s(&i.to_string())).collect::<Vec<_>>());
    assert!(seen.get().len() >= 27);
    server.stop();
}

/// Workflow's Redis unit test: a task's URL with a password and database
/// makes the server see `AUTH` and `SELECT` first, then SET/GET/DEL in a
/// series.
#[test]
fn auth_and_select_reach_the_server_first() {
    let (server, port, seen) = kv_server();
    let url = format!("redis://:testpass@127.0.0.1:{port}/6");
    let (tx, rx) = mpsc::channel();
    let mut set = support::task(&url, 0);
    set.set_request("SET", ["testkey", "testvalue"]);
    set.set_callback(move |t| {
        assert_eq!(t.state(), State::Success);
        assert_eq!(t.result(), &status("OK"));
        let mut get = support::task(&url, 0);
        get.set_request("GET", ["testkey"]);
        get.set_callback(move |t| {
            assert_eq!(t.result(), &s("testvalue"));
            let mut del = support::task(&url, 0);
            del.set_request("DEL", ["testkey"]);
            del.set_callback(move |t| {
                let _ = tx.send((t.state(), t.result().clone()));
            });
            series_of(t).push_back(del);
        });
        series_of(t).push_back(get);
    });
    set.start();
    let (state, v) = rx.recv_timeout(WAIT).expect("the series finishes");
    assert_eq!((state, v), (State::Success, int(1)));
    assert_eq!(
        seen.lines(),
        ["AUTH testpass", "SELECT 6", "SET testkey testvalue", "GET testkey", "DEL testkey"].map(String::from)
    );
    server.stop();
}

#[test]
fn acl_user_and_resp3_hello_reach_the_server() {
    let (server, port, seen) = fake_server(|words| match name(words).as_str() {
        "HELLO" => RedisValue::Map(vec![(s("proto"), int(3))]),
        _ => RedisValue::ok(),
    });
    let url = format!("redis://u:p@127.0.0.1:{port}/2?protocol=3");
    assert_eq!(query(&url, "SET", ["k", "v"]), status("OK"));
    assert_eq!(seen.lines(), ["HELLO 3 AUTH u p", "SELECT 2", "SET k v"].map(String::from));
    let url2 = format!("redis://u:p@127.0.0.1:{port}/");
    query(&url2, "PING", NONE);
    assert_eq!(seen.lines()[3..], ["AUTH u p", "PING"].map(String::from));
    server.stop();
}

#[test]
fn server_refusing_auth_is_access_denied() {
    let (server, port, seen) = fake_server(|words| match name(words).as_str() {
        "AUTH" => RedisValue::error("WRONGPASS invalid username-password pair"),
        _ => RedisValue::ok(),
    });
    let mut t = task(&format!("redis://:pw@127.0.0.1:{port}"), 3);
    t.set_request("SET", ["k", "v"]);
    run(t).assert_failed(State::TaskError, wf_redis::code::ACCESS_DENIED);
    assert_eq!(seen.lines(), ["AUTH pw"], "retried, or the command went out after a refused AUTH");
    server.stop();
}

/// Appends `part` to the reply of the server task ending `series`.
fn append(series: &mut wf_core::SeriesWork, part: &str) {
    let server_task = series.last_task_mut::<ServerKind<Redis>>().expect("the server task ends the series");
    let mut text = server_task.resp().result().as_bytes().map(<[u8]>::to_vec).unwrap_or_default();
    text.extend_from_slice(part.as_bytes());
    server_task.resp_mut().set_result(RedisValue::from(text));
}

#[test]
fn delayed_reply_from_tasks_pushed_in_process() {
    let order = Arc::new(AtomicUsize::new(0));
    let o = order.clone();
    let server = RedisServer::new(move |task| {
        task.resp_mut().set_result(RedisValue::from("start"));
        let req = task.req().params().first().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        let o = o.clone();
        let slow = create_go_task("redis_server_delayed", move || {
            std::thread::sleep(Duration::from_millis(50));
            o.fetch_add(1, Ordering::SeqCst)
        })
        .with_callback(move |t| {
            let n = *t.result().unwrap();
            append(series_of(t), &format!("+{req}#{n}"));
        });
        series_of(task).push_back(slow);
        let fast = create_go_task("redis_server_delayed", || ()).with_callback(|t| append(series_of(t), "+fast"));
        series_of(task).push_back(fast);
    });
    let port = start_local(&server);
    let url = format!("redis://127.0.0.1:{port}");
    assert_eq!(query(&url, "ECHO", ["a"]), s("start+a#0+fast"));
    // redis-cli waits for the delayed reply too.
    assert_eq!(cli(port, &["ECHO", "b"]), "start+b#1+fast");
    // Pipelined commands with delayed replies come back in order.
    let mut t = task(&url, 0);
    for i in 0..5 {
        t.req_mut().push_command("ECHO", [format!("p{i}")]);
    }
    let o = run(t);
    let results: Vec<String> = o.ok().results.iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    for (i, r) in results.iter().enumerate() {
        assert!(r.starts_with(&format!("start+p{i}#")) && r.ends_with("+fast"), "{results:?}");
    }
    server.stop();
}

#[test]
fn concurrent_tasks_to_a_redis_server() {
    let (server, port, _) = kv_server();
    let url = format!("redis://127.0.0.1:{port}");
    let (tx, rx) = mpsc::channel();
    const N: usize = 100;
    for i in 0..N {
        let tx = tx.clone();
        let mut t = task(&url, 0);
        t.set_request("ECHO", [i.to_string()]);
        t.set_callback(move |t| {
            let _ = tx.send((i, t.state(), t.result().clone()));
        });
        t.start();
    }
    for _ in 0..N {
        let (i, state, v) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!((state, v), (State::Success, s(&i.to_string())));
    }
    assert!(server.conn_count() <= 4, "{} connections", server.conn_count());
    server.stop();
}

#[test]
fn quit_is_answered_and_closes_the_connection() {
    let (server, port, _) = kv_server();
    let url = format!("redis://127.0.0.1:{port}");
    assert_eq!(query(&url, "QUIT", NONE), status("OK"));
    // The pooled connection was not kept: the next command works.
    assert_eq!(query(&url, "PING", NONE), status("PONG"));
    assert!(support::wait_until(WAIT, || server.conn_count() <= 1), "{} connections", server.conn_count());
    server.stop();
}

#[test]
fn reply_never_set_is_an_error_reply() {
    let server = RedisServer::new(|_task| {});
    let port = start_local(&server);
    let v = query(&format!("redis://127.0.0.1:{port}"), "GET", ["k"]);
    assert!(v.is_error(), "{v:?}");
    server.stop();
}

#[test]
fn oversized_request_gets_an_error_reply() {
    let mut params = ServerParams::default();
    params.request_size_limit = Some(64 << 10);
    let server = RedisServer::with_params(params, |task| task.resp_mut().set_result(RedisValue::ok()));
    let port = start_local(&server);
    let url = format!("redis://127.0.0.1:{port}");
    assert_eq!(query(&url, "SET", ["small", "v"]), status("OK"));
    let big = vec![b'x'; 1 << 20];
    let o = exec(&url, "SET", [b"big".as_slice(), &big]);
    // The server answers an error and closes; the client sees the error
    // reply or the closed connection, never a success.
    assert!(o.state != State::Success || o.results[0].is_error(), "{o:?}");
    assert_eq!(query(&url, "SET", ["small", "v"]), status("OK"));
    server.stop();
}

/// The server's request size limit holds however a request arrives: one
/// of 2 KB arrives in one read and must be refused by a 1 KiB limit.
#[test]
fn request_over_the_limit_is_refused_when_it_arrives_whole() {
    let mut params = ServerParams::default();
    params.request_size_limit = Some(1024);
    let processed = Arc::new(AtomicUsize::new(0));
    let p = processed.clone();
    let server = RedisServer::with_params(params, move |task| {
        p.fetch_add(1, Ordering::SeqCst);
        task.resp_mut().set_result(RedisValue::ok());
    });
    let port = start_local(&server);
    let url = format!("redis://127.0.0.1:{port}");
    let value = vec![b'x'; 2000];
    let o = exec(&url, "SET", [b"k".as_slice(), &value]);
    assert!(o.state != State::Success || o.results[0].is_error(), "a 2 KB request passed a 1 KiB limit: {o:?}");
    assert_eq!(processed.load(Ordering::SeqCst), 0, "process saw a request over the limit");
    server.stop();
}

#[test]
fn stop_closes_and_tasks_then_fail() {
    let (server, port, _) = kv_server();
    let url = format!("redis://127.0.0.1:{port}");
    assert_eq!(query(&url, "PING", NONE), status("PONG"));
    server.stop();
    assert_eq!(server.conn_count(), 0);
    let mut t = task(&url, 1);
    t.set_request("PING", NONE);
    assert_eq!(run(t).state, State::SysError);
}

#[test]
fn server_over_a_unix_socket() {
    let (server, _, _) = kv_server();
    server.stop();
    let dir = std::env::temp_dir().join(format!("wf-redis-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    let store = Arc::default();
    let server = RedisServer::new(move |task| {
        let reply = answer(&store, task);
        task.resp_mut().set_result(reply);
    });
    server.start_unix(&path).unwrap();
    assert_eq!(server.listen_addr(), None);
    let url = format!("redis://{}/", path.to_str().unwrap().replace('/', "%2F"));
    assert_eq!(query(&url, "SET", ["k", "unix"]), status("OK"));
    let o = exec(&url, "GET", ["k"]);
    assert_eq!(o.value(), &s("unix"));
    assert_eq!(o.peer, None);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
