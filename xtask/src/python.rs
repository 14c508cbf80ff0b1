//! The Python steps: build the `pywf` extension once (one abi3 wheel, with
//! maturin) and run its pytest suite on every CPython 3.9–3.13 found.
//!
//! Interpreters are looked for as `python3.X` on the `PATH` and in pyenv's
//! versions (`$PYENV_ROOT`, else `~/.pyenv`); each is checked by running
//! it. Each gets a virtual environment under `target/pywf/`, where pip
//! installs pytest (and, in the first, maturin) when missing.

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{root, run, target_dir};

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
    let mut ran = Vec::new();
    for (&minor, base) in &found {
        let python = install(minor, base, &wheel)?;
        run(
            &format!("pytest pywf on Python 3.{minor}"),
            Command::new(&python).current_dir(root().join("pywf")).args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests",
            ]),
        )?;
        ran.push(format!("3.{minor}"));
    }
    eprintln!("\n=== xtask: pywf suite passed on Python {}", ran.join(", "));
    Ok(())
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
/// `pywf`) vs aiohttp, all on CPython 3.9 (pyworkflow's newest); see
/// benches/python/bench.py.
pub(crate) fn bench(args: &[String]) -> Result<(), String> {
    let found = interpreters();
    let base = found.get(&9).ok_or("Python 3.9 is needed (pyworkflow 0.0.10 ships wheels up to cp39 only)")?;
    run(
        "build wf's hello-world server (release)",
        crate::cargo().args(["build", "--release", "--locked", "-p", "examples", "--bin", "helloworld"]),
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
    let hello = target_dir().join("release").join("helloworld");
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
            .args(args),
    )
}
