//! The examples' integration tests, in one process: one test binary (one
//! link) instead of one per file. `tour` and `mysql_cli` run the example
//! programs as child processes; `kv_server` runs the tour's key-value
//! server in this process on an ephemeral port.

mod kv_hostile;
mod kv_server;
mod mysql_cli;
mod tour;
