//! Registration: the key appears with its record, goes at once on
//! deregister or drop, goes at lease expiry when the keep-alive cannot
//! reach etcd, and comes back when it can again.

use std::time::Duration;

use serde_json::Value;
use testkit::Etcd as EtcdServer;
use wf_core::upstream::{AddressParams, Policy, ServerType, Upstream};
use wf_etcd::Etcd;

use crate::proxy::Proxy;
use crate::{etcd_get, main, unique, wait_servers};

#[test]
fn register_puts_a_record_and_deregister_removes_it_at_once() {
    let etcd = EtcdServer::start();
    let client = Etcd::new(&etcd.url());
    let name = unique("reg");
    let mut params = AddressParams::default();
    params.weight = 3;
    params.server_type = ServerType::Backup;
    params.group = Some(2);
    // A long lease: only the revoke can make the key go within the test.
    let r = client.register_blocking(&name, "10.1.1.1:8080", &params, Duration::from_secs(600)).expect("register");
    assert_eq!(r.key(), format!("/wf/services/{name}/10.1.1.1:8080"));
    let value: Value = serde_json::from_str(&etcd_get(&etcd, r.key())).expect("a JSON record");
    assert_eq!(value, serde_json::json!({"address": "10.1.1.1:8080", "weight": 3, "backup": true, "group": 2}));
    let lease = etcd.ctl_ok(&["get", r.key(), "-w", "json"]);
    assert!(lease.contains(&format!("\"lease\":{}", r.lease())), "attached to its lease: {lease}");

    let key = r.key().to_owned();
    r.deregister_blocking().expect("deregister");
    assert_eq!(etcd_get(&etcd, &key), "", "gone as soon as deregister returned");
}

#[test]
fn dropping_a_registration_revokes_its_lease() {
    let etcd = EtcdServer::start();
    let client = Etcd::new(&etcd.url());
    let r = client
        .register_blocking(&unique("drop"), "10.1.1.2:80", &AddressParams::default(), Duration::from_secs(600))
        .expect("register");
    let key = r.key().to_owned();
    assert_ne!(etcd_get(&etcd, &key), "");
    drop(r);
    assert!(testkit::wait_until(testkit::WAIT, || etcd_get(&etcd, &key).is_empty()), "revoked in the background");
}

#[test]
fn registered_servers_are_discovered_and_leave_on_deregister() {
    let etcd = EtcdServer::start();
    let client = Etcd::new(&etcd.url());
    let name = unique("both");
    let u = Upstream::create(&name, Policy::WeightedRandom { try_another: true });
    let _d = client.discover_blocking(&u).expect("discover");
    let ttl = Duration::from_secs(600);
    let a = client.register_blocking(&name, "127.0.0.1:1001", &AddressParams::default(), ttl).unwrap();
    let b = client.register_blocking(&name, "127.0.0.1:1002", &AddressParams::default(), ttl).unwrap();
    wait_servers(&u, &[main("127.0.0.1:1001", 1), main("127.0.0.1:1002", 1)]);
    a.deregister_blocking().unwrap();
    wait_servers(&u, &[main("127.0.0.1:1002", 1)]);
    drop(b);
    wait_servers(&u, &[]);
}

/// The keep-alive cannot reach etcd (a partition): the key goes when the
/// lease expires, as when the process dies. Once etcd is reachable again
/// the registration notices its lease is gone and registers again.
#[test]
fn an_expired_lease_removes_the_key_and_the_registration_comes_back() {
    let etcd = EtcdServer::start();
    let proxy = Proxy::start(etcd.addr());
    let client = Etcd::new(&proxy.url()).with_request_timeout(Duration::from_secs(1));
    let r = client
        .register_blocking(&unique("expire"), "10.1.1.3:80", &AddressParams::default(), Duration::from_secs(2))
        .expect("register");
    let key = r.key().to_owned();
    let first = r.lease();
    // Kept alive past its TTL while etcd is reachable.
    std::thread::sleep(Duration::from_secs(3));
    assert_ne!(etcd_get(&etcd, &key), "", "kept alive");

    proxy.pause();
    assert!(testkit::wait_until(testkit::WAIT, || etcd_get(&etcd, &key).is_empty()), "gone at lease expiry");
    proxy.resume();
    assert!(testkit::wait_until(testkit::WAIT, || !etcd_get(&etcd, &key).is_empty()), "registered again");
    assert_ne!(r.lease(), first, "on a new lease");
    r.deregister_blocking().unwrap();
    assert_eq!(etcd_get(&etcd, &key), "");
}

#[test]
fn register_without_etcd_fails_clearly() {
    let port = testkit::free_port();
    let client = Etcd::new(&format!("http://127.0.0.1:{port}"));
    let e =
        client.register_blocking("svc", "10.0.0.1:1", &AddressParams::default(), Duration::from_secs(5)).unwrap_err();
    assert_eq!((e.state(), e.code()), (wf_core::State::SysError, libc::ECONNREFUSED), "{e}");
    let e =
        client.register_blocking("a/b", "10.0.0.1:1", &AddressParams::default(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(e.code(), wf_etcd::code::BAD_NAME, "{e}");
}
