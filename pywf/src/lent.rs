//! [`Lent`]: a `&mut T` lent to Python for the length of a callback.
//!
//! pyworkflow hands Python raw pointers to tasks, series and messages that
//! are freed when the callback returns; using one later is a use after
//! free. Here every such Python object reaches its Rust value through a
//! `Lent`, which holds the pointer only while the callback runs: later
//! uses find it empty and raise [`InvalidHandleError`](crate::InvalidHandleError).

use std::ptr::NonNull;
use std::sync::{Mutex, TryLockError};

use pyo3::PyResult;

use crate::error::{busy, invalid};

/// A mutable borrow of a `T`, valid only inside [`Lent::lend`].
///
/// Every access takes the mutex and is made with the GIL held (Python
/// calls it), as are [`lend`](Lent::lend)'s set and clear: accesses never
/// overlap, and one found in progress is a re-entrant use (`a.move_to(a)`)
/// and raises instead of aliasing.
pub(crate) struct Lent<T> {
    ptr: Mutex<Option<NonNull<T>>>,
}

// SAFETY: the pointer is only dereferenced through `with`, under the mutex,
// while `lend` keeps the `&mut T` it came from alive and unused; so sharing
// a `Lent<T>` across threads is sharing a `&mut T` behind a lock, which is
// sound when `T: Send`.
unsafe impl<T: Send> Send for Lent<T> {}
// SAFETY: as above; every access is exclusive (mutex).
unsafe impl<T: Send> Sync for Lent<T> {}

impl<T> Lent<T> {
    /// Nothing lent.
    pub(crate) const fn new() -> Lent<T> {
        Lent { ptr: Mutex::new(None) }
    }

    /// Runs `f` with `value` reachable through [`with`](Lent::with); it is
    /// unreachable again when `f` returns or unwinds.
    ///
    /// Lends of one `Lent` must nest on one thread (each task, series or
    /// reply is lent by the one callback running it): the previous value
    /// is put back when `f` returns. Never call `wf::series_of` on a lent
    /// task: its series may be lent at the same time.
    pub(crate) fn lend<R>(&self, value: &mut T, f: impl FnOnce() -> R) -> R {
        let prev = self.replace(Some(NonNull::from(value)));
        let _restore = Restore { lent: self, prev };
        f()
    }

    /// Like [`lend`](Lent::lend) for a value reached through a pointer
    /// (a task's series, which `wf::series_of` gives tied to the task's
    /// borrow while the task is lent too).
    ///
    /// # Safety
    ///
    /// `value` must point to a live `T` that nothing else touches until
    /// this call returns.
    pub(crate) unsafe fn lend_ptr<R>(&self, value: NonNull<T>, f: impl FnOnce() -> R) -> R {
        let prev = self.replace(Some(value));
        let _restore = Restore { lent: self, prev };
        f()
    }

    fn replace(&self, to: Option<NonNull<T>>) -> Option<NonNull<T>> {
        let mut g = self.ptr.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *g, to)
    }

    /// Runs `f` on the lent value; `InvalidHandleError` when nothing is
    /// lent (the callback returned), `RuntimeError` on a re-entrant use.
    pub(crate) fn with<R>(&self, what: &str, f: impl FnOnce(&mut T) -> R) -> PyResult<R> {
        self.try_with(f)?.map_err(|_| invalid(what))
    }

    /// Like [`with`](Lent::with), but gives `f` back when nothing is lent
    /// (for a caller with somewhere else to look).
    pub(crate) fn try_with<R, F: FnOnce(&mut T) -> R>(&self, f: F) -> PyResult<Result<R, F>> {
        let g = match self.ptr.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(busy()),
        };
        Ok(match *g {
            // SAFETY: a pointer is stored only by `lend`, from a `&mut T`
            // that outlives the call (it is cleared by `Restore` before
            // `lend` returns) and that its owner does not touch meanwhile;
            // the mutex, held until `f` returns, makes this the only access.
            Some(p) => Ok(f(unsafe { &mut *p.as_ptr() })),
            None => Err(f),
        })
    }

    /// True while a value is lent.
    pub(crate) fn is_lent(&self) -> bool {
        self.ptr.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

/// Clears what `lend` set, also when its closure unwinds.
struct Restore<'a, T> {
    lent: &'a Lent<T>,
    prev: Option<NonNull<T>>,
}

impl<T> Drop for Restore<'_, T> {
    fn drop(&mut self) {
        self.lent.replace(self.prev);
    }
}
