//! HTTP requests and responses.

use bytes::{Bytes, BytesMut};
use bytes_utils::Str;
use http::header::HeaderValue;
use http::{Method, StatusCode, Version};

use crate::headers::Headers;

/// A message body: chunks appended without copying, merged on demand.
///
/// The usual body, one chunk, is held inline (no allocation); more go to
/// a box. A body is 32 bytes, so that a message stays small enough to
/// move without a `memcpy` call.
#[derive(Clone, Debug)]
pub(crate) struct Body(Chunks);

#[derive(Clone, Debug)]
enum Chunks {
    /// No chunk (an empty one) or one.
    One(Bytes),
    Many(Box<Many>),
}

/// Two chunks or more, and their length in all.
#[derive(Clone, Debug)]
struct Many {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Default for Body {
    fn default() -> Body {
        Body(Chunks::One(Bytes::new()))
    }
}

impl Body {
    pub(crate) fn append(&mut self, b: Bytes) {
        if b.is_empty() {
            return;
        }
        match &mut self.0 {
            Chunks::One(first) if first.is_empty() => *first = b,
            Chunks::One(first) => {
                let first = std::mem::take(first);
                let len = first.len() + b.len();
                self.0 = Chunks::Many(Box::new(Many { chunks: vec![first, b], len }));
            }
            Chunks::Many(many) => {
                many.len += b.len();
                many.chunks.push(b);
            }
        }
    }

    pub(crate) fn set(&mut self, b: Bytes) {
        self.0 = Chunks::One(b);
    }

    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Chunks::One(b) => b.len(),
            Chunks::Many(many) => many.len,
        }
    }

    pub(crate) fn chunks(&self) -> &[Bytes] {
        match &self.0 {
            Chunks::One(b) if b.is_empty() => &[],
            Chunks::One(b) => std::slice::from_ref(b),
            Chunks::Many(many) => &many.chunks,
        }
    }

    /// The whole body as one buffer (merging chunks once if needed).
    pub(crate) fn bytes(&self) -> Bytes {
        match &self.0 {
            Chunks::One(b) => b.clone(),
            Chunks::Many(many) => {
                let mut merged = BytesMut::with_capacity(many.len);
                for c in &many.chunks {
                    merged.extend_from_slice(c);
                }
                merged.freeze()
            }
        }
    }

    /// Takes the chunks as they are, leaving the body empty.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Bytes> + use<> {
        let (one, many) = match std::mem::take(self).0 {
            Chunks::One(b) => ((!b.is_empty()).then_some(b), Vec::new()),
            Chunks::Many(many) => (None, many.chunks),
        };
        one.into_iter().chain(many)
    }

    pub(crate) fn take(&mut self) -> Bytes {
        std::mem::take(self).bytes()
    }
}

/// Text (a request target) in shared bytes: a received one is a slice of
/// its head, with no copy. UTF-8, checked once when it is made: a
/// [`Str`] holds the proof, so reading it checks nothing.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(Str);

impl Text {
    /// `s`, a slice of `head` (no copy).
    pub(crate) fn slice_of(head: &Bytes, s: &str) -> Text {
        // The check passes (the bytes are those of `s`); the copy is moot.
        Text(Str::from_inner(head.slice_ref(s.as_bytes())).unwrap_or_else(|_| Str::from(s)))
    }

