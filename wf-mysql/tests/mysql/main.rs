//! wf-mysql's integration tests that share one process: one test binary
//! (one link) instead of one per file. Each module is what used to be a
//! test binary of its own; its tests run in parallel with the others'.
//! `support::shared()` is one MariaDB for the whole binary: tests that use
//! it work in databases named after their module (`c_…`, `q_…`) or on
//! connections of their own, and those that stop, restart or reconfigure a
//! server start their own.
//!
//! `mysql_auth` stays a separate binary: it counts failed logins on its
//! shared server (`Aborted_connects`, `Access_denied_errors`), which the
//! other modules' connections would disturb.

#[path = "../support/mod.rs"]
mod support;

mod mysql_caching_sha2;
mod mysql_connection;
mod mysql_errors;
mod mysql_faults;
mod mysql_hostile;
mod mysql_queries;
mod mysql_server;
mod mysql_smoke;
mod mysql_tls;
mod mysql_types;
