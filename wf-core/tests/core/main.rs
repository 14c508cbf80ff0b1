//! wf-core's integration tests that share one process: one test binary
//! (one link) instead of one per file. Each module is what used to be a
//! test binary of its own; its tests run in parallel with the others', so
//! none may depend on being alone in the process: names (queues, named
//! counters, guards, mailboxes) carry their module's name, servers listen
//! on ports of their own, and nothing calls `wf_core::init`.
//!
//! Tests that need a process of their own stay separate binaries in
//! `tests/`:
//!
//! - `rt_settings`: `init` with its own thread counts, before any other
//!   use of wf in the process.
//! - `rt_event_loops`: `init` with `work_stealing = false`.
//! - `rt_wait_finish` and `panic_isolation`: `wait_finish` /
//!   `wait_finish_timeout` wait for every series of the process, so other
//!   tests' work would hold them up.
//! - `compute_queue_fairness`: saturates the process's compute pool and
//!   counts how many jobs ran before another queue's job.
//! - `dns_resolver`, `dns_resolver_ipv4`: `init` with a `resolv.conf` and
//!   hosts file of their own (and IPv4 only) for the asynchronous
//!   resolver.
//! - `tls_no_sni`: `init` with `use_tls_sni = false`.

#[path = "../support/mod.rs"]
mod support;

mod async_await;
mod blocking_request;
mod compute_algo;
mod compute_executor;
mod compute_timed;
mod control_dynamic;
mod control_empty;
mod control_module;
mod control_repeater;
mod error_text;
mod graph_cancel;
mod graph_order;
mod net_client_decision;
mod net_client_errors;
mod net_client_faults;
mod net_client_hostile;
mod net_client_keepalive;
mod net_client_pool_limit;
mod net_client_retry;
mod net_client_reuse;
mod net_client_timeouts;
mod net_dns;
mod net_prepare;
mod net_route;
mod net_server_closed;
mod net_server_context;
mod net_server_delayed_reply;
mod net_server_hostile;
mod net_server_limits;
mod net_server_max_connections;
mod net_server_noreply;
mod net_server_push;
mod net_server_stop;
mod net_server_stop_load;
mod net_server_unix;
mod net_smoke;
mod net_tls;
mod net_tls_roundtrip;
mod net_udp;
mod parallel_basic;
mod parallel_nested;
mod series_cancel;
mod series_compute_thread;
mod series_context;
mod series_dismiss;
mod series_order;
mod sync_conditional;
mod sync_guard;
mod sync_mailbox;
mod sync_message_queue;
mod sync_resource_pool;
mod sync_selector;
mod sync_wait_group;
mod task_counter;
mod task_go;
mod task_storage;
mod task_thread;
mod upstream_tlv;
