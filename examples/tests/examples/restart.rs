//! Tutorial 16, `graceful_restart`: keep-alive clients run across a
//! SIGHUP restart and no request fails; the new process serves, the old
//! one exits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use wf::State;
use wf::http::create_http_task;

use crate::daemon::{Daemon, request};

/// When a request finished, and the pid that answered it (or the error).
type Answer = (Instant, Result<u32, String>);

/// Kills a process that is not our child (the new server, whose parent
/// exits) when the test ends, passed or failed.
struct KillOnDrop(Option<libc::pid_t>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Whether process `pid` runs (an exited one not reaped yet, a zombie,
/// does not: its new parent may be slow to reap it).
fn alive(pid: libc::pid_t) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last parenthesis.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// One request through wf's client (keep-alive, pooled connections, no
/// retries): the pid in the reply, or what went wrong. A GET is sent
/// again on a new connection when its pooled one turns out closed; a
/// POST never is once written (it is not idempotent), so a connection the
/// server closes under it, or a request it drops, fails it.
fn get(url: &str, post: bool) -> Result<u32, String> {
    let (tx, rx) = mpsc::channel();
    let mut task = create_http_task(url, 0, 0, move |t| {
        let r = if t.state() != State::Success {
            Err(format!("state {:?} error {}", t.state(), t.error_code()))
        } else if t.resp().status_code() != 200 {
            Err(format!("status {}", t.resp().status_code()))
        } else {
            let body = String::from_utf8_lossy(&t.resp().body()).into_owned();
            body.trim().strip_prefix("served by pid ").and_then(|p| p.parse().ok()).ok_or(body)
        };
        let _ = tx.send(r);
    });
    task.set_watch_timeout(Duration::from_secs(10));
    if post {
        task.req_mut().set_method("POST");
        task.req_mut().append_body("payload");
    }
    task.start();
    rx.recv_timeout(testkit::WAIT).unwrap_or_else(|_| Err("no callback in time".into()))
}

#[test]
fn a_restart_under_keep_alive_load_fails_no_request() {
    let mut d = Daemon::start_stdin_closed(env!("CARGO_BIN_EXE_graceful_restart"), &["0"]);
    let old = libc::pid_t::try_from(d.pid()).expect("a pid");
    let mut new_guard = KillOnDrop(None);
    let port = d.port();
    assert_eq!(get(&format!("http://127.0.0.1:{port}/"), false), Ok(d.pid()));

    // Keep-alive clients: GETs answered at once, and POSTs in flight for
    // 200 ms (the ones the old process reads are answered by it, their
    // connection's last reply saying `Connection: close`).
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (stop, seen) = (stop.clone(), seen.clone());
            let post = i % 2 == 1;
            let url = format!("http://127.0.0.1:{port}/{}", if post { "slow" } else { "" });
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    let r = get(&url, post);
                    seen.lock().unwrap().push((Instant::now(), r));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    d.signal(libc::SIGHUP);
    // The new process says it listens (with its pid), then the old one
    // that it handed over.
    let pid_in = |line: &str, prefix: &str, end: char| -> Option<libc::pid_t> {
        line.split(prefix).nth(1)?.split(end).next()?.parse().ok()
    };
    let line = d.next_line(testkit::WAIT).expect("the new process starts");
    let new = pid_in(&line, "(pid ", ')').unwrap_or_else(|| panic!("unexpected line {line:?}"));
    new_guard.0 = Some(new);
    assert_ne!(new, old);
    let line = d.next_line(testkit::WAIT).expect("the old process reports the hand-over");
    assert_eq!(pid_in(&line, "SIGHUP: pid ", ' '), Some(new), "{line:?}");
    let status = d.wait_exit();
    assert!(status.success(), "the old process exits cleanly after draining: {status}");
    let exited = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Release);
    for c in clients {
        c.join().expect("a client thread");
    }

    let seen = seen.lock().unwrap();
    let failed: Vec<_> = seen.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failed.is_empty(), "{} of {} requests failed: {failed:?}", failed.len(), seen.len());
    let by_old = seen.iter().filter(|(_, r)| *r == Ok(old as u32)).count();
    let by_new: Vec<_> = seen.iter().filter(|(_, r)| *r == Ok(new as u32)).collect();
    eprintln!("restart under load: {} requests, {by_old} by the old process, {} by the new", seen.len(), by_new.len());
    assert!(by_old > 0 && !by_new.is_empty(), "old {by_old}, new {}", by_new.len());
    assert!(by_new.iter().any(|(at, _)| *at > exited), "the new process serves after the old one exited");
    assert!(seen.iter().all(|(at, r)| *at < exited || *r == Ok(new as u32)), "only the new one after");

    // The new process answers fresh connections, and stops on SIGTERM.
    let r = request(port, "GET", "/", "");
    assert_eq!(String::from_utf8_lossy(&r.body).trim(), format!("served by pid {new}"));
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(new, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + testkit::WAIT;
    while alive(new) {
        assert!(Instant::now() < deadline, "the new process did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    new_guard.0 = None;
    assert_eq!(d.next_line(testkit::WAIT).as_deref(), Some("SIGTERM: stopping"));
}
