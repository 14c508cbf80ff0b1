//! Which arguments of a command are keys.
//!
//! A table covers the commands whose keys are not simply their first
//! argument; any other command with arguments has its first argument as
//! its key (the rule for `GET`, `SET`, `HSET`, `INCR`, `EXPIRE`, `ZADD`…).
//! Commands listed as keyless (`PING`, `INFO`, `MULTI`…) go to any
//! master.

use bytes::Bytes;

/// Where a command's keys are.
#[derive(Clone, Copy, Debug)]
enum Spec {
    /// No key.
    None,
    /// Arguments `first..` (1-based, after the name), every `step`-th, up
    /// to the end less `tail` arguments.
    Range { first: usize, tail: usize, step: usize, max: Option<usize> },
    /// `numkeys` at argument 2, then the keys (`EVAL`, `FCALL`).
    NumKeys,
    /// The keys after `STREAMS`: the first half of what follows (`XREAD`).
    Streams,
}

const ALL: Spec = Spec::Range { first: 1, tail: 0, step: 1, max: None };
const TWO: Spec = Spec::Range { first: 1, tail: 0, step: 1, max: Some(2) };

const TABLE: &[(&str, Spec)] = &[
    ("PING", Spec::None),
    ("ECHO", Spec::None),
    ("INFO", Spec::None),
    ("TIME", Spec::None),
    ("DBSIZE", Spec::None),
    ("LASTSAVE", Spec::None),
    ("COMMAND", Spec::None),
    ("CLUSTER", Spec::None),
    ("CONFIG", Spec::None),
    ("FLUSHALL", Spec::None),
    ("FLUSHDB", Spec::None),
    ("SCRIPT", Spec::None),
    ("FUNCTION", Spec::None),
    ("PUBLISH", Spec::None),
    ("SPUBLISH", Spec::Range { first: 1, tail: 0, step: 1, max: Some(1) }),
    ("PUBSUB", Spec::None),
    ("RANDOMKEY", Spec::None),
    ("KEYS", Spec::None),
    ("SCAN", Spec::None),
    ("MULTI", Spec::None),
    ("EXEC", Spec::None),
    ("DISCARD", Spec::None),
    ("UNWATCH", Spec::None),
    ("WAIT", Spec::None),
    ("MEMORY", Spec::None),
    ("DEL", ALL),
    ("UNLINK", ALL),
    ("EXISTS", ALL),
    ("TOUCH", ALL),
    ("MGET", ALL),
    ("WATCH", ALL),
    ("SINTER", ALL),
    ("SUNION", ALL),
    ("SDIFF", ALL),
    ("SINTERSTORE", ALL),
    ("SUNIONSTORE", ALL),
    ("SDIFFSTORE", ALL),
    ("PFCOUNT", ALL),
    ("PFMERGE", ALL),
    ("MSET", Spec::Range { first: 1, tail: 0, step: 2, max: None }),
    ("MSETNX", Spec::Range { first: 1, tail: 0, step: 2, max: None }),
    ("RENAME", TWO),
    ("RENAMENX", TWO),
    ("COPY", TWO),
    ("SMOVE", TWO),
    ("RPOPLPUSH", TWO),
    ("LMOVE", TWO),
    ("BLMOVE", TWO),
    ("BRPOPLPUSH", TWO),
    ("ZRANGESTORE", TWO),
    ("GEOSEARCHSTORE", TWO),
    ("BLPOP", Spec::Range { first: 1, tail: 1, step: 1, max: None }),
    ("BRPOP", Spec::Range { first: 1, tail: 1, step: 1, max: None }),
    ("BZPOPMIN", Spec::Range { first: 1, tail: 1, step: 1, max: None }),
    ("BZPOPMAX", Spec::Range { first: 1, tail: 1, step: 1, max: None }),
    ("EVAL", Spec::NumKeys),
    ("EVALSHA", Spec::NumKeys),
    ("EVAL_RO", Spec::NumKeys),
    ("EVALSHA_RO", Spec::NumKeys),
    ("FCALL", Spec::NumKeys),
    ("FCALL_RO", Spec::NumKeys),
    ("XREAD", Spec::Streams),
    ("XREADGROUP", Spec::Streams),
];

fn spec(name: &[u8]) -> Spec {
    TABLE
        .iter()
        .find(|(n, _)| n.len() == name.len() && n.as_bytes().eq_ignore_ascii_case(name))
        .map_or(Spec::Range { first: 1, tail: 0, step: 1, max: Some(1) }, |(_, s)| *s)
}

/// The keys of `command` (its name, then its arguments).
pub(crate) fn command_keys(command: &[Bytes]) -> Vec<&[u8]> {
    let Some((name, args)) = command.split_first() else { return Vec::new() };
    match spec(name) {
        Spec::None => Vec::new(),
        Spec::Range { first, tail, step, max } => {
            let end = args.len().saturating_sub(tail);
            let it = args.get(first - 1..end).unwrap_or(&[]).iter().step_by(step).map(|b| &b[..]);
            match max {
                Some(m) => it.take(m).collect(),
                None => it.collect(),
            }
        }
        Spec::NumKeys => {
            let n = args
                .get(1)
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            args.iter().skip(2).take(n).map(|b| &b[..]).collect()
        }
        Spec::Streams => {
            let Some(at) = args.iter().position(|a| a.eq_ignore_ascii_case(b"STREAMS")) else { return Vec::new() };
            let rest = &args[at + 1..];
            rest[..rest.len() / 2].iter().map(|b| &b[..]).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(parts: &[&str]) -> Vec<String> {
        let cmd: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect();
        command_keys(&cmd).iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect()
    }

    #[test]
    fn first_argument_by_default() {
        assert_eq!(keys(&["GET", "a"]), ["a"]);
        assert_eq!(keys(&["set", "a", "b", "EX", "10"]), ["a"]);
        assert_eq!(keys(&["HSET", "h", "f", "v"]), ["h"]);
        assert!(keys(&["GET"]).is_empty());
    }

    #[test]
    fn table_commands() {
        assert!(keys(&["PING"]).is_empty());
        assert!(keys(&["ping", "hello"]).is_empty());
        assert_eq!(keys(&["MGET", "a", "b", "c"]), ["a", "b", "c"]);
        assert_eq!(keys(&["MSET", "a", "1", "b", "2"]), ["a", "b"]);
        assert_eq!(keys(&["RENAME", "a", "b"]), ["a", "b"]);
        assert_eq!(keys(&["BLPOP", "a", "b", "0"]), ["a", "b"]);
        assert_eq!(keys(&["EVAL", "return 1", "2", "k1", "k2", "arg"]), ["k1", "k2"]);
        assert!(keys(&["EVAL", "return 1", "0", "arg"]).is_empty());
        assert!(keys(&["EVAL", "return 1", "x"]).is_empty());
        assert_eq!(keys(&["EVAL", "s", "9", "k"]), ["k"]);
        assert_eq!(keys(&["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]), ["s1", "s2"]);
        assert!(keys(&["XREAD", "COUNT", "2"]).is_empty());
        assert_eq!(keys(&["LMOVE", "a", "b", "LEFT", "RIGHT"]), ["a", "b"]);
    }
}
