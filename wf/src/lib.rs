//! wf: Sogou C++ Workflow rebuilt in Rust.
//!
//! HTTP, Redis and MySQL requests, your own protocols, file IO, timers,
//! counters and CPU work are all *tasks*, composed into *series* and
//! *parallels*. This crate is the facade: it re-exports the engine
//! ([`wf_core`]) and, behind cargo features, each task and protocol crate.
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `timer` (default) | [`timer`] | wf-timer |
//! | `net` (default) | [`net`], [`upstream`], [`dns`] | wf-core's network layer |
//! | `tls` (default) | `net::tls` | rustls |
//! | `http` (default) | [`http`] | wf-http |
//! | `redis` (default) | [`redis`] | wf-redis |
//! | `mysql` (default) | [`mysql`] | wf-mysql |
//! | `fileio` (default) | [`fileio`] | wf-fileio |
//! | `etcd` | [`etcd`] | wf-etcd |
//! | `srv` | [`srv`] | wf-srv |
//! | `full` | all of the above | |
//!
//! ```
//! use std::time::Duration;
//!
//! let mut series = wf::create_series_work(
//!     wf::timer::create_timer_task(Duration::from_millis(5), |_| println!("first")),
//!     |_| println!("series done"),
//! );
//! series.push_back(wf::create_go_task("work", || 6 * 7).with_callback(|t| println!("{:?}", t.result())));
//! series.start();
//! wf::wait_finish();
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use wf_core::*;

/// DNS tasks, client, server and messages (short for [`net::dns`]).
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub mod dns {
    #[doc(inline)]
    pub use wf_core::net::dns::*;
}

/// HTTP tasks and servers.
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http {
    #[doc(inline)]
    pub use wf_http::*;
}

/// Timer tasks.
#[cfg(feature = "timer")]
#[cfg_attr(docsrs, doc(cfg(feature = "timer")))]
pub mod timer {
    #[doc(inline)]
    pub use wf_timer::*;
}

/// The README's examples, compiled and run as doc-tests.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Redis tasks, the subscriber and the Redis server.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis {
    #[doc(inline)]
    pub use wf_redis::*;
}

/// MySQL and MariaDB tasks, fixed connections, prepared statements and the
/// MySQL server.
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub mod mysql {
    #[doc(inline)]
    pub use wf_mysql::*;
}

/// File IO tasks.
#[cfg(feature = "fileio")]
#[cfg_attr(docsrs, doc(cfg(feature = "fileio")))]
pub mod fileio {
    #[doc(inline)]
    pub use wf_fileio::*;
}

/// Service discovery and registration on etcd v3: an upstream kept in step
/// with a key prefix, and lease-backed registration.
#[cfg(feature = "etcd")]
#[cfg_attr(docsrs, doc(cfg(feature = "etcd")))]
pub mod etcd {
    #[doc(inline)]
    pub use wf_etcd::*;
}

/// DNS SRV discovery: SRV records kept in step with an upstream's servers.
#[cfg(feature = "srv")]
#[cfg_attr(docsrs, doc(cfg(feature = "srv")))]
pub mod srv {
    #[doc(inline)]
    pub use wf_srv::*;
}
