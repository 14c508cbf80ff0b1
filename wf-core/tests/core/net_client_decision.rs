//! A third-party protocol's decisions: `on_reply` retries or redirects a
//! task, or fails it, and the machine does the rest (attempt counts,
//! `retry_max`, `redirect_max`, the URL the reply came from).
#![cfg(feature = "net")]

use std::sync::mpsc;

use crate::support::net::{echo_server, tlv_url};
use crate::support::recv;
use wf_core::net::tlv::{Tlv, TlvCodec, TlvMessage};
use wf_core::net::{ClientOptions, ClientProtocol, Next, Protocol, Uri, create_client_task};
use wf_core::{Error, State};

/// TLV whose replies say what to do next: `again` (retry, asking `ok`),
/// `go:<url>` (redirect there, asking `ok`), `deny` (fail), else done.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Decisive(Tlv);

impl Protocol for Decisive {
    type Request = TlvMessage;
    type Response = TlvMessage;
    fn schemes(&self) -> &'static [&'static str] {
        &["tlv"]
    }
}

impl ClientProtocol for Decisive {
    type ClientCodec = TlvCodec;
    type Handshake = ();
    fn client_codec(&self) -> TlvCodec {
        self.0.client_codec()
    }
    fn handshake(&self, _uri: &Uri, _opts: &ClientOptions) -> Result<(), Error> {
        Ok(())
    }
    fn on_reply(&self, req: &mut TlvMessage, resp: &TlvMessage, _uri: &Uri, may_redirect: bool) -> Next {
        let said = String::from_utf8_lossy(resp.value()).into_owned();
        if said == "again" {
            req.set_value("ok");
            return Next::Retry;
        }
        if let Some(url) = said.strip_prefix("go:") {
            if may_redirect {
                req.set_value("ok");
            }
            return Next::Redirect(Uri::parse(url).unwrap());
        }
        if said == "deny" {
            return Next::Fail(Error::task(10_050));
        }
        Next::Done
    }
}

fn run(url: &str, value: &str, retry_max: u32, redirect_max: u32) -> (State, String, u32, String) {
    let (tx, rx) = mpsc::channel();
    let mut t = create_client_task(Decisive::default(), url, retry_max, move |t| {
        let value = String::from_utf8_lossy(t.resp().value()).into_owned();
        tx.send((t.state(), value, t.redirects(), t.uri().unwrap().as_str().to_owned())).unwrap();
    });
    t.options_mut().set_redirect_max(redirect_max);
    t.req_mut().set_value(value.to_owned());
    t.start();
    recv(&rx)
}

#[test]
fn retry_asks_again_within_retry_max() {
    let (server, addr) = echo_server();
    let (state, value, ..) = run(&tlv_url(addr), "again", 1, 0);
    assert_eq!((state, value.as_str()), (State::Success, "ok"));
    // With no retry left, the reply that asked for one is the task's.
    let (state, value, ..) = run(&tlv_url(addr), "again", 0, 0);
    assert_eq!((state, value.as_str()), (State::Success, "again"));
    server.stop();
}

#[test]
fn redirect_follows_to_another_url_within_redirect_max() {
    let (first, a) = echo_server();
    let (second, b) = echo_server();
    let to = tlv_url(b);
    let (state, value, redirects, uri) = run(&tlv_url(a), &format!("go:{to}"), 0, 1);
    assert_eq!((state, value.as_str(), redirects), (State::Success, "ok", 1));
    assert!(uri.starts_with(&to), "{uri} came from {to}");
    // redirect_max 0: the redirecting reply is the task's.
    let (state, value, redirects, _) = run(&tlv_url(a), &format!("go:{to}"), 0, 0);
    assert_eq!((state, value, redirects), (State::Success, format!("go:{to}"), 0));
    first.stop();
    second.stop();
}

#[test]
fn fail_fails_the_task() {
    let (server, addr) = echo_server();
    let (tx, rx) = mpsc::channel();
    let mut t = create_client_task(Decisive::default(), &tlv_url(addr), 3, move |t| {
        tx.send((t.state(), t.error_code())).unwrap();
    });
    t.req_mut().set_value("deny");
    t.start();
    assert_eq!(recv(&rx), (State::TaskError, 10_050));
    server.stop();
}
