//! The consistent-hash ring: 16 × weight virtual nodes per main server.

use super::policy::vnode_hash;
use super::server::Server;
use std::sync::Arc;

/// Virtual nodes per unit of weight (Workflow's `VIRTUAL_GROUP_SIZE`).
pub(crate) const VNODES_PER_WEIGHT: u32 = 16;

/// The most virtual nodes a ring holds (8 bytes each: 32 MiB): beyond,
/// every server gets proportionally fewer than 16 × weight (weights of
/// 65535 on 100 servers would otherwise take 800 MiB).
const MAX_NODES: u64 = 1 << 22;

/// Virtual nodes sorted by position: (position, index into the mains).
#[derive(Debug, Default)]
pub(crate) struct Ring {
    nodes: Vec<(u32, u32)>,
}

impl Ring {
    /// The ring of `mains` (entries of the same address numbered by
    /// their order: the n-th duplicate's nodes hash with `|n<n>`).
    pub(crate) fn new(mains: &[Arc<Server>]) -> Ring {
        Ring::bounded(mains, MAX_NODES)
    }

    /// As [`new`](Ring::new), with at most about `max` nodes.
    fn bounded(mains: &[Arc<Server>], max: u64) -> Ring {
        let wanted = |s: &Server| u64::from(s.params.weight_used() * VNODES_PER_WEIGHT);
        let total: u64 = mains.iter().map(|s| wanted(s)).sum();
        // Past the bound, every server's share of nodes shrinks alike.
        let nodes_of = |s: &Server| match total <= max {
            true => wanted(s) as u32,
            false => (wanted(s) * max / total).max(1) as u32,
        };
        let mut nodes = Vec::with_capacity(total.min(max + mains.len() as u64) as usize);
        let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        for (idx, s) in mains.iter().enumerate() {
            let dup = seen.entry(&s.address).or_insert(0);
            for i in 0..nodes_of(s) {
                nodes.push((vnode_hash(&s.address, i, *dup), idx as u32));
            }
            *dup += 1;
        }
        nodes.sort_unstable();
        Ring { nodes }
    }

    /// The mains in ring order from `hash` on (wrapping), the first node
    /// at or after it first, each virtual node once.
    pub(crate) fn walk(&self, hash: u32) -> impl Iterator<Item = usize> + '_ {
        let start = self.nodes.partition_point(|n| n.0 < hash);
        let (tail, head) = (&self.nodes[start..], &self.nodes[..start]);
        tail.iter().chain(head).map(|n| n.1 as usize)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::AddressParams;

    #[test]
    fn a_ring_is_bounded_and_keeps_proportions() {
        let server = |a: &str, weight: u16| {
            let params = AddressParams { weight, ..AddressParams::default() };
            Arc::new(Server::new(a, params).unwrap())
        };
        let small = Ring::new(&[server("10.0.0.1:1", 1), server("10.0.0.2:1", 3)]);
        assert_eq!(small.len(), 16 + 48);
        let mains: Vec<_> = (0..8).map(|i| server(&format!("10.0.0.{i}:1"), 65535)).collect();
        let big = Ring::bounded(&mains, 1000);
        assert_eq!(big.len(), 8 * 125);
        let mut per = [0usize; 8];
        for i in big.walk(0) {
            per[i] += 1;
        }
        assert!(per.iter().all(|n| *n == per[0]), "{per:?}");
    }
}
