//! DNS SRV discovery for wf: keeps a wf upstream's servers in step with
//! the SRV records of a name, with its own small DNS client.
//!
//! [`SrvDiscovery`] looks up `_service._proto.domain`, turns the records
//! into servers of an [`Upstream`](wf_core::upstream::Upstream) and looks
//! again when the records' TTL (clamped to bounds you choose) runs out:
//!
//! | SRV record | upstream server |
//! |---|---|
//! | lowest priority value | main |
//! | any higher priority value | backup |
//! | weight (0 taken as 1) | weight |
//! | target:port | `ip:port`, one server per address of the target |
//!
//! Requests then go to `http://UPSTREAM_NAME/...` (any protocol) and the
//! upstream picks, fuses failing servers and falls back to backups as
//! usual. A refresh that fails (no reply, no records, a broken reply)
//! keeps the last good list and logs a `tracing` warning.
//!
//! # Why a refresher, not a route
//!
//! The discovery is not itself a [`Route`](wf_core::net::route::Route)
//! resolving on a request's path: it runs on a timer and feeds an
//! upstream with [`Upstream::set_servers`](wf_core::upstream::Upstream::set_servers).
//! So a request never waits for DNS, a DNS outage never fails a request
//! while the last list works, and picking, circuit breaking and retries
//! stay the upstream's.
//!
//! # The DNS client
//!
//! [`Resolver`] asks one server (given, or the first `nameserver` of
//! `/etc/resolv.conf`) over UDP with a timeout and retries, and over TCP
//! when a reply is truncated; [`wire`] decodes replies within hard limits
//! (message and name lengths, record counts, compression pointers that
//! must point backward). Hostile replies are errors ([`DnsError`]), never
//! panics or hangs.
//!
//! ```
//! use std::time::Duration;
//! use wf_srv::SrvDiscovery;
//!
//! # let dns = testkit::Dnsmasq::builder()
//! #     .srv("_http._tcp.example.test", "a.example.test", 8080, 10, 5)
//! #     .srv("_http._tcp.example.test", "b.example.test", 8080, 20, 1)
//! #     .host("a.example.test", "127.0.0.1")
//! #     .host("b.example.test", "127.0.0.2")
//! #     .start();
//! # let dns_server = dns.addr();
//! let start = SrvDiscovery::builder("backend", "_http._tcp.example.test")
//!     .server(dns_server) // else the first nameserver of /etc/resolv.conf
//!     .ttl_bounds(Duration::from_secs(5), Duration::from_secs(300))
//!     .start();
//! // From an async fn: `start.await`.
//! let discovery = wf_core::handle().block_on(start)?;
//! assert_eq!(discovery.upstream().main_addresses(), ["127.0.0.1:8080"]);
//! // Now `http://backend/path` goes to 127.0.0.1:8080, or to the backup
//! // 127.0.0.2:8080 while the main is down.
//! # Ok::<(), wf_core::Error>(())
//! ```

#![forbid(unsafe_code)]

mod discovery;
mod error;
mod resolver;
mod srv;
mod trace;
pub mod wire;

pub use discovery::{SrvDiscovery, SrvDiscoveryBuilder, Status};
pub use error::DnsError;
pub use resolver::Resolver;
pub use srv::{MAX_TARGET_QUERIES, SrvLookup, SrvServer};
