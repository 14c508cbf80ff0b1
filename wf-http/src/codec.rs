//! The HTTP/1.1 codec, both sides: heads parsed with `httparse`, bodies
//! framed by `Content-Length`, chunked transfer coding (with trailers) or,
//! for responses, the end of the connection.
//!
//! Defences against request smuggling: a request with both
//! `Content-Length` and `Transfer-Encoding`, with differing `Content-Length`
//! values, with a transfer coding other than a final `chunked`, with a bad
//! chunk size, or with obsolete line folding is rejected (400). Heads
//! bigger than the limit or with too many headers get 431, bodies bigger
//! than the limit 413 (417 when the client asked to `Expect:
//! 100-continue`).

use std::collections::VecDeque;
use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, EXPECT, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode, Version};
use tokio_util::codec::{Decoder, Encoder};
use wf_core::Error;

use crate::message::{Body, HttpRequest, HttpResponse, has_token, is_chunked, version_str};

/// Limits a codec enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Headers in one message (100).
    pub max_headers: usize,
    /// Bytes of the head: request or status line plus headers (64 KiB).
    pub max_head_bytes: usize,
    /// Bytes of the body (none).
    pub max_body: Option<usize>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_headers: 100, max_head_bytes: 64 * 1024, max_body: None }
    }
}

/// Why a message was rejected; the HTTP status a server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// Malformed (400).
    BadMessage,
    /// Body over the limit (413).
    BodyTooLarge,
    /// Head over the limit or too many headers (431).
    HeadTooLarge,
    /// Over the limit after `Expect: 100-continue` (417).
    ExpectationFailed,
    /// The connection failed.
    Io(i32),
}

impl CodecError {
    /// The status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            CodecError::BodyTooLarge => 413,
            CodecError::HeadTooLarge => 431,
            CodecError::ExpectationFailed => 417,
            CodecError::BadMessage | CodecError::Io(_) => 400,
        }
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Io(e) => write!(f, "{}", io::Error::from_raw_os_error(*e)),
            other => write!(f, "HTTP {}", other.status()),
        }
    }
}

impl std::error::Error for CodecError {}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> CodecError {
        CodecError::Io(Error::from(e).code())
    }
}

impl From<CodecError> for Error {
    /// Rejected messages are `SYS_ERROR`: `EBADMSG` when malformed,
    /// `EMSGSIZE` when over a limit.
    fn from(e: CodecError) -> Error {
        match e {
            CodecError::BadMessage => Error::sys(libc::EBADMSG),
            CodecError::BodyTooLarge | CodecError::HeadTooLarge | CodecError::ExpectationFailed => {
                Error::sys(libc::EMSGSIZE)
            }
            CodecError::Io(errno) => Error::sys(errno),
        }
    }
}

type Result<T> = std::result::Result<T, CodecError>;

/// How the body of the message being read is framed.
#[derive(Debug)]
enum Framing {
    Length(u64),
    Chunked(ChunkState),
    /// Until the connection closes (responses only).
    Eof,
}

#[derive(Debug, Clone, Copy)]
enum ChunkState {
    Size,
    Data(u64),
    DataEnd,
    /// Trailer fields read so far, and their bytes.
    Trailers(usize, usize),
}

