//! The RESP codecs: wf's own resumable decoders ([`crate::resp`], which
//! replaced the `redis-protocol` crate DESIGN.md names: it recursed on
//! nesting and re-parsed a frame from its start on every read) read
//! replies (RESP2, or RESP3 after `HELLO 3`) and requests; values share
//! the read buffer (no copies); commands and replies are written
//! directly.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};
use wf_core::Error;

use crate::message::{RedisRequest, RedisResponse};
use crate::resp::{Refusal, ReplyDecoder, ReplyError, RequestDecoder};
use crate::value::RedisValue;

/// Largest reply a client accepts by default: Redis's own largest bulk
/// string (`proto-max-bulk-len`, 512 MiB).
pub(crate) const DEFAULT_SIZE_LIMIT: usize = 512 << 20;

/// A Redis server's default request size limit (wf's default for every
/// server: nginx's `client_max_body_size`).
pub(crate) const DEFAULT_REQUEST_LIMIT: usize = 1 << 20;

/// The request size limit when a server sets none: redis-server's own
/// `client-query-buffer-limit` (1 GiB).
pub(crate) const UNSET_REQUEST_LIMIT: usize = 1 << 30;

/// Which RESP a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) enum Resp {
    #[default]
    V2,
    V3,
}

fn reply_error(e: ReplyError) -> Error {
    match e {
        ReplyError::Malformed(what) => Error::sys(libc::EBADMSG).with_cause(format!("a malformed reply: {what}")),
        ReplyError::TooLarge => Error::sys(libc::EMSGSIZE).with_cause("a reply over the size limit"),
    }
}

fn refusal_error(r: Refusal) -> Error {
    Error::sys(r.code()).with_cause(r)
}

