//! Tutorial 16: graceful restart. An HTTP server that, on SIGHUP, starts
//! a new process of itself on the same listening socket and, once that
//! one serves, drains its own connections and exits: no request fails
//! and no connection is refused across the restart (a new binary in
//! place of the old one is picked up this way).
//!
//! `cargo run -p examples --bin graceful_restart -- 8888` (0 picks a free
//! port), then `curl http://127.0.0.1:8888/` (`/slow` answers after 200 ms)
//! and `kill -HUP <pid>`: the replies now name the new process. SIGTERM
//! or SIGINT (Ctrl-C) stops the process gracefully; standard input is
//! not read.
//!
//! Workflow's tutorial keeps the listening socket in a bootstrap parent
//! that starts servers as children; here the server itself hands over its
//! socket (`wf::net::handoff`), so no supervisor process stays behind.

#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use wf::http::{HttpServer, HttpServerTask};
use wf::net::handoff;
use wf::series_of;
use wf::signal::Shutdown;

/// How long a new process may take to serve before the restart is given
/// up (the old process then keeps serving).
const READY_TIMEOUT: Duration = Duration::from_secs(10);

fn process(task: &mut HttpServerTask) {
    let slow = task.req().request_uri() == "/slow";
    let resp = task.resp_mut();
    resp.set_status_code(200);
    resp.add_header("Content-Type", "text/plain");
    resp.append_body(format!("served by pid {}\n", std::process::id()));
    if slow {
        // The reply waits for the timer: a request in flight at a restart
        // is answered by the process that read it.
        series_of(task).push_back(wf::timer::create_timer_task(Duration::from_millis(200), |_| {}));
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1);
}

fn main() {
    // First, so that a signal during start-up is not lost.
    if let Err(e) = wf::signal::install_restart_handler() {
        fail("cannot handle signals", e);
    }
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8888);
    // The socket a predecessor handed over, or a new one.
    let listener = match handoff::inherited_listener() {
        Ok(Some(l)) => l,
        Ok(None) => TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| fail("cannot listen", e)),
        Err(e) => fail("cannot take the inherited socket", e),
    };
    // Kept to hand over at the next restart.
    let kept = listener.try_clone().unwrap_or_else(|e| fail("cannot keep the socket", e));
    let addr = listener.local_addr().unwrap_or_else(|e| fail("no address", e));
    let server = HttpServer::new(process);
    if let Err(e) = server.serve(listener) {
        fail("cannot serve", e);
    }
    println!("graceful_restart listening on {addr} (pid {}); restart with SIGHUP", std::process::id());
    // A predecessor, if any, drains and exits now.
    if let Err(e) = handoff::notify_ready() {
        eprintln!("cannot tell the old process ({e}); it stops on its timeout");
    }
    loop {
        match wf::signal::wait_for_shutdown() {
            Ok(Shutdown::Restart) => {
                let mut cmd = Command::new(std::env::current_exe().unwrap_or_else(|e| fail("no executable", e)));
                cmd.args(std::env::args_os().skip(1));
                match handoff::spawn_successor(&kept, cmd, READY_TIMEOUT) {
                    Ok(child) => {
                        println!("SIGHUP: pid {} serves now; draining", child.id());
                        break;
                    }
                    Err(e) => eprintln!("SIGHUP: restart failed ({e}); still serving"),
                }
            }
            Ok(signal) => {
                println!("{signal}: stopping");
                break;
            }
            Err(e) => {
                eprintln!("cannot wait for signals ({e}): stopping");
                break;
            }
        }
    }
    drop(kept);
    // Stops accepting (the new process accepts from the same socket),
    // closes idle connections, answers what was read, each connection's
    // last reply saying `Connection: close`.
    server.stop();
}
