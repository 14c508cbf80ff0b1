//! `name_service` (tutorial 15) and `upstream_http` run as programs with
//! standard input closed: each runs to completion by itself and prints
//! what its policies and its upstream did.

use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `exe` with standard input closed; fails if it does not exit 0
/// within a minute. Returns its standard output.
fn run(exe: &str) -> String {
    let child = Command::new(exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("the example ends"),
        Err(_) => {
            // SAFETY: kill(2) on the child this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("{exe} did not finish within a minute");
        }
    };
    let stdout = String::from_utf8(out.stdout).expect("text");
    assert!(out.status.success(), "{exe} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The number after `label` in the line of `text` that starts with it
/// (after indentation).
fn count_of(text: &str, label: &str) -> usize {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn name_service_rewrites_and_picks_from_its_own_list() {
    let out = run(env!("CARGO_BIN_EXE_name_service"));
    // The naming policy: the aliases with the URL's port reached alpha.
    for path in ["/a", "/b", "/c"] {
        assert!(out.contains(&format!("-> alpha served {path}")), "{out}");
    }
    // `api` is rewritten with a port of its own: beta's.
    assert!(out.contains("/d -> beta served /d"), "{out}");
    // The rotation policy: all six requests answered by beta or gamma,
    // the address with no server refused once, heard, and then avoided.
    for i in 1..=6 {
        let answered = [format!("/item/{i} -> beta served"), format!("/item/{i} -> gamma served")];
        assert!(answered.iter().any(|a| out.contains(a.as_str())), "item {i}: {out}");
    }
    assert_eq!(out.matches("policy heard:").count(), 1, "{out}");
    assert!(out.contains("failed (Connection refused)"), "{out}");
    assert!(out.contains(": 0 succeeded, 1 failed"), "{out}");
    assert!(!out.contains("-> failed"), "{out}");
}

#[test]
fn upstream_http_spreads_fuses_and_recovers() {
    let out = run(env!("CARGO_BIN_EXE_upstream_http"));
    let sections: Vec<&str> = out.split("\n== ").collect();
    assert_eq!(sections.len(), 4, "{out}");
    // 1. By weight 5:3:1 over 900 requests: server1 most, server3 least.
    let spread = sections[1];
    let (s1, s2, s3) = (count_of(spread, "server1"), count_of(spread, "server2"), count_of(spread, "server3"));
    assert_eq!(s1 + s2 + s3, 900, "{spread}");
    assert!(s1 > s2 && s2 > s3 && s3 > 0, "{spread}");
    // 2. Exactly max_fails attempts refused, then server1 fused.
    let fused = sections[2];
    assert!(fused.contains("server1 fused after 3 refused attempts"), "{fused}");
    assert_eq!(count_of(fused, "server1"), 0, "{fused}");
    // 3. After the MTTR, server1 answers again; nothing failed.
    let after = sections[3].split("after the MTTR, 900 requests:").nth(1).expect("an after-MTTR part");
    assert!(count_of(after, "server1") > 0, "{after}");
    assert!(!after.contains("failed"), "{after}");
}
