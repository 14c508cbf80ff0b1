//! `cargo xtask fuzz`: builds the cargo-fuzz targets of `fuzz/` and runs
//! libFuzzer on them, one after another; and the fuzz steps of
//! `cargo xtask test` (fmt and clippy of the fuzz crate, its build, a short
//! bounded run of every target).
//!
//! Layout (see `fuzz/README.md`):
//! * `fuzz/corpus/<target>/`: the committed seed corpus, read only (a run
//!   adds nothing to it unless `--merge` is given);
//! * `fuzz/corpus-run/<target>/`: the working corpus of `cargo xtask fuzz`,
//!   where libFuzzer keeps what it finds (gitignored);
//! * `fuzz/artifacts/<target>/`: crashing, hanging and out-of-memory inputs
//!   (gitignored);
//! * `<target dir>/fuzz/`: the fuzz build (its own directory: the fuzz
//!   crate has its own lock file and instrumented release flags, which
//!   would otherwise evict the main build's artifacts), the smoke runs'
//!   scratch corpora and every run's libFuzzer log.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::{Steps, cargo, host_triple, is_root, root, run, target_dir};

/// A single input may use this much resident memory (libFuzzer's
/// `-rss_limit_mb`): past it, the input is an `oom-` finding.
const RSS_LIMIT_MB: u32 = 2048;
/// A single input may run this long (libFuzzer's `-timeout`, seconds): past
/// it, the input is a `timeout-` finding (a hang is a bug for a decoder).
const TIMEOUT_SECS: u32 = 10;
/// How long `cargo xtask fuzz <target>` fuzzes each target by default.
const DEFAULT_SECS: u64 = 60;
/// How long the smoke step of `cargo xtask test` fuzzes each target
/// (after running its seed corpus): 10 targets, 100 s in all.
const SMOKE_SECS: u64 = 10;

/// libFuzzer's `-max_len` per target: room for a few messages of the
/// protocol (HTTP and RESP heads with chunked bodies and nested arrays,
/// MySQL result sets), small enough to keep executions fast. Targets not
/// listed get [`DEFAULT_MAX_LEN`].
const MAX_LEN: &[(&str, usize)] = &[
    ("http_request", 16 << 10),
    ("http_response", 16 << 10),
    ("url", 4 << 10),
    ("resp_request", 16 << 10),
    ("resp_reply", 16 << 10),
    ("mysql_client", 16 << 10),
    ("mysql_server", 16 << 10),
    // Small values suffice for TLV's framing; its target also decodes
    // byte by byte, which costs per input byte.
    ("tlv", 1 << 10),
    // One DNS message: a UDP reply is at most 64 KiB, real ones far less.
    ("dns_reply", 4 << 10),
    ("dns_message", 4 << 10),
];
const DEFAULT_MAX_LEN: usize = 4 << 10;

/// The install command printed (or run) when `cargo fuzz` is missing.
const INSTALL: &str = "cargo install cargo-fuzz --locked";

fn fuzz_dir() -> PathBuf {
    root().join("fuzz")
}

/// Where the fuzz crate builds: `fuzz/` under the workspace's target dir.
fn build_dir() -> PathBuf {
    target_dir().join("fuzz")
}

/// `path` relative to the workspace root when it is inside it, for
/// commands a user can paste.
fn show(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root).unwrap_or(path).display().to_string()
}

/// When a run stops.
#[derive(Clone, Copy)]
enum Stop {
    /// After this many seconds (`-max_total_time`).
    Secs(u64),
    /// After this many executions (`-runs`): the campaign mode.
    Runs(u64),
}

/// What one libFuzzer run did.
struct Outcome {
    target: String,
    execs: u64,
    secs: f64,
    /// The inputs libFuzzer wrote as findings (`crash-`, `timeout-`, `oom-`).
    artifacts: Vec<PathBuf>,
    /// libFuzzer's `ERROR:` line, or how the process ended if it failed
    /// without one.
    error: Option<String>,
    /// What the target printed before dying: a panic and its message, a
    /// refused allocation, a stack overflow.
    cause: Option<String>,
    log: PathBuf,
}

