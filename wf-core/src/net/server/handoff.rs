//! Graceful restart: a running server hands its listening socket to a new
//! process of the program, which serves on it, and drains its own
//! connections (Workflow's tutorial 16).
//!
//! The listening socket is one kernel object shared by both processes:
//! connections waiting in its backlog are accepted by whichever process
//! accepts next, so none is refused while the old process stops
//! accepting and the new one starts.
//!
//! ```text
//! old process (serving)                  new process
//! SIGHUP ─→ spawn_successor(&listener) ─→ inherited_listener() → serve
//!           waits for "ready"        ←─── notify_ready()
//! Server::stop(): stops accepting, closes idle connections,
//! answers what it read (its last reply on a connection says so:
//! HTTP `Connection: close`), then exits
//! ```
//!
//! The new process learns its descriptors from the environment variable
//! [`HANDOFF_ENV`], which holds the listening descriptor, the readiness
//! descriptor and the parent's process id; only the process the variable
//! was made for (a child of that parent) takes them, so a program that
//! the new process starts later, inheriting the variable, finds nothing.
//! Only those two descriptors cross the `exec`: wf leaves every other
//! descriptor close-on-exec.
//!
//! ```no_run
//! use std::time::Duration;
//! use wf_core::net::handoff;
//! use wf_core::net::tlv::Tlv;
//! use wf_core::signal::{Shutdown, install_restart_handler, wait_for_shutdown};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! install_restart_handler()?;
//! let listener = match handoff::inherited_listener()? {
//!     Some(l) => l,
//!     None => std::net::TcpListener::bind("127.0.0.1:9000")?,
//! };
//! let kept = listener.try_clone()?; // to hand over later
//! let server = wf_core::net::Server::new(Tlv::default(), |_| {});
//! server.serve(listener)?;
//! handoff::notify_ready()?; // a predecessor, if any, may stop now
//! loop {
//!     if wait_for_shutdown()? == Shutdown::Restart {
//!         let cmd = std::process::Command::new(std::env::current_exe()?);
//!         if let Err(e) = handoff::spawn_successor(&kept, cmd, Duration::from_secs(10)) {
//!             eprintln!("restart failed, still serving: {e}");
//!             continue;
//!         }
//!     }
//!     break;
//! }
//! server.stop(); // drains: in-flight requests are answered
//! # Ok(())
//! # }
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::global;

/// The environment variable that tells a new process what it inherited:
/// `LISTEN_FD:READY_FD:PARENT_PID`.
pub const HANDOFF_ENV: &str = "WF_HANDOFF";

/// The byte a new process writes when it serves.
const READY: u8 = b'R';

/// What [`HANDOFF_ENV`] says, if it is meant for this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Handed {
    listen: RawFd,
    ready: RawFd,
}

/// Parses [`HANDOFF_ENV`]'s value; `None` when it is not for a child of
/// `parent` (a process the new one started later, say).
fn parse(value: &str, parent: u32) -> Result<Option<Handed>, Error> {
    let bad = || Error::sys(libc::EINVAL);
    let mut it = value.split(':');
    let mut field = || it.next().ok_or_else(bad);
    let listen: RawFd = field()?.parse().map_err(|_| bad())?;
    let ready: RawFd = field()?.parse().map_err(|_| bad())?;
    let pid: u32 = field()?.parse().map_err(|_| bad())?;
    if it.next().is_some() || listen < 0 || ready < 0 || listen == ready {
        return Err(bad());
    }
    Ok((pid == parent).then_some(Handed { listen, ready }))
}

/// What this process was handed, if anything (parsed from the
/// environment each time).
fn handed() -> Result<Option<Handed>, Error> {
    match std::env::var(HANDOFF_ENV) {
        Ok(v) => parse(&v, std::os::unix::process::parent_id()),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::sys(libc::EINVAL)),
    }
}

