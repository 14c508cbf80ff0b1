//! The network layer: what every protocol (HTTP, Redis, MySQL, yours) gets
//! from wf-core, identically.
//!
//! A protocol is its messages and URL schemes ([`Protocol`]) plus the half
//! or halves it needs: [`ClientProtocol`] (a client codec and hooks) gives
//! it client tasks — route, pooled/pipelined/dedicated connections,
//! timeouts, retries, redirects — and [`ServerProtocol`] (a server codec
//! and hooks) gives it a [`Server`] (TCP, a Unix socket or TLS, and UDP;
//! the reply is sent when the request's series ends). Messages travel over
//! a byte stream or, one per datagram, over UDP ([`Transport`]). Where requests go is the
//! [`route`] seam. [`tlv`] is the reference protocol.
//!
//! Module map: `protocol` (shared half) · `client` (client half, options,
//! task, machine, pool, pipelined connections, connection setup) ·
//! `server` (server half, the server, its connections, its UDP socket) ·
//! `route` (where requests go) · `conn` (a connection and its codec) ·
//! `datagram` ([`Transport`], one message per datagram) · `spare` (idle
//! connections' buffers, per thread) · `dns`, `uri`, `stream`, `tls`.

pub(crate) mod client;
mod conn;
mod datagram;
pub mod dns;
mod protocol;
pub(crate) mod resolve;
pub mod route;
mod server;
mod spare;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
pub mod tlv;
pub(crate) mod uri;

pub use client::{
    Client, ClientKind, ClientOptions, ClientProtocol, ClientTask, Mode, Next, create_client_task, request,
};
pub use conn::Connection;
pub use datagram::{MAX_DATAGRAM, Transport};
pub use protocol::{KeepAlive, Protocol};
pub use route::Target;
pub use server::handoff;
pub use server::{
    DrainKind, DrainTask, ReplyGuard, ReplyHandle, Server, ServerConnection, ServerKind, ServerParams, ServerProtocol,
    ServerPusher, ServerTask,
};
pub use uri::{Host, Uri, default_port, register_scheme_port};