impl Outcome {
    fn failed(&self) -> bool {
        self.error.is_some() || !self.artifacts.is_empty()
    }
}

const USAGE: &str = "usage: cargo xtask fuzz <target|all> [seconds] [--runs N] [--max-len N] [--merge]";

/// `cargo xtask fuzz <target|all> [seconds] [--runs N] [--max-len N] [--merge]`.
pub(crate) fn fuzz(args: &[String]) -> Result<(), String> {
    let all = targets()?;
    let mut which = None;
    let mut stop = Stop::Secs(DEFAULT_SECS);
    let mut merge = false;
    let mut len = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let number = |v: Option<&String>, what: &str| {
            v.and_then(|v| v.parse::<u64>().ok().filter(|&n| n > 0))
                .ok_or_else(|| format!("{what}: expected a positive number\n{USAGE}"))
        };
        match arg.as_str() {
            "--merge" => merge = true,
            "--runs" => stop = Stop::Runs(number(it.next(), "--runs")?),
            "--max-len" => len = Some(number(it.next(), "--max-len")? as usize),
            a if a.starts_with("--runs=") => stop = Stop::Runs(number(Some(&a[7..].to_owned()), "--runs")?),
            a if a.starts_with('-') => return Err(format!("unknown option `{a}`\n{USAGE}")),
            a if which.is_none() => which = Some(a.to_owned()),
            a => stop = Stop::Secs(number(Some(&a.to_owned()), "seconds")?),
        }
    }
    let Some(which) = which else {
        return Err(format!("which target? `all` or one of: {}\n{USAGE}", all.join(", ")));
    };
    let chosen = if which == "all" {
        all
    } else if all.contains(&which) {
        vec![which]
    } else {
        return Err(format!("unknown fuzz target `{which}`; `all` or one of: {}", all.join(", ")));
    };

    ensure_cargo_fuzz()?;
    build(if chosen.len() == 1 { Some(&chosen[0]) } else { None })?;
    // One target: libFuzzer's output as it comes. Several: a line each, the
    // log kept in a file (its tail printed if the run fails).
    let quiet = chosen.len() > 1;
    let mut outcomes = Vec::new();
    for target in &chosen {
        let work = fuzz_dir().join("corpus-run").join(target);
        let outcome = run_target(target, stop, &work, quiet, len)?;
        report(&outcome, quiet);
        if merge && !outcome.failed() {
            merge_into_seeds(target, &work)?;
        }
        outcomes.push(outcome);
    }
    table(&outcomes);
    verdict(&outcomes)
}

/// The fuzz steps of `cargo xtask test`: clippy of the fuzz crate, its
/// build, then every target for [`SMOKE_SECS`] seconds, seed corpus first
/// (libFuzzer runs the corpus before it mutates, so every committed seed is
/// a regression input). A finding fails the step.
pub(crate) fn smoke(steps: &mut Steps) -> Result<(), String> {
    // The fuzz crate is not a workspace member (it needs the fuzzing build
    // flags), so the workspace's clippy step does not see it. Checked in
    // the workspace's target dir: the dependencies it shares with the
    // workspace (same versions and features) are already checked by the
    // clippy step; the others get their own entries (cargo keeps both, so
    // neither build invalidates the other). `--locked`: a stale
    // fuzz/Cargo.lock fails here, as the workspace's would.
    steps.run(
        "fuzz crate: cargo clippy",
        cargo()
            .args(["clippy", "--locked", "--all-targets", "--manifest-path"])
            .arg(fuzz_dir().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir())
            .args(["--", "-D", "warnings"]),
    )?;
    steps.time("fuzz build (cargo fuzz build -s none)", || build(None))?;
    let targets = targets()?;
    steps.time(&format!("fuzz smoke: {} targets x {SMOKE_SECS} s", targets.len()), || {
        let mut outcomes = Vec::new();
        for target in &targets {
            // A fresh scratch corpus: each smoke run starts from the seeds
            // alone, and leaves the developer's `corpus-run` untouched.
            let work = build_dir().join("smoke-corpus").join(target);
            let _ = std::fs::remove_dir_all(&work);
            let outcome = run_target(target, Stop::Secs(SMOKE_SECS), &work, true, None)?;
            report(&outcome, true);
            outcomes.push(outcome);
        }
        table(&outcomes);
        verdict(&outcomes)
    })
}

