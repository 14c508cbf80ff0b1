use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use std::collections::HashMap;

use tokio::time::Sleep;
use wf_core::lock::lock;
use wf_core::{Error, RunContext, ShutdownWatch, State, Task, TaskKind};

/// A timer task: also Workflow's sleep task (a timer occupies no thread
/// while it waits). [`wf_core::shutdown`] ends a pending timer with
/// `Aborted`, as Workflow's process exit does.
pub type TimerTask = Task<Timer>;

/// The kind of a [`TimerTask`].
pub struct Timer {
    delay: Delay,
    sleep: Option<Pin<Box<Sleep>>>,
    yielded: bool,
    named: Option<(String, Arc<Cancel>)>,
    watch: ShutdownWatch,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("delay", &self.delay)
            .field("name", &self.named.as_ref().map(|n| &n.0))
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug)]
enum Delay {
    After(Duration),
    Forever,
    /// Canceled from the start: fails with `ECANCELED` when run.
    Canceled,
    /// Nanoseconds out of `[0, 1e9)`: fails with `EINVAL` when run.
    Invalid,
}

struct Cancel {
    canceled: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Cancel {
    fn cancel(&self) {
        self.canceled.store(true, Ordering::Release);
        let w = lock(&self.waker).take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

type Named = Mutex<HashMap<String, Vec<Arc<Cancel>>>>;

fn named() -> &'static Named {
    static NAMED: OnceLock<Named> = OnceLock::new();
    NAMED.get_or_init(Default::default)
}

impl Timer {
    fn new(delay: Delay, name: Option<&str>) -> Timer {
        let named = name.map(|name| {
            let c = Arc::new(Cancel { canceled: AtomicBool::new(false), waker: Mutex::new(None) });
            let mut map = lock(named());
            map.entry(name.to_string()).or_default().push(c.clone());
            (name.to_string(), c)
        });
        Timer { delay, sleep: None, yielded: false, named, watch: ShutdownWatch::new() }
    }

    /// The delay; `None` for a timer that waits forever (until canceled).
    pub fn delay(&self) -> Option<Duration> {
        match self.delay {
            Delay::After(d) => Some(d),
            _ => None,
        }
    }

    /// The timer's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.named.as_ref().map(|n| n.0.as_str())
    }

    fn unregister(&mut self) {
        if let Some((name, me)) = &self.named {
            let mut map = lock(named());
            if let Some(list) = map.get_mut(name) {
                list.retain(|c| !Arc::ptr_eq(c, me));
                if list.is_empty() {
                    map.remove(name);
                }
            }
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl TaskKind for Timer {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if let Some((_, c)) = &self.named {
            *lock(&c.waker) = Some(cx.waker().clone());
            if c.canceled.load(Ordering::Acquire) {
                run.set_error(Error::sys(libc::ECANCELED));
                self.sleep = None;
                return Poll::Ready(());
            }
        }
        let ready = match self.delay {
            Delay::Invalid => {
                run.set_error(Error::sys(libc::EINVAL));
                true
            }
            Delay::Canceled => {
                run.set_error(Error::sys(libc::ECANCELED));
                true
            }
            Delay::Forever => false,
            // A zero delay still completes asynchronously, after one trip
            // through the scheduler, without a timer entry.
            Delay::After(d) if d.is_zero() => {
                if self.yielded {
                    true
                } else {
                    self.yielded = true;
                    cx.waker().wake_by_ref();
                    false
                }
            }
            Delay::After(d) => {
                let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
                sleep.as_mut().poll(cx).is_ready()
            }
        };
        if !ready && !matches!(self.delay, Delay::After(d) if d.is_zero()) && self.watch.poll_shutdown(cx).is_ready() {
            run.set_error(Error::aborted());
        } else if !ready {
            return Poll::Pending;
        }
        self.sleep = None;
        self.unregister();
        self.named = None;
        Poll::Ready(())
    }
}

/// Creates a timer that succeeds `delay` after it starts.
pub fn create_timer_task(delay: Duration, callback: impl FnOnce(&mut TimerTask) + Send + 'static) -> TimerTask {
    Task::new(Timer::new(Delay::After(delay), None)).with_callback(callback)
}

/// Creates a timer from seconds and nanoseconds, as Workflow's
/// `create_timer_task(seconds, nanoseconds, cb)`: `seconds == -1` waits
/// forever (useful with names); nanoseconds outside `[0, 1e9)` or other
/// negative seconds fail with `SYS_ERROR`/`EINVAL` when the timer runs.
pub fn create_timer_task_ns(
    seconds: i64,
    nanoseconds: i64,
    callback: impl FnOnce(&mut TimerTask) + Send + 'static,
) -> TimerTask {
    Task::new(Timer::new(delay_of(seconds, nanoseconds), None)).with_callback(callback)
}

fn delay_of(seconds: i64, nanoseconds: i64) -> Delay {
    if !(0..1_000_000_000).contains(&nanoseconds) {
        Delay::Invalid
    } else if seconds == -1 {
        Delay::Forever
    } else if seconds < 0 {
        Delay::Invalid
    } else {
        Delay::After(Duration::new(seconds as u64, nanoseconds as u32))
    }
}

/// Creates a timer canceled before it starts (Workflow's
/// `create_timer_task(callback)`, "a timer to be canceled immediately
/// after started"): when it runs it calls back at once, asynchronously,
/// with `SYS_ERROR`/`ECANCELED`. Workflow uses one to switch threads; in
/// wf it is mostly a placeholder step in a series.
///
/// ```
/// use wf_core::State;
/// wf_timer::create_canceled_timer_task(|t| {
///     assert_eq!((t.state(), t.error_code()), (State::SysError, libc::ECANCELED));
/// })
/// .start();
/// wf_core::wait_finish();
/// ```
pub fn create_canceled_timer_task(callback: impl FnOnce(&mut TimerTask) + Send + 'static) -> TimerTask {
    Task::new(Timer::new(Delay::Canceled, None)).with_callback(callback)
}

/// Sleeps for `delay` on a timer, blocking the calling thread
/// (Workflow's `WFFacilities::usleep`), for plain, non-async code. Returns
/// the timer's state: `Success`, or `Aborted` when [`wf_core::shutdown`]
/// cut the sleep short. In async code await a timer instead:
/// `create_timer_task(delay, |_| {}).await` (Workflow's `async_usleep`).
///
/// Where blocking could deadlock (in a callback or a server's `process`,
/// on a poller or compute thread, in async code: see [`wf_core::request`])
/// it does not sleep and returns `SysError` (the `EDEADLK` of
/// [`wf_core::request`]).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(wf_timer::usleep(Duration::from_millis(1)), wf_core::State::Success);
/// ```
#[must_use = "the sleep may have been cut short or refused"]
pub fn usleep(delay: Duration) -> State {
    match wf_core::request(create_timer_task(delay, |_| {})) {
        Ok(t) => t.state(),
        Err(e) => e.state(),
    }
}

/// Creates a timer that [`cancel_by_name`] can cancel; `None` waits forever.
pub fn create_named_timer_task(
    name: &str,
    delay: Option<Duration>,
    callback: impl FnOnce(&mut TimerTask) + Send + 'static,
) -> TimerTask {
    let delay = delay.map_or(Delay::Forever, Delay::After);
    Task::new(Timer::new(delay, Some(name))).with_callback(callback)
}

/// Creates a named timer from seconds and nanoseconds, as Workflow's
/// `create_timer_task(name, seconds, nanoseconds, cb)`: the delay rules of
/// [`create_timer_task_ns`] (`seconds == -1` waits forever), and
/// [`cancel_by_name`] reaches it.
///
/// ```
/// use wf_core::State;
/// wf_timer::create_named_timer_task_ns("doc-ns", -1, 0, |t| {
///     assert_eq!((t.state(), t.error_code()), (State::SysError, libc::ECANCELED));
/// })
/// .start();
/// assert_eq!(wf_timer::cancel_by_name("doc-ns", usize::MAX), 1);
/// wf_core::wait_finish();
/// ```
pub fn create_named_timer_task_ns(
    name: &str,
    seconds: i64,
    nanoseconds: i64,
    callback: impl FnOnce(&mut TimerTask) + Send + 'static,
) -> TimerTask {
    Task::new(Timer::new(delay_of(seconds, nanoseconds), Some(name))).with_callback(callback)
}

/// Cancels at most `max` timers named `name`, oldest first, whether they
/// run or have not started yet; returns how many were canceled. Each calls
/// back with `SYS_ERROR`/`ECANCELED`.
pub fn cancel_by_name(name: &str, max: usize) -> usize {
    let taken: Vec<Arc<Cancel>> = {
        let mut map = lock(named());
        let Some(list) = map.get_mut(name) else { return 0 };
        let n = max.min(list.len());
        let taken = list.drain(..n).collect();
        if list.is_empty() {
            map.remove(name);
        }
        taken
    };
    for c in &taken {
        c.cancel();
    }
    taken.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays() {
        assert!(matches!(delay_of(-1, 0), Delay::Forever));
        assert!(matches!(delay_of(0, 1_000_000_000), Delay::Invalid));
        assert!(matches!(delay_of(0, -1), Delay::Invalid));
        assert!(matches!(delay_of(-2, 0), Delay::Invalid));
        assert!(matches!(delay_of(1, 5), Delay::After(d) if d == Duration::new(1, 5)));
    }
}
