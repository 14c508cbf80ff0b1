//! The slot map: which master serves each of the 16384 slots, and its
//! replicas, read from `CLUSTER SLOTS` and checked before it is believed.

use wf_core::net::Uri;

use super::slot::SLOTS;
use crate::client::node_uri;
use crate::login::readonly_uri;
use crate::value::RedisValue;

/// Most distinct nodes a map may name: a reply naming more is refused,
/// and a `MOVED` to a new node past it is followed but not remembered.
pub(crate) const MAX_NODES: usize = 1024;
/// Most replicas a `CLUSTER SLOTS` entry may list.
const MAX_REPLICAS: usize = 64;
/// No master for a slot.
const NONE: u16 = u16::MAX;

/// Which master serves each slot, and its replicas.
#[derive(Debug, Default)]
pub(crate) struct SlotMap {
    /// Every master seen, by URL.
    nodes: Vec<Uri>,
    /// Per entry of `nodes`, its replicas' URLs with `readonly=1` (at most
    /// [`MAX_REPLICAS`] each, [`MAX_NODES`] in all).
    replicas: Vec<Vec<Uri>>,
    /// Per slot, an index into `nodes` (or [`NONE`]); empty before the
    /// first map is read.
    slots: Vec<u16>,
}

impl SlotMap {
    /// Whether a map was read.
    pub(crate) fn is_loaded(&self) -> bool {
        !self.slots.is_empty()
    }

    /// The master serving `slot`.
    pub(crate) fn master(&self, slot: u16) -> Option<&Uri> {
        let i = *self.slots.get(usize::from(slot))?;
        self.nodes.get(usize::from(i))
    }

    /// Replica `turn` (mod their number) of `slot`'s master, as a
    /// `readonly=1` URL; `None` when it has none.
    pub(crate) fn replica(&self, slot: u16, turn: usize) -> Option<&Uri> {
        let i = *self.slots.get(usize::from(slot))?;
        let r = self.replicas.get(usize::from(i))?;
        if r.is_empty() { None } else { r.get(turn % r.len()) }
    }

    /// Every master that serves a slot, each once.
    pub(crate) fn masters(&self) -> Vec<&Uri> {
        let mut used = vec![false; self.nodes.len()];
        for &i in &self.slots {
            if i != NONE {
                used[usize::from(i)] = true;
            }
        }
        self.nodes.iter().zip(used).filter(|(_, u)| *u).map(|(n, _)| n).collect()
    }

    /// Makes `node` the master of `slot` (a `MOVED` said so).
    pub(crate) fn patch(&mut self, slot: u16, node: &Uri) {
        if !self.is_loaded() || slot >= SLOTS {
            return;
        }
        let i = match self.nodes.iter().position(|n| n.as_str() == node.as_str()) {
            Some(i) => i,
            None if self.nodes.len() < MAX_NODES => {
                self.nodes.push(node.clone());
                self.replicas.push(Vec::new());
                self.nodes.len() - 1
            }
            None => return,
        };
        self.slots[usize::from(slot)] = i as u16;
    }

