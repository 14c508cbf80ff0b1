//! The subscriber against a real `redis-server`: published messages reach
//! `extract`; the handle subscribes, pattern-subscribes, pings,
//! unsubscribes (the last one ends the task with `SUCCESS`) and quits;
//! with no message within the watch timeout the task fails with
//! `ETIMEDOUT`; over RESP3 messages are pushes; after the task ended the
//! handle answers `ENOTCONN`.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::{WAIT, int, query, s};
use wf_core::{Error, State};
use wf_redis::{RedisSubscribeTask, RedisSubscriber, RedisValue, SubscribeHandle};

/// A running subscription: what `extract` saw, and how the task ended.
struct Sub {
    values: mpsc::Receiver<RedisValue>,
    ended: mpsc::Receiver<(State, Error)>,
    handle: SubscribeHandle,
}

impl Sub {
    #[track_caller]
    fn next(&self) -> RedisValue {
        self.values.recv_timeout(WAIT).expect("timed out waiting for a message")
    }

    #[track_caller]
    fn end(&self) -> (State, Error) {
        self.ended.recv_timeout(WAIT).expect("timed out waiting for the subscription to end")
    }
}

fn start(task: RedisSubscribeTask, values: mpsc::Receiver<RedisValue>, ended: mpsc::Receiver<(State, Error)>) -> Sub {
    let handle = task.handle();
    task.start();
    Sub { values, ended, handle }
}

/// Subscribes to `channels` at `url`; `configure` may set options first.
fn subscribe(url: &str, channels: &[&str], configure: impl FnOnce(&mut RedisSubscribeTask)) -> Sub {
    let (vtx, values) = mpsc::channel();
    let (etx, ended) = mpsc::channel();
    let mut task = RedisSubscriber::new(url).create_subscribe_task(
        channels.iter().copied(),
        move |_handle, v| {
            let _ = vtx.send(v);
        },
        move |t| {
            let _ = etx.send((t.state(), t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))));
        },
    );
    configure(&mut task);
    start(task, values, ended)
}

fn arr(items: &[RedisValue]) -> RedisValue {
    RedisValue::Array(items.to_vec())
}

fn publish(url: &str, channel: &str, message: &[u8]) -> RedisValue {
    query(url, "PUBLISH", [channel.as_bytes(), message])
}

#[test]
fn published_messages_reach_extract() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let sub = subscribe(&url, &["ch"], |_| {});
    assert_eq!(sub.next(), arr(&[s("subscribe"), s("ch"), int(1)]));
    assert_eq!(publish(&url, "ch", b"hello"), int(1), "one subscriber");
    assert_eq!(sub.next(), arr(&[s("message"), s("ch"), s("hello")]));
    // Binary payloads and many messages, in order.
    let payloads: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i, b'\r', b'\n', 0, 255 - i]).collect();
    for p in &payloads {
        publish(&url, "ch", p);
    }
    for p in &payloads {
        assert_eq!(sub.next(), arr(&[s("message"), s("ch"), RedisValue::from(p.clone())]));
    }
    // Another channel is not delivered.
    assert_eq!(publish(&url, "other", b"x"), int(0));
    sub.handle.unsubscribe(["ch"]).unwrap();
    assert_eq!(sub.next(), arr(&[s("unsubscribe"), s("ch"), int(0)]));
    let (state, e) = sub.end();
    assert_eq!(state, State::Success, "{e:?}");
}

