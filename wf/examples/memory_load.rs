//! Memory checks of wf's servers, run by `cargo xtask leakcheck`:
//!
//! - `memory_load load [N]`: starts an `HttpServer` and a `RedisServer`
//!   in this process, drives N HTTP GETs and N Redis `SET`s and `GET`s at
//!   them with wf's own client tasks (keep-alive and pipelined), stops
//!   them and exits; non-zero if a request failed. `cargo xtask leakcheck`
//!   runs it under valgrind: nothing may be definitely lost.
//! - `memory_load server`: an `HttpServer` on a free loopback port; prints
//!   the port, serves until its standard input closes.
//! - `memory_load rss [REQUESTS] [CYCLES]`: starts `server` as a child
//!   (pinned to core 0 with `taskset` when there is one), drives REQUESTS
//!   keep-alive GETs (default 1,000,000) over 16 connections, then CYCLES
//!   connect/request/close cycles (default 10,000), sampling the child's
//!   `VmRSS`; prints start, warm (after the first 10,000 requests or
//!   1,000 cycles), peak and end RSS of each phase, and the growth.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use wf::http::{HttpServer, create_http_task};
use wf::redis::{RedisServer, RedisValue, create_redis_task};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("load") => load(num(1, 2000)),
        Some("server") => server(),
        Some("rss") => rss(num(1, 1_000_000), num(2, 10_000)),
        _ => {
            eprintln!("usage: memory_load load [N] | server | rss [REQUESTS] [CYCLES]");
            std::process::exit(2);
        }
    }
}

fn hello_server() -> HttpServer {
    HttpServer::new(|task| {
        task.resp_mut().set_header("Content-Type", "text/plain");
        task.resp_mut().append_body("hello");
    })
}

/// Runs `n` tasks made by `start(i, done)` at most `window` at a time;
/// returns how many failed.
fn drive(n: usize, window: usize, start: impl Fn(usize, mpsc::Sender<bool>)) -> usize {
    let (tx, rx) = mpsc::channel();
    let mut failed = 0;
    let mut started = 0;
    let mut finished = 0;
    while finished < n {
        while started < n && started - finished < window {
            start(started, tx.clone());
            started += 1;
        }
        let ok = rx.recv_timeout(Duration::from_secs(60)).expect("a task finishes");
        finished += 1;
        failed += usize::from(!ok);
    }
    failed
}

fn load(n: usize) {
    let http = hello_server();
    http.start_on("127.0.0.1", 0).expect("the HTTP server starts");
    let http_url = format!("http://{}/", http.listen_addr().expect("an address"));
    let store = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<Vec<u8>, Vec<u8>>::new()));
    let redis = {
        let store = store.clone();
        RedisServer::new(move |task| {
            let req = task.req();
            let cmd = req.command().map(str::to_ascii_uppercase);
            let p: Vec<Vec<u8>> = req.params().iter().map(|b| b.to_vec()).collect();
            let reply = match (cmd.as_deref(), &p[..]) {
                (Some("SET"), [k, v]) => {
                    store.lock().unwrap().insert(k.clone(), v.clone());
                    RedisValue::status("OK")
                }
                (Some("GET"), [k]) => match store.lock().unwrap().get(k) {
                    Some(v) => RedisValue::from(v.clone()),
                    None => RedisValue::Nil,
                },
                _ => RedisValue::error("ERR unknown command"),
            };
            task.resp_mut().set_result(reply);
        })
    };
    redis.start_on("127.0.0.1", 0).expect("the Redis server starts");
    let redis_url = format!("redis://{}/", redis.listen_addr().expect("an address"));

    let failed_http = drive(n, 32, |_, done| {
        create_http_task(&http_url, 0, 0, move |t| {
            let _ = done.send(t.state() == wf::State::Success && &t.resp().body()[..] == b"hello");
        })
        .start();
    });
    let failed_set = drive(n, 128, |i, done| {
        let mut t = create_redis_task(&redis_url, 0, move |t| {
            let _ = done.send(t.state() == wf::State::Success);
        });
        t.set_request("SET", [format!("key:{}", i % 100), format!("value {i}")]);
        t.start();
    });
    let failed_get = drive(n, 128, |i, done| {
        let mut t = create_redis_task(&redis_url, 0, move |t| {
            let _ = done.send(t.state() == wf::State::Success);
        });
        t.set_request("GET", [format!("key:{}", i % 100)]);
        t.start();
    });
    http.stop();
    redis.stop();
    println!(
        "load: {n} HTTP GETs ({failed_http} failed), {n} Redis SETs ({failed_set} failed), {n} GETs ({failed_get} failed)"
    );
    if failed_http + failed_set + failed_get > 0 {
        std::process::exit(1);
    }
}

