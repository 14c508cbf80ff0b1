//! Code the tutorial binaries share: an in-memory key-value server on
//! `RedisServer` ([`kv`]), the tour's embedded Redis.

#![forbid(unsafe_code)]

pub mod kv;
