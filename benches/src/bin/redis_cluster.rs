//! `cargo xtask bench redis-cluster`: wf's Redis Cluster client against
//! redis-rs's async cluster client, on one cluster the bench starts.
//!
//! testkit's cluster: six redis-server nodes (three masters, a replica
//! each, no persistence), all pinned to CPU 0; this process pins itself to
//! CPU 1. The load is the `redis` bench's: each client does 200,000
//! operations, half `SET` and half `GET` of 3-byte values over 1,000 keys
//! (spread over the three masters), from 50 concurrent callers:
//!
//! * wf: 50 series, each task's callback pushing the next
//!   `RedisCluster::create_task` onto its series; one poller thread.
//!   Tasks to one master share its pipelined connections;
//! * redis-rs 1.8 `cluster_async::ClusterConnection`, 50 tokio tasks on a
//!   current-thread runtime, each looping over `SET`/`GET`.
//!
//! One command per request (a pipeline of 16 would span slots). Rounds
//! alternate the clients; figures are medians; the server CPU is the six
//! nodes' (replication included).
//!
//! `redis_cluster [--ops N] [--runs N] [wf|redis-rs|wf-direct...]`

#![forbid(unsafe_code)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use benches::{ProcCpu, RunResult, Sample, median, proc_cpu, timed_run};
use wf::redis::cluster::{RedisCluster, RedisClusterTask};

const CALLERS: usize = 50;
const KEYS: usize = 1000;
const VALUE: &str = "xxx";

fn key(i: usize) -> String {
    format!("key:{:06}", i % KEYS)
}

// ---------------------------------------------------------------- wf

static WF_CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
static WF_ISSUED: AtomicUsize = AtomicUsize::new(0);
static WF_TARGET: AtomicUsize = AtomicUsize::new(0);
static WF_FAILED: AtomicUsize = AtomicUsize::new(0);

fn wf_done(t: &mut RedisClusterTask) {
    if t.state() != wf::State::Success || t.result().is_error() {
        WF_FAILED.fetch_add(1, Ordering::Relaxed);
    }
    let i = WF_ISSUED.fetch_add(1, Ordering::Relaxed);
    if i < WF_TARGET.load(Ordering::Relaxed) {
        wf::series_of(t).push_back(wf_task(i));
    }
}

fn wf_task(i: usize) -> RedisClusterTask {
    let mut t = WF_CLUSTER.get().expect("cluster set").create_task(0, wf_done);
    if i.is_multiple_of(2) {
        t.set_request("SET", [key(i).as_str(), VALUE]);
    } else {
        t.set_request("GET", [key(i)]);
    }
    t
}

/// The same load through plain `create_redis_task`s to the master the
/// slot map names: what the cluster layer costs.
fn wf_direct_done(t: &mut wf::redis::RedisTask) {
    if t.state() != wf::State::Success || t.result().is_error() {
        WF_FAILED.fetch_add(1, Ordering::Relaxed);
    }
    let i = WF_ISSUED.fetch_add(1, Ordering::Relaxed);
    if i < WF_TARGET.load(Ordering::Relaxed) {
        wf::series_of(t).push_back(wf_direct_task(i));
    }
}

fn wf_direct_task(i: usize) -> wf::redis::RedisTask {
    let k = key(i);
    let url = &WF_DIRECT_URLS.get().expect("urls set")[usize::from(wf::redis::cluster::key_slot(k.as_bytes()))];
    let mut t = wf::redis::create_redis_task(url, 0, wf_direct_done);
    if i.is_multiple_of(2) {
        t.set_request("SET", [k.as_str(), VALUE]);
    } else {
        t.set_request("GET", [k]);
    }
    t
}

static WF_DIRECT_URLS: OnceLock<Vec<String>> = OnceLock::new();

fn run_wf_direct(n: usize) -> usize {
    WF_FAILED.store(0, Ordering::Relaxed);
    WF_TARGET.store(n, Ordering::Relaxed);
    let first = CALLERS.min(n);
    WF_ISSUED.store(first, Ordering::Relaxed);
    for c in 0..first {
        wf::create_series_work(wf_direct_task(c), |_| {}).start();
    }
    wf::wait_finish();
    WF_FAILED.load(Ordering::Relaxed)
}

