//! Tutorial 06: fetch several URLs at the same time; a parallel's callback
//! prints the results in the order given.
//!
//! `cargo run -p examples --bin parallel_wget -- http://127.0.0.1:8888/a http://127.0.0.1:8888/b`

#![forbid(unsafe_code)]

use wf::http::create_http_task;
use wf::{ParallelWork, create_parallel_work, create_series_work, series_of};

/// What each branch keeps in its series context.
#[derive(Default)]
struct Fetched {
    url: String,
    result: Option<String>,
}

fn parallel_callback(p: &mut ParallelWork) {
    for s in p.iter() {
        let f = s.context::<Fetched>().expect("context");
        println!("url: {} {}", f.url, f.result.as_deref().unwrap_or("(no result)"));
    }
}

fn main() {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: parallel_wget <url> [<url> ...]");
        std::process::exit(1);
    }
    let mut parallel = create_parallel_work(parallel_callback);
    for url in urls {
        let url = if url.contains("://") { url } else { format!("http://{url}") };
        let task = create_http_task(&url, 4, 2, |t| {
            let line = if t.state() == wf::State::Success {
                let r = t.resp();
                format!(
                    "chunked: {} keep_alive: {} status_code: {} http_version: {}",
                    r.is_chunked(),
                    r.is_keep_alive(),
                    r.status_code(),
                    r.http_version()
                )
            } else {
                format!("state: {} error: {}", t.state() as i32, t.error_code())
            };
            series_of(t).context_mut::<Fetched>().expect("context").result = Some(line);
        });
        let mut series = create_series_work(task, |_| {});
        series.set_context(Fetched { url, result: None });
        parallel.add_series(series);
    }
    parallel.start();
    wf::wait_finish();
}
