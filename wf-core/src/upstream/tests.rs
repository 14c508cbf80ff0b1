//! Unit tests of upstream selection, breakers, groups and the registry.
//! Upstream names are process-global: each test uses its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;

fn up(name: &str, policy: Policy, servers: &[&str]) -> Upstream {
    let u = Upstream::create(name, policy);
    for s in servers {
        u.add_server(s).unwrap();
    }
    u
}

fn with(weight: u16) -> AddressParams {
    AddressParams { weight, ..AddressParams::default() }
}

fn pick(u: &Upstream) -> Option<String> {
    u.pick_for_bench("/", "", "").map(|a| a.to_string())
}

fn picks(u: &Upstream, n: usize) -> Vec<Option<String>> {
    (0..n).map(|_| pick(u)).collect()
}

fn counts(picks: &[Option<String>]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for p in picks.iter().flatten() {
        *m.entry(p.clone()).or_default() += 1;
    }
    m
}

/// Fuses the first entry with this address for an hour (max_fails 200).
fn fuse(u: &Upstream, address: &str) {
    u.set_mttr(Duration::from_secs(3600));
    for _ in 0..200 {
        u.report_for_bench(address, Err(&Error::sys(libc::ECONNREFUSED)));
    }
}

fn unavailable() -> Error {
    Error::task(code::UPSTREAM_UNAVAILABLE)
}

#[test]
fn weighted_random_follows_the_weights() {
    let u = Upstream::create("ut-wr-weights", Policy::WeightedRandom { try_another: false });
    u.add_server_with("10.0.0.1:1", with(1)).unwrap();
    u.add_server_with("10.0.0.2:1", with(2)).unwrap();
    u.add_server_with("10.0.0.3:1", with(7)).unwrap();
    let n = 100_000;
    let c = counts(&picks(&u, n));
    for (a, w) in [("10.0.0.1:1", 0.1), ("10.0.0.2:1", 0.2), ("10.0.0.3:1", 0.7)] {
        let share = c[a] as f64 / n as f64;
        assert!((share - w).abs() < 0.01, "{a}: {share} vs {w}");
    }
}

#[test]
fn weight_zero_is_one_and_backups_do_not_take_main_picks() {
    let u = Upstream::create("ut-wr-zero", Policy::WeightedRandom { try_another: false });
    u.add_server_with("10.0.0.1:1", with(0)).unwrap();
    u.add_server_with("10.0.0.2:1", with(1)).unwrap();
    let mut b = with(50);
    b.server_type = ServerType::Backup;
    u.add_server_with("10.0.0.9:1", b).unwrap();
    let c = counts(&picks(&u, 20_000));
    assert!(!c.contains_key("10.0.0.9:1"));
    let share = c["10.0.0.1:1"] as f64 / 20_000.0;
    assert!((share - 0.5).abs() < 0.03, "{share}");
}

#[test]
fn weighted_random_without_try_another_fails_on_a_down_pick() {
    let u = up("ut-wr-strict", Policy::WeightedRandom { try_another: false }, &["10.0.0.1:1", "10.0.0.2:1"]);
    assert_eq!(u.disable_server("10.0.0.1:1"), 1);
    let p = picks(&u, 1000);
    assert!(p.iter().all(|p| p.as_deref().is_none_or(|a| a == "10.0.0.2:1")));
    assert!(p.iter().any(Option::is_none));
    assert!(p.iter().any(Option::is_some));
    assert_eq!(u.enable_server("10.0.0.1:1"), 1);
    assert!(picks(&u, 100).iter().all(Option::is_some));
}

#[test]
fn weighted_random_with_try_another_picks_among_the_up_ones() {
    let u = Upstream::create("ut-wr-another", Policy::WeightedRandom { try_another: true });
    u.add_server_with("10.0.0.1:1", with(1000)).unwrap();
    u.add_server_with("10.0.0.2:1", with(1)).unwrap();
    u.add_server_with("10.0.0.3:1", with(3)).unwrap();
    u.disable_server("10.0.0.1:1");
    let n = 40_000;
    let c = counts(&picks(&u, n));
    assert_eq!(c.values().sum::<usize>(), n);
    assert!(!c.contains_key("10.0.0.1:1"));
    let share = c["10.0.0.3:1"] as f64 / n as f64;
    assert!((share - 0.75).abs() < 0.02, "{share}");
}