fn put_len(buf: &mut BytesMut, tag: u8, n: usize) {
    // Tag, digits and CRLF built here and appended at once.
    let mut b = [0u8; 24];
    let mut i = b.len() - 2;
    b[i..].copy_from_slice(b"\r\n");
    let mut n = n as u64;
    loop {
        i -= 1;
        b[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    i -= 1;
    b[i] = tag;
    buf.extend_from_slice(&b[i..]);
}

/// Appends one command as a RESP array of bulk strings (the caller
/// reserves the room: [`command_size`]).
fn put_command(parts: &[Bytes], buf: &mut BytesMut) {
    put_len(buf, b'*', parts.len());
    for p in parts {
        put_len(buf, b'$', p.len());
        buf.extend_from_slice(p);
        buf.extend_from_slice(b"\r\n");
    }
}

/// At least the bytes [`put_command`] appends for `parts`.
fn command_size(parts: &[Bytes]) -> usize {
    parts.iter().map(|p| p.len() + 24).sum::<usize>() + 24
}

/// Appends one command as a RESP array of bulk strings.
pub(crate) fn encode_command(parts: &[Bytes], buf: &mut BytesMut) {
    buf.reserve(command_size(parts));
    put_command(parts, buf);
}

fn put_line(buf: &mut BytesMut, tag: u8, text: &[u8]) {
    buf.put_u8(tag);
    // A status or error is one line: CR and LF would end it early.
    buf.extend(text.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
    buf.extend_from_slice(b"\r\n");
}

fn put_bulk(buf: &mut BytesMut, b: &[u8]) {
    put_len(buf, b'$', b.len());
    buf.extend_from_slice(b);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `v` in RESP2, the way Redis answers a RESP2 client: RESP3
/// kinds become their RESP2 forms (a map a flat array, a double a bulk
/// string, a boolean 1 or 0).
pub(crate) fn encode_value(v: &RedisValue, buf: &mut BytesMut) {
    match v {
        RedisValue::Nil => buf.extend_from_slice(b"$-1\r\n"),
        RedisValue::Integer(i) => {
            buf.put_u8(b':');
            buf.extend_from_slice(i.to_string().as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        RedisValue::String(b) | RedisValue::BigNumber(b) | RedisValue::Verbatim { text: b, .. } => put_bulk(buf, b),
        RedisValue::Status(b) => put_line(buf, b'+', b),
        RedisValue::Error(b) => put_line(buf, b'-', b),
        RedisValue::Array(a) | RedisValue::Set(a) | RedisValue::Push(a) => {
            put_len(buf, b'*', a.len());
            for v in a {
                encode_value(v, buf);
            }
        }
        RedisValue::Map(m) => {
            put_len(buf, b'*', m.len() * 2);
            for (k, v) in m {
                encode_value(k, buf);
                encode_value(v, buf);
            }
        }
        RedisValue::Double(d) => put_bulk(buf, format_double(*d).as_bytes()),
        RedisValue::Boolean(b) => buf.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
    }
}

fn format_double(d: f64) -> String {
    if d.is_infinite() { if d > 0.0 { "inf".into() } else { "-inf".into() } } else { d.to_string() }
}

/// What the client expects back for one request.
#[derive(Debug)]
struct Expect {
    /// Replies still to come.
    left: usize,
    /// Leading replies to drop (the `ASKING` before a redirected command).
    skip: usize,
}

/// The client side: encodes requests, decodes one [`RedisResponse`] per
/// request (a pipeline's replies together). Pipelined connections encode
/// ahead of decoding, so it remembers what each request expects.
#[derive(Debug)]
pub struct ClientCodec {
    reader: ReplyDecoder,
    limit: usize,
    expect: VecDeque<Expect>,
    partial: Vec<RedisValue>,
    /// A subscriber's connection: every value is delivered as it comes.
    raw: bool,
}

impl ClientCodec {
    pub(crate) fn new(limit: usize) -> ClientCodec {
        ClientCodec {
            reader: ReplyDecoder::new(false),
            limit,
            expect: VecDeque::new(),
            partial: Vec::new(),
            raw: false,
        }
    }

    /// For a subscriber: values are not replies to requests but pushed
    /// messages, each decoded on its own.
    pub(crate) fn set_raw(&mut self, raw: bool) {
        self.raw = raw;
        self.expect.clear();
    }

    /// After `HELLO 3`: replies are RESP3 from now on.
    pub(crate) fn set_resp(&mut self, resp: Resp) {
        self.reader.set_resp3(resp == Resp::V3);
    }

    /// For fuzz targets and tests from outside the crate: this codec
    /// reading RESP3 (or RESP2) and every value as it comes, each a
    /// response of its own, as a subscriber's does.
    #[doc(hidden)]
    pub fn every_value(mut self, resp3: bool) -> ClientCodec {
        self.set_resp(if resp3 { Resp::V3 } else { Resp::V2 });
        self.set_raw(true);
        self
    }
}

impl Encoder<&RedisRequest> for ClientCodec {
    type Error = Error;

    fn encode(&mut self, req: &RedisRequest, buf: &mut BytesMut) -> Result<(), Error> {
        if req.is_empty() {
            return Err(Error::sys(libc::EINVAL));
        }
        if req.asking {
            encode_command(&[Bytes::from_static(b"ASKING")], buf);
        }
        buf.reserve(req.commands().map(command_size).sum());
        for c in req.commands() {
            put_command(c, buf);
        }
        if self.raw {
            return Ok(());
        }
        let skip = usize::from(req.asking);
        self.expect.push_back(Expect { left: req.len() + skip, skip });
        Ok(())
    }
}

impl Decoder for ClientCodec {
    type Item = RedisResponse;
    type Error = Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RedisResponse>, Error> {
        loop {
            let Some(v) = self.reader.decode(buf, self.limit).map_err(reply_error)? else {
                return Ok(None);
            };
            if self.raw {
                return Ok(Some(RedisResponse::from_results(vec![v])));
            }
            // Out-of-band pushes (client tracking) are not replies.
            if matches!(v, RedisValue::Push(_)) {
                continue;
            }
            let Some(e) = self.expect.front_mut() else {
                return Err(Error::sys(libc::EBADMSG).with_cause("a reply to no request"));
            };
            if e.skip > 0 {
                e.skip -= 1;
            } else {
                if self.partial.is_empty() {
                    // The response's first reply: room for all of them.
                    self.partial.reserve_exact(e.left);
                }
                self.partial.push(v);
            }
            e.left -= 1;
            if e.left == 0 {
                self.expect.pop_front();
                return Ok(Some(RedisResponse::from_results(std::mem::take(&mut self.partial))));
            }
        }
    }
}

/// The server side: decodes commands (RESP arrays of bulk strings, or
/// inline commands as typed into telnet) by redis-server's rules,
/// encodes replies in RESP2. A request it refuses is answered with
/// redis-server's error text (`-ERR Protocol error: invalid bulk
/// length`, …) and the connection closes.
#[derive(Debug)]
pub struct ServerCodec {
    reader: RequestDecoder,
}

impl ServerCodec {
    /// A codec refusing requests over `limit` bytes (`None`:
    /// redis-server's own query buffer limit, 1 GiB).
    pub(crate) fn new(limit: Option<usize>) -> ServerCodec {
        ServerCodec { reader: RequestDecoder::new(limit.unwrap_or(UNSET_REQUEST_LIMIT)) }
    }

    /// The error reply to the request this codec refused, if it refused
    /// one: redis-server's `-ERR Protocol error: …`.
    pub(crate) fn refusal_reply(&self) -> Option<RedisValue> {
        self.reader.refused().map(|r| RedisValue::Error(r.reply()))
    }
}

impl Decoder for ServerCodec {
    type Item = RedisRequest;
    type Error = Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RedisRequest>, Error> {
        Ok(self.reader.decode(buf).map_err(refusal_error)?.map(RedisRequest::from_parts))
    }
}

impl Encoder<&RedisResponse> for ServerCodec {
    type Error = Error;

    fn encode(&mut self, resp: &RedisResponse, buf: &mut BytesMut) -> Result<(), Error> {
        if resp.results().is_empty() {
            // A reply that was never set: say so rather than send nothing,
            // which would leave the client waiting.
            encode_value(&RedisValue::error("ERR no reply"), buf);
        }
        for v in resp.results() {
            encode_value(v, buf);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut ClientCodec, bytes: &[u8]) -> Vec<RedisResponse> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(r) = codec.decode(&mut buf).unwrap() {
            out.push(r);
        }
        out
    }

    #[test]
    fn command_encoding_is_binary_safe() {
        let mut req = RedisRequest::default();
        req.set_request("SET", [&b"k\r\n"[..], &b"\x00\xff"[..]]);
        let mut buf = BytesMut::new();
        ClientCodec::new(1024).encode(&req, &mut buf).unwrap();
        assert_eq!(&buf[..], b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n\x00\xff\r\n");
    }

    #[test]
    fn replies_split_anywhere_decode_in_order() {
        let mut codec = ClientCodec::new(1024);
        let mut req = RedisRequest::default();
        req.set_request("GET", ["a"]);
        let mut pipeline = RedisRequest::default();
        pipeline.push_command("INCR", ["n"]);
        pipeline.push_command("MGET", ["a", "b"]);
        let mut w = BytesMut::new();
        codec.encode(&req, &mut w).unwrap();
        codec.encode(&pipeline, &mut w).unwrap();
        let wire = b"$1\r\nx\r\n:5\r\n*2\r\n$-1\r\n$2\r\nyz\r\n";
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.put_u8(*b);
            while let Some(r) = codec.decode(&mut buf).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].result().as_str(), Some("x"));
        assert_eq!(got[1].results()[0], RedisValue::Integer(5));
        assert_eq!(got[1].results()[1], RedisValue::Array(vec![RedisValue::Nil, RedisValue::from("yz")]));
    }

    #[test]
    fn asking_reply_is_dropped() {
        let mut codec = ClientCodec::new(1024);
        let mut req = RedisRequest::default();
        req.set_request("GET", ["a"]);
        req.asking = true;
        let mut w = BytesMut::new();
        codec.encode(&req, &mut w).unwrap();
        assert!(w.starts_with(b"*1\r\n$6\r\nASKING\r\n"));
        let r = decode_all(&mut codec, b"+OK\r\n$1\r\nv\r\n");
        assert_eq!(r[0].results(), &[RedisValue::from("v")]);
    }

    #[test]
    fn resp3_kinds_decode() {
        let mut codec = ClientCodec::new(1024);
        codec.set_resp(Resp::V3);
        let mut req = RedisRequest::default();
        req.set_request("X", Vec::<&str>::new());
        let wire: &[u8] = b"%2\r\n+a\r\n,1.5\r\n+b\r\n~2\r\n#t\r\n_\r\n";
        let mut w = BytesMut::new();
        codec.encode(&req, &mut w).unwrap();
        let r = decode_all(&mut codec, wire);
        let v = r[0].result();
        assert_eq!(v.map_get("a"), Some(&RedisValue::Double(1.5)));
        assert_eq!(v.map_get("b"), Some(&RedisValue::Set(vec![RedisValue::Boolean(true), RedisValue::Nil])));
    }

    #[test]
    fn oversized_reply_is_an_error() {
        let mut codec = ClientCodec::new(16);
        let mut req = RedisRequest::default();
        req.set_request("GET", ["a"]);
        codec.encode(&req, &mut BytesMut::new()).unwrap();
        let mut buf = BytesMut::from(&b"$100\r\n0123456789012345678901234567890"[..]);
        let e = codec.decode(&mut buf).unwrap_err();
        assert_eq!(e.code(), libc::EMSGSIZE);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut codec = ClientCodec::new(1024);
        let mut req = RedisRequest::default();
        req.set_request("GET", ["a"]);
        codec.encode(&req, &mut BytesMut::new()).unwrap();
        let mut buf = BytesMut::from(&b"?what\r\n"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap_err().code(), libc::EBADMSG);
    }

    #[test]
    fn server_reads_arrays_and_inline_commands() {
        let mut codec = ServerCodec::new(None);
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING  hi\r\n\r\nQUIT\n"[..]);
        let a = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(a.command(), Some("GET"));
        let b = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(b.command(), Some("PING"));
        assert_eq!(b.params(), &[Bytes::from_static(b"hi")]);
        let c = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(c.command(), Some("QUIT"));
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn server_writes_resp2_for_every_kind() {
        let mut buf = BytesMut::new();
        let v = RedisValue::Array(vec![
            RedisValue::Map(vec![(RedisValue::from("k"), RedisValue::Integer(-3))]),
            RedisValue::Double(2.5),
            RedisValue::Boolean(false),
            RedisValue::error("ERR bad\r\nthing"),
            RedisValue::Nil,
        ]);
        encode_value(&v, &mut buf);
        assert_eq!(&buf[..], b"*5\r\n*2\r\n$1\r\nk\r\n:-3\r\n$3\r\n2.5\r\n:0\r\n-ERR bad  thing\r\n$-1\r\n");
    }
}
