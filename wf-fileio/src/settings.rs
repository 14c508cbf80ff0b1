//! The file IO settings: which backend runs file tasks, on how many
//! threads. Applied once, before the first file task, like wf-core's
//! [`wf_core::init`] for the engine.

use std::fmt;
use std::sync::OnceLock;

/// The file IO settings, applied once by [`init`] before the first file
/// task. Fields not set keep their defaults.
///
/// ```
/// use wf_fileio::{FileIoBackend, FileIoSettings};
///
/// let mut s = FileIoSettings::default();
/// s.backend = FileIoBackend::ThreadPool;
/// s.threads = 2;
/// wf_fileio::init(s).expect("before the first file task");
/// assert_eq!(wf_fileio::backend(), wf_fileio::Backend::ThreadPool);
/// assert!(wf_fileio::init(FileIoSettings::default()).is_err(), "settings apply once");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileIoSettings {
    /// Which backend runs file tasks. Default: [`FileIoBackend::Auto`].
    pub backend: FileIoBackend,
    /// The size of the backend: io_uring rings (no thread of their own:
    /// each thread that submits keeps to one ring, threads spread over
    /// them round robin) or thread-pool threads. `0`, the default, lets
    /// the backend choose: one ring per CPU (as many as wf's default
    /// poller threads), or four pool threads.
    pub threads: usize,
}

/// Which backend runs file tasks (see [`FileIoSettings::backend`]); the
/// one in use is [`backend()`](crate::backend()).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileIoBackend {
    /// io_uring where it works (Linux, not blocked by seccomp), else the
    /// thread pool.
    #[default]
    Auto,
    /// io_uring only: if a ring cannot be set up, file tasks fail with
    /// `SYS_ERROR` and the errno the setup gave (`EPERM`, `ENOSYS`).
    IoUring,
    /// Blocking positional IO (`pread`, `pwrite`, …) on a small thread pool.
    ThreadPool,
}

/// Returned by [`init`] when the file IO settings can no longer change:
/// they were applied already, or a file task (or
/// [`backend()`](crate::backend())) made the backend start with the
/// settings in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyInitialized;

impl fmt::Display for AlreadyInitialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wf-fileio is already initialized: file IO settings must be applied before the first file task")
    }
}

impl std::error::Error for AlreadyInitialized {}

static SETTINGS: OnceLock<FileIoSettings> = OnceLock::new();

/// Applies `settings`. Call it once, before the first file task (or
/// [`backend()`](crate::backend())); a second call, or a call after the
/// backend started with the defaults, returns an error and changes
/// nothing. It is independent of [`wf_core::init`]: either may come first.
pub fn init(settings: FileIoSettings) -> Result<(), AlreadyInitialized> {
    SETTINGS.set(settings).map_err(|_| AlreadyInitialized)
}

/// The file IO settings in force (the defaults once a file task ran
/// without [`init`]).
pub fn settings() -> &'static FileIoSettings {
    SETTINGS.get_or_init(FileIoSettings::default)
}
