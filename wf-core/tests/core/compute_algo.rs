//! Algorithm tasks (C++ algo_unittest and beyond): every algorithm against std's result on random
//! inputs, empty, one element, sorted, reversed and duplicate-heavy data; comparators, panics and
//! bad arguments.

use std::cmp::Ordering;

use wf_core::{
    AlgoTask, State, code, create_merge_task, create_merge_task_by, create_pmerge_task, create_pmerge_task_by,
    create_psort_task, create_psort_task_by, create_remove_task, create_reverse_task, create_rotate_task,
    create_shuffle_task, create_shuffle_task_seeded, create_sort_task, create_sort_task_by, create_unique_task,
    request,
};

const Q: &str = "compute_algo";

/// xorshift64: reproducible test data.
fn random(n: usize, seed: u64, modulo: u64) -> Vec<u64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % modulo
        })
        .collect()
}

/// Inputs every algorithm is tried on: sizes around the parallel threshold, sorted, reversed,
/// all equal, and few distinct values.
fn inputs() -> Vec<Vec<u64>> {
    let mut v = vec![vec![], vec![7], vec![2, 1], random(100, 1, u64::MAX)];
    for n in [8191, 8192, 8193, 100_003] {
        v.push(random(n, n as u64, u64::MAX));
        v.push(random(n, 3, 10)); // duplicates
    }
    v.push((0..50_000).collect()); // already sorted
    v.push((0..50_000).rev().collect());
    v.push(vec![5; 20_000]);
    v
}

/// Runs an algorithm task and returns its state and data.
fn run<T: Send + 'static>(task: AlgoTask<T>) -> (State, Vec<T>) {
    let mut t = request(task).expect("the test thread may block");
    (t.state(), t.take_result().expect("the data comes back"))
}

#[test]
fn sort_and_psort_match_std() {
    for data in inputs() {
        let mut want = data.clone();
        want.sort();
        assert_eq!(run(create_sort_task(Q, data.clone(), |_| {})), (State::Success, want.clone()));
        assert_eq!(run(create_psort_task(Q, data, |_| {})), (State::Success, want));
    }
}

#[test]
fn psort_large_input() {
    let data = random(2_000_003, 42, u64::MAX);
    let mut want = data.clone();
    want.sort_unstable();
    let (state, got) = run(create_psort_task(Q, data, |t| {
        assert_eq!(t.algorithm(), "psort");
        assert!(t.result().unwrap().is_sorted());
    }));
    assert_eq!(state, State::Success);
    assert_eq!(got, want);
}

#[test]
fn sort_by_custom_comparator() {
    // Descending by key; the payload tells equal keys apart.
    for data in inputs() {
        let data: Vec<(u64, usize)> = data.into_iter().map(|x| x % 1000).zip(0..).collect();
        let by_key_desc = |a: &(u64, usize), b: &(u64, usize)| b.0.cmp(&a.0);
        let mut want = data.clone();
        want.sort_by(by_key_desc);
        for task in [
            create_sort_task_by(Q, data.clone(), by_key_desc, |_| {}),
            create_psort_task_by(Q, data.clone(), by_key_desc, |_| {}),
        ] {
            let (state, got) = run(task);
            assert_eq!(state, State::Success);
            let keys = |v: &[(u64, usize)]| v.iter().map(|e| e.0).collect::<Vec<_>>();
            assert_eq!(keys(&got), keys(&want), "ordered by the comparator");
            let mut got = got;
            got.sort();
            let mut all = data.clone();
            all.sort();
            assert_eq!(got, all, "a permutation of the input");
        }
    }
}