#[test]
fn round_robin_in_turn() {
    let a = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"];
    let u = up("ut-rr", Policy::RoundRobin { try_another: false }, &a);
    let p = picks(&u, 6);
    let s = |i: usize| Some(a[i].to_string());
    assert_eq!(p, [s(0), s(1), s(2), s(0), s(1), s(2)]);
    u.disable_server(a[1]);
    assert_eq!(picks(&u, 3), [s(0), None, s(2)]);
    let u = up("ut-rr-another", Policy::RoundRobin { try_another: true }, &a);
    u.disable_server(a[1]);
    assert_eq!(picks(&u, 6), [s(0), s(2), s(2), s(0), s(2), s(2)]);
    // Removed: the next pick goes on with those left (Workflow's RoundRobin case).
    assert_eq!(u.remove_server(a[1]), 1);
    assert_eq!(u.main_addresses(), [a[0], a[2]]);
}

#[test]
fn consistent_hash_is_stable_and_moves_only_the_removed_servers_keys() {
    let a: Vec<String> = (1..=5).map(|i| format!("10.0.0.{i}:80")).collect();
    let u = Upstream::create("ut-ch", Policy::ConsistentHash { hash: None });
    for s in &a {
        u.add_server(s).unwrap();
    }
    let key = |i: usize| format!("/key/{i}");
    let before: Vec<String> = (0..2000).map(|i| u.pick_for_bench(&key(i), "", "").unwrap().to_string()).collect();
    // Same key, same server.
    for (i, b) in before.iter().enumerate().take(50) {
        assert_eq!(u.pick_for_bench(&key(i), "", "").unwrap().as_ref(), b);
    }
    // Every server gets a fair share (16 nodes each: loose bounds).
    let c = counts(&before.iter().cloned().map(Some).collect::<Vec<_>>());
    assert_eq!(c.len(), 5);
    assert!(c.values().all(|n| *n > 150), "{c:?}");
    // A fused server's keys walk on; the others' stay.
    fuse(&u, &a[2]);
    for (i, b) in before.iter().enumerate() {
        let now = u.pick_for_bench(&key(i), "", "").unwrap();
        if *b == a[2] {
            assert_ne!(now.as_ref(), a[2]);
        } else {
            assert_eq!(now.as_ref(), b);
        }
    }
    // Removed: the same.
    u.remove_server(&a[2]);
    for (i, b) in before.iter().enumerate() {
        if *b != a[2] {
            assert_eq!(u.pick_for_bench(&key(i), "", "").unwrap().as_ref(), b);
        }
    }
}

#[test]
fn consistent_hash_ring_has_16_nodes_per_weight_and_duplicates_differ() {
    let u = Upstream::create("ut-ch-ring", Policy::ConsistentHash { hash: Some(Arc::new(|_, _, _| 42)) });
    u.add_server_with("10.0.0.1:80", with(2)).unwrap();
    u.add_server("10.0.0.1:80").unwrap();
    u.add_server("10.0.0.2:80").unwrap();
    assert_eq!(u.table().ring_len(), 32 + 16 + 16);
    // A custom hash: every request the same server.
    let first = pick(&u).unwrap();
    assert!(picks(&u, 20).iter().all(|p| p.as_deref() == Some(first.as_str())));
    // The duplicate has nodes of its own: the ring is not 32 + 16 + 16
    // positions of two addresses only.
    let mut positions: Vec<u32> = Vec::new();
    for dup in 0..2 {
        for i in 0..16 {
            positions.push(policy::vnode_hash("10.0.0.1:80", i, dup));
        }
    }
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 32);
}

