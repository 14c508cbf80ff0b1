//! The HTTP/1.1 codec, both sides: heads parsed with `httparse`, bodies
//! framed by `Content-Length`, chunked transfer coding (with trailers) or,
//! for responses, the end of the connection.
//!
//! Defences against request smuggling (RFC 9112), each a 400 that closes
//! the connection: an HTTP/1.1 request without `Host`, any request with
//! two `Host` fields or one that is not `host[:port]`; `Content-Length`
//! with `Transfer-Encoding`, differing `Content-Length` values, a transfer
//! coding other than exactly `chunked` (or any in HTTP/1.0); a chunk size
//! that is not bare hex digits or does not fit 64 bits (refused at once,
//! before its line ends), a malformed chunk extension, a chunk-size line
//! over 1 KiB, chunk data not followed by CRLF; obsolete line folding,
//! white space before a colon, a bare LF or CR anywhere in a head or
//! chunk line. Empty lines before a request line are skipped.
//!
//! Limits: heads (and trailers) bigger than `max_head_bytes` or with more
//! than `max_headers` fields get 431, found without waiting for the head
//! to end; a body over `max_body` gets 413 as soon as the head or a chunk
//! size announces it, before any of it is read — 417 when the request
//! asked to `Expect: 100-continue` with a `Content-Length` over it, and
//! no `100 Continue` is ever owed for it.
//!
//! Memory grows with the bytes that arrive: a declared length or chunk
//! size reserves nothing, body bytes are shared with the read buffer, and
//! both decoders resume where they stopped (a head is scanned for its end
//! once, a chunk-size line parsed byte by byte), never re-parsing from the
//! start.

use std::collections::VecDeque;
use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::HeaderValue;
use http::{Method, StatusCode, Version};
use tokio_util::codec::{Decoder, Encoder};
use wf_core::Error;

use crate::headers::{Headers, is_tchar, name_is};
use crate::message::{Body, HttpRequest, HttpResponse, Piece, Text, has_token, is_chunked, version_str};

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

/// The longest chunk-size line accepted, extensions included: chunk
/// extensions are parsed (RFC 9112 §7.1.1) and dropped, never buffered.
const MAX_CHUNK_LINE: usize = 1024;

#[derive(Debug, Clone, Copy)]
enum ChunkState {
    /// In a chunk-size line.
    Size(SizeLine),
    Data(u64),
    /// The CRLF after a chunk's data; true once its CR was read.
    DataEnd(bool),
    /// Trailer fields read so far, their bytes, and how far the current
    /// line was scanned for its end.
    Trailers {
        count: usize,
        bytes: usize,
        scanned: usize,
    },
}

/// Where a chunk-size line's parse stands, byte by byte:
/// `chunk-size [ chunk-ext ] CRLF` with `chunk-size = 1*HEXDIG` and
/// `chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
#[derive(Debug, Clone, Copy)]
struct SizeLine {
    size: u64,
    len: usize,
    at: LineAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineAt {
    /// Before the first hex digit.
    Start,
    /// In the hex digits.
    Digits,
    /// White space after the size or a value: only `;` may follow.
    BwsSemi,
    /// After `;`, before an extension's name.
    NameBws,
    Name,
    /// White space after a name: `=` or `;` follows.
    AfterName,
    /// After `=`, before a value.
    ValueBws,
    Token,
    Quoted,
    QuotedEscape,
    AfterQuoted,
    /// After the CR.
    Lf,
}

impl SizeLine {
    const NEW: SizeLine = SizeLine { size: 0, len: 0, at: LineAt::Start };

