//! Service discovery for wf on etcd v3.
//!
//! Servers register themselves under a key prefix with a lease
//! ([`Etcd::register`]); clients keep a wf upstream in step with what is
//! registered ([`Etcd::discover`]), so `http://SERVICE/...` goes to the
//! servers alive now. Everything goes through etcd's JSON gateway
//! (`/v3/kv/range`, `/v3/watch`, `/v3/lease/*`) with wf's own HTTP tasks:
//! no gRPC, no other client.
//!
//! ```no_run
//! use std::time::Duration;
//! use wf_core::upstream::{AddressParams, Policy, Upstream};
//! use wf_etcd::Etcd;
//!
//! let etcd = Etcd::new("http://127.0.0.1:2379");
//!
//! // A server: registered while `me` lives (lease of 10 s, kept alive).
//! let me = etcd.register_blocking("search", "127.0.0.1:8080", &AddressParams::default(), Duration::from_secs(10))?;
//!
//! // A client: the upstream `search` follows etcd.
//! let search = Upstream::create("search", Policy::WeightedRandom { try_another: true });
//! let discovery = etcd.discover_blocking(&search)?;
//! let (tx, rx) = std::sync::mpsc::channel();
//! wf_http::create_http_task("http://search/", 0, 1, move |t| tx.send(t.resp().status_code()).unwrap()).start();
//! println!("{}", rx.recv().unwrap());
//!
//! drop(discovery); // stops the watch (before any `wf_core::wait_finish()`)
//! me.deregister_blocking()?; // the key is gone at once
//! # Ok::<(), wf_core::Error>(())
//! ```
//!
//! # Keys and values
//!
//! A server of service `SERVICE` at `ADDRESS` (anything a wf upstream
//! takes: `ip`, `host`, `ip:port`, `host:port`, a unix socket path) is the
//! key `PREFIX SERVICE/ADDRESS` (prefix `/wf/services/` by default, see
//! [`Etcd::with_prefix`]) with a JSON value:
//!
//! ```json
//! {"address": "10.0.0.7:8080", "weight": 2, "backup": false, "group": 1}
//! ```
//!
//! Only `address` is needed (without it, the key's last part is the
//! address); `weight` is 1–65535 (default 1), `backup: true` makes a backup
//! server (default: a main one), `group` is an `i32` server group (default:
//! none). Other fields are ignored. Any etcd client can register servers:
//!
//! ```text
//! etcdctl put /wf/services/search/10.0.0.7:8080 '{"address":"10.0.0.7:8080","weight":2}'
//! ```
//!
//! # Against a broken or hostile etcd
//!
//! Every request has a deadline ([`Etcd::with_request_timeout`], 5 s) and
//! a reply limit ([`Etcd::with_max_message`], 4 MiB, for a range reply
//! and for each message of a watch stream); a watch stream is cut into
//! messages with a nesting limit; a service has at most
//! [`MAX_SERVERS`] servers. Past a limit, or on a reply that is not
//! etcd's, the exchange fails with a clear error (`SYS_ERROR`/`EMSGSIZE`
//! or `TASK_ERROR` [`code::BAD_REPLY`], the cause saying what was wrong),
//! and the watcher keeps its last list and retries.

#![forbid(unsafe_code)]

pub mod code;
mod config;
mod discovery;
mod frames;
mod gateway;
mod record;
mod registration;
mod trace;
mod watch;

use wf_core::upstream;

pub use config::Etcd;
pub use discovery::{Discovery, MAX_SERVERS};
pub use registration::Registration;

/// Runs `fut` on wf's runtime and waits for its output (the blocking
/// variants).
fn block_on<T: Send + 'static>(fut: impl std::future::Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    wf_core::handle().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().expect("wf-etcd: the runtime dropped a blocking call")
}
