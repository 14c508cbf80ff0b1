//! Parallels: a task holding series that run concurrently.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::lock::lock;
use crate::series::{Driver, End, ParentHook, SeriesWork};
use crate::task::{RunContext, Task, TaskKind};

/// A task holding series that run concurrently (Workflow's `ParallelWork`).
///
/// Its callback runs when every series has finished and sees each of them,
/// in insertion order, with its context. A parallel is a task, so it can be
/// pushed into a series, which can be in another parallel, to any depth.
///
/// ```
/// use wf_core::{create_go_task, create_parallel_work, create_series_work};
///
/// let mut p = create_parallel_work(|p| {
///     let sum: u64 = p.iter().map(|s| *s.context::<u64>().unwrap()).sum();
///     assert_eq!(sum, 0 + 1 + 2 + 3);
/// });
/// for i in 0..4u64 {
///     let go = create_go_task("doc", move || i).with_callback(|t| {
///         let v = *t.result().unwrap();
///         *wf_core::series_of(t).context_mut::<u64>().unwrap() = v;
///     });
///     let mut s = create_series_work(go, |_| {});
///     s.set_context(0u64);
///     p.add_series(s);
/// }
/// p.start();
/// wf_core::wait_finish();
/// ```
pub type ParallelWork = Task<Parallel>;

/// The kind of a [`ParallelWork`].
#[derive(Default)]
pub struct Parallel {
    series: Vec<SeriesWork>,
    context: Option<Box<dyn Any + Send>>,
    running: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Parallel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parallel").field("series", &self.series).finish_non_exhaustive()
    }
}

struct Shared {
    left: AtomicUsize,
    done: Mutex<Done>,
}

struct Done {
    series: Vec<Option<SeriesWork>>,
    waker: Option<Waker>,
}

impl ParentHook for Shared {
    fn series_done(self: Arc<Self>, index: usize, series: SeriesWork) {
        let waker = {
            let mut done = lock(&self.done);
            done.series[index] = Some(series);
            if self.left.fetch_sub(1, Ordering::AcqRel) == 1 { done.waker.take() } else { None }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Parallel {
    /// Adds a series; it runs when the parallel starts.
    pub fn add_series(&mut self, series: SeriesWork) {
        self.series.push(series);
    }

    /// The `i`-th series, in insertion order.
    pub fn series_at(&self, i: usize) -> Option<&SeriesWork> {
        self.series.get(i)
    }

    /// The `i`-th series, mutably (e.g. to take its context).
    pub fn series_at_mut(&mut self, i: usize) -> Option<&mut SeriesWork> {
        self.series.get_mut(i)
    }

    /// Number of series.
    pub fn size(&self) -> usize {
        self.series.len()
    }

    /// The series, in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, SeriesWork> {
        self.series.iter()
    }

    /// The series, mutably.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, SeriesWork> {
        self.series.iter_mut()
    }

    /// Sets the parallel's context.
    pub fn set_context<C: Any + Send>(&mut self, context: C) {
        self.context = Some(Box::new(context));
    }

    /// The context, if there is one of type `C`.
    pub fn context<C: Any>(&self) -> Option<&C> {
        self.context.as_ref()?.downcast_ref()
    }

    /// The context, mutably, if there is one of type `C`.
    pub fn context_mut<C: Any>(&mut self) -> Option<&mut C> {
        self.context.as_mut()?.downcast_mut()
    }
}

impl<'a> IntoIterator for &'a Parallel {
    type Item = &'a SeriesWork;
    type IntoIter = std::slice::Iter<'a, SeriesWork>;
    fn into_iter(self) -> Self::IntoIter {
        self.series.iter()
    }
}

impl TaskKind for Parallel {
    fn poll_run(&mut self, cx: &mut Context<'_>, _run: &mut RunContext<'_>) -> Poll<()> {
        match &self.running {
            None => {
                let n = self.series.len();
                if n == 0 {
                    return Poll::Ready(());
                }
                let shared = Arc::new(Shared {
                    left: AtomicUsize::new(n),
                    done: Mutex::new(Done { series: (0..n).map(|_| None).collect(), waker: Some(cx.waker().clone()) }),
                });
                let parent: Arc<dyn ParentHook> = shared.clone();
                for (i, mut s) in self.series.drain(..).enumerate() {
                    s.set_end(End::Parent(parent.clone(), i));
                    Driver::start(s);
                }
                self.running = Some(shared);
                Poll::Pending
            }
            Some(shared) => {
                let mut done = lock(&shared.done);
                if shared.left.load(Ordering::Acquire) != 0 {
                    done.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                self.series = done.series.drain(..).map(|s| s.expect("finished series")).collect();
                drop(done);
                self.running = None;
                Poll::Ready(())
            }
        }
    }
}

/// Creates an empty parallel; add series, then start it or push it into a
/// series (Workflow's `Workflow::create_parallel_work`).
pub fn create_parallel_work(callback: impl FnOnce(&mut ParallelWork) + Send + 'static) -> ParallelWork {
    Task::new(Parallel::default()).with_callback(callback)
}

/// Creates a parallel of `series` and starts it in a new series
/// (Workflow's `Workflow::start_parallel_work`).
pub fn start_parallel_work(
    series: impl IntoIterator<Item = SeriesWork>,
    callback: impl FnOnce(&mut ParallelWork) + Send + 'static,
) {
    let mut p = create_parallel_work(callback);
    for s in series {
        p.add_series(s);
    }
    p.start();
}