    /// Takes one byte; `Some(size)` when the line is complete.
    fn step(&mut self, b: u8) -> Result<Option<u64>> {
        use LineAt::*;
        self.len += 1;
        if self.len > MAX_CHUNK_LINE {
            return Err(CodecError::BadMessage);
        }
        let ws = b == b' ' || b == b'\t';
        self.at = match (self.at, b) {
            (Start | Digits, _) if b.is_ascii_hexdigit() => {
                let digit = (b as char).to_digit(16).expect("a hex digit") as u64;
                // A size beyond 64 bits is refused at once.
                self.size =
                    self.size.checked_mul(16).and_then(|s| s.checked_add(digit)).ok_or(CodecError::BadMessage)?;
                Digits
            }
            (Start, _) => return Err(CodecError::BadMessage),
            (Digits | Token | AfterQuoted, b'\r') | (Name, b'\r') => Lf,
            (Digits | Token | AfterQuoted | Name | AfterName | BwsSemi, b';') => NameBws,
            (Digits | Token | AfterQuoted | BwsSemi, _) if ws => BwsSemi,
            (NameBws, _) if ws => NameBws,
            (NameBws | Name, _) if is_tchar(b) => Name,
            (Name | AfterName, _) if ws => AfterName,
            (Name | AfterName, b'=') => ValueBws,
            (ValueBws, _) if ws => ValueBws,
            (ValueBws, b'"') => Quoted,
            (ValueBws | Token, _) if is_tchar(b) => Token,
            (Quoted, b'"') => AfterQuoted,
            (Quoted, b'\\') => QuotedEscape,
            (Quoted, _) if b == b'\t' || b == b' ' || b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80 => Quoted,
            (QuotedEscape, _) if b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80 => Quoted,
            (Lf, b'\n') => return Ok(Some(self.size)),
            _ => return Err(CodecError::BadMessage),
        };
        Ok(None)
    }
}

/// Fields a trailer may not set: framing, routing, authentication and
/// connection control belong to the head only (RFC 9110 §6.5.1). Trailers
/// naming them are dropped.
fn forbidden_in_trailer(name: &[u8]) -> bool {
    [
        "Content-Length",
        "Transfer-Encoding",
        "Host",
        "Connection",
        "TE",
        "Trailer",
        "Authorization",
        "Proxy-Authorization",
        "Proxy-Authenticate",
        "WWW-Authenticate",
        "Content-Type",
        "Content-Encoding",
        "Content-Range",
        "Set-Cookie",
        "Cookie",
        "Expect",
        "Upgrade",
        "Keep-Alive",
    ]
    .iter()
    .any(|f| name_is(name, f.as_bytes()))
}

/// Reads body bytes per `framing` into `body`; true when the body is
/// complete.
fn read_body(
    framing: &mut Framing,
    src: &mut BytesMut,
    body: &mut Body,
    headers: &mut Headers,
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
                ChunkState::Size(mut line) => {
                    let mut used = 0;
                    let mut size = None;
                    for &b in src.iter() {
                        used += 1;
                        size = line.step(b)?;
                        if size.is_some() {
                            break;
                        }
                    }
                    src.advance(used);
                    match size {
                        None => {
                            *state = ChunkState::Size(line);
                            return Ok(false);
                        }
                        Some(0) => *state = ChunkState::Trailers { count: 0, bytes: 0, scanned: 0 },
                        Some(size) => {
                            // Refused before any of its bytes is read.
                            check_body_u64((body.len() as u64).saturating_add(size), limits)?;
                            *state = ChunkState::Data(size);
                        }
                    }
                }
                ChunkState::Data(left) => {
                    if src.is_empty() {
                        return Ok(false);
                    }
                    let n = left.min(src.len() as u64) as usize;
                    body.append(src.split_to(n).freeze());
                    *state =
                        if left == n as u64 { ChunkState::DataEnd(false) } else { ChunkState::Data(left - n as u64) };
                }
                ChunkState::DataEnd(cr) => {
                    let Some(&b) = src.first() else { return Ok(false) };
                    match (cr, b) {
                        (false, b'\r') => *state = ChunkState::DataEnd(true),
                        (true, b'\n') => *state = ChunkState::Size(SizeLine::NEW),
                        _ => return Err(CodecError::BadMessage),
                    }
                    src.advance(1);
                }
                ChunkState::Trailers { count, bytes, scanned } => {
                    // Each line is scanned once, up to what the limit leaves.
                    let budget = limits.max_head_bytes.saturating_sub(bytes);
                    let limit = src.len().min(budget);
                    let from = scanned.min(limit);
                    let Some(lf) = src[from..limit].iter().position(|&b| b == b'\n').map(|i| from + i) else {
                        if src.len() >= budget {
                            return Err(CodecError::HeadTooLarge);
                        }
                        *state = ChunkState::Trailers { count, bytes, scanned: limit };
                        return Ok(false);
                    };
                    if lf == 0 || src[lf - 1] != b'\r' {
                        return Err(CodecError::BadMessage); // a bare LF
                    }
                    let end = lf - 1;
                    if end == 0 {
                        src.advance(2);
                        return Ok(true);
                    }
                    if count + 1 > limits.max_headers {
                        return Err(CodecError::HeadTooLarge);
                    }
                    *state = ChunkState::Trailers { count: count + 1, bytes: bytes + lf + 1, scanned: 0 };
                    let line = src.split_to(end).freeze();
                    src.advance(2);
                    if line[0] == b' ' || line[0] == b'\t' {
                        return Err(CodecError::BadMessage); // obs-fold
                    }
                    let colon = line.iter().position(|&b| b == b':').ok_or(CodecError::BadMessage)?;
                    let name = &line[..colon];
                    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
                        return Err(CodecError::BadMessage);
                    }
                    let value = trim_ascii(&line[colon + 1..]);
                    let value = HeaderValue::from_bytes(value).map_err(|_| CodecError::BadMessage)?;
                    if !forbidden_in_trailer(name) {
                        headers.push_parsed(line.slice(..colon), value);
                    }
                }
            },
        }
    }
}

