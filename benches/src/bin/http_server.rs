//! `cargo xtask bench http-server`: wf's HTTP server against hyper's.
//!
//! Two hello servers (`hello_wf`, `hello_hyper`: 11-byte body, keep-alive,
//! TCP_NODELAY, one runtime thread), and for reference `hello_wf` on an
//! event loop and with one handler thread (`handler_threads`, compared
//! with the default) and `hello_hyper` on a current-thread runtime, each
//! run in a child process pinned to CPU 0 with `taskset`; `wrk -t1`, pinned to CPU 1, loads them for each
//! configuration. The server's CPU time (utime + stime from
//! `/proc/<pid>/stat`, all threads) before and after each wrk run gives its
//! CPU µs per request (split into user and system time). Runs alternate
//! the servers within each round so both see the same neighbours; each
//! figure is the median of the rounds.
//!
//! This machine is shared: before each run the driver waits (up to 3 min)
//! for a second in which the CPUs are at most 10 % busy, and a run during
//! which other processes used more than 0.1 core (busy CPU time minus the
//! server's and wrk's) is repeated, up to 4 attempts.
//!
//! `http_server [--duration SECS] [--runs N] [CONFIG...]` where CONFIG is
//! `c100`, `c1000` or `pipeline16` (default: all). Builds nothing: run it
//! through `cargo xtask bench http-server`.

#![forbid(unsafe_code)]

use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benches::{CpuStat, PinnedServer, children_cpu_secs, median, wait_quiet};

struct Config {
    name: &'static str,
    conns: u32,
    /// Requests per batch written by each connection (1: no pipelining).
    depth: u32,
    what: &'static str,
}

const CONFIGS: &[Config] = &[
    Config { name: "c100", conns: 100, depth: 1, what: "keep-alive, 100 connections" },
    Config { name: "c1000", conns: 1000, depth: 1, what: "keep-alive, 1000 connections" },
    Config { name: "pipeline16", conns: 100, depth: 16, what: "100 connections, 16 requests pipelined" },
];

struct Server {
    name: &'static str,
    bin: &'static str,
    args: &'static [&'static str],
    port: u16,
}

/// wf and its peer (both on a tokio multi-thread runtime with one worker),
/// then a reference: hyper on tokio's current-thread runtime, which
/// schedules a thousand ready connections more fairly (see BENCHMARKS.md).
const SERVERS: &[Server] = &[
    Server { name: "wf", bin: "hello_wf", args: &[], port: 18080 },
    Server { name: "wf-loops", bin: "hello_wf", args: &["--event-loops"], port: 18083 },
    Server { name: "hyper", bin: "hello_hyper", args: &[], port: 18081 },
    Server { name: "hyper-ct", bin: "hello_hyper", args: &["--current-thread"], port: 18082 },
    // `process` on a handler thread (`Settings::handler_threads`, Workflow's model).
    Server { name: "wf-handlers", bin: "hello_wf", args: &["--handler-threads", "1"], port: 18084 },
];

/// The pipelining script (wrk's own `pipeline.lua`).
const PIPELINE_LUA: &str = r#"
init = function(args)
   local r = {}
   local depth = tonumber(args[1]) or 1
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
"#;

#[derive(Clone, Debug, Default)]
struct Sample {
    rps: f64,
    p99_ms: f64,
    cpu_us_per_req: f64,
    user_us_per_req: f64,
    sys_us_per_req: f64,
    /// Server CPU time ÷ wall time.
    server_util: f64,
    /// CPU used by everything else on the machine (neither the server nor
    /// wrk) during the run, in cores.
    others: f64,
    /// Socket errors and non-2xx replies wrk saw, if any.
    errors: String,
}

/// What wrk printed.
#[derive(Debug, Default)]
struct WrkOut {
    requests: f64,
    seconds: f64,
    rps: f64,
    p99_ms: f64,
    errors: String,
}

/// `1.23ms`, `850.00us`, `2.01s`, `1.5m` → milliseconds.
fn parse_duration_ms(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1e3,
        "ms" => v,
        "s" => v * 1e3,
        "m" => v * 60e3,
        "h" => v * 3600e3,
        _ => return None,
    })
}

fn parse_wrk(text: &str) -> Option<WrkOut> {
    let mut out = WrkOut { p99_ms: f64::NAN, ..WrkOut::default() };
    let mut errors = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("99%") {
            out.p99_ms = parse_duration_ms(rest.trim()).unwrap_or(f64::NAN);
        } else if line.contains(" requests in ") {
            // "123456 requests in 10.00s, 12.34MB read"
            let mut it = line.split_whitespace();
            out.requests = it.next()?.parse().ok()?;
            let secs = it.nth(2)?.trim_end_matches(',');
            out.seconds = parse_duration_ms(secs)? / 1e3;
        } else if let Some(rest) = line.strip_prefix("Requests/sec:") {
            out.rps = rest.trim().parse().ok()?;
        } else if line.starts_with("Socket errors:") || line.starts_with("Non-2xx") {
            errors.push(line.to_string());
        }
    }
    out.errors = errors.join("; ");
    (out.requests > 0.0).then_some(out)
}

