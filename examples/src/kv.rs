//! An in-memory key-value server on [`RedisServer`]: strings with
//! expiry, enough of Redis for `redis-cli`, the tutorials and the tour.
//!
//! Commands: `PING`, `ECHO`, `GET`, `SET` (`EX`/`PX`/`NX`/`XX`/`GET`),
//! `SETNX`, `GETDEL`, `MGET`, `MSET`, `DEL`, `UNLINK`, `EXISTS`,
//! `EXPIRE`, `PEXPIRE`, `TTL`, `PTTL`, `PERSIST`, `INCR`, `INCRBY`, `DECR`,
//! `DECRBY`, `APPEND`, `STRLEN`, `KEYS` (glob patterns), `DBSIZE`,
//! `FLUSHDB`, `FLUSHALL`, `TYPE`, `SELECT 0`, `COMMAND`, `INFO`, `HELLO 2`,
//! `CLIENT` (accepted), `QUIT`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wf::redis::{RedisServer, RedisServerTask, RedisValue};

struct Entry {
    value: Bytes,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// The data of a [`KvServer`]: one database of strings.
#[derive(Clone, Default)]
pub struct KvStore {
    map: Arc<Mutex<HashMap<Bytes, Entry>>>,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data is left out: a store may hold many large values.
        f.debug_struct("KvStore").finish_non_exhaustive()
    }
}

fn err(text: &str) -> RedisValue {
    RedisValue::error(text.to_owned())
}

fn wrong_args(cmd: &str) -> RedisValue {
    RedisValue::error(format!("ERR wrong number of arguments for '{}' command", cmd.to_ascii_lowercase()))
}

fn int_arg(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

const NOT_INT: &str = "ERR value is not an integer or out of range";

/// Redis glob: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(_), None) => false,
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(b'['), Some(&c)) => {
            let Some(end) = p.iter().skip(1).position(|&x| x == b']').map(|i| i + 1) else {
                return p[0] == c && glob(&p[1..], &s[1..]);
            };
            let (neg, set) = match &p[1..end] {
                [b'^', rest @ ..] => (true, rest),
                set => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= (set[i]..=set[i + 2]).contains(&c);
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != neg && glob(&p[end + 1..], &s[1..])
        }
        (Some(b'\\'), Some(&c)) if p.len() > 1 => p[1] == c && glob(&p[2..], &s[1..]),
        (Some(&x), Some(&c)) => x == c && glob(&p[1..], &s[1..]),
    }
}

