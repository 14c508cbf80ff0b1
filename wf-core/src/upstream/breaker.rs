//! The circuit breaker of one server entry (Workflow's `fail_count` and
//! breaker list, lock-free).
//!
//! Closed: failures are counted; a success resets the count. After
//! `max_fails` consecutive failures the breaker opens: the server is
//! *fused* for the upstream's MTTR. Past the MTTR it is half-open: picked
//! again, one failure fuses it for another MTTR, one success closes it.
//! Times are nanoseconds on wf's monotonic clock ([`now`]), passed in so
//! tests can use their own.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use crate::error::{Error, State};

/// Nanoseconds since the first call, plus one (0 means "never").
pub(crate) fn now() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let ns = BASE.get_or_init(Instant::now).elapsed().as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX - 1) + 1
}

/// A server entry's breaker.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    /// Consecutive failures while closed.
    fails: AtomicU32,
    /// 0: closed; else fused until this time (half-open after it).
    fused_until: AtomicU64,
}

impl Breaker {
    /// Fused now (open, not yet half-open).
    pub(crate) fn is_fused(&self, now: u64) -> bool {
        let until = self.fused_until.load(Ordering::Relaxed);
        until != 0 && now < until
    }

    /// Open or half-open: fused at some point and not healed since.
    pub(crate) fn is_tripped(&self) -> bool {
        self.fused_until.load(Ordering::Relaxed) != 0
    }

    /// Open and past its MTTR: half-open.
    pub(crate) fn is_half_open(&self, now: u64) -> bool {
        let until = self.fused_until.load(Ordering::Relaxed);
        until != 0 && now >= until
    }

    /// A reply came: closed, count reset.
    pub(crate) fn success(&self) {
        if self.fails.load(Ordering::Relaxed) != 0 {
            self.fails.store(0, Ordering::Relaxed);
        }
        if self.fused_until.load(Ordering::Relaxed) != 0 {
            self.fused_until.store(0, Ordering::Relaxed);
        }
    }

    /// A failure at `now`; true if it fused the server (again).
    pub(crate) fn failure(&self, max_fails: u32, now: u64, mttr: u64) -> bool {
        let until = now.saturating_add(mttr.max(1));
        if self.fused_until.load(Ordering::Relaxed) != 0 {
            // Half-open (or a late report while open): fused again.
            self.fused_until.store(until, Ordering::Relaxed);
            return true;
        }
        let fails = self.fails.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if fails >= max_fails {
            self.fused_until.store(until, Ordering::Relaxed);
            self.fails.store(0, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Makes a fused server half-open at once (every server fused and one
    /// past its MTTR: all recover).
    pub(crate) fn half_open(&self) {
        if self.fused_until.load(Ordering::Relaxed) != 0 {
            self.fused_until.store(1, Ordering::Relaxed);
        }
    }

    /// Closed, count reset (enabled again, or replaced).
    pub(crate) fn reset(&self) {
        self.fails.store(0, Ordering::Relaxed);
        self.fused_until.store(0, Ordering::Relaxed);
    }
}

/// Whether `e` counts against the server for its breaker: the errors of
/// Workflow's `failed()` — `SYS_ERROR` (refused, reset, unreachable,
/// every connect/send/receive timeout, a malformed reply) and TLS errors —
/// except what is this process's own doing: no free connection slot
/// (`EAGAIN`), the task's response size limit (`EMSGSIZE`), a canceled
/// task (`ECANCELED`). DNS errors of a host-name server count too (the
/// upstream counts them itself). Task errors and replies (any status)
/// do not.
pub(crate) fn counts(e: &Error) -> bool {
    match e.state() {
        State::SysError => ![libc::EAGAIN, libc::EMSGSIZE, libc::ECANCELED].contains(&e.code()),
        State::SslError | State::DnsError => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuses_after_max_fails_then_half_open_then_heals() {
        let b = Breaker::default();
        let mttr = 1_000;
        assert!(!b.failure(3, 10, mttr));
        assert!(!b.failure(3, 11, mttr));
        b.success(); // Consecutive failures only.
        assert!(!b.failure(3, 12, mttr));
        assert!(!b.failure(3, 13, mttr));
        assert!(!b.is_fused(14));
        assert!(b.failure(3, 14, mttr));
        assert!(b.is_fused(15) && b.is_fused(1013) && b.is_tripped());
        assert!(!b.is_half_open(1013));
        // Past the MTTR: half-open, and one failure fuses it again.
        assert!(!b.is_fused(1014) && b.is_half_open(1014));
        assert!(b.failure(3, 1014, mttr));
        assert!(b.is_fused(2013) && !b.is_fused(2014));
        // Half-open and a success: closed, the count starts anew.
        b.success();
        assert!(!b.is_tripped() && !b.is_fused(2014));
        assert!(!b.failure(3, 2015, mttr));
        assert!(!b.failure(3, 2016, mttr));
        assert!(b.failure(3, 2017, mttr));
    }

    #[test]
    fn max_fails_one_and_half_open_now() {
        let b = Breaker::default();
        assert!(b.failure(1, 5, 100));
        assert!(b.is_fused(6));
        b.half_open();
        assert!(!b.is_fused(6) && b.is_tripped());
        b.reset();
        assert!(!b.is_tripped());
        // half_open leaves a closed breaker closed.
        b.half_open();
        assert!(!b.is_tripped());
    }

    #[test]
    fn which_errors_count() {
        use crate::error::{TimeoutReason, code};
        assert!(counts(&Error::sys(libc::ECONNREFUSED)));
        assert!(counts(&Error::sys(libc::ECONNRESET)));
        assert!(counts(&Error::timeout(TimeoutReason::Connect)));
        assert!(counts(&Error::new(State::DnsError, libc::EAI_NONAME)));
        assert!(!counts(&Error::sys(libc::EAGAIN)));
        assert!(!counts(&Error::sys(libc::EMSGSIZE)));
        assert!(!counts(&Error::task(code::UPSTREAM_UNAVAILABLE)));
    }

    #[test]
    fn clock_moves_and_is_never_zero() {
        let a = now();
        assert!(a >= 1);
        assert!(now() >= a);
    }
}
