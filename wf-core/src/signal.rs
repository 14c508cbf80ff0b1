//! Running as a daemon: block until the process is asked to stop
//! (SIGTERM or SIGINT), then stop gracefully.
//!
//! Workflow's tutorials install a `signal(SIGINT, …)` handler that
//! releases a wait group, and `main` waits on it before `server.stop()`.
//! This module is that pattern, done once and async-signal-safely:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = wf_core::net::Server::new(wf_core::net::tlv::Tlv::default(), |_| {});
//! server.start(9000)?;
//! let signal = wf_core::signal::wait_for_shutdown()?;
//! eprintln!("{signal}: stopping");
//! server.stop(); // graceful: answers the requests in flight
//! # Ok(())
//! # }
//! ```
//!
//! Nothing reads standard input, so a server runs the same under systemd,
//! `nohup`, in a container or with `&` in a script.
//!
//! # How it works
//!
//! [`install_shutdown_handler`] (called by the waits on first use, or
//! early by you) replaces the SIGINT and SIGTERM handlers, process-wide,
//! with one that writes the signal's number into a non-blocking pipe (a
//! self-pipe: `write` is async-signal-safe; the handler does nothing
//! else). A wait reads one byte from the pipe, so:
//!
//! * each signal delivered wakes exactly one wait (the kernel merges a
//!   signal sent while the same one is still pending), and a signal that came
//!   before the wait (but after the handler was installed) is not lost;
//! * waiting again waits for the next signal;
//! * no signal mask is touched, so it works whatever threads already run.
//!
//! The handler replaces any SIGINT or SIGTERM handler installed before
//! (`tokio::signal`'s included); do not mix the two in one process.
//!
//! Install the handler before anything else might receive the signal if
//! a signal in that window must not kill the process (it then has its
//! default action: terminate).
//!
//! ```
//! use std::time::Duration;
//! use wf_core::signal::{Shutdown, install_shutdown_handler, wait_for_shutdown, wait_for_shutdown_timeout};
//!
//! install_shutdown_handler().unwrap();
//! assert_eq!(wait_for_shutdown_timeout(Duration::from_millis(10)).unwrap(), None);
//! // A real SIGTERM to this process: kept until the next wait.
//! // SAFETY: kill and getpid have no memory-safety preconditions.
//! unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
//! assert_eq!(wait_for_shutdown().unwrap(), Shutdown::Terminate);
//! ```

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::global;

/// The signal that asked the process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: `kill`, systemd's and docker's stop.
    Terminate,
    /// SIGHUP, once [`install_restart_handler`] was called: hand the
    /// listening socket to a new process of the program, then stop
    /// gracefully (see `net::handoff`). Without that call SIGHUP keeps
    /// its default action.
    Restart,
}

impl Shutdown {
    /// The signal's number (`libc::SIGINT` or `libc::SIGTERM`).
    pub fn signal_number(self) -> i32 {
        match self {
            Shutdown::Interrupt => libc::SIGINT,
            Shutdown::Terminate => libc::SIGTERM,
            Shutdown::Restart => libc::SIGHUP,
        }
    }

    /// The signal's name, `"SIGINT"`, `"SIGTERM"` or `"SIGHUP"`.
    pub fn name(self) -> &'static str {
        match self {
            Shutdown::Interrupt => "SIGINT",
            Shutdown::Terminate => "SIGTERM",
            Shutdown::Restart => "SIGHUP",
        }
    }

    fn from_byte(b: u8) -> Option<Shutdown> {
        match i32::from(b) {
            libc::SIGINT => Some(Shutdown::Interrupt),
            libc::SIGTERM => Some(Shutdown::Terminate),
            libc::SIGHUP => Some(Shutdown::Restart),
            _ => None,
        }
    }
}

