//! Resource pools: C++ resource_unittest (3 resources, 10 tasks), at most as many holders as
//! resources, first-come first-served waiters, and the most recently returned resource first.

use crate::support;

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use support::{Concurrency, Log, probe, recv, wait_until};
use wf_core::{
    ConditionalTask, ResourcePool, State, create_counter_task, create_dynamic_task, create_empty_task, create_go_task,
    create_module_task, create_series_work,
};

fn pool_of_three() -> ResourcePool<String> {
    ResourcePool::new(["a", "b", "c"].map(String::from))
}

/// C++ `resource_pool`: every task gets a resource in its user data and posts it back.
#[test]
fn ten_tasks_share_three_resources() {
    let pool = pool_of_three();
    let (tx, rx) = mpsc::channel();
    for i in 0..10 {
        let (p, tx) = (pool.clone(), tx.clone());
        let go = create_go_task("sync_resource_pool", || ()).with_callback(move |t| {
            let res: Option<String> = t.take_user_data();
            tx.send((i, t.state(), res.clone())).unwrap();
            if let Some(r) = res {
                p.post(r);
            }
        });
        create_series_work(pool.get(go), |_| {}).start();
    }
    let mut got: Vec<_> = (0..10).map(|_| recv(&rx)).collect();
    got.sort_by_key(|g| g.0);
    for (i, state, res) in got {
        assert_eq!(state, State::Success, "task {i}");
        let res = res.unwrap_or_else(|| panic!("task {i} got no resource"));
        assert!(["a", "b", "c"].contains(&res.as_str()), "task {i} got {res}");
    }
    assert!(wait_until(support::WAIT, || pool.available() == 3));
}

/// A holder of a resource, as a module: its sub-series runs a counter that a helper thread counts
/// after a while (no compute thread is held, so the pool alone limits concurrency).
fn holder(pool: &ResourcePool<String>, conc: &Concurrency, done: mpsc::Sender<Option<String>>) -> ConditionalTask {
    let c = conc.clone();
    let hold = create_dynamic_task(move || {
        c.enter();
        let counter = create_counter_task(1, |_| {});
        let h = counter.handle();
        let c = c.clone();
        std::thread::spawn(move || {
            // Hold until the pool is fully used (or a second passed), then a little more.
            wait_until(Duration::from_secs(1), || c.peak() >= 3);
            std::thread::sleep(Duration::from_millis(5));
            h.count();
        });
        counter.into()
    });
    let (p, c) = (pool.clone(), conc.clone());
    pool.get(create_module_task(hold, move |m| {
        let res: Option<String> = m.take_user_data();
        // Leave before posting: the post hands the resource to the next waiter at once.
        c.leave();
        if let Some(r) = res.clone() {
            p.post(r);
        }
        done.send(res).unwrap();
    }))
}

#[test]
fn never_more_holders_than_resources() {
    let pool = pool_of_three();
    let conc = Concurrency::default();
    let (tx, rx) = mpsc::channel();
    for _ in 0..10 {
        create_series_work(holder(&pool, &conc, tx.clone()), |_| {}).start();
    }
    let got: Vec<_> = (0..10).map(|_| recv(&rx)).collect();
    assert!(got.iter().all(|r| r.is_some()), "{got:?}");
    let distinct: HashSet<_> = got.iter().flatten().cloned().collect();
    assert!(distinct.iter().all(|r| ["a", "b", "c"].contains(&r.as_str())), "{distinct:?}");
    assert_eq!(conc.peak(), 3, "three holders at most, and the pool was fully used");
    assert!(wait_until(support::WAIT, || pool.available() == 3));
}

/// A pool of one: waiters get the resource in the order they queued for it.
#[test]
fn waiters_are_served_first_come_first_served() {
    let pool = ResourcePool::new([7u32]);
    let order = Log::<(u32, Option<u32>)>::new();
    // The first task takes the resource and holds it until the test counts its counter.
    let (p, o) = (pool.clone(), order.clone());
    let hold = create_counter_task(1, move |t| {
        let r: Option<u32> = t.take_user_data();
        o.push((0, r));
        if let Some(r) = r {
            p.post(r + 1);
        }
    });
    let release = hold.handle();
    let (task, polled) = probe(pool.get(hold));
    task.start();
    recv(&polled);
    assert_eq!(pool.available(), 0);
    let (tx, rx) = mpsc::channel();
    for i in 1..=5u32 {
        let (p, o) = (pool.clone(), order.clone());
        let t = create_empty_task().with_callback(move |t| {
            let r: Option<u32> = t.take_user_data();
            o.push((i, r));
            if let Some(r) = r {
                p.post(r + 1);
            }
        });
        let (task, polled) = probe(pool.get(t));
        let tx = tx.clone();
        create_series_work(task, move |_| tx.send(()).unwrap()).start();
        // The next waiter is started only once this one queued.
        recv(&polled);
    }
    assert!(release.count());
    for _ in 1..=5 {
        recv(&rx);
    }
    assert_eq!(order.get(), [(0, Some(7)), (1, Some(8)), (2, Some(9)), (3, Some(10)), (4, Some(11)), (5, Some(12))]);
    assert_eq!(pool.available(), 1);
}

/// A returned resource (which need not be the one taken) is the next one handed out.
#[test]
fn most_recently_returned_resource_first() {
    let pool = pool_of_three();
    let log = Log::<Option<String>>::new();
    let (p, l) = (pool.clone(), log.clone());
    let first = create_empty_task().with_callback(move |t| {
        l.push(t.take_user_data());
        p.post("returned".to_string());
    });
    let l = log.clone();
    let second = create_empty_task().with_callback(move |t| l.push(t.take_user_data()));
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(pool.get(first), move |_| tx.send(()).unwrap());
    s.push_back(pool.get(second));
    s.start();
    recv(&rx);
    let got = log.get();
    assert!(got[0].is_some());
    assert_eq!(got[1].as_deref(), Some("returned"));
    assert_eq!(pool.available(), 2);
}

/// The resource is taken when the wrapper runs, not when it is created.
#[test]
fn resource_taken_at_run_not_at_creation() {
    let pool = ResourcePool::new([1u8]);
    let unstarted = pool.get(create_empty_task());
    assert_eq!(pool.available(), 1);
    drop(unstarted);
    assert_eq!(pool.available(), 1);
    let (tx, rx) = mpsc::channel();
    let t = create_empty_task().with_callback(move |t| tx.send(t.take_user_data::<u8>()).unwrap());
    pool.get(t).start();
    assert_eq!(recv(&rx), Some(1));
    assert_eq!(pool.available(), 0);
}
