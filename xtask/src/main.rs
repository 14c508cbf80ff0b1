//! Project automation, run as `cargo xtask <task>` (see `cargo xtask help`).
//!
//! Only the standard library is used, so the first `cargo xtask` on a fresh
//! machine compiles in a second or two.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const HELP: &str = "\
cargo xtask <task>

tasks:
  test            everything CI runs: fmt --check, clippy -D warnings,
                  cargo test --workspace, and a build of the `wf` facade
                  with each feature alone and with none
  ci              same as test
  bench <name>    run a benchmark from benches/ (release build); names:
                  engine
  help            this text
";

/// The features of the `wf` facade, each built alone by `cargo xtask test`.
const FACADE_FEATURES: &[&str] = &["timer", "net", "tls", "http"];

/// Benchmarks: name, binary in the `benches` package.
const BENCHES: &[(&str, &str)] = &[("engine", "engine")];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") | Some("ci") => test(),
        Some("bench") => bench(&args[1..]),
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

fn test() -> Result<(), String> {
    run("cargo fmt --check", cargo().args(["fmt", "--all", "--", "--check"]))?;
    run("cargo clippy", cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    run("cargo test", cargo().args(["test", "--workspace", "--locked", "--exclude", "benches"]))?;
    run("facade without features", cargo().args(["build", "-p", "wf", "--locked", "--no-default-features"]))?;
    for f in FACADE_FEATURES {
        run(
            &format!("facade with `{f}` alone"),
            cargo().args(["build", "-p", "wf", "--locked", "--no-default-features", "--features", f]),
        )?;
    }
    run("facade with `full`", cargo().args(["build", "-p", "wf", "--locked", "--features", "full"]))?;
    eprintln!("\n=== xtask: all checks passed");
    Ok(())
}

fn bench(args: &[String]) -> Result<(), String> {
    let names: Vec<&str> = BENCHES.iter().map(|b| b.0).collect();
    let Some(name) = args.first() else {
        return Err(format!("which benchmark? one of: {}", names.join(", ")));
    };
    let Some((_, bin)) = BENCHES.iter().find(|b| b.0 == name) else {
        return Err(format!("unknown benchmark `{name}`; one of: {}", names.join(", ")));
    };
    run("build benches", cargo().args(["build", "--release", "--locked", "-p", "benches", "--bin", bin]))?;
    let exe = root().join("target/release").join(bin);
    run(&format!("bench {name}"), Command::new(exe).args(&args[1..]))
}
