//! Waiting in tests: one bound for what should happen at once, and polling
//! for a condition.

use std::time::{Duration, Instant};

/// How long a test waits for something that should happen at once (a
/// callback, a reply, a connection closing) before it fails.
///
/// Generous on purpose: it only bounds how long a broken test hangs, and
/// CI machines with two busy cores can be slow. A test that needs a
/// tighter bound states its own.
pub const WAIT: Duration = Duration::from_secs(30);

/// Polls `cond` until it holds or `timeout` passes; returns whether it
/// held. The first poll is at once; the pause between polls starts at
/// 1 ms and doubles up to 20 ms, so a condition that is quick to become
/// true is seen at once, and one that runs a command (`redis-cli`,
/// `mariadb`) is not run in a busy loop.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// assert!(testkit::wait_until(testkit::WAIT, || start.elapsed() >= Duration::from_millis(5)));
/// assert!(!testkit::wait_until(Duration::from_millis(5), || false));
/// ```
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    const MAX_PAUSE: Duration = Duration::from_millis(20);
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
    true
}
