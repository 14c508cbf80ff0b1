//! What a callback saw, reported on a channel and received within
//! [`WAIT`](crate::WAIT).
//!
//! wf's tasks report through callbacks that run on wf's threads. A test
//! hands the callback a [`Sender`], the callback sends a snapshot of the
//! task (each protocol's tests have their own `Outcome` type: its fields
//! are the protocol's), and the test receives it here, failing instead of
//! hanging when the callback never runs.

use std::sync::mpsc::{self, Receiver, Sender};

use crate::WAIT;

/// Receives one value from `rx`, waiting at most [`WAIT`].
///
/// # Panics
///
/// If nothing comes within [`WAIT`], or every sender is gone (a callback
/// that was dropped without running).
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// std::thread::spawn(move || tx.send(42).unwrap());
/// assert_eq!(testkit::recv(&rx), 42);
/// ```
#[track_caller]
pub fn recv<T>(rx: &Receiver<T>) -> T {
    match rx.recv_timeout(WAIT) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("timed out after {WAIT:?} waiting for a callback"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("no callback will report: every sender was dropped"),
    }
}

/// Calls `start` with a [`Sender`] for a callback to report on, then
/// returns the first report ([`recv`]).
///
/// ```
/// let doubled = testkit::capture(|tx| {
///     // Typically: a task whose callback sends its outcome, then `start()`.
///     std::thread::spawn(move || tx.send(2 * 21).unwrap());
/// });
/// assert_eq!(doubled, 42);
/// ```
///
/// # Panics
///
/// As [`recv`].
#[track_caller]
pub fn capture<T>(start: impl FnOnce(Sender<T>)) -> T {
    let (tx, rx) = mpsc::channel();
    start(tx);
    recv(&rx)
}