#[test]
fn merge_and_pmerge_match_std_and_are_stable() {
    for (i, a) in inputs().into_iter().enumerate() {
        let mut a = a;
        a.sort();
        let mut b = random(a.len() / 3 + i, i as u64 + 9, 1000);
        b.sort();
        let mut want = [a.clone(), b.clone()].concat();
        want.sort();
        assert_eq!(run(create_merge_task(Q, a.clone(), b.clone(), |_| {})), (State::Success, want.clone()));
        assert_eq!(run(create_pmerge_task(Q, a.clone(), b.clone(), |_| {})), (State::Success, want));
        assert_eq!(run(create_pmerge_task(Q, b.clone(), Vec::new(), |_| {})), (State::Success, b.clone()));
        assert_eq!(run(create_pmerge_task(Q, Vec::new(), b.clone(), |_| {})), (State::Success, b.clone()));

        // Stability: of equal keys, `a`'s elements come first.
        let ta: Vec<(u64, u8)> = a.iter().map(|&x| (x % 1000, 0)).collect::<Vec<_>>();
        let mut ta = ta;
        ta.sort_by_key(|e| e.0);
        let tb: Vec<(u64, u8)> = b.iter().map(|&x| (x, 1)).collect();
        let mut want = [ta.clone(), tb.clone()].concat();
        want.sort_by_key(|e| e.0); // stable
        let by_key = |x: &(u64, u8), y: &(u64, u8)| x.0.cmp(&y.0);
        assert_eq!(run(create_merge_task_by(Q, ta.clone(), tb.clone(), by_key, |_| {})).1, want);
        assert_eq!(run(create_pmerge_task_by(Q, ta, tb, by_key, |_| {})).1, want);
    }
}

#[test]
fn shuffle_is_a_permutation_and_seeded_is_reproducible() {
    for data in inputs() {
        let (state, mut got) = run(create_shuffle_task(Q, data.clone(), |_| {}));
        assert_eq!(state, State::Success);
        got.sort();
        let mut want = data.clone();
        want.sort();
        assert_eq!(got, want);
    }
    let data: Vec<u32> = (0..1000).collect();
    let a = run(create_shuffle_task_seeded(Q, data.clone(), 7, |_| {})).1;
    let b = run(create_shuffle_task_seeded(Q, data.clone(), 7, |_| {})).1;
    let c = run(create_shuffle_task_seeded(Q, data.clone(), 8, |_| {})).1;
    let d = run(create_shuffle_task(Q, data.clone(), |_| {})).1;
    assert_eq!(a, b, "same seed, same permutation");
    assert_ne!(a, c, "another seed, another permutation");
    assert_ne!(a, data, "shuffled");
    assert_ne!(d, data, "shuffled");
    // Every position is reached: element 0 lands in many places over seeds.
    let places: std::collections::HashSet<usize> = (0..200)
        .map(|seed| run(create_shuffle_task_seeded(Q, (0..10).collect::<Vec<u8>>(), seed, |_| {})).1)
        .map(|v| v.iter().position(|&x| x == 0).unwrap())
        .collect();
    assert_eq!(places.len(), 10, "{places:?}");
}

#[test]
fn remove_unique_reverse_rotate_match_std() {
    for data in inputs() {
        let value = data.first().copied().unwrap_or(0);
        let mut want = data.clone();
        want.retain(|&x| x != value);
        assert_eq!(run(create_remove_task(Q, data.clone(), value, |_| {})), (State::Success, want));

        let mut want = data.clone();
        want.dedup();
        assert_eq!(run(create_unique_task(Q, data.clone(), |_| {})), (State::Success, want));

        let mut want = data.clone();
        want.reverse();
        assert_eq!(run(create_reverse_task(Q, data.clone(), |_| {})), (State::Success, want));

        for middle in [0, data.len() / 3, data.len()] {
            let mut want = data.clone();
            want.rotate_left(middle);
            assert_eq!(run(create_rotate_task(Q, data.clone(), middle, |_| {})), (State::Success, want));
        }
    }
}

#[test]
fn rotate_past_the_end_fails_and_hands_the_data_back() {
    let t = request(create_rotate_task(Q, vec![1, 2, 3], 4, |_| {})).unwrap();
    assert_eq!(t.state(), State::SysError);
    assert_eq!(t.error_code(), libc::EINVAL);
    assert_eq!(t.result(), Some(&[1, 2, 3][..]));
}

