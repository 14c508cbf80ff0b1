//! Message queues: first in, first out, whether the gets come before or after the posts.

use crate::support;

use std::sync::mpsc;

use support::{Log, probe, recv};
use wf_core::{MessageQueue, create_empty_task, create_series_work};

/// Posts first, then a series of gets: messages come out in posting order.
#[test]
fn posts_then_gets() {
    let q = MessageQueue::new();
    for m in ["one", "two", "three"] {
        q.post(m.to_string());
    }
    assert_eq!(q.len(), 3);
    let log = Log::<Option<String>>::new();
    let get = |q: &MessageQueue<String>| {
        let l = log.clone();
        q.get(create_empty_task().with_callback(move |t| l.push(t.take_user_data())))
    };
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(get(&q), move |_| tx.send(()).unwrap());
    s.push_back(get(&q));
    s.push_back(get(&q));
    s.start();
    recv(&rx);
    assert_eq!(log.get(), [Some("one".to_string()), Some("two".to_string()), Some("three".to_string())]);
    assert!(q.is_empty());
}

/// Gets first (queued in a known order), then posts: the longest-waiting get gets the first post.
#[test]
fn gets_then_posts() {
    let q = MessageQueue::<u32>::new();
    let log = Log::<(u32, Option<u32>)>::new();
    let (tx, rx) = mpsc::channel();
    for i in 0..4u32 {
        let l = log.clone();
        let (task, polled) = probe(q.get(create_empty_task().with_callback(move |t| l.push((i, t.take_user_data())))));
        let tx = tx.clone();
        create_series_work(task, move |_| tx.send(()).unwrap()).start();
        recv(&polled);
    }
    assert!(q.is_empty(), "waiting gets hold no messages");
    for m in [10, 20, 30, 40] {
        q.post(m);
    }
    for _ in 0..4 {
        recv(&rx);
    }
    let mut got = log.get();
    got.sort();
    assert_eq!(got, [(0, Some(10)), (1, Some(20)), (2, Some(30)), (3, Some(40))]);
    assert!(q.is_empty());
}

/// Posts and gets interleaved.
#[test]
fn interleaved() {
    let q = MessageQueue::<char>::new();
    let (tx, rx) = mpsc::channel();
    let get = |q: &MessageQueue<char>| {
        let tx = tx.clone();
        q.get(create_empty_task().with_callback(move |t| tx.send(t.take_user_data::<char>()).unwrap()))
    };
    q.post('a');
    get(&q).start();
    assert_eq!(recv(&rx), Some('a'));
    let (task, polled) = probe(get(&q));
    task.start();
    recv(&polled);
    q.post('b');
    assert_eq!(recv(&rx), Some('b'));
    q.post('c');
    q.post('d');
    assert_eq!(q.len(), 2);
    get(&q).start();
    assert_eq!(recv(&rx), Some('c'));
    assert_eq!(q.len(), 1);
}
