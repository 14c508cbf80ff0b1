//! `cargo xtask bench upstream`: what an upstream's pick costs, how
//! faithfully each policy follows the weights, and how many keys a
//! consistent hash moves when a server goes.
//!
//! No network: picks are made with the upstream's own pick, the one a
//! client task's route makes per attempt, without sending anything
//! (addresses in 10.0.0.0/16, never connected to).
//!
//! 1. **ns per pick** for each policy with 3 servers (weights 5, 3, 1)
//!    and 100 servers (weights 1–10), the median of 5 runs of 1,000,000
//!    picks each, one thread pinned to CPU 1. The reference row is the
//!    same choice done without an upstream: a `Vec` of addresses indexed
//!    by a counter, the address copied out as a pick hands it out. A last
//!    row times weighted random with try_another when every third server
//!    is disabled (first picks that land there pick again).
//! 2. **weight fidelity**: 1,000,000 picks per policy; the largest
//!    relative deviation of a server's share from its target (the weights
//!    for weighted random, consistent hash and vnswrr; equal shares for
//!    round robin, which ignores weights as Workflow's does, and for a
//!    manual `select` that spreads uniformly), next to the sampling noise
//!    of a truly random pick (3σ of the smallest expected share).
//! 3. **consistent-hash movement**: 100,000 keys over N equal servers,
//!    one removed: the share of keys that moved (ideal 1/N), and how many
//!    moved that were not on the removed server (ideal 0).
//!
//! 4. **per request**: keep-alive GETs, one after another, to a wf
//!    `HttpServer` in this process, by its address and through an
//!    upstream of that one server: µs and CPU µs per request (the median
//!    of `--runs` rounds of `--requests` requests, alternating).
//!
//! `upstream [--picks N] [--runs N] [--requests N] [--only direct|upstream]`.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use benches::{median, self_cpu};
use wf::http::{HttpServer, HttpTask, create_http_task};
use wf::upstream::{AddressParams, Policy, Upstream, UpstreamHash};
use wf::{create_series_work, series_of};

/// Distinct request paths the picks cycle through (a power of two).
const PATHS: usize = 1024;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Address `i` of a made-up server pool.
fn address(i: usize) -> String {
    format!("10.0.{}.{}:8080", i / 250, i % 250 + 1)
}

/// The weights of `n` servers: 5, 3, 1 for three; 1–10 in turn otherwise.
fn weights(n: usize) -> Vec<u16> {
    if n == 3 { vec![5, 3, 1] } else { (0..n).map(|i| (i % 10 + 1) as u16).collect() }
}

/// An FNV-1a hash of the path: the manual policy's `select`.
fn fnv(path: &str, _query: &str, _fragment: &str) -> u32 {
    path.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Weights,
    Equal,
}

struct Case {
    name: &'static str,
    target: Target,
    policy: fn() -> Policy,
}

const CASES: &[Case] = &[
    Case { name: "weighted random", target: Target::Weights, policy: || Policy::WeightedRandom { try_another: false } },
    Case { name: "round robin", target: Target::Equal, policy: || Policy::RoundRobin { try_another: false } },
    Case { name: "consistent hash", target: Target::Weights, policy: || Policy::ConsistentHash { hash: None } },
    Case {
        name: "manual (FNV select)",
        target: Target::Equal,
        policy: || Policy::Manual { select: Arc::new(fnv) as UpstreamHash, try_another: false, second: None },
    },
    Case { name: "vnswrr", target: Target::Weights, policy: || Policy::Vnswrr },
];

/// An upstream of `n` servers with [`weights`] (or all 1 when `equal`).
fn upstream(name: &str, policy: Policy, n: usize, equal: bool) -> Upstream {
    let u = Upstream::create(name, policy);
    for (i, w) in weights(n).into_iter().enumerate() {
        let mut p = AddressParams::default();
        p.weight = if equal { 1 } else { w };
        u.add_server_with(&address(i), p).expect("a valid address");
    }
    u
}

fn paths() -> Vec<String> {
    (0..PATHS).map(|i| format!("/item/{i}")).collect()
}

/// ns per pick: `picks` picks over the paths, the median of `runs` runs.
fn time_picks(runs: usize, picks: usize, mut pick: impl FnMut(&str) -> Option<Arc<str>>) -> f64 {
    let paths = paths();
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        for i in 0..picks {
            black_box(pick(&paths[i & (PATHS - 1)]));
        }
        samples.push(t0.elapsed().as_nanos() as f64 / picks as f64);
    }
    median(&samples)
}

