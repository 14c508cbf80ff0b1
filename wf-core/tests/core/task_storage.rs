//! Where a task lives: a small task (an empty task, a counter, a kind of a
//! word or so) is stored in place in its series' queue, a larger one is
//! boxed. Either way it runs once, its callback sees it whole, and it is
//! dropped exactly once: finished, dismissed, canceled or handed back to
//! its awaiter.

use crate::support;

use std::sync::mpsc;
use std::task::{Context, Poll};

use support::{Drops, Log, Token, recv};
use wf_core::{
    RunContext, State, Task, TaskKind, create_counter_task, create_empty_task, create_series_work, series_of,
};

/// A kind of one word: stored in place. The token counts its drop.
struct Small {
    _token: Token,
}

/// A kind far larger than the room in place: boxed.
struct Large {
    _token: Token,
    words: [u64; 32],
}

impl TaskKind for Small {
    fn poll_run(&mut self, _cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl TaskKind for Large {
    fn poll_run(&mut self, _cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        self.words[31] = 7;
        Poll::Ready(())
    }
}

fn small(d: &Drops) -> Task<Small> {
    Task::new(Small { _token: d.token() })
}

fn large(d: &Drops) -> Task<Large> {
    Task::new(Large { _token: d.token(), words: [1; 32] })
}

#[test]
fn finished_tasks_are_dropped_once_after_their_callback() {
    let d = Drops::new();
    let (tx, rx) = mpsc::channel();
    let seen = Log::new();
    let mut s = create_series_work(
        small(&d).with_callback({
            let (d, seen) = (d.clone(), seen.clone());
            move |_| seen.push(("small", d.count()))
        }),
        move |_| tx.send(()).unwrap(),
    );
    s.push_back(large(&d).with_callback({
        let (d, seen) = (d.clone(), seen.clone());
        move |t| {
            assert_eq!(t.words[31], 7, "the kind ran and its callback sees it");
            seen.push(("large", d.count()));
        }
    }));
    s.start();
    recv(&rx);
    // Each callback ran before its own task was dropped, after the one before.
    assert_eq!(seen.get(), [("small", 0), ("large", 1)]);
    assert_eq!(d.count(), 2);
}

#[test]
fn dismissed_and_canceled_tasks_are_dropped_once_without_callbacks() {
    let d = Drops::new();
    // Never started.
    let mut s = create_series_work(small(&d), |_| {});
    for _ in 0..10 {
        s.push_back(small(&d));
        s.push_back(large(&d));
    }
    drop(s);
    assert_eq!(d.count(), 21);

    // Canceled by the first task's callback: the rest is dropped unrun.
    let d = Drops::new();
    let (tx, rx) = mpsc::channel();
    let ran = Log::new();
    let mut s = create_series_work(small(&d).with_callback(|t| series_of(t).cancel()), move |_| tx.send(()).unwrap());
    for i in 0..10 {
        let r = ran.clone();
        s.push_back(small(&d).with_callback(move |_| r.push(i)));
        s.push_back(large(&d));
    }
    s.start();
    recv(&rx);
    assert!(ran.get().is_empty());
    assert_eq!(d.count(), 21);
}

#[test]
fn awaited_tasks_come_back_whole_then_drop_once() {
    let d = Drops::new();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (s, l) = rt.block_on(async { (small(&d).await, large(&d).await) });
    assert_eq!((s.state(), l.state()), (State::Success, State::Success));
    assert_eq!(l.words[31], 7);
    assert_eq!(d.count(), 0, "the awaiter owns them now");
    drop((s, l));
    assert_eq!(d.count(), 2);
}

#[test]
fn pushes_from_callbacks_keep_their_order_in_a_long_series() {
    let log = Log::new();
    let (tx, rx) = mpsc::channel();
    let entry = |i: u32| {
        let log = log.clone();
        create_empty_task().with_callback(move |t| {
            log.push(i);
            if i % 100 == 0 {
                // Runs next, before the tasks already queued.
                let log = log.clone();
                series_of(t).push_front(create_empty_task().with_callback(move |_| log.push(i + 1_000_000)));
            }
        })
    };
    let mut s = create_series_work(entry(0), move |_| tx.send(()).unwrap());
    for i in 1..1000 {
        s.push_back(entry(i));
    }
    s.start();
    recv(&rx);
    let want: Vec<u32> = (0..1000).flat_map(|i| if i % 100 == 0 { vec![i, i + 1_000_000] } else { vec![i] }).collect();
    assert_eq!(log.get(), want);
}

#[test]
fn a_counter_of_target_zero_completes_at_start_and_its_handle_counts_nothing() {
    let (tx, rx) = mpsc::channel();
    let c = create_counter_task(0, move |c| tx.send((c.state(), c.target())).unwrap());
    let h = c.handle();
    c.count();
    assert!(!h.count(), "nothing to reach");
    c.start();
    assert_eq!(recv(&rx), (State::Success, 0));
    assert!(!h.count());
}
