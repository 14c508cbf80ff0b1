//! A hermetic Redis Cluster: six `redis-server` nodes (three masters, one
//! replica each) on free ports of 127.0.0.1.
//!
//! ```no_run
//! use testkit::redis_cluster::RedisCluster;
//!
//! let cluster = RedisCluster::start();
//! let slot_owner = cluster.master_of_slot(12182); // CLUSTER KEYSLOT foo
//! let out = cluster.cli(slot_owner, &["SET", "foo", "bar"]);
//! assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
//! println!("{:?}", cluster.seed_urls());
//! ```

use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

use crate::free_port;
use crate::redis::{RedisServer, cli_path};
use crate::wait::wait_until;

/// Nodes of a cluster: three masters and their replicas.
const NODES: usize = 6;
/// How long the cluster may take to form, or to settle after a change.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// `cluster-node-timeout`: short, so that a killed master is failed over
/// within seconds.
const NODE_TIMEOUT_MS: &str = "1000";

/// What `CLUSTER NODES` says about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's id (40 hex digits).
    pub id: String,
    /// Its client port on 127.0.0.1.
    pub port: u16,
    /// Whether it is a master (else a replica).
    pub master: bool,
    /// A replica's master id.
    pub master_id: Option<String>,
    /// A master's slot ranges, inclusive (migrating/importing marks left out).
    pub slots: Vec<(u16, u16)>,
    /// Whether the node is flagged failing (`fail` or `fail?`).
    pub failing: bool,
}

