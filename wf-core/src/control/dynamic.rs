use std::task::{Context, Poll};

use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// A task that decides what to run when it starts (Workflow's
/// `create_dynamic_task`).
pub type DynamicTask = Task<Dynamic>;

type Create = Box<dyn FnOnce() -> AnyTask + Send>;

/// The kind of a [`DynamicTask`].
pub struct Dynamic {
    create: Option<Create>,
}

impl std::fmt::Debug for Dynamic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dynamic")
    }
}

impl TaskKind for Dynamic {
    fn poll_run(&mut self, _cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if let Some(create) = self.create.take() {
            run.series().push_front(create());
        }
        Poll::Ready(())
    }
}

/// Creates a task that, when it starts, calls `create` and runs the task it
/// returns in its place (next in the same series).
///
/// ```
/// use wf_core::{create_dynamic_task, create_go_task};
/// let flag = std::env::args().count() > 0;
/// let d = create_dynamic_task(move || {
///     if flag { create_go_task("doc", || 1).into() } else { wf_core::create_empty_task().into() }
/// });
/// d.start();
/// wf_core::wait_finish();
/// ```
pub fn create_dynamic_task<F>(create: F) -> DynamicTask
where
    F: FnOnce() -> AnyTask + Send + 'static,
{
    Task::new(Dynamic { create: Some(Box::new(create)) })
}
