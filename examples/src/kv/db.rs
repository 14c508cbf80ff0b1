//! The database of a [`KvStore`](super::KvStore): owned records in a hash
//! set, and a min-heap of deadlines for active expiry.
//!
//! A record is one allocation holding its key then its value, copied out
//! of the request, so a stored key never pins the connection's read
//! buffer: 136,000 16-byte keys with 3-byte values cost 100 bytes of RSS
//! each (redis-server 7.0: 127).
//!
//! Expiry is Redis's: lazy (a key past its deadline is removed when a
//! command touches it) and active (each command first removes a bounded
//! number of keys whose deadline passed). Active expiry pops a min-heap of
//! `(deadline, key)`; an entry whose key was since deleted, rewritten or
//! given another deadline is stale and is dropped when it comes up. When
//! stale entries outnumber the keys, the heap is rebuilt from the records:
//! that costs no more than the commands that made them stale, so every
//! command costs O(log n) amortised, never a scan.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::hash::{Hash, Hasher};
use std::num::NonZeroU64;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A deadline in Unix milliseconds (Redis stores expiry the same way);
/// deadlines are above 0 and at most `i64::MAX`.
pub(crate) type Deadline = NonZeroU64;

/// One key and its value, in one allocation of exactly their length.
pub(crate) struct Record {
    bytes: Box<[u8]>,
    key_len: usize,
    expires: Option<Deadline>,
}

impl Record {
    fn new(key: &[u8], value: &[u8], expires: Option<Deadline>) -> Record {
        let mut bytes = Vec::with_capacity(key.len() + value.len());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(value);
        Record { bytes: bytes.into_boxed_slice(), key_len: key.len(), expires }
    }

    /// The key.
    pub(crate) fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len]
    }

    /// The value.
    pub(crate) fn value(&self) -> &[u8] {
        &self.bytes[self.key_len..]
    }

    /// The deadline, if the key expires.
    pub(crate) fn expires(&self) -> Option<Deadline> {
        self.expires
    }

    /// The allocation holding key and value: its address and length.
    #[cfg(test)]
    pub(crate) fn storage(&self) -> &[u8] {
        &self.bytes
    }

    fn expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|at| at.get() <= now)
    }
}

impl Borrow<[u8]> for Record {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl Hash for Record {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Record {}

/// Unix time in milliseconds that never goes back: the wall clock read
/// once, then a monotonic clock.
struct Clock {
    start: Instant,
    unix_ms_at_start: u64,
}

impl Clock {
    fn new() -> Clock {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        Clock { start: Instant::now(), unix_ms_at_start: u64::try_from(unix).unwrap_or(u64::MAX) }
    }

    fn now(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.unix_ms_at_start.saturating_add(elapsed)
    }
}

/// Keys removed by active expiry before each command, at most (Redis
/// removes up to 20 per sample, ten times a second).
pub(crate) const ACTIVE_EXPIRY_BUDGET: usize = 20;

/// Heap entries allowed beyond twice the number of keys before a rebuild.
const HEAP_SLACK: usize = 64;

/// Tables at most this big are never shrunk.
const SHRINK_ABOVE: usize = 1024;

/// One database: records and their expiry heap.
pub(crate) struct Db {
    records: HashSet<Record>,
    due: BinaryHeap<Reverse<(u64, Box<[u8]>)>>,
    clock: Clock,
}

impl Db {
    pub(crate) fn new() -> Db {
        Db { records: HashSet::new(), due: BinaryHeap::new(), clock: Clock::new() }
    }

    /// The current time in Unix milliseconds.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Moves the clock forward (tests of expiry without sleeping).
    #[cfg(test)]
    pub(crate) fn advance(&mut self, ms: u64) {
        self.clock.unix_ms_at_start += ms;
    }

    /// The live record of `key`; removes it if it has expired.
    pub(crate) fn get(&mut self, key: &[u8], now: u64) -> Option<&Record> {
        if self.records.get(key)?.expired(now) {
            self.records.remove(key);
            return None;
        }
        self.records.get(key)
    }

    /// Whether `key` is live (removes it if it has expired).
    pub(crate) fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.get(key, now).is_some()
    }

    /// Removes `key`; its record if it was live.
    pub(crate) fn remove(&mut self, key: &[u8], now: u64) -> Option<Record> {
        self.records.take(key).filter(|r| !r.expired(now))
    }

    /// Stores `key` = `value` (copies of both), replacing any record.
    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8], expires: Option<Deadline>) {
        self.put(Record::new(key, value, expires));
    }

    /// Gives the live `key` a new deadline (or none); false if there is no
    /// such key.
    pub(crate) fn set_expiry(&mut self, key: &[u8], now: u64, expires: Option<Deadline>) -> bool {
        let Some(mut record) = self.remove(key, now) else { return false };
        record.expires = expires;
        self.put(record);
        true
    }

    /// Replaces the value of the live `key` (or stores a new key), keeping
    /// its deadline, whose heap entry stays valid (`INCR`, `APPEND`,
    /// `SET … KEEPTTL`).
    pub(crate) fn replace_value(&mut self, key: &[u8], value: &[u8], now: u64) {
        let expires = self.get(key, now).and_then(Record::expires);
        self.records.replace(Record::new(key, value, expires));
    }

    fn put(&mut self, record: Record) {
        if let Some(at) = record.expires {
            self.due.push(Reverse((at.get(), record.key().into())));
            if self.due.len() > HEAP_SLACK + 2 * self.records.len() {
                self.rebuild_heap();
            }
        }
        self.records.replace(record);
    }

    /// Rebuilds the heap from the records, dropping stale entries: O(n),
    /// run only after more than n entries went stale.
    fn rebuild_heap(&mut self) {
        let live: Vec<_> =
            self.records.iter().filter_map(|r| Some(Reverse((r.expires?.get(), r.key().into())))).collect();
        self.due = BinaryHeap::from(live);
    }

    /// Active expiry: pops at most `budget` heap entries whose deadline
    /// passed, removing the keys they still describe. Returns the number
    /// of keys removed.
    pub(crate) fn expire_due(&mut self, now: u64, budget: usize) -> usize {
        let mut removed = 0;
        for _ in 0..budget {
            match self.due.peek() {
                Some(Reverse((at, _))) if *at <= now => {}
                _ => break,
            }
            let Some(Reverse((at, key))) = self.due.pop() else { break };
            if self.records.get(&key[..]).is_some_and(|r| r.expires.map(NonZeroU64::get) == Some(at)) {
                self.records.remove(&key[..]);
                removed += 1;
            }
        }
        removed
    }

    /// Gives memory back after mass deletion or expiry: when the table is
    /// at most one-eighth full, it shrinks to twice its keys (amortised
    /// O(1): the deletions that emptied it pay for the rehash).
    pub(crate) fn shrink_if_sparse(&mut self) {
        let (len, capacity) = (self.records.len(), self.records.capacity());
        if capacity > SHRINK_ABOVE && len < capacity / 8 {
            self.records.shrink_to(2 * len);
        }
        let (len, capacity) = (self.due.len(), self.due.capacity());
        if capacity > SHRINK_ABOVE && len < capacity / 8 {
            self.due.shrink_to(2 * len);
        }
    }

    /// Live records, in no particular order.
    pub(crate) fn live(&self, now: u64) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(move |r| !r.expired(now))
    }

    /// Number of keys, including expired ones not removed yet (as Redis's
    /// `DBSIZE`).
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Room in the table, in records.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.records.capacity()
    }

    /// Heap entries (live and stale).
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.due.len()
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self) {
        self.records = HashSet::new();
        self.due = BinaryHeap::new();
    }
}