    /// Reads a `CLUSTER SLOTS` reply that node `from` sent: every entry
    /// `[start, end, [host, port, id…], [replica host, port, id…]…]` must be well formed,
    /// its range inside 0..16384 and overlapping no other, and its host a
    /// plausible name; otherwise the whole reply is refused (`None`). A
    /// host of `""` or `?` is `from`'s host.
    pub(crate) fn from_cluster_slots(reply: &RedisValue, from: &Uri) -> Option<SlotMap> {
        let entries = reply.as_array()?;
        if entries.is_empty() || entries.len() > usize::from(SLOTS) {
            return None;
        }
        let mut map = SlotMap { nodes: Vec::new(), replicas: Vec::new(), slots: vec![NONE; usize::from(SLOTS)] };
        let mut replicas_kept = 0;
        for e in entries {
            let e = e.as_array()?;
            if e.len() < 3 || e.len() > 3 + MAX_REPLICAS {
                return None;
            }
            let (start, end) = (e[0].as_int()?, e[1].as_int()?);
            if start < 0 || end < start || end >= i64::from(SLOTS) {
                return None;
            }
            let uri = entry_node(&e[2], from)?;
            let i = match map.nodes.iter().position(|n| n.as_str() == uri.as_str()) {
                Some(i) => i,
                None if map.nodes.len() < MAX_NODES => {
                    map.nodes.push(uri);
                    map.replicas.push(Vec::new());
                    map.nodes.len() - 1
                }
                None => return None,
            };
            let replicas = e[3..].iter().map(|r| entry_node(r, from).and_then(|u| readonly_uri(&u)));
            let replicas = replicas.collect::<Option<Vec<Uri>>>()?;
            // A master with several ranges lists its replicas with each.
            if map.replicas[i].is_empty() {
                replicas_kept += replicas.len();
                if replicas_kept > MAX_NODES {
                    return None;
                }
                map.replicas[i] = replicas;
            }
            for s in &mut map.slots[start as usize..=end as usize] {
                if *s != NONE {
                    return None;
                }
                *s = i as u16;
            }
        }
        Some(map)
    }
}

