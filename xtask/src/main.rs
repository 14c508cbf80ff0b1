//! Project automation, run as `cargo xtask <task>` (see `cargo xtask help`).
//!
//! Only the standard library is used, so the first `cargo xtask` on a fresh
//! machine compiles in a second or two.

#![forbid(unsafe_code)]

mod cycles;
mod fuzz;
mod leakcheck;
mod python;

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
                    (clippy's incompatible_msrv lint checks std API use
                    against each crate's rust-version)
                  * cargo test --workspace (the protocol tests start
                    their own redis-server and MariaDB, see `services`;
                    as root on Debian, missing ones are installed with
                    apt-get, else the command is printed)
                  * pywf, the Python binding: one abi3 wheel built with
                    maturin, then its pytest suite (pywf/tests) on every
                    CPython 3.9-3.13 found (python3.X on the PATH, pyenv
                    versions; at least one needed), each in a venv under
                    target/pywf/ where pip installs pytest and maturin
                    when missing; the TLS tests get a test CA made by
                    testkit's `pki` example (PYWF_TEST_TLS_DIR); each
                    interpreter's run is stopped after 15 minutes (SIGINT,
                    then its process tree is killed); prints which ran
                  * cargo doc --workspace --no-deps, rustdoc warnings
                    denied (RUSTDOCFLAGS=-D warnings)
                  * the `wf` facade with no feature, each feature alone
                    and `full`, each under cargo clippy -D warnings
                  * the MSRV: from `cargo metadata`, no package in a
                    crate's build graph may declare a rust-version newer
                    than that crate's (the workspace's, 1.85, for every
                    published crate); the compiler itself is the
                    installed one, not the MSRV, and this says so
                  * no module cycle in wf-core's net tree nor inside a
                    protocol crate (wf-http, wf-redis, wf-mysql,
                    plugin-proof), from the `crate::`/`super::` paths
                  * the fuzz crate (fuzz/, not a workspace member):
                    cargo fmt --check (with the first step), cargo
                    clippy -D warnings, `cargo fuzz build`, then each
                    target for 10 s after its seed corpus; a crash,
                    hang or out-of-memory fails the run
                  Each step's time is printed at the end.
  ci              same as test
  msrv            the MSRV step of test alone
  services        which server binaries the tests need and where they
                  were found
  bench <name>    run a benchmark from benches/ (release build); names:
                  engine, http-server (needs wrk and taskset; as root
                  on Debian, wrk is installed with apt-get), http-client
                  (needs taskset), fileio, redis (needs taskset,
                  redis-server and redis-benchmark; installed with
                  apt-get as root on Debian), redis-cluster (wf's
                  cluster client against redis-rs's on a six-node
                  cluster it starts; needs taskset, redis-server and
                  redis-cli), mysql (needs taskset and
                  MariaDB, which it starts itself; installed with
                  apt-get as root on Debian), upstream (ns per pick of
                  each policy, weight fidelity, consistent-hash key
                  movement, and an HTTP request through an upstream
                  against one by address, on loopback), udp (UDP round
                  trips: wf client tasks and a wf UDP server next to
                  plain tokio and std sockets, on loopback), algo (wf's
                  psort task against rayon's par_sort_unstable and
                  std's sort_unstable on 10 million u64, CPUs 0-1;
                  `algo N ROUNDS` to change the size or rounds), python
                  (pywf vs pyworkflow 0.0.10 vs aiohttp on CPython 3.9,
                  each in a venv under target/pywf/, and the same
                  programs in Rust on wf as the floor: tutorial 04's echo
                  server under wrk -t1 -c100, and 20,000 GETs with a
                  callback, 64 in flight; medians of 3 rounds; needs
                  taskset and wrk; `python --seconds S --requests N
                  --rounds R` to change the run)
  leakcheck       wf's dismiss tests (wf/tests/memory_dismiss.rs) and
                  a short in-process server load (wf/examples/
                  memory_load.rs: an HttpServer and a RedisServer, 2000
                  requests of each kind from wf clients) under valgrind
                  --leak-check=full; fails on any byte definitely lost
                  (suppressions, for third-party code only, in
                  xtask/valgrind.supp); logs in target/leakcheck-*.log
  leakcheck rss [REQUESTS] [CYCLES]
                  a release build of the same program on core 1 drives
                  REQUESTS keep-alive GETs (default 1,000,000) and CYCLES
                  connect/GET/close cycles (default 10,000) at an
                  HttpServer child on core 0 (taskset), sampling its
                  VmRSS; prints start, peak, end and growth per phase
  fuzz <target|all> [seconds] [--runs N] [--max-len N] [--merge]
                  build the fuzz targets of fuzz/ (`cargo fuzz build
                  -s none`; cargo-fuzz is installed with `cargo install`
                  as root on Debian, else the command is printed) and
                  run libFuzzer on each, one after another, for
                  [seconds] (default 60) or, with --runs, N executions
                  each (the campaign: prints a Markdown table of
                  execs, seconds, exec/s, crashes). Starts from the
                  committed seeds fuzz/corpus/<target>/, keeps new
                  inputs in fuzz/corpus-run/<target>/ (not committed;
                  --merge adds those that reach new code to the
                  seeds), findings in fuzz/artifacts/<target>/; per
                  input: 10 s timeout, 2048 MB RSS, the largest input
                  per target (--max-len overrides it). A finding fails
                  the command and prints how to reproduce it. Targets:
                  the [[bin]]s of fuzz/Cargo.toml (see fuzz/README.md)
  pytest          the pywf step of test alone
  fuzz-smoke      the fuzz steps of test alone (fmt check, clippy,
                  build, 10 s per target), with their times
  cycles          the module-cycle check alone: no module cycle in
                  wf-core's net tree nor inside a protocol crate
                  (also a step of `test`)
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
    ("etcd", "etcd-server"),
    ("etcdctl", "etcd-client"),
    ("dnsmasq", "dnsmasq-base"),
    ("dig", "dnsutils"),
];

