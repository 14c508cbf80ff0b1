//! The store's commands, checked against what Redis 7.0 answers.

use bytes::{BufMut, Bytes, BytesMut};
use wf::redis::RedisValue;

use super::KvStore;

fn run(kv: &KvStore, line: &str) -> RedisValue {
    let args: Vec<Bytes> = line.split(' ').map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
    kv.execute(&args)
}

fn error(text: &str) -> RedisValue {
    RedisValue::error(text.to_owned())
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
    assert_eq!(run(&kv, "PEXPIRE a 1500"), RedisValue::Integer(1));
    assert_eq!(run(&kv, "TTL a"), RedisValue::Integer(2));
    assert_eq!(run(&kv, "APPEND a ?"), RedisValue::Integer(4));
    assert_eq!(run(&kv, "PTTL a"), RedisValue::Integer(1500), "APPEND keeps the TTL");
    kv.with_db(|db| db.advance(1500));
    assert_eq!(run(&kv, "GET a"), RedisValue::Nil);
    assert_eq!(run(&kv, "TTL a"), RedisValue::Integer(-2));
    assert_eq!(run(&kv, "MSET k1 v1 k2 v2 x3 v3"), RedisValue::ok());
    assert_eq!(run(&kv, "KEYS k*").len(), 2);
    assert_eq!(run(&kv, "KEYS [kx][13]").len(), 2);
    assert_eq!(run(&kv, "DEL k1 k2 nope"), RedisValue::Integer(2));
    assert_eq!(run(&kv, "DBSIZE"), RedisValue::Integer(1));
    assert_eq!(run(&kv, "GET"), error("ERR wrong number of arguments for 'get' command"));
    assert!(run(&kv, "NOSUCH x").is_error());
}

#[test]
fn set_options() {
    let kv = KvStore::new();
    assert_eq!(run(&kv, "SET k v EX 100 GET"), RedisValue::Nil);
    assert_eq!(run(&kv, "SET k w KEEPTTL GET"), RedisValue::from("v"));
    assert_eq!(run(&kv, "TTL k"), RedisValue::Integer(100));
    assert_eq!(run(&kv, "SET k x"), RedisValue::ok());
    assert_eq!(run(&kv, "TTL k"), RedisValue::Integer(-1), "SET drops the TTL");
    assert_eq!(run(&kv, "SET k y XX PX 2500"), RedisValue::ok());
    assert_eq!(run(&kv, "PTTL k"), RedisValue::Integer(2500));
    assert_eq!(run(&kv, "SET n y XX"), RedisValue::Nil);
    assert_eq!(run(&kv, "SET n y NX GET"), RedisValue::Nil);
    assert_eq!(run(&kv, "GET n"), RedisValue::from("y"));
    assert_eq!(run(&kv, "SET k v EXAT 1"), RedisValue::ok());
    assert_eq!(run(&kv, "EXISTS k"), RedisValue::Integer(0), "a deadline in the past deletes");
    assert_eq!(run(&kv, "SET k v PXAT 9223372036854775807"), RedisValue::ok());
    assert!(run(&kv, "TTL k").as_int().unwrap() > 9_000_000_000_000_000);
    for bad in ["EX 1 PX 1", "NX XX", "KEEPTTL EX 1", "EX 1 KEEPTTL", "EX", "PERSIST", "FOO"] {
        assert_eq!(run(&kv, &format!("SET k v {bad}")), error("ERR syntax error"), "{bad}");
    }
    assert_eq!(run(&kv, "GETEX k PERSIST"), RedisValue::from("v"));
    assert_eq!(run(&kv, "TTL k"), RedisValue::Integer(-1));
    assert_eq!(run(&kv, "GETEX k EX 7"), RedisValue::from("v"));
    assert_eq!(run(&kv, "TTL k"), RedisValue::Integer(7));
    assert_eq!(run(&kv, "GETEX k NX"), error("ERR syntax error"));
    assert_eq!(run(&kv, "GETEX k PXAT 1"), RedisValue::from("v"));
    assert_eq!(run(&kv, "GET k"), RedisValue::Nil);
}

