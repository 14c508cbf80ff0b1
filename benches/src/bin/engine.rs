//! `cargo xtask bench engine`: the engine's own costs.
//!
//! Each scenario runs three times, each in a fresh process (so peak RSS is
//! the scenario's own), and the median is reported next to C++ Workflow's
//! figure for the same scenario measured on this machine class
//! (`shared/reference/targets.md`), and, where one exists, a plain tokio
//! equivalent run in the same session.
//!
//! `engine [--handler-threads N] [SCENARIO...]`: with `--handler-threads`,
//! each scenario also runs with `Settings::handler_threads = N` (runs
//! alternating with the default's), and the ratio of the two is printed.

#![forbid(unsafe_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wf::timer::create_timer_task;
use wf::{
    CounterTask, GoTask, create_counter_task, create_empty_task, create_go_task, create_go_task_on,
    create_parallel_work, create_series_work, get_exec_queue, series_of, wait_finish,
};

const N: usize = 1_000_000;

struct Scenario {
    name: &'static str,
    what: &'static str,
    /// C++ Workflow 1.0.1 on this machine class, tasks/s (the figures of
    /// `shared/reference/targets.md`, measured interleaved with wf).
    workflow: Option<f64>,
    run: fn() -> Duration,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "series-empty",
        what: "1,000,000 empty tasks built in advance in one series",
        workflow: Some(52.6e6),
        run: series_empty,
    },
    Scenario {
        name: "chain-counter",
        what: "1,000,000 counters in one series, each callback pushing the next",
        workflow: Some(25.0e6),
        run: chain_counter,
    },
    Scenario {
        name: "chain-go",
        what: "1,000,000 go tasks in one series, each callback pushing the next",
        workflow: Some(1.55e6),
        run: chain_go,
    },
    Scenario {
        name: "parallel-timers",
        what: "10,000 series x 100 zero-delay timers in one parallel",
        workflow: Some(1.85e6),
        run: parallel_timers,
    },
    Scenario {
        name: "tokio-yields",
        what: "(peer) 10,000 tokio tasks x 100 yield_now",
        workflow: None,
        run: tokio_yields,
    },
    Scenario {
        name: "go-alone",
        what: "1,000,000 go tasks each started alone, 4 queues",
        workflow: Some(0.76e6),
        run: go_alone,
    },
    Scenario {
        name: "tokio-spawn-blocking",
        what: "(peer) 1,000,000 tokio spawn_blocking closures",
        workflow: None,
        run: tokio_spawn_blocking,
    },
];

fn series_empty() -> Duration {
    let mut series = create_series_work(create_empty_task(), |_| {});
    for _ in 1..N {
        series.push_back(create_empty_task());
    }
    let t0 = Instant::now();
    series.start();
    wait_finish();
    t0.elapsed()
}

static LEFT: AtomicUsize = AtomicUsize::new(0);

fn next_counter(t: &mut CounterTask) {
    if LEFT.fetch_sub(1, Ordering::Relaxed) > 1 {
        series_of(t).push_back(create_counter_task(0, next_counter));
    }
}

fn chain_counter() -> Duration {
    LEFT.store(N, Ordering::Relaxed);
    let t0 = Instant::now();
    create_series_work(create_counter_task(0, next_counter), |_| {}).start();
    wait_finish();
    t0.elapsed()
}

fn next_go(t: &mut GoTask) {
    if LEFT.fetch_sub(1, Ordering::Relaxed) > 1 {
        series_of(t).push_back(create_go_task("chain", || ()).with_callback(next_go));
    }
}

fn chain_go() -> Duration {
    LEFT.store(N, Ordering::Relaxed);
    let t0 = Instant::now();
    create_series_work(create_go_task("chain", || ()).with_callback(next_go), |_| {}).start();
    wait_finish();
    t0.elapsed()
}

fn parallel_timers() -> Duration {
    let mut p = create_parallel_work(|_| {});
    for _ in 0..10_000 {
        let mut s = create_series_work(create_timer_task(Duration::ZERO, |_| {}), |_| {});
        for _ in 1..100 {
            s.push_back(create_timer_task(Duration::ZERO, |_| {}));
        }
        p.add_series(s);
    }
    let t0 = Instant::now();
    p.start();
    wait_finish();
    t0.elapsed()
}

