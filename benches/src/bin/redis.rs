//! `cargo xtask bench redis`: wf's Redis client against redis-rs
//! (multiplexed connection), fred and `redis-benchmark`.
//!
//! A redis-server (no persistence) runs pinned to CPU 0; this process pins
//! itself to CPU 1. Each client does 200,000 operations, half `SET` and
//! half `GET` of 3-byte values over 1,000 keys, from 50 concurrent callers:
//!
//! * wf: 50 series, each task's callback pushing the next
//!   `create_redis_task` onto its series; one poller thread. Tasks share
//!   connections with many commands in flight (wf-redis pipelines
//!   concurrent tasks on one connection);
//! * redis-rs 1.8 `MultiplexedConnection`, 50 tokio tasks on a
//!   current-thread runtime, each looping over `SET`/`GET`;
//! * fred 10 (automatic pipelining, its default), likewise;
//! * `redis-benchmark -c 50 -t set,get` (C, the ceiling), pinned to CPU 1.
//!
//! With `--pipeline 16` (the second table of `cargo xtask bench redis`),
//! every request carries 16 commands: a wf task with 16 commands
//! (`push_command`), a `redis::pipe()` of 16, a fred pipeline of 16, and
//! `redis-benchmark -P 16`. Operations still count commands.
//!
//! Rounds alternate the clients; figures are medians. Wall time and this
//! process's CPU time give ops/s and client CPU µs per operation; the
//! server's CPU per operation is shown too. A run disturbed by other
//! processes (more than 0.1 core) is repeated, up to 4 attempts.
//!
//! `redis [--ops N] [--runs N] [--pipeline N] [wf|redis-rs|fred|redis-benchmark...]`

#![forbid(unsafe_code)]

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use benches::{ProcCpu, RunResult, Sample, median, proc_cpu, timed_run};
use wf::redis::{RedisTask, create_redis_task};

const CALLERS: usize = 50;
const KEYS: usize = 1000;
const VALUE: &str = "xxx";

static PIPELINE: AtomicUsize = AtomicUsize::new(1);

fn key(i: usize) -> String {
    format!("key:{:06}", i % KEYS)
}

// ---------------------------------------------------------------- wf

static WF_URL: OnceLock<String> = OnceLock::new();
static WF_ISSUED: AtomicUsize = AtomicUsize::new(0);
static WF_TARGET: AtomicUsize = AtomicUsize::new(0);
static WF_FAILED: AtomicUsize = AtomicUsize::new(0);

fn wf_done(t: &mut RedisTask) {
    let ok = t.state() == wf::State::Success && t.resp().results().iter().all(|v| !v.is_error());
    if !ok {
        WF_FAILED.fetch_add(1, Ordering::Relaxed);
    }
    let p = PIPELINE.load(Ordering::Relaxed);
    let i = WF_ISSUED.fetch_add(p, Ordering::Relaxed);
    if i < WF_TARGET.load(Ordering::Relaxed) {
        wf::series_of(t).push_back(wf_task(i));
    }
}

fn wf_task(i: usize) -> RedisTask {
    let mut t = create_redis_task(WF_URL.get().expect("url set"), 0, wf_done);
    let p = PIPELINE.load(Ordering::Relaxed);
    let req = t.req_mut();
    for j in i..i + p {
        if j % 2 == 0 {
            req.push_command("SET", [key(j).as_str(), VALUE]);
        } else {
            req.push_command("GET", [key(j)]);
        }
    }
    t
}

