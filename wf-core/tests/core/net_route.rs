//! The route seam: a route registered under a host name decides where a
//! task's attempts go, is told how each went, and a retry never picks a
//! target this request already tried when another is left; a policy may
//! rewrite the host and delegate to DNS; the default route can be set.
#![cfg(feature = "net")]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::net::{closed_port, echo_server, tlv_task, tlv_url};
use crate::support::recv;
use wf_core::net::Uri;
use wf_core::net::route::{
    DnsRoute, Pick, Route, Routed, Target, async_trait, default_route, register_route, registered_route,
    set_default_route, unregister_route,
};
use wf_core::{Error, State, code};

/// Fixed candidates, the first untried one picked, every report logged.
struct Fixed {
    candidates: Vec<SocketAddr>,
    log: Mutex<Vec<(SocketAddr, bool)>>,
}

impl Fixed {
    fn new(candidates: Vec<SocketAddr>) -> Arc<Fixed> {
        Arc::new(Fixed { candidates, log: Mutex::default() })
    }

    fn log(&self) -> Vec<(SocketAddr, bool)> {
        self.log.lock().unwrap().clone()
    }
}

#[async_trait]
impl Route for Fixed {
    async fn route(&self, _uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        let untried = self.candidates.iter().map(|a| Target::Inet(*a)).find(|t| !pick.was_tried(t));
        untried.map(Routed::new).ok_or(Error::task(code::UPSTREAM_UNAVAILABLE))
    }

    fn report(&self, routed: &Routed, outcome: Result<(), &Error>) {
        if let Target::Inet(a) = routed.target() {
            self.log.lock().unwrap().push((*a, outcome.is_ok()));
        }
    }
}

#[test]
fn a_registered_route_decides_where_a_host_name_goes() {
    let (server, addr) = echo_server();
    let route = Fixed::new(vec![addr]);
    register_route("net-route-backend", route.clone());
    // The port in the URL is not where the task goes: the route is.
    let (mut t, rx) = tlv_task("tlv://net-route-backend:1/", 0);
    t.req_mut().set_value("via the route");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.resp.value().as_ref(), b"via the route");
    assert_eq!(route.log(), [(addr, true)]);
    assert!(unregister_route("net-route-backend"));
    assert!(!unregister_route("net-route-backend"));
    server.stop();
}

#[test]
fn a_retry_goes_to_a_target_not_tried_yet() {
    let (server, addr) = echo_server();
    let dead = closed_port();
    let route = Fixed::new(vec![dead, addr]);
    let (mut t, rx) = tlv_task("tlv://net-route-retry:1/", 1);
    t.options_mut().set_route(route.clone());
    t.req_mut().set_value("second try");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    // Refused first, then the other candidate: not the dead one again.
    assert_eq!(route.log(), [(dead, false), (addr, true)]);
    server.stop();
}

#[test]
fn no_target_left_is_upstream_unavailable() {
    let route = Fixed::new(vec![closed_port()]);
    let (mut t, rx) = tlv_task("tlv://net-route-none:1/", 3);
    t.options_mut().set_route(route.clone());
    t.start();
    let o = recv(&rx);
    // One refused attempt; the retries find nothing untried.
    assert_eq!((o.state, o.error.code()), (State::TaskError, code::UPSTREAM_UNAVAILABLE), "{}", o.error);
    assert_eq!(o.error.to_string(), "Upstream Unavailable");
    assert_eq!(route.log().len(), 1);
}

/// A name-service policy that rewrites its name to a fixed address and
/// lets DNS route it, and counts what it hears.
struct Rewrite {
    port: u16,
    heard: Mutex<Vec<bool>>,
}

#[async_trait]
impl Route for Rewrite {
    async fn route(&self, _uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        DnsRoute::shared().route_to("127.0.0.1", self.port, pick).await
    }

    fn report(&self, routed: &Routed, outcome: Result<(), &Error>) {
        self.heard.lock().unwrap().push(outcome.is_ok());
        DnsRoute::shared().report(routed, outcome);
    }
}

#[test]
fn a_policy_rewrites_the_host_and_port_and_delegates_to_dns() {
    let (server, addr) = echo_server();
    let policy = Arc::new(Rewrite { port: addr.port(), heard: Mutex::default() });
    register_route("net-route-rewrite", policy.clone());
    let (mut t, rx) = tlv_task("tlv://net-route-rewrite:9/", 0);
    t.req_mut().set_value("rewritten");
    t.start();
    let o = recv(&rx);
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(o.peer, Some(addr));
    assert_eq!(*policy.heard.lock().unwrap(), [true]);
    assert!(registered_route("NET-ROUTE-REWRITE").is_some());
    assert!(unregister_route("net-route-rewrite"));
    assert!(registered_route("net-route-rewrite").is_none());
    server.stop();
}

/// A default route that delegates to DNS and counts the attempts to one
/// port (harmless to the tests running beside this one, and not counting
/// theirs).
struct CountingDefault(AtomicUsize, u16);

#[async_trait]
impl Route for CountingDefault {
    async fn route(&self, uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        if uri.port() == self.1 {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        DnsRoute::shared().route(uri, pick).await
    }
}

#[test]
fn the_default_route_can_be_replaced_and_restored() {
    let (server, addr) = echo_server();
    let counting = Arc::new(CountingDefault(AtomicUsize::new(0), addr.port()));
    set_default_route(Some(counting.clone()));
    let (t, rx) = tlv_task(&tlv_url(addr), 0);
    t.start();
    assert_eq!(recv(&rx).state, State::Success);
    assert_eq!(counting.0.load(Ordering::Relaxed), 1);
    set_default_route(None);
    // Restored: DNS again.
    let (t, rx) = tlv_task(&tlv_url(addr), 0);
    t.start();
    assert_eq!(recv(&rx).state, State::Success);
    assert_eq!(counting.0.load(Ordering::Relaxed), 1);
    assert!(std::ptr::addr_eq(Arc::as_ptr(&default_route()), Arc::as_ptr(&DnsRoute::shared())));
    server.stop();
}
