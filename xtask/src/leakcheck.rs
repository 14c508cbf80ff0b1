//! `cargo xtask leakcheck`: wf's dismiss tests and a short in-process
//! server load under valgrind, failing on any byte definitely lost; and
//! `cargo xtask leakcheck rss`: a server's RSS over a long keep-alive load
//! and many connect/close cycles.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::{Json, cargo, ensure_tool, root, run, target_dir};

/// valgrind's exit code when it found an error (a definite leak).
const LEAK_EXIT: i32 = 99;

/// Requests the load program makes under valgrind (of each kind).
const LOAD_REQUESTS: &str = "2000";

pub(crate) fn leakcheck(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        None => valgrind_checks(),
        Some("rss") => rss(&args[1..]),
        Some(other) => Err(format!("leakcheck: unknown mode `{other}` (none, or `rss`)")),
    }
}

fn valgrind_checks() -> Result<(), String> {
    ensure_tool("valgrind")?;
    let dismiss = test_binary("wf", "memory_dismiss")?;
    run("build the load program", cargo().args(["build", "--locked", "-p", "wf", "--example", "memory_load"]))?;
    let load = target_dir().join("debug").join("examples").join("memory_load");
    let mut failures = Vec::new();
    for (what, exe, args) in [
        ("dismiss tests", dismiss, vec!["--test-threads=1".to_owned()]),
        ("server load", load, vec!["load".to_owned(), LOAD_REQUESTS.to_owned()]),
    ] {
        if let Err(e) = under_valgrind(what, &exe, &args) {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        eprintln!("\n=== xtask: leakcheck: nothing definitely lost");
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The path of integration test `test` of `package`, built first.
fn test_binary(package: &str, test: &str) -> Result<PathBuf, String> {
    eprintln!("\n=== xtask: build {package}'s test `{test}`");
    let out = cargo()
        .args(["test", "--locked", "-p", package, "--test", test, "--no-run", "--message-format=json"])
        .output()
        .map_err(|e| format!("cargo test --no-run: {e}"))?;
    if !out.status.success() {
        return Err(format!("building {package}'s test `{test}` failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = Json::parse(line) else { continue };
        let name = msg.get("target").and_then(|t| t.get("name")).and_then(Json::str);
        if msg.get("reason").and_then(Json::str) == Some("compiler-artifact") && name == Some(test) {
            if let Some(exe) = msg.get("executable").and_then(Json::str) {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    Err(format!("cargo did not name the executable of {package}'s test `{test}`"))
}

/// Runs `exe args` under valgrind's leak check; the log goes to
/// `target/leakcheck-<what>.log`, its summary to the terminal.
fn under_valgrind(what: &str, exe: &PathBuf, args: &[String]) -> Result<(), String> {
    let log = target_dir().join(format!("leakcheck-{}.log", what.replace(' ', "-")));
    let supp = root().join("xtask").join("valgrind.supp");
    eprintln!("\n=== xtask: valgrind: {what} ({})", exe.display());
    let status = Command::new("valgrind")
        .args([
            "--leak-check=full",
            "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite",
            &format!("--error-exitcode={LEAK_EXIT}"),
            &format!("--suppressions={}", supp.display()),
            &format!("--log-file={}", log.display()),
        ])
        .arg(exe)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("valgrind: {e}"))?;
    let text = fs::read_to_string(&log).unwrap_or_default();
    let summary: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("HEAP SUMMARY"))
        .filter(|l| !l.trim_end().ends_with("=="))
        .take(16)
        .collect();
    eprintln!("{}", summary.join("\n"));
    let definite = text
        .lines()
        .find_map(|l| l.split("definitely lost:").nth(1))
        .map(|rest| rest.trim().split(' ').next().unwrap_or("?").replace(',', ""));
    match (status.code(), definite.as_deref()) {
        (Some(LEAK_EXIT), _) => Err(format!("{what}: valgrind found errors or definite leaks; see {}", log.display())),
        (Some(0), Some("0") | None) => Ok(()),
        (Some(0), Some(n)) => Err(format!("{what}: {n} bytes definitely lost; see {}", log.display())),
        _ => Err(format!("{what}: the program failed under valgrind ({status}); see {}", log.display())),
    }
}

/// `leakcheck rss [REQUESTS] [CYCLES]`: the load program's `rss` mode, in
/// a release build, on core 1 (its server child on core 0).
fn rss(args: &[String]) -> Result<(), String> {
    ensure_tool("taskset")?;
    run(
        "build the load program (release)",
        cargo().args(["build", "--release", "--locked", "-p", "wf", "--example", "memory_load"]),
    )?;
    let exe = target_dir().join("release").join("examples").join("memory_load");
    run("RSS under load", Command::new("taskset").args(["-c", "1"]).arg(exe).arg("rss").args(args))
}
