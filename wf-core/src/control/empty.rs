use std::task::{Context, Poll};

use crate::task::{RunContext, Task, TaskKind};

/// A task that completes at once (Workflow's `create_empty_task`).
pub type EmptyTask = Task<Empty>;

/// The kind of an [`EmptyTask`].
#[derive(Debug, Default)]
pub struct Empty;

impl TaskKind for Empty {
    fn poll_run(&mut self, _cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// Creates a task that does nothing and succeeds at once.
pub fn create_empty_task() -> EmptyTask {
    Task::new(Empty)
}