#[test]
fn manual_selects_by_index_then_the_ring() {
    let a = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"];
    let select: UpstreamHash = Arc::new(|path: &str, _: &str, _: &str| path.len() as u32);
    let u = up("ut-manual", Policy::Manual { select: select.clone(), try_another: false, second: None }, &a);
    assert_eq!(u.pick_for_bench("/", "", "").unwrap().as_ref(), a[1]);
    assert_eq!(u.pick_for_bench("/ab", "", "").unwrap().as_ref(), a[0]);
    assert_eq!(u.pick_for_bench("/abcd", "", "").unwrap().as_ref(), a[2]);
    u.disable_server(a[1]);
    assert_eq!(u.pick_for_bench("/", "", ""), None);
    // try_another: the ring with the second hash.
    let second: UpstreamHash = Arc::new(|_: &str, _: &str, _: &str| 7);
    let m = up("ut-manual-2", Policy::Manual { select, try_another: true, second: Some(second) }, &a);
    let ch = up("ut-manual-ch", Policy::ConsistentHash { hash: Some(Arc::new(|_, _, _| 7)) }, &a);
    m.disable_server(a[1]);
    ch.disable_server(a[1]);
    let expected = pick(&ch).unwrap();
    assert_ne!(expected, a[1]);
    assert_eq!(m.pick_for_bench("/", "", "").unwrap().as_ref(), expected);
}

#[test]
fn vnswrr_exact_proportions_in_each_cycle() {
    let u = Upstream::create("ut-vnswrr", Policy::Vnswrr);
    u.add_server_with("10.0.0.1:1", with(5)).unwrap();
    u.add_server_with("10.0.0.2:1", with(1)).unwrap();
    u.add_server_with("10.0.0.3:1", with(1)).unwrap();
    for _ in 0..3 {
        let c = counts(&picks(&u, 7));
        assert_eq!((c["10.0.0.1:1"], c["10.0.0.2:1"], c["10.0.0.3:1"]), (5, 1, 1));
    }
    u.disable_server("10.0.0.1:1");
    let c = counts(&picks(&u, 10));
    assert_eq!((c.get("10.0.0.1:1"), c["10.0.0.2:1"], c["10.0.0.3:1"]), (None, 5, 5));
}

#[test]
fn breaker_fuses_after_max_fails_consecutive_failures() {
    let u = Upstream::create("ut-breaker", Policy::RoundRobin { try_another: true });
    let p = AddressParams { max_fails: 3, ..AddressParams::default() };
    u.add_server_with("10.0.0.1:1", p).unwrap();
    u.add_server("10.0.0.2:1").unwrap();
    u.set_mttr(Duration::from_secs(3600));
    let refused = Error::sys(libc::ECONNREFUSED);
    for _ in 0..2 {
        u.report_for_bench("10.0.0.1:1", Err(&refused));
    }
    // A reply resets the count; errors of this process do not count.
    u.report_for_bench("10.0.0.1:1", Ok(()));
    u.report_for_bench("10.0.0.1:1", Err(&refused));
    u.report_for_bench("10.0.0.1:1", Err(&refused));
    u.report_for_bench("10.0.0.1:1", Err(&Error::sys(libc::EAGAIN)));
    u.report_for_bench("10.0.0.1:1", Err(&unavailable()));
    assert!(counts(&picks(&u, 10)).contains_key("10.0.0.1:1"));
    u.report_for_bench("10.0.0.1:1", Err(&refused));
    let c = counts(&picks(&u, 10));
    assert_eq!(c.get("10.0.0.1:1"), None);
    assert_eq!(c["10.0.0.2:1"], 10);
}

#[test]
fn half_open_after_mttr_one_failure_fuses_again_one_success_heals() {
    let u = Upstream::create("ut-half-open", Policy::RoundRobin { try_another: true });
    let p = AddressParams { max_fails: 2, ..AddressParams::default() };
    u.add_server_with("10.0.0.1:1", p).unwrap();
    u.add_server("10.0.0.2:1").unwrap();
    let refused = Error::sys(libc::ECONNREFUSED);
    // MTTR zero: fused, and at once past it (half-open).
    u.set_mttr(Duration::ZERO);
    u.report_for_bench("10.0.0.1:1", Err(&refused));
    u.report_for_bench("10.0.0.1:1", Err(&refused));
    let s = u.table().servers[0].clone();
    assert!(s.breaker.is_tripped());
    assert!(counts(&picks(&u, 4)).contains_key("10.0.0.1:1"));
    // Half-open: one failure fuses it again (for an hour now).
    u.set_mttr(Duration::from_secs(3600));
    u.report_for_bench("10.0.0.1:1", Err(&refused));
    assert!(!counts(&picks(&u, 4)).contains_key("10.0.0.1:1"));
    // Fused, and then a success (a late reply): healed.
    u.report_for_bench("10.0.0.1:1", Ok(()));
    assert!(!s.breaker.is_tripped());
    assert!(counts(&picks(&u, 4)).contains_key("10.0.0.1:1"));
    // Healed: two failures again to fuse.
    u.report_for_bench("10.0.0.1:1", Err(&refused));
    assert!(counts(&picks(&u, 4)).contains_key("10.0.0.1:1"));
}

