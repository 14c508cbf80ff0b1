//! The consistent-hash ring: 16 × weight virtual nodes per main server.

use super::policy::vnode_hash;
use super::server::Server;
use std::sync::Arc;

/// Virtual nodes per unit of weight (Workflow's `VIRTUAL_GROUP_SIZE`).
pub(crate) const VNODES_PER_WEIGHT: u32 = 16;

/// Virtual nodes sorted by position: (position, index into the mains).
#[derive(Debug, Default)]
pub(crate) struct Ring {
    nodes: Vec<(u32, u32)>,
}

impl Ring {
    /// The ring of `mains` (entries of the same address numbered by
    /// their order: the n-th duplicate's nodes hash with `|n<n>`).
    pub(crate) fn new(mains: &[Arc<Server>]) -> Ring {
        let total: usize = mains.iter().map(|s| (s.params.weight_used() * VNODES_PER_WEIGHT) as usize).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        for (idx, s) in mains.iter().enumerate() {
            let dup = seen.entry(&s.address).or_insert(0);
            for i in 0..s.params.weight_used() * VNODES_PER_WEIGHT {
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