/// `cargo fmt --check` of the fuzz crate (`cargo fmt --all` at the root
/// formats workspace members only, and the fuzz crate is not one).
pub(crate) fn fmt_check() -> Result<(), String> {
    run(
        "cargo fmt --check (fuzz crate)",
        cargo().args(["fmt", "--all", "--manifest-path"]).arg(fuzz_dir().join("Cargo.toml")).args(["--", "--check"]),
    )
}

/// The fuzz targets: the `[[bin]]` names of `fuzz/Cargo.toml`, in order.
fn targets() -> Result<Vec<String>, String> {
    let manifest = fuzz_dir().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", show(&manifest)))?;
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(v) = line.strip_prefix("name").filter(|_| in_bin) {
            if let Some(name) = v.trim_start().strip_prefix('=') {
                names.push(name.trim().trim_matches('"').to_owned());
            }
        }
    }
    if names.is_empty() {
        return Err(format!("{}: no [[bin]] target", show(&manifest)));
    }
    Ok(names)
}

/// Makes sure `cargo fuzz` runs: as root on Debian (CI) it is installed
/// with `cargo install`, as other tools are with apt-get; elsewhere the
/// error says what to run.
pub(crate) fn ensure_cargo_fuzz() -> Result<(), String> {
    let works = || cargo().args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if works().is_ok_and(|s| s.success()) {
        return Ok(());
    }
    if !(Path::new("/etc/debian_version").exists() && is_root()) {
        return Err(format!("`cargo fuzz` is needed and not installed; run: {INSTALL}"));
    }
    run(INSTALL, cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    if works().is_ok_and(|s| s.success()) { Ok(()) } else { Err(format!("`cargo fuzz` still fails after `{INSTALL}`")) }
}

/// `cargo fuzz build` of one target, or of all of them.
///
/// `-s none`: no sanitizer. AddressSanitizer (cargo-fuzz's default) needs
/// `-Zsanitizer`, i.e. a nightly compiler, and the fuzzed code is safe
/// Rust: what we look for is panics, aborts, stack overflows, hangs and
/// memory blow-ups, which need no sanitizer. Release mode with debug
/// assertions and overflow checks (cargo-fuzz's defaults).
///
/// No `RUSTC_BOOTSTRAP=1`: with `-s none` (and no `--build-std`) cargo-fuzz
/// passes only flags stable rustc accepts (`-Cpasses=sancov-module`,
/// `-Cllvm-args=-sanitizer-coverage-*`, `--cfg fuzzing`); this was checked
/// with cargo-fuzz 0.13.2 on rustc 1.95 (instrumented: libFuzzer reports
/// its coverage counters). Setting it would only allow unstable features
/// silently, and change cargo's fingerprints, so that a plain `cargo fuzz
/// build` would rebuild everything.
fn build(target: Option<&str>) -> Result<(), String> {
    let mut c = cargo();
    c.args(["fuzz", "build", "-s", "none", "--fuzz-dir"])
        .arg(fuzz_dir())
        .args(["--target", &host_triple()?, "--target-dir"])
        .arg(build_dir());
    c.args(target);
    run(&format!("cargo fuzz build {}", target.unwrap_or("(all targets)")), &mut c)
}

/// The fuzz binary of `target` (after [`build`]).
fn binary(target: &str) -> Result<PathBuf, String> {
    Ok(build_dir().join(host_triple()?).join("release").join(target))
}

fn max_len(target: &str) -> usize {
    MAX_LEN.iter().find(|(t, _)| *t == target).map_or(DEFAULT_MAX_LEN, |&(_, n)| n)
}

/// Runs libFuzzer on `target` with the working corpus `work` (created if
/// missing; new inputs go there) and the seed corpus `fuzz/corpus/<target>`
/// (read only), the limits of this file and `stop`.
fn run_target(target: &str, stop: Stop, work: &Path, quiet: bool, len: Option<usize>) -> Result<Outcome, String> {
    let bin = binary(target)?;
    let seeds = fuzz_dir().join("corpus").join(target);
    let artifacts = fuzz_dir().join("artifacts").join(target);
    let logs = build_dir().join("logs");
    for dir in [work, &artifacts, &logs] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", show(dir)))?;
    }
    let log_path = logs.join(format!("{target}.log"));
    let mut log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", show(&log_path)))?;

    let mut cmd = Command::new(&bin);
    cmd.arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-timeout={TIMEOUT_SECS}"))
        .arg(format!("-max_len={}", len.unwrap_or_else(|| max_len(target))))
        .arg("-print_final_stats=1")
        // libFuzzer appends the file name to the prefix as is.
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    match stop {
        Stop::Secs(s) => cmd.arg(format!("-max_total_time={s}")),
        Stop::Runs(n) => cmd.arg(format!("-runs={n}")),
    };
    let dict = fuzz_dir().join("dicts").join(format!("{target}.dict"));
    if dict.is_file() {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    cmd.arg(work);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    } else {
        eprintln!("xtask: no seed corpus {} for `{target}`", show(&seeds));
    }
    cmd.stdin(Stdio::null()).stdout(if quiet { Stdio::null() } else { Stdio::inherit() }).stderr(Stdio::piped());

    let what = match stop {
        Stop::Secs(s) => format!("{s} s"),
        Stop::Runs(n) => format!("{n} runs"),
    };
    eprintln!("\n=== xtask: fuzz {target} ({what}, log {})", show(&log_path));
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("{}: cannot run: {e}", show(&bin)))?;
    let mut stats = Stats::default();
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("fuzz {target}: reading libFuzzer's output: {e}")),
        }
        let _ = log.write_all(&line);
        if !quiet {
            let _ = std::io::stderr().write_all(&line);
        }
        stats.line(&String::from_utf8_lossy(&line));
    }
    let status = child.wait().map_err(|e| format!("fuzz {target}: {e}"))?;
    let secs = t0.elapsed().as_secs_f64();
    let error = stats.error.or_else(|| (!status.success()).then(|| format!("libFuzzer exited with {status}")));
    Ok(Outcome {
        target: target.to_owned(),
        // `Done N runs` when it finished, else the final stats (a crash).
        execs: stats.done_runs.or(stats.executed).unwrap_or(0),
        secs,
        artifacts: stats.artifacts,
        error,
        cause: stats.cause,
        log: log_path,
    })
}

