//! The Rust floor of `cargo xtask bench python`'s client loop: the loop of
//! benches/python/client_wf.py written against wf directly, so that one
//! run shows what the engine costs without Python.
//!
//! `client_loop_wf URL REQUESTS IN_FLIGHT`: starts `IN_FLIGHT` series of
//! one GET each; every task's callback counts a success (status line and a
//! non-empty body) and, until `REQUESTS` were issued, pushes the next GET
//! onto its series. Default settings, as a Rust program gets them. Prints
//! the successes and the seconds taken, as the Python script does.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use wf::http::HttpTask;

/// What every callback shares: the URL, how many were issued and how many
/// succeeded.
struct Run {
    url: String,
    total: usize,
    started: AtomicUsize,
    ok: AtomicUsize,
}

fn get(run: &Arc<Run>) -> HttpTask {
    let run = run.clone();
    wf::http::create_http_task(&run.url.clone(), 0, 0, move |t: &mut HttpTask| {
        if t.state() == wf::State::Success && t.resp().body_len() > 0 {
            run.ok.fetch_add(1, Ordering::Relaxed);
        }
        if run.started.fetch_add(1, Ordering::Relaxed) < run.total {
            let next = get(&run);
            wf::series_of(t).push_back(next);
        }
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, total, in_flight] = &args[..] else {
        eprintln!("usage: client_loop_wf URL REQUESTS IN_FLIGHT");
        std::process::exit(2);
    };
    let (total, in_flight): (usize, usize) = match (total.parse(), in_flight.parse()) {
        (Ok(t), Ok(f)) => (t, f),
        _ => {
            eprintln!("client_loop_wf: REQUESTS and IN_FLIGHT are numbers");
            std::process::exit(2);
        }
    };
    let run = Arc::new(Run { url: url.clone(), total, started: AtomicUsize::new(0), ok: AtomicUsize::new(0) });
    let t0 = Instant::now();
    for _ in 0..in_flight.min(total) {
        run.started.fetch_add(1, Ordering::Relaxed);
        get(&run).start();
    }
    wf::wait_finish();
    println!("{} {}", run.ok.load(Ordering::Relaxed), t0.elapsed().as_secs_f64());
}
