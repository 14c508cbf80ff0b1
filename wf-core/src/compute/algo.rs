//! Algorithm tasks: sort, merge, shuffle and friends on the compute pool
//! (Workflow's `WFAlgoTaskFactory`).
//!
//! Each task owns its data (a `Vec<T>`), runs the algorithm on a compute
//! queue and hands the data back: the callback reads it with
//! [`Algo::result`] or takes it with [`Algo::take_result`]. The parallel
//! forms ([`create_psort_task`], [`create_pmerge_task`]) spread the work
//! over the threads of the compute pool.

use std::any::Any;
use std::cmp::Ordering;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::executor::{ExecQueue, get_exec_queue};
use super::par::{self, Joined};
use crate::error::Error;
use crate::lock::lock;
use crate::task::{RunContext, Task, TaskKind};

/// A task running an algorithm over a `Vec<T>` it owns (Workflow's
/// `WFSortTask`, `WFMergeTask`…; see the `create_*_task` functions).
///
/// ```
/// let t = wf_core::create_sort_task("doc-algo", vec![3, 1, 2], |t| {
///     assert_eq!(t.result(), Some(&[1, 2, 3][..]));
/// });
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let mut t = rt.block_on(async { t.await });
/// assert_eq!(t.take_result(), Some(vec![1, 2, 3]));
/// ```
pub type AlgoTask<T> = Task<Algo<T>>;

/// What an algorithm ends with: its data and maybe an error, or a panic.
type Outcome<T> = Result<(Vec<T>, Option<Error>), Box<dyn Any + Send>>;
type Done<T> = Box<dyn FnOnce(Outcome<T>) + Send>;
type Step<T> = Box<dyn FnOnce(&mut Vec<T>) -> Option<Error> + Send>;
type Fork<T> = Box<dyn FnOnce(Vec<T>, &ExecQueue, Done<T>) + Send>;

/// An algorithm: run on one compute thread, or forked over several.
enum Op<T> {
    Inline(Step<T>),
    Forked(Fork<T>),
}

/// The kind of an [`AlgoTask`].
pub struct Algo<T> {
    name: &'static str,
    queue: ExecQueue,
    input: Option<(Vec<T>, Op<T>)>,
    /// Set by `compute` when the series moved to the compute thread.
    outcome: Option<Outcome<T>>,
    rx: Option<oneshot::Receiver<Outcome<T>>>,
    result: Option<Vec<T>>,
}

impl<T> fmt::Debug for Algo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Algo").field("algorithm", &self.name).field("queue", &self.queue).finish_non_exhaustive()
    }
}

impl<T> Algo<T> {
    /// The algorithm's name: `"sort"`, `"psort"`, `"merge"`…
    pub fn algorithm(&self) -> &'static str {
        self.name
    }

    /// The queue the algorithm runs on.
    pub fn queue(&self) -> &ExecQueue {
        &self.queue
    }

    /// The data after the algorithm ran; `None` before, after a panic (of
    /// a comparator, say), and once taken.
    pub fn result(&self) -> Option<&[T]> {
        self.result.as_deref()
    }

    /// Takes the data out.
    pub fn take_result(&mut self) -> Option<Vec<T>> {
        self.result.take()
    }
}

/// Runs `op` on a compute thread and sends its outcome to the task, a
/// panic included.
fn run_op<T: Send + 'static>(op: Op<T>, data: Vec<T>, queue: &ExecQueue, tx: oneshot::Sender<Outcome<T>>) {
    let op = match op {
        Op::Inline(step) => {
            let _ = tx.send(run_inline(step, data));
            return;
        }
        Op::Forked(fork) => fork,
    };
    let slot = Arc::new(Mutex::new(Some(tx)));
    let done_slot = slot.clone();
    let done: Done<T> = Box::new(move |outcome| {
        if let Some(tx) = lock(&done_slot).take() {
            let _ = tx.send(outcome);
        }
    });
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| op(data, queue, done))) {
        if let Some(tx) = lock(&slot).take() {
            let _ = tx.send(Err(panic));
        }
    }
}

fn run_inline<T>(step: Step<T>, mut data: Vec<T>) -> Outcome<T> {
    catch_unwind(AssertUnwindSafe(move || {
        let error = step(&mut data);
        (data, error)
    }))
}

impl<T> Algo<T> {
    fn settle(&mut self, outcome: Outcome<T>, run: &mut RunContext<'_>) {
        match outcome {
            Ok((data, error)) => {
                self.result = Some(data);
                if let Some(e) = error {
                    run.set_error(e);
                }
            }
            Err(_panic) => run.set_panicked(),
        }
    }
}