fn run_wrk(cfg: &Config, port: u16, duration: u64, script: &PathBuf) -> io::Result<(String, String)> {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1", "wrk", "-t1", "--latency"])
        .arg(format!("-c{}", cfg.conns))
        .arg(format!("-d{duration}s"))
        .arg("--timeout")
        .arg("10s");
    if cfg.depth > 1 {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(format!("http://127.0.0.1:{port}/"));
    if cfg.depth > 1 {
        cmd.arg("--").arg(cfg.depth.to_string());
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let deadline = Instant::now() + Duration::from_secs(duration + 60);
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("wrk did not finish in time"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output()?;
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// Other processes may use at most this much CPU (in cores) during a run
/// for it to count; a disturbed run is repeated (up to `ATTEMPTS` times).
const OTHERS_MAX: f64 = 0.10;
const ATTEMPTS: usize = 4;

fn measure(server: &Server, cfg: &Config, duration: u64, script: &PathBuf) -> Result<Sample, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let s = measure_once(server, cfg, duration, script)?;
        if s.others <= OTHERS_MAX || attempt == ATTEMPTS {
            return Ok(s);
        }
        eprintln!("  (others used {:.2} cores during that run: repeating it)", s.others);
    }
}

fn measure_once(server: &Server, cfg: &Config, duration: u64, script: &PathBuf) -> Result<Sample, String> {
    wait_quiet(0.10, Duration::from_secs(180));
    let s = PinnedServer::start(server.bin, 0, server.port, server.args).map_err(|e| e.to_string())?;
    let cpu0 = s.cpu();
    let stat0 = CpuStat::now();
    let wrk0 = children_cpu_secs();
    let t0 = Instant::now();
    let (stdout, stderr) = run_wrk(cfg, server.port, duration, script).map_err(|e| e.to_string())?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = s.cpu().since(&cpu0);
    let wrk = children_cpu_secs() - wrk0;
    let busy = CpuStat::now().busy_secs_since(&stat0);
    drop(s);
    let w = parse_wrk(&stdout).ok_or_else(|| format!("cannot read wrk's output:\n{stdout}\n{stderr}"))?;
    let sample = Sample {
        rps: w.rps,
        // wrk's latency histogram is meaningless with pipelining (it
        // prints 0.00us percentiles): not reported.
        p99_ms: if cfg.depth > 1 { f64::NAN } else { w.p99_ms },
        cpu_us_per_req: cpu.total * 1e6 / w.requests,
        user_us_per_req: cpu.user * 1e6 / w.requests,
        sys_us_per_req: cpu.sys * 1e6 / w.requests,
        server_util: cpu.total / wall,
        others: ((busy - cpu.total - wrk) / wall).max(0.0),
        errors: w.errors,
    };
    eprintln!(
        "  {:<10} {:<8} {:>9.0} req/s  p99 {:>7.2} ms  {:>5.2} µs/req (user {:.2}, sys {:.2})  server CPU {:>3.0}%  wrk CPU {:>3.0}%  others {:.2} cores{}",
        cfg.name,
        server.name,
        sample.rps,
        sample.p99_ms,
        sample.cpu_us_per_req,
        sample.user_us_per_req,
        sample.sys_us_per_req,
        sample.server_util * 100.0,
        wrk / wall * 100.0,
        sample.others,
        if sample.errors.is_empty() { String::new() } else { format!("  [{}]", sample.errors) }
    );
    Ok(sample)
}

struct Summary {
    rps: f64,
    p99_ms: f64,
    cpu_us: f64,
    user_us: f64,
    sys_us: f64,
    util: f64,
}

fn summarize(samples: &[Sample]) -> Summary {
    let m = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    Summary {
        rps: m(|s| s.rps),
        p99_ms: m(|s| s.p99_ms),
        cpu_us: m(|s| s.cpu_us_per_req),
        user_us: m(|s| s.user_us_per_req),
        sys_us: m(|s| s.sys_us_per_req),
        util: m(|s| s.server_util),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut duration = 10u64;
    let mut runs = 3usize;
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--duration" => duration = it.next().and_then(|v| v.parse().ok()).expect("--duration SECS"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            name if CONFIGS.iter().any(|c| c.name == name) => only.push(name.to_string()),
            other => {
                eprintln!(
                    "unknown argument `{other}`; usage: http_server [--duration SECS] [--runs N] [c100|c1000|pipeline16...]"
                );
                std::process::exit(2);
            }
        }
    }
    for tool in ["wrk", "taskset"] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            eprintln!("`{tool}` is not installed (cargo xtask bench http-server installs wrk on Debian)");
            std::process::exit(2);
        }
    }
    let script = std::env::temp_dir().join(format!("wf-bench-pipeline-{}.lua", std::process::id()));
    std::fs::write(&script, PIPELINE_LUA).expect("write the pipeline script");
    let configs: Vec<&Config> =
        CONFIGS.iter().filter(|c| only.is_empty() || only.iter().any(|o| o == c.name)).collect();

    println!(
        "http-server: hello servers pinned to CPU 0, wrk -t1 pinned to CPU 1, {duration} s per run, median of {runs} rounds; load average {:.2} at start",
        benches::loadavg()
    );
    // samples[config][server]
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); SERVERS.len()]; configs.len()];
    for round in 0..runs {
        eprintln!("round {} of {runs}", round + 1);
        for (ci, cfg) in configs.iter().enumerate() {
            for (si, server) in SERVERS.iter().enumerate() {
                match measure(server, cfg, duration, &script) {
                    Ok(s) => samples[ci][si].push(s),
                    Err(e) => eprintln!("  {} {}: failed: {e}", cfg.name, server.name),
                }
            }
        }
    }
    let _ = std::fs::remove_file(&script);

    println!();
    println!(
        "{:<11} {:<9} {:>10} {:>9} {:>11} {:>9} {:>9} {:>11}  errors",
        "config", "server", "req/s", "p99 ms", "CPU µs/req", "user µs", "sys µs", "server CPU"
    );
    for (ci, cfg) in configs.iter().enumerate() {
        let sums: Vec<Summary> = samples[ci].iter().map(|s| summarize(s)).collect();
        for (si, server) in SERVERS.iter().enumerate() {
            let s = &sums[si];
            let errors: Vec<&str> =
                samples[ci][si].iter().map(|x| x.errors.as_str()).filter(|e| !e.is_empty()).collect();
            println!(
                "{:<11} {:<9} {:>10.0} {:>9} {:>11.2} {:>9.2} {:>9.2} {:>10.0}%  {}",
                cfg.name,
                server.name,
                s.rps,
                num(s.p99_ms, ""),
                s.cpu_us,
                s.user_us,
                s.sys_us,
                s.util * 100.0,
                if errors.is_empty() { "-".to_string() } else { errors.join(" | ") }
            );
            if server.name == "hyper" {
                let (wf, hy) = (&sums[0], &sums[si]);
                println!(
                    "{:<11} {:<9} {:>9.2}x {:>9} {:>10.2}x {:>8.2}x {:>8.2}x  ({})",
                    "",
                    "wf/hyper",
                    wf.rps / hy.rps,
                    num(wf.p99_ms / hy.p99_ms, "x"),
                    wf.cpu_us / hy.cpu_us,
                    wf.user_us / hy.user_us,
                    wf.sys_us / hy.sys_us,
                    cfg.what
                );
            }
            if server.name == "wf-handlers" {
                let (wf, h) = (&sums[0], &sums[si]);
                println!(
                    "{:<11} {:<9} {:>9.2}x {:>9} {:>10.2}x {:>8.2}x {:>8.2}x  (handler threads against the default)",
                    "",
                    "handl./wf",
                    h.rps / wf.rps,
                    num(h.p99_ms / wf.p99_ms, "x"),
                    h.cpu_us / wf.cpu_us,
                    h.user_us / wf.user_us,
                    h.sys_us / wf.sys_us,
                );
            }
        }
    }
    println!();
    let find = |name: &str| configs.iter().position(|c| c.name == name).map(|i| summarize(&samples[i][0]));
    if let Some(s) = find("c100") {
        goal(
            "c100 server CPU/request ≤ 6 µs (Workflow 11.6, hyper anchor 8.3)",
            s.cpu_us <= 6.0,
            format!("{:.2} µs", s.cpu_us),
        );
    }
    if let Some(s) = find("c1000") {
        goal("c1000 p99 ≤ 20 ms (Workflow 24.3, hyper anchor 63.8)", s.p99_ms <= 20.0, format!("{:.2} ms", s.p99_ms));
    }
    if let Some(s) = find("pipeline16") {
        goal(
            "pipelined req/s per core ≥ 4× Workflow's 85.2k (341k; Workflow closes pipelined connections)",
            1e6 / s.cpu_us >= 4.0 * 85.2e3,
            format!("{:.0} req/s per core ({:.0} req/s at {:.0}% of a core)", 1e6 / s.cpu_us, s.rps, s.util * 100.0),
        );
    }
}

/// `v` with two decimals and `unit`, or `-` when there is none.
fn num(v: f64, unit: &str) -> String {
    if v.is_nan() { "-".into() } else { format!("{v:.2}{unit}") }
}

fn goal(what: &str, met: bool, got: String) {
    println!("goal {what}: {got} — {}", if met { "met" } else { "MISSED" });
}