impl KvStore {
    /// An empty store.
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// Runs one command and returns its reply.
    pub fn execute(&self, args: &[Bytes]) -> RedisValue {
        let Some(name) = args.first() else { return err("ERR empty command") };
        let cmd = String::from_utf8_lossy(name).to_ascii_uppercase();
        let a = &args[1..];
        let now = Instant::now();
        let mut map = wf::lock::lock(&self.map);
        map.retain(|_, e| e.live(now)); // cheap enough for an example
        let get = |map: &HashMap<Bytes, Entry>, k: &Bytes| map.get(k).map(|e| e.value.clone());
        match (cmd.as_str(), a.len()) {
            ("PING", 0) => RedisValue::status("PONG"),
            ("PING", 1) | ("ECHO", 1) => RedisValue::String(a[0].clone()),
            ("GET", 1) => get(&map, &a[0]).into(),
            ("GETDEL", 1) => map.remove(&a[0]).map(|e| e.value).into(),
            ("SET", n) if n >= 2 => {
                let (mut expires, mut nx, mut xx, mut want_old) = (None, false, false, false);
                let mut i = 2;
                while i < n {
                    match String::from_utf8_lossy(&a[i]).to_ascii_uppercase().as_str() {
                        "NX" => nx = true,
                        "XX" => xx = true,
                        "GET" => want_old = true,
                        unit @ ("EX" | "PX") if i + 1 < n => {
                            let Some(t) = int_arg(&a[i + 1]).filter(|t| *t > 0) else {
                                return err("ERR invalid expire time in 'set' command");
                            };
                            let t = if unit == "EX" {
                                Duration::from_secs(t as u64)
                            } else {
                                Duration::from_millis(t as u64)
                            };
                            expires = Some(now + t);
                            i += 1;
                        }
                        _ => return err("ERR syntax error"),
                    }
                    i += 1;
                }
                let old = get(&map, &a[0]);
                if (nx && old.is_some()) || (xx && old.is_none()) {
                    return if want_old { old.into() } else { RedisValue::Nil };
                }
                map.insert(a[0].clone(), Entry { value: a[1].clone(), expires });
                if want_old { old.into() } else { RedisValue::ok() }
            }
            ("SETNX", 2) => {
                if map.contains_key(&a[0]) {
                    RedisValue::Integer(0)
                } else {
                    map.insert(a[0].clone(), Entry { value: a[1].clone(), expires: None });
                    RedisValue::Integer(1)
                }
            }
            ("MGET", n) if n >= 1 => RedisValue::Array(a.iter().map(|k| get(&map, k).into()).collect()),
            ("MSET", n) if n >= 2 && n % 2 == 0 => {
                for kv in a.chunks(2) {
                    map.insert(kv[0].clone(), Entry { value: kv[1].clone(), expires: None });
                }
                RedisValue::ok()
            }
            ("DEL" | "UNLINK", n) if n >= 1 => {
                RedisValue::Integer(a.iter().filter(|k| map.remove(*k).is_some()).count() as i64)
            }
            ("EXISTS", n) if n >= 1 => RedisValue::Integer(a.iter().filter(|k| map.contains_key(*k)).count() as i64),
            ("EXPIRE" | "PEXPIRE", 2) => {
                let Some(t) = int_arg(&a[1]) else { return err(NOT_INT) };
                let Some(e) = map.get_mut(&a[0]) else { return RedisValue::Integer(0) };
                if t <= 0 {
                    map.remove(&a[0]);
                } else {
                    let t =
                        if cmd == "EXPIRE" { Duration::from_secs(t as u64) } else { Duration::from_millis(t as u64) };
                    e.expires = Some(now + t);
                }
                RedisValue::Integer(1)
            }
            ("TTL" | "PTTL", 1) => match map.get(&a[0]) {
                None => RedisValue::Integer(-2),
                Some(Entry { expires: None, .. }) => RedisValue::Integer(-1),
                Some(Entry { expires: Some(at), .. }) => {
                    let left = at.duration_since(now);
                    RedisValue::Integer(if cmd == "TTL" {
                        left.as_secs_f64().round() as i64
                    } else {
                        left.as_millis() as i64
                    })
                }
            },
            ("PERSIST", 1) => match map.get_mut(&a[0]) {
                Some(e) if e.expires.is_some() => {
                    e.expires = None;
                    RedisValue::Integer(1)
                }
                _ => RedisValue::Integer(0),
            },
            ("INCR" | "DECR", 1) | ("INCRBY" | "DECRBY", 2) => {
                let by = if a.len() == 2 {
                    match int_arg(&a[1]) {
                        Some(b) => b,
                        None => return err(NOT_INT),
                    }
                } else {
                    1
                };
                let by = if cmd.starts_with('D') { by.checked_neg() } else { Some(by) };
                let cur = match map.get(&a[0]) {
                    None => Some(0),
                    Some(e) => int_arg(&e.value),
                };
                let Some(n) = cur.zip(by).and_then(|(c, b)| c.checked_add(b)) else { return err(NOT_INT) };
                let expires = map.get(&a[0]).and_then(|e| e.expires);
                map.insert(a[0].clone(), Entry { value: Bytes::from(n.to_string()), expires });
                RedisValue::Integer(n)
            }
            ("APPEND", 2) => {
                let e = map.entry(a[0].clone()).or_insert(Entry { value: Bytes::new(), expires: None });
                let mut v = e.value.to_vec();
                v.extend_from_slice(&a[1]);
                e.value = Bytes::from(v);
                RedisValue::Integer(e.value.len() as i64)
            }
            ("STRLEN", 1) => RedisValue::Integer(map.get(&a[0]).map_or(0, |e| e.value.len()) as i64),
            ("TYPE", 1) => RedisValue::status(if map.contains_key(&a[0]) { "string" } else { "none" }),
            ("KEYS", 1) => {
                let mut keys: Vec<RedisValue> =
                    map.keys().filter(|k| glob(&a[0], k)).map(|k| RedisValue::String(k.clone())).collect();
                keys.sort_by(|x, y| x.as_bytes().cmp(&y.as_bytes()));
                RedisValue::Array(keys)
            }
            ("DBSIZE", 0) => RedisValue::Integer(map.len() as i64),
            ("FLUSHDB" | "FLUSHALL", _) => {
                map.clear();
                RedisValue::ok()
            }
            ("SELECT", 1) if &a[0][..] == b"0" => RedisValue::ok(),
            ("SELECT", 1) => err("ERR DB index is out of range"),
            ("HELLO", 0) => {
                RedisValue::Array(vec!["server".into(), "wf-kv".into(), "proto".into(), RedisValue::Integer(2)])
            }
            ("HELLO", _) => err("NOPROTO unsupported protocol version"),
            ("AUTH", _) => err("ERR AUTH <password> called without any password configured for the default user"),
            ("COMMAND", _) => RedisValue::Array(Vec::new()),
            ("CLIENT", _) => RedisValue::ok(),
            ("INFO", _) => {
                RedisValue::string(format!("# Server\r\nredis_mode:standalone\r\nwf_kv_keys:{}\r\n", map.len()))
            }
            (
                "PING" | "ECHO" | "GET" | "GETDEL" | "SET" | "SETNX" | "MGET" | "MSET" | "DEL" | "UNLINK" | "EXISTS"
                | "EXPIRE" | "PEXPIRE" | "TTL" | "PTTL" | "PERSIST" | "INCR" | "DECR" | "INCRBY" | "DECRBY" | "APPEND"
                | "STRLEN" | "TYPE" | "KEYS" | "DBSIZE" | "SELECT",
                _,
            ) => wrong_args(&cmd),
            _ => {
                let shown: Vec<String> =
                    a.iter().take(3).map(|p| format!("'{}'", String::from_utf8_lossy(p))).collect();
                RedisValue::error(format!(
                    "ERR unknown command '{}', with args beginning with: {}",
                    String::from_utf8_lossy(name),
                    shown.join(" ")
                ))
            }
        }
    }
}

