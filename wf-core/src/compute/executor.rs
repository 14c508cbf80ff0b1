//! Compute executors: threads serving named queues fairly.
//!
//! Like Workflow's `Executor`, an executor keeps at most one entry per queue
//! in its ready list: a thread takes the queue at the head, takes one job
//! from it, and puts the queue back at the tail if it still has jobs. A
//! queue with a long backlog therefore gets one turn per round, the same as
//! a queue with a single job, and never starves it.
//!
//! wf runs one executor of its own, the compute pool
//! ([`get_compute_executor`], `compute_threads` threads); a program may
//! create more ([`Executor::new`]) to keep some work on threads of its own.
//! Either can grow and shrink while it runs.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Arc, Condvar, Mutex};

use rustc_hash::FxHashMap;

use crate::lock::{lock, wait};
use crate::runtime;

/// Work queued on an executor: a closure, or a series driver moving onto
/// a compute thread (already boxed: queuing it moves no more than a
/// pointer).
pub(crate) trait Run: Send + 'static {
    fn run(self: Box<Self>);
}

impl<F: FnOnce() + Send + 'static> Run for F {
    fn run(self: Box<Self>) {
        self()
    }
}

pub(crate) type Job = Box<dyn Run>;

thread_local! {
    /// On an executor's thread: whether it is wf's own compute pool.
    static EXECUTOR_THREAD: Cell<Option<bool>> = const { Cell::new(None) };
}

/// On an executor's thread, `Some(true)` for wf's own compute pool and
/// `Some(false)` for an executor a program created; `None` elsewhere.
pub(crate) fn executor_thread() -> Option<bool> {
    EXECUTOR_THREAD.with(Cell::get)
}

/// A set of threads serving named compute queues (Workflow's `Executor`).
///
/// wf's compute pool is one ([`get_compute_executor`]); [`Executor::new`]
/// makes another, with threads of its own, for work that must not wait
/// behind the pool's (or that may block). Tasks reach an executor through
/// its queues: [`create_go_task_on`](crate::create_go_task_on) with
/// [`Executor::queue`] runs a closure on its threads.
///
/// Cloning gives another handle to the same threads. When the last handle
/// and the last of its queues are dropped, the threads finish the jobs
/// still queued and exit.
///
/// ```
/// let exec = wf_core::Executor::new("doc-exec", 2);
/// let t = wf_core::create_go_task_on(&exec.queue("q"), || std::thread::current().name().map(String::from));
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let t = rt.block_on(async { t.await });
/// assert!(t.result().unwrap().as_deref().unwrap().starts_with("doc-exec"));
/// ```
#[derive(Clone)]
pub struct Executor {
    owner: Arc<Owner>,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor").field("name", &self.owner.pool.name).field("threads", &self.threads()).finish()
    }
}

/// What the handles share; dropping it lets the threads go.
struct Owner {
    pool: Arc<Pool>,
    /// Looked up by name for every go task created by name: a fast hash.
    queues: Mutex<FxHashMap<String, ExecQueue>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        let mut ready = lock(&self.pool.ready);
        ready.closed = true;
        self.pool.wake.notify_all();
    }
}

/// A named compute queue of an executor. Get one with [`get_exec_queue`]
/// (wf's compute pool) or [`Executor::queue`]; queues live as long as
/// their executor, so use a fixed set of names.
#[derive(Clone)]
pub struct ExecQueue {
    inner: Arc<Queue>,
    pool: Arc<Pool>,
    /// Keeps the executor's threads alive while the queue is in use. `None`
    /// for the queues its own map holds (that would be a cycle).
    _owner: Option<Arc<Owner>>,
}

impl fmt::Debug for ExecQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ExecQueue").field(&self.inner.name).finish()
    }
}

impl ExecQueue {
    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn submit(&self, job: Job) {
        self.pool.submit(&self.inner, job);
    }

    /// The number of threads of the queue's executor.
    pub(crate) fn threads(&self) -> usize {
        lock(&self.pool.ready).threads
    }

