//! The Python steps: build the `pywf` extension once (one abi3 wheel, with
//! maturin) and run its pytest suite on every CPython 3.9–3.13 found.
//!
//! Interpreters are looked for as `python3.X` on the `PATH` and in pyenv's
//! versions (`$PYENV_ROOT`, else `~/.pyenv`); each is checked by running
//! it. Each gets a virtual environment under `target/pywf/`, where pip
//! installs pytest (and, in the first, maturin) when missing. The TLS
//! tests get a CA and a server certificate made by testkit's `pki`
//! example (directory in `PYWF_TEST_TLS_DIR`). Each pytest run is bounded
//! ([`PYTEST_TIMEOUT`]): a test that hangs fails the step, it does not
//! hang CI.

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{root, run, target_dir};

/// The longest one interpreter's pytest run may take (the whole suite
/// takes a minute or two).
const PYTEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Past the timeout, how long pytest gets to stop on SIGINT (its report
/// then shows where it was) before it and what it started are killed.
const PYTEST_GRACE: Duration = Duration::from_secs(20);

/// The CPython minor versions the wheel supports and the suite runs on.
const MINORS: &[u32] = &[9, 10, 11, 12, 13];

/// `(3, minor)` of the interpreter at `exe`, if it runs.
fn version_of(exe: &Path) -> Option<(u32, u32)> {
    let out = Command::new(exe)
        .args(["-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace();
    if it.next()? != "cpython" {
        return None;
    }
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Every CPython 3.9–3.13 found, one per minor version (pyenv's own
/// installs first: its shims on the `PATH` may point elsewhere).
pub(crate) fn interpreters() -> BTreeMap<u32, PathBuf> {
    let mut candidates = Vec::new();
    let pyenv = env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(versions) = pyenv.map(|p| p.join("versions")) {
        if let Ok(dir) = std::fs::read_dir(&versions) {
            let mut dirs: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
            dirs.sort();
            for d in dirs {
                for m in MINORS {
                    candidates.push(d.join("bin").join(format!("python3.{m}")));
                }
            }
        }
    }
    let path = env::var_os("PATH").unwrap_or_default();
    for dir in env::split_paths(&path) {
        for m in MINORS {
            candidates.push(dir.join(format!("python3.{m}")));
        }
    }
    let mut found = BTreeMap::new();
    for exe in candidates {
        if !exe.is_file() {
            continue;
        }
        if let Some((3, minor)) = version_of(&exe) {
            if MINORS.contains(&minor) {
                found.entry(minor).or_insert(exe);
            }
        }
    }
    found
}

/// The virtual environment for Python 3.`minor`, created if missing; its
/// interpreter.
fn venv(minor: u32, base: &Path) -> Result<PathBuf, String> {
    let dir = target_dir().join("pywf").join(format!("venv-3.{minor}"));
    let python = dir.join("bin").join("python");
    if !python.is_file() {
        run(&format!("venv for Python 3.{minor}"), Command::new(base).args(["-m", "venv"]).arg(&dir))?;
    }
    Ok(python)
}

/// Installs `package` into the environment of `python` unless `module`
/// imports already.
fn ensure_module(python: &Path, module: &str, package: &str) -> Result<(), String> {
    let has = Command::new(python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success());
    if has {
        return Ok(());
    }
    run(&format!("pip install {package}"), Command::new(python).args(["-m", "pip", "install", "-q", package]))
}

/// Builds the abi3 wheel with maturin from `python`'s environment (debug
/// profile: the suite checks behaviour; `maturin build --release -m
/// pywf/Cargo.toml` makes the wheel to ship). Returns its path.
fn build_wheel(python: &Path, release: bool) -> Result<PathBuf, String> {
    ensure_module(python, "maturin", "maturin>=1.5,<2")?;
    let out = target_dir().join("pywf").join(if release { "wheels-release" } else { "wheels" });
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = Command::new(python);
    cmd.current_dir(root())
        .args(["-m", "maturin", "build", "-q", "-m", "pywf/Cargo.toml", "--compatibility", "linux", "-o"])
        .arg(&out)
        .arg("--interpreter")
        .arg(python);
    if release {
        cmd.arg("--release");
    }
    run("maturin build (pywf, abi3)", &mut cmd)?;
    let wheel = std::fs::read_dir(&out)
        .map_err(|e| format!("{}: {e}", out.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("maturin made no wheel")?;
    Ok(wheel)
}

/// Installs `wheel` (and pytest) into Python 3.`minor`'s environment.
fn install(minor: u32, base: &Path, wheel: &Path) -> Result<PathBuf, String> {
    let python = venv(minor, base)?;
    ensure_module(&python, "pytest", "pytest")?;
    run(
        &format!("install pywf into Python 3.{minor}"),
        Command::new(&python).args(["-m", "pip", "install", "-q", "--force-reinstall", "--no-deps"]).arg(wheel),
    )?;
    Ok(python)
}

/// The step of `cargo xtask test`: one wheel, pytest on every interpreter.
pub(crate) fn test() -> Result<(), String> {
    let found = interpreters();
    let Some((&first, base)) = found.iter().next() else {
        return Err("no CPython 3.9-3.13 found (python3.X on the PATH or in pyenv); at least one is needed".into());
    };
    eprintln!(
        "\n=== xtask: Python interpreters: {}",
        found.iter().map(|(m, p)| format!("3.{m} ({})", p.display())).collect::<Vec<_>>().join(", ")
    );
    let builder = venv(first, base)?;
    let wheel = build_wheel(&builder, false)?;
    let tls = test_certificates()?;
    let mut ran = Vec::new();
    for (&minor, base) in &found {
        let python = install(minor, base, &wheel)?;
        run_bounded(
            &format!("pytest pywf on Python 3.{minor}"),
            Command::new(&python).current_dir(root().join("pywf")).env("PYWF_TEST_TLS_DIR", &tls).args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests",
            ]),
            PYTEST_TIMEOUT,
            PYTEST_GRACE,
        )?;
        ran.push(format!("3.{minor}"));
    }
    eprintln!("\n=== xtask: pywf suite passed on Python {}", ran.join(", "));
    Ok(())
}

/// A new CA and a server certificate it signed for `localhost` and
/// `127.0.0.1` (testkit's `Pki`, through its `pki` example), as
/// `ca.pem`, `cert.pem` and `key.pem` in `target/pywf/tls`; that directory.
fn test_certificates() -> Result<PathBuf, String> {
    let dir = target_dir().join("pywf").join("tls");
    run(
        "certificates for the pywf TLS tests (testkit's Pki)",
        crate::cargo().args(["run", "-q", "--locked", "-p", "testkit", "--example", "pki", "--"]).arg(&dir),
    )?;
    Ok(dir)
}

/// Like [`run`], but the command gets at most `timeout`: then it is sent
/// SIGINT and, if it is still running `grace` later, it and every process
/// it started (as found then) are killed; the step fails saying so.
fn run_bounded(step: &str, cmd: &mut Command, timeout: Duration, grace: Duration) -> Result<(), String> {
    eprintln!("\n=== xtask: {step}");
    let mut child = cmd.spawn().map_err(|e| format!("{step}: cannot run: {e}"))?;
    let wait = |child: &mut std::process::Child, until: Instant| -> Result<Option<std::process::ExitStatus>, String> {
        loop {
            if let Some(status) = child.try_wait().map_err(|e| format!("{step}: {e}"))? {
                return Ok(Some(status));
            }
            if Instant::now() >= until {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    if let Some(status) = wait(&mut child, Instant::now() + timeout)? {
        return if status.success() { Ok(()) } else { Err(format!("{step} failed ({status})")) };
    }
    let pid = child.id();
    // Found before the SIGINT: what the command started may outlive it.
    let tree = descendants(pid);
    eprintln!("\n=== xtask: {step}: still running after {} s: SIGINT", timeout.as_secs());
    signal("-INT", &[(pid, start_time(pid))]);
    let stopped = wait(&mut child, Instant::now() + grace)?.is_some();
    if !stopped {
        signal("-KILL", &[(pid, start_time(pid))]);
    }
    let mut rest = tree;
    rest.extend(descendants(pid));
    signal("-KILL", &rest);
    let _ = child.wait();
    Err(format!(
        "{step}: no result within {} s: {}; the processes it started were killed (a test hangs: see the output above)",
        timeout.as_secs(),
        if stopped { "stopped by SIGINT" } else { "killed" }
    ))
}

/// Every process below `pid` now, each with its start time (so that a
/// number reused later is not taken for it), from `/proc`.
fn descendants(pid: u32) -> Vec<(u32, Option<u64>)> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if let Some((ppid, start)) = stat(p) {
                parent_of.push((p, ppid, start));
            }
        }
    }
    let mut found: Vec<(u32, Option<u64>)> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, ppid, start) in &parent_of {
            if ppid == parent && !found.iter().any(|&(f, _)| f == p) {
                found.push((p, Some(start)));
                frontier.push(p);
            }
        }
    }
    found
}

/// The parent and start time (clock ticks since boot) of process `pid`,
/// from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name, in parentheses, may hold spaces and parentheses: the
    // fields are counted after the last `)` (state is field 3).
    let fields: Vec<&str> = text.get(text.rfind(')')? + 1..)?.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(_, start)| start)
}

/// Sends `sig` (`-INT`, `-KILL`) to those of `procs` still running as the
/// same process (same start time), with `kill(1)`.
fn signal(sig: &str, procs: &[(u32, Option<u64>)]) {
    let live: Vec<String> = procs
        .iter()
        .filter(|&&(p, start)| start.is_none() || start_time(p) == start)
        .map(|(p, _)| p.to_string())
        .collect();
    if !live.is_empty() {
        let _ = Command::new("kill").arg(sig).arg("--").args(&live).status();
    }
}

/// A virtual environment for benchmarks, `target/pywf/<name>`, made with
/// `base` if missing; its interpreter.
fn bench_venv(name: &str, base: &Path) -> Result<PathBuf, String> {
    let dir = target_dir().join("pywf").join(name);
    let python = dir.join("bin").join("python");
    if !python.is_file() {
        run(&format!("venv {name}"), Command::new(base).args(["-m", "venv"]).arg(&dir))?;
    }
    Ok(python)
}

/// `cargo xtask bench python`: pywf (a release wheel) vs pyworkflow 0.0.10
/// (PyPI's cp39 wheel, in an environment of its own: both import as
/// `pywf`) vs aiohttp, all on CPython 3.9 (pyworkflow's newest), with the
/// same programs in Rust on wf as the floor; see benches/python/bench.py.
pub(crate) fn bench(args: &[String]) -> Result<(), String> {
    let found = interpreters();
    let base = found.get(&9).ok_or("Python 3.9 is needed (pyworkflow 0.0.10 ships wheels up to cp39 only)")?;
    run(
        "build wf's hello-world and echo servers and the Rust client loop (release)",
        crate::cargo().args([
            "build",
            "--release",
            "--locked",
            "-p",
            "examples",
            "--bin",
            "helloworld",
            "--bin",
            "http_echo_server",
            "-p",
            "benches",
            "--bin",
            "client_loop_wf",
        ]),
    )?;
    let wf = bench_venv("bench-pywf", base)?;
    ensure_module(&wf, "aiohttp", "aiohttp")?;
    let wheel = build_wheel(&wf, true)?;
    run(
        "install pywf (release) for the benchmark",
        Command::new(&wf).args(["-m", "pip", "install", "-q", "--force-reinstall", "--no-deps"]).arg(&wheel),
    )?;
    let pyworkflow = bench_venv("bench-pyworkflow", base)?;
    let has = Command::new(&pyworkflow)
        .args(["-c", "import importlib.metadata as m; assert m.version('pywf') == '0.0.10'"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        run(
            "pip install pywf==0.0.10 (pyworkflow)",
            Command::new(&pyworkflow).args(["-m", "pip", "install", "-q", "pywf==0.0.10"]),
        )?;
    }
    let release = target_dir().join("release");
    let hello = release.join("helloworld");
    run(
        "bench python",
        Command::new(&wf)
            .arg(root().join("benches").join("python").join("bench.py"))
            .arg("--pywf")
            .arg(&wf)
            .arg("--pyworkflow")
            .arg(&pyworkflow)
            .arg("--aiohttp")
            .arg(&wf)
            .arg("--hello")
            .arg(&hello)
            .arg("--echo-rust")
            .arg(release.join("http_echo_server"))
            .arg("--client-rust")
            .arg(release.join("client_loop_wf"))
            .args(args),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command past its time fails the step, and what it started is
    /// killed with it (here a shell ignoring SIGINT and its `sleep`).
    #[test]
    fn a_hung_command_is_stopped_with_what_it_started() {
        let dir = env::temp_dir().join(format!("xtask-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("pid");
        let script = format!("trap '' INT; sleep 600 & echo $! > {}; wait", pidfile.display());
        let r = run_bounded(
            "hung",
            Command::new("sh").args(["-c", &script]),
            Duration::from_secs(2),
            Duration::from_millis(500),
        );
        let e = r.unwrap_err();
        assert!(e.contains("no result within") && e.contains("killed"), "{e}");
        let sleeper: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // Killed: gone, or a zombie until its new parent reaps it. A
        // process sent SIGKILL still shows as running until the kernel
        // schedules it to die, so give it a moment (a `sleep 600` left
        // alive fails here after 10 s).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut state;
        loop {
            state = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).ok();
            let alive =
                state.as_deref().and_then(|s| s.get(s.rfind(')')? + 2..)?.chars().next()).is_some_and(|c| c != 'Z');
            if !alive || std::time::Instant::now() >= deadline {
                assert!(!alive, "the grandchild still runs: {state:?}");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_command_in_time_gives_its_status() {
        let never = Duration::from_secs(600);
        assert!(run_bounded("true", &mut Command::new("true"), never, never).is_ok());
        let e = run_bounded("false", &mut Command::new("false"), never, never).unwrap_err();
        assert!(e.starts_with("false failed"), "{e}");
    }
}
