//! Awaiting wf work from async code: a go task, a counter counted from another thread, a series
//! and a parallel resolve, after their callbacks, to the finished work.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::WAIT;
use wf_core::{
    State, create_counter_task, create_empty_task, create_go_task, create_parallel_work, create_series_work,
    create_thread_task, series_of,
};

#[tokio::test]
async fn await_go_task() {
    let called = Arc::new(AtomicBool::new(false));
    let c = called.clone();
    let mut t = create_go_task("async_await", || "done".to_string())
        .with_callback(move |_| c.store(true, Ordering::SeqCst))
        .await;
    assert!(called.load(Ordering::SeqCst), "resolves after the callback");
    assert_eq!(t.state(), State::Success);
    assert_eq!(t.take_result().as_deref(), Some("done"));
}

#[tokio::test]
async fn await_counter_counted_from_another_thread() {
    let c = create_counter_task(3, |_| {});
    let h = c.handle();
    let counter = std::thread::spawn(move || {
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(5));
            h.count();
        }
    });
    let c = tokio::time::timeout(WAIT, c.into_future()).await.expect("the counter completes");
    assert_eq!(c.state(), State::Success);
    counter.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_series() {
    let mut s = create_series_work(create_go_task("async_await", || 1u32), |s| {
        s.context_mut::<Vec<&str>>().unwrap().push("series callback");
    });
    s.set_context(Vec::<&str>::new());
    s.push_back(create_empty_task().with_callback(|t| series_of(t).context_mut::<Vec<&str>>().unwrap().push("task")));
    let mut s = s.await;
    assert_eq!(s.take_context::<Vec<&str>>(), Some(vec!["task", "series callback"]));
}

#[tokio::test]
async fn await_parallel() {
    let mut p = create_parallel_work(|p| {
        let n = p.size();
        p.set_context(n);
    });
    for i in 0..4u64 {
        let mut s = create_series_work(
            create_go_task("async_await", move || i * i).with_callback(|t| {
                let v = t.take_result().unwrap();
                series_of(t).set_context(v);
            }),
            |_| {},
        );
        s.set_context(u64::MAX);
        p.add_series(s);
    }
    let p = p.await;
    assert_eq!(p.state(), State::Success);
    assert_eq!(p.context::<usize>(), Some(&4));
    let contexts: Vec<u64> = p.iter().map(|s| *s.context::<u64>().unwrap()).collect();
    assert_eq!(contexts, [0, 1, 4, 9]);
}

#[tokio::test]
async fn await_thread_task_and_many_at_once() {
    let t = create_thread_task("async_await", (2u8, 5u8), |io: &mut (u8, u8)| io.0 + io.1, |_| {}).await;
    assert_eq!(t.output(), Some(&7));
    let futures: Vec<_> = (0..50u32).map(|i| create_go_task("async_await", move || i).into_future()).collect();
    let mut sum = 0;
    for f in futures {
        sum += f.await.result().copied().unwrap();
    }
    assert_eq!(sum, (0..50).sum::<u32>());
}
