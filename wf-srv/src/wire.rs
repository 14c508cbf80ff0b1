//! The DNS wire format (RFC 1035), as much as SRV discovery needs: a
//! query's encoding and a reply's decoding, bounded everywhere.
//!
//! The decoder takes any bytes a peer sends and either returns a
//! [`Message`] or a [`DnsError`]; it never panics, never loops and never
//! allocates for what a count or length only declares:
//!
//! - a message is at most [`MAX_MESSAGE`] bytes;
//! - a label at most 63 bytes, a name at most 255 bytes on the wire;
//! - a compression pointer must point before the name part that holds it
//!   (so pointers cannot loop), and a name follows at most
//!   [`MAX_POINTERS`] of them;
//! - the four counts together at most [`MAX_RECORDS`], and no more than the
//!   bytes left can hold (a question takes 5 bytes at least, a record 11);
//! - a record's data must fit its declared length, and A, AAAA and SRV data
//!   must have their exact size.
//!
//! ```
//! use wf_srv::wire::{self, RData, Message};
//!
//! let query = wire::encode_query(0x1234, "_http._tcp.example.test", wire::TYPE_SRV).unwrap();
//! // A reply echoes the query's header and question.
//! let mut reply = query.clone();
//! reply[2] |= 0x80; // QR: a response
//! let msg = Message::decode(&reply).unwrap();
//! assert_eq!(msg.header.id, 0x1234);
//! assert_eq!(msg.questions[0].name, "_http._tcp.example.test");
//! assert!(msg.answers.is_empty());
//!
//! // A name whose compression pointer points at itself is refused.
//! let mut bad = reply[..12].to_vec();
//! bad.extend_from_slice(&[0xC0, 12, 0, 33, 0, 1]);
//! assert!(Message::decode(&bad).is_err());
//! # let _ = RData::Other(0);
//! ```

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::DnsError;

/// The largest message: what a TCP length prefix can announce.
pub const MAX_MESSAGE: usize = 65535;
/// The longest name on the wire, length bytes and the root label included.
pub const MAX_NAME: usize = 255;
/// The longest label.
pub const MAX_LABEL: usize = 63;
/// How many compression pointers one name may follow.
pub const MAX_POINTERS: usize = 64;
/// How many questions and records one message may hold, all sections
/// together.
pub const MAX_RECORDS: usize = 1024;

/// Record type A (an IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type CNAME.
pub const TYPE_CNAME: u16 = 5;
/// Record type AAAA (an IPv6 address).
pub const TYPE_AAAA: u16 = 28;
/// Record type SRV (RFC 2782).
pub const TYPE_SRV: u16 = 33;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Response code: no error.
pub const RCODE_NOERROR: u8 = 0;
/// Response code: the name does not exist (NXDOMAIN).
pub const RCODE_NXDOMAIN: u8 = 3;

const HEADER_LEN: usize = 12;
const MIN_QUESTION: usize = 5;
const MIN_RECORD: usize = 11;

/// A message's fixed 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The query ID a reply echoes.
    pub id: u16,
    /// QR, opcode, AA, TC, RD, RA, Z and RCODE bits.
    pub flags: u16,
    /// Questions declared.
    pub qdcount: u16,
    /// Answer records declared.
    pub ancount: u16,
    /// Authority records declared.
    pub nscount: u16,
    /// Additional records declared.
    pub arcount: u16,
}

impl Header {
    /// Reads the header, the first 12 bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Header, DnsError> {
        let b = buf.get(..HEADER_LEN).ok_or(DnsError::Truncated)?;
        let u = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Ok(Header { id: u(0), flags: u(2), qdcount: u(4), ancount: u(6), nscount: u(8), arcount: u(10) })
    }

    /// QR: the message is a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// TC: the server cut the message short (ask again over TCP).
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// The opcode (0 for a standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }

    /// The response code (0: no error, 3: no such name).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xF) as u8
    }
}

/// A question: the name, type and class asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name, labels joined by `.`, without the final dot.
    pub name: String,
    /// The type asked for ([`TYPE_SRV`]…).
    pub qtype: u16,
    /// The class ([`CLASS_IN`]).
    pub qclass: u16,
}

