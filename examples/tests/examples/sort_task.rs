//! Tutorial 07 run as a program: a sort task and a parallel sort task.

use std::process::Command;

fn sort_task(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sort_task")).args(args).output().expect("sort_task runs");
    assert!(out.status.success(), "sort_task failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("text")
}

#[test]
fn sort_and_psort() {
    let out = sort_task(&["200000"]);
    assert!(out.contains("Start sorting...\n"), "{out}");
    assert!(out.contains("sort 200000 numbers in "), "{out}");
    assert!(out.contains(": sort success"), "{out}");
    let out = sort_task(&["200000", "p"]);
    assert!(out.contains("Start sorting in parallel on "), "{out}");
    assert!(out.contains("psort 200000 numbers in "), "{out}");
    assert!(out.contains(": sort success"), "{out}");
    let out = sort_task(&["0", "p"]);
    assert!(out.contains("psort 0 numbers in "), "{out}");
    assert!(out.contains(": sort success"), "{out}");
}

#[test]
fn bad_count_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_sort_task")).arg("many").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: sort_task"));
}
