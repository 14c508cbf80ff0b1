//! [`Utf8`]: a Python `str` argument read in place.
//!
//! Under the stable ABI of CPython 3.9 (this crate's `abi3-py39`), PyO3
//! reads a `str` argument by encoding it into a new `bytes` object and
//! copying that into a `String`: two allocations and two copies for every
//! argument of every call. CPython keeps the UTF-8 form of a `str` with
//! the object (for ASCII text it is the text itself; other text is
//! encoded once, on first use), and `PyUnicode_AsUTF8AndSize` lends it.
//! That function is exported by every CPython 3, with the same signature
//! throughout, and is part of the stable ABI from 3.10 on; PyO3 declares
//! it only from 3.10, so it is declared here.

use std::ffi::c_char;
use std::ops::Deref;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::{Borrowed, FromPyObject};

unsafe extern "C" {
    fn PyUnicode_AsUTF8AndSize(unicode: *mut ffi::PyObject, size: *mut ffi::Py_ssize_t) -> *const c_char;
}

/// A `str` argument's text, borrowed from the Python object.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Utf8<'a>(&'a str);

impl<'a> Utf8<'a> {
    /// The text of `s`; a `UnicodeEncodeError` for text that is not valid
    /// UTF-8 (lone surrogates), as `str.encode()` raises.
    pub(crate) fn of(s: Borrowed<'a, '_, PyString>) -> PyResult<Utf8<'a>> {
        let mut size: ffi::Py_ssize_t = 0;
        // SAFETY: `s` is a live `str` (the borrow `'a` keeps it alive) and
        // the GIL is held (a `Borrowed` carries its `Python` token).
        let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
        if data.is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        // SAFETY: CPython returns the object's own UTF-8 buffer, `size`
        // bytes long without the NUL, valid UTF-8 (it was encoded from the
        // code points), unchanged and alive as long as the immutable `str`
        // is, which `'a` borrows.
        let text = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(data.cast(), size as usize)) };
        Ok(Utf8(text))
    }
}

impl Deref for Utf8<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.0
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Utf8<'a> {
    type Error = PyErr;

    fn extract(ob: Borrowed<'a, 'py, PyAny>) -> PyResult<Utf8<'a>> {
        Utf8::of(ob.cast::<PyString>()?)
    }
}
