//! `cargo xtask bench algo`: wf's parallel sort task against rayon's
//! `par_sort_unstable` and std's `sort_unstable`, on 10 million random
//! `u64`, in one run.
//!
//! The parallel sorts get CPUs 0 and 1 (wf: two compute threads; rayon: a
//! pool of two threads); `sort_unstable` runs on CPU 1 alone. Each round
//! sorts a fresh copy of the same data with each contender, in rotating
//! order; the medians over the rounds are compared. Context rows: wf's
//! parallel merge of two sorted halves, and what wf's psort pays on top of
//! sorting the runs: selecting the median on one thread (it splits the data
//! there) and copying (it moves half the data out into a run of its own,
//! and back).
//!
//! `algo [N] [ROUNDS]`: N numbers (10,000,000), ROUNDS rounds (9).

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use benches::{median, pin_to_cpus, wait_quiet};
use rayon::prelude::ParallelSliceMut;
use wf::{create_pmerge_task, create_psort_task, request};

const BOTH: &[usize] = &[0, 1];

fn random(n: usize, mut s: u64) -> Vec<u64> {
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        })
        .collect()
}

fn check(v: &[u64], want: &[u64], who: &str) {
    assert!(v == want, "{who} sorted wrongly");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(9);
    if let Err(e) = pin_to_cpus(BOTH) {
        eprintln!("cannot pin to CPUs 0 and 1: {e}");
        std::process::exit(2);
    }
    let mut settings = wf::Settings::default();
    settings.compute_threads = 2;
    settings.poller_threads = 1;
    wf::init(settings).expect("wf settings applied first");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("rayon pool");

    let data = random(n, 0x9E37_79B9_7F4A_7C15);
    let mut want = data.clone();
    want.sort_unstable();
    let (a, b) = want.split_at(n / 2);
    let (half_a, half_b) = (a.to_vec(), b.to_vec());

    // Warm up: threads started, pages touched.
    let _ = request(create_psort_task("bench-algo", data.clone(), |_| {})).unwrap();
    pool.install(|| data.clone().par_sort_unstable());

    type Run<'a> = Box<dyn Fn() -> Duration + 'a>;
    let contenders: Vec<(&str, Run<'_>)> = vec![
        (
            "wf psort (2 threads)",
            Box::new(|| {
                let v = data.clone();
                let t0 = Instant::now();
                let mut t = request(create_psort_task("bench-algo", v, |_| {})).unwrap();
                let d = t0.elapsed();
                check(&t.take_result().unwrap(), &want, "wf");
                d
            }),
        ),
        (
            "rayon par_sort_unstable (2 threads)",
            Box::new(|| {
                let mut v = data.clone();
                let t0 = Instant::now();
                pool.install(|| v.par_sort_unstable());
                let d = t0.elapsed();
                check(&v, &want, "rayon");
                d
            }),
        ),
        (
            "std sort_unstable (1 thread)",
            Box::new(|| {
                let mut v = data.clone();
                pin_to_cpus(&[1]).expect("pin");
                let t0 = Instant::now();
                v.sort_unstable();
                let d = t0.elapsed();
                pin_to_cpus(BOTH).expect("pin");
                check(&v, &want, "std");
                d
            }),
        ),
        (
            "(context) wf pmerge of the two sorted halves",
            Box::new(|| {
                let (a, b) = (half_a.clone(), half_b.clone());
                let t0 = Instant::now();
                let t = request(create_pmerge_task("bench-algo", a, b, |_| {})).unwrap();
                let d = t0.elapsed();
                check(t.result().unwrap(), &want, "pmerge");
                d
            }),
        ),
        (
            "(context) select_nth_unstable at the median",
            Box::new(|| {
                let mut v = data.clone();
                pin_to_cpus(&[1]).expect("pin");
                let t0 = Instant::now();
                v.select_nth_unstable(n / 2);
                let d = t0.elapsed();
                pin_to_cpus(BOTH).expect("pin");
                d
            }),
        ),
        (
            "(context) copying the data once",
            Box::new(|| {
                let t0 = Instant::now();
                let v = std::hint::black_box(data.clone());
                let d = t0.elapsed();
                drop(v);
                d
            }),
        ),
    ];

    println!("algo: {n} random u64, {rounds} rounds, CPUs 0-1 (std on CPU 1)");
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let mut busy = Vec::new();
    for round in 0..rounds {
        busy.push(wait_quiet(0.10, Duration::from_secs(20)));
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            times[i].push(contenders[i].1().as_secs_f64() * 1e3);
        }
    }
    let med: Vec<f64> = times.iter().map(|t| median(t)).collect();
    println!("{:<46} {:>10} {:>10} {:>10}", "", "median ms", "min ms", "max ms");
    for ((name, _), t) in contenders.iter().zip(&times) {
        let min = t.iter().copied().fold(f64::INFINITY, f64::min);
        let max = t.iter().copied().fold(0.0, f64::max);
        println!("{name:<46} {:>10.1} {min:>10.1} {max:>10.1}", median(t));
    }
    println!("wf psort / rayon par_sort_unstable: {:.3}x the time", med[0] / med[1]);
    println!("wf psort speed-up over sort_unstable: {:.2}x", med[2] / med[0]);
    println!("rayon speed-up over sort_unstable:    {:.2}x", med[2] / med[1]);
    println!("machine busy before the rounds (median): {:.0}%", median(&busy) * 100.0);
}
