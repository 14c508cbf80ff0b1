//! Redis for wf: [`RedisTask`], the [subscriber](RedisSubscriber) and
//! [`RedisServer`], on wf-core's protocol plug-in API.
//!
//! A Redis command is a task like any other: it goes into series and
//! parallels, its callback sees the reply, and a server's reply is the end
//! of a series.
//!
//! ```no_run
//! use wf_redis::create_redis_task;
//!
//! // Tutorial 02: SET, then GET from the SET's callback.
//! let mut set = create_redis_task("redis://127.0.0.1/", 2, |t| {
//!     println!("SET: {}", t.result());
//!     let mut get = create_redis_task("redis://127.0.0.1/", 2, |t| println!("GET: {}", t.result()));
//!     get.set_request("GET", ["key"]);
//!     wf_core::series_of(t).push_back(get);
//! });
//! set.set_request("SET", ["key", "value"]);
//! set.start();
//! wf_core::wait_finish();
//! ```
//!
//! # Connections
//!
//! The URL is `redis[s]://[user][:password]@host[:port][/db]`, with
//! `?protocol=3` for RESP3 and `readonly=1` (`?protocol=3&readonly=1`)
//! for a cluster replica's reads. On each new connection wf sends `AUTH`
//! and `SELECT` itself (`HELLO 3` with RESP3), then `READONLY` if asked
//! (such connections are pooled apart from the others). Tasks to one server share
//! connections with several commands in flight, replies matched in order,
//! so fifty concurrent series need one connection, not fifty. Blocking
//! and stateful commands (`BLPOP`, `MULTI`, `WATCH`…) take a connection
//! of their own. A transaction belongs in one task:
//! [`push_command`](RedisRequest::push_command) makes a request a
//! pipeline whose replies come back together.
//!
//! # Redis Cluster
//!
//! [`cluster::RedisCluster`] sends each command to the master serving its
//! keys' slot, following `MOVED` and `ASK` (see [`cluster`]).
//!
//! # Errors
//!
//! | what | state / code |
//! |---|---|
//! | bad URL, bad database number | `TASK_ERROR` 1001–1003 |
//! | `AUTH`/`SELECT` refused, `NOAUTH` | `TASK_ERROR` 3001 (no retry) |
//! | `AUTH`, `SELECT`, `HELLO`, `RESET`, `ASKING`, `SUBSCRIBE`… sent by hand | `TASK_ERROR` 3002 |
//! | keys of one request in several cluster slots | `TASK_ERROR` 3003 |
//! | no command set | `SYS_ERROR` `EINVAL` |
//! | reply over the size limit (arrived, or declared by a length or count) / not RESP, or nested deeper than 128 | `SYS_ERROR` `EMSGSIZE` / `EBADMSG` |
//! | an error reply (`-ERR …`) | `SUCCESS`: the value is [`RedisValue::Error`] |

#![forbid(unsafe_code)]

mod client;
pub mod cluster;
pub mod code;
mod codec;
mod command;
mod login;
mod message;
mod protocol;
mod resp;
mod server;
mod subscriber;
mod task;
mod trace;
mod value;

pub use codec::{ClientCodec, ServerCodec};
pub use login::RedisLogin;
pub use message::{RedisArg, RedisRequest, RedisResponse};
pub use protocol::Redis;
pub use server::{RedisServer, RedisServerTask};
pub use subscriber::{
    RedisSubscribeTask, RedisSubscriber, RedisSubscription, SubscribeHandle, Subscriber, Subscription,
};
pub use task::{RedisClient, RedisTask, create_redis_task, create_redis_task_with};
pub use value::RedisValue;

/// Write access to `lock`, poisoned or not (a panic elsewhere leaves the
/// slot map whole: every write is one assignment).
pub(crate) fn lock_write<T>(lock: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
