//! The DNS protocol plug-in: the codec (a whole datagram over UDP, a
//! 2-byte length prefix over TCP and TLS) and the protocol value.

use std::io;

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::message::{DnsMessage, Flags, Question, RecordType, rcode};
use super::wire::MAX_MESSAGE;
use crate::Error;
use crate::net::client::{ClientOptions, ClientProtocol, Next, request};
use crate::net::protocol::Protocol;
use crate::net::server::{ServerParams, ServerProtocol};
use crate::net::uri::Uri;
use crate::net::{KeepAlive, Transport};

/// The reply size a UDP client is assumed to take without EDNS (RFC 1035).
pub const UDP_REPLY_LIMIT: usize = 512;
/// The largest UDP reply a server sends, whatever EDNS size a client
/// advertises (the usual DNS flag day figure keeps clear of fragmentation).
pub const UDP_REPLY_MAX: usize = 1232;
/// The most additional records a query to a server may carry (an OPT
/// record, a TSIG, a cookie...): more is refused with `FORMERR`.
const MAX_QUERY_ADDITIONAL: u16 = 4;

/// Encodes and decodes [`DnsMessage`]s: one whole message per datagram, or
/// each behind a 2-byte length over a stream.
///
/// A client's datagram codec may expect a reply to one query: a datagram
/// that is not a reply to it (another ID, another question, not a
/// response) decodes to `Ok(None)`, "not ours", and is ignored. A
/// server's datagram codec remembers the EDNS size of the request it
/// decoded and truncates the reply to it (setting `TC`); a query that is
/// not one question (or carries answer or authority records, or more than
/// a few additional ones) is refused before its records are decoded, and
/// answered `FORMERR`.
#[derive(Clone, Debug, Default)]
pub struct DnsCodec {
    stream: bool,
    expect: Option<(u16, Question)>,
    reply_limit: usize,
    server: bool,
    /// The header of the query just refused, for its `FORMERR` reply.
    refused: Option<(u16, Flags)>,
}

impl DnsCodec {
    /// A codec for a stream (TCP, TLS) when `stream`, else for datagrams.
    pub fn new(stream: bool) -> DnsCodec {
        DnsCodec { stream, expect: None, reply_limit: MAX_MESSAGE, server: false, refused: None }
    }

    /// A server's codec: a message with `QR` set (a response, not a
    /// query) is refused (`InvalidData`), so a UDP server drops it rather
    /// than answer a reflected reply.
    pub fn for_server(stream: bool) -> DnsCodec {
        DnsCodec { server: true, ..DnsCodec::new(stream) }
    }

    /// A datagram codec that takes only the reply to a query with this ID
    /// and question.
    pub fn expecting(id: u16, question: Question) -> DnsCodec {
        DnsCodec { expect: Some((id, question)), ..DnsCodec::new(false) }
    }

    /// A server refuses, from its header alone, a query that is not one
    /// question with at most a few additional records.
    fn check_query(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.server || bytes.len() < 12 || bytes[2] & 0x80 != 0 {
            return Ok(());
        }
        let count = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        if count(4) == 1 && count(6) == 0 && count(8) == 0 && count(10) <= MAX_QUERY_ADDITIONAL {
            return Ok(());
        }
        let flags = Flags::from_bits(u16::from_be_bytes([bytes[2], bytes[3]]));
        self.refused = Some((count(0), flags));
        Err(io::Error::new(io::ErrorKind::InvalidData, "a DNS query must be one question (FORMERR)"))
    }

    /// The `FORMERR` reply to the query [`check_query`](Self::check_query)
    /// refused last, if any.
    fn take_refusal(&mut self) -> Option<DnsMessage> {
        let (id, flags) = self.refused.take()?;
        let flags = Flags { qr: true, opcode: flags.opcode, rd: flags.rd, rcode: rcode::FORMERR, ..Flags::default() };
        Some(DnsMessage { id, flags, ..DnsMessage::default() })
    }

    fn decode_one(&mut self, msg: DnsMessage) -> io::Result<Option<DnsMessage>> {
        if self.server && msg.flags.qr {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "a DNS response sent to a server"));
        }
        if let Some((id, q)) = &self.expect {
            if !is_reply_to(&msg, *id, q) {
                crate::trace::debug!(id = msg.id, "DNS: a datagram that is not the reply, ignored");
                return Ok(None);
            }
        }
        if self.server && !self.stream {
            // A request: the reply may be as large as its EDNS size says.
            self.reply_limit = match msg.additional.iter().find(|r| r.rtype == RecordType::OPT) {
                Some(opt) => usize::from(opt.class).clamp(UDP_REPLY_LIMIT, UDP_REPLY_MAX),
                None => UDP_REPLY_LIMIT,
            };
        }
        Ok(Some(msg))
    }
}

