//! Tutorial 07: sorting on the compute pool with algorithm tasks.
//!
//! `cargo run --release -p examples --bin sort_task [count] [p]`
//!
//! Sorts `count` random numbers (1,000,000 by default) with a sort task,
//! or with `p` a parallel sort task that spreads the work over the compute
//! threads (Workflow's `WFAlgoTaskFactory::create_sort_task` and
//! `create_psort_task`). The task owns the numbers and hands them back,
//! sorted, to its callback.

#![forbid(unsafe_code)]

use std::time::Instant;

use wf::{AlgoTask, create_psort_task, create_sort_task};

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

fn main() {
    let mut args = std::env::args().skip(1);
    let count = match args.next().map(|a| a.parse::<usize>()) {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: sort_task [count] [p]");
            std::process::exit(1);
        }
    };
    let parallel = args.next().is_some_and(|a| a.eq_ignore_ascii_case("p"));

    let array = random_array(count, 0x2545_f491_4f6c_dd1d);
    let start = Instant::now();
    let callback = move |task: &mut AlgoTask<u32>| {
        let sorted = task.take_result().unwrap_or_default();
        let ok = task.state() == wf::State::Success && sorted.len() == count && sorted.is_sorted();
        println!(
            "{} {} numbers in {:.1} ms: {}",
            task.algorithm(),
            sorted.len(),
            start.elapsed().as_secs_f64() * 1e3,
            if ok { "sort success" } else { "sort failed" }
        );
        let head: Vec<String> = sorted.iter().take(5).map(u32::to_string).collect();
        println!("first numbers: {}", head.join(" "));
    };
    let task = if parallel {
        println!("Start sorting in parallel on {} compute threads...", wf::get_compute_executor().threads());
        create_psort_task("sort", array, callback)
    } else {
        println!("Start sorting...");
        create_sort_task("sort", array, callback)
    };
    println!("Sort result should be increasing");
    task.start();
    wf::wait_finish();
}