/// Skips empty lines before a head (RFC 9112 §2.2: a server should
/// ignore at least one; some clients send a CRLF after a body).
fn skip_empty_lines(src: &mut BytesMut, scanned: &mut usize, strict: bool) {
    loop {
        let n = if src.starts_with(b"\r\n") {
            2
        } else if !strict && src.starts_with(b"\n") {
            1
        } else {
            return;
        };
        src.advance(n);
        *scanned = scanned.saturating_sub(n);
    }
}

/// Where a head ends (just past its empty line) in `buf`, or `None` while
/// it is incomplete; scanning resumes at `*scanned`, so a head dripped
/// byte by byte is scanned once. No end within `max` bytes: `HeadTooLarge`.
/// `strict` (requests): every LF must follow a CR, else `BadMessage`;
/// otherwise (responses) a bare LF ends a line too, as RFC 9112 §2.2
/// lets a recipient accept.
fn scan_head(buf: &[u8], scanned: &mut usize, max: usize, strict: bool) -> Result<Option<usize>> {
    let limit = buf.len().min(max);
    let mut from = (*scanned).min(limit);
    while let Some(i) = buf[from..limit].iter().position(|&b| b == b'\n') {
        let lf = from + i;
        let cr = lf > 0 && buf[lf - 1] == b'\r';
        if strict && !cr {
            return Err(CodecError::BadMessage);
        }
        let start = if cr { lf - 1 } else { lf };
        // The line ending here is empty: the head ends.
        if start == 0 || buf[start - 1] == b'\n' {
            *scanned = 0;
            return Ok(Some(lf + 1));
        }
        from = lf + 1;
    }
    *scanned = limit;
    if buf.len() > max { Err(CodecError::HeadTooLarge) } else { Ok(None) }
}

/// Checks httparse's answer on a whole head (`n` bytes, found by
/// [`scan_head`]).
fn parsed_len(parsed: std::result::Result<httparse::Status<usize>, httparse::Error>, n: usize) -> Result<()> {
    match parsed {
        Ok(httparse::Status::Complete(m)) if m == n => Ok(()),
        Err(httparse::Error::TooManyHeaders) => Err(CodecError::HeadTooLarge),
        _ => Err(CodecError::BadMessage),
    }
}

fn check_body(len: usize, limits: &Limits) -> Result<()> {
    check_body_u64(len as u64, limits)
}

