//! The Redis Cluster client against a real six-node cluster (testkit's
//! `RedisCluster`): commands reach the master of their slot, hash tags
//! keep keys together, keys in several slots are refused, `MOVED` after a
//! slot migration and `ASK` during one are followed, and a manual failover
//! under a write load loses no acknowledged write. Hostile or absent
//! nodes end tasks with errors, never hangs.

use crate::support;

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use support::{Outcome, fake_server, name, s, status};
use testkit::redis_cluster::RedisCluster as Nodes;
use wf_core::{Error, State};
use wf_redis::RedisValue;
use wf_redis::cluster::{RedisCluster, RedisClusterTask, key_slot};

/// One cluster for the tests that do not change its layout.
fn shared() -> &'static Nodes {
    static NODES: OnceLock<Nodes> = OnceLock::new();
    NODES.get_or_init(Nodes::start)
}

fn client(nodes: &Nodes) -> RedisCluster {
    // Two seeds: the first node and the last.
    RedisCluster::new([nodes.url(0), nodes.url(nodes.len() - 1)]).expect("seed URLs")
}

fn outcome_of(t: &RedisClusterTask) -> Outcome {
    Outcome {
        state: t.state(),
        error: t.error().cloned().unwrap_or_else(|| Error::new(t.state(), 0)),
        results: t.resp().results().to_vec(),
        redirects: t.redirects(),
        uri: t.uri().map(|u| u.as_str().to_owned()),
        peer: None,
    }
}

#[track_caller]
fn run(mut task: RedisClusterTask) -> Outcome {
    testkit::capture(|tx| {
        task.set_callback(move |t| {
            let _ = tx.send(outcome_of(t));
        });
        task.start();
    })
}

#[track_caller]
fn exec(c: &RedisCluster, command: &str, params: &[&str]) -> Outcome {
    let mut t = c.create_task(0, |_| {});
    t.set_request(command, params.iter().copied());
    run(t)
}

fn port_of(uri: &str) -> u16 {
    uri.trim_end_matches('/').rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("a port")
}

/// The node (index) that holds `key`: its slot's master, asked with
/// `CLUSTER KEYSLOT`, so wf's CRC16 is checked against Redis's.
fn holder(nodes: &Nodes, key: &str) -> usize {
    let slot: u16 = nodes.cli_text(0, &["CLUSTER", "KEYSLOT", key]).parse().expect("a slot");
    assert_eq!(key_slot(key.as_bytes()), slot, "slot of {key}");
    nodes.master_of_slot(slot)
}

#[test]
fn commands_go_to_their_slots_master() {
    let nodes = shared();
    let c = client(nodes);
    // 60 keys in a parallel: every master gets some.
    let keys: Vec<String> = (0..60).map(|i| format!("route:{i}")).collect();
    let (tx, rx) = mpsc::channel();
    let mut parallel = wf_core::create_parallel_work(|_| {});
    for k in &keys {
        let tx = tx.clone();
        let mut t = c.create_task(0, move |t| {
            let _ = tx.send(outcome_of(t));
        });
        t.set_request("SET", [k.as_str(), k.as_str()]);
        parallel.add_series(wf_core::create_series_work(t, |_| {}));
    }
    parallel.start();
    let outcomes: Vec<Outcome> = (0..keys.len()).map(|_| testkit::recv(&rx)).collect();
    assert!(outcomes.iter().all(|o| o.value() == &status("OK")), "{outcomes:?}");
    let mut used = std::collections::HashSet::new();
    for k in &keys {
        let at = holder(nodes, k);
        used.insert(at);
        // redis-cli without -c does not follow MOVED: the key is there.
        assert_eq!(nodes.cli_text(at, &["GET", k]), *k, "{k} on node {at}");
        // And the client goes straight there, once it has the map.
        let o = exec(&c, "GET", &[k]);
        assert_eq!(o.value(), &s(k));
        assert_eq!(o.redirects, 0);
        assert_eq!(port_of(o.uri.as_deref().unwrap()), nodes.port(at));
    }
    assert_eq!(used.len(), 3, "keys on every master");
    assert_eq!(c.masters().len(), 3);
}

