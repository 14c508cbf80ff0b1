//! Every piece of process-wide state wf-core keeps, in one place.
//!
//! wf is a process-wide engine, as Workflow is: one runtime, one set of
//! connection pools, one DNS cache. Each registry below lives here and
//! nowhere else; the modules that use one reach it through its function.
//! Nothing here is public: what a user may change goes through the API of
//! the module that owns the concept (`init`, `register_scheme_port`,
//! `register_task_error`, `count_by_name`…).
//!
//! | registry | what it holds | owner |
//! |---|---|---|
//! | [`task_error_texts`] | names of task error codes registered by protocol crates | `error` |
//!
//! Registries of other crates: wf-timer keeps its named timers (for
//! `cancel_by_name`) in `wf_timer`, wf-fileio its IO backend, wf-mysql its
//! fixed connections, each in one documented `static`.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// Task error codes registered with [`register_task_error`](crate::register_task_error), and their text.
pub(crate) fn task_error_texts() -> &'static RwLock<HashMap<i32, &'static str>> {
    static TEXTS: OnceLock<RwLock<HashMap<i32, &'static str>>> = OnceLock::new();
    TEXTS.get_or_init(Default::default)
}

/// Routes registered under a host name (upstreams, name-service policies).
#[cfg(feature = "net")]
pub(crate) fn routes() -> &'static RwLock<HashMap<String, std::sync::Arc<dyn crate::net::route::Route>>> {
    static ROUTES: OnceLock<RwLock<HashMap<String, std::sync::Arc<dyn crate::net::route::Route>>>> = OnceLock::new();
    ROUTES.get_or_init(Default::default)
}

/// The default route, with the addresses that failed to connect lately.
#[cfg(feature = "net")]
pub(crate) fn dns_route() -> &'static std::sync::Arc<crate::net::route::DnsRoute> {
    static DNS: OnceLock<std::sync::Arc<crate::net::route::DnsRoute>> = OnceLock::new();
    DNS.get_or_init(|| std::sync::Arc::new(crate::net::route::DnsRoute::new()))
}
