//! The examples' integration tests, in one process: one test binary (one
//! link) instead of one per file. `tour`, `mysql_cli`, `servers`, `dns`,
//! `restart`, `file_server`, `sort_task` and `upstream` run the example
//! programs as child processes (`daemon` starts a server binary, reads its
//! address and stops it with a real signal); `kv_server` runs the tour's
//! key-value server in this process on an ephemeral port.

mod daemon;
mod dns;
mod etcd_discovery;
mod file_server;
mod kv_hostile;
mod kv_server;
mod mysql_cli;
mod restart;
mod servers;
mod sort_task;
mod tour;
mod upstream;