#[test]
fn hash_tags_keep_keys_on_one_node() {
    let nodes = shared();
    let c = client(nodes);
    let o = exec(&c, "MSET", &["{user:7}.name", "ada", "{user:7}.mail", "ada@x"]);
    assert_eq!(o.value(), &status("OK"));
    let o = exec(&c, "MGET", &["{user:7}.name", "{user:7}.mail"]);
    assert_eq!(o.value(), &RedisValue::Array(vec![s("ada"), s("ada@x")]));
    let at = holder(nodes, "{user:7}.mail");
    assert_eq!(holder(nodes, "user:7"), at);
    assert_eq!(port_of(o.uri.as_deref().unwrap()), nodes.port(at));
    // A pipeline (a transaction, even) on one slot.
    let mut t = c.create_task(0, |_| {});
    t.req_mut().push_command("MULTI", [""; 0]);
    t.req_mut().push_command("INCR", ["{user:7}.visits"]);
    t.req_mut().push_command("INCR", ["{user:7}.visits"]);
    t.req_mut().push_command("EXEC", [""; 0]);
    let o = run(t);
    o.ok();
    assert_eq!(o.results[3], RedisValue::Array(vec![RedisValue::Integer(1), RedisValue::Integer(2)]));
}

#[test]
fn keys_in_several_slots_are_refused() {
    let c = client(shared());
    assert_ne!(key_slot(b"foo"), key_slot(b"bar"));
    let o = exec(&c, "MGET", &["foo", "bar"]);
    o.assert_failed(State::TaskError, wf_redis::code::CROSS_SLOT);
    let mut t = c.create_task(0, |_| {});
    t.req_mut().push_command("SET", ["foo", "1"]);
    t.req_mut().push_command("SET", ["bar", "1"]);
    run(t).assert_failed(State::TaskError, wf_redis::code::CROSS_SLOT);
    // Keyless commands go to some master.
    assert_eq!(exec(&c, "PING", &[]).value(), &status("PONG"));
    assert!(exec(&c, "CLUSTER", &["INFO"]).value().as_str().unwrap().contains("cluster_state:ok"));
}

/// Moves `slot` from master `from` to master `to`: IMPORTING/MIGRATING,
/// then `MIGRATE` of `keys`; `finish` ends it with `SETSLOT … NODE` on
/// every master.
fn migrate(nodes: &Nodes, slot: u16, from: usize, to: usize, keys: &[&str], finish: bool) {
    let slot = slot.to_string();
    let (from_id, to_id) = (nodes.node_id(from), nodes.node_id(to));
    assert_eq!(nodes.cli_text(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]), "OK");
    assert_eq!(nodes.cli_text(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]), "OK");
    if !keys.is_empty() {
        let port = nodes.port(to).to_string();
        let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
        args.extend_from_slice(keys);
        assert_eq!(nodes.cli_text(from, &args), "OK");
    }
    if finish {
        for m in [to, from] {
            assert_eq!(nodes.cli_text(m, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]), "OK");
        }
        for m in nodes.masters() {
            let _ = nodes.cli(m, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
        }
        nodes.wait_settled();
    }
}

#[test]
fn moved_after_a_slot_migration_is_followed_and_remembered() {
    let nodes = Nodes::start();
    let c = client(&nodes);
    let key = "{moving}.k";
    assert_eq!(exec(&c, "SET", &[key, "v1"]).value(), &status("OK"));
    let slot = key_slot(key.as_bytes());
    let from = holder(&nodes, key);
    let to = nodes.masters().into_iter().find(|&m| m != from).unwrap();
    migrate(&nodes, slot, from, to, &[key], true);
    assert_eq!(nodes.cli_text(to, &["GET", key]), "v1");

    let o = exec(&c, "GET", &[key]);
    assert_eq!(o.value(), &s("v1"));
    assert_eq!(o.redirects, 1, "one MOVED");
    assert_eq!(port_of(o.uri.as_deref().unwrap()), nodes.port(to));
    assert_eq!(c.master_of(slot).map(|u| port_of(&u)), Some(nodes.port(to)));
    // The map knows now: no redirect.
    let o = exec(&c, "SET", &[key, "v2"]);
    assert_eq!((o.value(), o.redirects), (&status("OK"), 0));
    assert_eq!(nodes.cli_text(to, &["GET", key]), "v2");
}

