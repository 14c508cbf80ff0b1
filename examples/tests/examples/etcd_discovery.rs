//! `etcd_discovery` against testkit's etcd: the one-process demo, a
//! server that deregisters on SIGTERM, and one killed whose key goes at
//! lease expiry.

use std::process::Command;

use testkit::Etcd;

use crate::daemon::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_etcd_discovery");

fn get(etcd: &Etcd, key: &str) -> String {
    etcd.ctl_ok(&["get", key, "--print-value-only"]).trim_end().to_owned()
}

fn service(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

#[test]
fn etcd_discovery_finds_its_own_server() {
    let etcd = Etcd::start();
    let out = Command::new(BIN).env("WF_ETCD", etcd.url()).output().expect("run etcd_discovery");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("GET http://hello/: hello from a hello server"), "{stdout}");
    assert!(stdout.ends_with("deregistered\n"), "{stdout}");
    assert_eq!(get(&etcd, "/wf/services/hello/"), "");
    assert_eq!(etcd.ctl_ok(&["get", "/wf/services/", "--prefix", "--keys-only"]).trim(), "", "nothing left");
}

#[test]
fn etcd_discovery_server_is_found_and_deregisters_on_sigterm() {
    let etcd = Etcd::start();
    let name = service("sigterm");
    let d = Daemon::start(BIN, &["server", &name, &etcd.url()]);
    let key = format!("/wf/services/{name}/127.0.0.1:{}", d.port());
    assert!(get(&etcd, &key).contains(&format!("\"address\":\"127.0.0.1:{}\"", d.port())));

    let out = Command::new(BIN).args(["client", &name, &etcd.url()]).output().expect("run the client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("GET http://{name}/: hello from a {name} server")), "{stdout}");

    assert_eq!(d.stop_with(libc::SIGTERM), ["SIGTERM: stopping", "deregistered"]);
    assert_eq!(get(&etcd, &key), "", "gone at once");
}

#[test]
fn a_killed_etcd_discovery_server_goes_at_lease_expiry() {
    let etcd = Etcd::start();
    let name = service("killed");
    let mut d = Daemon::start(BIN, &["server", &name, &etcd.url()]);
    let key = format!("/wf/services/{name}/127.0.0.1:{}", d.port());
    assert_ne!(get(&etcd, &key), "");
    d.signal(libc::SIGKILL);
    d.wait_exit();
    assert_ne!(get(&etcd, &key), "", "still there: nobody revoked the lease");
    // The 10 s lease expires.
    assert!(testkit::wait_until(testkit::WAIT, || get(&etcd, &key).is_empty()), "the key outlived its lease");
}
