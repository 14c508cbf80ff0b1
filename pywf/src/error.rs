//! The Python exceptions pywf raises, and how an exception escaping a
//! callback is reported.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

pyo3::create_exception!(
    pywf,
    InvalidHandleError,
    PyRuntimeError,
    "A task, series, request or response used after its callback returned, \
     or a task used after it was started or added to a series."
);

/// The error for a handle whose value is gone.
pub(crate) fn invalid(what: &str) -> PyErr {
    InvalidHandleError::new_err(format!(
        "{what} is no longer valid: it may only be used in its own callback (or before it is started)"
    ))
}

/// The error for a handle used while it is already in use (`a.move_to(a)`).
pub(crate) fn busy() -> PyErr {
    PyRuntimeError::new_err("pywf object used re-entrantly (moved into itself?)")
}

/// Reports an exception that escaped a callback the way Python reports an
/// uncaught exception in a thread (`sys.unraisablehook`, which prints the
/// traceback by default); the series goes on.
pub(crate) fn report(py: Python<'_>, err: PyErr, callback: &Bound<'_, PyAny>) {
    err.write_unraisable(py, Some(callback));
}