impl std::fmt::Display for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Installs the SIGINT and SIGTERM handlers (once per process; later
/// calls do nothing and succeed). Fails only when the pipe or the
/// handlers cannot be set up (`EMFILE`, …); the error keeps its errno.
pub fn install_shutdown_handler() -> io::Result<()> {
    let (read, write) = global::shutdown_pipe();
    let mut read = crate::sync::lock(read);
    if read.is_some() {
        return Ok(());
    }
    let (r, w) = make_pipe()?;
    write.store(w, Ordering::Release);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        if let Err(e) = set_handler(sig) {
            // The handler may be installed for SIGINT already: it finds
            // the pipe's write end, which stays open (a byte nobody reads).
            crate::trace::warning!(error = %e, sig, "cannot install the shutdown handler");
            return Err(e);
        }
    }
    *read = Some(r);
    crate::trace::debug!(read = r, write = w, "SIGINT and SIGTERM handlers installed");
    Ok(())
}

/// Also catches SIGHUP, which the waits then report as
/// [`Shutdown::Restart`] (Workflow's tutorial 16 restarts on a signal
/// too). Installs the SIGINT and SIGTERM handlers first, if needed; later
/// calls do nothing and succeed.
pub fn install_restart_handler() -> io::Result<()> {
    install_shutdown_handler()?;
    let _installed = crate::sync::lock(global::shutdown_pipe().0);
    set_handler(libc::SIGHUP)
}

/// Blocks the calling thread until SIGTERM or SIGINT arrives (or arrived
/// since the handler was installed and no wait took it), and tells which.
///
/// Installs the handler first if needed ([`install_shutdown_handler`]).
pub fn wait_for_shutdown() -> io::Result<Shutdown> {
    loop {
        if let Some(s) = wait(None)? {
            return Ok(s);
        }
    }
}

/// [`wait_for_shutdown`] for at most `timeout`: `Ok(None)` when no signal
/// came in time.
pub fn wait_for_shutdown_timeout(timeout: Duration) -> io::Result<Option<Shutdown>> {
    wait(Some(Instant::now() + timeout))
}

/// Takes one signal from the pipe, waiting until `deadline` (none: until
/// a signal comes).
fn wait(deadline: Option<Instant>) -> io::Result<Option<Shutdown>> {
    install_shutdown_handler()?;
    let fd = crate::sync::lock(global::shutdown_pipe().0).expect("installed above");
    loop {
        let mut byte = 0u8;
        // SAFETY: fd is our pipe's read end, open for the process's life;
        // the buffer is one valid byte.
        let n = unsafe { libc::read(fd, (&raw mut byte).cast(), 1) };
        if n == 1 {
            match Shutdown::from_byte(byte) {
                Some(s) => return Ok(Some(s)),
                None => continue,
            }
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // Empty (another waiter took the byte): sleep in poll below.
            Some(libc::EAGAIN) | Some(libc::EINTR) => {}
            _ if n == 0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            _ => return Err(err),
        }
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                // Rounded up, so the wait never ends early; capped for c_int.
                left.as_millis().saturating_add(1).min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err);
            }
        }
    }
}

/// The signal handler: one `write` of the signal's number, errno kept.
/// Only async-signal-safe calls.
extern "C" fn on_signal(sig: libc::c_int) {
    let fd = global::shutdown_pipe().1.load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    let saved = errno();
    let byte = sig as u8;
    // SAFETY: write is async-signal-safe; fd is the pipe's write end
    // (never closed) and the buffer one valid byte. A full pipe (EAGAIN:
    // thousands of signals nobody waited for) drops this one.
    unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    set_errno(saved);
}

/// A pipe, both ends non-blocking and close-on-exec, moved above the
/// standard descriptors (with stdin closed, `pipe` could hand out fd 0,
/// and a later read of "stdin" would eat the signals).
fn make_pipe() -> io::Result<(RawFd, RawFd)> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: fds is an array of two descriptors, as pipe wants.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = [-1 as RawFd; 2];
    for (i, fd) in fds.into_iter().enumerate() {
        // SAFETY: fcntl on a descriptor we own; F_DUPFD_CLOEXEC makes a
        // new one >= 3.
        let moved = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        let err = io::Error::last_os_error();
        close(fd);
        // SAFETY: as above, on the new descriptor.
        if moved < 0 || unsafe { libc::fcntl(moved, libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
            let err = if moved < 0 { err } else { io::Error::last_os_error() };
            for fd in out.into_iter().chain([moved]).filter(|&fd| fd >= 0) {
                close(fd);
            }
            for &fd in &fds[i + 1..] {
                close(fd);
            }
            return Err(err);
        }
        out[i] = moved;
    }
    Ok((out[0], out[1]))
}