impl<T: Send + 'static> TaskKind for Algo<T> {
    fn compute_queue(&self) -> Option<ExecQueue> {
        // One-thread algorithms move the series to the compute thread, as a
        // go task does; forked ones wait for their jobs from a poller.
        matches!(self.input, Some((_, Op::Inline(_)))).then(|| self.queue.clone())
    }

    fn compute(&mut self) {
        if let Some((data, Op::Inline(step))) = self.input.take() {
            self.outcome = Some(run_inline(step, data));
        }
    }

    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if let Some(outcome) = self.outcome.take() {
            self.settle(outcome, run);
            return Poll::Ready(());
        }
        if let Some((data, op)) = self.input.take() {
            let (tx, rx) = oneshot::channel();
            let queue = self.queue.clone();
            self.queue.submit(Box::new(move || {
                // Still queued at shutdown: dropping `tx` aborts the task.
                if !crate::shutdown::is_shutting_down() {
                    run_op(op, data, &queue, tx);
                }
            }));
            self.rx = Some(rx);
        }
        let Some(rx) = self.rx.as_mut() else { return Poll::Ready(()) };
        match Pin::new(rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(outcome)) => self.settle(outcome, run),
            // The job was dropped unrun: aborted by shutdown, else canceled.
            Poll::Ready(Err(_)) => run.set_error(super::go::dropped()),
        }
        self.rx = None;
        Poll::Ready(())
    }
}

fn new_task<T, C>(name: &'static str, queue: &str, data: Vec<T>, op: Op<T>, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    Task::new(Algo {
        name,
        queue: get_exec_queue(queue),
        input: Some((data, op)),
        outcome: None,
        rx: None,
        result: None,
    })
    .with_callback(callback)
}

/// An algorithm that runs on one thread.
fn inline<T: Send + 'static>(f: impl FnOnce(&mut Vec<T>) -> Option<Error> + Send + 'static) -> Op<T> {
    Op::Inline(Box::new(f))
}

/// An algorithm that forks over the queue's threads.
fn forked<T: Send + 'static>(
    f: impl FnOnce(&ExecQueue, Vec<T>, Box<dyn FnOnce(Joined<T>) + Send>) + Send + 'static,
) -> Op<T> {
    Op::Forked(Box::new(move |data, queue, done| {
        f(queue, data, Box::new(move |joined| done(joined.map(|v| (v, None)))))
    }))
}

/// Sorts `data` on compute queue `queue` (Workflow's `create_sort_task`;
/// unstable, like `std::sort`).
pub fn create_sort_task<T, C>(queue: &str, data: Vec<T>, callback: C) -> AlgoTask<T>
where
    T: Ord + Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    new_task(
        "sort",
        queue,
        data,
        inline(|d: &mut Vec<T>| {
            d.sort_unstable();
            None
        }),
        callback,
    )
}

/// Sorts `data` by `cmp` (unstable). A comparator that is not a total
/// order gives an unspecified order, or makes the task fail with
/// `TASK_ERROR`/`PANICKED`.
pub fn create_sort_task_by<T, F, C>(queue: &str, data: Vec<T>, cmp: F, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    new_task(
        "sort",
        queue,
        data,
        inline(move |d: &mut Vec<T>| {
            d.sort_unstable_by(cmp);
            None
        }),
        callback,
    )
}

/// Sorts `data` over the compute pool's threads (Workflow's
/// `create_psort_task`; unstable): the data is split at medians into one
/// run per thread, in place, and the runs are sorted at once. Small inputs
/// (and a pool of one thread) are sorted on one thread.
///
/// ```
/// let data: Vec<u64> = (0..100_000).rev().collect();
/// let t = wf_core::create_psort_task("doc-algo", data, |t| {
///     assert!(t.result().unwrap().is_sorted());
/// });
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let t = rt.block_on(async { t.await });
/// assert_eq!(t.state(), wf_core::State::Success);
/// ```
pub fn create_psort_task<T, C>(queue: &str, data: Vec<T>, callback: C) -> AlgoTask<T>
where
    T: Ord + Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    create_psort_task_by(queue, data, T::cmp, callback)
}

/// Like [`create_psort_task`], ordering by `cmp`.
pub fn create_psort_task_by<T, F, C>(queue: &str, data: Vec<T>, cmp: F, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    let cmp = Arc::new(cmp);
    new_task("psort", queue, data, forked(move |q, d, done| par::psort(q, d, cmp, done)), callback)
}

