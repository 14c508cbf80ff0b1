use std::task::{Context, Poll};

use crate::series::{self, SeriesWork};
use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// A task that decides what to run when it starts (Workflow's
/// `create_dynamic_task`).
pub type DynamicTask = Task<Dynamic>;

type Create = Box<dyn FnOnce(&mut DynamicTask) -> AnyTask + Send>;

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
    fn poll_run(&mut self, _cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        unreachable!("a dynamic task is driven by poll_task")
    }

    fn poll_task(task: &mut DynamicTask, _cx: &mut Context<'_>, series: &mut SeriesWork) -> Poll<()> {
        if let Some(create) = task.create.take() {
            let next = {
                let _enter = series::enter(series, task as *mut DynamicTask as *const ());
                create(task)
            };
            series.push_front(next);
        }
        Poll::Ready(())
    }
}

/// Creates a task that, when it starts, calls `create` with the dynamic
/// task itself (its user data; [`series_of`](crate::series_of) reaches its
/// series) and runs the task it returns in its place (next in the same
/// series).
///
/// ```
/// use wf_core::{DynamicTask, create_dynamic_task, create_go_task};
/// let mut d = create_dynamic_task(|d: &mut DynamicTask| {
///     if *d.user_data::<bool>().unwrap() { create_go_task("doc", || 1).into() } else { wf_core::create_empty_task().into() }
/// });
/// d.set_user_data(true);
/// d.start();
/// wf_core::wait_finish();
/// ```
pub fn create_dynamic_task<F>(create: F) -> DynamicTask
where
    F: FnOnce(&mut DynamicTask) -> AnyTask + Send + 'static,
{
    Task::new(Dynamic { create: Some(Box::new(create)) })
}
