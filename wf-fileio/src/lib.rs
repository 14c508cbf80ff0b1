//! File IO tasks for wf (Workflow's `WFFileIOTask`, `WFFileVIOTask` and
//! `WFFileSyncTask`): pread, pwrite, preadv, pwritev, fsync and fdatasync.
//!
//! Each is a [`wf_core::Task`], so it runs alone (`start()`), in a series or
//! a parallel, or is awaited. A task works on a [`FileTarget`]: a
//! descriptor you keep open (the task never closes it) or a path that the
//! task opens and closes itself. Buffers belong to the task and come back
//! in the callback; `retval()` is the exact byte count, and a failure is
//! `SYS_ERROR` with the errno (`EBADF`, `ENOENT`, …).
//!
//! ```
//! use wf_core::{State, create_series_work, series_of};
//! use wf_fileio::{create_pread_task, create_pwrite_task};
//!
//! let path = std::env::temp_dir().join(format!("wf-fileio-doc-{}", std::process::id()));
//! let read_back = path.clone();
//! let write = create_pwrite_task(&path, "testtest", 80, move |t| {
//!     assert_eq!((t.state(), t.retval()), (State::Success, 8));
//!     // Next in the series: read the bytes back.
//!     series_of(t).push_back(create_pread_task(&read_back, 8, 80, |t| {
//!         assert_eq!(t.state(), State::Success);
//!         assert_eq!(t.buf(), b"testtest");
//!     }));
//! });
//! create_series_work(write, |_| {}).start();
//! wf_core::wait_finish();
//! std::fs::remove_file(&path).unwrap();
//! ```
//!
//! # Backends
//!
//! On Linux the operations run on io_uring, submitted by wf's own poller
//! threads (each keeps to a ring of its own) with no thread in between: a
//! read of page-cached data completes inside its submission, and the
//! task's callback runs right after it on the same thread; operations the
//! kernel finishes later are picked up through each ring's eventfd, which
//! wf's runtime watches. Where io_uring is unavailable (seccomp's `EPERM` in
//! containers, `ENOSYS`, other systems) they run as blocking positional
//! calls on a small thread pool. [`FileIoSettings`], applied by [`init`]
//! before the first file task, choose the backend and its threads; the
//! choice is made once, at the first file task, logged to stderr in one
//! line, and reported by [`backend()`].
//!
//! ```
//! use wf_fileio::{FileIoBackend, FileIoSettings};
//!
//! let mut s = FileIoSettings::default();
//! s.backend = FileIoBackend::ThreadPool;
//! s.threads = 8;
//! wf_fileio::init(s).expect("before the first file task");
//! ```

mod backend;
mod io;
mod op;
mod settings;
mod sync;
mod target;
mod vio;

pub use backend::{Backend, backend};
pub use io::{FileIo, FileIoTask, create_pread_task, create_pwrite_task};
pub use settings::{AlreadyInitialized, FileIoBackend, FileIoSettings, init, settings};
pub use sync::{FileSync, FileSyncTask, create_fdatasync_task, create_fsync_task};
pub use target::FileTarget;
pub use vio::{FileVio, FileVioTask, create_preadv_task, create_pwritev_task};
