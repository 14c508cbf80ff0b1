//! The KV-line codecs, written with `tokio_util::codec` as the
//! [`Protocol`](wf_core::net::Protocol) guide asks: the client side encodes
//! `&Request` and decodes `Response`, the server side the other way round.
//!
//! Errors are `io::Error`s carrying an errno, which `wf_core::Error::from`
//! keeps as the task's `SYS_ERROR` code:
//!
//! | what | errno |
//! |---|---|
//! | a line longer than the limit | `EMSGSIZE` |
//! | a line that is not UTF-8 or not a message | `EBADMSG` |
//! | a message that cannot be written as one line (see [`Request::is_valid`]) | `EINVAL` |
//! | the peer closed in the middle of a line | `ECONNRESET` (`ErrorKind::UnexpectedEof`) |

use std::io;

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::message::{Request, Response};

/// The longest line (without its `\n`) either side accepts by default:
/// 64 KiB.
pub const DEFAULT_LINE_LIMIT: usize = 64 * 1024;

/// `EMSGSIZE`: a line longer than the limit.
fn too_long() -> io::Error {
    io::Error::from_raw_os_error(libc::EMSGSIZE)
}

/// `EBADMSG`: a line that is not a message.
fn malformed() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADMSG)
}

/// `EINVAL`: a message that cannot be written as a line.
fn unencodable() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// Splits lines off a buffer, refusing those longer than a limit before
/// they are whole (so a peer cannot make the buffer grow without end).
#[derive(Clone, Debug)]
struct Lines {
    limit: usize,
    /// Bytes already searched for `\n`, so each byte is looked at once.
    scanned: usize,
}

impl Lines {
    fn new(limit: usize) -> Lines {
        Lines { limit, scanned: 0 }
    }

    /// The next line, without `\n` (nor a `\r` before it), as text.
    fn next(&mut self, src: &mut BytesMut) -> io::Result<Option<String>> {
        let from = self.scanned.min(src.len());
        let Some(at) = src[from..].iter().position(|&b| b == b'\n') else {
            if src.len() > self.limit {
                return Err(too_long());
            }
            self.scanned = src.len();
            return Ok(None);
        };
        let end = from + at;
        self.scanned = 0;
        if end > self.limit {
            return Err(too_long());
        }
        let mut line = src.split_to(end + 1);
        line.truncate(end);
        if line.last() == Some(&b'\r') {
            line.truncate(end - 1);
        }
        String::from_utf8(line.to_vec()).map(Some).map_err(|_| malformed())
    }

    /// At the end of the stream: the last whole line, or an error when a
    /// line was cut short.
    fn next_at_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<String>> {
        match self.next(src)? {
            Some(line) => Ok(Some(line)),
            None if src.is_empty() => Ok(None),
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

fn put_line(line: impl std::fmt::Display, dst: &mut BytesMut) {
    use std::fmt::Write;
    // Writing into a `BytesMut` cannot fail.
    let _ = write!(dst, "{line}");
    dst.put_u8(b'\n');
}

/// The client side of KV-line: encodes `&Request`, decodes `Response`,
/// refusing response lines longer than a limit with `EMSGSIZE`.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// use wf_plugin_proof::{KvClientCodec, Request, Response};
///
/// let mut codec = KvClientCodec::new(1024);
/// let mut out = BytesMut::new();
/// codec.encode(&Request::Set("k".into(), "a b".into()), &mut out).unwrap();
/// assert_eq!(&out[..], b"SET k a b\n");
///
/// let mut input = BytesMut::from(&b"$a b\n:3\n"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Response::Value("a b".into())));
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Response::Integer(3)));
/// ```
#[derive(Clone, Debug)]
pub struct KvClientCodec {
    lines: Lines,
}

impl KvClientCodec {
    /// A codec refusing response lines longer than `limit` bytes.
    pub fn new(limit: usize) -> KvClientCodec {
        KvClientCodec { lines: Lines::new(limit) }
    }
}

impl Default for KvClientCodec {
    fn default() -> KvClientCodec {
        KvClientCodec::new(DEFAULT_LINE_LIMIT)
    }
}

impl Decoder for KvClientCodec {
    type Item = Response;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Response>> {
        match self.lines.next(src)? {
            Some(line) => Response::parse(&line).map(Some).ok_or_else(malformed),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<Response>> {
        match self.lines.next_at_eof(src)? {
            Some(line) => Response::parse(&line).map(Some).ok_or_else(malformed),
            None => Ok(None),
        }
    }
}

impl Encoder<&Request> for KvClientCodec {
    type Error = io::Error;

    fn encode(&mut self, req: &Request, dst: &mut BytesMut) -> io::Result<()> {
        if !req.is_valid() {
            return Err(unencodable());
        }
        put_line(req, dst);
        Ok(())
    }
}

/// The server side of KV-line: decodes `Request`, encodes `&Response`,
/// refusing request lines longer than a limit with `EMSGSIZE`.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// use wf_plugin_proof::{KvServerCodec, Request, Response};
///
/// let mut codec = KvServerCodec::new(Some(1024));
/// let mut input = BytesMut::from(&b"get k\r\nPING\n"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Request::Get("k".into())));
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Request::Ping));
///
/// let mut out = BytesMut::new();
/// codec.encode(&Response::Error("no such key".into()), &mut out).unwrap();
/// assert_eq!(&out[..], b"-ERR no such key\n");
/// ```
#[derive(Clone, Debug)]
pub struct KvServerCodec {
    lines: Lines,
}

impl KvServerCodec {
    /// A codec refusing request lines longer than `limit` bytes (`None`:
    /// no limit), as `ServerParams::request_size_limit` gives it.
    pub fn new(limit: Option<usize>) -> KvServerCodec {
        KvServerCodec { lines: Lines::new(limit.unwrap_or(usize::MAX)) }
    }
}

impl Default for KvServerCodec {
    fn default() -> KvServerCodec {
        KvServerCodec::new(Some(DEFAULT_LINE_LIMIT))
    }
}

impl Decoder for KvServerCodec {
    type Item = Request;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Request>> {
        match self.lines.next(src)? {
            Some(line) => Request::parse(&line).map(Some).ok_or_else(malformed),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<Request>> {
        match self.lines.next_at_eof(src)? {
            Some(line) => Request::parse(&line).map(Some).ok_or_else(malformed),
            None => Ok(None),
        }
    }
}

impl Encoder<&Response> for KvServerCodec {
    type Error = io::Error;

    fn encode(&mut self, resp: &Response, dst: &mut BytesMut) -> io::Result<()> {
        if !resp.is_valid() {
            return Err(unencodable());
        }
        put_line(resp, dst);
        Ok(())
    }
}
