//! Fork and join on a compute queue: the parallel sort and merge behind
//! `create_psort_task` and `create_pmerge_task`.
//!
//! Nothing here blocks a thread: `join` submits its jobs to the queue and
//! the job that finishes last runs the continuation in place, which may
//! fork again.
//!
//! A parallel sort splits the data into one run per thread (rounded up to
//! a power of two) by selecting medians (`select_nth_unstable`: in place,
//! and balanced however many elements are equal), level by level, each
//! level's selections at once; it then sorts the runs at once, in place,
//! and appends them to the first run, whose allocation already holds room
//! for all. Only the runs split off are copied (once each, moved), so the
//! cost over a one-thread sort is about one pass over the data.
//!
//! A parallel merge cuts the two runs at balanced split points (found by
//! binary search) so that every thread merges a share, then appends the
//! shares.

use std::any::Any;
use std::cmp::Ordering;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use super::executor::ExecQueue;
use crate::lock::lock;

/// What a parallel algorithm hands back: the data, or the payload of a
/// panic (of the comparator, say).
pub(crate) type Joined<T> = Result<Vec<T>, Box<dyn Any + Send>>;

/// Below this many elements the parallel algorithms work on one thread:
/// cutting and joining would cost more than they save.
const MIN_PARALLEL: usize = 1 << 13;

type JoinJob<R> = Box<dyn FnOnce() -> R + Send>;
type Then<R> = Box<dyn FnOnce(Result<Vec<R>, Box<dyn Any + Send>>) + Send>;

struct JoinState<R> {
    results: std::sync::Mutex<Vec<Option<std::thread::Result<R>>>>,
    left: AtomicUsize,
    then: std::sync::Mutex<Option<Then<R>>>,
}

/// Runs `jobs` on `queue` at once; the last one to finish calls `then`
/// with their results in order, or with the first panic among them. When
/// the queue drops the jobs unrun, `then` is dropped unrun too.
fn join<R: Send + 'static>(queue: &ExecQueue, jobs: Vec<JoinJob<R>>, then: Then<R>) {
    let n = jobs.len();
    let state = Arc::new(JoinState {
        results: std::sync::Mutex::new((0..n).map(|_| None).collect()),
        left: AtomicUsize::new(n),
        then: std::sync::Mutex::new(Some(then)),
    });
    for (i, job) in jobs.into_iter().enumerate() {
        let state = state.clone();
        queue.submit(Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            lock(&state.results)[i] = Some(r);
            if state.left.fetch_sub(1, AtomicOrdering::AcqRel) != 1 {
                return;
            }
            let results = std::mem::take(&mut *lock(&state.results));
            let Some(then) = lock(&state.then).take() else { return };
            let mut out = Vec::with_capacity(results.len());
            for r in results {
                match r.expect("every job stored its result") {
                    Ok(v) => out.push(v),
                    Err(panic) => return then(Err(panic)),
                }
            }
            then(Ok(out));
        }));
    }
}

/// Merges two sorted runs into one (stable: of equal elements, `a`'s come
/// first).
pub(crate) fn merge_vecs<T, F: Fn(&T, &T) -> Ordering>(a: Vec<T>, b: Vec<T>, cmp: &F) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    let (mut x, mut y) = (a.next(), b.next());
    loop {
        match (x, y) {
            (Some(xv), Some(yv)) => {
                if cmp(&yv, &xv) == Ordering::Less {
                    out.push(yv);
                    (x, y) = (Some(xv), b.next());
                } else {
                    out.push(xv);
                    (x, y) = (a.next(), Some(yv));
                }
            }
            (x, y) => {
                out.extend(x);
                out.extend(a);
                out.extend(y);
                out.extend(b);
                return out;
            }
        }
    }
}

