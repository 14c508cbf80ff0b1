use std::task::{Context, Poll};

use crate::series::{Driver, SeriesWork};
use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// A task that runs a sub-series (Workflow's `WFModuleTask`): a piece of
/// flow packaged as one task. Its callback runs after the sub-series,
/// including every task pushed into it, has finished.
///
/// ```
/// use wf_core::{create_go_task, create_module_task, series_of};
/// let mut m = create_module_task(create_go_task("doc", || 2), |m| {
///     assert_eq!(m.sub_series().context::<u32>(), Some(&2));
/// });
/// m.sub_series().set_context(0u32);
/// m.sub_series().push_front(create_go_task("doc", || 2).with_callback(|t| {
///     let v = t.take_result().unwrap();
///     *series_of(t).context_mut::<u32>().unwrap() = v;
/// }));
/// m.start();
/// wf_core::wait_finish();
/// ```
pub type ModuleTask = Task<Module>;

/// The kind of a [`ModuleTask`].
pub struct Module {
    driver: Driver,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Module")
    }
}

impl Module {
    /// The sub-series: push tasks, set its context, read it in the callback.
    pub fn sub_series(&mut self) -> &mut SeriesWork {
        self.driver.series_mut()
    }
}

impl TaskKind for Module {
    fn poll_run(&mut self, cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        self.driver.poll_drive(cx)
    }
}

/// Creates a module whose sub-series starts with `first`.
pub fn create_module_task(
    first: impl Into<AnyTask>,
    callback: impl FnOnce(&mut ModuleTask) + Send + 'static,
) -> ModuleTask {
    Task::new(Module { driver: Driver::new(SeriesWork::new(first)) }).with_callback(callback)
}