/// A running Redis Cluster of six nodes (three masters with one replica
/// each, `cluster-node-timeout` 1 s, no persistence), each node a
/// [`RedisServer`] with its own temporary directory. Dropping it kills
/// every node.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts six nodes, joins them with `redis-cli --cluster create …
    /// --cluster-replicas 1`, and waits until every node reports
    /// `cluster_state:ok` and all agree on the slots.
    ///
    /// # Panics
    ///
    /// If `redis-server` or `redis-cli` is missing, or the cluster does
    /// not form within 30 seconds.
    pub fn start() -> RedisCluster {
        let starts: Vec<_> = (0..NODES)
            .map(|_| {
                let bus = free_port();
                thread::spawn(move || {
                    let bus = bus.to_string();
                    let args = [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        NODE_TIMEOUT_MS,
                        "--cluster-port",
                        &bus,
                        // A replica may take over at once in tests.
                        "--cluster-replica-validity-factor",
                        "0",
                        "--repl-diskless-sync",
                        "yes",
                        "--repl-diskless-sync-delay",
                        "0",
                    ];
                    args.iter().fold(RedisServer::builder(), |b, a| b.arg(a)).start()
                })
            })
            .collect();
        let nodes: Vec<RedisServer> = starts.into_iter().map(|h| h.join().expect("testkit: node start")).collect();
        let cluster = RedisCluster { nodes };
        let mut create = Command::new(cli_path());
        create.arg("--cluster").arg("create");
        for n in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", n.port()));
        }
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let out = create.output().expect("testkit: cannot run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "testkit: redis-cli --cluster create failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_settled();
        cluster
    }

    /// How many nodes (six, killed ones included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never: a cluster has six nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s port on 127.0.0.1.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port()
    }

    /// Node `i`'s URL, `redis://127.0.0.1:PORT`.
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// Every node's URL, for a client's seed list.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The index of the node listening on `port`.
    pub fn index_of_port(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.port() == port)
    }

    /// Runs `redis-cli` against node `i` (see [`RedisServer::cli`]).
    pub fn cli(&self, i: usize, args: &[&str]) -> Output {
        self.nodes[i].cli(args)
    }

    /// `redis-cli` against node `i`, its standard output trimmed.
    pub fn cli_text(&self, i: usize, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cli(i, args).stdout).trim().to_owned()
    }

    /// The cluster as node `via` sees it (`CLUSTER NODES`).
    pub fn nodes_info(&self, via: usize) -> Vec<NodeInfo> {
        parse_nodes(&self.cli_text(via, &["CLUSTER", "NODES"]))
    }

    /// Indices of the masters (as the first live node sees it).
    pub fn masters(&self) -> Vec<usize> {
        self.by_role(true)
    }

    /// Indices of the replicas (as the first live node sees it).
    pub fn replicas(&self) -> Vec<usize> {
        self.by_role(false)
    }

    /// The index of the master serving `slot` (as the first live node
    /// sees it).
    ///
    /// # Panics
    ///
    /// If no master serves it.
    pub fn master_of_slot(&self, slot: u16) -> usize {
        let info = self.nodes_info(self.live_node());
        let node = info
            .iter()
            .find(|n| n.master && !n.failing && n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
            .unwrap_or_else(|| panic!("testkit: no master serves slot {slot}"));
        self.index_of_port(node.port).expect("testkit: a node of this cluster")
    }

    /// The replica index of master `i`, waiting up to 10 s for the
    /// cluster to list one (`None` if none is listed by then).
    pub fn replica_of(&self, i: usize) -> Option<usize> {
        // A replica that just attached is listed by the other nodes once
        // gossip has carried it: ask again for a while before saying none.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let found = self.listed_replica_of(i);
            if found.is_some() || std::time::Instant::now() >= until {
                return found;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn listed_replica_of(&self, i: usize) -> Option<usize> {
        let info = self.nodes_info(self.live_node());
        let id = info.iter().find(|n| n.port == self.port(i))?.id.clone();
        let r = info.iter().find(|n| n.master_id.as_deref() == Some(&id) && !n.failing)?;
        self.index_of_port(r.port)
    }

    /// Node `i`'s id.
    pub fn node_id(&self, i: usize) -> String {
        self.cli_text(i, &["CLUSTER", "MYID"])
    }

    /// Kills node `i` (SIGKILL, as a crash).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Stops node `i` (SIGTERM, then SIGKILL).
    pub fn stop(&mut self, i: usize) {
        self.nodes[i].stop();
    }

    /// Waits (up to 30 s) until every live node says `cluster_state:ok`
    /// and all of them agree on which node serves which slot.
    ///
    /// # Panics
    ///
    /// If they do not.
    pub fn wait_settled(&self) {
        let settled = wait_until(SETTLE_TIMEOUT, || {
            let mut views = Vec::new();
            for i in 0..self.nodes.len() {
                let info = self.cli_text(i, &["CLUSTER", "INFO"]);
                if info.is_empty() {
                    continue; // killed
                }
                if !info.contains("cluster_state:ok") {
                    return false;
                }
                let mut slots: Vec<(u16, u16, u16)> = self
                    .nodes_info(i)
                    .iter()
                    .filter(|n| n.master && !n.failing)
                    .flat_map(|n| n.slots.iter().map(|&(a, b)| (a, b, n.port)))
                    .collect();
                slots.sort_unstable();
                views.push(slots);
            }
            !views.is_empty() && views.windows(2).all(|w| w[0] == w[1])
        });
        assert!(settled, "testkit: the cluster did not settle within {SETTLE_TIMEOUT:?}: {:?}", self.nodes_info(0));
    }

    fn live_node(&self) -> usize {
        (0..self.nodes.len()).find(|&i| !self.cli_text(i, &["PING"]).is_empty()).expect("testkit: no live node")
    }

    fn by_role(&self, master: bool) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .nodes_info(self.live_node())
            .iter()
            .filter(|n| n.master == master && !n.failing)
            .filter_map(|n| self.index_of_port(n.port))
            .collect();
        out.sort_unstable();
        out
    }
}

/// Parses `CLUSTER NODES`: `id ip:port@cport[,host] flags master ping pong
/// epoch link slot…` per line.
fn parse_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let port = f[1].split('@').next()?.rsplit_once(':')?.1.parse().ok()?;
            let flags = f[2];
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|a| (a, a)),
                })
                .collect();
            Some(NodeInfo {
                id: f[0].to_owned(),
                port,
                master: flags.split(',').any(|x| x == "master"),
                master_id: (f[3] != "-").then(|| f[3].to_owned()),
                slots,
                failing: flags.split(',').any(|x| x == "fail" || x == "fail?"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_nodes() {
        let text = "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 7000 [93->-b2]\n\
                    b2 127.0.0.1:7001@17001 slave a1 0 0 1 connected\n\
                    c3 127.0.0.1:7002@17002 master,fail - 0 0 2 disconnected\n";
        let n = parse_nodes(text);
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].slots, vec![(0, 5460), (7000, 7000)]);
        assert!(n[0].master && !n[1].master && n[2].failing);
        assert_eq!(n[1].master_id.as_deref(), Some("a1"));
    }
}
