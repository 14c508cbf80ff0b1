//! File tasks: `create_pread_task`, `create_pwrite_task`,
//! `create_pwritev_task`, `create_fsync_task`, `create_fdsync_task`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wf::fileio::{FileIo, FileSync, FileVio};

use crate::core::{Core, SubTask, create, new_task};

/// Declares a file task class over a `Core<$kind>` and its wrap
/// function, with the getters every file task has (`get_retval`,
/// `get_fd`) and the class's own (`$methods`).
macro_rules! file_task {
    (
        $(#[$doc:meta])* $name:ident($kind:ty), $wrap:ident,
        retval: $retval:literal,
        { $($methods:tt)* }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, extends = SubTask, module = "pywf")]
        pub(crate) struct $name {
            core: Arc<Core<$kind>>,
        }

        opaque_debug!($name);

        fn $wrap(py: Python<'_>, core: Arc<Core<$kind>>) -> PyResult<Py<PyAny>> {
            new_task(py, core.clone(), $name { core })
        }

        #[pymethods]
        impl $name {
            #[doc = $retval]
            fn get_retval(&self) -> PyResult<isize> {
                self.core.with(|t| t.retval())
            }
            /// The file descriptor.
            fn get_fd(&self) -> PyResult<i32> {
                self.core.with(|t| t.fd().unwrap_or(-1))
            }
            $($methods)*
        }
    };
}

file_task!(
    /// A pread or pwrite task.
    FileIOTask(FileIo), wrap_io,
    retval: "Bytes read or written, -1 unless the task succeeded.",
    {
        /// The file offset.
        fn get_offset(&self) -> PyResult<u64> {
            self.core.with(|t| t.offset())
        }
        /// The byte count asked for.
        fn get_count(&self) -> PyResult<usize> {
            self.core.with(|t| t.count())
        }
        /// The bytes read (exactly `get_retval()` of them; pyworkflow gave
        /// `count` bytes, garbage after a short read), or the bytes written.
        fn get_data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
            self.core.with(|t| PyBytes::new(py, t.buf()))
        }
    }
);

file_task!(
    /// A pwritev task.
    FileVIOTask(FileVio), wrap_vio,
    retval: "Bytes written, -1 unless the task succeeded.",
    {
        /// The file offset.
        fn get_offset(&self) -> PyResult<u64> {
            self.core.with(|t| t.offset())
        }
        /// The buffers, as a list of bytes.
        fn get_data<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
            self.core.with(|t| t.bufs().iter().map(|b| PyBytes::new(py, b)).collect())
        }
    }
);

file_task!(
    /// An fsync or fdatasync task.
    FileSyncTask(FileSync), wrap_sync,
    retval: "0 on success, -1 unless the task succeeded.",
    {}
);

/// Reads up to `count` bytes of `fd` at `offset`.
#[pyfunction]
pub(crate) fn create_pread_task(
    py: Python<'_>,
    fd: i32,
    count: usize,
    offset: u64,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    create(py, "FileIOTask", wrap_io, callback, |c| wf::fileio::create_pread_task(fd, count, offset, c.rust_callback()))
}

/// Writes `min(count, len(data))` bytes of `data` to `fd` at `offset`.
#[pyfunction]
pub(crate) fn create_pwrite_task(
    py: Python<'_>,
    fd: i32,
    data: &[u8],
    count: usize,
    offset: u64,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let n = count.min(data.len());
    create(py, "FileIOTask", wrap_io, callback, |c| {
        wf::fileio::create_pwrite_task(fd, data[..n].to_vec(), offset, c.rust_callback())
    })
}

/// Writes the buffers of `data_list` to `fd` at `offset`.
#[pyfunction]
pub(crate) fn create_pwritev_task(
    py: Python<'_>,
    fd: i32,
    data_list: Vec<Vec<u8>>,
    offset: u64,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    create(py, "FileVIOTask", wrap_vio, callback, |c| {
        wf::fileio::create_pwritev_task(fd, data_list, offset, c.rust_callback())
    })
}

/// fsync(fd).
#[pyfunction]
pub(crate) fn create_fsync_task(py: Python<'_>, fd: i32, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    create(py, "FileSyncTask", wrap_sync, callback, |c| wf::fileio::create_fsync_task(fd, c.rust_callback()))
}

/// fdatasync(fd).
#[pyfunction]
pub(crate) fn create_fdsync_task(py: Python<'_>, fd: i32, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    create(py, "FileSyncTask", wrap_sync, callback, |c| wf::fileio::create_fdatasync_task(fd, c.rust_callback()))
}
