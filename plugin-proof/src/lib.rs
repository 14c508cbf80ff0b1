//! Proof of wf's protocol plug-in API: **KV-line**, a small text protocol
//! written with nothing but wf-core's public API, as a third-party crate
//! would.
//!
//! This crate is a worked example of writing a protocol (see the guide on
//! [`wf_core::net::Protocol`]); the steps map to its modules:
//!
//! 1. **Messages** — [`Request`] and [`Response`], each `Default`, each a
//!    single `\n`-terminated line (a `\r` before the `\n` is accepted):
//!
//!    | requests | responses |
//!    |---|---|
//!    | `GET key`, `SET key value`, `DEL key`, `AUTH secret`, `PING`, `QUIT` | `+OK`, `$value`, `-ERR message`, `:n` |
//!
//! 2. **Codecs** — [`KvClientCodec`] (encodes `&Request`, decodes
//!    `Response`) and [`KvServerCodec`] (decodes `Request`, encodes
//!    `&Response`) on `tokio_util::codec`. Lines longer than a limit fail
//!    with `EMSGSIZE` before they are buffered whole, malformed ones with
//!    `EBADMSG`; both become the task's `SYS_ERROR` code through
//!    `wf_core::Error::from(io::Error)`.
//!
//! 3. **The protocol** — [`KvLine`]: the `kvline` scheme (default port
//!    [`DEFAULT_PORT`]), the codecs, and the hooks KV-line needs: `AUTH`
//!    sent in `on_connect` and hidden from the task, no retry after an auth
//!    failure, a connection pool per password, error replies from the
//!    server, `QUIT` closing the connection.
//!
//! Then wf-core provides the rest: [`create_client_task`](wf_core::net::create_client_task)
//! (or [`create_kv_task`]) gives client tasks with name resolution,
//! pooling, timeouts and retries, and [`Server`](wf_core::net::Server)
//! answers requests; [`KvServer`] is a small in-memory store built on it,
//! using connection contexts for authentication and the delayed-reply
//! model for `GET`.
//!
//! ```no_run
//! use wf_core::series_of;
//! use wf_plugin_proof::{KvServer, Request, create_kv_task};
//!
//! let server = KvServer::new(["secret"]);
//! let addr = server.start_on("127.0.0.1", 0).unwrap();
//! let url = format!("kvline://:secret@{addr}");
//!
//! let get_url = url.clone();
//! create_kv_task(&url, 0, Request::Set("k".into(), "v".into()), move |t| {
//!     let get = create_kv_task(&get_url, 0, Request::Get("k".into()), |t| {
//!         println!("GET k: {:?}", t.resp()); // Value("v")
//!     });
//!     series_of(t).push_back(get);
//! })
//! .start();
//! wf_core::wait_finish();
//! server.stop();
//! ```

#![forbid(unsafe_code)]

mod codec;
mod message;
mod protocol;
mod server;

pub use codec::{DEFAULT_LINE_LIMIT, KvClientCodec, KvServerCodec};
pub use message::{Request, Response};
pub use protocol::{ACCESS_DENIED, DEFAULT_PORT, KvLine, create_kv_task};
pub use server::KvServer;
