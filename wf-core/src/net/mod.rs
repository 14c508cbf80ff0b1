//! The network layer: what every protocol (HTTP, Redis, MySQL, yours) gets
//! from wf-core, identically.
//!
//! A protocol is request and response types plus `tokio_util::codec`
//! encoders and decoders for each side, and a few hooks: see [`Protocol`].
//! From that, wf-core gives it a client task (URL, name resolution with a
//! cache, a per-target connection pool, timeouts, retries) and a
//! [`Server`] (TCP, a Unix socket or TLS; the reply is sent when the
//! request's series ends). [`tlv`] is the reference protocol.

mod client;
mod conn;
mod dns;
mod pipe;
mod pool;
mod protocol;
mod server;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
pub mod tlv;
mod uri;

pub use client::{Client, ClientKind, ClientOptions, ClientTask, Reply, connect, create_client_task, request, session};
pub use conn::Connection;
pub use protocol::{BoxFuture, Protocol, ReplyKeepAlive};
pub use server::{Server, ServerConnection, ServerKind, ServerParams, ServerPusher, ServerTask};
pub use uri::{Host, Uri, default_port, register_scheme_port};
