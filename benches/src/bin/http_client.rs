//! `cargo xtask bench http-client`: wf's HTTP client against reqwest's and
//! hyper-util's.
//!
//! A hyper hello server (`hello_hyper`, one worker) runs in a child process
//! pinned to CPU 0; this process pins itself to CPU 1 and runs the three
//! clients one after another, each making 20,000 GETs with 64 in flight:
//!
//! * wf: 64 series, each task's callback pushing the next
//!   `create_http_task` onto its series until 20,000 were issued; wf runs
//!   with one poller thread;
//! * reqwest 0.13 (no TLS) on a current-thread tokio runtime, 64 tasks
//!   each looping over `client.get(url).send()` and reading the body;
//! * hyper-util's legacy client (TCP_NODELAY, like the others) likewise.
//!
//! Each client keeps its connection pool across runs (a warm-up run comes
//! first), so the figures are the steady-state cost of a request. Wall time
//! and this process's CPU time (`getrusage`) give req/s and client CPU µs
//! per request; the server's CPU µs per request is shown too. Rounds
//! alternate the clients; each figure is the median of the rounds. As in
//! `http_server`, each run waits for a quiet machine and a run disturbed
//! by other processes (more than 0.1 core) is repeated, up to 4 attempts.
//!
//! `http_client [--requests N] [--runs N] [--port N] [--external]
//! [--no-wait] [wf|reqwest|hyper-util...]`: `--port` moves the server off
//! its default port (18090), `--external` uses a server already listening
//! there (one under a profiler, say; its CPU is then not shown),
//! `--no-wait` measures at once rather than wait for a quiet machine (for
//! profiling on a busy one). Builds nothing: run it through
//! `cargo xtask bench http-client`.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use benches::{CpuStat, PinnedServer, median, wait_quiet};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wf::http::{HttpTask, create_http_task};

const INFLIGHT: usize = 64;
const DEFAULT_PORT: u16 = 18090;

// ---------------------------------------------------------------- wf

static WF_URL: OnceLock<String> = OnceLock::new();
static WF_ISSUED: AtomicUsize = AtomicUsize::new(0);
static WF_TARGET: AtomicUsize = AtomicUsize::new(0);
static WF_FAILED: AtomicUsize = AtomicUsize::new(0);

fn wf_done(t: &mut HttpTask) {
    if t.state() != wf::State::Success || t.resp().status_code() != 200 || t.resp().body_len() != 11 {
        WF_FAILED.fetch_add(1, Ordering::Relaxed);
    }
    if WF_ISSUED.fetch_add(1, Ordering::Relaxed) < WF_TARGET.load(Ordering::Relaxed) {
        wf::series_of(t).push_back(wf_task());
    }
}

fn wf_task() -> HttpTask {
    create_http_task(WF_URL.get().expect("url set"), 0, 0, wf_done)
}