/// Fields a trailer may not set: framing, routing, authentication and
/// connection control belong to the head only (RFC 9110 §6.5.1). Trailers
/// naming them are dropped.
fn forbidden_in_trailer(name: &HeaderName) -> bool {
    use http::header::*;
    [
        CONTENT_LENGTH,
        TRANSFER_ENCODING,
        HOST,
        CONNECTION,
        TE,
        TRAILER,
        AUTHORIZATION,
        PROXY_AUTHORIZATION,
        PROXY_AUTHENTICATE,
        WWW_AUTHENTICATE,
        CONTENT_TYPE,
        CONTENT_ENCODING,
        CONTENT_RANGE,
        SET_COOKIE,
        COOKIE,
        EXPECT,
        UPGRADE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Reads body bytes per `framing` into `body`; true when the body is
/// complete.
fn read_body(
    framing: &mut Framing,
    src: &mut BytesMut,
    body: &mut Body,
    headers: &mut HeaderMap,
    limits: &Limits,
) -> Result<bool> {
    loop {
        match framing {
            Framing::Length(0) => return Ok(true),
            Framing::Length(left) => {
                if src.is_empty() {
                    return Ok(false);
                }
                let n = (*left).min(src.len() as u64) as usize;
                body.append(src.split_to(n).freeze());
                *left -= n as u64;
            }
            Framing::Eof => {
                if !src.is_empty() {
                    let n = src.len();
                    check_body(body.len() + n, limits)?;
                    body.append(src.split_to(n).freeze());
                }
                return Ok(false);
            }
            Framing::Chunked(state) => match *state {
                ChunkState::Size => {
                    let Some(end) = find_crlf(src) else {
                        if src.len() > 1024 {
                            return Err(CodecError::BadMessage);
                        }
                        return Ok(false);
                    };
                    let line = &src[..end];
                    let hex = line.split(|&b| b == b';').next().unwrap_or(b"");
                    let hex = trim_ascii(hex);
                    if hex.is_empty() || hex.len() > 16 || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(CodecError::BadMessage);
                    }
                    let size = u64::from_str_radix(std::str::from_utf8(hex).expect("hex digits"), 16)
                        .map_err(|_| CodecError::BadMessage)?;
                    src.advance(end + 2);
                    if size == 0 {
                        *state = ChunkState::Trailers(0, 0);
                    } else {
                        check_body(body.len().saturating_add(size as usize), limits)?;
                        *state = ChunkState::Data(size);
                    }
                }
                ChunkState::Data(left) => {
                    if src.is_empty() {
                        return Ok(false);
                    }
                    let n = left.min(src.len() as u64) as usize;
                    body.append(src.split_to(n).freeze());
                    *state = if left == n as u64 { ChunkState::DataEnd } else { ChunkState::Data(left - n as u64) };
                }
                ChunkState::DataEnd => {
                    if src.len() < 2 {
                        return Ok(false);
                    }
                    if &src[..2] != b"\r\n" {
                        return Err(CodecError::BadMessage);
                    }
                    src.advance(2);
                    *state = ChunkState::Size;
                }
                ChunkState::Trailers(count, bytes) => {
                    let Some(end) = find_crlf(src) else {
                        if bytes + src.len() > limits.max_head_bytes {
                            return Err(CodecError::HeadTooLarge);
                        }
                        return Ok(false);
                    };
                    if end == 0 {
                        src.advance(2);
                        return Ok(true);
                    }
                    if count + 1 > limits.max_headers || bytes + end + 2 > limits.max_head_bytes {
                        return Err(CodecError::HeadTooLarge);
                    }
                    *state = ChunkState::Trailers(count + 1, bytes + end + 2);
                    let line = src.split_to(end).freeze();
                    src.advance(2);
                    if line[0] == b' ' || line[0] == b'\t' {
                        return Err(CodecError::BadMessage); // obs-fold
                    }
                    let colon = line.iter().position(|&b| b == b':').ok_or(CodecError::BadMessage)?;
                    let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| CodecError::BadMessage)?;
                    let value = trim_ascii(&line[colon + 1..]);
                    let value = HeaderValue::from_bytes(value).map_err(|_| CodecError::BadMessage)?;
                    if !forbidden_in_trailer(&name) {
                        headers.append(name, value);
                    }
                }
            },
        }
    }
}