/// What is read from libFuzzer's output.
#[derive(Default)]
struct Stats {
    /// `Done N runs in S second(s)`: the run ended normally.
    done_runs: Option<u64>,
    /// `stat::number_of_executed_units: N` (`-print_final_stats=1`), also
    /// printed after a crash.
    executed: Option<u64>,
    /// `Test unit written to PATH`.
    artifacts: Vec<PathBuf>,
    /// `==PID== ERROR: libFuzzer: deadly signal` and the like.
    error: Option<String>,
    /// The first `thread '...' panicked at FILE:LINE:COL:` line with the
    /// message on the line after it, or `memory allocation of N bytes
    /// failed`, or `thread '...' has overflowed its stack`.
    cause: Option<String>,
    /// The line after a `panicked at` line is its message.
    panic_message_next: bool,
}

impl Stats {
    fn line(&mut self, line: &str) {
        let line = line.trim_end();
        if std::mem::take(&mut self.panic_message_next) {
            if let Some(cause) = &mut self.cause {
                cause.push_str(": ");
                cause.push_str(line);
            }
        } else if self.cause.is_none()
            && (line.contains("' panicked at ")
                || line.starts_with("memory allocation of ")
                || line.contains("' has overflowed its stack"))
        {
            self.cause = Some(line.to_owned());
            self.panic_message_next = line.contains("' panicked at ");
        }
        if let Some(rest) = line.strip_prefix("Done ") {
            self.done_runs = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            self.executed = n.trim().parse().ok();
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.artifacts.push(PathBuf::from(path.trim()));
        } else if let Some((_, what)) = line.split_once("ERROR: libFuzzer: ") {
            self.error.get_or_insert_with(|| what.trim().to_owned());
        }
    }
}

