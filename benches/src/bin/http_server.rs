//! `cargo xtask bench http-server`: wf's HTTP server against hyper's and,
//! when given, C++ Workflow's.
//!
//! Two hello servers (`hello_wf`, `hello_hyper`: 11-byte body, keep-alive,
//! TCP_NODELAY, one runtime thread), and for reference `hello_wf` on a
//! work-stealing runtime and with one handler thread (`handler_threads`,
//! compared with the default) and `hello_hyper` on a current-thread
//! runtime, each run in a child process pinned to CPU 0 with `taskset`;
//! `wrk -t1`, pinned to CPU 1, loads them for each configuration. The
//! server's CPU time (utime + stime from `/proc/<pid>/stat`, all threads)
//! before and after each wrk run gives its CPU µs per request (split into
//! user and system time). Runs alternate the servers within each round so
//! both see the same neighbours; each figure is the median of the rounds.
//!
//! C++ Workflow's `benchmark-01-http_server` (built outside this
//! repository) joins as a contestant when the environment variable
//! `WF_BENCH_WORKFLOW_HTTP` names its binary; it runs as `<binary> 1 PORT
//! 11` (one poller, an 11-byte body) and stops on SIGTERM.
//!
//! This machine is shared: before each run the driver waits (up to 3 min)
//! for a second in which the CPUs are at most 10 % busy, and a run during
//! which other processes used more than 0.1 core (busy CPU time minus the
//! server's and wrk's) is repeated, up to 4 attempts.
//!
//! `idle10k` is a memory benchmark instead: this process opens 10,000
//! keep-alive connections to the server, makes one request on each, leaves
//! them idle and reads the server's resident set size (`VmRSS`) before and
//! after: wf, hyper and Workflow (when given). Workflow's benchmark server
//! keeps at most 2000 connections (its default `max_connections`; it
//! closes idle ones past that): the connections still open are counted and
//! the figure per connection is over those; wf runs with
//! `--max-connections 20000` for this mode.
//!
//! `http_server [--duration SECS] [--runs N] [--port-base PORT]
//! [CONFIG...]` where CONFIG is `c100`, `c1000`, `pipeline16` or `idle10k`
//! (default: all); the servers listen on consecutive ports from
//! `--port-base` (18080). Builds nothing: run it through `cargo xtask bench
//! http-server`.

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

/// What runs a server.
enum Program {
    /// A binary of this package, given `PORT ARGS...`.
    Bin(&'static str, &'static [&'static str]),
    /// C++ Workflow's `benchmark-01-http_server`, given `1 PORT 11`.
    Workflow(PathBuf),
}

struct Server {
    name: &'static str,
    program: Program,
    port: u16,
}

impl Server {
    fn start(&self, extra: &[&str]) -> io::Result<PinnedServer> {
        match &self.program {
            Program::Bin(bin, args) => {
                let all: Vec<&str> = args.iter().chain(extra).copied().collect();
                PinnedServer::start(bin, 0, self.port, &all)
            }
            Program::Workflow(path) => {
                PinnedServer::start_program(path, 0, self.port, &["1".into(), self.port.to_string(), "11".into()])
            }
        }
    }
}

/// The environment variable naming C++ Workflow's benchmark server.
const WORKFLOW_ENV: &str = "WF_BENCH_WORKFLOW_HTTP";

/// wf (default settings: the poller is an event loop) and its peer hyper
/// (on a tokio multi-thread runtime with one worker, tokio's default),
/// then references: wf on a work-stealing runtime (`--work-stealing`),
/// hyper on tokio's current-thread runtime, wf with a handler thread; and
/// C++ Workflow when `WF_BENCH_WORKFLOW_HTTP` names its binary. Ports
/// are consecutive from `port_base`.
fn servers(port_base: u16) -> Vec<Server> {
    let mut list = vec![
        Server { name: "wf", program: Program::Bin("hello_wf", &[]), port: 0 },
        Server { name: "wf-steal", program: Program::Bin("hello_wf", &["--work-stealing"]), port: 0 },
        Server { name: "hyper", program: Program::Bin("hello_hyper", &[]), port: 0 },
        Server { name: "hyper-ct", program: Program::Bin("hello_hyper", &["--current-thread"]), port: 0 },
        // `process` on a handler thread (`Settings::handler_threads`, Workflow's model).
        Server { name: "wf-handlers", program: Program::Bin("hello_wf", &["--handler-threads", "1"]), port: 0 },
    ];
    if let Some(path) = std::env::var_os(WORKFLOW_ENV).filter(|p| !p.is_empty()) {
        list.push(Server { name: "workflow", program: Program::Workflow(PathBuf::from(path)), port: 0 });
    }
    for (i, s) in list.iter_mut().enumerate() {
        s.port = port_base + i as u16;
    }
    list
}

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
    let s = server.start(&[]).map_err(|e| e.to_string())?;
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
    let mut port_base = 18080u16;
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--duration" => duration = it.next().and_then(|v| v.parse().ok()).expect("--duration SECS"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--port-base" => port_base = it.next().and_then(|v| v.parse().ok()).expect("--port-base PORT"),
            name if name == IDLE || CONFIGS.iter().any(|c| c.name == name) => only.push(name.to_string()),
            other => {
                eprintln!(
                    "unknown argument `{other}`; usage: http_server [--duration SECS] [--runs N] [--port-base PORT] [c100|c1000|pipeline16|idle10k...]"
                );
                std::process::exit(2);
            }
        }
    }
    let servers = servers(port_base);
    let workflow = servers.iter().position(|s| s.name == "workflow");
    if workflow.is_none() {
        eprintln!("(C++ Workflow not run: set {WORKFLOW_ENV} to its benchmark-01-http_server binary to add it)");
    }
    let configs: Vec<&Config> =
        CONFIGS.iter().filter(|c| only.is_empty() || only.iter().any(|o| o == c.name)).collect();
    if !configs.is_empty() {
        load(&configs, &servers, workflow, duration, runs);
    }
    if only.is_empty() || only.iter().any(|o| o == IDLE) {
        idle(&servers, runs);
    }
}