/// How many of `a`'s elements are among the first `k` of the stable merge
/// of `a` and `b` (the "co-rank"). Stays in bounds whatever `cmp` answers.
fn co_rank<T, F: Fn(&T, &T) -> Ordering>(k: usize, a: &[T], b: &[T], cmp: &F) -> usize {
    let (mut lo, mut hi) = (k.saturating_sub(b.len()), k.min(a.len()));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        let j = k - i;
        // With `i` from `a` and `j` from `b`: is `b[j - 1]` placed before
        // `a[i]`? Then `i` is enough (or too many); else it is too few.
        if j == 0 || cmp(&b[j - 1], &a[i]) == Ordering::Less {
            hi = i;
        } else {
            lo = i + 1;
        }
    }
    lo
}

/// Cuts `v` at the ascending offsets `cuts` (moving, not cloning); the
/// first piece keeps `v`'s allocation.
fn cut<T>(mut v: Vec<T>, cuts: &[usize]) -> Vec<Vec<T>> {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    for &c in cuts.iter().rev() {
        pieces.push(v.split_off(c));
    }
    pieces.push(v);
    pieces.reverse();
    pieces
}

/// Jobs that merge `a` and `b` in `segments` pieces of about equal size;
/// appended in order, their results are the merge.
fn merge_jobs<T, F>(a: Vec<T>, b: Vec<T>, segments: usize, cmp: &Arc<F>) -> Vec<JoinJob<Vec<T>>>
where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let total = a.len() + b.len();
    let (mut cuts_a, mut cuts_b) = (Vec::new(), Vec::new());
    for s in 1..segments {
        let k = total * s / segments;
        let i = co_rank(k, &a, &b, &**cmp);
        // Co-ranks of growing `k` never decrease, but keep the cuts sorted
        // and in bounds even if a broken comparator says otherwise.
        let i = i.max(cuts_a.last().copied().unwrap_or(0)).min(a.len());
        let j = (k - i.min(k)).clamp(cuts_b.last().copied().unwrap_or(0), b.len());
        cuts_a.push(i);
        cuts_b.push(j);
    }
    cut(a, &cuts_a)
        .into_iter()
        .zip(cut(b, &cuts_b))
        .map(|(a, b)| {
            let cmp = cmp.clone();
            Box::new(move || merge_vecs(a, b, &*cmp)) as JoinJob<Vec<T>>
        })
        .collect()
}

/// Appends the pieces to the first one.
fn concat<T>(pieces: Vec<Vec<T>>) -> Vec<T> {
    let total: usize = pieces.iter().map(Vec::len).sum();
    let mut pieces = pieces.into_iter();
    let mut out = pieces.next().unwrap_or_default();
    out.reserve_exact(total - out.len());
    for p in pieces {
        out.extend(p);
    }
    out
}

/// Splits `v` in two at its median: every element of the first part is
/// ordered before (or with) every element of the second.
fn split_at_median<T, F: Fn(&T, &T) -> Ordering>(mut v: Vec<T>, cmp: &F) -> [Vec<T>; 2] {
    let mid = v.len() / 2;
    if mid > 0 {
        v.select_nth_unstable_by(mid, cmp);
    }
    let upper = v.split_off(mid);
    [v, upper]
}

/// Sorts `data` over the threads of `queue`'s executor; `done` gets the
/// result.
pub(crate) fn psort<T, F>(queue: &ExecQueue, mut data: Vec<T>, cmp: Arc<F>, done: Box<dyn FnOnce(Joined<T>) + Send>)
where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let runs = queue.threads().next_power_of_two();
    if runs < 2 || data.len() < MIN_PARALLEL {
        data.sort_unstable_by(&*cmp);
        return done(Ok(data));
    }
    split_level(queue.clone(), vec![data], runs, cmp, done);
}

/// Splits every piece at its median, at once, until there are `runs`
/// pieces; then sorts them.
fn split_level<T, F>(
    queue: ExecQueue,
    pieces: Vec<Vec<T>>,
    runs: usize,
    cmp: Arc<F>,
    done: Box<dyn FnOnce(Joined<T>) + Send>,
) where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    if pieces.len() >= runs {
        return sort_runs(queue, pieces, cmp, done);
    }
    let jobs = pieces
        .into_iter()
        .map(|p| {
            let cmp = cmp.clone();
            Box::new(move || split_at_median(p, &*cmp)) as JoinJob<[Vec<T>; 2]>
        })
        .collect();
    let q = queue.clone();
    join(
        &queue,
        jobs,
        Box::new(move |split| match split {
            Ok(halves) => split_level(q, halves.into_iter().flatten().collect(), runs, cmp, done),
            Err(panic) => done(Err(panic)),
        }),
    );
}

