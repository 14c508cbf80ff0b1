//! [`attach`]: the GIL for a wf thread, with a thread state kept per thread.
//!
//! `Python::attach` on a thread Python did not start makes a new Python
//! thread state and deletes it again when it returns (`PyGILState_Ensure`
//! and `PyGILState_Release`), about 1,600 instructions on every callback
//! and every request a server answers. wf's handler, poller and compute
//! threads run such calls all the time and live as long as the process,
//! so each keeps one thread state from its first call on, released
//! (`PyEval_SaveThread`) between calls; later calls only take and drop
//! the GIL. Threads that end (a program's own executors) leave theirs to
//! the interpreter, which frees every thread state when it finalizes.

use std::cell::Cell;

use pyo3::ffi;
use pyo3::prelude::*;

thread_local! {
    /// Whether this thread's thread state was made (or found) already.
    static KEPT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the GIL held, on a thread that keeps its thread state;
/// use it from wf's threads (callbacks, `process`, go tasks).
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    if !KEPT.with(|k| k.replace(true)) {
        keep_thread_state();
    }
    Python::attach(f)
}

/// Makes this thread's thread state and leaves it made, with the GIL
/// released; nothing when the thread has one already (a Python thread).
#[cold]
fn keep_thread_state() {
    // SAFETY: the interpreter is initialized (this module was imported
    // into it, and every caller is reached from a task the module made).
    // `PyGILState_Ensure` makes the thread state and takes the GIL; the
    // counter it leaves at 1 keeps the state when later calls release
    // theirs, and `PyEval_SaveThread` releases the GIL again. A thread
    // with a state of its own (a Python thread, or one inside `attach`)
    // is left as it is.
    unsafe {
        if ffi::PyGILState_GetThisThreadState().is_null() {
            let _ = ffi::PyGILState_Ensure();
            ffi::PyEval_SaveThread();
        }
    }
}