fn server() {
    let server = hello_server();
    server.start_on("127.0.0.1", 0).expect("the server starts");
    println!("{}", server.listen_addr().expect("an address").port());
    std::io::stdout().flush().unwrap();
    // Until the parent closes our standard input.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    server.stop();
}

/// The `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Sends one GET and reads its response (`Content-Length` framed).
fn get(s: &mut TcpStream, buf: &mut Vec<u8>, close: bool) {
    let req: &[u8] = if close {
        b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    };
    s.write_all(req).expect("send a request");
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).expect("read a response");
        assert!(n > 0, "the server closed the connection early");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a Content-Length");
            if buf.len() >= end + 4 + len {
                return;
            }
        }
    }
}

/// Start, warm (after the first sampling interval), peak and end RSS of
/// a phase, in KiB.
struct Phase {
    name: String,
    start: u64,
    warm: u64,
    peak: u64,
    end: u64,
}

fn print_phase(p: &Phase) {
    println!(
        "{:<24} start {:>6} KiB  warm {:>6} KiB  peak {:>6} KiB  end {:>6} KiB  growth {:>+6} KiB ({:>+6} KiB after warm-up)",
        p.name,
        p.start,
        p.warm,
        p.peak,
        p.end,
        p.end as i64 - p.start as i64,
        p.end as i64 - p.warm as i64
    );
}

/// Runs `total` units of work on `threads` threads (each `work(done)`
/// until the shared count reaches `total`), sampling RSS every `every`.
fn phase(name: &str, pid: u32, total: usize, threads: usize, every: usize, work: impl Fn() + Send + Sync) -> Phase {
    let start = rss_kib(pid);
    let done = AtomicUsize::new(0);
    let peak = AtomicUsize::new(start as usize);
    let warm = AtomicUsize::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = done.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return;
                    }
                    work();
                    if i % every == 0 {
                        let now = rss_kib(pid) as usize;
                        peak.fetch_max(now, Ordering::Relaxed);
                        if i == every {
                            warm.store(now, Ordering::Relaxed);
                        }
                        if i % (every * 10) == 0 {
                            eprintln!("  {name}: {i:>8} done, RSS {now} KiB");
                        }
                    }
                }
            });
        }
    });
    let end = rss_kib(pid);
    let took = t0.elapsed().as_secs_f64();
    eprintln!("  {name}: {total} in {took:.1} s ({:.0}/s)", total as f64 / took);
    let warm = match warm.load(Ordering::Relaxed) as u64 {
        0 => start,
        w => w,
    };
    Phase { name: name.to_owned(), start, warm, peak: (peak.load(Ordering::Relaxed) as u64).max(end), end }
}

fn rss(requests: usize, cycles: usize) {
    let me = std::env::current_exe().expect("this program's path");
    let mut cmd = if Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&me);
        c
    } else {
        Command::new(&me)
    };
    let mut child =
        cmd.arg("server").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("start the server child");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the port");
    let addr: SocketAddr = format!("127.0.0.1:{}", line.trim()).parse().expect("a port number");
    println!("server pid {pid} on {addr}; RSS at start {} KiB", rss_kib(pid));

    // Keep-alive: 16 connections, each its own thread-local stream.
    let conns = 16;
    let streams: Vec<std::sync::Mutex<TcpStream>> = (0..conns)
        .map(|_| {
            let s = TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).unwrap();
            std::sync::Mutex::new(s)
        })
        .collect();
    let next = AtomicUsize::new(0);
    thread_local! { static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) }; }
    let keep_alive = phase("keep-alive requests", pid, requests, conns, 10_000, || {
        thread_local! { static MINE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) }; }
        let i = MINE.with(|m| {
            if m.get() == usize::MAX {
                m.set(next.fetch_add(1, Ordering::Relaxed) % conns);
            }
            m.get()
        });
        let mut s = streams[i].lock().unwrap();
        BUF.with(|b| get(&mut s, &mut b.borrow_mut(), false));
    });
    drop(streams);
    std::thread::sleep(Duration::from_millis(200));
    let cycles_phase = phase("connect/request/close", pid, cycles, 4, 1_000, || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        BUF.with(|b| get(&mut s, &mut b.borrow_mut(), true));
    });
    std::thread::sleep(Duration::from_millis(200));
    let after = rss_kib(pid);
    print_phase(&keep_alive);
    print_phase(&cycles_phase);
    println!("RSS after both, connections closed: {after} KiB");
    drop(child.stdin.take());
    let _ = child.wait();
}
