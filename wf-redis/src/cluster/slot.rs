//! Key → hash slot: CRC16 (XMODEM) of the key, or of its `{hash tag}`,
//! modulo 16384.

/// Hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// CRC16-CCITT, XMODEM flavour (polynomial 0x1021, initial 0, no
/// reflection), as Redis Cluster uses it.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The hash slot of `key` (Redis's `CLUSTER KEYSLOT`): when the key holds
/// a `{`, followed later by a `}` with at least one byte between them,
/// only those bytes are hashed, so `{user1}.name` and `{user1}.mail` share
/// a slot.
///
/// ```
/// assert_eq!(wf_redis::cluster::key_slot(b"foo"), 12182);
/// assert_eq!(wf_redis::cluster::key_slot(b"{foo}.bar"), 12182);
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_known_vectors() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
        assert_eq!(crc16(b"A"), 0x58E5);
    }

    #[test]
    fn slots_as_redis_computes_them() {
        // CLUSTER KEYSLOT on redis-server 7.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"123456789"), 0x31C3 % SLOTS);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"{user1000}.following"));
        // Only the first `{` counts; an empty tag hashes the whole key.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        // No closing brace: the whole key.
        assert_eq!(key_slot(b"{foo"), crc16(b"{foo") % SLOTS);
    }
}