/// The service a SRV record names (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Lower is preferred.
    pub priority: u16,
    /// Among records of one priority, the relative share.
    pub weight: u16,
    /// The port of the service on the target.
    pub port: u16,
    /// The host name; `""` (the root, `.`) means "no service here".
    pub target: String,
}

/// What a record holds, for the types discovery reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A service location.
    Srv(Srv),
    /// An alias's canonical name.
    Cname(String),
    /// Any other type (its number); the data is skipped.
    Other(u16),
}

/// A resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name, without the final dot.
    pub name: String,
    /// The record's type.
    pub rtype: u16,
    /// The record's class.
    pub class: u16,
    /// How long it may be cached, in seconds.
    pub ttl: u32,
    /// The data.
    pub data: RData,
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section.
    pub additional: Vec<Record>,
}

/// Encodes a standard query (recursion desired) for `name` and `qtype`,
/// class IN.
///
/// `name` is dot-separated, a final dot allowed; an empty label, a label
/// over 63 bytes or a name over 255 bytes is [`DnsError::InvalidName`].
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    encode_name(name, &mut out)?;
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

/// Appends `name` in wire form (no compression).
fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), DnsError> {
    let invalid = || DnsError::InvalidName(name.chars().take(300).collect());
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let start = out.len();
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > MAX_LABEL {
                return Err(invalid());
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() - start > MAX_NAME {
        return Err(invalid());
    }
    Ok(())
}

impl Message {
    /// Decodes a whole message (see the [module](self) for the limits).
    /// Bytes after the last declared record are ignored.
    pub fn decode(buf: &[u8]) -> Result<Message, DnsError> {
        if buf.len() > MAX_MESSAGE {
            return Err(DnsError::MessageTooLong(buf.len()));
        }
        let header = Header::decode(buf)?;
        let counts = [header.qdcount, header.ancount, header.nscount, header.arcount].map(usize::from);
        let total: usize = counts.iter().sum();
        let room = buf.len() - HEADER_LEN;
        let least = counts[0] * MIN_QUESTION + (total - counts[0]) * MIN_RECORD;
        if total > MAX_RECORDS || least > room {
            return Err(DnsError::TooManyRecords(total));
        }
        let mut r = Reader { buf, pos: HEADER_LEN };
        let mut questions = Vec::with_capacity(counts[0]);
        for _ in 0..counts[0] {
            let name = r.name()?;
            let qtype = r.u16()?;
            let qclass = r.u16()?;
            questions.push(Question { name, qtype, qclass });
        }
        let mut sections = [Vec::new(), Vec::new(), Vec::new()];
        for (section, &count) in sections.iter_mut().zip(&counts[1..]) {
            section.reserve(count);
            for _ in 0..count {
                section.push(r.record()?);
            }
        }
        let [answers, authority, additional] = sections;
        Ok(Message { header, questions, answers, authority, additional })
    }
}

/// A cursor over a message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], DnsError> {
        let end = self.pos.checked_add(n).ok_or(DnsError::Truncated)?;
        let b = self.buf.get(self.pos..end).ok_or(DnsError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DnsError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a possibly compressed name; the cursor moves past its
    /// in-place part.
    fn name(&mut self) -> Result<String, DnsError> {
        let (name, end) = read_name(self.buf, self.pos)?;
        self.pos = end;
        Ok(name)
    }

    fn record(&mut self) -> Result<Record, DnsError> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = usize::from(self.u16()?);
        let start = self.pos;
        let end = start + len;
        if end > self.buf.len() {
            return Err(DnsError::Truncated);
        }
        let exact = |want: usize, what: &'static str| {
            if len == want { Ok(()) } else { Err(DnsError::BadRecord(what)) }
        };
        let data = match rtype {
            TYPE_A => {
                exact(4, "A data is not 4 bytes")?;
                let b = self.bytes(4)?;
                RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            TYPE_AAAA => {
                exact(16, "AAAA data is not 16 bytes")?;
                let mut a = [0u8; 16];
                a.copy_from_slice(self.bytes(16)?);
                RData::Aaaa(Ipv6Addr::from(a))
            }
            TYPE_SRV => {
                if len < 7 {
                    return Err(DnsError::BadRecord("SRV data shorter than 7 bytes"));
                }
                let priority = self.u16()?;
                let weight = self.u16()?;
                let port = self.u16()?;
                let target = self.name()?;
                if self.pos != end {
                    return Err(DnsError::BadRecord("SRV target does not end with its data"));
                }
                RData::Srv(Srv { priority, weight, port, target })
            }
            TYPE_CNAME => {
                let target = self.name()?;
                if self.pos != end {
                    return Err(DnsError::BadRecord("CNAME target does not end with its data"));
                }
                RData::Cname(target)
            }
            other => {
                self.pos = end;
                RData::Other(other)
            }
        };
        Ok(Record { name, rtype, class, ttl, data })
    }
}

