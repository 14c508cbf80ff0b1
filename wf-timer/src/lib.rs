//! Timer tasks for wf (Workflow's `WFTimerTask`).
//!
//! A timer is a task that succeeds after a delay without occupying a
//! thread. Named timers can be canceled with [`cancel_by_name`]; a canceled
//! timer calls back with `SYS_ERROR`/`ECANCELED` (at once if it is running,
//! as soon as it starts if it was canceled before). A timer is also the
//! sleep task: [`usleep`] blocks on one, and [`wf_core::shutdown`] ends a
//! pending timer with `Aborted` (Workflow aborts timers at process exit).
//!
//! ```
//! use std::time::Duration;
//! use wf_timer::create_timer_task;
//!
//! create_timer_task(Duration::from_millis(10), |t| {
//!     assert_eq!(t.state(), wf_core::State::Success);
//! })
//! .start();
//! wf_core::wait_finish();
//! ```
//!
//! wf-timer is also the smallest example of a task kind written outside
//! wf-core: everything here uses wf-core's public [`TaskKind`] API only.

#![forbid(unsafe_code)]

mod timer;

pub use timer::{
    Timer, TimerTask, cancel_by_name, create_canceled_timer_task, create_named_timer_task, create_named_timer_task_ns,
    create_timer_task, create_timer_task_ns, usleep,
};
#[doc(no_inline)]
pub use wf_core::TaskKind;