/// The largest relative deviation of the shares of `picks` picks from
/// the target shares.
fn fidelity(u: &Upstream, n: usize, target: Target, picks: usize) -> f64 {
    let w = weights(n);
    let total: f64 = w.iter().map(|&x| f64::from(x)).sum();
    let index: HashMap<String, usize> = (0..n).map(|i| (address(i), i)).collect();
    let mut counts = vec![0usize; n];
    for i in 0..picks {
        // Distinct keys for the hashing policies; the others ignore them.
        let path = format!("/key/{i}");
        let got = u.pick_for_bench(&path, "", "").expect("a pick");
        counts[index[&*got]] += 1;
    }
    (0..n)
        .map(|i| {
            let expected = match target {
                Target::Weights => f64::from(w[i]) / total,
                Target::Equal => 1.0 / n as f64,
            };
            (counts[i] as f64 / picks as f64 / expected - 1.0).abs()
        })
        .fold(0.0, f64::max)
}

/// Consistent hash over `n` equal servers, one removed: (share of keys
/// moved, keys moved that were not on the removed server).
fn movement(n: usize, keys: usize) -> (f64, usize) {
    let name = format!("bench.movement.{n}");
    let u = upstream(&name, Policy::ConsistentHash { hash: None }, n, true);
    let paths: Vec<String> = (0..keys).map(|i| format!("/user/{i}")).collect();
    let before: Vec<Arc<str>> = paths.iter().map(|p| u.pick_for_bench(p, "", "").expect("a pick")).collect();
    let gone = address(n / 2);
    assert_eq!(u.remove_server(&gone), 1);
    let mut moved = 0;
    let mut strays = 0;
    for (p, b) in paths.iter().zip(&before) {
        let a = u.pick_for_bench(p, "", "").expect("a pick");
        if &a != b {
            moved += 1;
            if **b != *gone {
                strays += 1;
            }
        }
    }
    Upstream::delete(&name);
    (moved as f64 / keys as f64, strays)
}

/// A GET of `url` that, when it succeeds, pushes the next of `left`.
fn chained_get(url: Arc<str>, left: usize) -> HttpTask {
    create_http_task(&url.clone(), 0, 0, move |t| {
        assert_eq!(t.state(), wf::State::Success, "{}", t.error_text());
        if left > 1 {
            series_of(t).push_back(chained_get(url, left - 1));
        }
    })
}

/// (µs, CPU µs) per request of `n` sequential keep-alive GETs of `url`.
fn per_request(url: &str, n: usize) -> (f64, f64) {
    let (t0, cpu0) = (Instant::now(), self_cpu());
    create_series_work(chained_get(Arc::from(url), n), |_| {}).start();
    wf::wait_finish();
    let cpu = self_cpu().since(&cpu0).total;
    (t0.elapsed().as_secs_f64() * 1e6 / n as f64, cpu * 1e6 / n as f64)
}

/// An `HttpServer` answering "ok" on a loopback port, and the URLs of
/// the per-request figure: by its address, and through the upstream
/// `bench.http` of that one server.
fn http_setup() -> (HttpServer, [String; 2]) {
    let server = HttpServer::new(|task| task.resp_mut().append_body("ok"));
    server.start_on("127.0.0.1", 0).expect("start the server");
    let addr = server.listen_addr().expect("listening");
    let u = Upstream::create("bench.http", Policy::WeightedRandom { try_another: false });
    u.add_server(&addr.to_string()).expect("a valid address");
    (server, [format!("http://{addr}/"), "http://bench.http/".to_owned()])
}

