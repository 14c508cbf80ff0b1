//! Which requests may be read from a replica: those whose every command
//! is in a table of read-only commands.
//!
//! The table: `GET`, `MGET`, `EXISTS`, `STRLEN`, `GETRANGE`, `GETBIT`,
//! `BITCOUNT`, `BITPOS`, `HGET`, `HMGET`, `HGETALL`, `HEXISTS`, `HLEN`,
//! `HKEYS`, `HVALS`, `HSTRLEN`, `LRANGE`, `LLEN`, `LINDEX`, `SCARD`,
//! `SISMEMBER`, `SMISMEMBER`, `SMEMBERS`, `SINTER`, `SUNION`, `SDIFF`,
//! `ZRANGE`, `ZRANGEBYSCORE`, `ZREVRANGE`, `ZREVRANGEBYSCORE`, `ZSCORE`,
//! `ZMSCORE`, `ZCARD`, `ZCOUNT`, `ZRANK`, `ZREVRANK`, `XRANGE`,
//! `XREVRANGE`, `XLEN`, `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`,
//! `TYPE`. Anything else (writes, `MULTI`/`EXEC`, scripts, blocking
//! commands) goes to the master.

/// Commands a replica may answer, upper case.
const READ_ONLY: &[&str] = &[
    "GET",
    "MGET",
    "EXISTS",
    "STRLEN",
    "GETRANGE",
    "GETBIT",
    "BITCOUNT",
    "BITPOS",
    "HGET",
    "HMGET",
    "HGETALL",
    "HEXISTS",
    "HLEN",
    "HKEYS",
    "HVALS",
    "HSTRLEN",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "SCARD",
    "SISMEMBER",
    "SMISMEMBER",
    "SMEMBERS",
    "SINTER",
    "SUNION",
    "SDIFF",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGE",
    "ZREVRANGEBYSCORE",
    "ZSCORE",
    "ZMSCORE",
    "ZCARD",
    "ZCOUNT",
    "ZRANK",
    "ZREVRANK",
    "XRANGE",
    "XREVRANGE",
    "XLEN",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "TYPE",
];

/// Whether the command named `name` is in the read-only table.
pub(crate) fn is_read_only(name: &[u8]) -> bool {
    READ_ONLY.iter().any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
}

/// Whether every command of a request (each `[name, args…]`) is read-only.
pub(crate) fn all_read_only<'a>(mut commands: impl Iterator<Item = &'a [bytes::Bytes]>) -> bool {
    commands.all(|c| c.first().is_some_and(|n| is_read_only(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn cmds(words: &[&[&str]]) -> Vec<Vec<Bytes>> {
        words.iter().map(|c| c.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()).collect()
    }

    fn all(words: &[&[&str]]) -> bool {
        let c = cmds(words);
        all_read_only(c.iter().map(Vec::as_slice))
    }

    #[test]
    fn the_table() {
        for r in ["GET", "get", "MGet", "HGETALL", "ZSCORE", "TTL", "TYPE", "LRANGE", "SISMEMBER"] {
            assert!(is_read_only(r.as_bytes()), "{r}");
        }
        for w in ["SET", "DEL", "INCR", "GETSET", "GETDEL", "GETEX", "EVAL", "MULTI", "EXEC", "BLPOP", "PING", ""] {
            assert!(!is_read_only(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn a_request_with_any_write_is_not_read_only() {
        assert!(all(&[&["GET", "a"]]));
        assert!(all(&[&["GET", "{u}a"], &["HGETALL", "{u}b"], &["TTL", "{u}a"]]));
        assert!(!all(&[&["GET", "{u}a"], &["SET", "{u}b", "1"]]));
        assert!(!all(&[&["MULTI"], &["GET", "a"], &["EXEC"]]));
        assert!(!all(&[&[]]));
    }
}