fn check_body_u64(len: u64, limits: &Limits) -> Result<()> {
    match limits.max_body {
        Some(max) if len > max as u64 => Err(CodecError::BodyTooLarge),
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

/// The fields in order, names as received (httparse checked they are
/// tokens), names and values sharing `head`'s memory (`parsed` are slices
/// of it).
fn collect_headers(head: &Bytes, parsed: &[httparse::Header<'_>]) -> Result<Headers> {
    let mut headers = Headers::with_capacity(parsed.len());
    for h in parsed {
        let name = head.slice_ref(h.name.as_bytes());
        let value = HeaderValue::from_maybe_shared(head.slice_ref(h.value)).map_err(|_| CodecError::BadMessage)?;
        headers.push_parsed(name, value);
    }
    Ok(headers)
}

/// Header slots for httparse: on the stack up to this many.
const STACK_HEADERS: usize = 128;

/// The single `Content-Length` of a message (several equal ones count as
/// one), or a rejection.
fn single_content_length(headers: &Headers) -> Result<Option<u64>> {
    let mut found: Option<u64> = None;
    for v in headers.get_all("Content-Length") {
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

/// Whether the `Transfer-Encoding` fields name exactly one coding,
/// `chunked`.
fn only_chunked(headers: &Headers) -> bool {
    let mut codings = headers
        .get_all("Transfer-Encoding")
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(trim_ascii)
        .filter(|c| !c.is_empty());
    codings.next().is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")) && codings.next().is_none()
}

/// The fields of a request head that frame or route it, found in one
/// pass over the parsed fields (rather than a lookup per rule).
#[derive(Default)]
struct Framed<'a> {
    /// `Host` fields, and the first one's value.
    hosts: usize,
    host: &'a [u8],
    length: bool,
    coding: bool,
    expect: bool,
}

impl<'a> Framed<'a> {
    fn of(parsed: &[httparse::Header<'a>]) -> Framed<'a> {
        let mut f = Framed::default();
        for h in parsed {
            let name = h.name.as_bytes();
            let is = |n: &str| name_is(name, n.as_bytes());
            match name.len() {
                4 if is("Host") => {
                    if f.hosts == 0 {
                        f.host = h.value;
                    }
                    f.hosts += 1;
                }
                6 if is("Expect") => f.expect = true,
                14 if is("Content-Length") => f.length = true,
                17 if is("Transfer-Encoding") => f.coding = true,
                _ => {}
            }
        }
        f
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request without `Host`, any request with
/// more than one, or with a value that is not `uri-host [ ":" port ]`, is
/// refused.
fn check_host(version: Version, framed: &Framed<'_>) -> Result<()> {
    match framed.hosts {
        0 if version == Version::HTTP_11 => Err(CodecError::BadMessage),
        0 => Ok(()),
        1 if valid_host(framed.host) => Ok(()),
        _ => Err(CodecError::BadMessage),
    }
}

/// `uri-host [ ":" port ]` (RFC 3986), or empty.
fn valid_host(h: &[u8]) -> bool {
    /// Which bytes are `unreserved` or `sub-delims` (RFC 3986): one load
    /// per byte of a host.
    const HOST_CHAR: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                );
            b += 1;
        }
        table
    };
    fn unreserved_or_sub_delim(b: u8) -> bool {
        HOST_CHAR[usize::from(b)]
    }
    let (host, port) = if let Some(rest) = h.strip_prefix(b"[") {
        // IP-literal: an IPv6 address or IPvFuture.
        let Some(close) = rest.iter().position(|&b| b == b']') else { return false };
        let inside = &rest[..close];
        if inside.is_empty() || !inside.iter().all(|&b| unreserved_or_sub_delim(b) || b == b':') {
            return false;
        }
        (&[][..], &rest[close + 1..])
    } else {
        let colon = h.iter().position(|&b| b == b':').unwrap_or(h.len());
        (&h[..colon], &h[colon..])
    };
    let mut i = 0;
    while i < host.len() {
        match host[i] {
            b'%' if host.len() > i + 2 && host[i + 1].is_ascii_hexdigit() && host[i + 2].is_ascii_hexdigit() => i += 3,
            b if unreserved_or_sub_delim(b) => i += 1,
            _ => return false,
        }
    }
    match port {
        [] => true,
        [b':', digits @ ..] => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    }
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
    /// How far the head in the buffer was scanned for its end.
    scanned: usize,
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

    /// Whether a request's head has been parsed and its body is being
    /// read: the request is past its head (wf-core's header deadline no
    /// longer applies; its body-progress rule does). False between
    /// requests and while a head is still arriving; a request with no body
    /// is decoded whole as soon as its head is, so it never shows here.
    pub(crate) fn head_complete(&self) -> bool {
        self.reading.is_some()
    }

    /// Body bytes the codec holds for the request being read.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.reading.as_ref().map_or(0, |(r, _)| r.body.len())
    }

    /// Takes the `100 Continue` owed for the request being read, if any.
    pub(crate) fn take_continue(&mut self) -> bool {
        std::mem::take(&mut self.continue_owed)
    }

    fn parse_head(&mut self, src: &mut BytesMut) -> Result<Option<(HttpRequest, Framing)>> {
        skip_empty_lines(src, &mut self.scanned, true);
        let Some(n) = scan_head(src, &mut self.scanned, self.limits.max_head_bytes, true)? else {
            return Ok(None);
        };
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
        // The head leaves the buffer first (whatever the parse says: a
        // head that does not parse closes the connection), so that the
        // parsed names and values are slices of it, taken in one pass.
        let head = src.split_to(n).freeze();
        let mut req = httparse::Request::new(&mut []);
        parsed_len(req.parse_with_uninit_headers(&head, storage), n)?;
        let method = Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(|_| CodecError::BadMessage)?;
        let uri = req.path.map_or(Text::from_static("/"), |p| Text::slice_of(&head, p));
        let version = version_of(req.version);
        let framed = Framed::of(req.headers);
        check_host(version, &framed)?;
        let headers = collect_headers(&head, req.headers)?;
        let te = framed.coding;
        let cl = if framed.length { single_content_length(&headers)? } else { None };
        let framing = match (te, cl) {
            (true, Some(_)) => return Err(CodecError::BadMessage),
            // HTTP/1.0 has no transfer coding; the only one understood
            // is `chunked`, once.
            (true, None) if version == Version::HTTP_10 || !only_chunked(&headers) => {
                return Err(CodecError::BadMessage);
            }
            (true, None) => Framing::Chunked(ChunkState::Size(SizeLine::NEW)),
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::Length(0),
        };
        let expects_continue =
            version == Version::HTTP_11 && framed.expect && has_token(&headers, "Expect", "100-continue");
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
            if src.is_empty() {
                // Between requests, nothing read yet.
                return Ok(None);
            }
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
    put_fields(dst, &resp.headers);
    let auto = &resp.auto;
    if let Some(n) = auto.content_length {
        dst.put_slice(b"Content-Length: ");
        put_decimal(dst, n);
        dst.put_slice(b"\r\n");
    }
    match auto.connection {
        Some(true) => dst.put_slice(b"Connection: Keep-Alive\r\n"),
        Some(false) => dst.put_slice(b"Connection: close\r\n"),
        None => {}
    }
    if auto.date {
        dst.put_slice(b"Date: ");
        crate::date::with_date(|d| dst.put_slice(d.as_bytes()));
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

/// Each field as `Name: value` CRLF, in order, names as written.
fn put_fields(dst: &mut BytesMut, headers: &Headers) {
    for (name, value) in headers.raw() {
        dst.put_slice(name);
        dst.put_slice(b": ");
        dst.put_slice(value);
        dst.put_slice(b"\r\n");
    }
}

fn write_body(dst: &mut BytesMut, headers: &Headers, chunks: &[Bytes]) {
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
    sink: Option<std::sync::mpsc::Sender<Piece>>,
}

/// The client side: encodes requests, decodes responses.
#[derive(Debug, Default)]
pub struct ClientCodec {
    limits: Limits,
    sent: VecDeque<Sent>,
    reading: Option<(HttpResponse, Framing)>,
    /// Where the body of the response being read goes, if streamed.
    sink: Option<std::sync::mpsc::Sender<Piece>>,
    /// How far the head in the buffer was scanned for its end.
    scanned: usize,
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
            skip_empty_lines(src, &mut self.scanned, false);
            let Some(n) = scan_head(src, &mut self.scanned, self.limits.max_head_bytes, false)? else {
                return Ok(None);
            };
            // The head leaves the buffer first (a head that does not parse
            // ends the connection), so that the parsed fields are slices
            // of it.
            let head = src.split_to(n).freeze();
            let mut resp = httparse::Response::new(storage);
            let parsed = httparse::ParserConfig::default()
                .allow_obsolete_multiline_headers_in_responses(false)
                .parse_response(&mut resp, &head);
            parsed_len(parsed, n)?;
            let code = resp.code.unwrap_or(0);
            let status = StatusCode::from_u16(code).map_err(|_| CodecError::BadMessage)?;
            if (100..200).contains(&code) && code != 101 {
                // An interim response: skipped, the real one follows.
                continue;
            }
            let reason = resp.reason.filter(|r| Some(*r) != status.canonical_reason()).map(Box::from);
            let version = version_of(resp.version);
            let headers = collect_headers(&head, resp.headers)?;
            let sent = self.sent.pop_front().unwrap_or(Sent { head: false, connect: false, sink: None });
            // A redirect's body is not the stream the task asked for.
            self.sink = sent.sink.filter(|_| !matches!(code, 301 | 302 | 303 | 307 | 308));
            let bodiless =
                sent.head || code == 204 || code == 304 || code == 101 || (sent.connect && (200..300).contains(&code));
            let framing = if bodiless {
                Framing::Length(0)
            } else if headers.contains_key("Transfer-Encoding") {
                // Transfer coding overrides any length; one not ending in
                // `chunked` runs until the connection closes.
                if is_chunked(&headers) { Framing::Chunked(ChunkState::Size(SizeLine::NEW)) } else { Framing::Eof }
            } else if let Some(n) = single_content_length(&headers)? {
                check_body(usize::try_from(n).unwrap_or(usize::MAX), &self.limits)?;
                Framing::Length(n)
            } else {
                Framing::Eof
            };
            let resp = HttpResponse {
                status,
                reason,
                version,
                headers,
                body: Body::default(),
                streamed: false,
                bodiless: false,
                auto: Default::default(),
            };
            if let Some(sink) = &self.sink {
                // The task sees the head before any of the body.
                let _ = sink.send(Piece::Head(resp.clone()));
            }
            return Ok(Some((resp, framing)));
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
                let _ = sink.send(Piece::Data(chunk));
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
            sink: req.chunk_sink.as_deref().cloned(),
        });
        dst.reserve(128 + req.body_len());
        dst.put_slice(method.as_str().as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(req.request_uri().as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(version_str(req.version).as_bytes());
        dst.put_slice(b"\r\n");
        put_fields(dst, &req.headers);
        dst.put_slice(b"\r\n");
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
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\nX-"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"A: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().request_uri(), "/");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().request_uri(), "/2");
        assert!(buf.is_empty());
    }

    #[test]
    fn chunked_with_trailers() {
        let raw =
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n";
        let r = decode_req(raw, Limits::default()).unwrap().unwrap();
        assert_eq!(&r.body()[..], b"abcde");
        assert_eq!(r.header("x-sum"), Some("5"));
    }

    #[test]
    fn smuggling_defences() {
        let bad: &[&[u8]] = &[
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
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
        let ok = decode_req(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
            Limits::default(),
        );
        assert_eq!(&ok.unwrap().unwrap().body()[..], b"ab");
    }

    #[test]
    fn limits() {
        let small = Limits { max_headers: 3, max_head_bytes: 100, max_body: Some(4) };
        assert_eq!(
            decode_req(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small).unwrap_err(),
            CodecError::HeadTooLarge
        );
        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "x".repeat(100));
        assert_eq!(decode_req(long.as_bytes(), small).unwrap_err(), CodecError::HeadTooLarge);
        assert_eq!(
            decode_req(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", small).unwrap_err(),
            CodecError::BodyTooLarge
        );
        assert_eq!(
            decode_req(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", small)
                .unwrap_err(),
            CodecError::ExpectationFailed
        );
        assert_eq!(
            decode_req(
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
                small
            )
            .unwrap_err(),
            CodecError::BodyTooLarge
        );
    }

    #[test]
    fn expect_continue_is_owed_until_the_body_comes() {
        let mut codec = ServerCodec::default();
        let mut buf =
            BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"[..]);
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
        assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");

        let mut chunked = HttpResponse::default();
        chunked.set_header("Transfer-Encoding", "chunked");
        chunked.append_body("abc");
        chunked.append_body("de");
        let mut out = BytesMut::new();
        ServerCodec::default().encode(&chunked, &mut out).unwrap();
        assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n");
    }

    #[test]
    fn a_declared_length_reserves_nothing() {
        let limits = Limits { max_body: Some(1 << 20), ..Limits::default() };
        // 10 GB announced: refused from the head alone, nothing held.
        let mut codec = ServerCodec::new(limits);
        let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap_err(), CodecError::BodyTooLarge);
        assert_eq!(codec.buffered(), 0);
        // Under the limit, the body held grows with what arrives only.
        let mut codec = ServerCodec::new(limits);
        let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(codec.head_complete());
        assert_eq!((codec.buffered(), buf.capacity() < 4096), (3, true));
        let mut codec = ServerCodec::new(limits);
        let mut buf =
            BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\nab"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(codec.buffered(), 2);
    }

    #[test]
    fn an_endless_chunked_body_stops_at_the_limit() {
        let limit = 64 * 1024;
        let mut codec = ServerCodec::new(Limits { max_body: Some(limit), ..Limits::default() });
        let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        let mut chunk = b"1000\r\n".to_vec();
        chunk.extend_from_slice(&[b'a'; 4096]);
        chunk.extend_from_slice(b"\r\n");
        let err = loop {
            buf.extend_from_slice(&chunk);
            match codec.decode(&mut buf) {
                Ok(None) => assert!(codec.buffered() <= limit),
                Ok(Some(_)) => panic!("an endless body ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(err, CodecError::BodyTooLarge);
        assert_eq!(codec.buffered(), limit, "nothing held past the limit");
    }

    #[test]
    fn head_complete_follows_the_request() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(!codec.head_complete(), "the head is still arriving");
        buf.extend_from_slice(b"Length: 2\r\n\r\na");
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(codec.head_complete(), "the body is arriving");
        buf.extend_from_slice(b"b");
        assert!(codec.decode(&mut buf).unwrap().is_some());
        assert!(!codec.head_complete(), "between requests");
    }

    #[test]
    fn chunk_lines_parse_byte_by_byte() {
        let ok: &[(&[u8], u64)] = &[
            (b"0\r\n", 0),
            (b"A\r\n", 10),
            (b"00ff\r\n", 255),
            (b"ffffffffffffffff\r\n", u64::MAX),
            (b"5;a\r\n", 5),
            (b"5 ;a=b\r\n", 5),
            (b"5;a = \"x\\\"y\" ; b\r\n", 5),
        ];
        for (line, size) in ok {
            let mut parse = SizeLine::NEW;
            let got: Vec<_> = line.iter().map(|&b| parse.step(b).unwrap()).collect();
            assert_eq!(got.last(), Some(&Some(*size)), "{}", String::from_utf8_lossy(line));
        }
        for line in [&b" 5\r\n"[..], b"5 \r\n", b"+5\r\n", b"0x5\r\n", b"\r\n", b"5\n", b"5;\r\n", b"10000000000000000"]
        {
            let mut parse = SizeLine::NEW;
            assert!(
                line.iter().try_for_each(|&b| parse.step(b).map(drop)).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn hostile_responses() {
        let bad = |raw: &[u8]| ClientCodec::default().decode_eof(&mut BytesMut::from(raw)).unwrap_err();
        for raw in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab",
        ] {
            let e = bad(raw);
            assert_eq!(e, CodecError::BadMessage, "{}", String::from_utf8_lossy(raw));
            assert_eq!(Error::from(e).code(), libc::EBADMSG);
        }
        // An overflowing size fails at once, before any line end.
        let mut c = ClientCodec::default();
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff"[..]);
        assert_eq!(c.decode(&mut buf).unwrap_err(), CodecError::BadMessage);
        // Heads: too many fields, too many bytes (without waiting for the end).
        let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(bad(format!("HTTP/1.1 200 OK\r\n{many}\r\n").as_bytes()), CodecError::HeadTooLarge);
        let mut c = ClientCodec::default();
        let mut buf = BytesMut::from(format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(64 * 1024)).as_bytes());
        assert_eq!(c.decode(&mut buf).unwrap_err(), CodecError::HeadTooLarge);
        assert_eq!(Error::from(CodecError::HeadTooLarge).code(), libc::EMSGSIZE);
        // Declared lengths reserve nothing: the body is what arrived.
        let mut c = ClientCodec::default();
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\nabc"[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert_eq!(c.reading.as_ref().map(|(r, _)| r.body.len()), Some(3));
        let mut c = ClientCodec::default();
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc"[..]);
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert_eq!(c.reading.as_ref().map(|(r, _)| r.body.len()), Some(3));
        // A transfer coding not ending in chunked reads to the end.
        let r = ClientCodec::default()
            .decode_eof(&mut BytesMut::from(
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc"[..],
            ))
            .unwrap()
            .unwrap();
        assert_eq!(&r.body()[..], b"abc");
    }

    #[test]
    fn a_head_dripped_byte_by_byte_is_scanned_once() {
        let head = format!("HTTP/1.1 200 OK\r\nX: {}\r\nContent-Length: 2\r\n\r\nok", "a".repeat(60 * 1024));
        let mut c = ClientCodec::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in head.as_bytes() {
            buf.extend_from_slice(&[b]);
            if let Some(r) = c.decode(&mut buf).unwrap() {
                got = Some(r);
            }
            // The scan resumes where it stopped (never re-reads the head).
            assert!(c.scanned == 0 || c.scanned == buf.len());
        }
        assert_eq!(&got.unwrap().body()[..], b"ok");
        // Bare LF ends response lines (RFC 9112 §2.2), not request lines.
        let r = ClientCodec::default().decode(&mut BytesMut::from(&b"HTTP/1.1 200 OK\nContent-Length: 1\n\nz"[..]));
        assert_eq!(&r.unwrap().unwrap().body()[..], b"z");
        let r = decode_req(b"GET / HTTP/1.1\nHost: x\n\n", Limits::default());
        assert_eq!(r.unwrap_err(), CodecError::BadMessage);
    }

    #[test]
    fn a_coding_list_with_an_empty_element_stays_chunked() {
        // Found by the `http_request` fuzz target: `chunked,` was read as
        // chunked but encoded again without the chunked framing (the last
        // element, empty, was taken for the coding): a request forwarded
        // by wf would have been framed differently.
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n2\r\nab\r\n0\r\n\r\n";
        let req = decode_req(raw, Limits::default()).unwrap().unwrap();
        assert!(req.is_chunked());
        let mut out = BytesMut::new();
        ClientCodec::default().encode(&req, &mut out).unwrap();
        assert!(out.ends_with(b"\r\n\r\n2\r\nab\r\n0\r\n\r\n"), "{:?}", String::from_utf8_lossy(&out));
        let again = ServerCodec::default().decode(&mut out).unwrap().unwrap();
        assert_eq!(&again.body()[..], b"ab");
        assert!(out.is_empty());
    }
}
