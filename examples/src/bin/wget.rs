//! Tutorial 01: fetch a URL and print the request and response heads.
//!
//! `cargo run -p examples --bin wget -- http://127.0.0.1:8888/`

#![forbid(unsafe_code)]

use wf::State;
use wf::http::{HttpTask, create_http_task};

fn wget_callback(task: &mut HttpTask) {
    if task.state() != State::Success {
        eprintln!("state: {} error: {} errstr: {}", task.state() as i32, task.error_code(), task.error_text());
        return;
    }
    let req = task.req();
    println!("{} {} {}", req.method(), req.http_version(), req.request_uri());
    for (name, value) in req.headers() {
        println!("{name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    let resp = task.resp();
    println!("\n{} {} {}", resp.http_version(), resp.status_code(), resp.reason_phrase());
    for (name, value) in resp.headers() {
        println!("{name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    println!("\nbody size: {} (ignore body for a clear output)", resp.body_len());
}

fn main() {
    let Some(mut url) = std::env::args().nth(1) else {
        eprintln!("usage: wget <http URL>");
        std::process::exit(1);
    };
    if !url.starts_with("http://") && !url.starts_with("https://") {
        url = format!("http://{url}");
    }
    let mut task = create_http_task(&url, 4, 2, wget_callback);
    let req = task.req_mut();
    req.add_header("Accept", "*/*");
    req.add_header("User-Agent", "Wget/1.14 (linux-gnu)");
    req.add_header("Connection", "close");
    task.start();
    wf::wait_finish();
}