/// Takes ownership of inherited descriptor `fd` (once: `taken`) after
/// checking it is a stream socket of the kind wanted (a listening TCP
/// socket if `listening`, else a connected Unix socket), and makes it
/// close-on-exec again.
///
/// A descriptor that fails the checks is not taken (a later call checks
/// again) and is left close-on-exec, so that it does not leak into
/// programs this process starts.
fn adopt(fd: RawFd, taken: &AtomicBool, listening: bool) -> Result<Option<OwnedFd>, Error> {
    if taken.load(Ordering::Acquire) {
        return Ok(None);
    }
    if let Err(e) = check_socket(fd, listening) {
        // SAFETY: fcntl on a descriptor number: on one that is not open
        // it fails (EBADF) and touches nothing; on the handed one it only
        // sets its close-on-exec flag.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 {
            // SAFETY: as above.
            unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        }
        return Err(e);
    }
    if taken.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return Ok(None); // another thread took it meanwhile
    }
    // SAFETY: the descriptor is an open socket (checked above), was
    // handed to this process by its parent for this use, and `taken`
    // makes this the only owner.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_cloexec(owned.as_fd(), true)?;
    Ok(Some(owned))
}

/// Checks that `fd` is a stream socket: a listening IPv4 or IPv6 one if
/// `listening`, else a Unix one that does not listen. `EBADF`/`ENOTSOCK`
/// when it is not an open socket, `EINVAL` when it is another kind.
fn check_socket(fd: RawFd, listening: bool) -> Result<(), Error> {
    let accepting = sockopt(fd, libc::SO_ACCEPTCONN)? != 0;
    let domain = sockopt(fd, libc::SO_DOMAIN)?;
    let kind = sockopt(fd, libc::SO_TYPE)?;
    let domain_ok =
        if listening { domain == libc::AF_INET || domain == libc::AF_INET6 } else { domain == libc::AF_UNIX };
    if accepting != listening || !domain_ok || kind != libc::SOCK_STREAM {
        return Err(Error::sys(libc::EINVAL));
    }
    Ok(())
}

/// An integer socket option of level `SOL_SOCKET`.
fn sockopt(fd: RawFd, name: libc::c_int) -> Result<libc::c_int, Error> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt on a descriptor number with a valid int and its
    // length; on a closed or non-socket descriptor it fails (EBADF,
    // ENOTSOCK) and touches nothing.
    let rc = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, name, (&raw mut value).cast(), &mut len) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(value)
}