/// Reads the name at `pos`: the name (labels joined by `.`, bytes other
/// than letters, digits, `-` and `_` written `\DDD`) and where its in-place
/// part ends.
fn read_name(buf: &[u8], mut pos: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut wire_len = 0usize;
    let mut hops = 0usize;
    let mut end = None;
    // Where the name part being read starts: a pointer must point before it.
    let mut segment = pos;
    loop {
        let len = *buf.get(pos).ok_or(DnsError::Truncated)?;
        match len & 0xC0 {
            0x00 if len == 0 => {
                wire_len += 1;
                if wire_len > MAX_NAME {
                    return Err(DnsError::NameTooLong);
                }
                return Ok((name, end.unwrap_or(pos + 1)));
            }
            0x00 => {
                let l = usize::from(len);
                wire_len += 1 + l;
                if wire_len >= MAX_NAME {
                    return Err(DnsError::NameTooLong);
                }
                let label = buf.get(pos + 1..pos + 1 + l).ok_or(DnsError::Truncated)?;
                if !name.is_empty() {
                    name.push('.');
                }
                for &b in label {
                    if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                        name.push(b as char);
                    } else {
                        let _ = write!(name, "\\{b:03}");
                    }
                }
                pos += 1 + l;
            }
            0xC0 => {
                let low = *buf.get(pos + 1).ok_or(DnsError::Truncated)?;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                end.get_or_insert(pos + 2);
                hops += 1;
                if hops > MAX_POINTERS {
                    return Err(DnsError::PointerLoop);
                }
                if target >= segment {
                    return Err(DnsError::BadPointer);
                }
                pos = target;
                segment = target;
            }
            _ => return Err(DnsError::BadLabelType(len)),
        }
    }
}