fn close(fd: RawFd) {
    // SAFETY: fd is a descriptor this module opened and owns.
    unsafe { libc::close(fd) };
}

/// Points SIGINT, SIGTERM or SIGHUP at [`on_signal`], with `SA_RESTART` so that
/// other threads' blocking calls are not interrupted.
fn set_handler(sig: libc::c_int) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); we set
    // the handler and flags before passing it on.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: a valid, filled sigaction; the old one is not wanted.
    if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: returns the calling thread's errno, always valid.
    unsafe { libc::__errno_location() }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: returns the calling thread's errno, always valid.
    unsafe { libc::__error() }
}

fn errno() -> libc::c_int {
    // SAFETY: the thread's errno location is valid for the thread's life.
    unsafe { *errno_location() }
}

fn set_errno(v: libc::c_int) {
    // SAFETY: as in errno().
    unsafe { *errno_location() = v };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(sig: libc::c_int) {
        // SAFETY: kill and getpid have no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
    }

    /// Every signal test in one function: the handler is process-wide and
    /// each signal wakes one wait, so parallel tests would steal them.
    #[test]
    fn real_signals_wake_the_waits_in_order_and_each_only_once() {
        install_shutdown_handler().unwrap();
        install_shutdown_handler().unwrap();
        assert_eq!(wait_for_shutdown_timeout(Duration::from_millis(20)).unwrap(), None);

        // Sent before the wait: kept, and each taken by one wait only (in
        // either order: the kernel delivers pending signals lowest number
        // first, and a process-directed signal to any thread).
        send(libc::SIGTERM);
        send(libc::SIGINT);
        let mut got = [wait_for_shutdown().unwrap(), wait_for_shutdown().unwrap()];
        got.sort_by_key(|s| s.signal_number());
        assert_eq!(got, [Shutdown::Interrupt, Shutdown::Terminate]);
        assert_eq!(wait_for_shutdown_timeout(Duration::ZERO).unwrap(), None);

        // Sent while a thread waits.
        let waiter = std::thread::spawn(|| wait_for_shutdown().unwrap());
        std::thread::sleep(Duration::from_millis(50));
        send(libc::SIGTERM);
        assert_eq!(waiter.join().unwrap(), Shutdown::Terminate);

        // Two waiters, two signals: each wakes one (the second sent once
        // the first was handled: the kernel merges a signal sent while
        // the same one is still pending).
        let (tx, rx) = std::sync::mpsc::channel();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let tx = tx.clone();
                std::thread::spawn(move || tx.send(wait_for_shutdown_timeout(Duration::from_secs(30)).unwrap()))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        send(libc::SIGINT);
        assert_eq!(rx.recv().unwrap(), Some(Shutdown::Interrupt));
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "one signal, one wake-up");
        send(libc::SIGTERM);
        assert_eq!(rx.recv().unwrap(), Some(Shutdown::Terminate));
        for w in waiters {
            w.join().unwrap().unwrap();
        }
        assert_eq!(Shutdown::Terminate.to_string(), "SIGTERM");
        assert_eq!(Shutdown::Interrupt.signal_number(), libc::SIGINT);

        // SIGHUP, once asked for, is a restart.
        install_restart_handler().unwrap();
        install_restart_handler().unwrap();
        send(libc::SIGHUP);
        assert_eq!(wait_for_shutdown().unwrap(), Shutdown::Restart);
        assert_eq!((Shutdown::Restart.name(), Shutdown::Restart.signal_number()), ("SIGHUP", libc::SIGHUP));
        assert_eq!(wait_for_shutdown_timeout(Duration::ZERO).unwrap(), None);
    }

    #[test]
    fn the_pipe_is_above_the_standard_descriptors() {
        let (r, w) = make_pipe().unwrap();
        assert!(r > 2 && w > 2, "{r} {w}");
        // SAFETY: fcntl F_GETFL/F_GETFD on descriptors we own.
        let (fl, fd) = unsafe { (libc::fcntl(r, libc::F_GETFL), libc::fcntl(r, libc::F_GETFD)) };
        assert!(fl & libc::O_NONBLOCK != 0 && fd & libc::FD_CLOEXEC != 0);
        close(r);
        close(w);
    }
}