    /// True when no queue waits for a compute thread and this queue has no
    /// job: a compute thread may then run this queue's next job in place
    /// without being unfair to anyone.
    pub(crate) fn is_idle(&self) -> bool {
        if !lock(&self.pool.ready).queues.is_empty() {
            return false;
        }
        let jobs = lock(&self.inner.jobs);
        jobs.jobs.is_empty() && !jobs.scheduled
    }
}

struct Queue {
    name: String,
    jobs: Mutex<QueueJobs>,
}

struct QueueJobs {
    jobs: VecDeque<Job>,
    /// The queue is in the executor's ready list.
    scheduled: bool,
}

struct Pool {
    name: String,
    /// wf's own compute pool.
    global: bool,
    ready: Mutex<Ready>,
    wake: Condvar,
}

struct Ready {
    queues: VecDeque<Arc<Queue>>,
    /// Threads waiting on `wake`.
    sleeping: usize,
    /// Of those, how many were notified and not yet up: a notification is
    /// only sent when some sleeper has not had one.
    notified: usize,
    /// Threads running, not counting those asked to exit.
    threads: usize,
    /// Threads asked to exit by `decrease_threads` that have not yet.
    retiring: usize,
    /// Names for new threads: `{name}-{next_id}`.
    next_id: usize,
    /// Every handle is gone: exit once the ready list is empty.
    closed: bool,
}

/// wf's compute pool: `compute_threads` threads, started on first use.
pub fn get_compute_executor() -> &'static Executor {
    crate::global::executor().get_or_init(|| {
        Executor::start("wf-compute", true, runtime::settings().compute_threads)
            .expect("wf: cannot start a compute thread")
    })
}

/// The queue named `name` of wf's compute pool, created on first use.
pub fn get_exec_queue(name: &str) -> ExecQueue {
    get_compute_executor().queue(name)
}

/// Adds a thread to wf's compute pool (Workflow's
/// `WFGlobal::increase_compute_thread`); returns the new thread count.
///
/// # Errors
///
/// When the system cannot start a thread; the count stays as it was.
pub fn increase_compute_thread() -> io::Result<usize> {
    get_compute_executor().increase_threads()
}

/// Removes a thread from wf's compute pool (Workflow's
/// `WFGlobal::decrease_compute_thread`); returns the new thread count.
/// See [`Executor::decrease_threads`].
///
/// # Errors
///
/// When the pool has one thread left.
pub fn decrease_compute_thread() -> io::Result<usize> {
    get_compute_executor().decrease_threads()
}

impl Executor {
    /// Starts an executor of `threads` threads (at least one), named
    /// `{name}-0`, `{name}-1`… (Workflow's `Executor::init`).
    ///
    /// # Panics
    ///
    /// When the system cannot start the threads.
    #[must_use = "the threads exit when the executor and its queues are dropped"]
    pub fn new(name: &str, threads: usize) -> Executor {
        Executor::start(name, false, threads).expect("wf: cannot start an executor thread")
    }

    fn start(name: &str, global: bool, threads: usize) -> io::Result<Executor> {
        let pool = Arc::new(Pool {
            name: name.to_string(),
            global,
            ready: Mutex::new(Ready {
                queues: VecDeque::new(),
                sleeping: 0,
                notified: 0,
                threads: 0,
                retiring: 0,
                next_id: 0,
                closed: false,
            }),
            wake: Condvar::new(),
        });
        let exec = Executor { owner: Arc::new(Owner { pool, queues: Mutex::new(FxHashMap::default()) }) };
        for _ in 0..threads.max(1) {
            exec.increase_threads()?;
        }
        Ok(exec)
    }