fn tokio_yields() -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let t0 = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..10_000)
            .map(|_| {
                tokio::spawn(async {
                    for _ in 0..100 {
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    t0.elapsed()
}

fn go_alone() -> Duration {
    let queues: Vec<_> = (0..4).map(|i| get_exec_queue(&format!("q{i}"))).collect();
    let t0 = Instant::now();
    for i in 0..N {
        create_go_task_on(&queues[i % 4], || ()).start();
    }
    wait_finish();
    t0.elapsed()
}

fn tokio_spawn_blocking() -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let t0 = Instant::now();
    rt.block_on(async {
        let mut handles = Vec::with_capacity(N);
        for _ in 0..N {
            handles.push(tokio::task::spawn_blocking(|| ()));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    t0.elapsed()
}

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn child(name: &str, handler_threads: Option<usize>) {
    if let Some(n) = handler_threads {
        let mut settings = wf::Settings::default();
        settings.handler_threads = n;
        wf::init(settings).expect("wf settings applied first");
    }
    let s = SCENARIOS.iter().find(|s| s.name == name).expect("known scenario");
    let elapsed = (s.run)();
    println!("RESULT {} {}", elapsed.as_secs_f64(), peak_rss_kib());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let handler_threads = benches::flag_value("--handler-threads");
    if args.len() >= 3 && args[1] == "--scenario" {
        return child(&args[2], handler_threads);
    }
    let mut only: Vec<&str> = Vec::new();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--handler-threads" => drop(it.next()),
            name => only.push(name),
        }
    }
    let runs = 3;
    let handlers = handler_threads.map(|n| n.to_string());
    println!(
        "engine benchmark: median of {runs} runs, each in a fresh process; {} CPUs; handler_threads {}",
        cpus(),
        handlers.as_deref().unwrap_or("0 (default)")
    );
    println!("{:<22} {:>14} {:>10} {:>14} {:>8}  scenario", "name", "tasks/s", "peak RSS", "Workflow", "wf/WF");
    for s in SCENARIOS.iter().filter(|s| only.is_empty() || only.contains(&s.name)) {
        // With --handler-threads: the default and the handler threads, runs alternating.
        let variants: Vec<Option<&str>> = match &handlers {
            None => vec![None],
            Some(n) => vec![None, Some(n.as_str())],
        };
        let mut secs = vec![Vec::new(); variants.len()];
        let mut rss = vec![Vec::new(); variants.len()];
        for _ in 0..runs {
            for (v, variant) in variants.iter().enumerate() {
                let (t, r) = run_child(&args[0], s.name, *variant);
                secs[v].push(t);
                rss[v].push(r);
            }
        }
        let rates: Vec<f64> = secs.into_iter().map(|t| N as f64 / median(t)).collect();
        for (v, variant) in variants.iter().enumerate() {
            let rate = rates[v];
            let (wf_ref, ratio) = match s.workflow {
                Some(w) => (format!("{:.2}M", w / 1e6), format!("{:.2}", rate / w)),
                None => ("-".into(), "-".into()),
            };
            let name = match variant {
                None => s.name.to_string(),
                Some(n) => format!("{} h{n}", s.name),
            };
            println!(
                "{:<22} {:>13.2}M {:>8.0}MB {:>14} {:>8}  {}",
                name,
                rate / 1e6,
                median(rss[v].clone()) / 1024.0,
                wf_ref,
                ratio,
                s.what
            );
        }
        if let [default, handlers] = rates[..] {
            println!("{:<22} {:>13.2}x  handler threads against the default", "", handlers / default);
        }
    }
}

/// Runs scenario `name` in a fresh process: its time in seconds and its
/// peak RSS in KiB.
fn run_child(exe: &str, name: &str, handler_threads: Option<&str>) -> (f64, f64) {
    let mut cmd = Command::new(exe);
    cmd.args(["--scenario", name]);
    if let Some(n) = handler_threads {
        cmd.args(["--handler-threads", n]);
    }
    let out = cmd.output().expect("run scenario");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("scenario {name} failed: {}", String::from_utf8_lossy(&out.stderr)));
    let mut it = line.split_whitespace();
    (it.next().unwrap().parse().unwrap(), it.next().unwrap().parse().unwrap())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
