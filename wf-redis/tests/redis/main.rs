//! wf-redis's integration tests, in one process: one test binary (one
//! link) instead of one per file. Each module is what used to be a test
//! binary of its own; its tests run in parallel with the others'. Every
//! test talks to `redis-server`s and fake servers of its own (a module's
//! shared server is its own `static`), so no count it checks (connections
//! received, commands processed, blocked clients) sees another module's
//! traffic. None needs a process of its own (none calls `wf_core::init`).

mod support;

mod redis_auth;
mod redis_binary;
mod redis_cluster;
mod redis_dismiss;
mod redis_errors;
mod redis_faults;
mod redis_hostile;
mod redis_large;
mod redis_pipelining;
mod redis_redirects;
mod redis_resp3;
mod redis_restart;
mod redis_select;
mod redis_server;
mod redis_subscriber;
mod redis_timeouts;
mod redis_tls;
mod redis_transactions;
mod redis_unix;
mod redis_values;