/// Whether two names are the same (ASCII case-insensitive, a final dot
/// ignored).
pub fn same_name(a: &str, b: &str) -> bool {
    a.strip_suffix('.').unwrap_or(a).eq_ignore_ascii_case(b.strip_suffix('.').unwrap_or(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply builder for the tests.
    struct Reply(Vec<u8>);

    impl Reply {
        fn new(id: u16, flags: u16, counts: [u16; 4]) -> Reply {
            let mut b = Vec::new();
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&flags.to_be_bytes());
            for c in counts {
                b.extend_from_slice(&c.to_be_bytes());
            }
            Reply(b)
        }

        fn name(mut self, name: &str) -> Reply {
            encode_name(name, &mut self.0).unwrap();
            self
        }

        fn raw(mut self, bytes: &[u8]) -> Reply {
            self.0.extend_from_slice(bytes);
            self
        }

        fn u16(self, v: u16) -> Reply {
            self.raw(&v.to_be_bytes())
        }

        fn u32(self, v: u32) -> Reply {
            self.raw(&v.to_be_bytes())
        }
    }

    #[test]
    fn query_encoding() {
        let q = encode_query(0xABCD, "_x._tcp.Example.", TYPE_SRV).unwrap();
        let mut want = vec![0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x02_x\x04_tcp\x07Example\x00\x00\x21\x00\x01");
        assert_eq!(q, want);
        let root = encode_query(1, ".", TYPE_A).unwrap();
        assert_eq!(&root[12..], &[0, 0, 1, 0, 1]);
    }

    #[test]
    fn query_name_limits() {
        assert!(matches!(encode_query(1, "a..b", TYPE_A), Err(DnsError::InvalidName(_))));
        assert!(matches!(encode_query(1, &"a".repeat(64), TYPE_A), Err(DnsError::InvalidName(_))));
        assert!(encode_query(1, &"a".repeat(63), TYPE_A).is_ok());
        // 4 labels of 63 = 256 bytes on the wire with the root: too long.
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(matches!(encode_query(1, &long, TYPE_A), Err(DnsError::InvalidName(_))));
        // 3×64 + 1 + 62 = 255: the longest name.
        let max = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "b".repeat(61));
        let q = encode_query(1, &max, TYPE_A).unwrap();
        let msg = Message::decode(&q).unwrap();
        assert_eq!(msg.questions[0].name, max);
    }

    #[test]
    fn srv_reply_with_compression_and_additional() {
        // Question at 12; answers point back to it; the SRV target is
        // compressed against the question's suffix.
        let r = Reply::new(7, 0x8180, [1, 2, 0, 1]).name("_h._tcp.ex.test").u16(TYPE_SRV).u16(CLASS_IN);
        let target_at = r.0.len() + 12 + 6;
        let r = r
            .raw(&[0xC0, 12])
            .u16(TYPE_SRV)
            .u16(CLASS_IN)
            .u32(30)
            .u16(6 + 4)
            .u16(10)
            .u16(5)
            .u16(8080)
            .raw(&[1, b'a', 0xC0, 20]) // "a" + pointer to "ex.test"
            .raw(&[0xC0, 12])
            .u16(TYPE_SRV)
            .u16(CLASS_IN)
            .u32(60)
            .u16(6 + 1)
            .u16(20)
            .u16(0)
            .u16(8081)
            .raw(&[0]) // "." : no service
            .raw(&[0xC0, target_at as u8])
            .u16(TYPE_A)
            .u16(CLASS_IN)
            .u32(90)
            .u16(4)
            .raw(&[127, 0, 0, 1]);
        let m = Message::decode(&r.0).unwrap();
        assert_eq!(m.header.id, 7);
        assert!(m.header.is_response() && !m.header.truncated());
        assert_eq!(m.questions, vec![Question { name: "_h._tcp.ex.test".into(), qtype: TYPE_SRV, qclass: CLASS_IN }]);
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[0].name, "_h._tcp.ex.test");
        assert_eq!(m.answers[0].ttl, 30);
        assert_eq!(
            m.answers[0].data,
            RData::Srv(Srv { priority: 10, weight: 5, port: 8080, target: "a.ex.test".into() })
        );
        assert_eq!(m.answers[1].data, RData::Srv(Srv { priority: 20, weight: 0, port: 8081, target: String::new() }));
        assert_eq!(m.additional[0].name, "a.ex.test");
        assert_eq!(m.additional[0].data, RData::A(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn odd_bytes_in_labels_are_escaped() {
        let m = Message::decode(&Reply::new(1, 0x8000, [1, 0, 0, 0]).raw(b"\x03a.b\x02\x00z\x00\x00\x01\x00\x01").0)
            .unwrap();
        assert_eq!(m.questions[0].name, "a\\046b.\\000z");
    }

    #[test]
    fn compression_attacks() {
        let q = |bytes: &[u8]| Message::decode(&Reply::new(1, 0x8000, [1, 0, 0, 0]).raw(bytes).u32(0x0001_0001).0);
        // Self pointer, forward pointer, two labels pointing at each other.
        assert_eq!(q(&[0xC0, 12]), Err(DnsError::BadPointer));
        assert_eq!(q(&[0xC0, 14, 0]), Err(DnsError::BadPointer));
        assert_eq!(q(&[1, b'a', 0xC0, 12]), Err(DnsError::BadPointer));
        // A pointer past the end, and one cut in half.
        assert_eq!(q(&[0xFF, 0xFF]), Err(DnsError::BadPointer));
        assert_eq!(
            Message::decode(&Reply::new(1, 0x8000, [1, 0, 0, 0]).raw(&[0xC0]).0),
            Err(DnsError::TooManyRecords(1))
        );
        // Reserved label types.
        assert_eq!(q(&[0x40, 0]), Err(DnsError::BadLabelType(0x40)));
        assert_eq!(q(&[0x80, 0]), Err(DnsError::BadLabelType(0x80)));
    }

    #[test]
    fn pointer_chain_is_bounded() {
        // Names at 12.. each pointing at the one before: "a" then a chain
        // of 100 pointers, each to the previous pointer.
        let mut r = Reply::new(1, 0x8000, [101, 0, 0, 0]).raw(&[1, b'a', 0]).u32(0x0001_0001);
        let mut prev = 12usize;
        for _ in 0..100 {
            let here = r.0.len();
            r = r.raw(&[0xC0 | (prev >> 8) as u8, prev as u8]).u32(0x0001_0001);
            prev = here;
        }
        assert_eq!(Message::decode(&r.0), Err(DnsError::PointerLoop));
    }

    #[test]
    fn name_length_is_bounded() {
        // 5 labels of 63 bytes: over 255 on the wire, without compression…
        let mut raw = Vec::new();
        for _ in 0..5 {
            raw.push(63);
            raw.extend_from_slice(&[b'x'; 63]);
        }
        raw.push(0);
        let m = Message::decode(&Reply::new(1, 0x8000, [1, 0, 0, 0]).raw(&raw).u32(0x0001_0001).0);
        assert_eq!(m, Err(DnsError::NameTooLong));
        // …and built from pointers to ever longer suffixes.
        let mut r = Reply::new(1, 0x8000, [3, 0, 0, 0]).raw(&raw[128..]).u32(0x0001_0001);
        r = r.raw(&raw[..64]).raw(&[0xC0, 12]).u32(0x0001_0001);
        let second = 12 + raw.len() - 128 + 4;
        r = r.raw(&raw[..64]).raw(&[0xC0, second as u8]).u32(0x0001_0001);
        assert_eq!(Message::decode(&r.0), Err(DnsError::NameTooLong));
    }

    #[test]
    fn counts_and_lengths_are_checked() {
        // Huge counts in a short message: refused before any allocation.
        let m = Message::decode(&Reply::new(1, 0x8000, [0, 0xFFFF, 0xFFFF, 0xFFFF]).0);
        assert_eq!(m, Err(DnsError::TooManyRecords(3 * 0xFFFF)));
        let m = Message::decode(&Reply::new(1, 0x8000, [0, 2, 0, 0]).raw(&[0; 21]).0);
        assert_eq!(m, Err(DnsError::TooManyRecords(2)));
        // Short header, cut record, data over the end.
        assert_eq!(Message::decode(&[0; 11]), Err(DnsError::Truncated));
        let cut = Reply::new(1, 0x8000, [0, 1, 0, 0]).raw(&[0]).u16(TYPE_A).u16(1).u32(1).u16(4).raw(&[1, 2, 3]);
        assert_eq!(Message::decode(&cut.0), Err(DnsError::Truncated));
        let over = Reply::new(1, 0x8000, [0, 1, 0, 0]).raw(&[0]).u16(99).u16(1).u32(1).u16(40000).raw(&[0; 8]);
        assert_eq!(Message::decode(&over.0), Err(DnsError::Truncated));
        // Wrong data sizes.
        let a5 = Reply::new(1, 0x8000, [0, 1, 0, 0]).raw(&[0]).u16(TYPE_A).u16(1).u32(1).u16(5).raw(&[0; 5]);
        assert!(matches!(Message::decode(&a5.0), Err(DnsError::BadRecord(_))));
        let srv = Reply::new(1, 0x8000, [0, 1, 0, 0]).raw(&[0]).u16(TYPE_SRV).u16(1).u32(1).u16(9).raw(&[0; 6]);
        let srv = srv.raw(&[0, 0, 0]); // target "." then 2 bytes too many
        assert!(matches!(Message::decode(&srv.0), Err(DnsError::BadRecord(_))));
        let srv = Reply::new(1, 0x8000, [0, 1, 0, 0]).raw(&[0]).u16(TYPE_SRV).u16(1).u32(1).u16(6).raw(&[0; 6]);
        assert!(matches!(Message::decode(&srv.raw(&[0]).0), Err(DnsError::BadRecord(_))));
        // Too long.
        assert_eq!(Message::decode(&vec![0; MAX_MESSAGE + 1]), Err(DnsError::MessageTooLong(MAX_MESSAGE + 1)));
        // Other types are skipped by their length.
        let txt = Reply::new(1, 0x8000, [0, 1, 0, 0]).raw(&[0]).u16(16).u16(1).u32(1).u16(3).raw(b"\x02hi");
        assert_eq!(Message::decode(&txt.0).unwrap().answers[0].data, RData::Other(16));
    }

    #[test]
    fn names_compare_case_insensitively() {
        assert!(same_name("A.Example.", "a.example"));
        assert!(!same_name("a.example", "b.example"));
    }
}
