//! wf-http's integration tests, in one process: one test binary (one
//! link) instead of one per file. Each module is what used to be a test
//! binary of its own; its tests run in parallel with the others', each
//! with servers of its own on ephemeral ports. None needs a process of
//! its own (none calls `wf_core::init`).

mod support;

mod client_basic;
mod client_faults;
mod client_hostile;
mod client_proxy;
mod client_redirect;
mod codec_request;
mod codec_response;
mod header_order;
mod http_smoke;
mod interop_hyper_client;
mod interop_hyper_server;
mod server_body_limit;
mod server_continue;
mod server_delayed;
mod server_errors;
mod server_keepalive;
mod server_pipeline;
mod server_raw;
mod server_slow;
mod server_smuggling;
mod server_stop;
mod server_task_api;
mod stream_header;
mod stream_roundtrip;
mod tls_roundtrip;
mod upstream;