#[test]
fn all_fused_and_one_past_mttr_recovers_all() {
    let a = ["10.0.0.1:1", "10.0.0.2:1"];
    let u = up("ut-recover-all", Policy::RoundRobin { try_another: false }, &a);
    let refused = Error::sys(libc::ECONNREFUSED);
    u.set_mttr(Duration::from_secs(3600));
    for _ in 0..200 {
        u.report_for_bench(a[1], Err(&refused));
    }
    assert_eq!(picks(&u, 2), [Some(a[0].to_string()), None]);
    // a[0] fused too, but with MTTR zero: past it at once.
    u.set_mttr(Duration::ZERO);
    for _ in 0..200 {
        u.report_for_bench(a[0], Err(&refused));
    }
    // Every server fused and one past its MTTR: all half-open, a[1] too
    // (the pick that found a[1] fused picks again).
    let p = picks(&u, 4);
    assert!(p.iter().all(Option::is_some), "{p:?}");
    assert!(p.contains(&Some(a[1].to_string())), "{p:?}");
    // All fused for an hour: unavailable.
    u.set_mttr(Duration::from_secs(3600));
    u.report_for_bench(a[0], Err(&refused));
    u.report_for_bench(a[1], Err(&refused));
    assert_eq!(picks(&u, 2), [None, None]);
}

fn params(kind: ServerType, group: Option<i32>) -> AddressParams {
    AddressParams { server_type: kind, group, ..AddressParams::default() }
}

#[test]
fn backups_serve_when_their_groups_mains_are_down() {
    use ServerType::{Backup, Main};
    let select: UpstreamHash = Arc::new(|path: &str, _: &str, _: &str| path.len() as u32 - 1);
    let u = Upstream::create("ut-groups", Policy::Manual { select, try_another: false, second: None });
    u.add_server_with("g1-main-a:1", params(Main, Some(1))).unwrap();
    u.add_server_with("g1-main-b:1", params(Main, Some(1))).unwrap();
    u.add_server_with("free-main:1", params(Main, None)).unwrap();
    u.add_server_with("g1-backup:1", params(Backup, Some(1))).unwrap();
    u.add_server_with("free-backup:1", params(Backup, None)).unwrap();
    u.add_server_with("g2-backup:1", params(Backup, Some(2))).unwrap();
    let at = |path: &str| u.pick_for_bench(path, "", "").map(|a| a.to_string());
    assert_eq!(u.main_addresses(), ["g1-main-a:1", "g1-main-b:1", "free-main:1"]);
    assert_eq!(at("/").as_deref(), Some("g1-main-a:1"));
    // Down: another main of its group, even without try_another.
    u.disable_server("g1-main-a:1");
    assert_eq!(at("/").as_deref(), Some("g1-main-b:1"));
    // Both mains of group 1 down: its backup.
    u.disable_server("g1-main-b:1");
    assert_eq!(at("/").as_deref(), Some("g1-backup:1"));
    assert_eq!(at("//").as_deref(), Some("g1-backup:1"));
    // Its backup down too: an ungrouped backup.
    u.disable_server("g1-backup:1");
    assert_eq!(at("/").as_deref(), Some("free-backup:1"));
    // The ungrouped main down: the ungrouped backup, never group 1's or 2's.
    u.enable_server("g1-backup:1");
    u.disable_server("free-main:1");
    assert_eq!(at("///").as_deref(), Some("free-backup:1"));
    u.disable_server("free-backup:1");
    assert_eq!(at("///"), None);
    // No main at all: ungrouped backups still serve.
    let b = Upstream::create("ut-groups-backups-only", Policy::RoundRobin { try_another: false });
    b.add_server_with("only-backup:1", params(Backup, None)).unwrap();
    assert_eq!(pick(&b).as_deref(), Some("only-backup:1"));
}