    pub(crate) const fn from_static(s: &'static str) -> Text {
        Text(Str::from_static(s))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Str::from(s))
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// What the client codec hands a streaming task as a reply arrives.
#[derive(Debug)]
pub(crate) enum Piece {
    /// The reply's head (status, version, headers; no body), before any
    /// of its body.
    Head(HttpResponse),
    /// A piece of the body, in order: never more than one chunk of a
    /// chunked reply.
    Data(Bytes),
}

macro_rules! common_methods {
    () => {
        /// The HTTP version: `"HTTP/1.1"` or `"HTTP/1.0"`.
        pub fn http_version(&self) -> &'static str {
            version_str(self.version)
        }

        /// The version as the `http` crate's type.
        pub fn version(&self) -> Version {
            self.version
        }

        /// Sets the version from `"HTTP/1.1"` or `"HTTP/1.0"`; false (and
        /// no change) for anything else.
        pub fn set_http_version(&mut self, v: &str) -> bool {
            match parse_version(v) {
                Some(v) => {
                    self.version = v;
                    true
                }
                None => false,
            }
        }

        /// The header fields, in order, with their names as received or
        /// set (see [`Headers`]).
        pub fn headers(&self) -> &Headers {
            &self.headers
        }

        /// The header fields, mutably.
        pub fn headers_mut(&mut self) -> &mut Headers {
            &mut self.headers
        }

        /// The first value of header `name` (any case), if it is text.
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name)?.to_str().ok()
        }

        /// Adds a header after the others (Workflow's `add_header_pair`),
        /// sent with `name` as written; false (and no change) when the name
        /// or value is not valid HTTP.
        pub fn add_header(&mut self, name: &str, value: &str) -> bool {
            match HeaderValue::from_str(value) {
                Ok(v) => self.headers.append(name, v),
                Err(_) => false,
            }
        }

        /// Sets a header (Workflow's `set_header_pair`): the first of that
        /// name (any case) takes `name` and `value` where it stands and
        /// later ones are removed, or it is added after the others; false
        /// (and no change) when the name or value is not valid HTTP.
        pub fn set_header(&mut self, name: &str, value: &str) -> bool {
            match HeaderValue::from_str(value) {
                Ok(v) => self.headers.insert(name, v),
                Err(_) => false,
            }
        }

        /// Removes every header named `name` (any case); true when there
        /// was one.
        pub fn remove_header(&mut self, name: &str) -> bool {
            self.headers.remove(name) > 0
        }

        /// The body (the parsed body of a received message, chunked
        /// transfer decoded).
        pub fn body(&self) -> Bytes {
            self.body.bytes()
        }

        /// The body's length in bytes.
        pub fn body_len(&self) -> usize {
            self.body.len()
        }

        /// Appends to the body without copying `Bytes` (a `String`, a
        /// `Vec<u8>` and `&'static` data convert without a copy too).
        pub fn append_body(&mut self, data: impl Into<Bytes>) {
            self.body.append(data.into());
        }

        /// Replaces the body.
        pub fn set_body(&mut self, data: impl Into<Bytes>) {
            self.body.set(data.into());
        }

        /// Takes the body out, leaving it empty.
        pub fn take_body(&mut self) -> Bytes {
            self.body.take()
        }

        /// Empties the body.
        pub fn clear_body(&mut self) {
            self.body.set(Bytes::new());
        }

        /// Whether the message is (or will be) sent with chunked transfer
        /// encoding.
        pub fn is_chunked(&self) -> bool {
            is_chunked(&self.headers)
        }

        /// Whether the connection stays open after this message: HTTP/1.1
        /// unless `Connection: close`, HTTP/1.0 only with
        /// `Connection: keep-alive`.
        pub fn is_keep_alive(&self) -> bool {
            keep_alive(self.version, &self.headers)
        }

        pub(crate) fn body_chunks(&self) -> &[Bytes] {
            self.body.chunks()
        }
    };
}

/// An HTTP request.
///
/// ```
/// let mut req = wf_http::HttpRequest::default();
/// assert_eq!((req.method(), req.request_uri(), req.http_version()), ("GET", "/", "HTTP/1.1"));
/// req.set_method("POST");
/// req.add_header("Accept", "*/*");
/// req.append_body("hello");
/// assert_eq!(req.header("accept"), Some("*/*"));
/// assert_eq!(&req.body()[..], b"hello");
/// ```
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub(crate) method: Method,
    pub(crate) uri: Text,
    pub(crate) version: Version,
    pub(crate) headers: Headers,
    pub(crate) body: Body,
    /// Where a streaming task wants the reply's head and then its body,
    /// piece by piece.
    pub(crate) chunk_sink: Option<Box<std::sync::mpsc::Sender<Piece>>>,
    /// Whether the client sets `Host` from the URL (the task set none);
    /// decided on the first attempt.
    pub(crate) auto_host: Option<bool>,
}

impl Default for HttpRequest {
    fn default() -> HttpRequest {
        HttpRequest {
            method: Method::GET,
            uri: Text::from_static("/"),
            version: Version::HTTP_11,
            headers: Headers::new(),
            body: Body::default(),
            chunk_sink: None,
            auto_host: None,
        }
    }
}

impl HttpRequest {
    /// The method, e.g. `"GET"`.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// Sets the method; false (and no change) when it is not a valid token.
    pub fn set_method(&mut self, method: &str) -> bool {
        match Method::from_bytes(method.as_bytes()) {
            Ok(m) => {
                self.method = m;
                true
            }
            Err(_) => false,
        }
    }

    /// The request target, e.g. `"/search?q=wf"`.
    pub fn request_uri(&self) -> &str {
        self.uri.as_str()
    }

    /// Sets the request target.
    pub fn set_request_uri(&mut self, uri: impl Into<String>) {
        self.uri = Text::from(uri.into());
    }

    pub(crate) fn method_ref(&self) -> &Method {
        &self.method
    }

    common_methods!();
}

