//! The tour run as a program: every step prints, step 10 walks both
//! result sets of its MySQL query, and step 11's requests go round an
//! upstream of three servers.

use std::process::Command;

fn tour(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tour")).args(args).output().expect("the tour runs");
    assert!(out.status.success(), "the tour failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("text")
}

#[test]
fn step_10_against_mariadb() {
    let db = testkit::MariaDb::start();
    let out = tour(&["--mysql", &db.url()]);
    assert!(out.contains("== 10. MySQL"), "{out}");
    assert!(out.contains("result set 1: VERSION() | NOW(6) | 1+1"), "{out}");
    assert!(out.contains("-MariaDB"), "{out}");
    assert!(out.contains("result set 2: two results\n           two results\n"), "{out}");
    assert!(!out.contains("failed"), "{out}");
    assert!(out.contains("tour finished in"), "{out}");
}

#[test]
fn steps_10_and_11_in_process() {
    let out = tour(&[]);
    assert!(out.contains("an in-process MySQLServer"), "{out}");
    assert!(out.contains("result set 1: server | you sent"), "{out}");
    assert!(out.contains("wf MySQLServer | SELECT VERSION(), NOW(6), 1+1; SELECT 'two results'"), "{out}");
    assert!(!out.contains("failed"), "{out}");
    // Step 11: six requests through a round-robin upstream of three
    // servers, two to each.
    let step_11 = out.split("== 11.").nth(1).expect("step 11");
    for i in 1..=3 {
        assert_eq!(step_11.matches(&format!("\"backend {i}\"")).count(), 2, "{step_11}");
    }
    assert!(step_11.contains("all 6 requests answered through the upstream"), "{step_11}");
}