#[test]
fn the_same_address_twice_is_two_servers() {
    let u = Upstream::create("ut-dup", Policy::WeightedRandom { try_another: true });
    u.add_server("10.0.0.1:1").unwrap();
    u.add_server("10.0.0.1:1").unwrap();
    u.add_server("10.0.0.2:1").unwrap();
    assert_eq!(u.main_addresses(), ["10.0.0.1:1", "10.0.0.1:1", "10.0.0.2:1"]);
    let c = counts(&picks(&u, 30_000));
    let share = c["10.0.0.1:1"] as f64 / 30_000.0;
    assert!((share - 2.0 / 3.0).abs() < 0.02, "{share}");
    // Two breakers: one entry fused, the other still serves.
    fuse(&u, "10.0.0.1:1");
    let c = counts(&picks(&u, 30_000));
    let share = c["10.0.0.1:1"] as f64 / 30_000.0;
    assert!((share - 0.5).abs() < 0.02, "{share}");
    assert_eq!(u.disable_server("10.0.0.1:1"), 2);
    assert_eq!(u.remove_server("10.0.0.1:1"), 2);
    assert_eq!(u.remove_server("10.0.0.1:1"), 0);
    assert_eq!(u.main_addresses(), ["10.0.0.2:1"]);
}

#[test]
fn set_servers_keeps_the_breaker_of_a_server_kept_as_it_was() {
    let u = up("ut-set-servers", Policy::RoundRobin { try_another: true }, &["10.0.0.1:1", "10.0.0.2:1"]);
    fuse(&u, "10.0.0.1:1");
    u.set_servers(vec![
        ("10.0.0.1:1".into(), AddressParams::default()),
        ("10.0.0.3:1".into(), AddressParams::default()),
    ])
    .unwrap();
    assert_eq!(u.main_addresses(), ["10.0.0.1:1", "10.0.0.3:1"]);
    let c = counts(&picks(&u, 10));
    assert_eq!((c.get("10.0.0.1:1"), c["10.0.0.3:1"]), (None, 10));
    // New parameters: a new server, breaker closed.
    u.set_servers(vec![("10.0.0.1:1".into(), with(2)), ("10.0.0.3:1".into(), AddressParams::default())]).unwrap();
    assert_eq!(counts(&picks(&u, 10))["10.0.0.1:1"], 5);
    // A bad address: an error, nothing changed.
    let e = u.set_servers(vec![("10.0.0.4:1".into(), with(1)), ("bad address".into(), with(1))]).unwrap_err();
    assert_eq!(e.code(), code::URI_PARSE_FAILED);
    assert_eq!(u.servers().len(), 2);
    assert_eq!(u.servers()[0], ("10.0.0.1:1".to_string(), with(2)));
}

#[test]
fn bad_addresses_are_not_added() {
    let u = Upstream::create("ut-bad", Policy::RoundRobin { try_another: false });
    for a in ["", "h:0", "h:x", "a b", "[::1", "http://h/"] {
        assert_eq!(u.add_server(a).unwrap_err().state(), crate::State::TaskError, "{a:?}");
    }
    assert_eq!(u.replace_server("a b", AddressParams::default()), 0);
    assert!(u.servers().is_empty());
    assert_eq!(pick(&u), None);
}

#[test]
fn replace_enable_disable_count_entries() {
    let u = up("ut-replace", Policy::RoundRobin { try_another: false }, &["10.0.0.1:1", "10.0.0.1:1", "10.0.0.2:1"]);
    assert_eq!(u.replace_server("10.0.0.1:1", with(4)), 2);
    assert_eq!(u.servers(), [("10.0.0.2:1".to_string(), with(1)), ("10.0.0.1:1".to_string(), with(4))]);
    assert_eq!(u.replace_server("10.0.0.3:1", AddressParams::default()), 0);
    assert_eq!(u.servers().len(), 3);
    assert_eq!(u.disable_server("10.0.0.9:1"), 0);
    assert_eq!(u.enable_server("10.0.0.2:1"), 1);
}

