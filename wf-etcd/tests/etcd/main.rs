//! wf-etcd against a real etcd (testkit's, one per test), in one test
//! binary: discovery, registration, etcd going away, a hostile gateway.

mod discovery;
mod hostile;
mod outage;
mod proxy;
mod registration;

use std::time::Duration;

use serde_json::Value;
use testkit::Etcd as EtcdServer;
use wf_core::upstream::{ServerType, Upstream};

/// The servers of `u` as `(address, weight, backup, group)`, sorted.
pub(crate) fn servers(u: &Upstream) -> Vec<(String, u16, bool, Option<i32>)> {
    let mut v: Vec<_> = u
        .servers()
        .into_iter()
        .map(|(a, p)| (a, p.weight, matches!(p.server_type, ServerType::Backup), p.group))
        .collect();
    v.sort();
    v
}

/// `(address, weight, backup, group)` of a main server of weight `w`.
pub(crate) fn main(a: &str, w: u16) -> (String, u16, bool, Option<i32>) {
    (a.to_owned(), w, false, None)
}

/// Waits (generously) until `u`'s servers are `want`, and says how long
/// it took.
pub(crate) fn wait_servers(u: &Upstream, want: &[(String, u16, bool, Option<i32>)]) {
    let start = std::time::Instant::now();
    let ok = testkit::wait_until(testkit::WAIT, || servers(u) == want);
    assert!(ok, "servers of {}: {:?}, want {want:?}", u.name(), servers(u));
    eprintln!("{}: applied in {:?}", u.name(), start.elapsed());
}

/// The store's current revision, as etcdctl (another client) sees it.
pub(crate) fn etcd_revision(etcd: &EtcdServer) -> i64 {
    let out = etcd.ctl_ok(&["get", "/", "-w", "json"]);
    let v: Value = serde_json::from_str(&out).expect("etcdctl's JSON");
    v["header"]["revision"].as_i64().expect("a revision")
}

/// The value of `key` as etcdctl sees it ("" when absent).
pub(crate) fn etcd_get(etcd: &EtcdServer, key: &str) -> String {
    etcd.ctl_ok(&["get", key, "--print-value-only"]).trim_end().to_owned()
}

/// A unique upstream/service name for one test.
pub(crate) fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A short wait for something that must NOT happen, used only to give a
/// wrong implementation the chance to show itself.
pub(crate) const SETTLE: Duration = Duration::from_millis(300);