/// The memory configuration's name.
const IDLE: &str = "idle10k";

/// Connections the memory configuration keeps open.
const IDLE_CONNS: usize = 10_000;

/// `idle10k`: the server's RSS with [`IDLE_CONNS`] idle keep-alive
/// connections, each having made one request; wf, hyper and Workflow.
fn idle(servers: &[Server], runs: usize) {
    if let Err(e) = benches::idle::raise_nofile(IDLE_CONNS as u64 + 1000) {
        eprintln!("idle10k: cannot open {IDLE_CONNS} connections: {e}");
        return;
    }
    let picked: Vec<&Server> =
        servers.iter().filter(|s| matches!(s.name, "wf" | "wf-steal" | "hyper" | "workflow")).collect();
    println!();
    println!("idle10k: {IDLE_CONNS} keep-alive connections, one request each, then idle; server RSS, median of {runs}");
    let mut samples: Vec<Vec<benches::idle::IdleSample>> = vec![Vec::new(); picked.len()];
    for round in 0..runs {
        eprintln!("idle10k round {} of {runs}", round + 1);
        for (i, server) in picked.iter().enumerate() {
            let extra: &[&str] = if server.name.starts_with("wf") { &["--max-connections", "20000"] } else { &[] };
            let s = match server.start(extra) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("  {}: failed: {e}", server.name);
                    continue;
                }
            };
            match benches::idle::measure(&s, IDLE_CONNS) {
                Ok(m) => {
                    eprintln!(
                        "  {:<9} RSS {:>7.1} MB (at start {:>5.1} MB), {} of {} connections open, {:>5.2} KiB each",
                        server.name,
                        m.rss as f64 / 1e6,
                        m.rss_before as f64 / 1e6,
                        m.open,
                        IDLE_CONNS,
                        m.per_conn() / 1024.0
                    );
                    samples[i].push(m);
                }
                Err(e) => eprintln!("  {}: failed: {e}", server.name),
            }
        }
    }
    println!("{:<11} {:>9} {:>14} {:>10} {:>16}", "server", "RSS MB", "RSS at start", "open", "KiB/connection");
    let per_conn: Vec<f64> = samples
        .iter()
        .map(|v| median(&v.iter().map(benches::idle::IdleSample::per_conn).collect::<Vec<_>>()))
        .collect();
    for (i, server) in picked.iter().enumerate() {
        let m = |f: fn(&benches::idle::IdleSample) -> f64| median(&samples[i].iter().map(f).collect::<Vec<_>>());
        println!(
            "{:<11} {:>9.1} {:>11.1} MB {:>10.0} {:>16.2}",
            server.name,
            m(|x| x.rss as f64) / 1e6,
            m(|x| x.rss_before as f64) / 1e6,
            m(|x| x.open as f64),
            per_conn[i] / 1024.0
        );
    }
    let at = |name: &str| picked.iter().position(|s| s.name == name).map(|i| per_conn[i]);
    if let (Some(wf), Some(hy)) = (at("wf"), at("hyper")) {
        println!("wf/hyper memory per idle connection: {:.2}x", wf / hy);
        goal(
            "idle10k: wf's RSS per idle connection ≤ hyper's",
            wf <= hy,
            format!("{:.2} vs {:.2} KiB", wf / 1024.0, hy / 1024.0),
        );
    }
    if let (Some(wf), Some(w)) = (at("wf"), at("workflow")) {
        println!("wf/Workflow memory per idle connection: {:.2}x (Workflow keeps at most 2000 open)", wf / w);
    }
}