#[test]
fn hostile_numbers_get_redis_errors() {
    let kv = KvStore::new();
    let invalid = error("ERR invalid expire time in 'set' command");
    let not_int = error("ERR value is not an integer or out of range");
    for t in [
        "EX 9223372036854775807",
        "EX 9223372036854775",
        "PX 9223372036854775807",
        "EX 0",
        "PX 0",
        "EX -1",
        "EXAT 0",
        "PXAT -5",
        "EX -9223372036854775808",
    ] {
        assert_eq!(run(&kv, &format!("SET k v {t}")), invalid, "{t}");
    }
    for t in ["EX abc", "EX 99999999999999999999", "EX +1", "EX 01", "EX 1.5", "EX  1"] {
        let args: Vec<Bytes> = ["SET", "k", "v"]
            .into_iter()
            .chain(t.splitn(2, ' '))
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        assert_eq!(kv.execute(&args), not_int, "{t}");
    }
    assert_eq!(run(&kv, "DBSIZE"), RedisValue::Integer(0), "nothing was stored");

    assert_eq!(run(&kv, "SET k v"), RedisValue::ok());
    assert_eq!(run(&kv, "EXPIRE k 9223372036854775807"), error("ERR invalid expire time in 'expire' command"));
    assert_eq!(run(&kv, "EXPIRE k -9223372036854775808"), error("ERR invalid expire time in 'expire' command"));
    assert_eq!(run(&kv, "PEXPIRE k 9223372036854775807"), error("ERR invalid expire time in 'pexpire' command"));
    assert_eq!(run(&kv, "EXPIREAT k 9223372036854775807"), error("ERR invalid expire time in 'expireat' command"));
    assert_eq!(run(&kv, "PEXPIREAT k 9223372036854775807"), RedisValue::Integer(1));
    assert_eq!(run(&kv, "EXPIRE k abc"), not_int);
    assert_eq!(run(&kv, "GETEX k EX 9223372036854775807"), error("ERR invalid expire time in 'getex' command"));
    assert_eq!(run(&kv, "EXPIRE k -9223372036854775"), RedisValue::Integer(1));
    assert_eq!(run(&kv, "EXISTS k"), RedisValue::Integer(0), "a negative TTL deletes");

    assert_eq!(run(&kv, "SET n 1"), RedisValue::ok());
    assert_eq!(run(&kv, "INCRBY n 9223372036854775807"), error("ERR increment or decrement would overflow"));
    assert_eq!(run(&kv, "DECRBY n -9223372036854775808"), error("ERR decrement would overflow"));
    assert_eq!(run(&kv, "DECRBY n 9223372036854775807"), RedisValue::Integer(-9223372036854775806));
    assert_eq!(run(&kv, "DECRBY n 3"), error("ERR increment or decrement would overflow"));
    assert_eq!(run(&kv, "INCRBY n +1"), not_int);
    assert_eq!(run(&kv, "SET n 01"), RedisValue::ok());
    assert_eq!(run(&kv, "INCR n"), not_int);
    assert_eq!(run(&kv, "SET n -0"), RedisValue::ok());
    assert_eq!(run(&kv, "INCR n"), not_int);
    assert_eq!(run(&kv, "SELECT abc"), not_int);
    assert_eq!(run(&kv, "SELECT 1"), error("ERR DB index is out of range"));
    assert_eq!(run(&kv, "HELLO abc"), error("ERR Protocol version is not an integer or out of range"));
    assert_eq!(run(&kv, "HELLO 3"), error("NOPROTO sorry, this protocol version is not supported"));
}

