//! An in-memory key-value server on [`RedisServer`]: strings with
//! expiry, enough of Redis for `redis-cli`, `redis-benchmark`, the
//! tutorials and the tour.
//!
//! Commands: `PING`, `ECHO`, `GET`, `SET` (`EX`/`PX`/`EXAT`/`PXAT`/
//! `KEEPTTL`/`NX`/`XX`/`GET`), `SETNX`, `GETDEL`, `GETEX`, `MGET`, `MSET`,
//! `DEL`, `UNLINK`, `EXISTS`, `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`
//! (`NX`/`XX`/`GT`/`LT`), `TTL`, `PTTL`, `PERSIST`, `INCR`, `INCRBY`,
//! `DECR`, `DECRBY`, `APPEND`, `STRLEN`, `TYPE`, `KEYS` (glob patterns),
//! `DBSIZE`, `FLUSHDB`, `FLUSHALL`, `SELECT 0`, `HELLO 2`, `COMMAND`,
//! `CONFIG GET`, `INFO`, `CLIENT` (accepted), `QUIT`.
//!
//! It behaves as Redis 7 does with hostile input: numbers are parsed and
//! combined with checked arithmetic and refused with Redis's errors;
//! expiry is lazy plus a bounded active sweep (no command scans the
//! database, see `db.rs`); keys and values are copied out of the request
//! into storage of their own size; `KEYS` matches globs in
//! O(len(pattern) × len(key)) steps without recursion (`glob.rs`).

mod db;
mod glob;

use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wf::redis::{RedisServer, RedisServerTask, RedisValue};

use db::{ACTIVE_EXPIRY_BUDGET, Db, Deadline, Record};
use glob::glob;

/// The data of a [`KvServer`]: one database of strings.
#[derive(Clone)]
pub struct KvStore {
    db: Arc<Mutex<Db>>,
}

impl Default for KvStore {
    fn default() -> KvStore {
        KvStore { db: Arc::new(Mutex::new(Db::new())) }
    }
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data is left out: a store may hold many large values.
        f.debug_struct("KvStore").finish_non_exhaustive()
    }
}

/// The largest string `APPEND` makes (Redis's `proto-max-bulk-len`).
const MAX_STRING: usize = 512 << 20;

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

/// An error reply; CR and LF become spaces (as Redis does), so text from
/// the client cannot end the line early and forge a reply.
fn err(text: impl Into<String>) -> RedisValue {
    let text: String = text.into().chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
    RedisValue::error(text)
}

fn wrong_args(cmd: &str) -> RedisValue {
    err(format!("ERR wrong number of arguments for '{}' command", cmd.to_ascii_lowercase()))
}

fn invalid_expire(cmd: &str) -> RedisValue {
    err(format!("ERR invalid expire time in '{}' command", cmd.to_ascii_lowercase()))
}

/// A 64-bit integer in canonical decimal (Redis's `string2ll`: no `+`, no
/// spaces, no leading zeros, no `-0`).
fn int_arg(b: &[u8]) -> Option<i64> {
    let n: i64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    (n.to_string().as_bytes() == b).then_some(n)
}

fn int_or_err(b: &[u8]) -> Result<i64, RedisValue> {
    int_arg(b).ok_or_else(|| err(NOT_INT))
}

