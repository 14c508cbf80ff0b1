//! What a file task works on: a descriptor you own, or a path the task
//! opens and closes itself.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// The file a task reads, writes or syncs.
///
/// * `Fd`: a descriptor that stays yours: the task never closes it, and it
///   must stay open until the task's callback ran.
/// * `Path`: the task opens the file when it runs and closes it before its
///   callback: reads and syncs with `O_RDONLY`, writes with
///   `O_WRONLY | O_CREAT` and mode `0644`, as in Workflow.
///
/// Factories take `impl Into<FileTarget>`, so a `RawFd`, a `&str`, a
/// `&Path` or a `PathBuf` can be passed directly.
///
/// ```
/// use wf_fileio::FileTarget;
/// assert_eq!(FileTarget::from(3), FileTarget::Fd(3));
/// assert_eq!(FileTarget::from("a.txt").path(), Some(std::path::Path::new("a.txt")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileTarget {
    /// An open descriptor, borrowed for the task's run.
    Fd(RawFd),
    /// A path, opened and closed by the task.
    Path(PathBuf),
}

impl FileTarget {
    /// The descriptor, for an `Fd` target.
    pub fn fd(&self) -> Option<RawFd> {
        match self {
            FileTarget::Fd(fd) => Some(*fd),
            FileTarget::Path(_) => None,
        }
    }

    /// The path, for a `Path` target.
    pub fn path(&self) -> Option<&Path> {
        match self {
            FileTarget::Fd(_) => None,
            FileTarget::Path(p) => Some(p),
        }
    }
}

impl From<RawFd> for FileTarget {
    fn from(fd: RawFd) -> FileTarget {
        FileTarget::Fd(fd)
    }
}

impl From<PathBuf> for FileTarget {
    fn from(p: PathBuf) -> FileTarget {
        FileTarget::Path(p)
    }
}

impl From<&Path> for FileTarget {
    fn from(p: &Path) -> FileTarget {
        FileTarget::Path(p.to_path_buf())
    }
}

impl From<&PathBuf> for FileTarget {
    fn from(p: &PathBuf) -> FileTarget {
        FileTarget::Path(p.clone())
    }
}

impl From<&str> for FileTarget {
    fn from(p: &str) -> FileTarget {
        FileTarget::Path(p.into())
    }
}

impl From<String> for FileTarget {
    fn from(p: String) -> FileTarget {
        FileTarget::Path(p.into())
    }
}