    /// The queue named `name` of this executor, created on first use.
    #[must_use]
    pub fn queue(&self, name: &str) -> ExecQueue {
        let mut queues = lock(&self.owner.queues);
        if let Some(q) = queues.get(name) {
            // The common case: no key to allocate.
            return ExecQueue { _owner: Some(self.owner.clone()), ..q.clone() };
        }
        let q = queues.entry(name.to_string()).or_insert_with(|| ExecQueue {
            inner: Arc::new(Queue {
                name: name.to_string(),
                jobs: Mutex::new(QueueJobs { jobs: VecDeque::new(), scheduled: false }),
            }),
            pool: self.owner.pool.clone(),
            _owner: None,
        });
        ExecQueue { _owner: Some(self.owner.clone()), ..q.clone() }
    }

    /// The number of threads (not counting threads that were asked to exit
    /// and still finish a job).
    pub fn threads(&self) -> usize {
        lock(&self.owner.pool.ready).threads
    }

    /// Adds a thread; returns the new thread count.
    ///
    /// # Errors
    ///
    /// When the system cannot start a thread; the count stays as it was.
    pub fn increase_threads(&self) -> io::Result<usize> {
        let pool = &self.owner.pool;
        let id = {
            let mut ready = lock(&pool.ready);
            ready.threads += 1;
            if ready.retiring > 0 {
                // A thread asked to exit and not gone yet stays instead.
                ready.retiring -= 1;
                return Ok(ready.threads);
            }
            ready.next_id += 1;
            ready.next_id - 1
        };
        let worker = pool.clone();
        match std::thread::Builder::new().name(format!("{}-{id}", pool.name)).spawn(move || worker.work()) {
            Ok(_) => Ok(self.threads()),
            Err(e) => {
                lock(&pool.ready).threads -= 1;
                Err(e)
            }
        }
    }

    /// Asks one thread to exit once it is idle or has finished its current
    /// job; returns the new thread count. Queued jobs are never dropped:
    /// the remaining threads run them.
    ///
    /// # Errors
    ///
    /// When one thread is left ([`io::ErrorKind::InvalidInput`]): an
    /// executor without threads would never run its queued jobs.
    pub fn decrease_threads(&self) -> io::Result<usize> {
        let pool = &self.owner.pool;
        let mut ready = lock(&pool.ready);
        if ready.threads <= 1 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "an executor keeps at least one thread"));
        }
        ready.threads -= 1;
        ready.retiring += 1;
        pool.wake.notify_all();
        Ok(ready.threads)
    }
}

impl Pool {
    fn submit(&self, queue: &Arc<Queue>, job: Job) {
        {
            let mut jobs = lock(&queue.jobs);
            jobs.jobs.push_back(job);
            if jobs.scheduled {
                return;
            }
            jobs.scheduled = true;
        }
        self.make_ready(queue.clone());
    }

    fn make_ready(&self, queue: Arc<Queue>) {
        let mut ready = lock(&self.ready);
        ready.queues.push_back(queue);
        if ready.sleeping > ready.notified {
            ready.notified += 1;
            self.wake.notify_one();
        }
    }

    /// The next queue with work, or `None` when this thread must exit.
    fn next(&self) -> Option<Arc<Queue>> {
        let mut ready = lock(&self.ready);
        loop {
            if ready.retiring > 0 {
                ready.retiring -= 1;
                return None;
            }
            if let Some(q) = ready.queues.pop_front() {
                return Some(q);
            }
            if ready.closed {
                return None;
            }
            ready.sleeping += 1;
            ready = wait(&self.wake, ready);
            ready.sleeping -= 1;
            if ready.notified > 0 {
                ready.notified -= 1;
            }
        }
    }

    fn work(&self) {
        EXECUTOR_THREAD.with(|c| c.set(Some(self.global)));
        while let Some(queue) = self.next() {
            let (job, more) = {
                let mut jobs = lock(&queue.jobs);
                let job = jobs.jobs.pop_front();
                let more = !jobs.jobs.is_empty();
                if !more {
                    jobs.scheduled = false;
                }
                (job, more)
            };
            if more {
                self.make_ready(queue);
            }
            if let Some(job) = job {
                // Jobs catch their own panics; this is a last line of defence
                // so that a compute thread never dies.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
            }
        }
    }
}