/// The wrk configurations: every server in each, alternating, `runs`
/// rounds; then the table, the ratios and the goals.
fn load(configs: &[&Config], servers: &[Server], workflow: Option<usize>, duration: u64, runs: usize) {
    for tool in ["wrk", "taskset"] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            eprintln!("`{tool}` is not installed (cargo xtask bench http-server installs wrk on Debian)");
            std::process::exit(2);
        }
    }
    let script = std::env::temp_dir().join(format!("wf-bench-pipeline-{}.lua", std::process::id()));
    std::fs::write(&script, PIPELINE_LUA).expect("write the pipeline script");

    println!(
        "http-server: hello servers pinned to CPU 0, wrk -t1 pinned to CPU 1, {duration} s per run, median of {runs} rounds; load average {:.2} at start",
        benches::loadavg()
    );
    // samples[config][server]
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); servers.len()]; configs.len()];
    for round in 0..runs {
        eprintln!("round {} of {runs}", round + 1);
        for (ci, cfg) in configs.iter().enumerate() {
            for (si, server) in servers.iter().enumerate() {
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
        for (si, server) in servers.iter().enumerate() {
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
            match server.name {
                "hyper" => ratio_line("wf/hyper", &sums[0], s, cfg.what),
                "workflow" => ratio_line("wf/Workfl", &sums[0], s, cfg.what),
                "wf-handlers" => ratio_line("handl./wf", s, &sums[0], "handler threads against the default"),
                _ => {}
            }
        }
    }
    println!();
    let find = |name: &str, si: usize| configs.iter().position(|c| c.name == name).map(|i| summarize(&samples[i][si]));
    let hyper = servers.iter().position(|s| s.name == "hyper");
    if let (Some(s), Some(h)) = (find("c100", 0), hyper.and_then(|h| find("c100", h))) {
        goal(
            "c100 server CPU/request ≤ hyper's in the same run (issue 15)",
            s.cpu_us <= h.cpu_us,
            format!("{:.2} µs vs {:.2} µs ({:.2}x)", s.cpu_us, h.cpu_us, s.cpu_us / h.cpu_us),
        );
    }
    if let Some(s) = find("c1000", 0) {
        match workflow.and_then(|w| find("c1000", w)) {
            Some(w) => goal(
                "c1000 p99 with default settings ≤ C++ Workflow's in the same run",
                s.p99_ms <= w.p99_ms,
                format!("{:.2} ms vs {:.2} ms ({:.2}x)", s.p99_ms, w.p99_ms, s.p99_ms / w.p99_ms),
            ),
            None => goal(
                "c1000 p99 ≤ 20 ms (Workflow 24.3, hyper anchor 63.8)",
                s.p99_ms <= 20.0,
                format!("{:.2} ms", s.p99_ms),
            ),
        }
    }
    if let (Some(s), Some(h)) = (find("pipeline16", 0), hyper.and_then(|h| find("pipeline16", h))) {
        goal(
            "pipelined ×16 req/s ≥ hyper's in the same run (issue 15)",
            s.rps >= h.rps,
            format!("{:.0} vs {:.0} req/s ({:.2}x)", s.rps, h.rps, s.rps / h.rps),
        );
    }
}

/// `a / b` for each column, under `b`'s row.
fn ratio_line(label: &str, a: &Summary, b: &Summary, what: &str) {
    println!(
        "{:<11} {:<9} {:>9.2}x {:>9} {:>10.2}x {:>8.2}x {:>8.2}x  ({})",
        "",
        label,
        a.rps / b.rps,
        num(a.p99_ms / b.p99_ms, "x"),
        a.cpu_us / b.cpu_us,
        a.user_us / b.user_us,
        a.sys_us / b.sys_us,
        what
    );
}

/// `v` with two decimals and `unit`, or `-` when there is none.
fn num(v: f64, unit: &str) -> String {
    if v.is_nan() { "-".into() } else { format!("{v:.2}{unit}") }
}

fn goal(what: &str, met: bool, got: String) {
    println!("goal {what}: {got} — {}", if met { "met" } else { "MISSED" });
}
