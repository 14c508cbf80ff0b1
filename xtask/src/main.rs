//! Project automation, run as `cargo xtask <task>` (see `cargo xtask help`).
//!
//! Only the standard library is used, so the first `cargo xtask` on a fresh
//! machine compiles in a second or two.

#![forbid(unsafe_code)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const HELP: &str = "\
cargo xtask <task>

tasks:
  test            everything CI runs, in this order:
                  * cargo fmt --check
                  * cargo clippy --workspace --all-targets -D warnings
                  * cargo test --workspace (the protocol tests start
                    their own redis-server and MariaDB, see `services`;
                    as root on Debian, missing ones are installed with
                    apt-get, else the command is printed)
                  * cargo doc --workspace --no-deps, rustdoc warnings
                    denied (RUSTDOCFLAGS=-D warnings)
                  * the `wf` facade with no feature, each feature alone
                    and `full`, each under cargo clippy -D warnings
                  Each step's time is printed at the end.
  ci              same as test
  services        which server binaries the tests need and where they
                  were found
  bench <name>    run a benchmark from benches/ (release build); names:
                  engine, http-server (needs wrk and taskset; as root
                  on Debian, wrk is installed with apt-get), http-client
                  (needs taskset), fileio, redis (needs taskset,
                  redis-server and redis-benchmark; installed with
                  apt-get as root on Debian), mysql (needs taskset and
                  MariaDB, which it starts itself; installed with
                  apt-get as root on Debian)
  help            this text
";

/// The server binaries the tests start (through the `testkit` crate), with
/// the Debian package of each.
const SERVICES: &[(&str, &str)] = &[
    ("redis-server", "redis-server"),
    ("redis-cli", "redis-server"),
    ("mariadbd", "mariadb-server"),
    ("mariadb-install-db", "mariadb-server"),
    ("mariadb", "mariadb-client"),
];

/// Directories searched after the `PATH`: daemons such as `mariadbd` live
/// in `sbin`, often not on a normal user's `PATH` (the `testkit` crate
/// searches the same ones).
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// The features of the `wf` facade, each built alone by `cargo xtask test`.
const FACADE_FEATURES: &[&str] = &["timer", "net", "tls", "http", "redis", "mysql", "fileio"];

/// A benchmark: its binary in the `benches` package, the other binaries
/// it runs as child processes, and the programs it needs on the machine.
struct Bench {
    name: &'static str,
    bin: &'static str,
    helpers: &'static [&'static str],
    tools: &'static [&'static str],
}

