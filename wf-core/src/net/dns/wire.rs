//! The DNS wire format (RFC 1035 §4): decoding with bounds on everything a
//! hostile peer controls, and encoding with name compression.
//!
//! Decoding limits: a message of at most 65,535 bytes, names of at most
//! 255 bytes on the wire and labels of 63, at most [`MAX_POINTERS`]
//! compression pointers per name, each pointing strictly before the
//! place it is read from (so a loop is impossible), counts never trusted
//! for allocation (each record takes at least 11 bytes of the message),
//! and every record's data exactly its declared length. The text of all
//! names decoded from one message is bounded too ([`name_text_budget`]):
//! compression lets a 2-byte pointer stand for a 255-byte name.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::message::{DnsMessage, Flags, Question, RData, Record, RecordType};
pub(crate) use super::name::{MAX_NAME, is_valid_name, labels};

/// The largest DNS message (its TCP length prefix is 16 bits).
pub const MAX_MESSAGE: usize = 65_535;
/// Compression pointers followed within one name at most.
pub const MAX_POINTERS: usize = 32;
const HEADER: usize = 12;

/// The most name text decoding a message of `len` bytes may produce:
/// 16 times its length, at least 64 KiB, at most 1 MiB (beyond that only
/// pointers repeated to amplify memory get there).
pub(crate) fn name_text_budget(len: usize) -> usize {
    len.saturating_mul(16).clamp(64 << 10, 1 << 20)
}

fn bad(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad DNS message: {what}"))
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Name text still allowed (see [`name_text_budget`]).
    budget: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| bad("too short"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> io::Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name at the current position.
    fn name(&mut self) -> io::Result<String> {
        let mut out = String::new();
        let mut wire_len = 0usize;
        let mut pos = self.pos;
        // Where reading goes on after the name: set at the first pointer.
        let mut resume = None;
        let mut pointers = 0;
        // A pointer must point before the start of the labels it follows.
        let mut floor = pos;
        loop {
            let len = *self.buf.get(pos).ok_or_else(|| bad("name runs past the end"))? as usize;
            match len & 0xc0 {
                0x00 => {
                    pos += 1;
                    wire_len += 1 + len;
                    if wire_len > MAX_NAME {
                        return Err(bad("name longer than 255 bytes"));
                    }
                    if len == 0 {
                        break;
                    }
                    let label = self.buf.get(pos..pos + len).ok_or_else(|| bad("label runs past the end"))?;
                    if !out.is_empty() {
                        out.push('.');
                    }
                    escape_label(label, &mut out);
                    pos += len;
                }
                0xc0 => {
                    let lo = *self.buf.get(pos + 1).ok_or_else(|| bad("pointer runs past the end"))? as usize;
                    let target = ((len & 0x3f) << 8) | lo;
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(bad("too many compression pointers"));
                    }
                    if target >= floor {
                        return Err(bad("compression pointer does not point backwards"));
                    }
                    resume.get_or_insert(pos + 2);
                    pos = target;
                    floor = target;
                }
                _ => return Err(bad("unknown label type")),
            }
        }
        self.budget = self.budget.checked_sub(out.len()).ok_or_else(|| bad("names too long"))?;
        self.pos = resume.unwrap_or(pos);
        Ok(out)
    }
}