/// The length of a complete head from httparse's answer, or `None` while
/// it is incomplete; enforces the head limits either way.
fn head_len(
    parsed: std::result::Result<httparse::Status<usize>, httparse::Error>,
    buffered: usize,
    limits: &Limits,
) -> Result<Option<usize>> {
    match parsed {
        Ok(httparse::Status::Complete(n)) if n > limits.max_head_bytes => Err(CodecError::HeadTooLarge),
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        Ok(httparse::Status::Partial) if buffered > limits.max_head_bytes => Err(CodecError::HeadTooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(CodecError::HeadTooLarge),
        Err(_) => Err(CodecError::BadMessage),
    }
}

fn check_body(len: usize, limits: &Limits) -> Result<()> {
    match limits.max_body {
        Some(max) if len > max => Err(CodecError::BodyTooLarge),
        _ => Ok(()),
    }
}

fn trim_ascii(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Where a parsed header's name and value lie in the head.
struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

fn spans(parsed: &[httparse::Header<'_>], base: &[u8]) -> Vec<Span> {
    let at = |s: &[u8]| (s.as_ptr() as usize - base.as_ptr() as usize, s.len());
    parsed.iter().map(|h| Span { name: at(h.name.as_bytes()), value: at(h.value) }).collect()
}

/// Builds a `HeaderMap` whose values share `head`'s memory.
fn collect_headers(head: &Bytes, spans: &[Span]) -> Result<HeaderMap> {
    let mut map = HeaderMap::with_capacity(spans.len());
    for s in spans {
        let name = HeaderName::from_bytes(&head[s.name.0..s.name.0 + s.name.1]).map_err(|_| CodecError::BadMessage)?;
        let value = HeaderValue::from_maybe_shared(head.slice(s.value.0..s.value.0 + s.value.1))
            .map_err(|_| CodecError::BadMessage)?;
        map.append(name, value);
    }
    Ok(map)
}

/// Header slots for httparse: on the stack up to this many.
const STACK_HEADERS: usize = 128;

/// The single `Content-Length` of a message (several equal ones count as
/// one), or a rejection.
fn single_content_length(headers: &HeaderMap) -> Result<Option<u64>> {
    let mut found: Option<u64> = None;
    for v in headers.get_all(CONTENT_LENGTH) {
        for part in v.as_bytes().split(|&b| b == b',') {
            let part = trim_ascii(part);
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return Err(CodecError::BadMessage);
            }
            let n: u64 = std::str::from_utf8(part).expect("digits").parse().map_err(|_| CodecError::BadMessage)?;
            if found.is_some_and(|f| f != n) {
                return Err(CodecError::BadMessage);
            }
            found = Some(n);
        }
    }
    Ok(found)
}

fn version_of(minor: Option<u8>) -> Version {
    if minor == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 }
}

/// The server side: decodes requests, encodes responses.
#[derive(Debug, Default)]
pub struct ServerCodec {
    limits: Limits,
    reading: Option<(HttpRequest, Framing)>,
    /// `100 Continue` owed to the client for the request being read.
    continue_owed: bool,
    last_error: Option<CodecError>,
}

impl ServerCodec {
    /// A codec enforcing `limits`.
    pub fn new(limits: Limits) -> ServerCodec {
        ServerCodec { limits, ..ServerCodec::default() }
    }

    /// The error that made the last decode fail.
    pub fn last_error(&self) -> Option<CodecError> {
        self.last_error
    }

    /// Takes the `100 Continue` owed for the request being read, if any.
    pub(crate) fn take_continue(&mut self) -> bool {
        std::mem::take(&mut self.continue_owed)
    }

    fn parse_head(&mut self, src: &mut BytesMut) -> Result<Option<(HttpRequest, Framing)>> {
        if src.is_empty() {
            return Ok(None);
        }
        // Header slots left uninitialized: filling 128 of them for every
        // request cost more than the parse.
        let mut stack = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
        let mut heap = Vec::new();
        let storage = if self.limits.max_headers <= STACK_HEADERS {
            &mut stack[..self.limits.max_headers]
        } else {
            heap.resize_with(self.limits.max_headers, std::mem::MaybeUninit::uninit);
            &mut heap[..]
        };
        let mut req = httparse::Request::new(&mut []);
        let Some(n) = head_len(req.parse_with_uninit_headers(src, storage), src.len(), &self.limits)? else {
            return Ok(None);
        };
        let method = Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(|_| CodecError::BadMessage)?;
        let uri = req.path.unwrap_or("/").to_string();
        let version = version_of(req.version);
        let spans = spans(req.headers, src);
        let head = src.split_to(n).freeze();
        let headers = collect_headers(&head, &spans)?;
        let te = headers.contains_key(TRANSFER_ENCODING);
        let cl = single_content_length(&headers)?;
        let framing = match (te, cl) {
            (true, Some(_)) => return Err(CodecError::BadMessage),
            (true, None) => {
                if !is_chunked(&headers) {
                    return Err(CodecError::BadMessage);
                }
                Framing::Chunked(ChunkState::Size)
            }
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::Length(0),
        };
        let expects_continue =
            version == Version::HTTP_11 && headers.contains_key(EXPECT) && has_token(&headers, EXPECT, "100-continue");
        if let Framing::Length(n) = framing {
            if self.limits.max_body.is_some_and(|max| n > max as u64) {
                return Err(if expects_continue { CodecError::ExpectationFailed } else { CodecError::BodyTooLarge });
            }
        }
        let has_body = !matches!(framing, Framing::Length(0));
        self.continue_owed = expects_continue && has_body && src.is_empty();
        Ok(Some((
            HttpRequest { method, uri, version, headers, body: Body::default(), chunk_sink: None, auto_host: None },
            framing,
        )))
    }
}

impl Decoder for ServerCodec {
    type Item = HttpRequest;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<HttpRequest>> {
        let r = self.decode_inner(src);
        if let Err(e) = &r {
            self.last_error = Some(*e);
        }
        r
    }
}

impl ServerCodec {
    fn decode_inner(&mut self, src: &mut BytesMut) -> Result<Option<HttpRequest>> {
        if self.reading.is_none() {
            match self.parse_head(src)? {
                Some(r) => self.reading = Some(r),
                None => return Ok(None),
            }
        }
        let (req, framing) = self.reading.as_mut().expect("a request being read");
        let done = read_body(framing, src, &mut req.body, &mut req.headers, &self.limits)?;
        if !done {
            return Ok(None);
        }
        self.continue_owed = false;
        Ok(self.reading.take().map(|(r, _)| r))
    }
}

impl Encoder<&HttpResponse> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, resp: &HttpResponse, dst: &mut BytesMut) -> Result<()> {
        if resp.streamed {
            // The head and earlier chunks went out already.
            write_chunk(dst, resp.body_chunks());
            dst.put_slice(b"0\r\n\r\n");
            return Ok(());
        }
        encode_head(resp, dst);
        if !resp.bodiless {
            write_body(dst, &resp.headers, resp.body_chunks());
        }
        Ok(())
    }
}