#[test]
fn ask_during_a_migration_goes_once_to_the_importing_node() {
    let nodes = Nodes::start();
    let c = client(&nodes);
    let (moved, stays, fresh) = ("{mig}.moved", "{mig}.stays", "{mig}.fresh");
    for k in [moved, stays] {
        assert_eq!(exec(&c, "SET", &[k, k]).value(), &status("OK"));
    }
    let slot = key_slot(moved.as_bytes());
    let from = holder(&nodes, moved);
    let to = nodes.masters().into_iter().find(|&m| m != from).unwrap();
    migrate(&nodes, slot, from, to, &[moved], false);

    let o = exec(&c, "GET", &[moved]);
    assert_eq!(o.value(), &s(moved));
    assert_eq!(o.redirects, 1, "one ASK");
    assert_eq!(port_of(o.uri.as_deref().unwrap()), nodes.port(to));
    // ASK does not change the map: the old master is still asked first.
    assert_eq!(c.master_of(slot).map(|u| port_of(&u)), Some(nodes.port(from)));
    let o = exec(&c, "GET", &[stays]);
    assert_eq!((o.value(), o.redirects), (&s(stays), 0));
    assert_eq!(port_of(o.uri.as_deref().unwrap()), nodes.port(from));
    // A new key of a migrating slot is created on the importing node.
    let o = exec(&c, "SET", &[fresh, "new"]);
    assert_eq!((o.value(), o.redirects), (&status("OK"), 1));
    let count = |node| nodes.cli_text(node, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
    assert_eq!((count(to), count(from)), ("2".to_owned(), "1".to_owned()), "moved+fresh there, stays here");
    let o = exec(&c, "GET", &[moved]);
    assert_eq!((o.value(), o.redirects), (&s(moved), 1));
}

#[test]
fn a_failover_under_write_load_loses_no_acknowledged_write() {
    let nodes = Nodes::start();
    let c = client(&nodes);
    let master = nodes.masters()[0];
    let replica = nodes.replica_of(master).expect("a replica");

    const WRITERS: usize = 8;
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = mpsc::channel::<()>();

    fn write(
        c: RedisCluster,
        stop: Arc<AtomicBool>,
        next: Arc<AtomicUsize>,
        acked: Arc<Mutex<Vec<String>>>,
        failed: Arc<AtomicUsize>,
        done: mpsc::Sender<()>,
    ) -> RedisClusterTask {
        let key = format!("load:{}", next.fetch_add(1, Ordering::Relaxed));
        let (c2, written) = (c.clone(), key.clone());
        let mut t = c.create_task(0, move |t| {
            if t.state() == State::Success && t.result().is_ok() {
                acked.lock().unwrap().push(written);
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            if stop.load(Ordering::Relaxed) {
                let _ = done.send(());
            } else {
                let n = write(c2, stop, next, acked, failed, done);
                wf_core::series_of(t).push_back(n);
            }
        });
        let value = key.clone();
        t.set_request("SET", [key.as_str(), value.as_str()]);
        t
    }

    for _ in 0..WRITERS {
        let t = write(c.clone(), stop.clone(), next.clone(), acked.clone(), failed.clone(), done_tx.clone());
        wf_core::create_series_work(t, |_| {}).start();
    }
    let acks = || acked.lock().unwrap().len();
    assert!(testkit::wait_until(testkit::WAIT, || acks() >= 300), "writes before the failover");
    assert_eq!(nodes.cli_text(replica, &["CLUSTER", "FAILOVER"]), "OK");
    assert!(
        testkit::wait_until(testkit::WAIT, || nodes.cli_text(replica, &["ROLE"]).starts_with("master")),
        "the replica took over"
    );
    let after = acks();
    assert!(testkit::wait_until(testkit::WAIT, || acks() >= after + 300), "writes after the failover");
    stop.store(true, Ordering::Relaxed);
    for _ in 0..WRITERS {
        testkit::recv(&done_rx);
    }

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let slots_moved: Vec<&String> =
        acked[after..].iter().filter(|k| nodes.master_of_slot(key_slot(k.as_bytes())) == replica).collect();
    assert!(!slots_moved.is_empty(), "writes to the new master");
    // Every acknowledged write is there, read through the client.
    let (tx, rx) = mpsc::channel();
    for chunk in acked.chunks(200) {
        let (c, tx, chunk) = (c.clone(), tx.clone(), chunk.to_vec());
        std::thread::spawn(move || {
            let missing: Vec<String> =
                chunk.into_iter().filter(|k| exec(&c, "EXISTS", &[k]).value() != &RedisValue::Integer(1)).collect();
            let _ = tx.send(missing);
        });
    }
    drop(tx);
    let missing: Vec<String> = rx.iter().flatten().collect();
    assert!(missing.is_empty(), "{} of {} acknowledged writes lost: {missing:?}", missing.len(), acked.len());
    eprintln!("failover: {} writes acknowledged, {} failed", acked.len(), failed.load(Ordering::Relaxed));
}

#[test]
fn a_node_that_is_not_a_cluster_is_a_clear_error() {
    let plain = testkit::RedisServer::start();
    let c = RedisCluster::new([plain.url()]).unwrap();
    exec(&c, "GET", &["k"]).assert_failed(State::SysError, libc::EBADMSG);
    // Nothing listening: refused, at once.
    let c = RedisCluster::new([format!("redis://127.0.0.1:{}", testkit::free_port())]).unwrap();
    exec(&c, "GET", &["k"]).assert_failed(State::SysError, libc::ECONNREFUSED);
}

#[test]
fn hostile_maps_are_refused() {
    for reply in [
        RedisValue::Array(vec![RedisValue::Array(vec![
            RedisValue::Integer(0),
            RedisValue::Integer(99999),
            RedisValue::Array(vec![s("127.0.0.1"), RedisValue::Integer(1)]),
        ])]),
        RedisValue::Array(vec![RedisValue::Array(vec![
            RedisValue::Integer(0),
            RedisValue::Integer(10),
            RedisValue::Array(vec![s("a b/c"), RedisValue::Integer(1)]),
        ])]),
        RedisValue::Integer(7),
    ] {
        let (front, port, _) = fake_server(move |_| reply.clone());
        let c = RedisCluster::new([format!("redis://127.0.0.1:{port}")]).unwrap();
        exec(&c, "GET", &["k"]).assert_failed(State::SysError, libc::EBADMSG);
        front.stop();
    }
}

#[test]
fn a_moved_loop_stops_after_the_redirect_limit() {
    let me = Arc::new(AtomicU16::new(0));
    let port_in = me.clone();
    let (front, port, seen) = fake_server(move |words| {
        let port = port_in.load(Ordering::Relaxed);
        if name(words) == "CLUSTER" {
            RedisValue::Array(vec![RedisValue::Array(vec![
                RedisValue::Integer(0),
                RedisValue::Integer(16383),
                RedisValue::Array(vec![s("127.0.0.1"), RedisValue::Integer(port.into())]),
            ])])
        } else {
            RedisValue::error(format!("MOVED 1 127.0.0.1:{port}"))
        }
    });
    me.store(port, Ordering::Relaxed);
    let c = RedisCluster::new([format!("redis://127.0.0.1:{port}")]).unwrap();
    let o = exec(&c, "GET", &["k"]);
    assert_eq!(o.redirects, 5);
    assert!(o.value().as_bytes().unwrap().starts_with(b"MOVED"), "{o:?}");
    let gets = seen.lines().iter().filter(|l| l.starts_with("GET")).count();
    assert_eq!(gets, 6, "the first attempt and 5 redirects");
    front.stop();
}

#[test]
fn a_crashed_master_is_replaced_by_its_replica_without_a_failed_task() {
    let mut nodes = Nodes::start();
    let c = client(&nodes);
    let key = "{crash}.k";
    assert_eq!(exec(&c, "SET", &[key, "before"]).value(), &status("OK"));
    let master = holder(&nodes, key);
    let replica = nodes.replica_of(master).expect("a replica");
    // The write reached the replica before the crash (the only key of a
    // fresh cluster; a replica redirects a GET without READONLY).
    assert!(testkit::wait_until(testkit::WAIT, || nodes.cli_text(replica, &["DBSIZE"]) == "1"));
    nodes.kill(master);
    // The kept connection to the dead master may take the SET before its
    // reset is seen (ECONNRESET: the command may have run, so it is sent
    // again only because retry_max allows one retry); then refused
    // connections: the map is read again, with pauses, until the replica
    // has taken over (cluster-node-timeout is 1 s).
    let mut t = c.create_task(1, |_| {});
    t.set_request("SET", [key, "after"]);
    let o = run(t);
    assert_eq!(o.value(), &status("OK"), "{o:?}");
    assert_eq!(port_of(o.uri.as_deref().unwrap()), nodes.port(replica));
    assert_eq!(nodes.cli_text(replica, &["GET", key]), "after");
    assert_eq!(exec(&c, "GET", &[key]).value(), &s("after"));
}

/// How many times node `i` ran `command` (`INFO commandstats`).
fn calls(nodes: &Nodes, i: usize, command: &str) -> u64 {
    let info = nodes.cli_text(i, &["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|rest| rest.split(',').next().unwrap().parse().expect("a count"))
        .unwrap_or(0)
}

/// The port of a node URL that may have a query (`…:7004/?readonly=1`).
fn node_port(uri: &str) -> u16 {
    port_of(uri.split('?').next().unwrap())
}

/// A write acknowledged by a replica too: `SET` then `WAIT 1 1000` on the
/// same connection.
fn set_replicated(c: &RedisCluster, key: &str, value: &str) -> Outcome {
    let mut t = c.create_task(0, |_| {});
    t.req_mut().push_command("SET", [key, value]);
    t.req_mut().push_command("WAIT", ["1", "1000"]);
    let o = run(t);
    assert_eq!(o.results, vec![status("OK"), RedisValue::Integer(1)], "{o:?}");
    o
}

/// Waits until every node's `CLUSTER SLOTS` lists `replica`: Redis
/// leaves out a replica whose replication offset it has not yet heard of
/// (a fresh cluster), and the client learns replicas from that map.
fn wait_listed(nodes: &Nodes, replica: usize) {
    let port = nodes.port(replica).to_string();
    let listed = testkit::wait_until(testkit::WAIT, || {
        (0..nodes.len()).all(|i| nodes.cli_text(i, &["CLUSTER", "SLOTS"]).lines().any(|l| l.trim() == port))
    });
    assert!(listed, "replica {replica} in CLUSTER SLOTS: {}", nodes.cli_text(0, &["CLUSTER", "SLOTS"]));
}

#[test]
fn reads_go_to_a_replica_only_when_asked() {
    let nodes = Nodes::start();
    let key = "{ro}.k";
    let master = holder(&nodes, key);
    let replica = nodes.replica_of(master).expect("a replica");
    let off = client(&nodes);
    set_replicated(&off, key, "v1");
    wait_listed(&nodes, replica);
    let on = client(&nodes).read_from_replicas(true);

    // Setting off: reads stay on the master.
    let o = exec(&off, "GET", &[key]);
    assert_eq!(o.value(), &s("v1"));
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(master));
    assert_eq!((calls(&nodes, master, "get"), calls(&nodes, replica, "get")), (1, 0));

    // Setting on: reads go to the replica, on a READONLY connection.
    for _ in 0..3 {
        let o = exec(&on, "GET", &[key]);
        assert_eq!((o.value(), o.redirects), (&s("v1"), 0), "{o:?}");
        assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(replica));
    }
    let o = exec(&on, "HGETALL", &["{ro}.h"]);
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(replica));
    assert_eq!((calls(&nodes, master, "get"), calls(&nodes, replica, "get")), (1, 3));
    assert_eq!(calls(&nodes, replica, "readonly"), 1, "READONLY once, on one pooled connection");
    let clients = nodes.cli_text(replica, &["CLIENT", "LIST"]);
    assert!(clients.lines().any(|l| l.contains(" flags=r ")), "{clients}");

    // A write, a transaction, a pipeline with a write: the master.
    let o = set_replicated(&on, key, "v2");
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(master));
    let mut t = on.create_task(0, |_| {});
    t.req_mut().push_command("GET", [key]);
    t.req_mut().push_command("INCR", ["{ro}.n"]);
    let o = run(t);
    assert_eq!(o.results, vec![s("v2"), RedisValue::Integer(1)]);
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(master));
    let mut t = on.create_task(0, |_| {});
    t.req_mut().push_command("MULTI", [""; 0]);
    t.req_mut().push_command("GET", [key]);
    t.req_mut().push_command("EXEC", [""; 0]);
    let o = run(t);
    assert_eq!(o.results[2], RedisValue::Array(vec![s("v2")]));
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(master));
    assert_eq!(calls(&nodes, replica, "get"), 3, "no more reads there");
    // The new value is read back from the replica.
    let o = exec(&on, "GET", &[key]);
    assert_eq!(o.value(), &s("v2"));
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(replica));
}

