//! Client errors reported in the callback (never a panic): bad URLs,
//! schemes and ports (`TASK_ERROR` 1001/1002/1003), name resolution
//! failures (`DNS_ERROR`) and refused connections (`SYS_ERROR`).
#![cfg(feature = "net")]

use crate::support;

use support::net::{Outcome, closed_port, tlv_task, tlv_url};
use support::recv;
use wf_core::net::Uri;
use wf_core::net::tlv::Tlv;
use wf_core::{State, TimeoutReason, code};

fn run(url: &str) -> Outcome {
    let (mut t, rx) = tlv_task(url, 0);
    t.req_mut().set_value("x");
    t.start();
    recv(&rx)
}

fn assert_task_error(url: &str, expected: i32, text: &str) {
    let o = run(url);
    assert_eq!((o.state, o.error.code()), (State::TaskError, expected), "{url}: {:?}", o.error);
    assert_eq!(o.error.to_string(), text, "{url}");
    assert_eq!(o.error.timeout_reason(), TimeoutReason::NotTimeout);
    assert_eq!(o.peer, None, "{url}");
    assert_eq!(o.resp, Default::default(), "{url}");
}

#[test]
fn unparsable_url() {
    assert_task_error("not a url", code::URI_PARSE_FAILED, "URI Parse Failed");
    assert_task_error("", code::URI_PARSE_FAILED, "URI Parse Failed");
    assert_task_error("tlv://:80", code::URI_PARSE_FAILED, "URI Parse Failed");
}

#[test]
fn scheme_of_another_protocol() {
    assert_task_error("http://127.0.0.1:1/", code::URI_SCHEME_INVALID, "URI Scheme Invalid");
    assert_task_error("redis://127.0.0.1:1/", code::URI_SCHEME_INVALID, "URI Scheme Invalid");
}

#[test]
fn bad_ports() {
    assert_task_error("tlv://127.0.0.1:99999", code::URI_PORT_INVALID, "URI Port Invalid");
    assert_task_error("tlv://127.0.0.1:0", code::URI_PORT_INVALID, "URI Port Invalid");
    assert_task_error("tlv://127.0.0.1:http", code::URI_PORT_INVALID, "URI Port Invalid");
    // TLV has no default port: a URL without one cannot be used.
    assert_task_error("tlv://127.0.0.1", code::URI_PORT_INVALID, "URI Port Invalid");
    assert_task_error("tlv://127.0.0.1/", code::URI_PORT_INVALID, "URI Port Invalid");
}

#[test]
fn the_uri_is_kept_only_when_it_parsed() {
    let (t, _rx) = tlv_task("not a url", 0);
    assert!(t.kind().uri().is_none());
    let (t, _rx) = tlv_task("tlv://127.0.0.1:7", 0);
    assert_eq!(t.kind().uri(), Some(&Uri::parse("tlv://127.0.0.1:7").unwrap()));
}

#[test]
fn unknown_host_is_a_dns_error() {
    let o = run("tlv://nonexistent.invalid:9");
    assert_eq!(o.state, State::DnsError, "{:?}", o.error);
    assert_ne!(o.error.code(), 0);
    let text = o.error.to_string();
    assert!(!text.is_empty() && text != "Unknown error", "{text:?}");
    assert_eq!(text, wf_core::get_error_string(State::DnsError, o.error.code()));
    assert_eq!(o.peer, None);
}

#[test]
fn connection_refused() {
    let addr = closed_port();
    let o = run(&tlv_url(addr));
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNREFUSED), "{:?}", o.error);
    assert_eq!(o.error.to_string(), "Connection refused");
    assert_eq!(o.error.timeout_reason(), TimeoutReason::NotTimeout);
}

/// A refused connection is a `SYS_ERROR`, so it is retried; the outcome
/// is the same.
#[test]
fn connection_refused_with_retries() {
    let addr = closed_port();
    let o = {
        let (mut t, rx) = tlv_task(&tlv_url(addr), 2);
        t.req_mut().set_value("x");
        t.start();
        recv(&rx)
    };
    assert_eq!((o.state, o.error.code()), (State::SysError, libc::ECONNREFUSED), "{:?}", o.error);
}

/// Many failing tasks at once: every callback runs exactly once.
#[test]
fn every_callback_runs() {
    let refused = tlv_url(closed_port());
    let urls = ["not a url", "http://127.0.0.1:1/", "tlv://127.0.0.1:99999", "tlv://127.0.0.1", refused.as_str()];
    let rxs: Vec<_> = (0..10)
        .flat_map(|_| urls.iter())
        .map(|url| {
            let (t, rx) = tlv_task(url, 0);
            t.start();
            rx
        })
        .collect();
    for rx in &rxs {
        let o = recv(rx);
        assert_ne!(o.state, State::Success);
        assert!(rx.recv_timeout(std::time::Duration::from_millis(1)).is_err(), "a callback ran twice");
    }
}

/// `Tlv::with_size_limit` refuses larger replies: `SYS_ERROR`/`EMSGSIZE`.
#[test]
fn reply_over_the_size_limit() {
    let (server, addr) = support::net::echo_server();
    let (tx, rx) = std::sync::mpsc::channel();
    for (value, limit) in [("0123456789", 4), ("0123", 4)] {
        let tx = tx.clone();
        let url = tlv_url(addr);
        let mut t = wf_core::net::create_client_task(Tlv::with_size_limit(limit), &url, 0, move |t| {
            tx.send(support::net::outcome_of(t)).unwrap();
        });
        t.req_mut().set_value(value);
        t.start();
        let o = recv(&rx);
        if value.len() > limit {
            assert_eq!((o.state, o.error.code()), (State::SysError, libc::EMSGSIZE), "{value}: {}", o.error);
        } else {
            assert_eq!(o.state, State::Success, "{value}: {}", o.error);
            assert_eq!(o.resp.value().as_ref(), value.as_bytes());
        }
    }
    server.stop();
}