/// The status line and headers of `resp`, its automatic fields last.
pub(crate) fn encode_head(resp: &HttpResponse, dst: &mut BytesMut) {
    dst.reserve(160 + resp.body_len());
    dst.put_slice(version_str(resp.version).as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(&itoa3(resp.status));
    dst.put_u8(b' ');
    dst.put_slice(resp.reason_phrase().as_bytes());
    dst.put_slice(b"\r\n");
    for (name, value) in &resp.headers {
        dst.put_slice(name.as_str().as_bytes());
        dst.put_slice(b": ");
        dst.put_slice(value.as_bytes());
        dst.put_slice(b"\r\n");
    }
    let auto = &resp.auto;
    if let Some(n) = auto.content_length {
        dst.put_slice(b"content-length: ");
        put_decimal(dst, n);
        dst.put_slice(b"\r\n");
    }
    match auto.connection {
        Some(true) => dst.put_slice(b"connection: Keep-Alive\r\n"),
        Some(false) => dst.put_slice(b"connection: close\r\n"),
        None => {}
    }
    if auto.date {
        dst.put_slice(b"date: ");
        dst.put_slice(crate::date::date_header().as_bytes());
        dst.put_slice(b"\r\n");
    }
    dst.put_slice(b"\r\n");
}

fn put_decimal(dst: &mut BytesMut, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.put_slice(&digits[i..]);
}

/// One chunk of chunked transfer coding holding `chunks` (nothing when
/// they are empty).
pub(crate) fn write_chunk(dst: &mut BytesMut, chunks: &[Bytes]) {
    let len: usize = chunks.iter().map(Bytes::len).sum();
    if len > 0 {
        dst.put_slice(format!("{len:x}\r\n").as_bytes());
        for c in chunks {
            dst.put_slice(c);
        }
        dst.put_slice(b"\r\n");
    }
}

fn itoa3(s: StatusCode) -> [u8; 3] {
    let n = s.as_u16();
    [b'0' + (n / 100 % 10) as u8, b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]
}

fn write_headers(dst: &mut BytesMut, headers: &HeaderMap) {
    for (name, value) in headers {
        dst.put_slice(name.as_str().as_bytes());
        dst.put_slice(b": ");
        dst.put_slice(value.as_bytes());
        dst.put_slice(b"\r\n");
    }
    dst.put_slice(b"\r\n");
}

fn write_body(dst: &mut BytesMut, headers: &HeaderMap, chunks: &[Bytes]) {
    if is_chunked(headers) {
        write_chunk(dst, chunks);
        dst.put_slice(b"0\r\n\r\n");
    } else {
        for c in chunks {
            dst.put_slice(c);
        }
    }
}

/// What the client side must remember about a request to read its reply.
#[derive(Debug)]
struct Sent {
    head: bool,
    connect: bool,
    sink: Option<std::sync::mpsc::Sender<Bytes>>,
}

/// The client side: encodes requests, decodes responses.
#[derive(Debug, Default)]
pub struct ClientCodec {
    limits: Limits,
    sent: VecDeque<Sent>,
    reading: Option<(HttpResponse, Framing)>,
    /// Where the body of the response being read goes, if streamed.
    sink: Option<std::sync::mpsc::Sender<Bytes>>,
}

impl ClientCodec {
    /// A codec enforcing `limits` on responses.
    pub fn new(limits: Limits) -> ClientCodec {
        ClientCodec { limits, ..ClientCodec::default() }
    }

    fn parse_head(&mut self, src: &mut BytesMut) -> Result<Option<(HttpResponse, Framing)>> {
        loop {
            let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
            let mut heap = Vec::new();
            let storage = if self.limits.max_headers <= STACK_HEADERS {
                &mut stack[..self.limits.max_headers]
            } else {
                heap.resize(self.limits.max_headers, httparse::EMPTY_HEADER);
                &mut heap[..]
            };
            let mut resp = httparse::Response::new(storage);
            let parsed = httparse::ParserConfig::default()
                .allow_obsolete_multiline_headers_in_responses(false)
                .parse_response(&mut resp, src);
            let Some(n) = head_len(parsed, src.len(), &self.limits)? else {
                return Ok(None);
            };
            let code = resp.code.unwrap_or(0);
            let status = StatusCode::from_u16(code).map_err(|_| CodecError::BadMessage)?;
            if (100..200).contains(&code) && code != 101 {
                // An interim response: skip it, the real one follows.
                src.advance(n);
                continue;
            }
            let reason = resp.reason.filter(|r| Some(*r) != status.canonical_reason()).map(str::to_string);
            let version = version_of(resp.version);
            let spans = spans(resp.headers, src);
            let head = src.split_to(n).freeze();
            let headers = collect_headers(&head, &spans)?;
            let sent = self.sent.pop_front().unwrap_or(Sent { head: false, connect: false, sink: None });
            // A redirect's body is not the stream the task asked for.
            self.sink = sent.sink.filter(|_| !matches!(code, 301 | 302 | 303 | 307 | 308));
            let bodiless =
                sent.head || code == 204 || code == 304 || code == 101 || (sent.connect && (200..300).contains(&code));
            let framing = if bodiless {
                Framing::Length(0)
            } else if headers.contains_key(TRANSFER_ENCODING) && is_chunked(&headers) {
                Framing::Chunked(ChunkState::Size)
            } else if let Some(n) = single_content_length(&headers)? {
                check_body(usize::try_from(n).unwrap_or(usize::MAX), &self.limits)?;
                Framing::Length(n)
            } else {
                Framing::Eof
            };
            return Ok(Some((
                HttpResponse {
                    status,
                    reason,
                    version,
                    headers,
                    body: Body::default(),
                    streamed: false,
                    bodiless: false,
                    auto: Default::default(),
                },
                framing,
            )));
        }
    }
}

impl Decoder for ClientCodec {
    type Item = HttpResponse;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<HttpResponse>> {
        if self.reading.is_none() {
            match self.parse_head(src)? {
                Some(r) => self.reading = Some(r),
                None => return Ok(None),
            }
        }
        let (resp, framing) = self.reading.as_mut().expect("a response being read");
        let done = read_body(framing, src, &mut resp.body, &mut resp.headers, &self.limits)?;
        if let Some(sink) = &self.sink {
            for chunk in resp.body.drain() {
                // The task may be gone; the response is still read out.
                let _ = sink.send(chunk);
            }
        }
        if !done {
            return Ok(None);
        }
        self.sink = None;
        Ok(self.reading.take().map(|(r, _)| r))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<HttpResponse>> {
        if let Some(r) = self.decode(src)? {
            return Ok(Some(r));
        }
        match self.reading.take() {
            // A response delimited by the end of the connection is complete.
            Some((resp, Framing::Eof)) => Ok(Some(resp)),
            Some(_) => Err(CodecError::Io(libc::ECONNRESET)),
            None if src.is_empty() => Ok(None),
            None => Err(CodecError::BadMessage),
        }
    }
}

impl Encoder<&HttpRequest> for ClientCodec {
    type Error = CodecError;

    fn encode(&mut self, req: &HttpRequest, dst: &mut BytesMut) -> Result<()> {
        let method = req.method_ref();
        self.sent.push_back(Sent {
            head: method == Method::HEAD,
            connect: method == Method::CONNECT,
            sink: req.chunk_sink.clone(),
        });
        dst.reserve(128 + req.body_len());
        dst.put_slice(method.as_str().as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(req.request_uri().as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(version_str(req.version).as_bytes());
        dst.put_slice(b"\r\n");
        write_headers(dst, &req.headers);
        write_body(dst, &req.headers, req.body_chunks());
        Ok(())
    }
}

/// A message's body length as `Content-Length` text.
pub(crate) fn length_value(n: usize) -> HeaderValue {
    HeaderValue::from(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_req(bytes: &[u8], limits: Limits) -> Result<Option<HttpRequest>> {
        let mut codec = ServerCodec::new(limits);
        codec.decode(&mut BytesMut::from(bytes))
    }

    #[test]
    fn request_with_length() {
        let r = decode_req(b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!((r.method(), r.request_uri(), r.http_version()), ("POST", "/a?b=1", "HTTP/1.1"));
        assert_eq!(r.header("host"), Some("x"));
        assert_eq!(&r.body()[..], b"abc");
    }

    #[test]
    fn request_in_pieces_and_pipelined() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHo"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"st: x\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().request_uri(), "/");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().request_uri(), "/2");
        assert!(buf.is_empty());
    }

    #[test]
    fn chunked_with_trailers() {
        let raw =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n";
        let r = decode_req(raw, Limits::default()).unwrap().unwrap();
        assert_eq!(&r.body()[..], b"abcde");
        assert_eq!(r.header("x-sum"), Some("5"));
    }

    #[test]
    fn smuggling_defences() {
        let bad: &[&[u8]] = &[
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
            b"GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Header: 1\r\n\r\n",
        ];
        for raw in bad {
            assert_eq!(
                decode_req(raw, Limits::default()).unwrap_err(),
                CodecError::BadMessage,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        // Equal duplicates are one length.
        let ok = decode_req(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", Limits::default());
        assert_eq!(&ok.unwrap().unwrap().body()[..], b"ab");
    }

    #[test]
    fn limits() {
        let small = Limits { max_headers: 2, max_head_bytes: 64, max_body: Some(4) };
        assert_eq!(
            decode_req(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small).unwrap_err(),
            CodecError::HeadTooLarge
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(100));
        assert_eq!(decode_req(long.as_bytes(), small).unwrap_err(), CodecError::HeadTooLarge);
        assert_eq!(
            decode_req(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", small).unwrap_err(),
            CodecError::BodyTooLarge
        );
        assert_eq!(
            decode_req(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", small).unwrap_err(),
            CodecError::ExpectationFailed
        );
        assert_eq!(
            decode_req(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", small)
                .unwrap_err(),
            CodecError::BodyTooLarge
        );
    }

    #[test]
    fn expect_continue_is_owed_until_the_body_comes() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(codec.take_continue());
        assert!(!codec.take_continue());
        buf.extend_from_slice(b"hi");
        assert_eq!(&codec.decode(&mut buf).unwrap().unwrap().body()[..], b"hi");
    }

    fn decode_resp(codec: &mut ClientCodec, bytes: &[u8]) -> Result<Option<HttpResponse>> {
        codec.decode(&mut BytesMut::from(bytes))
    }

    #[test]
    fn responses() {
        let mut c = ClientCodec::default();
        let r = decode_resp(&mut c, b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno").unwrap().unwrap();
        assert_eq!((r.status_code(), r.reason_phrase(), &r.body()[..]), (404, "Not Found", &b"no"[..]));
        // 100 Continue is skipped; 204 has no body even with a length.
        let r =
            decode_resp(&mut c, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!((r.status_code(), r.body_len()), (204, 0));
        // A HEAD request's reply has no body.
        let mut req = HttpRequest::default();
        req.set_method("HEAD");
        c.encode(&req, &mut BytesMut::new()).unwrap();
        let r = decode_resp(&mut c, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n").unwrap().unwrap();
        assert_eq!(r.body_len(), 0);
    }

    #[test]
    fn close_delimited_response() {
        let mut c = ClientCodec::default();
        let mut buf = BytesMut::from(&b"HTTP/1.0 200 OK\r\n\r\npart one, "[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"part two");
        assert!(c.decode(&mut buf).unwrap().is_none());
        let r = c.decode_eof(&mut buf).unwrap().unwrap();
        assert_eq!(&r.body()[..], b"part one, part two");
        // A length-framed reply cut short is an error.
        let mut c = ClientCodec::default();
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"[..]);
        assert!(c.decode_eof(&mut buf).is_err());
    }

    #[test]
    fn encodes_exact_bytes() {
        let mut resp = HttpResponse::default();
        resp.set_header("Content-Length", "5");
        resp.append_body("hello");
        let mut out = BytesMut::new();
        ServerCodec::default().encode(&resp, &mut out).unwrap();
        assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");

        let mut chunked = HttpResponse::default();
        chunked.set_header("Transfer-Encoding", "chunked");
        chunked.append_body("abc");
        chunked.append_body("de");
        let mut out = BytesMut::new();
        ServerCodec::default().encode(&chunked, &mut out).unwrap();
        assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n");
    }
}