/// Appends a label as text: letters, digits, `-`, `_` and `*` as they are,
/// `.` and `\` escaped with a backslash, anything else as `\DDD`.
fn escape_label(label: &[u8], out: &mut String) {
    for &b in label {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'*' | b'/' => out.push(b as char),
            b'.' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
}

fn record(r: &mut Reader<'_>) -> io::Result<Record> {
    let name = r.name()?;
    let rtype = RecordType(r.u16()?);
    let class = r.u16()?;
    let ttl = r.u32()?;
    let len = r.u16()? as usize;
    let start = r.pos;
    let end =
        start.checked_add(len).filter(|&e| e <= r.buf.len()).ok_or_else(|| bad("record data runs past the end"))?;
    let data = match rtype {
        RecordType::A if len == 4 => {
            let b = r.take(4)?;
            RData::A(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
        RecordType::AAAA if len == 16 => {
            let b: [u8; 16] = r.take(16)?.try_into().expect("16 bytes");
            RData::Aaaa(Ipv6Addr::from(b))
        }
        RecordType::A | RecordType::AAAA => return Err(bad("address of the wrong length")),
        RecordType::CNAME => RData::Cname(r.name()?),
        RecordType::NS => RData::Ns(r.name()?),
        RecordType::PTR => RData::Ptr(r.name()?),
        RecordType::MX => RData::Mx { preference: r.u16()?, exchange: r.name()? },
        RecordType::SRV => RData::Srv { priority: r.u16()?, weight: r.u16()?, port: r.u16()?, target: r.name()? },
        RecordType::SOA => RData::Soa {
            mname: r.name()?,
            rname: r.name()?,
            serial: r.u32()?,
            refresh: r.u32()?,
            retry: r.u32()?,
            expire: r.u32()?,
            minimum: r.u32()?,
        },
        RecordType::TXT => {
            let mut strings = Vec::new();
            while r.pos < end {
                let n = r.u8()? as usize;
                if r.pos + n > end {
                    return Err(bad("TXT string runs past its record"));
                }
                strings.push(Bytes::copy_from_slice(r.take(n)?));
            }
            RData::Txt(strings)
        }
        _ => RData::Raw(Bytes::copy_from_slice(r.take(len)?)),
    };
    if r.pos != end {
        return Err(bad("record data of the wrong length"));
    }
    Ok(Record { name, rtype, class, ttl, data })
}

impl DnsMessage {
    /// Decodes one whole message (without the TCP length prefix).
    ///
    /// # Errors
    ///
    /// `InvalidData` for anything malformed: too short or too long,
    /// bytes past the last record, a name over the limits, a compression
    /// loop, a record's data not of its declared length, names whose text
    /// adds up to more than 16 times the message's length (at least
    /// 64 KiB, at most 1 MiB: "names too long").
    pub fn decode(buf: &[u8]) -> io::Result<DnsMessage> {
        if buf.len() > MAX_MESSAGE {
            return Err(bad("longer than 65,535 bytes"));
        }
        if buf.len() < HEADER {
            return Err(bad("shorter than its header"));
        }
        let mut r = Reader { buf, pos: 0, budget: name_text_budget(buf.len()) };
        let id = r.u16()?;
        let flags = Flags::from_bits(r.u16()?);
        let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        // A question takes 5 bytes at least, a record 11: counts beyond
        // what the bytes can hold are lies, refused before any allocation.
        let min = 5 * counts[0] as usize + 11 * (counts[1] as usize + counts[2] as usize + counts[3] as usize);
        if min > buf.len() - HEADER {
            return Err(bad("more entries than bytes"));
        }
        let mut questions = Vec::with_capacity(counts[0] as usize);
        for _ in 0..counts[0] {
            questions.push(Question { name: r.name()?, qtype: RecordType(r.u16()?), qclass: r.u16()? });
        }
        let mut sections: [Vec<Record>; 3] = Default::default();
        for (section, &n) in sections.iter_mut().zip(&counts[1..]) {
            section.reserve(n as usize);
            for _ in 0..n {
                section.push(record(&mut r)?);
            }
        }
        if r.pos != buf.len() {
            return Err(bad("bytes after the last record"));
        }
        let [answers, authority, additional] = sections;
        Ok(DnsMessage { id, flags, questions, answers, authority, additional })
    }

    /// Encodes the message (without the TCP length prefix), names
    /// compressed.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a name that cannot be written (a label over 63
    /// bytes, a name over 255, an empty label), a TXT string over 255
    /// bytes or record data over 65,535; `EMSGSIZE` for a message over
    /// 65,535 bytes.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        match self.encode_limited(MAX_MESSAGE)? {
            (buf, false) => Ok(buf),
            (_, true) => Err(io::Error::from_raw_os_error(libc::EMSGSIZE)),
        }
    }

    /// Encodes the message in at most `limit` bytes (512, or an EDNS
    /// size, for a UDP reply): records that do not fit are left out, and
    /// `TC` is set if an answer or authority record had to be. Returns the
    /// bytes and whether anything was left out.
    ///
    /// # Errors
    ///
    /// As [`to_vec`](DnsMessage::to_vec); `EMSGSIZE` also when the header
    /// and questions alone do not fit.
    pub fn encode_limited(&self, limit: usize) -> io::Result<(Vec<u8>, bool)> {
        let limit = limit.min(MAX_MESSAGE);
        let mut w = Writer { buf: Vec::with_capacity(512.min(limit)), names: HashMap::new() };
        w.buf.extend_from_slice(&self.id.to_be_bytes());
        w.buf.extend_from_slice(&self.flags.to_bits().to_be_bytes());
        let count = |n: usize| u16::try_from(n).map_err(|_| invalid("more than 65,535 entries".into()));
        w.buf.extend_from_slice(&count(self.questions.len())?.to_be_bytes());
        w.buf.extend_from_slice(&[0; 6]);
        for q in &self.questions {
            w.name(&q.name, true)?;
            w.buf.extend_from_slice(&q.qtype.0.to_be_bytes());
            w.buf.extend_from_slice(&q.qclass.to_be_bytes());
        }
        if w.buf.len() > limit {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        }
        let mut truncated = false;
        let mut tc = false;
        for (i, section) in [&self.answers, &self.authority, &self.additional].into_iter().enumerate() {
            let mut n = 0u16;
            for rec in section {
                if truncated {
                    break;
                }
                let mark = (w.buf.len(), w.names.len());
                w.record(rec)?;
                if w.buf.len() > limit {
                    w.buf.truncate(mark.0);
                    if w.names.len() != mark.1 {
                        w.names.retain(|_, &mut off| (off as usize) < mark.0);
                    }
                    truncated = true;
                    tc = i < 2;
                    break;
                }
                n = count(n as usize + 1)?;
            }
            w.buf[6 + 2 * i..8 + 2 * i].copy_from_slice(&n.to_be_bytes());
        }
        if tc {
            w.buf[2] |= 0x02;
        }
        Ok((w.buf, truncated))
    }
}

struct Writer {
    buf: Vec<u8>,
    /// Offsets of names already written, by their text suffix (case kept,
    /// so that what is decoded again is what was encoded).
    names: HashMap<String, u16>,
}

impl Writer {
    fn name(&mut self, name: &str, compress: bool) -> io::Result<()> {
        let labels = labels(name)?;
        for i in 0..labels.len() {
            let suffix = suffix_key(&labels[i..]);
            if compress {
                if let Some(&off) = self.names.get(&suffix) {
                    self.buf.extend_from_slice(&(0xc000 | off).to_be_bytes());
                    return Ok(());
                }
            }
            if self.buf.len() < 0x4000 {
                self.names.insert(suffix, self.buf.len() as u16);
            }
            self.buf.push(labels[i].len() as u8);
            self.buf.extend_from_slice(&labels[i]);
        }
        self.buf.push(0);
        Ok(())
    }

    fn record(&mut self, r: &Record) -> io::Result<()> {
        self.name(&r.name, true)?;
        self.buf.extend_from_slice(&r.rtype.0.to_be_bytes());
        self.buf.extend_from_slice(&r.class.to_be_bytes());
        self.buf.extend_from_slice(&r.ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        match &r.data {
            RData::A(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => self.buf.extend_from_slice(&a.octets()),
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => self.name(n, true)?,
            RData::Mx { preference, exchange } => {
                self.buf.extend_from_slice(&preference.to_be_bytes());
                self.name(exchange, true)?;
            }
            RData::Srv { priority, weight, port, target } => {
                for v in [priority, weight, port] {
                    self.buf.extend_from_slice(&v.to_be_bytes());
                }
                // RFC 2782: the target is never compressed.
                self.name(target, false)?;
            }
            RData::Soa { mname, rname, serial, refresh, retry, expire, minimum } => {
                self.name(mname, true)?;
                self.name(rname, true)?;
                for v in [serial, refresh, retry, expire, minimum] {
                    self.buf.extend_from_slice(&v.to_be_bytes());
                }
            }
            RData::Txt(strings) => {
                for s in strings {
                    let n = u8::try_from(s.len()).map_err(|_| invalid("TXT string longer than 255 bytes".into()))?;
                    self.buf.push(n);
                    self.buf.extend_from_slice(s);
                }
            }
            RData::Raw(b) => self.buf.extend_from_slice(b),
        }
        let len =
            u16::try_from(self.buf.len() - len_at - 2).map_err(|_| invalid("record data over 65,535 bytes".into()))?;
        self.buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

fn suffix_key(labels: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for l in labels {
        escape_label(l, &mut s);
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_amplification_bounded() {
        // One 250-byte name, then CNAME records whose owner and target
        // are both 2-byte pointers to it: 14 bytes on the wire for 500
        // bytes of text each.
        let mut v = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..4 {
            v.push(61);
            v.extend_from_slice(&[b'a'; 61]);
        }
        v.push(0);
        v.extend_from_slice(&[0, 5, 0, 1]);
        let mut n = 0u16;
        while v.len() + 14 <= MAX_MESSAGE {
            v.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 5, 0, 2, 0xc0, 12]);
            n += 1;
        }
        v[6..8].copy_from_slice(&n.to_be_bytes());
        let e = DnsMessage::decode(&v).unwrap_err();
        assert!(e.to_string().contains("names too long"), "{e}");
        // A few of them are fine.
        let keep = 12 + 4 * 62 + 1 + 4 + 100 * 14;
        v.truncate(keep);
        v[6..8].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(DnsMessage::decode(&v).unwrap().answers.len(), 100);
    }
    use crate::net::dns::message::rcode;

    fn sample() -> DnsMessage {
        let mut m = DnsMessage::query("www.example.com", RecordType::A);
        m.id = 0xbeef;
        let mut r = m.reply();
        r.flags.ra = true;
        r.answers = vec![
            Record::new("www.example.com", 30, RData::Cname("web.example.com".into())),
            Record::new("web.example.com", 30, RData::A(Ipv4Addr::new(192, 0, 2, 7))),
            Record::new("web.example.com", 30, RData::Aaaa("2001:db8::7".parse().unwrap())),
            Record::new("example.com", 30, RData::Mx { preference: 10, exchange: "mail.example.com".into() }),
            Record::new("example.com", 30, RData::Txt(vec![Bytes::from_static(b"v=spf1 -all"), Bytes::new()])),
            Record::new(
                "_h._tcp.example.com",
                30,
                RData::Srv { priority: 1, weight: 2, port: 8080, target: "web.example.com".into() },
            ),
            Record::new("7.2.0.192.in-addr.arpa", 30, RData::Ptr("web.example.com".into())),
            Record::raw("example.com", RecordType(99), 5, &b"\x01\x02"[..]),
        ];
        r.authority = vec![Record::new(
            "example.com",
            60,
            RData::Soa {
                mname: "ns.example.com".into(),
                rname: "hostmaster.example.com".into(),
                serial: 1,
                refresh: 2,
                retry: 3,
                expire: 4,
                minimum: 5,
            },
        )];
        r.additional = vec![Record::new("ns.example.com", 60, RData::Ns("ns2.example.com".into()))];
        r
    }

    #[test]
    fn round_trip_every_type() {
        let m = sample();
        let wire = m.to_vec().unwrap();
        assert_eq!(DnsMessage::decode(&wire).unwrap(), m);
        // Compression makes it much smaller than the names written out.
        assert!(wire.len() < 330, "{}", wire.len());
    }

    #[test]
    fn header_bits() {
        let f = Flags { qr: true, opcode: 2, aa: true, tc: true, rd: true, ra: true, ad: true, cd: true, rcode: 5 };
        assert_eq!(Flags::from_bits(f.to_bits()), f);
        assert_eq!(Flags::from_bits(0x8183).rcode, rcode::NXDOMAIN);
    }

    #[test]
    fn escaped_names_round_trip() {
        let mut m = DnsMessage::query("a\\.b.c\\032d.e", RecordType::TXT);
        m.answers.push(Record::new("a\\.b.c\\032d.e", 1, RData::Txt(vec![])));
        let back = DnsMessage::decode(&m.to_vec().unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(labels("a\\.b.c\\032d.e").unwrap(), vec![b"a.b".to_vec(), b"c d".to_vec(), b"e".to_vec()]);
    }

    #[test]
    fn bad_names_refused_on_encode() {
        for name in ["a..b", ".a", &"x".repeat(64), &["abcdefghi"; 26].join(".")] {
            let m = DnsMessage::query(name, RecordType::A);
            assert_eq!(m.to_vec().unwrap_err().kind(), io::ErrorKind::InvalidInput, "{name}");
        }
        assert!(is_valid_name(&["abcdefghi"; 25].join(".")));
        assert!(is_valid_name("") && is_valid_name("."));
    }

    fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x81, 0x80];
        for n in [qd, an, 0, 0] {
            v.extend_from_slice(&n.to_be_bytes());
        }
        v
    }

    #[test]
    fn compression_loop_refused() {
        // A question whose name points at itself.
        let mut v = header(1, 0);
        v.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(DnsMessage::decode(&v).unwrap_err().to_string().contains("backwards"));
        // Two pointers pointing at each other, the second reached first.
        let mut v = header(1, 0);
        v.extend_from_slice(&[1, b'a', 0xc0, 16, 0xc0, 14, 0, 1, 0, 1]);
        assert!(DnsMessage::decode(&v).is_err());
        // A pointer forwards.
        let mut v = header(1, 0);
        v.extend_from_slice(&[0xc0, 20, 0, 1, 0, 1, 0, 0, 0]);
        assert!(DnsMessage::decode(&v).is_err());
    }

    /// A name reached through `hops` pointers, each to the one before,
    /// kept in the raw data of a record of an unknown type.
    fn chain(hops: usize) -> Vec<u8> {
        let mut m = header(1, 2);
        m.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
        m.extend_from_slice(&[0xc0, 12, 0, 99, 0, 1, 0, 0, 0, 0]);
        m.extend_from_slice(&((2 * (hops - 1)) as u16).to_be_bytes());
        let mut prev = 12usize;
        for _ in 0..hops - 1 {
            let at = m.len();
            m.extend_from_slice(&(0xc000 | prev as u16).to_be_bytes());
            prev = at;
        }
        m.extend_from_slice(&(0xc000 | prev as u16).to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
        m
    }

    #[test]
    fn pointer_chain_bounded() {
        let ok = DnsMessage::decode(&chain(MAX_POINTERS)).unwrap();
        assert_eq!(ok.answers[1].name, "a");
        let e = DnsMessage::decode(&chain(MAX_POINTERS + 1)).unwrap_err();
        assert!(e.to_string().contains("too many compression pointers"), "{e}");
    }

    #[test]
    fn lying_counts_and_lengths() {
        // 65,535 answers declared, none present: refused without allocating.
        let v = header(1, u16::MAX);
        assert!(DnsMessage::decode(&v).unwrap_err().to_string().contains("more entries"));
        // A record whose data length runs past the end.
        let mut m = DnsMessage::query("a", RecordType::A);
        m.answers.push(Record::new("a", 1, RData::A(Ipv4Addr::LOCALHOST)));
        let mut wire = m.to_vec().unwrap();
        let n = wire.len();
        wire[n - 6..n - 4].copy_from_slice(&100u16.to_be_bytes());
        assert!(DnsMessage::decode(&wire).is_err());
        // An A record of 5 bytes.
        wire[n - 6..n - 4].copy_from_slice(&5u16.to_be_bytes());
        wire.push(0);
        assert!(DnsMessage::decode(&wire).is_err());
        // Trailing garbage.
        let mut wire = m.to_vec().unwrap();
        wire.push(0);
        assert!(DnsMessage::decode(&wire).is_err());
        // A TXT string longer than its record.
        let mut t = DnsMessage::query("a", RecordType::TXT);
        t.answers.push(Record::new("a", 1, RData::Txt(vec![Bytes::from_static(b"abc")])));
        let mut wire = t.to_vec().unwrap();
        let n = wire.len();
        wire[n - 4] = 9;
        assert!(DnsMessage::decode(&wire).is_err());
        // Reserved label types.
        let mut v = header(1, 0);
        v.extend_from_slice(&[0x40, 0, 0, 1, 0, 1]);
        assert!(DnsMessage::decode(&v).is_err());
    }

    #[test]
    fn long_name_refused() {
        // 128 labels of 1 byte: 257 bytes on the wire.
        let mut v = header(1, 0);
        for _ in 0..128 {
            v.extend_from_slice(&[1, b'a']);
        }
        v.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert!(DnsMessage::decode(&v).unwrap_err().to_string().contains("255"));
    }

    /// Every prefix and every single-byte change of a valid message
    /// decodes or fails cleanly.
    #[test]
    fn mutations_never_panic() {
        let wire = sample().to_vec().unwrap();
        for n in 0..wire.len() {
            let _ = DnsMessage::decode(&wire[..n]);
        }
        let mut seed = 0x9e37_79b9_u32;
        for i in 0..wire.len() {
            for _ in 0..8 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let mut m = wire.clone();
                m[i] = seed as u8;
                if let Ok(d) = DnsMessage::decode(&m) {
                    // What decodes encodes again.
                    let _ = d.to_vec();
                }
            }
        }
    }

    #[test]
    fn truncation_sets_tc() {
        let mut m = DnsMessage::query("many.example", RecordType::A);
        m = m.reply();
        for i in 0..100u8 {
            m.answers.push(Record::new("many.example", 1, RData::A(Ipv4Addr::new(10, 0, 0, i))));
        }
        let (wire, cut) = m.encode_limited(512).unwrap();
        assert!(cut && wire.len() <= 512);
        let d = DnsMessage::decode(&wire).unwrap();
        assert!(d.flags.tc);
        assert!(!d.answers.is_empty() && d.answers.len() < 100);
        assert_eq!(d.answers[..], m.answers[..d.answers.len()]);
        // Only additional records left out: no TC.
        let mut a = DnsMessage::query("x", RecordType::A).reply();
        a.answers.push(Record::new("x", 1, RData::A(Ipv4Addr::LOCALHOST)));
        for _ in 0..60 {
            a.additional.push(Record::new("x", 1, RData::Txt(vec![Bytes::from(vec![b'z'; 200])])));
        }
        let (wire, cut) = a.encode_limited(512).unwrap();
        let d = DnsMessage::decode(&wire).unwrap();
        assert!(cut && !d.flags.tc && d.answers.len() == 1);
        // The whole message over 64 KiB.
        assert_eq!(a.encode_limited(512).map(|_| ()).ok(), Some(()));
        for _ in 0..400 {
            a.additional.push(Record::new("x", 1, RData::Txt(vec![Bytes::from(vec![b'z'; 200])])));
        }
        assert_eq!(a.to_vec().unwrap_err().raw_os_error(), Some(libc::EMSGSIZE));
    }
}