/// Whether `msg` is a response to the query `id` asking `q`: its ID, and
/// its question, or no question at all with an error code (servers answer
/// `FORMERR` or `NOTIMP` without echoing a question they did not take).
pub(crate) fn is_reply_to(msg: &DnsMessage, id: u16, q: &Question) -> bool {
    msg.flags.qr
        && msg.id == id
        && match msg.questions.as_slice() {
            [mq] => mq.matches(q),
            [] => msg.flags.rcode != super::message::rcode::NOERROR,
            _ => false,
        }
}

impl Decoder for DnsCodec {
    type Item = DnsMessage;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<DnsMessage>> {
        if !self.stream {
            if src.is_empty() {
                return Ok(None);
            }
            let datagram = src.split();
            self.check_query(&datagram)?;
            let msg = match DnsMessage::decode(&datagram) {
                Ok(msg) => msg,
                // Garbage from anyone but the server (it does not even
                // carry our ID) must not end the wait for the reply.
                Err(_e) if self.expect.as_ref().is_some_and(|(id, _)| !datagram.starts_with(&id.to_be_bytes())) => {
                    crate::trace::debug!(error = %_e, "DNS: an undecodable datagram without our ID, ignored");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            return self.decode_one(msg);
        }
        if src.len() < 2 {
            return Ok(None);
        }
        let len = u16::from_be_bytes([src[0], src[1]]) as usize;
        if src.len() < 2 + len {
            // Never more than 64 KiB, and nothing reserved ahead of it.
            return Ok(None);
        }
        src.advance(2);
        let bytes = src.split_to(len);
        self.check_query(&bytes)?;
        let msg = DnsMessage::decode(&bytes)?;
        self.decode_one(msg)
    }
}

impl Encoder<&DnsMessage> for DnsCodec {
    type Error = io::Error;

    fn encode(&mut self, msg: &DnsMessage, dst: &mut BytesMut) -> io::Result<()> {
        if self.stream {
            let bytes = msg.to_vec()?;
            dst.reserve(2 + bytes.len());
            dst.put_u16(bytes.len() as u16);
            dst.put_slice(&bytes);
        } else {
            match msg.encode_limited(self.reply_limit) {
                Ok((bytes, _)) => dst.put_slice(&bytes),
                // The questions alone do not fit: the header, truncated,
                // tells the client to ask over TCP.
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                    let mut header = DnsMessage { id: msg.id, flags: msg.flags, ..DnsMessage::default() };
                    header.flags.tc = true;
                    dst.put_slice(&header.to_vec()?);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The DNS protocol: `dns://` (UDP, or TCP when [`Dns::tcp`]) and
/// `dnss://` (DNS over TLS, port 853).
///
/// Use it through [`create_dns_task`](super::create_dns_task), which
/// falls back to TCP on a truncated reply, or through a
/// [`DnsClient`](super::DnsClient). As a value for
/// [`create_client_task`](crate::net::create_client_task) it makes one
/// exchange; as a server protocol see [`DnsServer`](super::DnsServer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dns {
    tcp: bool,
}

impl Dns {
    /// DNS over UDP for `dns://` (`dnss://` is always TLS over TCP).
    pub fn udp() -> Dns {
        Dns::default()
    }

    /// DNS over TCP for `dns://`.
    pub fn tcp() -> Dns {
        Dns { tcp: true }
    }
}

impl Protocol for Dns {
    type Request = DnsMessage;
    type Response = DnsMessage;

    fn schemes(&self) -> &'static [&'static str] {
        &["dns", "dnss"]
    }

    fn tls_schemes(&self) -> &'static [&'static str] {
        &["dnss"]
    }
}

impl ClientProtocol for Dns {
    type ClientCodec = DnsCodec;
    type Handshake = ();

    fn client_codec(&self) -> DnsCodec {
        DnsCodec::new(self.tcp)
    }

    /// Over UDP, only the reply to `req` (its ID and question) is taken:
    /// other datagrams are ignored, as spoofed or late replies must be.
    fn reply_codec(&self, req: &DnsMessage) -> DnsCodec {
        match req.questions.first() {
            Some(q) => DnsCodec::expecting(req.id, q.clone()),
            None => self.client_codec(),
        }
    }

    fn handshake(&self, _uri: &Uri, _opts: &ClientOptions) -> Result<(), Error> {
        Ok(())
    }

    /// UDP for `dns://` unless the value is [`Dns::tcp`]; `dnss://` is TLS
    /// and needs [`Dns::tcp`] (with [`Dns::udp`] it fails with
    /// `SYS_ERROR`/`EPROTONOSUPPORT`, as any TLS scheme over UDP).
    fn transport(&self, _uri: &Uri) -> Transport {
        if self.tcp { Transport::Stream } else { Transport::Datagram }
    }

    /// Workflow keeps DNS connections 60 s.
    fn default_keep_alive(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }

    /// A connection is kept only after the reply to the request (after
    /// a reply to anything else it is out of step, and closed).
    fn keep_alive(&self, req: &DnsMessage, resp: &DnsMessage) -> KeepAlive {
        match req.questions.first() {
            Some(q) if is_reply_to(resp, req.id, q) => KeepAlive::Keep,
            _ => KeepAlive::Close,
        }
    }

    /// A query needs one question, and a name that can be written. An ID
    /// of 0 is replaced with a random one.
    fn prepare(&self, req: &mut DnsMessage, _uri: &Uri, _opts: &ClientOptions) -> Result<(), Error> {
        if req.id == 0 {
            req.id = random_id();
        }
        if req.questions.len() != 1 {
            return Err(Error::sys(libc::EINVAL));
        }
        if !super::wire::is_valid_name(&req.questions[0].name) {
            return Err(Error::sys(libc::EINVAL));
        }
        Ok(())
    }

    /// Over a stream, a reply to another query is a broken server:
    /// `SYS_ERROR`/`EBADMSG` (over UDP it was ignored already).
    fn on_reply(&self, req: &mut DnsMessage, resp: &DnsMessage, _uri: &Uri, _may_redirect: bool) -> Next {
        match req.questions.first() {
            Some(q) if is_reply_to(resp, req.id, q) => Next::Done,
            _ => Next::Fail(Error::sys(libc::EBADMSG)),
        }
    }
}

impl ServerProtocol for Dns {
    type ServerCodec = DnsCodec;

    fn server_codec(&self, _params: &ServerParams) -> DnsCodec {
        DnsCodec::for_server(self.tcp)
    }

    /// Workflow's DNS server: connections kept 300 s, TLS accept 5 s.
    fn server_params(&self) -> ServerParams {
        ServerParams {
            keep_alive_timeout: Some(std::time::Duration::from_secs(300)),
            ssl_accept_timeout: Some(std::time::Duration::from_secs(5)),
            request_size_limit: Some(MAX_MESSAGE + 2),
            ..ServerParams::default()
        }
    }

    /// What Workflow's DNS server fills by itself: ID, questions, opcode,
    /// `RD` and `QR`.
    fn prepare_reply(&self, req: &DnsMessage, resp: &mut DnsMessage, _seq: u64) {
        resp.id = req.id;
        resp.flags.qr = true;
        resp.flags.opcode = req.flags.opcode;
        resp.flags.rd = req.flags.rd;
        if resp.questions.is_empty() {
            resp.questions = req.questions.clone();
        }
    }

    /// `FORMERR` for a query the codec refused from its header (not one
    /// question, answer or authority records, too many additional ones),
    /// over UDP and over a stream (which then closes). Otherwise nothing:
    /// a request that does not decode closes a stream connection (its
    /// framing can no longer be trusted), and a datagram that does not
    /// decode is dropped (it may not even be DNS).
    fn error_reply(&self, codec: &mut DnsCodec, _error: &Error) -> Option<DnsMessage> {
        codec.take_refusal()
    }
}

/// A random query ID (`RandomState` keys are random per process and per
/// call on the same thread advance).
pub(crate) fn random_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish() as u16
}

/// One query to the server of `uri`: over UDP first (unless `dnss://`),
/// again over TCP when the reply is truncated (with the same ID; an ID of
/// 0 is replaced with a random one by `Dns::prepare`).
pub(crate) async fn query(uri: &Uri, req: &mut DnsMessage, opts: &ClientOptions) -> Result<DnsMessage, Error> {
    if req.questions.len() != 1 {
        return Err(Error::sys(libc::EINVAL));
    }
    if !uri.scheme().eq_ignore_ascii_case("dnss") {
        let resp = request(&Dns::udp(), uri, req, opts).await?;
        if !resp.flags.tc {
            return Ok(resp);
        }
        crate::trace::debug!(uri = %uri.as_str(), "DNS reply truncated, asking again over TCP");
    }
    request(&Dns::tcp(), uri, req, opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_framing_resumes() {
        let mut q = DnsMessage::query("example.com", RecordType::AAAA);
        q.id = 7;
        let mut codec = DnsCodec::new(true);
        let mut wire = BytesMut::new();
        codec.encode(&q, &mut wire).unwrap();
        codec.encode(&q, &mut wire).unwrap();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire.iter() {
            buf.put_u8(*b);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got, vec![q.clone(), q]);
    }

    #[test]
    fn declared_length_reserves_nothing() {
        let mut codec = DnsCodec::new(true);
        let mut buf = BytesMut::from(&[0xff, 0xff, 1, 2, 3][..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() < 4096);
        // A length shorter than a header.
        let mut buf = BytesMut::from(&[0, 3, 1, 2, 3][..]);
        assert_eq!(codec.decode(&mut buf).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn datagram_not_ours_is_ignored() {
        let mut q = DnsMessage::query("example.com", RecordType::A);
        q.id = 42;
        let mut r = q.reply();
        let mut codec = DnsCodec::expecting(42, q.questions[0].clone());
        let mut enc = DnsCodec::new(false);
        let mut buf = BytesMut::new();
        enc.encode(&r, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf.clone()).unwrap(), Some(r.clone()));
        // Another ID, another question, a query instead of a reply.
        r.id = 43;
        let mut buf = BytesMut::new();
        enc.encode(&r, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        let mut r2 = q.reply();
        r2.set_question("example.org", RecordType::A);
        let mut buf = BytesMut::new();
        enc.encode(&r2, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        let mut buf = BytesMut::new();
        enc.encode(&q, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        // Garbage is ignored, unless it carries our ID (then the server
        // is broken).
        let mut buf = BytesMut::from(&b"garbage-garbage"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        let mut buf = BytesMut::from(&b"\x00\x2agarbage-garbage"[..]);
        assert!(codec.decode(&mut buf).is_err());
        // No question, but an error code: the server refused the query.
        let mut r3 = q.reply();
        r3.questions.clear();
        let mut buf = BytesMut::new();
        enc.encode(&r3, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        r3.flags.rcode = rcode::FORMERR;
        let mut buf = BytesMut::new();
        enc.encode(&r3, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(r3));
    }

    #[test]
    fn names_with_punctuation_match_their_reply() {
        let mut q = DnsMessage::query("A+b.Example", RecordType::A);
        q.id = 5;
        let r = q.reply();
        let mut buf = BytesMut::new();
        DnsCodec::new(false).encode(&r, &mut buf).unwrap();
        // The reply decodes its name as `a\043b.example`.
        let mut codec = DnsCodec::expecting(5, Question::new("a+b.example.", RecordType::A));
        let got = codec.decode(&mut buf).unwrap().expect("the reply is ours");
        assert_eq!(got.questions[0].name, "A\\043b.Example");
    }

    #[test]
    fn udp_reply_whose_questions_do_not_fit_is_a_truncated_header() {
        let mut q = DnsMessage::query("example.com", RecordType::A);
        q.id = 77;
        let mut codec = DnsCodec::for_server(false);
        let mut buf = BytesMut::new();
        DnsCodec::new(false).encode(&q, &mut buf).unwrap();
        codec.decode(&mut buf).unwrap().expect("a query");
        let mut r = q.reply();
        for c in [b'a', b'b', b'c'] {
            let label = String::from_utf8(vec![c; 60]).unwrap();
            r.questions.push(Question::new(&[label.as_str(); 3].join("."), RecordType::A));
        }
        let mut out = BytesMut::new();
        codec.encode(&r, &mut out).unwrap();
        let back = DnsMessage::decode(&out).unwrap();
        assert_eq!((out.len(), back.id, back.flags.tc, back.flags.qr), (12, 77, true, true));
    }

    #[test]
    fn connection_kept_only_after_the_reply() {
        let mut q = DnsMessage::query("example.com", RecordType::A);
        q.id = 9;
        let mut r = q.reply();
        assert_eq!(Dns::tcp().keep_alive(&q, &r), KeepAlive::Keep);
        r.id = 10;
        assert_eq!(Dns::tcp().keep_alive(&q, &r), KeepAlive::Close);
    }
}
