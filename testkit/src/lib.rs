//! What wf's tests share, in one place: hermetic servers, waiting,
//! callback reports, scratch directories, a scripted TCP peer and
//! certificates.
//!
//! - [`RedisServer`] and [`MariaDb`]: a real `redis-server` or `mariadbd`
//!   started by the test itself, on a free port of 127.0.0.1, with its files
//!   in a temporary directory of its own, and stopped when the handle is
//!   dropped.
//! - [`Etcd`]: a single-member `etcd` (its v3 JSON gateway), the same way.
//! - [`Dnsmasq`]: a real `dnsmasq` answering the SRV and address records a
//!   test gives it, on a free port of 127.0.0.1.
//! - [`redis_cluster::RedisCluster`]: six `redis-server` nodes joined into a
//!   Redis Cluster (three masters, one replica each).
//! - [`WAIT`] and [`wait_until`]: how long a test waits for what should
//!   happen at once, and polling for a condition.
//! - [`recv`] and [`capture`]: receiving what a task's callback reported.
//! - [`TempDir`]: a scratch directory removed afterwards.
//! - [`RawServer`] and [`drain`]: a blocking TCP peer scripted by the test.
//! - [`Pki`]: a private CA and certificates it signed.
//! - [`free_port`]: a port of 127.0.0.1 where nothing listens.
//!
//! Helpers that name wf's types (a protocol's `Outcome`, a TLV client
//! task) stay in the tests of the crate that defines those types: this
//! crate depends on no wf crate, so that wf-core's own tests can use it.
//!
//! Tests never talk to a server somebody started by hand (a machine's own
//! Redis on 6379 or MariaDB on 3306 is left alone).
//!
//! ```no_run
//! let redis = testkit::redis::RedisServer::start();
//! let out = redis.cli(&["SET", "k", "v"]);
//! assert!(out.status.success());
//!
//! let db = testkit::mariadb::MariaDb::start();
//! assert_eq!(db.sql_ok("SELECT 1"), "1\n");
//! println!("{}", db.url()); // mysql://wf:wf_pass@127.0.0.1:PORT/wf_test
//! ```
//!
//! The binaries come from the `PATH`, plus `/usr/sbin` and `/usr/local/sbin`
//! (where Debian puts `mariadbd`). A missing binary is a test failure, not a
//! skip: the panic names the package to install. `cargo xtask test` installs
//! them itself when run as root on Debian.
//!
//! Every child process is killed when its handle is dropped, and also when
//! the test process dies (Linux `PR_SET_PDEATHSIG`), so a server kept in a
//! `static` does not outlive the test binary. Temporary directories left by a
//! test process that died are removed by the next one.

mod process;
mod raw_server;
mod report;
mod tempdir;
mod wait;

pub mod dnsmasq;
pub mod etcd;
pub mod mariadb;
pub mod redis;
pub mod redis_cluster;
pub mod tls;

pub use dnsmasq::{Dnsmasq, DnsmasqBuilder};
pub use etcd::Etcd;
pub use mariadb::{MariaDb, MariaDbBuilder};
pub use raw_server::{RawServer, drain};
pub use redis::{RedisBuilder, RedisServer};
pub use report::{capture, recv};
pub use tempdir::TempDir;
pub use tls::{Leaf, Pki};
pub use wait::{WAIT, wait_until};

/// A TCP port of 127.0.0.1 that was free a moment ago: binds port 0, reads
/// the port the kernel chose and closes the socket.
///
/// A port is never handed out twice by one process, so servers started in
/// parallel threads do not race each other for it. Another process can still
/// take it before the server binds it; the servers of this crate then start
/// again on a new port.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, TcpListener};
    use std::sync::{Mutex, PoisonError};

    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    let given = given.get_or_insert_with(HashSet::new);
    for _ in 0..1000 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("testkit: cannot bind 127.0.0.1:0");
        let port = listener.local_addr().expect("testkit: local_addr of a bound socket").port();
        if given.insert(port) {
            return port;
        }
    }
    panic!("testkit: no free TCP port on 127.0.0.1 that was not handed out already");
}