#[test]
fn expire_options() {
    let kv = KvStore::new();
    run(&kv, "SET k v");
    assert_eq!(run(&kv, "EXPIRE k 100 XX"), RedisValue::Integer(0));
    assert_eq!(run(&kv, "EXPIRE k 100 GT"), RedisValue::Integer(0), "no TTL counts as infinite");
    assert_eq!(run(&kv, "EXPIRE k 100 NX"), RedisValue::Integer(1));
    assert_eq!(run(&kv, "EXPIRE k 50 GT"), RedisValue::Integer(0));
    assert_eq!(run(&kv, "EXPIRE k 50 LT"), RedisValue::Integer(1));
    assert_eq!(run(&kv, "TTL k"), RedisValue::Integer(50));
    assert_eq!(
        run(&kv, "EXPIRE k 50 NX XX"),
        error("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(run(&kv, "EXPIRE k 50 GT LT"), error("ERR GT and LT options at the same time are not compatible"));
    assert_eq!(run(&kv, "EXPIRE k 50 FOO"), error("ERR Unsupported option FOO"));
    assert_eq!(run(&kv, "PERSIST k"), RedisValue::Integer(1));
    assert_eq!(run(&kv, "PERSIST k"), RedisValue::Integer(0));
    assert_eq!(run(&kv, "EXPIRE nope 5"), RedisValue::Integer(0));
}

#[test]
fn connection_commands_answer_like_redis() {
    let kv = KvStore::new();
    assert_eq!(run(&kv, "QUIT"), RedisValue::ok());
    assert_eq!(run(&kv, "PING"), RedisValue::status("PONG"));
    assert_eq!(run(&kv, "ECHO hi"), RedisValue::from("hi"));
    assert_eq!(run(&kv, "SELECT 0"), RedisValue::ok());
    assert_eq!(run(&kv, "CLIENT SETNAME me"), RedisValue::ok());
    assert_eq!(run(&kv, "CLIENT GETNAME"), RedisValue::Nil);
    assert_eq!(run(&kv, "COMMAND DOCS"), RedisValue::Array(Vec::new()));
    assert_eq!(run(&kv, "HELLO 2").get(5), Some(&RedisValue::Integer(2)));
    assert_eq!(run(&kv, "CONFIG GET save"), RedisValue::Array(vec![RedisValue::from("save"), RedisValue::from("")]));
    assert_eq!(run(&kv, "CONFIG GET APPEND*").len(), 2);
}

#[test]
fn error_texts_are_bounded_and_one_line() {
    let kv = KvStore::new();
    let long = "x".repeat(10_000);
    let args: Vec<Bytes> =
        ["NO\r\nSUCH", "a\r\n+OK", long.as_str(), "z"].iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
    let reply = kv.execute(&args);
    let text = reply.as_bytes().expect("an error");
    assert!(text.starts_with(b"ERR unknown command 'NO  SUCH', with args beginning with: 'a  +OK' 'xxx"), "{reply:?}");
    assert!(text.len() < 300, "{} bytes", text.len());
    assert!(!text.contains(&b'\r') && !text.contains(&b'\n'));
}

/// A key and value arrive as slices of the connection's read buffer: the
/// store must keep copies, or each small key would pin the whole buffer.
#[test]
fn stored_keys_and_values_do_not_pin_the_read_buffer() {
    let kv = KvStore::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    buf.put_slice(b"*3\r\n$3\r\nSET\r\n$10\r\nkey:000001\r\n$3\r\nabc\r\n");
    let read_buffer = buf.freeze();
    let request = |cmd: &'static [u8], key: std::ops::Range<usize>| {
        kv.execute(&[Bytes::from_static(cmd), read_buffer.slice(key), read_buffer.slice(34..37)])
    };
    assert_eq!((&read_buffer[18..28], &read_buffer[34..37]), (&b"key:000001"[..], &b"abc"[..]));
    assert_eq!(request(b"SET", 18..28), RedisValue::ok());
    assert_eq!(request(b"APPEND", 18..28), RedisValue::Integer(6));
    assert_eq!(request(b"MSET", 18..27), RedisValue::ok());
    assert_eq!(request(b"SET", 18..26), RedisValue::ok());
    assert_eq!(request(b"EXPIRE", 18..26), error("ERR value is not an integer or out of range"));
    assert!(read_buffer.is_unique(), "the store still references the read buffer");

    let range = read_buffer.as_ptr_range();
    kv.with_db(|db| {
        for key in [&b"key:000001"[..], b"key:00000"] {
            let record = db.get(key, 0).expect("stored");
            let storage = record.storage();
            assert_eq!(storage.len(), record.key().len() + record.value().len(), "exactly key + value");
            assert!(!range.contains(&storage.as_ptr()), "a copy, not a slice of the request");
        }
    });
}

#[test]
fn expiry_pops_only_what_is_due() {
    let kv = KvStore::new();
    for i in 0..1000 {
        run(&kv, &format!("SET keep{i} v"));
        run(&kv, &format!("SET short{i} v PX 100"));
        run(&kv, &format!("SET long{i} v EX 1000"));
    }
    assert_eq!(kv.with_db(|db| db.heap_len()), 2000);
    kv.with_db(|db| db.advance(100));
    // Lazy: a read of an expired key removes it.
    assert_eq!(run(&kv, "GET short7"), RedisValue::Nil);
    // Active: each command first removes at most ACTIVE_EXPIRY_BUDGET due keys.
    let before = run(&kv, "DBSIZE").as_int().unwrap();
    assert!(before >= 3000 - 1 - 2 * super::ACTIVE_EXPIRY_BUDGET as i64);
    let mut commands = 0;
    while run(&kv, "DBSIZE") != RedisValue::Integer(2000) {
        commands += 1;
        assert!(commands <= 1000, "active expiry makes no progress");
    }
    assert!(commands >= 900 / super::ACTIVE_EXPIRY_BUDGET, "{commands} commands: a scan?");
    assert_eq!(run(&kv, "EXISTS keep0 long999 short999"), RedisValue::Integer(2));
    assert_eq!(kv.with_db(|db| db.heap_len()), 1000, "only the long keys' entries are left");
    run(&kv, "FLUSHALL");
    for i in 0..100_000 {
        run(&kv, &format!("SET k{i} v"));
    }
    let full = kv.with_db(|db| db.capacity());
    for i in 0..99_990 {
        run(&kv, &format!("DEL k{i}"));
    }
    let sparse = kv.with_db(|db| db.capacity());
    assert!(sparse < full / 100, "the table shrinks: {full} → {sparse} buckets");
}

#[test]
fn rewritten_deadlines_do_not_grow_the_heap() {
    let kv = KvStore::new();
    run(&kv, "SET other v");
    for i in 0..100_000 {
        run(&kv, &format!("SET k {i} EX 3600"));
        run(&kv, "EXPIRE other 3600");
    }
    let (len, heap) = kv.with_db(|db| (db.len(), db.heap_len()));
    assert_eq!(len, 2);
    assert!(heap <= 64 + 2 * len + 1, "{heap} heap entries for {len} keys");
    assert_eq!(run(&kv, "TTL k"), RedisValue::Integer(3600));
    kv.with_db(|db| db.advance(3_600_000));
    run(&kv, "PING");
    assert_eq!(run(&kv, "DBSIZE"), RedisValue::Integer(0));
}

#[test]
fn keys_survives_hostile_patterns() {
    let kv = KvStore::new();
    let long = "a".repeat(5_000);
    run(&kv, &format!("SET {long} v"));
    run(&kv, "SET b v");
    let stars = "*".repeat(100_000);
    assert_eq!(run(&kv, &format!("KEYS {stars}")).len(), 2);
    let backtrack = "*a".repeat(12) + "b";
    assert_eq!(run(&kv, &format!("KEYS {backtrack}")), RedisValue::Array(Vec::new()));
    let keys = run(&kv, "KEYS *");
    assert_eq!(keys.get(1), Some(&RedisValue::from("b")), "sorted");
}