#[test]
fn handle_changes_the_subscription() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let sub = subscribe(&url, &["a"], |_| {});
    assert_eq!(sub.next(), arr(&[s("subscribe"), s("a"), int(1)]));
    sub.handle.subscribe(["b", "c"]).unwrap();
    assert_eq!(sub.next(), arr(&[s("subscribe"), s("b"), int(2)]));
    assert_eq!(sub.next(), arr(&[s("subscribe"), s("c"), int(3)]));
    sub.handle.psubscribe(["p.*"]).unwrap();
    assert_eq!(sub.next(), arr(&[s("psubscribe"), s("p.*"), int(4)]));
    publish(&url, "p.x", b"pm");
    assert_eq!(sub.next(), arr(&[s("pmessage"), s("p.*"), s("p.x"), s("pm")]));
    publish(&url, "c", b"cm");
    assert_eq!(sub.next(), arr(&[s("message"), s("c"), s("cm")]));
    sub.handle.ping(Some("hi")).unwrap();
    assert_eq!(sub.next(), arr(&[s("pong"), s("hi")]));
    sub.handle.ping(None).unwrap();
    assert_eq!(sub.next(), arr(&[s("pong"), s("")]));
    // Unsubscribing from every channel leaves the pattern: still running.
    sub.handle.unsubscribe(Vec::<&str>::new()).unwrap();
    let mut left = Vec::new();
    for _ in 0..3 {
        let v = sub.next();
        assert_eq!(v[0], s("unsubscribe"), "{v:?}");
        left.push(v[2].as_int().unwrap());
    }
    left.sort();
    assert_eq!(left, [1, 2, 3]);
    publish(&url, "p.y", b"still");
    assert_eq!(sub.next(), arr(&[s("pmessage"), s("p.*"), s("p.y"), s("still")]));
    assert!(sub.ended.try_recv().is_err(), "the subscription ended with a pattern left");
    sub.handle.punsubscribe(Vec::<&str>::new()).unwrap();
    assert_eq!(sub.next(), arr(&[s("punsubscribe"), s("p.*"), int(0)]));
    let (state, e) = sub.end();
    assert_eq!(state, State::Success, "{e:?}");
    // The handle outlives the task: every call now fails with ENOTCONN.
    for r in [sub.handle.subscribe(["a"]), sub.handle.ping(None), sub.handle.quit(), sub.handle.unsubscribe(["a"])] {
        let e = r.expect_err("a handle of an ended subscription");
        assert_eq!((e.state(), e.code()), (State::SysError, libc::ENOTCONN));
    }
}

#[test]
fn psubscribe_task() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let (vtx, values) = mpsc::channel();
    let (etx, ended) = mpsc::channel();
    let task = RedisSubscriber::new(&url).create_psubscribe_task(
        ["news.*", "sport.*"],
        move |_, v| {
            let _ = vtx.send(v);
        },
        move |t| {
            let _ = etx.send((t.state(), t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))));
        },
    );
    let sub = start(task, values, ended);
    assert_eq!(sub.next(), arr(&[s("psubscribe"), s("news.*"), int(1)]));
    assert_eq!(sub.next(), arr(&[s("psubscribe"), s("sport.*"), int(2)]));
    publish(&url, "news.today", b"n");
    assert_eq!(sub.next(), arr(&[s("pmessage"), s("news.*"), s("news.today"), s("n")]));
    sub.handle.punsubscribe(["news.*"]).unwrap();
    assert_eq!(sub.next(), arr(&[s("punsubscribe"), s("news.*"), int(1)]));
    sub.handle.punsubscribe(["sport.*"]).unwrap();
    assert_eq!(sub.next(), arr(&[s("punsubscribe"), s("sport.*"), int(0)]));
    assert_eq!(sub.end().0, State::Success);
}

#[test]
fn quit_ends_the_subscription() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let sub = subscribe(&url, &["q1", "q2"], |_| {});
    assert_eq!(sub.next()[0], s("subscribe"));
    assert_eq!(sub.next()[0], s("subscribe"));
    sub.handle.quit().unwrap();
    let (state, e) = sub.end();
    assert_eq!(state, State::Success, "{e:?}");
    assert_eq!(publish(&url, "q1", b"gone"), int(0), "the subscription's connection is closed");
    assert_eq!(sub.handle.ping(None).unwrap_err().code(), libc::ENOTCONN);
}

#[test]
fn watch_timeout_without_messages_is_etimedout() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let sub = subscribe(&url, &["quiet"], |t| t.set_watch_timeout(Duration::from_millis(200)));
    assert_eq!(sub.next(), arr(&[s("subscribe"), s("quiet"), int(1)]));
    let (state, e) = sub.end();
    assert_eq!((state, e.code()), (State::SysError, libc::ETIMEDOUT), "{e:?}");
    assert_eq!(sub.handle.ping(None).unwrap_err().code(), libc::ENOTCONN);
}

