//! Locking that ignores poisoning: the one place wf (and crates built on
//! it) turns `lock()`'s `Result` into a guard.
//!
//! A std lock is *poisoned* when a thread panics while holding it, and
//! every later `lock()` returns an error. wf catches panics in callbacks
//! and keeps the process running, so one panicking callback must not make
//! every later user of a registry, queue or counter panic too. The state
//! behind wf's locks is changed in steps that leave it consistent at every
//! point a panic can happen (a push, an insert, a counter update), so the
//! guard is taken as it is, poisoned or not.
//!
//! ```
//! use std::sync::{Condvar, Mutex, RwLock};
//! use std::time::Duration;
//!
//! let m = Mutex::new(1);
//! *wf_core::lock::lock(&m) += 1;
//!
//! // A panic while the lock is held poisons it; the helper still locks it.
//! let _ = std::panic::catch_unwind(|| {
//!     let _g = wf_core::lock::lock(&m);
//!     panic!("in a callback");
//! });
//! assert!(m.is_poisoned());
//! assert_eq!(*wf_core::lock::lock(&m), 2);
//!
//! let rw = RwLock::new(String::from("a"));
//! wf_core::lock::write(&rw).push('b');
//! assert_eq!(*wf_core::lock::read(&rw), "ab");
//!
//! let cv = Condvar::new();
//! let g = wf_core::lock::lock(&m);
//! let (g, timed_out) = wf_core::lock::wait_timeout(&cv, g, Duration::from_millis(1));
//! assert!(timed_out.timed_out() && *g == 2);
//! ```

use std::sync::{
    Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};
use std::time::Duration;

/// Locks `m`, whether or not a panicking thread poisoned it
/// ([`Mutex::lock`] without the poison error).
#[inline]
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Locks `l` for reading, whether or not it is poisoned
/// ([`RwLock::read`] without the poison error).
#[inline]
pub fn read<T: ?Sized>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

/// Locks `l` for writing, whether or not it is poisoned
/// ([`RwLock::write`] without the poison error).
#[inline]
pub fn write<T: ?Sized>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` with `guard`'s lock released meanwhile, and returns the
/// guard again, whether or not the lock was poisoned ([`Condvar::wait`]).
#[inline]
pub fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Like [`wait`], for at most `timeout` ([`Condvar::wait_timeout`]).
#[inline]
pub fn wait_timeout<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
    cv.wait_timeout(guard, timeout).unwrap_or_else(PoisonError::into_inner)
}