#[test]
fn a_request_never_picks_a_server_it_tried() {
    let a = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"];
    for (i, policy) in [
        Policy::WeightedRandom { try_another: false },
        Policy::RoundRobin { try_another: false },
        Policy::ConsistentHash { hash: None },
        Policy::Manual { select: Arc::new(|_, _, _| 0), try_another: true, second: None },
        Policy::Vnswrr,
    ]
    .into_iter()
    .enumerate()
    {
        let u = up(&format!("ut-tried-{i}"), policy, &a);
        let table = u.table();
        let tried_ab = |s: &Server| &*s.address != a[2];
        for _ in 0..20 {
            let s = u.shared.pick("/", "", "", Some(&tried_ab)).map(|s| s.address.to_string());
            assert_eq!(s.as_deref(), Some(a[2]), "policy {i}");
        }
        assert!(u.shared.pick("/", "", "", Some(&|_| true)).is_none(), "policy {i}");
        drop(table);
    }
}

#[test]
fn registry_create_get_delete() {
    let u = Upstream::create("UT-Registry", Policy::RoundRobin { try_another: false });
    assert_eq!(u.name(), "UT-Registry");
    assert!(Upstream::get("ut-registry").is_some());
    assert!(route::registered_route("ut-registry").is_some());
    u.add_server("10.0.0.1:1").unwrap();
    assert_eq!(Upstream::get("ut-registry").unwrap().main_addresses(), ["10.0.0.1:1"]);
    // Created again: replaced, empty.
    let v = Upstream::create("ut-registry", Policy::Vnswrr);
    assert!(v.main_addresses().is_empty());
    assert!(Upstream::get("UT-REGISTRY").unwrap().main_addresses().is_empty());
    assert!(Upstream::delete("ut-registry"));
    assert!(!Upstream::delete("ut-registry"));
    assert!(Upstream::get("ut-registry").is_none());
    assert!(route::registered_route("ut-registry").is_none());
    // A route registered over the upstream's name stays when it is deleted.
    let w = Upstream::create("ut-registry-2", Policy::Vnswrr);
    let other = Upstream::create("ut-registry-3", Policy::Vnswrr);
    route::register_route("ut-registry-2", other.shared.clone());
    assert!(Upstream::delete("ut-registry-2"));
    assert!(route::registered_route("ut-registry-2").is_some());
    drop(w);
    route::unregister_route("ut-registry-2");
}

async fn route_of(u: &Upstream, url: &str) -> Result<Routed, Error> {
    let uri = Uri::parse(url).unwrap();
    u.shared.route(&uri, Pick::first()).await
}

#[tokio::test]
async fn ports_address_then_url_then_scheme_and_endpoint_params() {
    let u = Upstream::create("ut-ports", Policy::RoundRobin { try_another: false });
    u.add_server("127.0.0.1:9").unwrap();
    let target = |r: Routed| r.target().clone();
    let inet = |s: &str| Target::Inet(s.parse().unwrap());
    assert_eq!(target(route_of(&u, "http://ut-ports:81/").await.unwrap()), inet("127.0.0.1:9"));
    u.set_servers(vec![("127.0.0.1".into(), AddressParams::default())]).unwrap();
    assert_eq!(target(route_of(&u, "http://ut-ports:81/").await.unwrap()), inet("127.0.0.1:81"));
    assert_eq!(target(route_of(&u, "http://ut-ports/").await.unwrap()), inet("127.0.0.1:80"));
    u.set_servers(vec![("[::1]".into(), AddressParams::default())]).unwrap();
    assert_eq!(target(route_of(&u, "http://ut-ports:82/").await.unwrap()), inet("[::1]:82"));
    // A host name: resolved, with the address's port.
    u.set_servers(vec![("localhost:5".into(), AddressParams::default())]).unwrap();
    let r = route_of(&u, "http://ut-ports/").await.unwrap();
    assert_eq!(r.server_name(), Some("localhost"));
    match target(r) {
        Target::Inet(a) => assert!(a.ip().is_loopback() && a.port() == 5, "{a}"),
        t => panic!("{t:?}"),
    }
    // A Unix socket, and per-server endpoint parameters.
    let ep = crate::EndpointParams { max_connections: 1000, ..crate::EndpointParams::default() };
    let p = AddressParams { endpoint: Some(ep.clone()), ..AddressParams::default() };
    u.set_servers(vec![("/tmp/ut-ports.sock".into(), p)]).unwrap();
    let r = route_of(&u, "http://ut-ports/").await.unwrap();
    assert_eq!(r.server_name(), None);
    assert_eq!(r.target(), &Target::Unix("/tmp/ut-ports.sock".into()));
    assert_eq!(r.endpoint(), Some(&ep));
    // Nothing to pick: 1004.
    u.set_servers(Vec::new()).unwrap();
    assert_eq!(route_of(&u, "http://ut-ports/").await.unwrap_err(), unavailable());
}

