//! Scratch directories: a fresh directory per test, removed afterwards.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::process::{PREFIX, live, remove_stale_dirs};

/// A directory of its own under [`std::env::temp_dir`], mode 0700, removed
/// with everything in it on drop, and also when the process exits without
/// dropping it (a handle kept in a `static`). A directory left by a test
/// process that was killed is removed by the next `TempDir::new` of any
/// test process.
///
/// ```
/// let dir = testkit::TempDir::new("example");
/// let file = dir.write("hello.txt", "hello");
/// assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello");
/// let path = dir.path().to_owned();
/// drop(dir);
/// assert!(!path.exists());
/// ```
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `wf-testkit-PID-COUNTER-NANOS-KIND`, unique to this call,
    /// after removing the directories of test processes that are gone.
    /// `kind` (a short tag without `/`) only helps a human find it.
    ///
    /// # Panics
    ///
    /// If the directory cannot be created.
    pub fn new(kind: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        remove_stale_dirs();
        let base = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
            let path = base.join(format!("{PREFIX}{}-{n}-{nanos:x}-{kind}", std::process::id()));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    live().dirs.push(path.clone());
                    return TempDir { path };
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("testkit: cannot create {}: {e}", path.display()),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `data` to the file `name` in the directory (replacing it) and
    /// returns the file's path.
    ///
    /// # Panics
    ///
    /// If the file cannot be written.
    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path.join(name);
        fs::write(&path, data).unwrap_or_else(|e| panic!("testkit: cannot write {}: {e}", path.display()));
        path
    }

    /// Keeps the directory until the process exits.
    pub(crate) fn keep_until_exit(self) -> PathBuf {
        let path = self.path.clone();
        std::mem::forget(self);
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
        live().dirs.retain(|d| *d != self.path);
    }
}