/// Returns the failures.
fn run_wf(n: usize) -> usize {
    WF_FAILED.store(0, Ordering::Relaxed);
    WF_TARGET.store(n, Ordering::Relaxed);
    WF_ISSUED.store(INFLIGHT.min(n), Ordering::Relaxed);
    for _ in 0..INFLIGHT.min(n) {
        wf::create_series_work(wf_task(), |_| {}).start();
    }
    wf::wait_finish();
    WF_FAILED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------- reqwest

struct Reqwest {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
}

impl Reqwest {
    fn new(url: &str) -> Reqwest {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = reqwest::Client::builder().no_proxy().build().expect("reqwest client");
        Reqwest { rt, client, url: url.to_string() }
    }

    fn run(&self, n: usize) -> usize {
        let issued = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        self.rt.block_on(async {
            let handles: Vec<_> = (0..INFLIGHT)
                .map(|_| {
                    let (client, url, issued, failed) =
                        (self.client.clone(), self.url.clone(), issued.clone(), failed.clone());
                    tokio::spawn(async move {
                        while issued.fetch_add(1, Ordering::Relaxed) < n {
                            let ok = match client.get(url.as_str()).send().await {
                                Ok(r) => r.status() == 200 && r.bytes().await.is_ok_and(|b| b.len() == 11),
                                Err(_) => false,
                            };
                            if !ok {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("reqwest task");
            }
        });
        failed.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------- hyper-util

struct Hyper {
    rt: tokio::runtime::Runtime,
    client: HyperClient<HttpConnector, Empty<Bytes>>,
    uri: http::Uri,
}

impl Hyper {
    fn new(url: &str) -> Hyper {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = HyperClient::builder(TokioExecutor::new()).build(connector);
        Hyper { rt, client, uri: url.parse().expect("uri") }
    }

    fn run(&self, n: usize) -> usize {
        let issued = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        self.rt.block_on(async {
            let handles: Vec<_> = (0..INFLIGHT)
                .map(|_| {
                    let (client, uri, issued, failed) =
                        (self.client.clone(), self.uri.clone(), issued.clone(), failed.clone());
                    tokio::spawn(async move {
                        while issued.fetch_add(1, Ordering::Relaxed) < n {
                            let ok = match client.get(uri.clone()).await {
                                Ok(r) => {
                                    r.status() == 200
                                        && r.into_body().collect().await.is_ok_and(|b| b.to_bytes().len() == 11)
                                }
                                Err(_) => false,
                            };
                            if !ok {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("hyper task");
            }
        });
        failed.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------- driver

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    rps: f64,
    client_us: f64,
    client_user_us: f64,
    server_us: f64,
    failed: usize,
    /// CPU used by other processes during the run, in cores.
    others: f64,
}

/// Other processes may use at most this much CPU (in cores) during a run
/// for it to count; a disturbed run is repeated (up to `ATTEMPTS` times).
const OTHERS_MAX: f64 = 0.10;
const ATTEMPTS: usize = 4;

const CLIENTS: [&str; 3] = ["wf", "reqwest", "hyper-util"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut requests = 20_000usize;
    let mut runs = 3usize;
    let mut port = DEFAULT_PORT;
    let mut no_wait = false;
    let mut external = false;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--requests" => requests = it.next().and_then(|v| v.parse().ok()).expect("--requests N"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--port" => port = it.next().and_then(|v| v.parse().ok()).expect("--port N"),
            "--no-wait" => no_wait = true,
            "--external" => external = true,
            name if CLIENTS.contains(&name) => only.push(name.to_string()),
            other => {
                eprintln!(
                    "unknown argument `{other}`; usage: http_client [--requests N] [--runs N] [--port N] [--external] [--no-wait] [wf|reqwest|hyper-util...]"
                );
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = benches::pin_to_cpu(1) {
        eprintln!("cannot pin to CPU 1: {e}");
        std::process::exit(2);
    }
    let mut settings = wf::Settings::default();
    settings.poller_threads = 1;
    settings.compute_threads = 1;
    wf::init(settings).expect("wf settings applied first");

    let server = match external {
        true => None,
        false => match PinnedServer::start("hello_hyper", 0, port, &[]) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("cannot start the server: {e}");
                std::process::exit(2);
            }
        },
    };
    let server_cpu =
        || server.as_ref().map_or(benches::ProcCpu { user: f64::NAN, sys: f64::NAN, total: f64::NAN }, |s| s.cpu());
    let url = format!("http://127.0.0.1:{port}/");
    WF_URL.set(url.clone()).expect("once");
    let reqwest = Reqwest::new(&url);
    let hyper = Hyper::new(&url);
    let run = |i: usize, n: usize| match i {
        0 => run_wf(n),
        1 => reqwest.run(n),
        _ => hyper.run(n),
    };

    println!(
        "http-client: {requests} GETs, {INFLIGHT} in flight, client pinned to CPU 1, hello_hyper server pinned to CPU 0, median of {runs} rounds; load average {:.2} at start",
        benches::loadavg()
    );
    let chosen: Vec<usize> =
        (0..CLIENTS.len()).filter(|&i| only.is_empty() || only.iter().any(|o| o == CLIENTS[i])).collect();
    // Warm-up: runtimes started, connections open.
    for &i in &chosen {
        run(i, requests / 10);
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); CLIENTS.len()];
    for round in 0..runs {
        eprintln!("round {} of {runs}", round + 1);
        for &i in &chosen {
            let name = CLIENTS[i];
            let mut attempt = 0;
            let s = loop {
                attempt += 1;
                if !no_wait {
                    wait_quiet(0.10, Duration::from_secs(180));
                }
                let stat0 = CpuStat::now();
                let (c0, s0) = (benches::self_cpu(), server_cpu());
                let t0 = Instant::now();
                let failed = run(i, requests);
                let wall = t0.elapsed().as_secs_f64();
                let (c1, s1) = (benches::self_cpu(), server_cpu());
                let busy = CpuStat::now().busy_secs_since(&stat0);
                let (client, srv) = (c1.since(&c0), s1.since(&s0).total);
                let n = requests as f64;
                let s = Sample {
                    rps: n / wall,
                    client_us: client.total * 1e6 / n,
                    client_user_us: client.user * 1e6 / n,
                    server_us: srv * 1e6 / n,
                    failed,
                    others: ((busy - client.total - srv) / wall).max(0.0),
                };
                eprintln!(
                    "  {name:<11} {:>9.0} req/s  client {:>6.2} µs/req (user {:.2})  server {:>6.2} µs/req  failed {}  others {:.2} cores",
                    s.rps, s.client_us, s.client_user_us, s.server_us, s.failed, s.others
                );
                if no_wait || s.others <= OTHERS_MAX || attempt == ATTEMPTS {
                    break s;
                }
                eprintln!("  (others used {:.2} cores during that run: repeating it)", s.others);
            };
            samples[i].push(s);
        }
    }
    drop(server);

    let m = |i: usize, f: fn(&Sample) -> f64| median(&samples[i].iter().map(f).collect::<Vec<_>>());
    println!();
    println!(
        "{:<14} {:>10} {:>15} {:>13} {:>15} {:>7}",
        "client", "req/s", "client µs/req", "of it user", "server µs/req", "failed"
    );
    for &i in &chosen {
        let name = CLIENTS[i];
        let failed: usize = samples[i].iter().map(|s| s.failed).sum();
        println!(
            "{:<14} {:>10.0} {:>15.2} {:>13.2} {:>15.2} {:>7}",
            name,
            m(i, |s| s.rps),
            m(i, |s| s.client_us),
            m(i, |s| s.client_user_us),
            m(i, |s| s.server_us),
            failed
        );
    }
    if !chosen.contains(&0) {
        return;
    }
    for &i in chosen.iter().filter(|&&i| i != 0) {
        let name = CLIENTS[i];
        println!(
            "{:<14} {:>9.2}x {:>14.2}x {:>12.2}x {:>14.2}x",
            format!("wf/{name}"),
            m(0, |s| s.rps) / m(i, |s| s.rps),
            m(0, |s| s.client_us) / m(i, |s| s.client_us),
            m(0, |s| s.client_user_us) / m(i, |s| s.client_user_us),
            m(0, |s| s.server_us) / m(i, |s| s.server_us)
        );
    }
    println!();
    if chosen.contains(&1) {
        let ratio = m(0, |s| s.rps) / m(1, |s| s.rps);
        println!("goal wf ≥ 2× reqwest's req/s: {ratio:.2}× — {}", if ratio >= 2.0 { "met" } else { "MISSED" });
        let server = m(0, |s| s.server_us) / m(1, |s| s.server_us);
        println!(
            "goal server CPU/req under wf ≤ under reqwest: {server:.2}× — {}",
            if server <= 1.0 { "met" } else { "MISSED" }
        );
    }
}