/// Benchmarks, run by `cargo xtask bench <name>`.
const BENCHES: &[Bench] = &[
    Bench { name: "engine", bin: "engine", helpers: &[], tools: &[] },
    Bench {
        name: "http-server",
        bin: "http_server",
        helpers: &["hello_wf", "hello_hyper"],
        tools: &["taskset", "wrk"],
    },
    Bench { name: "http-client", bin: "http_client", helpers: &["hello_hyper"], tools: &["taskset"] },
    Bench { name: "fileio", bin: "fileio", helpers: &[], tools: &[] },
    Bench { name: "redis", bin: "redis", helpers: &[], tools: &["taskset", "redis-server", "redis-benchmark"] },
    Bench {
        name: "mysql",
        bin: "mysql",
        helpers: &[],
        tools: &["taskset", "mariadbd", "mariadb-install-db", "mariadb"],
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") | Some("ci") => test(),
        Some("bench") => bench(&args[1..]),
        Some("services") => {
            services();
            Ok(())
        }
        None | Some("help") | Some("--help") | Some("-h") => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Where cargo builds: `CARGO_TARGET_DIR` if set (relative to the
/// workspace root), else `target/` in the workspace.
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("\n=== xtask: {step}");
    let status = cmd.status().map_err(|e| format!("{step}: cannot run: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{step} failed ({status})")) }
}

/// Runs the steps of `cargo xtask test` and keeps how long each took.
#[derive(Default)]
struct Steps(Vec<(String, Duration)>);

impl Steps {
    fn run(&mut self, step: &str, cmd: &mut Command) -> Result<(), String> {
        self.time(step, || run(step, cmd))
    }

    fn time(&mut self, step: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        let t0 = Instant::now();
        let r = f();
        self.0.push((step.to_owned(), t0.elapsed()));
        r
    }

    fn report(&self) {
        eprintln!("\n=== xtask: time per step");
        for (step, took) in &self.0 {
            eprintln!("  {:>7.1} s  {step}", took.as_secs_f64());
        }
        eprintln!("  {:>7.1} s  in all", self.0.iter().map(|(_, d)| d.as_secs_f64()).sum::<f64>());
    }
}

fn test() -> Result<(), String> {
    // First, so that a missing server fails in seconds, not after clippy.
    for (tool, _) in SERVICES {
        ensure_tool(tool)?;
    }
    let mut steps = Steps::default();
    let r = test_steps(&mut steps);
    steps.report();
    r?;
    eprintln!("\n=== xtask: all checks passed");
    Ok(())
}

fn test_steps(steps: &mut Steps) -> Result<(), String> {
    steps.run("cargo fmt --check", cargo().args(["fmt", "--all", "--", "--check"]))?;
    steps.run(
        "cargo clippy",
        cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
    )?;
    steps.run("cargo test", cargo().args(["test", "--workspace", "--locked", "--exclude", "benches"]))?;
    // RUSTDOCFLAGS only reaches rustdoc: the compiled crates stay cached.
    steps.run(
        "cargo doc (rustdoc warnings denied)",
        cargo().args(["doc", "--workspace", "--no-deps", "--locked"]).env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    // Clippy, not `cargo build`, with warnings denied: `-D warnings` after
    // `--` reaches only the workspace's crates, so nothing else is rebuilt
    // (RUSTFLAGS would change every dependency's fingerprint), and a check
    // costs less than a build. What a feature set leaves unused (dead code,
    // an unneeded `mut`) shows up here and fails the step.
    let facade = |features: &[&str]| {
        let mut c = cargo();
        c.args(["clippy", "-p", "wf", "--locked"]).args(features).args(["--", "-D", "warnings"]);
        c
    };
    steps.run("facade without features", &mut facade(&["--no-default-features"]))?;
    for f in FACADE_FEATURES {
        steps.run(&format!("facade with `{f}` alone"), &mut facade(&["--no-default-features", "--features", f]))?;
    }
    steps.run("facade with `full`", &mut facade(&["--features", "full"]))
}

fn bench(args: &[String]) -> Result<(), String> {
    let names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
    let Some(name) = args.first() else {
        return Err(format!("which benchmark? one of: {}", names.join(", ")));
    };
    let Some(b) = BENCHES.iter().find(|b| b.name == name) else {
        return Err(format!("unknown benchmark `{name}`; one of: {}", names.join(", ")));
    };
    for tool in b.tools {
        ensure_tool(tool)?;
    }
    let mut build = cargo();
    build.args(["build", "--release", "--locked", "-p", "benches"]);
    for bin in std::iter::once(&b.bin).chain(b.helpers) {
        build.args(["--bin", bin]);
    }
    run("build benches", &mut build)?;
    let exe = target_dir().join("release").join(b.bin);
    run(&format!("bench {name}"), Command::new(exe).args(&args[1..]))
}

/// Prints where each server binary of [`SERVICES`] was found.
fn services() {
    println!("server binaries the tests start (PATH, then {}):", EXTRA_DIRS.join(", "));
    for (tool, pkg) in SERVICES {
        match find(tool) {
            Some(path) => println!("  {tool:<20} {}", path.display()),
            None => {
                println!("  {tool:<20} MISSING: apt-get install -y {pkg} (or `cargo xtask test` as root on Debian)")
            }
        }
    }
}

/// Where the executable `name` is: on the PATH, or in [`EXTRA_DIRS`].
fn find(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Whether an executable `name` is on the PATH (or in [`EXTRA_DIRS`]).
fn on_path(name: &str) -> bool {
    find(name).is_some()
}

/// Whether we run as root (from `/proc/self/status`, std only).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().next()) == Some("0")
    })
}

/// Debian packages of the tools benchmarks and tests need.
fn debian_package(tool: &str) -> &'static str {
    if let Some((_, pkg)) = SERVICES.iter().find(|(t, _)| *t == tool) {
        return pkg;
    }
    match tool {
        "wrk" => "wrk",
        "redis-benchmark" => "redis-tools",
        _ => "util-linux", // taskset
    }
}

/// Makes sure `tool` is installed: on Debian as root it is installed with
/// apt-get (after `apt-get update` when the package lists are stale);
/// elsewhere the error says what to run.
fn ensure_tool(tool: &str) -> Result<(), String> {
    if on_path(tool) {
        return Ok(());
    }
    let pkg = debian_package(tool);
    let debian = Path::new("/etc/debian_version").exists();
    if !(debian && is_root()) {
        let how = if debian {
            format!("sudo apt-get update && sudo apt-get install -y {pkg}")
        } else {
            format!("install `{tool}` with your package manager (Debian: apt-get install -y {pkg})")
        };
        return Err(format!("`{tool}` is needed and not installed; run: {how}"));
    }
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if run(&format!("apt-get install -y {pkg}"), &mut apt(&["install", "-y", "-q", pkg])).is_err() {
        run("apt-get update", &mut apt(&["update", "-q"]))?;
        run(&format!("apt-get install -y {pkg}"), &mut apt(&["install", "-y", "-q", pkg]))?;
    }
    if on_path(tool) { Ok(()) } else { Err(format!("`{tool}` still not found after installing {pkg}")) }
}
