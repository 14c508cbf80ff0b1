//! DNS: messages, client tasks, a `resolv.conf`-style client, a server,
//! and the resolver every client task uses (Workflow's `WFDnsTask`,
//! `WFDnsClient`, `WFDnsServer` and `WFDnsResolver`).
//!
//! - [`DnsMessage`]: the message, with its [wire format](DnsMessage::decode)
//!   (every length and pointer bounded against hostile peers).
//! - [`create_dns_task`]: one query to `dns://server/name` (UDP, TCP on a
//!   truncated reply) or `dnss://server/name` (DNS over TLS).
//! - [`DnsClient`]: servers, search list, `ndots`, `attempts`, `rotate`.
//! - [`DnsServer`]: one `process` answering over UDP and TCP on one port.
//! - The resolver behind host names in URLs: by default
//!   ([`Resolver::Async`](crate::Resolver::Async)) the hosts file, then the
//!   name servers of `resolv.conf`, A and AAAA in parallel (only the
//!   families the host has a route for, as `AI_ADDRCONFIG`); or blocking
//!   `getaddrinfo` ([`Resolver::Getaddrinfo`](crate::Resolver::Getaddrinfo)).
//!   Either way results are cached for `dns_ttl_default` (`dns_ttl_min`
//!   for retries); an expired name is refreshed by one lookup while other
//!   callers keep the stale addresses, which every caller gets if the
//!   refresh fails; an asynchronous lookup takes 30 s at most.
//!
//! Module map: `message` (the model) · `wire` (encoding, decoding) ·
//! `protocol` (the codec, the protocol value, one query with its TCP
//! fallback) · `task` (the task kind) · `client` · `server` ·
//! `resolv_conf` · `hosts` · `resolver` (the asynchronous lookup). The
//! cache in front of it, with single flight and `getaddrinfo`, is
//! `net::resolve`, under the route layer.

mod client;
mod hosts;
mod message;
mod name;
mod protocol;
mod resolv_conf;
pub(crate) mod resolver;
mod server;
mod task;
mod wire;

pub use client::DnsClient;
pub use hosts::Hosts;
pub use message::{
    CLASS_IN, DnsMessage, Flags, OPCODE_QUERY, Question, RData, Record, RecordType, UnknownRecordType, rcode,
};
pub use protocol::{Dns, DnsCodec, UDP_REPLY_LIMIT, UDP_REPLY_MAX};
pub use resolv_conf::ResolvConf;
pub use server::DnsServer;
pub use task::{DnsQuery, DnsTask, create_dns_task};
pub use wire::{MAX_MESSAGE, MAX_POINTERS};
