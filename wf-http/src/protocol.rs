//! HTTP as a wf protocol: the messages, and what the server does around
//! its codec (the client half is in `client`).

use std::time::Duration;

use bytes::BytesMut;
use http::header::HeaderValue;
use http::{Method, StatusCode, Version};
use wf_core::net::{KeepAlive, Protocol, ServerParams, ServerProtocol, Uri};
use wf_core::{Error, State};

use crate::codec::{Limits, ServerCodec};
use crate::date::date_header;
use crate::headers::name_is;
use crate::message::{HttpRequest, HttpResponse, keep_alive};

/// The `Keep-Alive` header's name.
pub(crate) const KEEP_ALIVE: &str = "Keep-Alive";

/// The longest keep-alive honoured, as in Workflow (300 s).
pub(crate) const MAX_KEEP_ALIVE: Duration = Duration::from_secs(300);

/// The HTTP/1.1 protocol (schemes `http` and `https`).
///
/// Client connections are kept 60 s by default, or as long as a server's
/// `Keep-Alive: timeout=N` says, up to 300 s; a response without framing
/// (delimited by the end of the connection) or with `Connection: close`
/// ends its connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Http {
    /// Set for tasks going through a proxy: the proxy's URL (or why it did
    /// not parse).
    pub(crate) proxy: Option<Result<Uri, Error>>,
}

/// `timeout=N` from a `Keep-Alive` header.
pub(crate) fn keep_alive_timeout(value: Option<&HeaderValue>) -> Option<Duration> {
    let v = value?.to_str().ok()?;
    v.split(',').find_map(|p| {
        let (k, n) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("timeout") {
            n.trim().parse::<u64>().ok().map(Duration::from_secs)
        } else {
            None
        }
    })
}

/// `max=N` from a `Keep-Alive` header.
fn keep_alive_max(value: Option<&HeaderValue>) -> Option<u64> {
    let v = value?.to_str().ok()?;
    v.split(',').find_map(|p| {
        let (k, n) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("max") { n.trim().parse().ok() } else { None }
    })
}

impl Protocol for Http {
    type Request = HttpRequest;
    type Response = HttpResponse;

    fn schemes(&self) -> &'static [&'static str] {
        &["http", "https"]
    }

    fn tls_schemes(&self) -> &'static [&'static str] {
        &["https"]
    }
}

impl ServerProtocol for Http {
    type ServerCodec = ServerCodec;

    fn server_codec(&self, params: &ServerParams) -> ServerCodec {
        ServerCodec::new(Limits { max_body: params.request_size_limit, ..Limits::default() })
    }

    /// Past the header block: wf-core's header timeout gives way to its
    /// minimum receive rate for the body.
    fn head_complete(&self, codec: &ServerCodec) -> bool {
        codec.head_complete()
    }

    fn prepare_reply(&self, req: &HttpRequest, resp: &mut HttpResponse, seq: u64) {
        if resp.streamed {
            return;
        }
        if req.version == Version::HTTP_10 {
            resp.version = Version::HTTP_10;
        }
        let head = req.method == Method::HEAD;
        let no_body = (100..200).contains(&resp.status_code()) || matches!(resp.status_code(), 204 | 304);
        // One pass over the headers set by hand, rather than a lookup (a
        // hash) per field.
        let (mut has_length, mut chunked, mut connection, mut date) = (false, false, false, false);
        for (name, _) in resp.headers.raw() {
            let is = |n: &str| name_is(name, n.as_bytes());
            if is("Content-Length") {
                has_length = true;
            } else if is("Transfer-Encoding") {
                chunked = true;
            } else if is("Connection") {
                connection = true;
            } else if is("Date") {
                date = true;
            }
        }
        let chunked = chunked && resp.is_chunked();
        // The automatic fields are written by the encoder, after the
        // headers set by hand: no map inserts on the hot path.
        if !no_body && !chunked && !has_length {
            resp.auto.content_length = Some(resp.body_len());
        }
        if head || no_body {
            resp.clear_body();
            resp.bodiless = true;
        }
        let ka = req.headers.get(KEEP_ALIVE);
        // The last request `Keep-Alive: max=N` allows is answered with close.
        let last = ka.is_some() && keep_alive_max(ka).is_some_and(|max| seq + 1 >= max);
        let req_keep = keep_alive(req.version, &req.headers) && !last;
        let keep = if connection {
            req_keep && resp.is_keep_alive()
        } else {
            resp.auto.connection = Some(req_keep);
            req_keep
        };
        resp.auto.after = Some(if !keep {
            KeepAlive::Close
        } else {
            match keep_alive_timeout(ka) {
                Some(t) => KeepAlive::KeepFor(t.min(MAX_KEEP_ALIVE)),
                None => KeepAlive::Keep,
            }
        });
        resp.auto.date = !date;
    }

