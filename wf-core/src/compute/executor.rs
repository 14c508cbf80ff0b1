//! The compute pool: `compute_threads` threads serving named queues fairly.
//!
//! Like Workflow's `Executor`, the pool keeps at most one entry per queue in
//! its ready list: a thread takes the queue at the head, takes one job from
//! it, and puts the queue back at the tail if it still has jobs. A queue
//! with a long backlog therefore gets one turn per round, the same as a
//! queue with a single job, and never starves it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};

use crate::lock::{lock, wait};
use crate::runtime;

pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// A named compute queue. Get one with [`get_exec_queue`]; queues live for
/// the rest of the process, so use a fixed set of names.
#[derive(Clone)]
pub struct ExecQueue {
    inner: Arc<Queue>,
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
        executor().submit(&self.inner, job);
    }

    /// True when no queue waits for a compute thread and this queue has no
    /// job: a compute thread may then run this queue's next job in place
    /// without being unfair to anyone.
    pub(crate) fn is_idle(&self) -> bool {
        let exec = executor();
        if !lock(&exec.ready).queues.is_empty() {
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

pub(crate) struct Executor {
    ready: Mutex<Ready>,
    wake: Condvar,
    queues: Mutex<HashMap<String, ExecQueue>>,
}

struct Ready {
    queues: VecDeque<Arc<Queue>>,
    /// Threads waiting on `wake`.
    sleeping: usize,
    /// Of those, how many were notified and not yet up: a notification is
    /// only sent when some sleeper has not had one.
    notified: usize,
}

fn executor() -> &'static Executor {
    crate::global::executor().get_or_init(|| {
        let exec: &'static Executor = Box::leak(Box::new(Executor {
            ready: Mutex::new(Ready { queues: VecDeque::new(), sleeping: 0, notified: 0 }),
            wake: Condvar::new(),
            queues: Mutex::new(HashMap::new()),
        }));
        for i in 0..runtime::settings().compute_threads {
            std::thread::Builder::new()
                .name(format!("wf-compute-{i}"))
                .spawn(move || exec.work())
                .expect("wf: cannot start a compute thread");
        }
        exec
    })
}

/// The compute queue named `name`, created on first use.
pub fn get_exec_queue(name: &str) -> ExecQueue {
    let exec = executor();
    let mut queues = lock(&exec.queues);
    if let Some(q) = queues.get(name) {
        return q.clone();
    }
    let q = ExecQueue {
        inner: Arc::new(Queue {
            name: name.to_string(),
            jobs: Mutex::new(QueueJobs { jobs: VecDeque::new(), scheduled: false }),
        }),
    };
    queues.insert(name.to_string(), q.clone());
    q
}

impl Executor {
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

    fn work(&self) {
        loop {
            let queue = {
                let mut ready = lock(&self.ready);
                loop {
                    if let Some(q) = ready.queues.pop_front() {
                        break q;
                    }
                    ready.sleeping += 1;
                    ready = wait(&self.wake, ready);
                    ready.sleeping -= 1;
                    if ready.notified > 0 {
                        ready.notified -= 1;
                    }
                }
            };
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
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        }
    }
}
