//! The wf engine: C++ Workflow's task model in Rust.
//!
//! Everything a service does is a *task*: a timer, a counter, a closure on
//! the compute pool, a network request. Tasks run in *series* (one after
//! another, each callback able to push the next step) and series run in
//! *parallels*, nested to any depth. A server's reply is just the end of a
//! series.
//!
//! ```
//! use wf_core::{create_go_task, create_parallel_work, create_series_work, series_of};
//!
//! // One task.
//! create_go_task("tour", || 6 * 7).with_callback(|t| println!("{:?}", t.result())).start();
//!
//! // A series: the next task starts when the previous callback returned.
//! let first = create_go_task("tour", || "a").with_callback(|t| {
//!     series_of(t).push_back(create_go_task("tour", || "b"));
//! });
//! create_series_work(first, |_| println!("series done")).start();
//!
//! // A parallel of series.
//! let mut p = create_parallel_work(|p| println!("{} series done", p.size()));
//! for i in 0..3 {
//!     p.add_series(create_series_work(create_go_task("tour", move || i), |_| {}));
//! }
//! p.start();
//!
//! wf_core::wait_finish();
//! ```
//!
//! Tasks are also futures: `task.await` starts a task and resolves to it
//! after its callback ran, so wf fits in async code.
//!
//! Callbacks run on the runtime's worker threads: blocking in one stalls
//! others, so CPU work belongs in a go task. A panic in a callback is
//! caught; it cancels that task's series (whose callback still runs) and
//! the process keeps going.
//!
//! A server runs until [`signal::wait_for_shutdown`] returns (SIGTERM or
//! SIGINT), then stops gracefully. A program that must exit while tasks
//! still wait (timers, counters, queued compute work) calls [`shutdown`]:
//! they finish [`State::Aborted`] with their callbacks run, and
//! [`wait_finish`] returns.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod blocking;
mod compute;
mod control;
mod error;
mod global;
mod graph;
mod handlers;
pub mod lock;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub mod net;
mod parallel;
mod runtime;
mod series;
mod shutdown;
pub mod signal;
mod sync;
mod task;
mod trace;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub mod upstream;

pub use blocking::{request, request_timeout};
pub use compute::{
    Algo, AlgoTask, ExecQueue, Executor, Go, GoTask, Thread, ThreadTask, create_go_task, create_go_task_on,
    create_merge_task, create_merge_task_by, create_pmerge_task, create_pmerge_task_by, create_psort_task,
    create_psort_task_by, create_remove_task, create_reverse_task, create_rotate_task, create_shuffle_task,
    create_shuffle_task_seeded, create_sort_task, create_sort_task_by, create_thread_task, create_thread_task_on,
    create_timed_thread_task, create_timedgo_task, create_unique_task, decrease_compute_thread, get_compute_executor,
    get_exec_queue, increase_compute_thread,
};
pub use control::{
    Dynamic, DynamicTask, Empty, EmptyTask, Module, ModuleTask, Repeater, RepeaterTask, create_dynamic_task,
    create_empty_task, create_module_task, create_repeater_task,
};
pub use error::{Error, State, TimeoutReason, code, get_error_string, register_task_error};
pub use graph::{Graph, GraphNode, GraphTask, create_graph_task};
pub use parallel::{Parallel, ParallelWork, create_parallel_work, start_parallel_work};
pub use runtime::{
    AddressFamily, AlreadyInitialized, EndpointParams, Resolver, Settings, handle, init, settings, wait_finish,
    wait_finish_timeout,
};
pub use series::{SeriesFuture, SeriesWork, create_series_work, series_of, start_series_work, try_series_of};
pub use shutdown::{ShutdownWatch, is_shutting_down, shutdown};
pub use sync::{
    Conditional, ConditionalHandle, ConditionalTask, Counter, CounterHandle, CounterTask, Mailbox, MailboxHandle,
    MailboxTask, MessageQueue, ResourcePool, Selector, SelectorHandle, SelectorTask, WaitGroup, count_by_name,
    create_conditional, create_counter_task, create_guard, create_mailbox_task, create_named_conditional,
    create_named_counter_task, create_named_mailbox_task, create_selector_task, release_guard, release_guard_safe,
    send_by_name, send_by_name_each, signal_by_name, signal_by_name_each,
};
pub use task::{AnyTask, RunContext, Task, TaskFuture, TaskKind};
