//! Tutorial 02: SET a key, then GET it back from the SET's callback by
//! pushing a second task into the same series.
//!
//! `cargo run -p examples --bin redis_cli -- redis://127.0.0.1:6379 mykey myvalue`

#![forbid(unsafe_code)]

use wf::State;
use wf::redis::{RedisTask, create_redis_task};

fn redis_callback(task: &mut RedisTask, url: &str, key: &str) {
    if task.state() != State::Success {
        eprintln!("state: {} error: {} errstr: {}", task.state() as i32, task.error_code(), task.error_text());
        return;
    }
    let value = task.result();
    if value.is_error() {
        eprintln!("Error reply ({value}). Need a password?");
        return;
    }
    if task.req().command() == Some("SET") {
        let (url_, key_) = (url.to_owned(), key.to_owned());
        let mut next = create_redis_task(url, 2, move |t| redis_callback(t, &url_, &key_));
        next.set_request("GET", [key]);
        wf::series_of(task).push_back(next);
        println!("Redis SET request success. Trying to GET...");
    } else {
        match value.as_bytes() {
            Some(v) if value.is_string() => println!("Redis GET success. Value = {}", String::from_utf8_lossy(v)),
            _ => println!("Error. Not a string value: {value}"),
        }
        println!("Finish");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: {} <redis URL> <key> <value>", args[0]);
        std::process::exit(1);
    }
    let mut url = args[1].clone();
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        url = format!("redis://{url}");
    }
    let (url_, key) = (url.clone(), args[2].clone());
    let mut task = create_redis_task(&url, 2, move |t| redis_callback(t, &url_, &key));
    task.set_request("SET", [&args[2], &args[3]]);
    task.start();
    wf::wait_finish();
}
