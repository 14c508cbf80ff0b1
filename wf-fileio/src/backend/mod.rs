//! The backends that run file operations, and the one-time choice between
//! them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use crate::op::{Completion, Reply, Request};
use crate::settings::{FileIoBackend, settings};
use crate::target::FileTarget;
use tokio::sync::oneshot;

mod pool;
#[cfg(target_os = "linux")]
mod uring;

/// The backend running file tasks in this process; see [`backend()`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// io_uring rings, driven by wf's own threads.
    IoUring,
    /// Blocking positional IO on a small thread pool.
    ThreadPool,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::IoUring => "io_uring",
            Backend::ThreadPool => "thread pool",
        })
    }
}

enum Active {
    #[cfg(target_os = "linux")]
    Uring(uring::Rings),
    Pool(pool::Pool),
    /// io_uring was required ([`FileIoBackend::IoUring`]) and cannot run:
    /// every operation fails with this errno.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Unavailable(i32),
}

static ACTIVE: OnceLock<Active> = OnceLock::new();

/// The backend file tasks use, chosen at the first file task (or this
/// call) from [`FileIoSettings::backend`](crate::FileIoSettings::backend)
/// (see [`init`](crate::init())):
///
/// * `Auto` (the default): io_uring if a ring can be set up (Linux, not
///   blocked by seccomp), else the thread pool;
/// * `IoUring`: io_uring; if it cannot be set up, this still says
///   `IoUring` and every file task fails with the setup's errno;
/// * `ThreadPool`: the thread pool.
///
/// The choice is logged once to stderr, e.g. `wf-fileio: using io_uring
/// (2 rings)` or `wf-fileio: io_uring unavailable (EPERM), using the thread
/// pool (4 threads)`.
pub fn backend() -> Backend {
    match active() {
        #[cfg(target_os = "linux")]
        Active::Uring(_) => Backend::IoUring,
        Active::Unavailable(_) => Backend::IoUring,
        Active::Pool(_) => Backend::ThreadPool,
    }
}

fn active() -> &'static Active {
    ACTIVE.get_or_init(choose)
}

fn choose() -> Active {
    let settings = settings();
    let threads = settings.threads;
    let pool = || {
        let n = if threads == 0 { 4 } else { threads };
        (pool::Pool::start(n), n)
    };
    match settings.backend {
        FileIoBackend::ThreadPool => {
            let (p, n) = pool();
            announce(format_args!("wf-fileio: using the thread pool ({n} threads), as the settings ask"));
            Active::Pool(p)
        }
        required => match start_uring(if threads == 0 { default_rings() } else { threads }) {
            Ok(active) => active,
            Err(errno) if required == FileIoBackend::IoUring => {
                announce(format_args!(
                    "wf-fileio: io_uring unavailable ({}), and the settings require it: file tasks fail",
                    errno_name(errno)
                ));
                Active::Unavailable(errno)
            }
            Err(errno) => {
                let (p, n) = pool();
                announce(format_args!(
                    "wf-fileio: io_uring unavailable ({}), using the thread pool ({n} threads)",
                    errno_name(errno)
                ));
                Active::Pool(p)
            }
        },
    }
}

#[cfg(target_os = "linux")]
fn start_uring(rings: usize) -> Result<Active, i32> {
    let r = uring::Rings::start(rings)?;
    let n = r.len();
    announce(format_args!("wf-fileio: using io_uring ({n} ring{})", if n == 1 { "" } else { "s" }));
    Ok(Active::Uring(r))
}

#[cfg(not(target_os = "linux"))]
fn start_uring(_rings: usize) -> Result<Active, i32> {
    Err(libc::ENOSYS)
}

/// One CPU's worth of rings: as many as wf's default poller threads.
fn default_rings() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An operation sent to the backend, until it completes.
pub(crate) enum Pending {
    /// Run by a thread of the pool (or failed at once): the completion
    /// comes over the channel.
    Channel(oneshot::Receiver<Completion>),
    /// On a ring.
    #[cfg(target_os = "linux")]
    Ring(uring::Call),
}

impl Pending {
    /// The completion, or `None` if the backend lost the operation (a
    /// pool thread died).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Completion>> {
        match self {
            Pending::Channel(rx) => Pin::new(rx).poll(cx).map(Result::ok),
            #[cfg(target_os = "linux")]
            Pending::Ring(call) => call.poll(cx).map(Some),
        }
    }
}

/// Sends `req` to the backend (a ring submits it when first polled).
pub(crate) fn submit(req: Request) -> Pending {
    if matches!(req.target, FileTarget::Fd(fd) if fd < 0) {
        // What the kernel would answer, without a trip to the backend.
        return failed(req, libc::EBADF);
    }
    match active() {
        #[cfg(target_os = "linux")]
        Active::Uring(rings) => Pending::Ring(rings.call(req)),
        Active::Pool(pool) => {
            let (tx, rx) = oneshot::channel();
            pool.submit(req, tx);
            Pending::Channel(rx)
        }
        Active::Unavailable(errno) => failed(req, *errno),
    }
}

fn failed(req: Request, errno: i32) -> Pending {
    let (tx, rx) = oneshot::channel();
    fail(req, tx, errno);
    Pending::Channel(rx)
}

fn fail(req: Request, reply: Reply, errno: i32) {
    let _ = reply.send(Completion { op: req.op, result: Err(errno) });
}

/// `EPERM` for 1 and so on, for the one log line; the number otherwise.
fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOSYS => "ENOSYS",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::EACCES => "EACCES",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// Says which backend was chosen, once, through `tracing` (an `info`
/// event with target `wf`).
#[cfg(feature = "tracing")]
fn announce(what: std::fmt::Arguments<'_>) {
    tracing::info!(target: "wf", "{what}");
}

/// Without the `tracing` feature the choice is not reported
/// ([`backend`](crate::backend) still tells it).
#[cfg(not(feature = "tracing"))]
fn announce(_what: std::fmt::Arguments<'_>) {}