#[test]
fn a_killed_replica_leaves_reads_to_the_master() {
    let mut nodes = Nodes::start();
    let key = "{rokill}.k";
    let master = holder(&nodes, key);
    let replica = nodes.replica_of(master).expect("a replica");
    set_replicated(&client(&nodes), key, "v");
    wait_listed(&nodes, replica);
    let c = client(&nodes).read_from_replicas(true);
    let o = exec(&c, "GET", &[key]);
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(replica), "{o:?}");
    nodes.kill(replica);
    // The kept connection is reset, then connections are refused: each
    // read goes to the master, with no failed task.
    for _ in 0..3 {
        let o = exec(&c, "GET", &[key]);
        assert_eq!(o.value(), &s("v"), "{o:?}");
        assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(master));
    }
    assert_eq!(calls(&nodes, master, "get"), 3);
}

#[test]
fn a_moved_from_a_replica_is_followed_to_the_new_master() {
    let nodes = Nodes::start();
    let key = "{romove}.k";
    let from = holder(&nodes, key);
    let replica = nodes.replica_of(from).expect("a replica");
    set_replicated(&client(&nodes), key, "v");
    wait_listed(&nodes, replica);
    let c = client(&nodes).read_from_replicas(true);
    let o = exec(&c, "GET", &[key]);
    assert_eq!(node_port(o.uri.as_deref().unwrap()), nodes.port(replica), "{o:?}");
    // The slot moves to another master: the old master's replica answers
    // MOVED, and the read goes there; the map is read again.
    let slot = key_slot(key.as_bytes());
    let to = nodes.masters().into_iter().find(|&m| m != from).unwrap();
    migrate(&nodes, slot, from, to, &[key], true);
    assert!(
        testkit::wait_until(testkit::WAIT, || nodes
            .cli_text(replica, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
            == "0"),
        "the replica let the key go"
    );
    let o = exec(&c, "GET", &[key]);
    assert_eq!((o.value(), o.redirects), (&s("v"), 1), "{o:?}");
    assert_eq!(c.master_of(slot).map(|u| port_of(&u)), Some(nodes.port(to)));
    // Then straight to the new master or its replica.
    let o = exec(&c, "GET", &[key]);
    assert_eq!((o.value(), o.redirects), (&s("v"), 0), "{o:?}");
    let at = node_port(o.uri.as_deref().unwrap());
    assert!(at == nodes.port(to) || Some(at) == nodes.replica_of(to).map(|r| nodes.port(r)), "{o:?}");
}
