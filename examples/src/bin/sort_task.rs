//! Tutorial 07: sorting on the compute pool.
//!
//! `cargo run --release -p examples --bin sort_task [n]`
//!
//! A go task sorts one array; a parallel of go tasks sorts chunks at the
//! same time and a last go task merges them (a parallel sort built from
//! series and parallels, as Workflow's `psort` is built from its tasks).

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wf::{create_go_task, create_parallel_work, create_series_work, series_of};

fn random_array(n: usize, mut seed: u64) -> Vec<u32> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u32
        })
        .collect()
}

fn merge(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);

    // One go task sorts the whole array.
    let data = random_array(n, 1);
    let t0 = Instant::now();
    create_go_task("sort", move || {
        let mut data = data;
        data.sort_unstable();
        data
    })
    .with_callback(move |t| {
        let sorted = t.result().unwrap();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
        println!("sort:  {n} numbers in {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    })
    .start();
    wf::wait_finish();

    // A parallel sort: chunks sorted at the same time, then merged.
    let data = random_array(n, 1);
    let chunks = wf::settings().compute_threads.max(2);
    let t0 = Instant::now();
    let sorted_parts = Arc::new(Mutex::new(vec![Vec::new(); chunks]));
    let mut parallel = create_parallel_work(|_| {});
    for (i, part) in data.chunks(n.div_ceil(chunks)).map(<[u32]>::to_vec).enumerate() {
        let parts = sorted_parts.clone();
        let go = create_go_task("psort", move || {
            let mut part = part;
            part.sort_unstable();
            parts.lock().unwrap()[i] = part;
        });
        parallel.add_series(create_series_work(go, |_| {}));
    }
    let parts = sorted_parts.clone();
    let mut series = create_series_work(parallel, move |_| {
        println!("psort: {n} numbers in {:.1} ms ({chunks} chunks)", t0.elapsed().as_secs_f64() * 1e3);
    });
    series.push_back(
        create_go_task("psort", move || {
            let parts = std::mem::take(&mut *parts.lock().unwrap());
            parts.into_iter().fold(Vec::new(), |acc, p| merge(&acc, &p))
        })
        .with_callback(move |t| {
            let sorted = t.take_result().unwrap();
            assert_eq!(sorted.len(), n);
            assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
            series_of(t).set_context(sorted.len());
        }),
    );
    series.start();
    wf::wait_finish();
}
