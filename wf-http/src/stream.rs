//! Responses written as they are produced.

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, HeaderValue, TRANSFER_ENCODING};
use wf_core::net::ServerPusher;

use crate::codec::{encode_head, write_chunk};
use crate::date::date_header;
use crate::protocol::Http;
use crate::server::HttpServerTask;

/// Writes an HTTP response piece by piece (server-sent events, a large
/// file, tokens from a model), each piece as a chunk as soon as it is
/// ready; the response ends when the request's series ends.
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
        resp.headers.remove(CONTENT_LENGTH);
        resp.headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        if !resp.headers.contains_key(CONNECTION) {
            resp.headers.insert(CONNECTION, HeaderValue::from_static(if keep_alive { "Keep-Alive" } else { "close" }));
        }
        if !resp.headers.contains_key(DATE) {
            resp.headers.insert(DATE, date_header());
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
}
