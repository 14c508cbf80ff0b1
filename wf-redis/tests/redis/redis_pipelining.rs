//! Pipelining: concurrent tasks to one server share a connection with many
//! commands in flight, each reply reaching its own task in order (50
//! series of 200 `INCR`/`GET` steps, each callback pushing the next task,
//! as in `benches/src/bin/redis.rs`), over a handful of connections; and a
//! request of several commands (`push_command`) gets all its replies, in
//! order.

use crate::support;

use std::sync::mpsc;

use support::{NONE, WAIT, connections_received, int, run, s, status, task};
use wf_core::{State, series_of};
use wf_redis::{RedisTask, RedisValue, create_redis_task};

const SERIES: usize = 50;
const STEPS: usize = 200;

/// Step `step` of series `id`: even steps `INCR`, odd steps `GET` of the
/// series' own key. Each callback records the reply and pushes the next
/// step onto its series.
fn step(
    url: String,
    id: usize,
    step: usize,
    seen: Vec<RedisValue>,
    done: mpsc::Sender<(usize, Vec<RedisValue>)>,
) -> RedisTask {
    let key = format!("pipe:{id}");
    let mut t = create_redis_task(&url.clone(), 0, move |t: &mut RedisTask| {
        let mut seen = seen;
        seen.push(if t.state() == State::Success {
            t.resp_mut().take_result()
        } else {
            RedisValue::error(format!("task failed: {}", t.error_text()))
        });
        if step + 1 < STEPS {
            series_of(t).push_back(self::step(url, id, step + 1, seen, done));
        } else {
            let _ = done.send((id, seen));
        }
    });
    if step % 2 == 0 {
        t.set_request("INCR", [key]);
    } else {
        t.set_request("GET", [key]);
    }
    t
}

#[test]
fn concurrent_series_each_see_their_own_replies_in_order() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let before = connections_received(&redis);
    let (tx, rx) = mpsc::channel();
    for id in 0..SERIES {
        step(url.clone(), id, 0, Vec::with_capacity(STEPS), tx.clone()).start();
    }
    let mut finished = [false; SERIES];
    for _ in 0..SERIES {
        let (id, seen) = rx.recv_timeout(WAIT * 2).expect("every series finishes");
        assert!(!finished[id]);
        finished[id] = true;
        assert_eq!(seen.len(), STEPS);
        for (i, v) in seen.iter().enumerate() {
            let n = (i / 2 + 1) as i64;
            let expected = if i % 2 == 0 { int(n) } else { s(&n.to_string()) };
            assert_eq!(v, &expected, "series {id}, step {i}");
        }
    }
    // The server saw the final values.
    assert_eq!(support::cli(&redis, &["GET", "pipe:0"]), (STEPS / 2).to_string());
    // 50 concurrent callers, a few connections. (The INFO calls count one
    // connection each: the second one, and the GET above.)
    let opened = connections_received(&redis) - before - 2;
    assert!((1..=4).contains(&opened), "{opened} connections for {SERIES} concurrent series");
    let clients = support::info_field(&redis, "clients", "connected_clients");
    assert!(clients <= 5, "{clients} clients connected (INFO's own included)");
}

#[test]
fn a_request_of_many_commands_gets_every_reply_in_order() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    const N: usize = 500;
    let mut t = task(&url, 0);
    for i in 0..N {
        match i % 3 {
            0 => t.req_mut().push_command("INCR", ["pipe:n"]),
            1 => t.req_mut().push_command("ECHO", [i.to_string()]),
            _ => t.req_mut().push_command("GET", ["pipe:n"]),
        }
    }
    assert_eq!(t.req().len(), N);
    assert_eq!(t.req().command(), Some("INCR"));
    let o = run(t);
    o.ok();
    assert_eq!(o.results.len(), N);
    let mut n = 0;
    for (i, v) in o.results.iter().enumerate() {
        match i % 3 {
            0 => {
                n += 1;
                assert_eq!(v, &int(n), "reply {i}");
            }
            1 => assert_eq!(v, &s(&i.to_string()), "reply {i}"),
            _ => assert_eq!(v, &s(&n.to_string()), "reply {i}"),
        }
    }
}

#[test]
fn pipelines_from_concurrent_tasks_do_not_interleave() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let (tx, rx) = mpsc::channel();
    const TASKS: usize = 40;
    const CMDS: usize = 25;
    for id in 0..TASKS {
        let tx = tx.clone();
        let mut t = task(&url, 0);
        for j in 0..CMDS {
            t.req_mut().push_command("ECHO", [format!("{id}/{j}")]);
        }
        // A single-command task between the pipelines.
        t.set_callback(move |t| {
            let _ = tx.send((id, t.state(), t.resp().results().to_vec()));
        });
        t.start();
        let mut single = task(&url, 0);
        single.set_request("PING", NONE);
        single.start();
    }
    for _ in 0..TASKS {
        let (id, state, results) = rx.recv_timeout(WAIT).expect("every pipeline finishes");
        assert_eq!(state, State::Success);
        let expected: Vec<_> = (0..CMDS).map(|j| s(&format!("{id}/{j}"))).collect();
        assert_eq!(results, expected, "task {id}");
    }
}

#[test]
fn response_accessors() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let (tx, rx) = mpsc::channel();
    let mut t = create_redis_task(&url, 0, move |t| {
        assert_eq!(t.result(), &status("OK"));
        assert_eq!(t.resp().results().len(), 2);
        let results = t.resp_mut().take_results();
        assert!(t.resp().results().is_empty());
        assert!(t.result().is_nil(), "no result after take_results");
        let _ = tx.send((results, t.peer_addr(), t.uri().map(|u| u.as_str().to_owned()), t.redirects()));
    });
    t.set_request("SET", ["pipe:a", "1"]);
    t.req_mut().push_command("GET", ["pipe:a"]);
    assert_eq!(t.req().commands().len(), 2);
    assert_eq!(t.req().params().len(), 2);
    t.start();
    let (results, peer, uri, redirects) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(results, vec![status("OK"), s("1")]);
    assert_eq!(peer, Some(redis.addr()));
    let uri = uri.expect("the task's URL");
    assert!(uri.starts_with(&format!("redis://127.0.0.1:{}", redis.port())), "{uri}");
    assert_eq!(redirects, 0);
}