    fn keep_alive_after_reply(&self, req: &HttpRequest, resp: &HttpResponse, seq: u64) -> KeepAlive {
        if let Some(decided) = resp.auto.after {
            return decided;
        }
        if !resp.is_keep_alive() || !req.is_keep_alive() {
            return KeepAlive::Close;
        }
        let ka = req.headers.get(KEEP_ALIVE);
        if keep_alive_max(ka).is_some_and(|max| seq + 1 >= max) {
            return KeepAlive::Close;
        }
        match keep_alive_timeout(ka) {
            Some(t) => KeepAlive::KeepFor(t.min(MAX_KEEP_ALIVE)),
            None => KeepAlive::Keep,
        }
    }

    /// A stopping server's last reply on a keep-alive connection says
    /// `Connection: close`, so that the client opens a new connection (to
    /// the server that took over, in a graceful restart) rather than
    /// send its next request on one about to close. A streamed reply,
    /// whose head is out already, is left alone.
    fn last_reply(&self, resp: &mut HttpResponse) {
        if resp.streamed {
            return;
        }
        if resp.headers.contains_key("Connection") {
            resp.set_header("Connection", "close");
        } else {
            resp.auto.connection = Some(false);
        }
        resp.auto.after = Some(KeepAlive::Close);
    }

    fn server_interim(&self, codec: &mut ServerCodec, out: &mut BytesMut) {
        if codec.take_continue() {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
    }

    /// A request the codec refused gets its status (400, 413, 417, 431…);
    /// one that wf-core ended gets 408 when it came too slowly
    /// (`ETIMEDOUT`: the header timeout, the minimum receive rate) and 413
    /// when it outgrew wf-core's size backstop (`EMSGSIZE`).
    fn error_reply(&self, codec: &mut ServerCodec, error: &Error) -> Option<HttpResponse> {
        let status = match codec.last_error() {
            Some(e) => e.status(),
            None if error.state() == State::SysError && error.code() == libc::ETIMEDOUT => 408,
            None if error.state() == State::SysError && error.code() == libc::EMSGSIZE => 413,
            None => return None,
        };
        let mut resp = HttpResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            ..HttpResponse::default()
        };
        resp.headers.set_static("Connection", HeaderValue::from_static("close"));
        resp.headers.set_static("Content-Length", HeaderValue::from_static("0"));
        resp.headers.set_static("Date", date_header());
        Some(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_header() {
        let v = HeaderValue::from_static("timeout=5, max=10");
        assert_eq!(keep_alive_timeout(Some(&v)), Some(Duration::from_secs(5)));
        assert_eq!(keep_alive_max(Some(&v)), Some(10));
        assert_eq!(keep_alive_timeout(None), None);
    }

    #[test]
    fn reply_fields_filled() {
        let mut req = HttpRequest::default();
        req.set_header("Keep-Alive", "timeout=3, max=2");
        let mut resp = HttpResponse::default();
        resp.append_body("hi");
        let http = Http::default();
        http.prepare_reply(&req, &mut resp, 0);
        assert_eq!(resp.auto.content_length, Some(2));
        assert_eq!(resp.auto.connection, Some(true));
        assert!(resp.auto.date);
        assert_eq!(http.keep_alive_after_reply(&req, &resp, 0), KeepAlive::KeepFor(Duration::from_secs(3)));
        let mut second = HttpResponse::default();
        http.prepare_reply(&req, &mut second, 1);
        assert_eq!(second.auto.connection, Some(false), "the last request max allows is told close");
        assert_eq!(http.keep_alive_after_reply(&req, &second, 1), KeepAlive::Close);
        let mut old = HttpRequest::default();
        old.set_http_version("HTTP/1.0");
        let mut resp = HttpResponse::default();
        http.prepare_reply(&old, &mut resp, 0);
        assert_eq!((resp.http_version(), resp.auto.connection), ("HTTP/1.0", Some(false)));
    }
}