/// Directories searched after the `PATH`: daemons such as `mariadbd` live
/// in `sbin`, often not on a normal user's `PATH` (the `testkit` crate
/// searches the same ones).
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// The features of the `wf` facade, each built alone by `cargo xtask test`.
const FACADE_FEATURES: &[&str] = &["timer", "net", "tls", "http", "redis", "mysql", "fileio", "tracing", "etcd", "srv"];

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
        name: "redis-cluster",
        bin: "redis_cluster",
        helpers: &[],
        tools: &["taskset", "redis-server", "redis-cli"],
    },
    Bench {
        name: "mysql",
        bin: "mysql",
        helpers: &[],
        tools: &["taskset", "mariadbd", "mariadb-install-db", "mariadb"],
    },
    Bench { name: "upstream", bin: "upstream", helpers: &[], tools: &[] },
    Bench { name: "udp", bin: "udp", helpers: &[], tools: &[] },
    Bench { name: "algo", bin: "algo", helpers: &[], tools: &[] },
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") | Some("ci") => test(),
        Some("msrv") => msrv(),
        Some("bench") => bench(&args[1..]),
        Some("cycles") => cycles::check(&root()),
        Some("leakcheck") => leakcheck::leakcheck(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("fuzz-smoke") => fuzz_smoke(),
        Some("pytest") => python::test(),
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
    fuzz::ensure_cargo_fuzz()?;
    let mut steps = Steps::default();
    let r = test_steps(&mut steps);
    steps.report();
    r?;
    eprintln!("\n=== xtask: all checks passed");
    Ok(())
}

fn test_steps(steps: &mut Steps) -> Result<(), String> {
    steps.time("cargo fmt --check", || {
        run("cargo fmt --check", cargo().args(["fmt", "--all", "--", "--check"]))?;
        fuzz::fmt_check()
    })?;
    steps.run(
        "cargo clippy",
        cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]),
    )?;
    steps.run("cargo test", cargo().args(["test", "--workspace", "--locked", "--exclude", "benches"]))?;
    steps.time("pywf: pytest on each CPython 3.9-3.13", python::test)?;
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
    steps.run("facade with `full`", &mut facade(&["--features", "full"]))?;
    steps.time("MSRV", msrv)?;
    steps.time("module cycles", || cycles::check(&root()))?;
    // Last: the slowest of the extra steps, and independent of the others.
    fuzz::smoke(steps)
}

