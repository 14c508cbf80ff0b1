use std::task::{Context, Poll};

use crate::series::{self, Driver, SeriesWork};
use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// A loop as a task (Workflow's `WFRepeaterTask`): it calls `create` with
/// the repeater task itself, runs the task it returns (in a sub-series of
/// its own, so that task may push more), and repeats until `create` returns
/// `None`. Inside `create`, the task gives its [`repeated`](Repeater::repeated)
/// count and user data, and [`series_of`](crate::series_of) reaches the
/// series the repeater runs in.
///
/// ```
/// use wf_core::{RepeaterTask, create_go_task, create_repeater_task};
/// let r = create_repeater_task(
///     |r: &mut RepeaterTask| (r.repeated() < 3).then(|| create_go_task("doc", || ()).into()),
///     |r| assert_eq!(r.repeated(), 3),
/// );
/// r.start();
/// wf_core::wait_finish();
/// ```
pub type RepeaterTask = Task<Repeater>;

type Create = Box<dyn FnMut(&mut RepeaterTask) -> Option<AnyTask> + Send>;

/// The kind of a [`RepeaterTask`].
pub struct Repeater {
    /// Out of the kind while it runs (it gets the task, kind included).
    create: Option<Create>,
    current: Option<Driver>,
    repeated: usize,
}

impl std::fmt::Debug for Repeater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repeater").field("repeated", &self.repeated).finish()
    }
}

impl Repeater {
    /// How many created tasks have finished.
    pub fn repeated(&self) -> usize {
        self.repeated
    }
}

impl TaskKind for Repeater {
    fn poll_run(&mut self, _cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        unreachable!("a repeater is driven by poll_task")
    }

    fn poll_task(task: &mut RepeaterTask, cx: &mut Context<'_>, series: &mut SeriesWork) -> Poll<()> {
        for _ in 0..128 {
            let driver = match &mut task.current {
                Some(d) => d,
                // After `shutdown()` every created task would abort at
                // once: a repeater that never says `None` would spin.
                None if crate::shutdown::is_shutting_down() => {
                    task.set_outcome(Err(crate::Error::aborted()));
                    return Poll::Ready(());
                }
                None => match create_next(task, series) {
                    Some(t) => task.current.insert(Driver::new(SeriesWork::new(t))),
                    None => return Poll::Ready(()),
                },
            };
            if driver.poll_drive(cx).is_pending() {
                return Poll::Pending;
            }
            task.current = None;
            task.repeated += 1;
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Calls `create` with the task (and the task's series reachable through
/// `series_of`); `None` once it said so.
fn create_next(task: &mut RepeaterTask, series: &mut SeriesWork) -> Option<AnyTask> {
    let mut create = task.create.take()?;
    let next = {
        let _enter = series::enter(series, task as *mut RepeaterTask as *const ());
        create(task)
    };
    if next.is_some() {
        task.create = Some(create);
    }
    next
}

/// Creates a repeater; see [`RepeaterTask`].
pub fn create_repeater_task<F>(create: F, callback: impl FnOnce(&mut RepeaterTask) + Send + 'static) -> RepeaterTask
where
    F: FnMut(&mut RepeaterTask) -> Option<AnyTask> + Send + 'static,
{
    Task::new(Repeater { create: Some(Box::new(create)), current: None, repeated: 0 }).with_callback(callback)
}