#[test]
fn a_panicking_comparator_fails_the_task_without_hanging() {
    let bomb = |a: &u64, b: &u64| {
        if *a == 4242 || *b == 4242 {
            panic!("comparator bomb");
        }
        a.cmp(b)
    };
    let mut data = random(100_000, 5, 1_000_000);
    data[77_777] = 4242;
    for task in
        [create_sort_task_by(Q, data.clone(), bomb, |_| {}), create_psort_task_by(Q, data.clone(), bomb, |_| {})]
    {
        let t = request(task).unwrap();
        assert_eq!(t.state(), State::TaskError);
        assert_eq!(t.error_code(), code::PANICKED);
        assert_eq!(t.result(), None);
    }
    let mut a = random(50_000, 6, 1_000_000);
    a.push(4242);
    a.sort();
    let b: Vec<u64> = (0..50_000).collect();
    let t = request(create_pmerge_task_by(Q, a, b, bomb, |_| {})).unwrap();
    assert_eq!(t.error_code(), code::PANICKED);
}

#[test]
fn a_comparator_that_is_no_order_gives_a_permutation() {
    // Not a total order: no panic from the parallel cuts, nothing lost or duplicated.
    let liar = |a: &u64, b: &u64| if (a ^ b) & 4 == 0 { Ordering::Less } else { Ordering::Greater };
    let a = random(40_000, 11, 1000);
    let b = random(30_000, 12, 1000);
    let (_, got) = run(create_pmerge_task_by(Q, a.clone(), b.clone(), liar, |_| {}));
    let mut got = got;
    got.sort();
    let mut want = [a.clone(), b].concat();
    want.sort();
    assert_eq!(got, want);
    let t = request(create_psort_task_by(Q, a.clone(), liar, |_| {})).unwrap();
    // std's sort may detect the broken order and panic: either way, no hang, no lost data.
    if let Some(mut got) = t.result().map(<[u64]>::to_vec) {
        got.sort();
        let mut want = a;
        want.sort();
        assert_eq!(got, want);
    } else {
        assert_eq!(t.error_code(), code::PANICKED);
    }
}

#[test]
fn callbacks_get_the_result_and_series_continue() {
    let (tx, rx) = std::sync::mpsc::channel();
    let first = create_sort_task(Q, vec![3, 1, 2], move |t| {
        let sorted = t.take_result().unwrap();
        wf_core::series_of(t).push_back(create_reverse_task(Q, sorted, move |t| {
            tx.send(t.take_result().unwrap()).unwrap();
        }));
    });
    first.start();
    assert_eq!(crate::support::recv(&rx), vec![3, 2, 1]);
}

#[test]
fn one_thread_algorithms_call_back_on_the_compute_thread() {
    let (tx, rx) = std::sync::mpsc::channel();
    create_sort_task(Q, vec![2, 1], move |t| {
        tx.send((t.take_result(), std::thread::current().name().map(String::from))).unwrap();
    })
    .start();
    let (sorted, thread) = crate::support::recv(&rx);
    assert_eq!(sorted, Some(vec![1, 2]));
    assert!(thread.unwrap().starts_with("wf-compute-"), "as in Workflow, the series moved to the compute thread");
}

#[test]
fn algorithms_run_inside_a_module_too() {
    // In a module the task is polled where it is, not moved: the work goes to the queue.
    let (tx, rx) = std::sync::mpsc::channel();
    let (tx2, rx2) = std::sync::mpsc::channel();
    let sort = create_sort_task(Q, vec![3, 1, 2], move |t| tx.send(t.take_result()).unwrap());
    let mut module = wf_core::create_module_task(sort, |_| {});
    module.sub_series().push_back(create_psort_task(Q, random(50_000, 3, 100), move |t| {
        tx2.send(t.result().map(<[u64]>::is_sorted)).unwrap();
    }));
    module.start();
    assert_eq!(crate::support::recv(&rx), Some(vec![1, 2, 3]));
    assert_eq!(crate::support::recv(&rx2), Some(true));
}