/// The fuzz steps of `cargo xtask test` alone, timed the same way.
fn fuzz_smoke() -> Result<(), String> {
    fuzz::ensure_cargo_fuzz()?;
    let mut steps = Steps::default();
    let r = steps.time("cargo fmt --check (fuzz crate)", fuzz::fmt_check).and_then(|()| fuzz::smoke(&mut steps));
    steps.report();
    r
}

fn bench(args: &[String]) -> Result<(), String> {
    let names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
    let Some(name) = args.first() else {
        return Err(format!("which benchmark? one of: {}, python", names.join(", ")));
    };
    if name == "python" {
        for tool in ["taskset", "wrk"] {
            ensure_tool(tool)?;
        }
        return python::bench(&args[1..]);
    }
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
        "valgrind" => "valgrind",
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

/// The MSRV step of `cargo xtask test`.
///
/// Only the installed toolchain can run here (no 1.85 compiler can be
/// fetched), so the check is what can be known without one:
/// * every workspace crate declares a `rust-version` (clippy's
///   `incompatible_msrv` lint, on in the workspace's lints, reads it and
///   flags std APIs newer than it in the clippy step), and every published
///   crate declares the workspace's;
/// * no package in a crate's build graph (its dependencies of every kind,
///   then theirs, for this machine's platform, from `cargo metadata`)
///   declares a newer `rust-version` than that crate.
///
/// Language features newer than the MSRV are not caught: the compiler is
/// the installed one, and the step says so.
fn msrv() -> Result<(), String> {
    eprintln!("\n=== xtask: MSRV");
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let declared = workspace_rust_version(&manifest).ok_or("no rust-version in [workspace.package]")?;
    let lint_on = manifest.lines().any(|l| {
        l.replace(' ', "") == "incompatible_msrv=\"warn\"" || l.replace(' ', "") == "incompatible_msrv=\"deny\""
    });
    if !lint_on {
        return Err("Cargo.toml: [workspace.lints.clippy] must set incompatible_msrv to \"warn\" or \"deny\"".into());
    }

    let host = host_triple()?;
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--locked", "--filter-platform", &host])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| "cargo metadata: output is not UTF-8")?;
    let meta = Json::parse(&text).map_err(|e| format!("cargo metadata: {e}"))?;

    struct Package<'a> {
        name: &'a str,
        version: &'a str,
        rust_version: Option<Version>,
        published: bool,
    }
    let mut packages = std::collections::HashMap::new();
    for p in meta.get("packages").map_or(&[][..], Json::items) {
        let field = |k: &str| p.get(k).and_then(Json::str).unwrap_or("?");
        let rust_version = p.get("rust_version").and_then(Json::str).and_then(Version::parse);
        // `publish`: null means any registry, [] means `publish = false`.
        let published = !matches!(p.get("publish"), Some(Json::Arr(regs)) if regs.is_empty());
        packages
            .insert(field("id"), Package { name: field("name"), version: field("version"), rust_version, published });
    }
    // Each package's dependencies, with whether the edge is a dev one.
    let mut deps: std::collections::HashMap<&str, Vec<(&str, bool)>> = std::collections::HashMap::new();
    let resolve = meta.get("resolve").ok_or("cargo metadata: no resolve graph")?;
    for node in resolve.get("nodes").map_or(&[][..], Json::items) {
        let id = node.get("id").and_then(Json::str).unwrap_or("?");
        let edges = node.get("deps").map_or(&[][..], Json::items).iter().flat_map(|d| {
            let pkg = d.get("pkg").and_then(Json::str).unwrap_or("?");
            d.get("dep_kinds")
                .map_or(&[][..], Json::items)
                .iter()
                .map(move |k| (pkg, k.get("kind").and_then(Json::str) == Some("dev")))
        });
        deps.entry(id).or_default().extend(edges);
    }
    let members: Vec<&str> =
        meta.get("workspace_members").map_or(&[][..], Json::items).iter().filter_map(Json::str).collect();

    let mut problems = Vec::new();
    let mut in_graph = std::collections::HashSet::new();
    for &m in &members {
        let pkg = &packages[m];
        let Some(own) = pkg.rust_version else {
            problems.push(format!("{} declares no rust-version: incompatible_msrv cannot check it", pkg.name));
            continue;
        };
        if pkg.published && own != declared {
            problems.push(format!(
                "{} is published and declares rust-version {own}, not the workspace's {declared}",
                pkg.name
            ));
        } else if own != declared {
            eprintln!("  {} (not published) declares rust-version {own} of its own", pkg.name);
        }
        // The crate's dependencies of every kind, then theirs without
        // their dev-dependencies (which a build of this crate never builds).
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<&str> = deps.get(m).into_iter().flatten().map(|&(d, _)| d).collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            in_graph.insert(id);
            let dep = &packages[id];
            if let Some(needs) = dep.rust_version.filter(|&v| v > own) {
                problems.push(format!(
                    "{} (rust-version {own}) builds {} {}, which declares rust-version {needs}",
                    pkg.name, dep.name, dep.version
                ));
            }
            stack.extend(deps.get(id).into_iter().flatten().filter(|&&(_, dev)| !dev).map(|&(d, _)| d));
        }
    }
    let undeclared = in_graph.iter().filter(|id| packages[*id].rust_version.is_none()).count();
    let rustc = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "rustc (version unknown)".into());
    eprintln!(
        "  workspace rust-version {declared}; {} crates, {} packages in their build graphs ({host}), \
         {undeclared} of them declare no rust-version",
        members.len(),
        in_graph.len()
    );
    eprintln!(
        "  NOTE: the compiler here is {rustc}, not {declared}: std APIs newer than {declared} are caught by \
         clippy's incompatible_msrv lint, language features newer than {declared} are not"
    );
    if problems.is_empty() {
        eprintln!("  no package declares a rust-version newer than the crate that builds it");
        Ok(())
    } else {
        Err(format!("MSRV:\n  {}", problems.join("\n  ")))
    }
}