/// Sorts ordered pieces at once and appends them to the first.
fn sort_runs<T, F>(queue: ExecQueue, pieces: Vec<Vec<T>>, cmp: Arc<F>, done: Box<dyn FnOnce(Joined<T>) + Send>)
where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let jobs = pieces
        .into_iter()
        .map(|mut run| {
            let cmp = cmp.clone();
            Box::new(move || {
                run.sort_unstable_by(&*cmp);
                run
            }) as JoinJob<Vec<T>>
        })
        .collect();
    join(&queue, jobs, Box::new(move |sorted| done(sorted.map(concat))));
}

/// Merges sorted `a` and `b` over the threads of `queue`'s executor;
/// `done` gets the result.
pub(crate) fn pmerge<T, F>(
    queue: &ExecQueue,
    a: Vec<T>,
    b: Vec<T>,
    cmp: Arc<F>,
    done: Box<dyn FnOnce(Joined<T>) + Send>,
) where
    T: Send + 'static,
    F: Fn(&T, &T) -> Ordering + Send + Sync + 'static,
{
    let segments = queue.threads();
    if segments < 2 || a.len() + b.len() < MIN_PARALLEL {
        return done(Ok(merge_vecs(a, b, &*cmp)));
    }
    let jobs = merge_jobs(a, b, segments, &cmp);
    join(queue, jobs, Box::new(move |merged| done(merged.map(concat))));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn natural(a: &u32, b: &u32) -> Ordering {
        a.cmp(b)
    }

    #[test]
    fn co_rank_splits_a_stable_merge() {
        let a = [1, 2, 2, 5, 9];
        let b = [2, 3, 9, 10];
        let mut all: Vec<(u32, u8)> = a.iter().map(|&x| (x, 0)).chain(b.iter().map(|&x| (x, 1))).collect();
        all.sort_by_key(|&(x, _)| x); // stable: `a`'s equal elements first
        for k in 0..=a.len() + b.len() {
            let from_a = all[..k].iter().filter(|e| e.1 == 0).count();
            assert_eq!(co_rank(k, &a, &b, &natural), from_a, "k = {k}");
        }
    }

    #[test]
    fn merge_jobs_cover_everything_with_a_lying_comparator() {
        let liar = Arc::new(|a: &u32, b: &u32| if (a ^ b) & 1 == 0 { Ordering::Less } else { Ordering::Greater });
        let a: Vec<u32> = (0..1000).collect();
        let b: Vec<u32> = (0..777).rev().collect();
        let mut merged = concat(merge_jobs(a, b, 7, &liar).into_iter().map(|j| j()).collect());
        merged.sort_unstable();
        let mut want: Vec<u32> = (0..1000).chain(0..777).collect();
        want.sort_unstable();
        assert_eq!(merged, want);
    }

    #[test]
    fn cut_moves_every_element_once() {
        let pieces = cut((0..10).collect::<Vec<u32>>(), &[0, 3, 3, 10]);
        assert_eq!(pieces, vec![vec![], vec![0, 1, 2], vec![], vec![3, 4, 5, 6, 7, 8, 9], vec![]]);
    }

    #[test]
    fn median_split_orders_the_halves_even_with_duplicates() {
        for v in [vec![5u32; 101], (0..100).rev().collect(), vec![], vec![1]] {
            let n = v.len();
            let [lo, hi] = split_at_median(v, &natural);
            assert_eq!((lo.len(), hi.len()), (n / 2, n - n / 2));
            assert!(lo.iter().all(|x| hi.iter().all(|y| x <= y)));
        }
    }
}
