//! Selectors: the first `Some` wins (and the callback need not wait for the other candidates),
//! later submissions are rejected, all `None` fails with SYS_ERROR/ENOMSG.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::recv;
use wf_core::{SelectorTask, State, create_selector_task};

#[test]
fn first_some_wins() {
    let (tx, rx) = mpsc::channel();
    let s = create_selector_task(3, move |s: &mut SelectorTask<&'static str>| {
        tx.send((s.state(), s.error_code(), s.take_message())).unwrap()
    });
    let (a, b, c) = (s.handle(), s.handle(), s.handle());
    s.start();
    assert!(!a.submit(None));
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err(), "a None does not finish it");
    assert!(b.submit(Some("b")));
    // The callback runs without waiting for the third candidate.
    assert_eq!(recv(&rx), (State::Success, 0, Some("b")));
    assert!(!c.submit(Some("c")), "later messages are rejected");
}

#[test]
fn submit_before_start() {
    let (tx, rx) = mpsc::channel();
    let s =
        create_selector_task(2, move |s: &mut SelectorTask<u32>| tx.send((s.state(), s.message().copied())).unwrap());
    let (a, b) = (s.handle(), s.handle());
    assert!(a.submit(Some(1)));
    assert!(!b.submit(Some(2)));
    s.start();
    assert_eq!(recv(&rx), (State::Success, Some(1)));
}

#[test]
fn all_none_is_enomsg() {
    let (tx, rx) = mpsc::channel();
    let s = create_selector_task(3, move |s: &mut SelectorTask<u8>| {
        tx.send((s.state(), s.error_code(), s.message().copied(), s.error_text())).unwrap()
    });
    let handles: Vec<_> = (0..3).map(|_| s.handle()).collect();
    s.start();
    for h in &handles[..2] {
        assert!(!h.submit(None));
    }
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err(), "one candidate is still out");
    assert!(!handles[2].submit(None));
    assert_eq!(recv(&rx), (State::SysError, libc::ENOMSG, None, "No message of desired type".to_string()));
}

/// Candidates racing from several threads: exactly one wins.
#[test]
fn racing_candidates_one_winner() {
    for _ in 0..20 {
        let (tx, rx) = mpsc::channel();
        let s = create_selector_task(8, move |s: &mut SelectorTask<usize>| tx.send(s.take_message()).unwrap());
        let handles: Vec<_> = (0..8).map(|_| s.handle()).collect();
        s.start();
        let threads: Vec<_> =
            handles.into_iter().enumerate().map(|(i, h)| std::thread::spawn(move || h.submit(Some(i)))).collect();
        let accepted: Vec<usize> =
            threads.into_iter().enumerate().filter_map(|(i, t)| t.join().unwrap().then_some(i)).collect();
        assert_eq!(accepted.len(), 1);
        assert_eq!(recv(&rx), Some(accepted[0]));
    }
}