#[tokio::test]
async fn a_name_that_does_not_resolve_counts_against_the_server() {
    let u = Upstream::create("ut-dns-fail", Policy::RoundRobin { try_another: true });
    let p = AddressParams { max_fails: 1, ..AddressParams::default() };
    u.add_server_with("nonexistent.invalid:80", p).unwrap();
    u.add_server("127.0.0.1:80").unwrap();
    u.set_mttr(Duration::from_secs(3600));
    let e = route_of(&u, "http://ut-dns-fail/").await.unwrap_err();
    assert_eq!(e.state(), crate::State::DnsError);
    for _ in 0..4 {
        let r = route_of(&u, "http://ut-dns-fail/").await.unwrap();
        assert_eq!(r.target(), &Target::Inet("127.0.0.1:80".parse().unwrap()));
    }
}

#[test]
fn servers_change_from_any_thread_while_others_pick() {
    let u = Upstream::create("ut-threads", Policy::Vnswrr);
    u.add_server("10.0.0.1:1").unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Pickers that have picked once: the changes start when all have.
    let picking = Arc::new(AtomicUsize::new(0));
    let pickers: Vec<_> = (0..3)
        .map(|_| {
            let (u, stop, picking) = (u.clone(), stop.clone(), picking.clone());
            std::thread::spawn(move || {
                let mut n = 0usize;
                loop {
                    // 10.0.0.1 is never removed: a pick always finds a server.
                    let a = pick(&u).expect("a server");
                    assert!(a.starts_with("10.0.0."), "{a}");
                    n += 1;
                    if n == 1 {
                        picking.fetch_add(1, Ordering::SeqCst);
                    }
                    if stop.load(Ordering::Relaxed) {
                        break n;
                    }
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while picking.load(Ordering::SeqCst) < 3 {
        assert!(std::time::Instant::now() < deadline, "the pickers never started");
        std::thread::yield_now();
    }
    let changers: Vec<_> = (0..2)
        .map(|t| {
            let u = u.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let a = format!("10.0.0.{}:{}", 2 + t, i % 7 + 1);
                    u.add_server_with(&a, with((i % 5 + 1) as u16)).unwrap();
                    if i % 3 == 0 {
                        u.disable_server(&a);
                    }
                    if i % 2 == 0 {
                        u.remove_server(&a);
                    }
                }
            })
        })
        .collect();
    for c in changers {
        c.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for p in pickers {
        assert!(p.join().unwrap() > 0);
    }
    assert_eq!(u.main_addresses()[0], "10.0.0.1:1");
}

#[test]
fn the_clock_is_read_only_when_a_breaker_is_tripped() {
    let u = up("ut-clock", Policy::RoundRobin { try_another: true }, &["10.0.0.1:1", "10.0.0.2:1"]);
    let table = u.table();
    let req = |_: ()| table::Request {
        path: "/",
        query: "",
        fragment: "",
        tried: &|_| false,
        any_tried: false,
        now: Default::default(),
    };
    let r = req(());
    for _ in 0..2 {
        assert!(table.pick(u.policy(), &u.shared.rr, &r).is_some());
    }
    assert_eq!(r.now.get(), 0);
    fuse(&u, "10.0.0.1:1");
    // Round robin: one of two picks meets the fused server.
    let r = req(());
    for _ in 0..2 {
        assert_eq!(table.pick(u.policy(), &u.shared.rr, &r).unwrap().address.as_ref(), "10.0.0.2:1");
    }
    assert_ne!(r.now.get(), 0);
}
