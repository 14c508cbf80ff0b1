//! One watch stream: `POST /v3/watch` through wf-http's streaming task,
//! cut into messages as the pieces arrive, events handed over at once.
//!
//! The streaming task runs inside a task kind of this module that can end
//! it early: when the watcher is stopped, or when a message is bad (too
//! big, not JSON, an error from etcd, the watch canceled). Ending it drops
//! the connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use serde_json::{Value, json};
use tokio::sync::watch;
use wf_core::{Error, RunContext, State, Task, TaskKind};
use wf_http::HttpTask;

use crate::code;
use crate::config::Etcd;
use crate::frames::Frames;
use crate::gateway::{self, b64, int, int_or_zero, unb64};

/// One change under the watched range.
#[derive(Debug)]
pub(crate) enum Event {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

/// Events of one message, all at `revision`.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) revision: i64,
    pub(crate) events: Vec<Event>,
}

/// How a watch stream ended.
#[derive(Debug)]
pub(crate) enum End {
    /// The watcher was stopped.
    Stopped,
    /// The start revision was compacted away: read the whole range again.
    Compacted(i64),
    /// The stream failed (etcd unreachable, a bad message, an error).
    Failed(Error),
    /// etcd ended the stream.
    Closed,
}

/// What the stream's owner hears: `created` once etcd confirmed the watch,
/// `events` for each message with changes (an error ends the stream).
pub(crate) trait Sink: Send + 'static {
    fn created(&mut self);
    fn events(&mut self, batch: Batch) -> Result<(), Error>;
}

/// Watches `[key, end)` from revision `from` until the stream ends or
/// `stop` turns true (or its sender goes).
pub(crate) async fn watch(
    etcd: &Etcd,
    key: &[u8],
    end: &[u8],
    from: i64,
    sink: impl Sink,
    stop: &watch::Receiver<bool>,
) -> End {
    let ended: Arc<Mutex<Option<End>>> = Arc::default();
    let mut reader = Reader { frames: Frames::new(etcd.max_message()), sink, ended: ended.clone() };
    let mut http = wf_http::create_http_chunked_task(
        &format!("{}/v3/watch", etcd.url()),
        0,
        move |t| {
            if let Some(piece) = t.chunk() {
                reader.piece(piece);
            }
        },
        |_| {},
    );
    let body = json!({"create_request": {
        "key": b64(key),
        "range_end": b64(end),
        "start_revision": from.to_string(),
        "progress_notify": true,
    }});
    http.req_mut().set_method("POST");
    http.req_mut().set_header("Content-Type", "application/json");
    http.req_mut().append_body(body.to_string());
    http.set_watch_timeout(etcd.request_timeout());
    http.kind_mut().set_chunk_timeout(etcd.watch_idle_timeout());
    let mut stop = stop.clone();
    let stop: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    let t = Task::new(Stream { http, stop, ended: ended.clone(), stopped: false }).await;
    if let Some(end) = ended.lock().unwrap_or_else(PoisonError::into_inner).take() {
        return end;
    }
    if t.kind().stopped {
        return End::Stopped;
    }
    if t.state() != State::Success {
        return End::Failed(t.error().cloned().unwrap_or_else(|| Error::new(t.state(), t.error_code())));
    }
    match t.kind().http.resp().status_code() {
        200 => End::Closed,
        s => End::Failed(code::error(code::ETCD_ERROR, format!("etcd /v3/watch: HTTP {s}"))),
    }
}

/// The task kind: the streaming HTTP task, ended early on `stop` or once
/// the reader recorded an end.
struct Stream {
    http: HttpTask,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ended: Arc<Mutex<Option<End>>>,
    stopped: bool,
}

impl TaskKind for Stream {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        if self.stop.as_mut().poll(cx).is_ready() {
            self.stopped = true;
            run.set_error(Error::sys(libc::ECANCELED));
            return Poll::Ready(());
        }
        let polled = self.http.kind_mut().poll_run(cx, run);
        if self.ended.lock().unwrap_or_else(PoisonError::into_inner).is_some() {
            // The reader is done with this stream: drop the connection.
            return Poll::Ready(());
        }
        polled
    }
}

/// Turns pieces of the body into messages and messages into events.
struct Reader<S> {
    frames: Frames,
    sink: S,
    ended: Arc<Mutex<Option<End>>>,
}

impl<S: Sink> Reader<S> {
    fn piece(&mut self, piece: &[u8]) {
        if self.ended.lock().unwrap_or_else(PoisonError::into_inner).is_some() {
            return;
        }
        let end = match self.frames.push(piece) {
            Ok(messages) => messages.iter().find_map(|m| self.message(m).err()),
            Err(e) => Some(End::Failed(e)),
        };
        if let Some(end) = end {
            *self.ended.lock().unwrap_or_else(PoisonError::into_inner) = Some(end);
        }
    }

