//! CPU work as tasks: go tasks, thread tasks and the compute pool they run on.

mod executor;
mod go;
mod thread;

pub use executor::{ExecQueue, get_exec_queue};
pub use go::{Go, GoTask, create_go_task, create_go_task_on, create_timedgo_task};
pub use thread::{Thread, ThreadTask, create_thread_task, create_timed_thread_task};

pub(crate) use executor::Executor;