fn run_wf(n: usize) -> usize {
    WF_FAILED.store(0, Ordering::Relaxed);
    WF_TARGET.store(n, Ordering::Relaxed);
    let first = CALLERS.min(n);
    WF_ISSUED.store(first, Ordering::Relaxed);
    for c in 0..first {
        wf::create_series_work(wf_task(c), |_| {}).start();
    }
    wf::wait_finish();
    WF_FAILED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------- redis-rs

struct RedisRs {
    rt: tokio::runtime::Runtime,
    conn: redis::cluster_async::ClusterConnection,
}

impl RedisRs {
    fn new(urls: &[String]) -> RedisRs {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = redis::cluster::ClusterClient::new(urls.to_vec()).expect("redis-rs cluster client");
        let conn = rt.block_on(client.get_async_connection()).expect("redis-rs cluster connect");
        RedisRs { rt, conn }
    }

    fn run(&self, n: usize) -> usize {
        let issued = std::sync::Arc::new(AtomicUsize::new(0));
        let failed = std::sync::Arc::new(AtomicUsize::new(0));
        self.rt.block_on(async {
            let handles: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (mut conn, issued, failed) = (self.conn.clone(), issued.clone(), failed.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = issued.fetch_add(1, Ordering::Relaxed);
                            if i >= n {
                                break;
                            }
                            let ok = if i.is_multiple_of(2) {
                                redis::cmd("SET").arg(key(i)).arg(VALUE).query_async::<()>(&mut conn).await.is_ok()
                            } else {
                                redis::cmd("GET").arg(key(i)).query_async::<Option<String>>(&mut conn).await.is_ok()
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

// ---------------------------------------------------------------- cluster

/// The cluster's node processes, pinned to CPU 0, for their CPU time.
struct Cluster {
    nodes: testkit::redis_cluster::RedisCluster,
    pids: Vec<u32>,
}

impl Cluster {
    fn start() -> Cluster {
        let nodes = testkit::redis_cluster::RedisCluster::start();
        let pids: Vec<u32> = (0..nodes.len())
            .map(|i| {
                let info = nodes.cli_text(i, &["INFO", "server"]);
                info.lines()
                    .find_map(|l| l.strip_prefix("process_id:"))
                    .and_then(|p| p.trim().parse().ok())
                    .expect("a node's pid")
            })
            .collect();
        for pid in &pids {
            let ok = std::process::Command::new("taskset")
                .args(["-a", "-p", "-c", "0", &pid.to_string()])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "taskset -p of redis-server {pid} (is taskset installed?)");
        }
        Cluster { nodes, pids }
    }

    fn cpu(&self) -> ProcCpu {
        let mut sum = ProcCpu { user: 0.0, sys: 0.0, total: 0.0 };
        for &pid in &self.pids {
            let c = proc_cpu(pid).unwrap_or(ProcCpu { user: f64::NAN, sys: f64::NAN, total: f64::NAN });
            sum = ProcCpu { user: sum.user + c.user, sys: sum.sys + c.sys, total: sum.total + c.total };
        }
        sum
    }
}

// ---------------------------------------------------------------- driver

const CLIENTS: [&str; 3] = ["wf", "redis-rs", "wf-direct"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut ops, mut runs) = (200_000usize, 3usize);
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ops" => ops = it.next().and_then(|v| v.parse().ok()).expect("--ops N"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            name if CLIENTS.contains(&name) => only.push(name.to_string()),
            other => {
                eprintln!(
                    "unknown argument `{other}`; usage: redis_cluster [--ops N] [--runs N] [wf|redis-rs|wf-direct...]"
                );
                std::process::exit(2);
            }
        }
    }
    benches::pin_client_and_init_wf();

    let cluster = Cluster::start();
    let masters = cluster.nodes.masters();
    let urls: Vec<String> = masters.iter().map(|&m| cluster.nodes.url(m)).collect();
    WF_CLUSTER.set(RedisCluster::new(&urls).expect("seed URLs")).expect("once");
    let rs = RedisRs::new(&urls);
    let run = |i: usize, n: usize| -> usize {
        match i {
            0 => run_wf(n),
            1 => rs.run(n),
            _ => {
                if WF_DIRECT_URLS.get().is_none() {
                    run_wf(1); // reads the slot map
                    // The map, read by the cluster client's first tasks.
                    let c = WF_CLUSTER.get().expect("cluster set");
                    let urls = (0..wf::redis::cluster::SLOTS).map(|s| c.master_of(s).expect("a master")).collect();
                    let _ = WF_DIRECT_URLS.set(urls);
                }
                run_wf_direct(n)
            }
        }
    };

    let chosen: Vec<usize> =
        (0..CLIENTS.len()).filter(|&i| only.is_empty() || only.iter().any(|o| o == CLIENTS[i])).collect();
    println!(
        "redis-cluster: {ops} ops (half SET, half GET, 3-byte values, {KEYS} keys over 3 masters), {CALLERS} callers, \
         1 command per request; client on CPU 1, six redis-server nodes (3 masters + 3 replicas) on CPU 0; \
         median of {runs} rounds; load average {:.2} at start",
        benches::loadavg()
    );
    for &i in &chosen {
        run(i, ops / 10);
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); CLIENTS.len()];
    for round in 0..runs {
        eprintln!("round {} of {runs}", round + 1);
        for &i in &chosen {
            let mut once = || RunResult { failed: run(i, ops), child_cpu: None, own_rate: None };
            samples[i].push(timed_run(CLIENTS[i], "op", ops, &|| cluster.cpu(), &mut once));
        }
    }
    drop(rs);
    drop(cluster);

    let m = |i: usize, f: fn(&Sample) -> f64| median(&samples[i].iter().map(f).collect::<Vec<_>>());
    println!();
    println!("{:<17} {:>10} {:>14} {:>14} {:>7}", "client", "ops/s", "client µs/op", "server µs/op", "failed");
    for &i in &chosen {
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
    if chosen.contains(&0) && chosen.contains(&1) {
        println!(
            "{:<17} {:>9.2}x {:>13.2}x {:>13.2}x",
            "wf/redis-rs",
            m(0, |s| s.rate) / m(1, |s| s.rate),
            m(0, |s| s.client_us) / m(1, |s| s.client_us),
            m(0, |s| s.server_us) / m(1, |s| s.server_us),
        );
    }
}