fn upper(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

/// Up to `max` bytes of `b`, as text, for error messages.
fn shown(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

fn time_ms(now: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX)
}

/// A deadline `t` seconds or milliseconds from `base` (0 for Unix
/// times), as `EXPIRE`-like commands compute it: `None` on overflow.
/// The result may lie in the past (the key is then deleted).
fn deadline(t: i64, millis: bool, base: i64) -> Option<i64> {
    let ms = if millis { t } else { t.checked_mul(1000)? };
    ms.checked_add(base)
}

/// What a stored deadline `at` means for a key at `now`: `Some` to keep
/// the key with that deadline, `None` if it has already passed.
fn future(at: i64, now: u64) -> Option<Deadline> {
    u64::try_from(at).ok().filter(|&at| at > now).and_then(NonZeroU64::new)
}

/// The expiry options of `SET` and `GETEX`.
#[derive(Default)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    /// `(unit is milliseconds, absolute, argument)`.
    expire: Option<(bool, bool, &'a [u8])>,
}

impl<'a> SetOptions<'a> {
    /// Parses `opts` as Redis does (`getex`: the options of `GETEX`),
    /// then checks the expire time: its deadline, `Ok(None)` for none.
    fn parse(cmd: &str, opts: &'a [Bytes], getex: bool, now: u64) -> Result<(SetOptions<'a>, Option<i64>), RedisValue> {
        let mut o = SetOptions::default();
        let mut i = 0;
        while i < opts.len() {
            let next = opts.get(i + 1);
            let no_ttl_yet = !o.keep_ttl && !o.persist && o.expire.is_none();
            match upper(&opts[i]).as_str() {
                "NX" if !getex && !o.xx => o.nx = true,
                "XX" if !getex && !o.nx => o.xx = true,
                "GET" if !getex => o.get = true,
                "KEEPTTL" if !getex && no_ttl_yet => o.keep_ttl = true,
                "PERSIST" if getex && no_ttl_yet => o.persist = true,
                unit @ ("EX" | "PX" | "EXAT" | "PXAT") if next.is_some() => {
                    let kind = (unit.starts_with('P'), unit.ends_with("AT"));
                    if o.keep_ttl || o.persist || o.expire.is_some_and(|(m, a, _)| (m, a) != kind) {
                        return Err(err(SYNTAX));
                    }
                    o.expire = next.map(|t| (kind.0, kind.1, &t[..]));
                    i += 1;
                }
                _ => return Err(err(SYNTAX)),
            }
            i += 1;
        }
        let Some((millis, absolute, arg)) = o.expire else { return Ok((o, None)) };
        let t = int_or_err(arg)?;
        if t <= 0 {
            return Err(invalid_expire(cmd));
        }
        let at = deadline(t, millis, if absolute { 0 } else { time_ms(now) }).ok_or_else(|| invalid_expire(cmd))?;
        Ok((o, Some(at)))
    }
}

/// Commands whose arity the dispatcher checks; others get
/// `unknown command`.
const KNOWN: &[&str] = &[
    "PING",
    "ECHO",
    "GET",
    "GETDEL",
    "GETEX",
    "SET",
    "SETNX",
    "MGET",
    "MSET",
    "DEL",
    "UNLINK",
    "EXISTS",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "TTL",
    "PTTL",
    "PERSIST",
    "INCR",
    "DECR",
    "INCRBY",
    "DECRBY",
    "APPEND",
    "STRLEN",
    "TYPE",
    "KEYS",
    "DBSIZE",
    "FLUSHDB",
    "FLUSHALL",
    "SELECT",
    "HELLO",
    "AUTH",
    "COMMAND",
    "CONFIG",
    "CLIENT",
    "INFO",
    "QUIT",
];

/// What `CONFIG GET` reports (`redis-benchmark` asks for `save` and
/// `appendonly`).
const CONFIG: &[(&str, &str)] = &[("save", ""), ("appendonly", "no"), ("databases", "1")];

impl KvStore {
    /// An empty store.
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// Runs one command and returns its reply.
    pub fn execute(&self, args: &[Bytes]) -> RedisValue {
        let Some((name, a)) = args.split_first() else { return err("ERR empty command") };
        let cmd = upper(name);
        let mut db = wf::lock::lock(&self.db);
        let now = db.now();
        db.expire_due(now, ACTIVE_EXPIRY_BUDGET);
        let reply = run(&mut db, now, &cmd, a);
        db.shrink_if_sparse();
        match reply {
            Some(Ok(reply)) | Some(Err(reply)) => reply,
            None if KNOWN.contains(&cmd.as_str()) => wrong_args(&cmd),
            None => {
                // Redis shows the name and up to 128 bytes of arguments.
                let mut args = String::new();
                for p in a {
                    if args.len() >= 128 {
                        break;
                    }
                    args += &format!("'{}' ", shown(p, 128 - args.len()));
                }
                err(format!("ERR unknown command '{}', with args beginning with: {args}", shown(name, 128)))
            }
        }
    }

    #[cfg(test)]
    fn with_db<R>(&self, f: impl FnOnce(&mut Db) -> R) -> R {
        f(&mut wf::lock::lock(&self.db))
    }
}

fn string(b: &[u8]) -> RedisValue {
    RedisValue::String(Bytes::copy_from_slice(b))
}

fn get(db: &mut Db, key: &[u8], now: u64) -> RedisValue {
    db.get(key, now).map_or(RedisValue::Nil, |r| string(r.value()))
}

fn count(n: usize) -> RedisValue {
    RedisValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Runs `cmd` with arguments `a`: `None` if the arity is wrong or the
/// command unknown.
fn run(db: &mut Db, now: u64, cmd: &str, a: &[Bytes]) -> Option<Result<RedisValue, RedisValue>> {
    let reply = match (cmd, a.len()) {
        ("PING", 0) => RedisValue::status("PONG"),
        ("PING", 1) | ("ECHO", 1) => RedisValue::String(a[0].clone()),
        ("QUIT", _) => RedisValue::ok(), // the server closes the connection after the reply
        ("GET", 1) => get(db, &a[0], now),
        ("GETDEL", 1) => db.remove(&a[0], now).map_or(RedisValue::Nil, |r| string(r.value())),
        ("GETEX", n) if n >= 1 => return Some(getex(db, now, a)),
        ("SET", n) if n >= 2 => return Some(set(db, now, a)),
        ("SETNX", 2) => {
            if db.contains(&a[0], now) {
                RedisValue::Integer(0)
            } else {
                db.insert(&a[0], &a[1], None);
                RedisValue::Integer(1)
            }
        }
        ("MGET", n) if n >= 1 => RedisValue::Array(a.iter().map(|k| get(db, k, now)).collect()),
        ("MSET", n) if n >= 2 && n % 2 == 0 => {
            for kv in a.chunks_exact(2) {
                db.insert(&kv[0], &kv[1], None);
            }
            RedisValue::ok()
        }
        ("DEL" | "UNLINK", n) if n >= 1 => count(a.iter().filter(|k| db.remove(k, now).is_some()).count()),
        ("EXISTS", n) if n >= 1 => count(a.iter().filter(|k| db.contains(k, now)).count()),
        ("EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT", n) if n >= 2 => return Some(expire(db, now, cmd, a)),
        ("TTL" | "PTTL", 1) => match db.get(&a[0], now) {
            None => RedisValue::Integer(-2),
            Some(r) => match r.expires() {
                None => RedisValue::Integer(-1),
                Some(at) => {
                    let ms = at.get().saturating_sub(now);
                    let left = if cmd == "TTL" { ms.saturating_add(500) / 1000 } else { ms };
                    RedisValue::Integer(i64::try_from(left).unwrap_or(i64::MAX))
                }
            },
        },
        ("PERSIST", 1) => {
            let had = db.get(&a[0], now).is_some_and(|r| r.expires().is_some());
            RedisValue::Integer(i64::from(had && db.set_expiry(&a[0], now, None)))
        }
        ("INCR" | "DECR", 1) | ("INCRBY" | "DECRBY", 2) => return Some(incr(db, now, cmd, a)),
        ("APPEND", 2) => {
            let old = db.get(&a[0], now).map_or(&[][..], Record::value);
            let len = old.len().saturating_add(a[1].len());
            if len > MAX_STRING {
                return Some(Err(err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")));
            }
            let mut value = Vec::with_capacity(len);
            value.extend_from_slice(old);
            value.extend_from_slice(&a[1]);
            db.replace_value(&a[0], &value, now);
            count(len)
        }
        ("STRLEN", 1) => count(db.get(&a[0], now).map_or(0, |r| r.value().len())),
        ("TYPE", 1) => RedisValue::status(if db.contains(&a[0], now) { "string" } else { "none" }),
        ("KEYS", 1) => {
            let all = &a[0][..] == b"*";
            let mut keys: Vec<&[u8]> = db.live(now).map(Record::key).filter(|k| all || glob(&a[0], k)).collect();
            keys.sort_unstable();
            RedisValue::Array(keys.into_iter().map(string).collect())
        }
        ("DBSIZE", 0) => count(db.len()),
        ("FLUSHDB" | "FLUSHALL", _) => {
            db.clear();
            RedisValue::ok()
        }
        ("SELECT", 1) => match int_or_err(&a[0]) {
            Ok(0) => RedisValue::ok(),
            Ok(_) => err("ERR DB index is out of range"),
            Err(e) => e,
        },
        // HELLO's AUTH and SETNAME options are accepted and ignored.
        ("HELLO", _) => match a.first().map(|v| int_arg(v)) {
            None | Some(Some(2)) => RedisValue::Array(vec![
                "server".into(),
                "wf-kv".into(),
                "version".into(),
                env!("CARGO_PKG_VERSION").into(),
                "proto".into(),
                RedisValue::Integer(2),
                "mode".into(),
                "standalone".into(),
                "role".into(),
                "master".into(),
                "modules".into(),
                RedisValue::Array(Vec::new()),
            ]),
            Some(None) => err("ERR Protocol version is not an integer or out of range"),
            _ => err("NOPROTO sorry, this protocol version is not supported"),
        },
        ("AUTH", n) if n >= 1 => err("ERR AUTH <password> called without any password configured for the default user"),
        ("COMMAND", 0) => RedisValue::Array(Vec::new()),
        ("COMMAND", _) => match upper(&a[0]).as_str() {
            "COUNT" => count(KNOWN.len()),
            _ => RedisValue::Array(Vec::new()), // DOCS, INFO…: nothing to tell
        },
        ("CONFIG", n) if n >= 2 && upper(&a[0]) == "GET" => {
            let mut reply = Vec::new();
            for (name, value) in CONFIG {
                if a[1..].iter().any(|p| glob(&p.to_ascii_lowercase(), name.as_bytes())) {
                    reply.extend([RedisValue::from(*name), RedisValue::from(*value)]);
                }
            }
            RedisValue::Array(reply)
        }
        ("CONFIG", n) if n >= 1 => err(format!("ERR unknown subcommand '{}'", shown(&a[0], 128))),
        ("CLIENT", n) if n >= 1 => match upper(&a[0]).as_str() {
            "GETNAME" => RedisValue::Nil,
            _ => RedisValue::ok(), // SETNAME, SETINFO…: accepted
        },
        ("INFO", _) => RedisValue::string(format!(
            "# Server\r\nredis_mode:standalone\r\nwf_kv_keys:{}\r\n\r\n# Keyspace\r\ndb0:keys={}\r\n",
            db.len(),
            db.len()
        )),
        _ => return None,
    };
    Some(Ok(reply))
}

fn set(db: &mut Db, now: u64, a: &[Bytes]) -> Result<RedisValue, RedisValue> {
    let (o, at) = SetOptions::parse("SET", &a[2..], false, now)?;
    let old = db.get(&a[0], now);
    let exists = old.is_some();
    let reply_old = o.get.then(|| old.map_or(RedisValue::Nil, |r| string(r.value())));
    if (o.nx && exists) || (o.xx && !exists) {
        return Ok(reply_old.unwrap_or(RedisValue::Nil));
    }
    match at.map(|at| future(at, now)) {
        // A deadline already past (EXAT/PXAT): the key goes, old value too.
        Some(None) => {
            db.remove(&a[0], now);
        }
        Some(Some(at)) => db.insert(&a[0], &a[1], Some(at)),
        None if o.keep_ttl => db.replace_value(&a[0], &a[1], now),
        None => db.insert(&a[0], &a[1], None),
    }
    Ok(reply_old.unwrap_or_else(RedisValue::ok))
}

fn getex(db: &mut Db, now: u64, a: &[Bytes]) -> Result<RedisValue, RedisValue> {
    let (o, at) = SetOptions::parse("GETEX", &a[1..], true, now)?;
    let Some(value) = db.get(&a[0], now).map(|r| string(r.value())) else { return Ok(RedisValue::Nil) };
    match at.map(|at| future(at, now)) {
        Some(None) => {
            db.remove(&a[0], now);
        }
        Some(Some(at)) => {
            db.set_expiry(&a[0], now, Some(at));
        }
        None if o.persist => {
            db.set_expiry(&a[0], now, None);
        }
        None => {}
    }
    Ok(value)
}

fn expire(db: &mut Db, now: u64, cmd: &str, a: &[Bytes]) -> Result<RedisValue, RedisValue> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &a[2..] {
        match upper(opt).as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "GT" => gt = true,
            "LT" => lt = true,
            _ => return Err(err(format!("ERR Unsupported option {}", shown(opt, 128)))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(err("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(err("ERR GT and LT options at the same time are not compatible"));
    }
    let t = int_or_err(&a[1])?;
    let base = if cmd.ends_with("AT") { 0 } else { time_ms(now) };
    let at = deadline(t, cmd.starts_with('P'), base).ok_or_else(|| invalid_expire(cmd))?;
    let Some(record) = db.get(&a[0], now) else { return Ok(RedisValue::Integer(0)) };
    let current = record.expires().map(|d| time_ms(d.get()));
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| at <= c))
        || (lt && current.is_some_and(|c| at >= c));
    if refused {
        return Ok(RedisValue::Integer(0));
    }
    match future(at, now) {
        None => {
            db.remove(&a[0], now);
        }
        Some(at) => {
            db.set_expiry(&a[0], now, Some(at));
        }
    }
    Ok(RedisValue::Integer(1))
}

fn incr(db: &mut Db, now: u64, cmd: &str, a: &[Bytes]) -> Result<RedisValue, RedisValue> {
    let by = match a.get(1) {
        Some(b) => int_or_err(b)?,
        None => 1,
    };
    let by =
        if cmd.starts_with('D') { by.checked_neg().ok_or_else(|| err("ERR decrement would overflow"))? } else { by };
    let cur = match db.get(&a[0], now) {
        Some(r) => int_or_err(r.value())?,
        None => 0,
    };
    let n = cur.checked_add(by).ok_or_else(|| err("ERR increment or decrement would overflow"))?;
    db.replace_value(&a[0], n.to_string().as_bytes(), now);
    Ok(RedisValue::Integer(n))
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
            let reply = match task.req().commands().next() {
                Some(c) => data.execute(c),
                None => err("ERR empty command"),
            };
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
mod tests;
