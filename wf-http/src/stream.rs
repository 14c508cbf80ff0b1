//! Responses written as they are produced.

use bytes::{Bytes, BytesMut};
use http::header::HeaderValue;
use wf_core::net::{DrainTask, ServerPusher};

use crate::codec::{encode_head, write_chunk};
use crate::date::date_header;
use crate::protocol::Http;
use crate::server::HttpServerTask;

/// Writes an HTTP response piece by piece (server-sent events, a large
/// file, tokens from a model), each piece as a chunk as soon as it is
/// ready; the response ends when the request's series ends.
///
/// Sent chunks wait in the server until the connection has written them
/// ([`queued`](Self::queued)); a producer of a large body waits for a
/// [`drain_task`](Self::drain_task) before the next piece, so a client that
/// reads slowly, or not at all, holds at most that mark and a piece in the
/// server (see `ServerPusher`'s backpressure).
///
/// ```no_run
/// use std::time::Duration;
/// use wf_http::{HttpServer, HttpStream};
///
/// let server = HttpServer::new(|task| {
///     task.resp_mut().set_header("Content-Type", "text/event-stream");
///     let stream = HttpStream::begin(task);
///     wf_core::series_of(task).push_back(wf_core::create_go_task("sse", move || {
///         for i in 0..3 {
///             stream.send(format!("data: {i}\n\n"));
///             std::thread::sleep(Duration::from_millis(100));
///         }
///     }));
/// });
/// ```
#[derive(Clone, Debug)]
pub struct HttpStream {
    pusher: ServerPusher<Http>,
}

impl HttpStream {
    /// Sends the response's head now (status and headers as set so far,
    /// plus `Transfer-Encoding: chunked`, `Connection` and `Date`) and any
    /// body already appended, and returns a handle for the rest. Later
    /// header changes are not sent; body appended to the response after
    /// this goes out as the last piece.
    pub fn begin(task: &mut HttpServerTask) -> HttpStream {
        let keep_alive = task.req().is_keep_alive();
        let pusher = task.pusher();
        let resp = task.resp_mut();
        resp.headers.remove("Content-Length");
        resp.headers.set_static("Transfer-Encoding", HeaderValue::from_static("chunked"));
        if !resp.headers.contains_key("Connection") {
            let connection = HeaderValue::from_static(if keep_alive { "Keep-Alive" } else { "close" });
            resp.headers.set_static("Connection", connection);
        }
        if !resp.headers.contains_key("Date") {
            resp.headers.set_static("Date", date_header());
        }
        let mut head = BytesMut::with_capacity(256);
        encode_head(resp, &mut head);
        let body: Vec<Bytes> = resp.body.drain().collect();
        write_chunk(&mut head, &body);
        resp.streamed = true;
        pusher.push(head.freeze());
        HttpStream { pusher }
    }

    /// Sends `data` as one chunk; false once the response has ended or the
    /// connection closed. Empty data sends nothing.
    pub fn send(&self, data: impl Into<Bytes>) -> bool {
        let data = data.into();
        if data.is_empty() {
            return true;
        }
        let mut out = BytesMut::with_capacity(data.len() + 12);
        write_chunk(&mut out, &[data]);
        self.pusher.push(out.freeze())
    }

    /// Bytes sent (head and chunk framing included) and not yet written to
    /// the connection.
    pub fn queued(&self) -> usize {
        self.pusher.queued()
    }

    /// A task that finishes once at most `limit` sent bytes are left to
    /// write, or fails (`State::SysError`, `ECONNRESET`) once the
    /// connection closed: push it into the request's series before making
    /// the next piece, or await it.
    ///
    /// ```no_run
    /// use wf_core::State;
    /// use wf_http::HttpStream;
    ///
    /// /// Sends `left` more 64 KiB pieces, each once at most 256 KiB wait.
    /// fn produce(stream: HttpStream, left: usize) -> wf_core::net::DrainTask<wf_http::Http> {
    ///     stream.drain_task(256 << 10).with_callback(move |t| {
    ///         if t.state() == State::Success && left > 0 && stream.send(vec![b'x'; 64 << 10]) {
    ///             wf_core::series_of(t).push_back(produce(stream, left - 1));
    ///         }
    ///     })
    /// }
    /// ```
    pub fn drain_task(&self, limit: usize) -> DrainTask<Http> {
        self.pusher.drain_task(limit)
    }
}