/// One node of a `CLUSTER SLOTS` entry, `[host, port, id…]`, as a URL.
fn entry_node(node: &RedisValue, from: &Uri) -> Option<Uri> {
    let node = node.as_array()?;
    let host = node.first()?.as_str()?;
    let port = u16::try_from(node.get(1)?.as_int()?).ok().filter(|&p| p != 0)?;
    node_uri(from, host, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> RedisValue {
        RedisValue::Integer(i)
    }

    fn node(host: &str, port: i64) -> RedisValue {
        RedisValue::Array(vec![RedisValue::string(host.to_owned()), int(port), RedisValue::string("id")])
    }

    fn entry(a: i64, b: i64, n: RedisValue) -> RedisValue {
        RedisValue::Array(vec![int(a), int(b), n, node("127.0.0.1", 9999)])
    }

    fn from() -> Uri {
        Uri::parse("redis://:pw@10.0.0.9:7000/?protocol=3").unwrap()
    }

    #[test]
    fn reads_a_map() {
        let reply =
            RedisValue::Array(vec![entry(0, 8191, node("127.0.0.1", 7001)), entry(8192, 16383, node("", 7002))]);
        let map = SlotMap::from_cluster_slots(&reply, &from()).unwrap();
        assert_eq!(map.master(0).unwrap().as_str(), "redis://:pw@127.0.0.1:7001/?protocol=3");
        assert_eq!(map.master(16383).unwrap().host_str(), "10.0.0.9");
        assert_eq!(map.masters().len(), 2);
    }

    #[test]
    fn keeps_each_masters_replicas() {
        let entry2 = |a, b, m, rs: &[i64]| {
            let mut e = vec![int(a), int(b), node("127.0.0.1", m)];
            e.extend(rs.iter().map(|&p| node("127.0.0.1", p)));
            RedisValue::Array(e)
        };
        let reply = RedisValue::Array(vec![
            entry2(0, 99, 7001, &[7004, 7005]),
            entry2(100, 199, 7002, &[]),
            entry2(200, 299, 7001, &[7004, 7005]),
        ]);
        let map = SlotMap::from_cluster_slots(&reply, &from()).unwrap();
        assert_eq!(map.replica(0, 0).unwrap().as_str(), "redis://:pw@127.0.0.1:7004/?protocol=3&readonly=1");
        assert_eq!(map.replica(250, 1).unwrap().port(), 7005);
        assert_eq!(map.replica(250, 2).unwrap().port(), 7004, "in turn");
        assert!(map.replica(150, 0).is_none(), "no replica");
        assert!(map.replica(300, 0).is_none(), "no master");
        assert_eq!(map.masters().len(), 2, "replicas are not masters");
        // A hostile replica refuses the whole reply.
        let bad = RedisValue::Array(vec![RedisValue::Array(vec![
            int(0),
            int(10),
            node("127.0.0.1", 7001),
            node("evil host", 7004),
        ])]);
        assert!(SlotMap::from_cluster_slots(&bad, &from()).is_none());
        // More than 64 replicas in an entry, or 1024 in all: refused.
        let ports: Vec<i64> = (0..65).map(|p| 8000 + p).collect();
        let wide = RedisValue::Array(vec![entry2(0, 10, 7001, &ports)]);
        assert!(SlotMap::from_cluster_slots(&wide, &from()).is_none());
        let many = RedisValue::Array((0..20).map(|i| entry2(i, i, 7000 + i, &ports[..60])).collect());
        assert!(SlotMap::from_cluster_slots(&many, &from()).is_none());
        // A MOVED to a new node: no replicas known for it.
        let mut map = map;
        map.patch(0, &Uri::parse("redis://127.0.0.1:7009").unwrap());
        assert!(map.replica(0, 0).is_none());
    }

    #[test]
    fn partial_coverage_leaves_slots_unserved() {
        let reply = RedisValue::Array(vec![entry(5, 5, node("127.0.0.1", 7001))]);
        let map = SlotMap::from_cluster_slots(&reply, &from()).unwrap();
        assert!(map.master(4).is_none());
        assert!(map.master(5).is_some());
    }

    #[test]
    fn hostile_replies_are_refused() {
        let bad = [
            RedisValue::Array(vec![]),
            RedisValue::error("ERR This instance has cluster support disabled"),
            RedisValue::Array(vec![entry(0, 16384, node("127.0.0.1", 7001))]),
            RedisValue::Array(vec![entry(-1, 3, node("127.0.0.1", 7001))]),
            RedisValue::Array(vec![entry(9, 3, node("127.0.0.1", 7001))]),
            RedisValue::Array(vec![entry(0, 3, node("127.0.0.1", 0))]),
            RedisValue::Array(vec![entry(0, 3, node("127.0.0.1", 70000))]),
            RedisValue::Array(vec![entry(0, 3, node("evil/host@x", 7001))]),
            RedisValue::Array(vec![entry(0, 3, node(&"a".repeat(300), 7001))]),
            RedisValue::Array(vec![entry(0, 10, node("127.0.0.1", 7001)), entry(10, 20, node("127.0.0.1", 7002))]),
            RedisValue::Array(vec![RedisValue::Array(vec![int(0), int(1)])]),
            RedisValue::Array(vec![RedisValue::Array(vec![int(0), int(1), RedisValue::Nil])]),
            RedisValue::Array(vec![int(3)]),
        ];
        for b in &bad {
            assert!(SlotMap::from_cluster_slots(b, &from()).is_none(), "{b:?}");
        }
        let too_many = RedisValue::Array((0..16385).map(|i| entry(i, i, node("127.0.0.1", 7001))).collect());
        assert!(SlotMap::from_cluster_slots(&too_many, &from()).is_none());
        let many_nodes = RedisValue::Array((0..2000).map(|i| entry(i, i, node("127.0.0.1", 1 + i))).collect());
        assert!(SlotMap::from_cluster_slots(&many_nodes, &from()).is_none());
    }

    #[test]
    fn moved_patches_one_slot() {
        let reply = RedisValue::Array(vec![entry(0, 16383, node("127.0.0.1", 7001))]);
        let mut map = SlotMap::from_cluster_slots(&reply, &from()).unwrap();
        let other = Uri::parse("redis://127.0.0.1:7005").unwrap();
        map.patch(42, &other);
        assert_eq!(map.master(42).unwrap().port(), 7005);
        assert_eq!(map.master(43).unwrap().port(), 7001);
        // MOVED to ever new nodes: the map stops growing at MAX_NODES.
        for port in 1..3000u16 {
            map.patch(port % SLOTS, &Uri::parse(&format!("redis://127.0.0.1:{port}")).unwrap());
        }
        assert_eq!(map.nodes.len(), MAX_NODES);
        map.patch(SLOTS, &other);
        assert_eq!(map.master(SLOTS), None);
    }
}
