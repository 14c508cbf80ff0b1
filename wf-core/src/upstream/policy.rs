//! How an upstream picks a main server, and wf's stable hash.

use std::sync::Arc;

/// A request hash or a manual pick from a request's path, query and
/// fragment (Workflow's `upstream_route_t`); the query and fragment are
/// `""` when the URL has none.
pub type UpstreamHash = Arc<dyn Fn(&str, &str, &str) -> u32 + Send + Sync>;

/// How an upstream picks a server (Workflow's `upstream_create_*`).
///
/// Every policy picks among the *main* servers; when the pick cannot
/// serve (fused, disabled, or already tried by this request), a server
/// of the same group serves if one is up, then — with `try_another` —
/// the policy picks again among those that can, then an ungrouped backup.
/// Nothing left: `TASK_ERROR`/`UPSTREAM_UNAVAILABLE`.
#[derive(Clone)]
#[non_exhaustive]
pub enum Policy {
    /// Random, in proportion to the weights; `try_another` re-picks by
    /// weight among the servers that can serve.
    WeightedRandom {
        /// Pick again when the picked server cannot serve.
        try_another: bool,
    },
    /// Each main in turn (weights ignored); `try_another` walks on to the
    /// next that can serve.
    RoundRobin {
        /// Pick again when the picked server cannot serve.
        try_another: bool,
    },
    /// A ring of 16 × weight virtual nodes per main; a request goes to the
    /// first node at or after its hash (default: [`request_hash`] of its
    /// path, query and fragment) whose server can serve, walking on past
    /// those that cannot.
    ConsistentHash {
        /// The request hash; `None`: [`request_hash`].
        hash: Option<UpstreamHash>,
    },
    /// `select(path, query, fragment)` modulo the number of mains picks a
    /// main; when it cannot serve and `try_another` is set, the consistent
    /// hash ring picks, with `second` as the request hash (default
    /// [`request_hash`]).
    Manual {
        /// Picks the index of a main server (taken modulo their number).
        select: UpstreamHash,
        /// Pick again on the ring when the picked server cannot serve.
        try_another: bool,
        /// The ring's request hash for the second pick.
        second: Option<UpstreamHash>,
    },
    /// Smooth weighted round robin over virtual nodes (nginx's SWRR as
    /// tengine's VNSWRR precomputes it): the weights' exact proportions in
    /// a smooth order, O(1) per pick once the sequence is built. It walks
    /// on past servers that cannot serve.
    Vnswrr,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::WeightedRandom { try_another } => {
                f.debug_struct("WeightedRandom").field("try_another", try_another).finish()
            }
            Policy::RoundRobin { try_another } => {
                f.debug_struct("RoundRobin").field("try_another", try_another).finish()
            }
            Policy::ConsistentHash { hash } => f.debug_struct("ConsistentHash").field("hash", &hash.is_some()).finish(),
            Policy::Manual { try_another, second, .. } => f
                .debug_struct("Manual")
                .field("try_another", try_another)
                .field("second", &second.is_some())
                .finish_non_exhaustive(),
            Policy::Vnswrr => f.write_str("Vnswrr"),
        }
    }
}

impl Policy {
    pub(crate) fn try_another(&self) -> bool {
        match self {
            Policy::WeightedRandom { try_another }
            | Policy::RoundRobin { try_another }
            | Policy::Manual { try_another, .. } => *try_another,
            // The ring and VNSWRR walk on by themselves.
            Policy::ConsistentHash { .. } | Policy::Vnswrr => true,
        }
    }

    pub(crate) fn uses_ring(&self) -> bool {
        matches!(self, Policy::ConsistentHash { .. } | Policy::Manual { .. })
    }
}

/// wf's stable 32-bit hash: 64-bit FNV-1a over the bytes, mixed by
/// MurmurHash3's 64-bit finalizer, high 32 bits. The same on every
/// platform and release (a ring built by one process matches another's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StableHasher(u64);

impl StableHasher {
    pub(crate) fn new() -> StableHasher {
        StableHasher(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn finish(self) -> u32 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        (h >> 32) as u32
    }
}

/// The default request hash of [`Policy::ConsistentHash`] and of
/// [`Policy::Manual`]'s second pick: wf's stable hash (64-bit FNV-1a,
/// MurmurHash3's finalizer, high 32 bits) of `path + query + fragment`
/// (Workflow: `std::hash` of the same string, which differs by platform).
///
/// ```
/// use wf_core::upstream::request_hash;
/// assert_eq!(request_hash("/a", "b=1", ""), request_hash("/a", "", "b=1"));
/// assert_ne!(request_hash("/a", "", ""), request_hash("/b", "", ""));
/// ```
pub fn request_hash(path: &str, query: &str, fragment: &str) -> u32 {
    let mut h = StableHasher::new();
    h.write(path.as_bytes());
    h.write(query.as_bytes());
    h.write(fragment.as_bytes());
    h.finish()
}

/// The ring position of virtual node `i` of the `dup`-th entry (0 for
/// the first) with this address: the stable hash of
/// `address + "|v" + i + "|n" + dup`.
pub(crate) fn vnode_hash(address: &str, i: u32, dup: u32) -> u32 {
    let mut h = StableHasher::new();
    h.write(address.as_bytes());
    h.write(b"|v");
    write_decimal(&mut h, i);
    h.write(b"|n");
    write_decimal(&mut h, dup);
    h.finish()
}

/// Hashes `n` in decimal, without allocating.
fn write_decimal(h: &mut StableHasher, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    h.write(&buf[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_values() {
        // Pinned: a change here moves every key of every ring.
        assert_eq!(request_hash("", "", ""), 4_023_394_144);
        assert_eq!(request_hash("/", "", ""), 600_088_483);
        assert_eq!(vnode_hash("10.0.0.1:80", 0, 0), 1_895_866_757);
        let a = request_hash("/x", "", "");
        assert_eq!(a, request_hash("/", "x", ""));
        assert_eq!(vnode_hash("h:1", 0, 0), {
            let mut h = StableHasher::new();
            h.write(b"h:1|v0|n0");
            h.finish()
        });
        assert_ne!(vnode_hash("h:1", 0, 0), vnode_hash("h:1", 0, 1));
        assert_eq!(vnode_hash("h:1", 4_294_967_295, 10), {
            let mut h = StableHasher::new();
            h.write(b"h:1|v4294967295|n10");
            h.finish()
        });
    }
}
