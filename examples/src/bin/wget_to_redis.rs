//! Tutorial 03: fetch a URL over HTTP, then store the body in Redis under
//! the URL. The series context carries what the steps share; the series
//! callback reports whether everything succeeded.
//!
//! `cargo run -p examples --bin wget_to_redis -- http://127.0.0.1:8888/ redis://127.0.0.1:6379`

#![forbid(unsafe_code)]

use std::time::Duration;

use wf::State;
use wf::http::{HttpTask, create_http_task};
use wf::redis::{RedisTask, create_redis_task};

/// What the series' tasks share.
struct Context {
    http_url: String,
    redis_url: String,
    success: bool,
}

fn redis_callback(task: &mut RedisTask) {
    if task.state() != State::Success {
        eprintln!("redis: state: {} error: {} errstr: {}", task.state() as i32, task.error_code(), task.error_text());
        return;
    }
    if task.result().is_error() {
        eprintln!("redis: error reply {}", task.result());
        return;
    }
    let size = task.req().params()[1].len();
    let ctx = wf::series_of(task).context_mut::<Context>().expect("context set");
    println!("redis SET success: key: {}, value size: {size}", ctx.http_url);
    ctx.success = true;
}

fn http_callback(task: &mut HttpTask) {
    if task.state() != State::Success {
        eprintln!("http: state: {} error: {} errstr: {}", task.state() as i32, task.error_code(), task.error_text());
        return;
    }
    let body = task.resp().body();
    if body.is_empty() {
        eprintln!("Error: empty Http body!");
        return;
    }
    let series = wf::series_of(task);
    let ctx = series.context::<Context>().expect("context set");
    let mut set = create_redis_task(&ctx.redis_url, 2, redis_callback);
    set.set_request("SET", [ctx.http_url.as_bytes(), &body[..]]);
    series.push_back(set);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} <http URL> <redis URL>", args[0]);
        std::process::exit(1);
    }
    let mut http_url = args[1].clone();
    if !http_url.starts_with("http://") && !http_url.starts_with("https://") {
        http_url = format!("https://{http_url}");
    }
    let mut redis_url = args[2].clone();
    if !redis_url.starts_with("redis://") && !redis_url.starts_with("rediss://") {
        redis_url = format!("redis://{redis_url}");
    }
    let mut http = create_http_task(&http_url, 3, 2, http_callback);
    let req = http.req_mut();
    req.add_header("Accept", "*/*");
    req.add_header("User-Agent", "Wget/1.14 (linux-gnu)");
    req.add_header("Connection", "close");
    http.set_receive_timeout(Duration::from_secs(30));
    let mut series = wf::create_series_work(http, |s| {
        let ok = s.context::<Context>().is_some_and(|c| c.success);
        println!("Series finished. {}", if ok { "all success" } else { "failed" });
    });
    series.set_context(Context { http_url, redis_url, success: false });
    series.start();
    wf::wait_finish();
}
