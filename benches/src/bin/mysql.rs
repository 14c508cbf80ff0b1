//! `cargo xtask bench mysql`: wf's MySQL client against mysql_async.
//!
//! A hermetic MariaDB (`testkit::MariaDb`) runs pinned to CPU 0 (all its
//! threads, with `taskset -a -p`); this process pins itself to CPU 1. Two
//! workloads, each from 32 concurrent callers:
//!
//! * `SELECT 1`, 20,000 queries;
//! * a `SELECT` of 1,000 rows (`INT`, `VARCHAR(32)`, `DOUBLE`, `DATETIME`),
//!   2,000 queries, every row read.
//!
//! The clients:
//!
//! * wf: 32 series, each task's callback checks its rows with a
//!   `MySQLResultCursor` (the cells are already typed: integers, doubles,
//!   datetimes) and pushes the next `create_mysql_task` onto its series;
//!   one poller thread; connections come from wf's per-target pool;
//! * mysql_async 0.37 on a current-thread tokio runtime: a `Pool` of 32
//!   TCP connections (`prefer_socket(false)`: by default it would switch
//!   to the server's Unix socket; not reset when they go back to the pool,
//!   as wf's are not),
//!   32 tokio tasks each taking a connection per query and
//!   reading all rows into a `Vec` of typed tuples (`i64`; `String`,
//!   `f64`, `String`) with `query`.
//!
//! Rounds alternate the clients; figures are medians. Wall time and this
//! process's CPU time give q/s and client CPU µs per query; the server's
//! CPU per query is shown too. A run disturbed by other processes (more
//! than 0.1 core) is repeated, up to 4 attempts.
//!
//! `--plain` runs the chosen clients in turn, `--runs` times per
//! workload, with no warm-up and no waiting for a quiet machine, and
//! prints each run's figures: for instruction counts under `valgrind
//! --tool=callgrind` (with `--runs 1`, the difference between two runs of
//! different sizes is the cost of the extra queries) and for quick CPU
//! ratios on a busy machine.
//!
//! `mysql [--select1 N] [--rows N] [--runs N] [--plain] [wf|mysql_async...]`

#![forbid(unsafe_code)]

use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use benches::{ProcCpu, RunResult, Sample, median, proc_cpu, timed_run};
use mysql_async::prelude::Queryable;
use wf::mysql::{MySQLResultCursor, MySQLTask, create_mysql_task};

const CALLERS: usize = 32;
const ROWS: usize = 1000;
const SELECT_ROWS: &str = "SELECT id, name, score, at FROM bench_rows";

/// A workload: its SQL and the rows each answer must have.
#[derive(Clone, Copy, Debug)]
struct Workload {
    name: &'static str,
    sql: &'static str,
    rows: usize,
}

const WORKLOADS: [Workload; 2] = [
    Workload { name: "SELECT 1", sql: "SELECT 1", rows: 1 },
    Workload { name: "1000 rows", sql: SELECT_ROWS, rows: ROWS },
];

// ---------------------------------------------------------------- wf

static WF_URL: OnceLock<String> = OnceLock::new();
/// The index in [`WORKLOADS`] of the workload running.
static WF_WORKLOAD: AtomicUsize = AtomicUsize::new(0);
static WF_ISSUED: AtomicUsize = AtomicUsize::new(0);
static WF_TARGET: AtomicUsize = AtomicUsize::new(0);
static WF_FAILED: AtomicUsize = AtomicUsize::new(0);

fn wf_done(t: &mut MySQLTask) {
    let mut cursor = MySQLResultCursor::new(t.resp());
    let mut rows = 0;
    while let Some(row) = cursor.fetch_row() {
        rows += usize::from(!row.is_empty());
    }
    if t.state() != wf::State::Success || rows != WORKLOADS[WF_WORKLOAD.load(Ordering::Relaxed)].rows {
        WF_FAILED.fetch_add(1, Ordering::Relaxed);
    }
    if WF_ISSUED.fetch_add(1, Ordering::Relaxed) < WF_TARGET.load(Ordering::Relaxed) {
        wf::series_of(t).push_back(wf_task());
    }
}

fn wf_task() -> MySQLTask {
    let mut t = create_mysql_task(WF_URL.get().expect("url set"), 0, wf_done);
    t.set_query(WORKLOADS[WF_WORKLOAD.load(Ordering::Relaxed)].sql);
    t
}