#[test]
fn resp3_messages_are_pushes() {
    let redis = testkit::RedisServer::start();
    let url = format!("redis://127.0.0.1:{}/?protocol=3", redis.port());
    let sub = subscribe(&url, &["ch3"], |_| {});
    assert_eq!(sub.next(), RedisValue::Push(vec![s("subscribe"), s("ch3"), int(1)]));
    publish(&redis.url(), "ch3", b"pushed");
    let v = sub.next();
    assert_eq!(v, RedisValue::Push(vec![s("message"), s("ch3"), s("pushed")]));
    assert_eq!(v[2].as_str(), Some("pushed"));
    sub.handle.psubscribe(["p3.*"]).unwrap();
    assert_eq!(sub.next(), RedisValue::Push(vec![s("psubscribe"), s("p3.*"), int(2)]));
    publish(&redis.url(), "p3.z", b"pp");
    assert_eq!(sub.next(), RedisValue::Push(vec![s("pmessage"), s("p3.*"), s("p3.z"), s("pp")]));
    sub.handle.unsubscribe(["ch3"]).unwrap();
    assert_eq!(sub.next(), RedisValue::Push(vec![s("unsubscribe"), s("ch3"), int(1)]));
    sub.handle.punsubscribe(["p3.*"]).unwrap();
    assert_eq!(sub.next(), RedisValue::Push(vec![s("punsubscribe"), s("p3.*"), int(0)]));
    assert_eq!(sub.end().0, State::Success);
}

#[test]
fn resp3_quit_ends_the_subscription() {
    let redis = testkit::RedisServer::start();
    let url = format!("redis://127.0.0.1:{}/?protocol=3", redis.port());
    let sub = subscribe(&url, &["ch3"], |_| {});
    assert_eq!(sub.next()[0], s("subscribe"));
    sub.handle.quit().unwrap();
    let (state, e) = sub.end();
    assert_eq!(state, State::Success, "{e:?}");
}

#[test]
fn subscriber_with_a_password_and_extract_using_the_handle() {
    let redis = testkit::RedisServer::builder().password("pw").start();
    let url = redis.url();
    let (vtx, values) = mpsc::channel();
    let (etx, ended) = mpsc::channel();
    // `extract` itself ends the subscription on the message "stop".
    let task = RedisSubscriber::new(&url).create_subscribe_task(
        ["ctl"],
        move |handle, v| {
            if v[2].as_str() == Some("stop") {
                handle.unsubscribe(["ctl"]).unwrap();
            }
            let _ = vtx.send(v);
        },
        move |t| {
            let _ = etx.send((t.state(), t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0))));
        },
    );
    let sub = start(task, values, ended);
    assert_eq!(sub.next()[0], s("subscribe"));
    publish(&url, "ctl", b"go");
    assert_eq!(sub.next()[2], s("go"));
    publish(&url, "ctl", b"stop");
    assert_eq!(sub.next()[2], s("stop"));
    assert_eq!(sub.next(), arr(&[s("unsubscribe"), s("ctl"), int(0)]));
    assert_eq!(sub.end().0, State::Success);
}

#[test]
fn wrong_password_fails_the_subscription() {
    let redis = testkit::RedisServer::builder().password("pw").start();
    let url = format!("redis://:bad@127.0.0.1:{}", redis.port());
    let sub = subscribe(&url, &["x"], |_| {});
    let (state, e) = sub.end();
    assert_eq!((state, e.code()), (State::TaskError, wf_redis::code::ACCESS_DENIED), "{e:?}");
    assert_eq!(e.to_string(), "Redis Access Denied");
    assert!(sub.values.try_recv().is_err());
}

#[test]
fn subscriber_to_nowhere_fails() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sub = subscribe(&format!("redis://127.0.0.1:{port}"), &["x"], |_| {});
    let (state, e) = sub.end();
    assert_eq!((state, e.code()), (State::SysError, libc::ECONNREFUSED), "{e:?}");
    let bad = subscribe("http://127.0.0.1:1/", &["x"], |_| {});
    assert_eq!(bad.end().0, State::TaskError);
    let bad_db = subscribe("redis://127.0.0.1:1/x", &["x"], |_| {});
    assert_eq!(bad_db.end(), (State::TaskError, Error::task(wf_core::code::URI_PARSE_FAILED)));
}

#[test]
fn dropped_subscribe_task_never_runs() {
    let redis = testkit::RedisServer::start();
    let url = redis.url();
    let (etx, ended) = mpsc::channel::<()>();
    let task = RedisSubscriber::new(&url).create_subscribe_task(
        ["never"],
        |_, _| {},
        move |_| {
            let _ = etx.send(());
        },
    );
    let handle = task.handle();
    drop(task);
    assert_eq!(handle.ping(None).unwrap_err().code(), libc::ENOTCONN);
    assert!(ended.recv_timeout(Duration::from_millis(100)).is_err(), "the callback of a dismissed task ran");
    assert_eq!(query(&url, "PUBSUB", ["NUMSUB", "never"]), arr(&[s("never"), int(0)]));
}