fn run_wf(n: usize) -> usize {
    let p = PIPELINE.load(Ordering::Relaxed);
    WF_FAILED.store(0, Ordering::Relaxed);
    WF_TARGET.store(n, Ordering::Relaxed);
    let first = (CALLERS * p).min(n);
    WF_ISSUED.store(first, Ordering::Relaxed);
    for c in 0..first.div_ceil(p) {
        wf::create_series_work(wf_task(c * p), |_| {}).start();
    }
    wf::wait_finish();
    WF_FAILED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------- redis-rs

struct RedisRs {
    rt: tokio::runtime::Runtime,
    conn: redis::aio::MultiplexedConnection,
}

impl RedisRs {
    fn new(url: &str) -> RedisRs {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = redis::Client::open(url).expect("redis-rs client");
        let conn = rt.block_on(client.get_multiplexed_async_connection()).expect("redis-rs connect");
        RedisRs { rt, conn }
    }

    fn run(&self, n: usize) -> usize {
        let issued = std::sync::Arc::new(AtomicUsize::new(0));
        let failed = std::sync::Arc::new(AtomicUsize::new(0));
        let p = PIPELINE.load(Ordering::Relaxed);
        self.rt.block_on(async {
            let handles: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (mut conn, issued, failed) = (self.conn.clone(), issued.clone(), failed.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = issued.fetch_add(p, Ordering::Relaxed);
                            if i >= n {
                                break;
                            }
                            let ok = if p == 1 {
                                if i % 2 == 0 {
                                    redis::cmd("SET").arg(key(i)).arg(VALUE).query_async::<()>(&mut conn).await.is_ok()
                                } else {
                                    redis::cmd("GET").arg(key(i)).query_async::<Option<String>>(&mut conn).await.is_ok()
                                }
                            } else {
                                let mut pipe = redis::pipe();
                                for j in i..i + p {
                                    if j % 2 == 0 {
                                        pipe.cmd("SET").arg(key(j)).arg(VALUE).ignore();
                                    } else {
                                        pipe.cmd("GET").arg(key(j));
                                    }
                                }
                                pipe.query_async::<Vec<Option<String>>>(&mut conn).await.is_ok()
                            };
                            if !ok {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("redis-rs task");
            }
        });
        failed.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------- fred

struct Fred {
    rt: tokio::runtime::Runtime,
    client: fred::clients::Client,
}

impl Fred {
    fn new(url: &str) -> Fred {
        use fred::interfaces::ClientLike;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let config = fred::types::config::Config::from_url(url).expect("fred config");
        let client = fred::types::Builder::from_config(config).build().expect("fred client");
        rt.block_on(client.init()).expect("fred connect");
        Fred { rt, client }
    }

    fn run(&self, n: usize) -> usize {
        use fred::interfaces::KeysInterface;
        let issued = std::sync::Arc::new(AtomicUsize::new(0));
        let failed = std::sync::Arc::new(AtomicUsize::new(0));
        let p = PIPELINE.load(Ordering::Relaxed);
        self.rt.block_on(async {
            let handles: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (client, issued, failed) = (self.client.clone(), issued.clone(), failed.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = issued.fetch_add(p, Ordering::Relaxed);
                            if i >= n {
                                break;
                            }
                            let ok = if p == 1 {
                                if i % 2 == 0 {
                                    client.set::<(), _, _>(key(i), VALUE, None, None, false).await.is_ok()
                                } else {
                                    client.get::<Option<String>, _>(key(i)).await.is_ok()
                                }
                            } else {
                                let pipe = client.pipeline();
                                for j in i..i + p {
                                    if j % 2 == 0 {
                                        let _: Result<(), _> = pipe.set(key(j), VALUE, None, None, false).await;
                                    } else {
                                        let _: Result<(), _> = pipe.get(key(j)).await;
                                    }
                                }
                                pipe.all::<Vec<fred::types::Value>>().await.is_ok()
                            };
                            if !ok {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("fred task");
            }
        });
        failed.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------- redis-benchmark

/// Runs `redis-benchmark` for `n` operations (half SET, half GET) and
/// returns (ops/s, its CPU seconds).
fn run_redis_benchmark(port: u16, n: usize) -> (f64, f64) {
    let p = PIPELINE.load(Ordering::Relaxed);
    let mut rate = Vec::new();
    let mut cpu = 0.0;
    for test in ["set", "get"] {
        let before = benches::children_cpu_secs();
        let out = Command::new("taskset")
            .args(["-c", "1", "redis-benchmark", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", &CALLERS.to_string(), "-n", &(n / 2).to_string(), "-P", &p.to_string()])
            .args(["-d", &VALUE.len().to_string(), "-r", &KEYS.to_string(), "-t", test, "--csv"])
            .output()
            .expect("redis-benchmark runs");
        cpu += benches::children_cpu_secs() - before;
        let text = String::from_utf8_lossy(&out.stdout);
        // "test","rps",… then "SET","123456.78",…
        let rps = text
            .lines()
            .filter(|l| !l.starts_with("\"test\""))
            .find_map(|l| l.split(',').nth(1).and_then(|v| v.trim_matches('"').parse::<f64>().ok()))
            .unwrap_or(f64::NAN);
        rate.push(rps);
    }
    let secs: f64 = rate.iter().map(|r| (n / 2) as f64 / r).sum();
    (n as f64 / secs, cpu)
}

// ---------------------------------------------------------------- server

struct RedisServer {
    child: Child,
    port: u16,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        let dir = std::env::temp_dir().join(format!("wf-bench-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = Command::new("taskset")
            .args(["-c", "0", "redis-server", "--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts (is it installed? `cargo xtask bench redis` installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server does not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child, port, _dir: TempDir(dir) }
    }

    fn cpu(&self) -> ProcCpu {
        proc_cpu(self.child.id()).unwrap_or(ProcCpu { user: f64::NAN, sys: f64::NAN, total: f64::NAN })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- driver

const CLIENTS: [&str; 4] = ["wf", "redis-rs", "fred", "redis-benchmark"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut ops, mut runs, mut pipelines) = (200_000usize, 3usize, vec![1usize, 16]);
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ops" => ops = it.next().and_then(|v| v.parse().ok()).expect("--ops N"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--pipeline" => pipelines = vec![it.next().and_then(|v| v.parse().ok()).expect("--pipeline N")],
            name if CLIENTS.contains(&name) => only.push(name.to_string()),
            other => {
                eprintln!(
                    "unknown argument `{other}`; usage: redis [--ops N] [--runs N] [--pipeline N] [wf|redis-rs|fred|redis-benchmark...]"
                );
                std::process::exit(2);
            }
        }
    }
    benches::pin_client_and_init_wf();

    let port = testkit::free_port();
    let server = RedisServer::start(port);
    let url = format!("redis://127.0.0.1:{}/", server.port);
    WF_URL.set(url.clone()).expect("once");
    let rs = RedisRs::new(&url);
    let fred = Fred::new(&url);
    // (failures, a child's CPU seconds, the rate a child measured itself)
    let run = |i: usize, n: usize| -> (usize, f64, Option<f64>) {
        match i {
            0 => (run_wf(n), 0.0, None),
            1 => (rs.run(n), 0.0, None),
            2 => (fred.run(n), 0.0, None),
            _ => {
                let (rate, cpu) = run_redis_benchmark(server.port, n);
                (0, cpu, Some(rate))
            }
        }
    };

    let chosen: Vec<usize> =
        (0..CLIENTS.len()).filter(|&i| only.is_empty() || only.iter().any(|o| o == CLIENTS[i])).collect();
    let mut tables = Vec::new();
    for &pipeline in &pipelines {
        PIPELINE.store(pipeline.max(1), Ordering::Relaxed);
        let samples = measure(&run, &server, &chosen, ops, runs, pipeline);
        tables.push((pipeline, samples));
    }
    drop((rs, fred));
    drop(server);

    for (pipeline, samples) in &tables {
        report(&chosen, samples, *pipeline);
    }
}

/// Runs every chosen client `runs` times (after a warm-up) and returns the
/// samples, per client.
fn measure(
    run: &dyn Fn(usize, usize) -> (usize, f64, Option<f64>),
    server: &RedisServer,
    chosen: &[usize],
    ops: usize,
    runs: usize,
    pipeline: usize,
) -> Vec<Vec<Sample>> {
    println!(
        "redis: {ops} ops (half SET, half GET, 3-byte values, {KEYS} keys), {CALLERS} callers, {} command(s) per request; client on CPU 1, redis-server on CPU 0; median of {runs} rounds; load average {:.2} at start",
        pipeline,
        benches::loadavg()
    );
    for &i in chosen.iter().filter(|&&i| i < 3) {
        run(i, ops / 10);
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); CLIENTS.len()];
    for round in 0..runs {
        eprintln!("round {} of {runs}", round + 1);
        for &i in chosen {
            let mut once = || {
                let (failed, child_cpu, own_rate) = run(i, ops);
                // redis-benchmark reports its own rate and is its own process.
                RunResult { failed, child_cpu: (i == 3).then_some(child_cpu), own_rate }
            };
            samples[i].push(timed_run(CLIENTS[i], "op", ops, &|| server.cpu(), &mut once));
        }
    }
    samples
}

fn report(chosen: &[usize], samples: &[Vec<Sample>], pipeline: usize) {
    println!("\n{pipeline} command(s) per request:");
    let m = |i: usize, f: fn(&Sample) -> f64| median(&samples[i].iter().map(f).collect::<Vec<_>>());
    println!();
    println!("{:<17} {:>10} {:>14} {:>14} {:>7}", "client", "ops/s", "client µs/op", "server µs/op", "failed");
    for &i in chosen {
        let failed: usize = samples[i].iter().map(|s| s.failed).sum();
        println!(
            "{:<17} {:>10.0} {:>14.2} {:>14.2} {:>7}",
            CLIENTS[i],
            m(i, |s| s.rate),
            m(i, |s| s.client_us),
            m(i, |s| s.server_us),
            failed
        );
    }
    if !chosen.contains(&0) {
        return;
    }
    for &i in chosen.iter().filter(|&&i| i != 0) {
        println!(
            "{:<17} {:>9.2}x {:>13.2}x {:>13.2}x",
            format!("wf/{}", CLIENTS[i]),
            m(0, |s| s.rate) / m(i, |s| s.rate),
            m(0, |s| s.client_us) / m(i, |s| s.client_us),
            m(0, |s| s.server_us) / m(i, |s| s.server_us),
        );
    }
    println!();
    let ratio = |i: usize| m(0, |s| s.rate) / m(i, |s| s.rate);
    if pipeline == 1 {
        if chosen.contains(&1) {
            let r = ratio(1);
            println!("goal wf ≥ 1.3× redis-rs multiplexed: {r:.2}× — {}", if r >= 1.3 { "met" } else { "MISSED" });
        }
        if chosen.contains(&3) {
            let r = ratio(3);
            println!("goal wf ≥ 0.95× redis-benchmark: {r:.2}× — {}", if r >= 0.95 { "met" } else { "MISSED" });
        }
    } else if chosen.contains(&3) {
        let r = ratio(3);
        println!("goal wf ≥ 0.8× redis-benchmark -P {pipeline}: {r:.2}× — {}", if r >= 0.8 { "met" } else { "MISSED" });
    }
}
