//! Series that move onto compute threads: a go task's callback and the tasks after it run on the
//! compute thread until one has to wait; waiting tasks after a compute task are not lost, and long
//! series keep their order across moves.

use crate::support;

use std::sync::mpsc;

use support::{Log, recv};
use wf_core::{
    MailboxTask, create_counter_task, create_empty_task, create_go_task, create_mailbox_task, create_module_task,
    create_series_work, create_thread_task,
};

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("<unnamed>").to_string()
}

/// As in Workflow: the callback of a go task runs on the compute thread, and so does the next task
/// that does not have to wait.
#[test]
fn callback_and_next_task_run_on_the_compute_thread() {
    let log = Log::<(&'static str, String)>::new();
    let (l1, l2) = (log.clone(), log.clone());
    let go = create_go_task("series_compute_thread", thread_name).with_callback(move |t| {
        l1.push(("closure", t.take_result().unwrap()));
        l1.push(("go callback", thread_name()));
    });
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(go, move |_| tx.send(()).unwrap());
    s.push_back(create_empty_task().with_callback(move |_| l2.push(("empty callback", thread_name()))));
    s.start();
    recv(&rx);
    let got = log.get();
    assert_eq!(got.len(), 3);
    assert!(got[0].1.starts_with("wf-compute-"), "{got:?}");
    assert_eq!(got[1].1, got[0].1, "the go callback runs where the closure ran: {got:?}");
    assert_eq!(got[2].1, got[0].1, "the next task runs there too: {got:?}");
}

/// A counter or mailbox after a go task is counted / sent from another thread at about the time it
/// starts waiting: the series always goes on.
#[test]
fn waiting_task_after_compute_task_is_not_lost() {
    let (tx, rx) = mpsc::channel();
    for i in 0..200 {
        let counter = create_counter_task(1, |_| {});
        let h = counter.handle();
        let mailbox = create_mailbox_task(|_: &mut MailboxTask<u32>| {});
        let m = mailbox.handle();
        let mut s = create_series_work(create_go_task("series_compute_thread", || ()), {
            let tx = tx.clone();
            move |_| tx.send(i).unwrap()
        });
        s.push_back(counter);
        s.push_back(create_go_task("series_compute_thread", || ()));
        s.push_back(mailbox);
        s.push_back(create_go_task("series_compute_thread", || ()));
        s.start();
        std::thread::spawn(move || {
            if i % 2 == 0 {
                std::thread::yield_now();
            }
            h.count();
            m.send(i).unwrap();
        });
    }
    let mut done: Vec<u32> = (0..200).map(|_| recv(&rx)).collect();
    done.sort();
    assert_eq!(done, (0..200).collect::<Vec<_>>());
}

/// More tasks than run in one go on a compute thread: order is kept across the moves.
#[test]
fn long_series_after_compute_task_keeps_order() {
    let log = Log::<usize>::new();
    let (tx, rx) = mpsc::channel();
    let mut s = create_series_work(create_go_task("series_compute_thread", || ()), move |_| tx.send(()).unwrap());
    for i in 0..600 {
        let l = log.clone();
        if i % 3 == 0 {
            s.push_back(
                create_go_task("series_compute_thread", move || i)
                    .with_callback(move |t| l.push(t.take_result().unwrap())),
            );
        } else {
            s.push_back(create_empty_task().with_callback(move |_| l.push(i)));
        }
    }
    s.start();
    recv(&rx);
    assert_eq!(log.get(), (0..600).collect::<Vec<_>>());
}

/// Go and thread tasks inside a module (which never moves) still run and call back.
#[test]
fn compute_tasks_inside_a_module() {
    let log = Log::<String>::new();
    let l = log.clone();
    let go =
        create_go_task("series_compute_thread", || 2).with_callback(move |t| l.push(format!("go {:?}", t.result())));
    let l = log.clone();
    let mut m = create_module_task(go, move |_| l.push("module".to_string()));
    let l = log.clone();
    m.sub_series().push_back(create_thread_task(
        "series_compute_thread",
        3,
        |x: &mut i32| *x * 3,
        move |t| l.push(format!("thread {:?}", t.output())),
    ));
    let (tx, rx) = mpsc::channel();
    create_series_work(m, move |_| tx.send(()).unwrap()).start();
    recv(&rx);
    assert_eq!(log.get(), ["go Some(2)", "thread Some(9)", "module"]);
}