fn run_wf(w: Workload, n: usize) -> usize {
    let index = WORKLOADS.iter().position(|x| x.name == w.name).expect("a known workload");
    WF_WORKLOAD.store(index, Ordering::Relaxed);
    WF_FAILED.store(0, Ordering::Relaxed);
    WF_TARGET.store(n, Ordering::Relaxed);
    let first = CALLERS.min(n);
    WF_ISSUED.store(first, Ordering::Relaxed);
    for _ in 0..first {
        wf::create_series_work(wf_task(), |_| {}).start();
    }
    wf::wait_finish();
    WF_FAILED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------- mysql_async

struct MysqlAsync {
    rt: tokio::runtime::Runtime,
    pool: mysql_async::Pool,
}

impl MysqlAsync {
    fn new(url: &str) -> MysqlAsync {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let opts = mysql_async::Opts::from_url(url).expect("mysql_async URL");
        let constraints = mysql_async::PoolConstraints::new(CALLERS, CALLERS).expect("pool constraints");
        let opts = mysql_async::OptsBuilder::from_opts(opts)
            // TCP like wf: by default mysql_async moves to the server's Unix
            // socket when the server is on this host.
            .prefer_socket(false)
            // No COM_RESET_CONNECTION each time a connection goes back to
            // the pool (its default): wf does not reset either.
            .pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints).with_reset_connection(false));
        let pool = mysql_async::Pool::new(opts);
        MysqlAsync { rt, pool }
    }

    fn run(&self, w: Workload, n: usize) -> usize {
        let issued = std::sync::Arc::new(AtomicUsize::new(0));
        let failed = std::sync::Arc::new(AtomicUsize::new(0));
        self.rt.block_on(async {
            let handles: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (pool, issued, failed) = (self.pool.clone(), issued.clone(), failed.clone());
                    tokio::spawn(async move {
                        while issued.fetch_add(1, Ordering::Relaxed) < n {
                            let got = match pool.get_conn().await {
                                Ok(mut conn) if w.rows == 1 => conn.query::<i64, _>(w.sql).await.map(|v| v.len()),
                                Ok(mut conn) => {
                                    conn.query::<(i64, String, f64, String), _>(w.sql).await.map(|v| v.len())
                                }
                                Err(e) => Err(e),
                            };
                            if !matches!(got, Ok(rows) if rows == w.rows) {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.expect("mysql_async task");
            }
        });
        failed.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------- server

/// MariaDB, pinned to CPU 0, with the 1,000-row table.
struct Server {
    db: testkit::MariaDb,
    pid: u32,
}

impl Server {
    fn start() -> Server {
        let db = testkit::MariaDb::builder().arg("--max-connections=200").start();
        // testkit writes the pid file next to the socket.
        let pid_file = db.socket().with_file_name("mariadbd.pid");
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", pid_file.display()));
        let pinned = Command::new("taskset")
            .args(["-a", "-p", "-c", "0", &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("taskset runs");
        assert!(pinned.success(), "taskset -a -p -c 0 {pid} failed");
        let mut sql = String::from(
            "CREATE TABLE wf_test.bench_rows (id INT PRIMARY KEY, name VARCHAR(32), score DOUBLE, at DATETIME);\n\
             INSERT INTO wf_test.bench_rows VALUES ",
        );
        for i in 1..=ROWS {
            let sep = if i == ROWS { ";" } else { "," };
            sql += &format!(
                "({i}, 'name-{i:05}', {}, '2026-11-25 00:00:00' + INTERVAL {i} MINUTE){sep}",
                i as f64 * 1.25 + 0.1
            );
        }
        db.sql_ok(&sql);
        Server { db, pid }
    }

    fn url(&self) -> String {
        self.db.url()
    }

    fn cpu(&self) -> ProcCpu {
        proc_cpu(self.pid).unwrap_or(ProcCpu { user: f64::NAN, sys: f64::NAN, total: f64::NAN })
    }
}

// ---------------------------------------------------------------- driver

const CLIENTS: [&str; 2] = ["wf", "mysql_async"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut counts, mut runs) = ([20_000usize, 2_000], 3usize);
    let mut plain = false;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--select1" => counts[0] = it.next().and_then(|v| v.parse().ok()).expect("--select1 N"),
            "--rows" => counts[1] = it.next().and_then(|v| v.parse().ok()).expect("--rows N"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--plain" => plain = true,
            name if CLIENTS.contains(&name) => only.push(name.to_string()),
            other => {
                eprintln!(
                    "unknown argument `{other}`; usage: mysql [--select1 N] [--rows N] [--runs N] [--plain] [wf|mysql_async...]"
                );
                std::process::exit(2);
            }
        }
    }
    benches::pin_client_and_init_wf();

    let server = Server::start();
    let url = server.url();
    WF_URL.set(url.clone()).expect("once");
    let peer = MysqlAsync::new(&url);
    let run = |i: usize, w: Workload, n: usize| if i == 0 { run_wf(w, n) } else { peer.run(w, n) };

    let chosen: Vec<usize> =
        (0..CLIENTS.len()).filter(|&i| only.is_empty() || only.iter().any(|o| o == CLIENTS[i])).collect();
    if plain {
        for (w, n) in WORKLOADS.into_iter().zip(counts) {
            for _ in 0..runs {
                for &i in &chosen {
                    let (c0, t0) = (benches::self_cpu(), std::time::Instant::now());
                    let failed = run(i, w, n);
                    let (c, secs) = (benches::self_cpu().since(&c0), t0.elapsed().as_secs_f64());
                    let us = |s: f64| s * 1e6 / n as f64;
                    println!(
                        "{:<12} {:<9} × {n}: {:>8.0} q/s, client CPU {:>7.2} µs/q (user {:.2}, sys {:.2}), {failed} failed",
                        CLIENTS[i],
                        w.name,
                        n as f64 / secs,
                        us(c.total),
                        us(c.user),
                        us(c.sys)
                    );
                }
            }
        }
        return;
    }
    println!(
        "mysql: {CALLERS} callers; client on CPU 1, MariaDB on CPU 0; median of {runs} rounds; load average {:.2} at start",
        benches::loadavg()
    );
    let mut tables = Vec::new();
    for (w, n) in WORKLOADS.into_iter().zip(counts) {
        tables.push((w, n, measure(&run, &server, &chosen, w, n, runs)));
    }
    drop(peer);
    drop(server);
    for (w, n, samples) in &tables {
        report(&chosen, samples, *w, *n);
    }
}

/// Runs every chosen client `runs` times (after a warm-up) and returns the
/// samples, per client.
fn measure(
    run: &dyn Fn(usize, Workload, usize) -> usize,
    server: &Server,
    chosen: &[usize],
    w: Workload,
    n: usize,
    runs: usize,
) -> Vec<Vec<Sample>> {
    eprintln!("{}: {n} queries", w.name);
    for &i in chosen {
        run(i, w, (n / 10).max(CALLERS));
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); CLIENTS.len()];
    for round in 0..runs {
        eprintln!("round {} of {runs}", round + 1);
        for &i in chosen {
            let mut once = || RunResult { failed: run(i, w, n), ..RunResult::default() };
            samples[i].push(timed_run(CLIENTS[i], "q", n, &|| server.cpu(), &mut once));
        }
    }
    samples
}

fn report(chosen: &[usize], samples: &[Vec<Sample>], w: Workload, n: usize) {
    println!("\n{} ({n} queries, {} row(s) each):", w.name, w.rows);
    let m = |i: usize, f: fn(&Sample) -> f64| median(&samples[i].iter().map(f).collect::<Vec<_>>());
    println!();
    println!("{:<17} {:>10} {:>14} {:>14} {:>7}", "client", "q/s", "client µs/q", "server µs/q", "failed");
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
    if chosen != [0, 1] {
        return;
    }
    let (qps, cpu) = (m(0, |s| s.rate) / m(1, |s| s.rate), m(0, |s| s.client_us) / m(1, |s| s.client_us));
    println!(
        "{:<17} {:>9.2}x {:>13.2}x {:>13.2}x",
        "wf/mysql_async",
        qps,
        cpu,
        m(0, |s| s.server_us) / m(1, |s| s.server_us),
    );
    println!();
    // Issue 15's goals: client CPU per query at most 0.8× mysql_async's
    // for `SELECT 1` (and q/s at least its), at most 0.5× for 1,000 rows.
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    let most = if w.rows == 1 { 0.8 } else { 0.5 };
    println!("goal wf client CPU ≤ {most}× mysql_async's: {cpu:.2}× — {}", met(cpu <= most));
    if w.rows == 1 {
        println!("goal wf q/s ≥ mysql_async's: {qps:.2}× — {}", met(qps >= 1.0));
    }
    let (limit, us) = (if w.rows == 1 { 9.0 } else { 175.0 }, m(0, |s| s.client_us));
    println!("goal wf client CPU ≤ {limit} µs/q (targets.md): {us:.1} µs — {}", met(us <= limit));
}