    /// Handles one message; `Err` ends the stream.
    fn message(&mut self, m: &[u8]) -> Result<(), End> {
        let fail = |why: &str| End::Failed(gateway::bad("/v3/watch", why));
        let v: Value = serde_json::from_slice(m).map_err(|e| fail(&format!("a message is not JSON: {e}")))?;
        if let Some(e) = v.get("error") {
            let why = e.get("message").and_then(Value::as_str).unwrap_or("error");
            return Err(End::Failed(code::error(code::ETCD_ERROR, format!("etcd /v3/watch: {why}"))));
        }
        let r = v.get("result").ok_or_else(|| fail("a message without result"))?;
        if r.get("canceled").and_then(Value::as_bool) == Some(true) {
            let compacted = int_or_zero(r.get("compact_revision")).unwrap_or(0);
            if compacted > 0 {
                return Err(End::Compacted(compacted));
            }
            let why = r.get("cancel_reason").and_then(Value::as_str).unwrap_or("");
            return Err(End::Failed(code::error(code::ETCD_ERROR, format!("etcd /v3/watch: canceled: {why}"))));
        }
        if r.get("created").and_then(Value::as_bool) == Some(true) {
            self.sink.created();
        }
        let Some(events) = r.get("events") else { return Ok(()) };
        let events = events.as_array().ok_or_else(|| fail("events is not an array"))?;
        let mut batch = Batch { revision: 0, events: Vec::with_capacity(events.len()) };
        for e in events {
            let kv = e.get("kv").ok_or_else(|| fail("an event without kv"))?;
            let key = unb64(kv.get("key")).map_err(End::Failed)?;
            let revision = int(kv.get("mod_revision")).ok_or_else(|| fail("an event without mod_revision"))?;
            batch.revision = batch.revision.max(revision);
            batch.events.push(match e.get("type").and_then(Value::as_str) {
                None | Some("PUT") => Event::Put { key, value: unb64(kv.get("value")).map_err(End::Failed)? },
                Some("DELETE") => Event::Delete { key },
                Some(other) => return Err(fail(&format!("an event of type {other:?}"))),
            });
        }
        if batch.events.is_empty() {
            return Ok(());
        }
        self.sink.events(batch).map_err(End::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Seen {
        created: usize,
        batches: Vec<Batch>,
    }

    impl Sink for Arc<Mutex<Seen>> {
        fn created(&mut self) {
            self.lock().unwrap().created += 1;
        }
        fn events(&mut self, batch: Batch) -> Result<(), Error> {
            self.lock().unwrap().batches.push(batch);
            Ok(())
        }
    }

    fn reader() -> (Reader<Arc<Mutex<Seen>>>, Arc<Mutex<Seen>>) {
        let seen = Arc::<Mutex<Seen>>::default();
        (Reader { frames: Frames::new(1 << 16), sink: seen.clone(), ended: Arc::default() }, seen)
    }

    #[test]
    fn etcd_messages_become_events() {
        let (mut r, seen) = reader();
        // As etcd 3.4's gateway sent them (keys /a and /b, values x and y).
        r.piece(br#"{"result":{"header":{"revision":"2"},"created":true}}
{"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"L2E=","create_revision":"3","mod_revision":"3","version":"1","value":"eA=="}},{"kv":{"key":"L2I=","mod_revision":"3","value":"eQ=="}}]}}
{"result":{"header":{"revision":"4"},"events":[{"type":"DELETE","kv":{"key":"L2E=","mod_revision":"4"}}]}}
{"result":{"header":{"revision":"9"}}}
"#);
        assert!(r.ended.lock().unwrap().is_none());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.created, 1);
        assert_eq!(seen.batches.len(), 2);
        assert_eq!(seen.batches[0].revision, 3);
        assert!(matches!(&seen.batches[0].events[1], Event::Put { key, value } if key == b"/b" && value == b"y"));
        assert!(matches!(&seen.batches[1].events[..], [Event::Delete { key }] if key == b"/a"));
    }

    #[test]
    fn compaction_errors_and_garbage_end_the_stream() {
        let cases: [(&[u8], &str); 5] = [
            (br#"{"result":{"header":{},"canceled":true,"compact_revision":"4"}}"#, "Compacted(4)"),
            (br#"{"result":{"canceled":true,"cancel_reason":"no"}}"#, "canceled: no"),
            (br#"{"error":{"grpc_code":14,"message":"etcdserver: no leader"}}"#, "no leader"),
            (br#"{"result":{"events":[{"type":"WHAT","kv":{"key":"","mod_revision":"1"}}]}}"#, "WHAT"),
            (b"404 page not found", "expected a JSON object"),
        ];
        for (msg, want) in cases {
            let (mut r, _) = reader();
            r.piece(msg);
            let end = r.ended.lock().unwrap().take();
            let shown = match &end {
                Some(End::Failed(e)) => e.to_string(),
                other => format!("{other:?}"),
            };
            assert!(shown.contains(want), "{}: {shown}", String::from_utf8_lossy(msg));
        }
    }
}