/// Merges the sorted `a` and `b` into one sorted vector (Workflow's
/// `create_merge_task`; stable: of equal elements, `a`'s come first).
pub fn create_merge_task<T, C>(queue: &str, a: Vec<T>, b: Vec<T>, callback: C) -> AlgoTask<T>
where
    T: Ord + Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    create_merge_task_by(queue, a, b, T::cmp, callback)
}

/// Like [`create_merge_task`], for runs sorted by `cmp`.
pub fn create_merge_task_by<T, F, C>(queue: &str, a: Vec<T>, b: Vec<T>, cmp: F, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    let op = inline(move |d: &mut Vec<T>| {
        *d = par::merge_vecs(std::mem::take(d), b, &cmp);
        None
    });
    new_task("merge", queue, a, op, callback)
}

/// Merges the sorted `a` and `b` over the compute pool's threads: the
/// merge is cut at balanced split points and each thread merges a share.
pub fn create_pmerge_task<T, C>(queue: &str, a: Vec<T>, b: Vec<T>, callback: C) -> AlgoTask<T>
where
    T: Ord + Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    create_pmerge_task_by(queue, a, b, T::cmp, callback)
}

/// Like [`create_pmerge_task`], for runs sorted by `cmp`.
pub fn create_pmerge_task_by<T, F, C>(queue: &str, a: Vec<T>, b: Vec<T>, cmp: F, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    let cmp = Arc::new(cmp);
    new_task("pmerge", queue, a, forked(move |q, a, done| par::pmerge(q, a, b, cmp, done)), callback)
}

/// Shuffles `data` uniformly (Workflow's `create_shuffle_task`), seeded
/// from the process's random hasher keys and the clock.
pub fn create_shuffle_task<T, C>(queue: &str, data: Vec<T>, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    create_shuffle_task_seeded(queue, data, h.finish(), callback)
}

/// Like [`create_shuffle_task`] with a given seed: the same seed and
/// length give the same permutation (Workflow's form taking a URBG).
pub fn create_shuffle_task_seeded<T, C>(queue: &str, data: Vec<T>, seed: u64, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    let op = inline(move |d: &mut Vec<T>| {
        let mut rng = SplitMix64(seed);
        for i in (1..d.len()).rev() {
            d.swap(i, rng.below(i as u64 + 1) as usize);
        }
        None
    });
    new_task("shuffle", queue, data, op, callback)
}

/// Removes every element equal to `value`, keeping the others' order
/// (Workflow's `create_remove_task`).
pub fn create_remove_task<T, C>(queue: &str, data: Vec<T>, value: T, callback: C) -> AlgoTask<T>
where
    T: PartialEq + Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    new_task(
        "remove",
        queue,
        data,
        inline(move |d: &mut Vec<T>| {
            d.retain(|x| *x != value);
            None
        }),
        callback,
    )
}

/// Removes consecutive repeated elements, as `std::unique` (Workflow's
/// `create_unique_task`); on sorted data, every duplicate.
pub fn create_unique_task<T, C>(queue: &str, data: Vec<T>, callback: C) -> AlgoTask<T>
where
    T: PartialEq + Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    new_task(
        "unique",
        queue,
        data,
        inline(|d: &mut Vec<T>| {
            d.dedup();
            None
        }),
        callback,
    )
}

/// Reverses `data` (Workflow's `create_reverse_task`).
pub fn create_reverse_task<T, C>(queue: &str, data: Vec<T>, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    new_task(
        "reverse",
        queue,
        data,
        inline(|d: &mut Vec<T>| {
            d.reverse();
            None
        }),
        callback,
    )
}

/// Rotates `data` so that the element at `middle` comes first (Workflow's
/// `create_rotate_task`, `std::rotate(first, middle, last)`). A `middle`
/// past the end fails the task with `SYS_ERROR`/`EINVAL` and hands the
/// data back unchanged.
pub fn create_rotate_task<T, C>(queue: &str, data: Vec<T>, middle: usize, callback: C) -> AlgoTask<T>
where
    T: Send + 'static,
    C: FnOnce(&mut AlgoTask<T>) + Send + 'static,
{
    let op = inline(move |d: &mut Vec<T>| {
        if middle > d.len() {
            return Some(Error::sys(libc::EINVAL));
        }
        d.rotate_left(middle);
        None
    });
    new_task("rotate", queue, data, op, callback)
}

/// SplitMix64: small, fast, and good enough to shuffle with.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-and-reject), `n > 0`.
    fn below(&mut self, n: u64) -> u64 {
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }
}