/// The `rust-version` of `[workspace.package]` in the root manifest.
fn workspace_rust_version(manifest: &str) -> Option<Version> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if let Some(v) = line.strip_prefix("rust-version").filter(|_| in_package) {
            return Version::parse(v.trim_start().strip_prefix('=')?.trim().trim_matches('"'));
        }
    }
    None
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let out = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV: no host line".into())
}

/// A Rust version as `rust-version` writes it: `1.85` is `1.85.0`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u32, u32, u32);

impl Version {
    fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split('.').map(|p| p.parse::<u32>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().unwrap_or(Ok(0)).ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        parts.next().is_none().then_some(Version(major, minor, patch))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version(major, minor, 0) => write!(f, "{major}.{minor}"),
            Version(major, minor, patch) => write!(f, "{major}.{minor}.{patch}"),
        }
    }
}

/// A JSON value: just enough of a parser to read `cargo metadata` without
/// leaving the standard library.
enum Json {
    Null,
    Bool,
    Num,
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = JsonParser { s: text.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i == p.s.len() { Ok(v) } else { Err(format!("JSON: trailing data at byte {}", p.i)) }
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of an array; nothing for any other value.
    fn items(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            _ => &[],
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("JSON: {what} at byte {}", self.i))
    }

    fn eat(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected `{}`", b as char))
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err("unknown literal")
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.eat(b':')?;
                    fields.push((key, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return self.err("expected `,` or `}`"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return self.err("expected `,` or `]`"),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool),
            Some(b'f') => self.literal("false", Json::Bool),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                while self.s.get(self.i).is_some_and(|b| b"+-.eE0123456789".contains(b)) {
                    self.i += 1;
                }
                Ok(Json::Num)
            }
            _ => self.err("expected a value"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return self.err("expected a string");
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else { return self.err("unterminated string") };
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).or_else(|_| self.err("string is not UTF-8")),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else { return self.err("unterminated escape") };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        _ => return self.err("unknown escape"),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(b),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.s.get(self.i..self.i + 4).and_then(|d| std::str::from_utf8(d).ok());
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("bad \\u escape"),
        }
    }
}