/// A [`RedisServer`] answering from a [`KvStore`].
#[derive(Debug)]
pub struct KvServer {
    server: RedisServer,
    store: KvStore,
}

impl KvServer {
    /// A server over a new, empty store (not listening yet).
    pub fn new() -> KvServer {
        let store = KvStore::new();
        let data = store.clone();
        let server = RedisServer::new(move |task: &mut RedisServerTask| {
            let mut args: Vec<Bytes> = Vec::new();
            if let Some(c) = task.req().commands().next() {
                args.extend(c.iter().cloned());
            }
            let reply = data.execute(&args);
            task.resp_mut().set_result(reply);
        });
        KvServer { server, store }
    }

    /// The store it serves.
    pub fn store(&self) -> &KvStore {
        &self.store
    }
}

impl Default for KvServer {
    fn default() -> Self {
        KvServer::new()
    }
}

impl std::ops::Deref for KvServer {
    type Target = RedisServer;
    fn deref(&self) -> &RedisServer {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kv: &KvStore, line: &str) -> RedisValue {
        let args: Vec<Bytes> = line.split(' ').map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
        kv.execute(&args)
    }

    #[test]
    fn strings_counters_and_expiry() {
        let kv = KvStore::new();
        assert_eq!(run(&kv, "SET a 1"), RedisValue::ok());
        assert_eq!(run(&kv, "INCRBY a 41"), RedisValue::Integer(42));
        assert_eq!(run(&kv, "GET a"), RedisValue::from("42"));
        assert_eq!(run(&kv, "SET a x NX"), RedisValue::Nil);
        assert_eq!(run(&kv, "APPEND a !"), RedisValue::Integer(3));
        assert!(run(&kv, "INCR a").is_error());
        assert_eq!(run(&kv, "TTL a"), RedisValue::Integer(-1));
        assert_eq!(run(&kv, "PEXPIRE a 1"), RedisValue::Integer(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(run(&kv, "GET a"), RedisValue::Nil);
        assert_eq!(run(&kv, "TTL a"), RedisValue::Integer(-2));
        assert_eq!(run(&kv, "MSET k1 v1 k2 v2 x3 v3"), RedisValue::ok());
        assert_eq!(run(&kv, "KEYS k*").len(), 2);
        assert_eq!(run(&kv, "KEYS [kx][13]").len(), 2);
        assert_eq!(run(&kv, "DEL k1 k2 nope"), RedisValue::Integer(2));
        assert_eq!(run(&kv, "DBSIZE"), RedisValue::Integer(1));
        assert!(run(&kv, "GET").is_error());
        assert!(run(&kv, "NOSUCH x").is_error());
    }

    #[test]
    fn globs() {
        assert!(glob(b"h?llo", b"hello"));
        assert!(glob(b"h*llo", b"heeeello"));
        assert!(glob(b"h[ae]llo", b"hallo"));
        assert!(!glob(b"h[^e]llo", b"hello"));
        assert!(glob(b"h[a-b]llo", b"hbllo"));
        assert!(glob(b"a\\*", b"a*"));
        assert!(!glob(b"a", b"ab"));
    }
}
