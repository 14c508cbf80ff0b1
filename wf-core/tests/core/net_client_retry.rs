//! Retries: a `SYS_ERROR` attempt is repeated at once, exactly `retry_max`
//! more times; task errors are never retried.
#![cfg(feature = "net")]

use crate::support;

use std::io::Write;
use std::time::Duration;

use support::net::{Outcome, RawServer, drain, encode, read_tlv, tlv_task};
use support::{WAIT, recv};
use wf_core::{State, TimeoutReason, code};

/// A server that closes every connection as soon as it has accepted it.
fn closing_server() -> RawServer {
    RawServer::spawn(drop)
}

fn run(url: &str, retry_max: u32) -> Outcome {
    let (mut t, rx) = tlv_task(url, retry_max);
    t.req_mut().set_value("hello?");
    t.start();
    recv(&rx)
}

fn assert_connection_failure(o: &Outcome) {
    assert_eq!(o.state, State::SysError, "{}", o.error);
    assert!([libc::ECONNRESET, libc::EPIPE, libc::ENOTCONN].contains(&o.error.code()), "{:?}: {}", o.error, o.error);
}

/// Waits a little, so that an extra attempt would have been counted.
fn settle() {
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn retry_max_three_makes_four_attempts() {
    let server = closing_server();
    let o = run(&server.url(), 3);
    assert_connection_failure(&o);
    settle();
    assert_eq!(server.accepts(), 4);
}

#[test]
fn retry_max_zero_makes_one_attempt() {
    let server = closing_server();
    let o = run(&server.url(), 0);
    assert_connection_failure(&o);
    settle();
    assert_eq!(server.accepts(), 1);
}

#[test]
fn task_error_is_not_retried() {
    let server = closing_server();
    let url = format!("http://{}/", server.addr());
    let o = run(&url, 3);
    assert_eq!((o.state, o.error.code()), (State::TaskError, code::URI_SCHEME_INVALID), "{}", o.error);
    settle();
    assert_eq!(server.accepts(), 0);
}

/// A retry succeeds when a later attempt does: the third connection is
/// answered.
#[test]
fn retry_until_success() {
    let server = RawServer::spawn({
        let n = std::sync::atomic::AtomicUsize::new(0);
        move |mut s| {
            if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                return; // close the first two
            }
            s.set_read_timeout(Some(WAIT)).unwrap();
            if let Ok(Some(req)) = read_tlv(&mut s) {
                let _ = s.write_all(&encode(req.tlv_type() + 1, req.value()));
                drain(s);
            }
        }
    });
    let o = run(&server.url(), 5);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"hello?");
    settle();
    assert_eq!(server.accepts(), 3);
}

/// A timeout is a `SYS_ERROR` too, so it is retried like any other.
#[test]
fn timeouts_are_retried() {
    let server = RawServer::spawn(drain);
    let (mut t, rx) = tlv_task(&server.url(), 2);
    t.set_watch_timeout(Duration::from_millis(50));
    t.start();
    let o = recv(&rx);
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ETIMEDOUT), "{}", o.error);
    assert_eq!(o.error.timeout_reason(), TimeoutReason::Transmit);
    settle();
    assert_eq!(server.accepts(), 3);
}