/// One line per run; for a failed one, the tail of its log (if it was not
/// shown) and how to reproduce each finding.
fn report(o: &Outcome, quiet: bool) {
    eprintln!(
        "xtask: fuzz {}: {} execs in {:.1} s ({:.0} exec/s), {} crash(es)",
        o.target,
        o.execs,
        o.secs,
        o.execs as f64 / o.secs.max(1e-3),
        o.artifacts.len()
    );
    if !o.failed() {
        return;
    }
    if quiet {
        // Without the backtrace's frames, which the full log keeps.
        let text = std::fs::read_to_string(&o.log).unwrap_or_default();
        let frame = |l: &&str| {
            let t = l.trim_start();
            t.starts_with("at ") || t.split_once(": ").is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
        };
        let lines: Vec<&str> = text.lines().filter(|l| !frame(l)).collect();
        eprintln!("--- last lines of {} (backtrace left out):", show(&o.log));
        for l in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("    {l}");
        }
    }
    eprintln!("xtask: fuzz {} FAILED: {}", o.target, o.error.as_deref().unwrap_or("finding"));
    if let Some(cause) = &o.cause {
        eprintln!("  cause: {cause}");
    }
    let bin = binary(&o.target).map(|b| show(&b)).unwrap_or_default();
    for a in &o.artifacts {
        eprintln!("  reproduce: {bin} {}", show(a));
        eprintln!(
            "         or: cargo fuzz run -s none --fuzz-dir fuzz --target-dir {} {} {}",
            show(&build_dir()),
            o.target,
            show(a)
        );
    }
    eprintln!("  full log: {}", show(&o.log));
}

/// The table of a run of several targets (or a campaign), in Markdown for
/// BENCHMARKS.md.
fn table(outcomes: &[Outcome]) {
    if outcomes.len() < 2 {
        return;
    }
    eprintln!("\n| target | execs | seconds | exec/s | crashes |");
    eprintln!("|---|---:|---:|---:|---:|");
    for o in outcomes {
        let crashes =
            if o.artifacts.is_empty() && o.error.is_some() { "failed".into() } else { o.artifacts.len().to_string() };
        eprintln!(
            "| {} | {} | {:.1} | {:.0} | {crashes} |",
            o.target,
            o.execs,
            o.secs,
            o.execs as f64 / o.secs.max(1e-3)
        );
    }
}

fn verdict(outcomes: &[Outcome]) -> Result<(), String> {
    let failed: Vec<&str> = outcomes.iter().filter(|o| o.failed()).map(|o| o.target.as_str()).collect();
    if failed.is_empty() { Ok(()) } else { Err(format!("fuzzing found problems in: {}", failed.join(", "))) }
}

/// Adds to the committed seed corpus the inputs of `work` that reach code
/// the seeds do not (libFuzzer's `-merge=1`; files named by their SHA-1).
fn merge_into_seeds(target: &str, work: &Path) -> Result<(), String> {
    let seeds = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&seeds).map_err(|e| format!("{}: {e}", show(&seeds)))?;
    run(
        &format!("merge new coverage of {} into {}", show(work), show(&seeds)),
        Command::new(binary(target)?)
            .arg("-merge=1")
            .arg(format!("-max_len={}", max_len(target)))
            .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
            .arg(format!("-timeout={TIMEOUT_SECS}"))
            .arg(&seeds)
            .arg(work),
    )
}
