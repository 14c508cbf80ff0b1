//! Helpers shared by the wf-redis integration tests: Redis tasks whose
//! callbacks report their outcome on a channel, a few readers of a real
//! server's `INFO`, fake in-process `RedisServer`s that record what they
//! were sent, and the `redis-cli` binary. What is not Redis's (waiting,
//! finding binaries) is `testkit`'s.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub(crate) use testkit::redis::cli_path as redis_cli;
pub(crate) use testkit::{WAIT, wait_until};
use wf_core::{Error, State};
use wf_redis::{RedisArg, RedisServer, RedisServerTask, RedisTask, RedisValue, create_redis_task};

/// What a `RedisTask`'s callback saw.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) state: State,
    pub(crate) error: Error,
    pub(crate) results: Vec<RedisValue>,
    pub(crate) redirects: u32,
    pub(crate) uri: Option<String>,
    pub(crate) peer: Option<SocketAddr>,
}

impl Outcome {
    /// Panics with the error text unless the task succeeded.
    #[track_caller]
    pub(crate) fn ok(&self) -> &Outcome {
        assert_eq!(self.state, State::Success, "task failed: {} ({:?})", self.error, self.error);
        self
    }

    /// The reply to the (first) command.
    #[track_caller]
    pub(crate) fn value(&self) -> &RedisValue {
        self.ok();
        assert!(!self.results.is_empty(), "no reply");
        &self.results[0]
    }

    /// Asserts the task failed with `state` and `code`.
    #[track_caller]
    pub(crate) fn assert_failed(&self, state: State, code: i32) {
        assert_eq!(
            (self.state, self.error.code()),
            (state, code),
            "expected {state:?}/{code}, got {:?} ({}) results {:?}",
            self.error,
            self.error,
            self.results
        );
    }
}

/// The [`Outcome`] of a finished task.
pub(crate) fn outcome_of(t: &RedisTask) -> Outcome {
    Outcome {
        state: t.state(),
        error: t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0)),
        results: t.resp().results().to_vec(),
        redirects: t.redirects(),
        uri: t.uri().map(|u| u.as_str().to_owned()),
        peer: t.peer_addr(),
    }
}

/// Starts `task` (its callback replaced by one reporting the outcome) and
/// waits for it to finish.
#[track_caller]
pub(crate) fn run(mut task: RedisTask) -> Outcome {
    testkit::capture(|tx| {
        task.set_callback(move |t| {
            let _ = tx.send(outcome_of(t));
        });
        task.start();
    })
}

/// A task for `url` with no callback yet.
pub(crate) fn task(url: &str, retry_max: u32) -> RedisTask {
    create_redis_task(url, retry_max, |_| {})
}

/// Runs one command against `url` (no retry).
#[track_caller]
pub(crate) fn exec<I>(url: &str, command: &str, params: I) -> Outcome
where
    I: IntoIterator,
    I::Item: RedisArg,
{
    let mut t = task(url, 0);
    t.set_request(command, params);
    run(t)
}

/// Runs one command against `url` and returns its reply, which must not
/// be a task failure.
#[track_caller]
pub(crate) fn query<I>(url: &str, command: &str, params: I) -> RedisValue
where
    I: IntoIterator,
    I::Item: RedisArg,
{
    exec(url, command, params).value().clone()
}

/// No parameters.
pub(crate) const NONE: [&str; 0] = [];

/// A bulk string value.
pub(crate) fn s(v: &str) -> RedisValue {
    RedisValue::from(v)
}

/// A status value.
pub(crate) fn status(v: &str) -> RedisValue {
    RedisValue::status(v.to_owned())
}

/// An integer value.
pub(crate) fn int(i: i64) -> RedisValue {
    RedisValue::Integer(i)
}

// ---------------------------------------------------------------------------
// A real redis-server (testkit)

/// The stdout of `redis-cli ARGS` against `server`, trimmed; panics if the
/// cli failed.
#[track_caller]
pub(crate) fn cli(server: &testkit::RedisServer, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(out.status.success(), "redis-cli {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A field of `INFO section` as a number.
#[track_caller]
pub(crate) fn info_field(server: &testkit::RedisServer, section: &str, field: &str) -> u64 {
    let info = cli(server, &["INFO", section]);
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{field} is not a number: {e}"))
}

/// Connections the server accepted so far. Each call is itself one
/// connection (counted in what it returns).
pub(crate) fn connections_received(server: &testkit::RedisServer) -> u64 {
    info_field(server, "stats", "total_connections_received")
}

// ---------------------------------------------------------------------------
// Fake servers (wf_redis::RedisServer in this process)

/// Every command a fake server received, each as its words.
#[derive(Clone, Default, Debug)]
pub(crate) struct Seen(Arc<Mutex<Vec<Vec<String>>>>);

impl Seen {
    /// Records the command of `task` and returns its words.
    pub(crate) fn record(&self, task: &RedisServerTask) -> Vec<String> {
        let words = words(task);
        self.0.lock().unwrap().push(words.clone());
        words
    }

    pub(crate) fn get(&self) -> Vec<Vec<String>> {
        self.0.lock().unwrap().clone()
    }

    /// The commands as `"NAME arg arg"` lines.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.get().iter().map(|c| c.join(" ")).collect()
    }
}

/// The words of the (first) command of `task`.
pub(crate) fn words(task: &RedisServerTask) -> Vec<String> {
    task.req()
        .commands()
        .next()
        .map(|c| c.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect())
        .unwrap_or_default()
}

/// Starts `server` on an ephemeral port of 127.0.0.1 and returns the port.
pub(crate) fn start_local(server: &RedisServer) -> u16 {
    server.start_on("127.0.0.1", 0).expect("the RedisServer starts");
    server.listen_addr().expect("a TCP listen address").port()
}

/// A fake server recording every command and answering with `answer`.
pub(crate) fn fake_server(
    answer: impl Fn(&[String]) -> RedisValue + Send + Sync + 'static,
) -> (RedisServer, u16, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let server = RedisServer::new(move |task| {
        let words = log.record(task);
        task.resp_mut().set_result(answer(&words));
    });
    let port = start_local(&server);
    (server, port, seen)
}

/// The upper-cased command name of a recorded command.
pub(crate) fn name(words: &[String]) -> String {
    words.first().map(|w| w.to_ascii_uppercase()).unwrap_or_default()
}