fn main() {
    if let Err(e) = benches::pin_to_cpu(1) {
        eprintln!("(not pinned to CPU 1: {e})");
    }
    let mut settings = wf::Settings::default();
    settings.poller_threads = 1;
    settings.compute_threads = 1;
    wf::init(settings).expect("wf settings applied first");
    let requests = arg("--requests", 20_000);
    // `--only direct|upstream`: that half of the per-request figure alone,
    // once (to count instructions under callgrind: run it with two
    // request counts; the difference over the difference in requests is
    // the cost of one).
    if let Some(which) = std::env::args().skip_while(|a| a != "--only").nth(1) {
        let (server, urls) = http_setup();
        let url = if which == "upstream" { &urls[1] } else { &urls[0] };
        per_request(url, 1000);
        let (us, cpu) = per_request(url, requests);
        println!("{which}: {requests} requests, {us:.2} µs/request, {cpu:.2} CPU µs/request");
        server.stop();
        return;
    }
    let picks = arg("--picks", 1_000_000);
    let runs = arg("--runs", 5);
    println!("upstream picks: {picks} per run, median of {runs} runs, pinned to CPU 1; load {:.2}", benches::loadavg());

    println!("\n== ns per pick");
    println!("{:<24} {:>12} {:>12}", "policy", "3 servers", "100 servers");
    let reference = |n: usize| {
        let addrs: Vec<Arc<str>> = (0..n).map(|i| Arc::from(address(i))).collect();
        let mut next = 0usize;
        time_picks(runs, picks, move |_| {
            next = (next + 1) % addrs.len();
            Some(addrs[next].clone())
        })
    };
    println!("{:<24} {:>12.1} {:>12.1}", "(reference: Vec index)", reference(3), reference(100));
    for c in CASES {
        let mut row = Vec::new();
        for n in [3, 100] {
            let name = format!("bench.pick.{n}.{}", c.name.replace(' ', "-"));
            let u = upstream(&name, (c.policy)(), n, false);
            row.push(time_picks(runs, picks, |path| u.pick_for_bench(path, "", "")));
            Upstream::delete(&name);
        }
        println!("{:<24} {:>12.1} {:>12.1}", c.name, row[0], row[1]);
    }
    // The second pick: every third server (the heaviest of three)
    // disabled, so that many first picks fall on one that cannot serve.
    let mut row = Vec::new();
    for n in [3, 100] {
        let name = format!("bench.pick.{n}.try-another");
        let u = upstream(&name, Policy::WeightedRandom { try_another: true }, n, false);
        for i in (0..n).step_by(3) {
            u.disable_server(&address(i));
        }
        row.push(time_picks(runs, picks, |path| u.pick_for_bench(path, "", "")));
        Upstream::delete(&name);
    }
    println!("{:<24} {:>12.1} {:>12.1}", "w. random, 1/3 disabled", row[0], row[1]);

    println!("\n== weight fidelity: largest relative deviation of a server's share over {picks} picks");
    println!("{:<24} {:>8} {:>12} {:>12}", "policy", "target", "3 servers", "100 servers");
    // Sampling noise: 3 standard deviations of the smallest expected
    // count (a random policy's deviation stays about below it).
    let noise = |n: usize| {
        let w = weights(n);
        let min = f64::from(*w.iter().min().expect("servers")) / w.iter().map(|&x| f64::from(x)).sum::<f64>();
        3.0 / (min * picks as f64).sqrt()
    };
    println!("{:<24} {:>8} {:>11.2}% {:>11.2}%", "(3σ sampling noise)", "", noise(3) * 100.0, noise(100) * 100.0);
    for c in CASES {
        let mut row = Vec::new();
        for n in [3, 100] {
            let name = format!("bench.fidelity.{n}.{}", c.name.replace(' ', "-"));
            let u = upstream(&name, (c.policy)(), n, false);
            row.push(fidelity(&u, n, c.target, picks));
            Upstream::delete(&name);
        }
        let target = if c.target == Target::Weights { "weights" } else { "equal" };
        println!("{:<24} {:>8} {:>11.2}% {:>11.2}%", c.name, target, row[0] * 100.0, row[1] * 100.0);
    }

    println!("\n== consistent hash: keys moved when one of N equal servers is removed (100,000 keys)");
    println!("{:>5} {:>10} {:>10} {:>22}", "N", "moved", "ideal 1/N", "moved from the others");
    for n in [3, 100] {
        let (moved, strays) = movement(n, 100_000);
        println!("{n:>5} {:>9.2}% {:>9.2}% {strays:>22}", moved * 100.0, 100.0 / n as f64);
    }

    println!("\n== per request: {requests} keep-alive GETs one after another to an in-process HttpServer");
    let (server, urls) = http_setup();
    per_request(&urls[0], 1000); // warm-up: the connection, the pool
    per_request(&urls[1], 1000);
    let mut samples = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (i, url) in urls.iter().enumerate() {
            let (us, cpu) = per_request(url, requests);
            samples[2 * i].push(us);
            samples[2 * i + 1].push(cpu);
        }
    }
    let m: Vec<f64> = samples.iter().map(|v| median(v)).collect();
    println!("{:<28} {:>10} {:>12}", "", "µs/request", "CPU µs/req");
    println!("{:<28} {:>10.2} {:>12.2}", "by address (http://ip:port)", m[0], m[1]);
    println!("{:<28} {:>10.2} {:>12.2}", "through an upstream", m[2], m[3]);
    println!("{:<28} {:>9.3}× {:>11.3}×", "upstream / address", m[2] / m[0], m[3] / m[1]);
    Upstream::delete("bench.http");
    server.stop();
}
