use std::task::{Context, Poll};

use crate::series::{Driver, SeriesWork};
use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// A loop as a task (Workflow's `WFRepeaterTask`): it calls `create`, runs
/// the task it returns (in a sub-series of its own, so that task may push
/// more), and repeats until `create` returns `None`.
///
/// ```
/// use wf_core::{create_go_task, create_repeater_task};
/// let mut n = 0;
/// let r = create_repeater_task(
///     move || { n += 1; (n <= 3).then(|| create_go_task("doc", || ()).into()) },
///     |r| assert_eq!(r.repeated(), 3),
/// );
/// r.start();
/// wf_core::wait_finish();
/// ```
pub type RepeaterTask = Task<Repeater>;

type Create = Box<dyn FnMut() -> Option<AnyTask> + Send>;

/// The kind of a [`RepeaterTask`].
pub struct Repeater {
    create: Create,
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
    fn poll_run(&mut self, cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        for _ in 0..128 {
            let driver = match &mut self.current {
                Some(d) => d,
                None => match (self.create)() {
                    Some(t) => self.current.insert(Driver::new(SeriesWork::new(t))),
                    None => return Poll::Ready(()),
                },
            };
            if driver.poll_drive(cx).is_pending() {
                return Poll::Pending;
            }
            self.current = None;
            self.repeated += 1;
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Creates a repeater; see [`RepeaterTask`].
pub fn create_repeater_task<F>(create: F, callback: impl FnOnce(&mut RepeaterTask) + Send + 'static) -> RepeaterTask
where
    F: FnMut() -> Option<AnyTask> + Send + 'static,
{
    Task::new(Repeater { create: Box::new(create), current: None, repeated: 0 }).with_callback(callback)
}