/// An HTTP response.
///
/// A server fills it in `process` (or any task of the request's series);
/// what is left unset is filled in when it is sent: status 200 and its
/// reason phrase, the request's version, `Content-Length`, `Connection`
/// and `Date`.
///
/// ```
/// let mut resp = wf_http::HttpResponse::default();
/// resp.set_status_code(404);
/// assert_eq!(resp.reason_phrase(), "Not Found");
/// ```
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub(crate) status: StatusCode,
    pub(crate) reason: Option<Box<str>>,
    pub(crate) version: Version,
    pub(crate) headers: Headers,
    pub(crate) body: Body,
    /// Its head already went out through a [`crate::HttpStream`]: only the
    /// rest of the body and the last chunk are left to send.
    pub(crate) streamed: bool,
    /// A reply that carries no body whatever its headers say (to HEAD, or
    /// 1xx/204/304): set when it is sent.
    pub(crate) bodiless: bool,
    /// Fields a server fills in when it sends the response.
    pub(crate) auto: Auto,
}

/// The automatic fields of a server's response, written after the
/// headers set by hand.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Auto {
    pub(crate) content_length: Option<usize>,
    /// `Some(true)`: `Connection: Keep-Alive`; `Some(false)`: `close`.
    pub(crate) connection: Option<bool>,
    pub(crate) date: bool,
    /// What the connection does after this reply, decided with the above.
    pub(crate) after: Option<wf_core::net::KeepAlive>,
}

impl Default for HttpResponse {
    fn default() -> HttpResponse {
        HttpResponse {
            status: StatusCode::OK,
            reason: None,
            version: Version::HTTP_11,
            headers: Headers::new(),
            body: Body::default(),
            streamed: false,
            bodiless: false,
            auto: Auto::default(),
        }
    }
}

impl HttpResponse {
    /// The status code, e.g. 200.
    pub fn status_code(&self) -> u16 {
        self.status.as_u16()
    }

    /// Sets the status code; false (and no change) outside 100..=999.
    pub fn set_status_code(&mut self, code: u16) -> bool {
        match StatusCode::from_u16(code) {
            Ok(s) => {
                self.status = s;
                self.reason = None;
                true
            }
            Err(_) => false,
        }
    }

    /// The reason phrase: the one received or set, else the standard one
    /// for the status.
    pub fn reason_phrase(&self) -> &str {
        match &self.reason {
            Some(r) => r,
            None => self.status.canonical_reason().unwrap_or(""),
        }
    }

    /// Sets the reason phrase.
    pub fn set_reason_phrase(&mut self, reason: impl Into<String>) {
        self.reason = Some(reason.into().into_boxed_str());
    }

    common_methods!();
}

pub(crate) fn version_str(v: Version) -> &'static str {
    if v == Version::HTTP_10 { "HTTP/1.0" } else { "HTTP/1.1" }
}

fn parse_version(v: &str) -> Option<Version> {
    match v {
        "HTTP/1.1" => Some(Version::HTTP_11),
        "HTTP/1.0" => Some(Version::HTTP_10),
        _ => None,
    }
}

/// Whether a header holds `token` in its comma-separated list (any case).
pub(crate) fn has_token(headers: &Headers, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether the last transfer coding is `chunked` (empty list elements, as
/// in `chunked,`, do not count: RFC 9110 §5.6.1).
pub(crate) fn is_chunked(headers: &Headers) -> bool {
    headers
        .get_all("Transfer-Encoding")
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .rfind(|t| !t.is_empty())
        .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
}

pub(crate) fn keep_alive(version: Version, headers: &Headers) -> bool {
    let mut values = headers.get_all("Connection").peekable();
    if values.peek().is_none() {
        return version != Version::HTTP_10;
    }
    let (mut close, mut keep) = (false, false);
    for v in values {
        // The usual values, whole, without a pass to check the text.
        let b = v.as_bytes();
        if b.eq_ignore_ascii_case(b"keep-alive") {
            keep = true;
        } else if b.eq_ignore_ascii_case(b"close") {
            close = true;
        } else if let Ok(v) = v.to_str() {
            for t in v.split(',') {
                let t = t.trim();
                close |= t.eq_ignore_ascii_case("close");
                keep |= t.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    !close && (version != Version::HTTP_10 || keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A received target is its head's bytes, checked once: reading it
    /// gives those very bytes.
    #[test]
    fn a_received_target_is_a_slice_of_its_head() {
        let head = Bytes::from_static(b"GET /a?b=1 HTTP/1.1\r\n\r\n");
        let target = std::str::from_utf8(&head[4..10]).unwrap();
        let text = Text::slice_of(&head, target);
        assert_eq!(text.as_str(), "/a?b=1");
        assert_eq!(text.as_str().as_ptr(), head[4..].as_ptr(), "no copy");
        assert_eq!(Text::from(String::from("/x")).as_str(), "/x");
        assert_eq!(Text::from_static("/").as_str(), "/");
    }
}