/// Sets or clears `FD_CLOEXEC`. Only `fcntl`: also callable between
/// `fork` and `exec`.
fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> std::io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl F_GETFD/F_SETFD on a descriptor the caller borrows;
    // async-signal-safe, no allocation.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFD) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let flags = if on { flags | libc::FD_CLOEXEC } else { flags & !libc::FD_CLOEXEC };
    // SAFETY: as above.
    if unsafe { libc::fcntl(raw, libc::F_SETFD, flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd` numbered 3 or more (with standard
/// input closed, a plain duplicate could be descriptor 0, which `Command`
/// may replace in the child).
fn dup_above_stdio(fd: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    // SAFETY: fcntl F_DUPFD_CLOEXEC on a borrowed, open descriptor.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `new` was just made by fcntl and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The listening socket the process that started this one handed over
/// with [`spawn_successor`], once per process: `Ok(None)` when nothing was
/// handed over (a first start) or it was taken already. Serve on it with
/// [`Server::serve`](super::Server::serve), then call [`notify_ready`].
///
/// Fails (`EINVAL`, `EBADF`, `ENOTSOCK`) when [`HANDOFF_ENV`] is
/// malformed or its descriptor is not a listening socket.
pub fn inherited_listener() -> Result<Option<TcpListener>, Error> {
    let Some(h) = handed()? else { return Ok(None) };
    Ok(adopt(h.listen, global::handoff_taken().0, true)?.map(TcpListener::from))
}

/// Tells the process that started this one with [`spawn_successor`] that
/// this one serves now, so that it may stop; does nothing (and succeeds)
/// in a process started otherwise, or the second time.
pub fn notify_ready() -> Result<(), Error> {
    let Some(h) = handed()? else { return Ok(()) };
    let Some(fd) = adopt(h.ready, global::handoff_taken().1, false)? else { return Ok(()) };
    let mut s = UnixStream::from(fd);
    s.set_write_timeout(Some(Duration::from_secs(1)))?;
    s.write_all(&[READY])?;
    Ok(())
}

/// Starts `cmd` (usually [`std::env::current_exe`] with the same
/// arguments) with a duplicate of `listener`, and blocks until it calls
/// [`notify_ready`]: then it serves, and this process may stop its
/// server ([`Server::stop`](super::Server::stop) drains it). Never call it
/// from a callback.
///
/// Only the listening socket and a socket for the readiness byte cross
/// the `exec` (their close-on-exec flag is cleared in the child only);
/// the child finds them through [`HANDOFF_ENV`].
///
/// Fails, with the child killed and reaped, when it exits or does not
/// say it is ready within `ready_timeout` (`SYS_ERROR`/`ETIMEDOUT`, or
/// `ECHILD` when it went away first): this process then still serves.
pub fn spawn_successor(listener: &TcpListener, mut cmd: Command, ready_timeout: Duration) -> Result<Child, Error> {
    let listen = dup_above_stdio(listener.as_fd())?;
    let (mut ours, pair_end) = UnixStream::pair()?;
    // Only the child may hold its end: the parent's copies are dropped
    // after the spawn, so that the child's exit reads as end of stream.
    let theirs = dup_above_stdio(pair_end.as_fd())?;
    drop(pair_end);
    let (lfd, rfd) = (listen.as_raw_fd(), theirs.as_raw_fd());
    cmd.env(HANDOFF_ENV, format!("{lfd}:{rfd}:{}", std::process::id()));
    // SAFETY: the hook runs in the child between fork and exec and only
    // calls fcntl (async-signal-safe, no allocation, no lock) on two
    // descriptors the child inherited open from this process.
    unsafe {
        cmd.pre_exec(move || {
            // SAFETY: the two descriptors are open in the child: `listen`
            // and `theirs` live in the parent until after the spawn.
            let (l, r) = (BorrowedFd::borrow_raw(lfd), BorrowedFd::borrow_raw(rfd));
            set_cloexec(l, false)?;
            set_cloexec(r, false)
        });
    }
    let mut child = cmd.spawn()?;
    drop((listen, theirs));
    let result = match wait_ready(&mut ours, ready_timeout) {
        Ok(()) => return Ok(child),
        Err(e) => e,
    };
    crate::trace::warning!(pid = child.id(), error = %result, "the new process did not get ready; killing it");
    let _ = child.kill();
    let _ = child.wait();
    Err(result)
}

/// Reads the readiness byte from `ours` within `timeout`. A signal
/// (a second SIGHUP, a handler for SIGTERM) interrupts the read: it reads
/// again for the time left.
fn wait_ready(ours: &mut UnixStream, timeout: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    let mut byte = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::sys(libc::ETIMEDOUT));
        }
        // A zero timeout would mean "none": at least a millisecond.
        ours.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        return match ours.read(&mut byte) {
            Ok(1) if byte[0] == READY => Ok(()),
            // Closed without a word: the child exited, or was not a wf
            // program that calls `notify_ready`.
            Ok(_) => Err(Error::sys(libc::ECHILD)),
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                crate::trace::debug!("waiting for the new process: interrupted by a signal; waiting on");
                continue;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Error::sys(libc::ETIMEDOUT))
            }
            Err(e) => Err(e.into()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_is_for_a_child_of_its_parent_only() {
        assert_eq!(parse("7:8:42", 42).unwrap(), Some(Handed { listen: 7, ready: 8 }));
        assert_eq!(parse("7:8:42", 43).unwrap(), None, "a grandchild inherits the variable, not the socket");
        for bad in ["", "7", "7:8", "7:8:42:1", "-1:8:42", "7:7:42", "x:8:42", "7:8:-3"] {
            assert_eq!(parse(bad, 42).unwrap_err().code(), libc::EINVAL, "{bad:?}");
        }
    }

    #[test]
    fn a_duplicate_is_above_the_standard_descriptors_and_closed_on_exec() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let d = dup_above_stdio(l.as_fd()).unwrap();
        assert!(d.as_raw_fd() > 2);
        // SAFETY: F_GETFD on a descriptor we own.
        let flags = unsafe { libc::fcntl(d.as_raw_fd(), libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0);
        set_cloexec(d.as_fd(), false).unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { libc::fcntl(d.as_raw_fd(), libc::F_GETFD) } & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn a_successor_that_never_gets_ready_is_killed_and_the_restart_fails() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // Silent: killed at the timeout.
        let t0 = std::time::Instant::now();
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        let e = spawn_successor(&l, sleep, Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.code(), libc::ETIMEDOUT);
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        // Exits without a word.
        let e = spawn_successor(&l, Command::new("true"), Duration::from_secs(10)).unwrap_err();
        assert_eq!(e.code(), libc::ECHILD);
        // Says the wrong thing.
        let mut liar = Command::new("bash");
        liar.args(["-c", "fd=${WF_HANDOFF#*:}; fd=${fd%%:*}; printf X >&$fd"]);
        let e = spawn_successor(&l, liar, Duration::from_secs(10)).unwrap_err();
        assert_eq!(e.code(), libc::ECHILD);
        // The listener still works here.
        assert!(std::net::TcpStream::connect(l.local_addr().unwrap()).is_ok());
    }

    #[test]
    fn the_successor_gets_the_listener_and_the_ready_socket_only() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // The child checks both descriptors are open, then says ready.
        let mut ok = Command::new("bash");
        ok.args([
            "-c",
            "l=${WF_HANDOFF%%:*}; r=${WF_HANDOFF#*:}; r=${r%%:*}; \
             test -e /proc/self/fd/$l && test -e /proc/self/fd/$r && printf R >&$r",
        ]);
        let mut child = spawn_successor(&l, ok, Duration::from_secs(10)).expect("ready");
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn adopting_checks_what_the_descriptor_is() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        // Not listening, where a listener is wanted (and the reverse).
        let d = dup_above_stdio(a.as_fd()).unwrap();
        assert_eq!(adopt(d.as_raw_fd(), &AtomicBool::new(false), true).unwrap_err().code(), libc::EINVAL);
        let d2 = dup_above_stdio(l.as_fd()).unwrap();
        assert_eq!(adopt(d2.as_raw_fd(), &AtomicBool::new(false), false).unwrap_err().code(), libc::EINVAL);
        // A descriptor that is not open (above any descriptor limit).
        assert_eq!(adopt(1 << 24, &AtomicBool::new(false), true).unwrap_err().code(), libc::EBADF);
        // A listening socket that is not TCP; a TCP stream as the ready socket; a datagram socket.
        let unix = std::os::unix::net::UnixListener::bind(format!("\0wf-handoff-test-{}", std::process::id()));
        if let Ok(u) = &unix {
            let d = dup_above_stdio(u.as_fd()).unwrap();
            assert_eq!(adopt(d.as_raw_fd(), &AtomicBool::new(false), true).unwrap_err().code(), libc::EINVAL);
        }
        let tcp = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let d = dup_above_stdio(tcp.as_fd()).unwrap();
        assert_eq!(adopt(d.as_raw_fd(), &AtomicBool::new(false), false).unwrap_err().code(), libc::EINVAL);
        let (g, _h) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let d = dup_above_stdio(g.as_fd()).unwrap();
        assert_eq!(adopt(d.as_raw_fd(), &AtomicBool::new(false), false).unwrap_err().code(), libc::EINVAL);
        // Refused: not taken (a later call checks again), and close-on-exec again.
        set_cloexec(d.as_fd(), false).unwrap();
        let taken = AtomicBool::new(false);
        assert!(adopt(d.as_raw_fd(), &taken, false).is_err());
        assert!(!taken.load(Ordering::Acquire));
        // SAFETY: F_GETFD on a descriptor we own.
        assert!(unsafe { libc::fcntl(d.as_raw_fd(), libc::F_GETFD) } & libc::FD_CLOEXEC != 0);
        // Taken once only.
        let taken = AtomicBool::new(false);
        let owned = adopt(std::os::fd::IntoRawFd::into_raw_fd(d2), &taken, true).unwrap().expect("adopted");
        assert!(adopt(owned.as_raw_fd(), &taken, true).unwrap().is_none());
    }

    extern "C" fn ignore(_: libc::c_int) {}

    /// Signals that hit the waiting thread (a second SIGHUP, say) do not end the wait: the
    /// successor, ready after 600 ms, is kept.
    #[test]
    fn signals_do_not_end_the_wait_for_the_successor() {
        // SAFETY: a zeroed sigaction is valid (empty mask, no flags); its handler does nothing.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: a valid, filled sigaction for a signal nothing else in these tests uses.
        assert_eq!(unsafe { libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()) }, 0);
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let signaller = std::thread::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(50));
                if stop2.load(Ordering::Acquire) {
                    break;
                }
                // SAFETY: `me` is the test thread, alive until it joins this thread.
                unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
            }
        });
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut late = Command::new("bash");
        late.args(["-c", "r=${WF_HANDOFF#*:}; r=${r%%:*}; sleep 0.6; printf R >&$r"]);
        let result = spawn_successor(&l, late, Duration::from_secs(20));
        stop.store(true, Ordering::Release);
        signaller.join().unwrap();
        let mut child = result.expect("ready despite the signals");
        assert!(child.wait().unwrap().success());
    }
}
