//! CPU work as tasks: go tasks, thread tasks, algorithm tasks and the
//! executors they run on.

mod algo;
mod executor;
mod go;
mod par;
mod thread;

pub use algo::{
    Algo, AlgoTask, create_merge_task, create_merge_task_by, create_pmerge_task, create_pmerge_task_by,
    create_psort_task, create_psort_task_by, create_remove_task, create_reverse_task, create_rotate_task,
    create_shuffle_task, create_shuffle_task_seeded, create_sort_task, create_sort_task_by, create_unique_task,
};
pub use executor::{
    ExecQueue, Executor, decrease_compute_thread, get_compute_executor, get_exec_queue, increase_compute_thread,
};
pub use go::{Go, GoTask, create_go_task, create_go_task_on, create_timedgo_task};
pub use thread::{Thread, ThreadTask, create_thread_task, create_thread_task_on, create_timed_thread_task};

pub(crate) use executor::{Run, executor_thread};
