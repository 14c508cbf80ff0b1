//! The request decoder: a multibulk of bulk strings or an inline command,
//! by redis-server's rules, resumable (see the [module](super)
//! documentation).

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::{Line, find_line, string2ll};

/// redis-server's `PROTO_INLINE_MAX_SIZE`: the longest inline command,
/// and the longest a count line may grow without its end.
pub(crate) const INLINE_MAX: usize = 64 << 10;

/// redis-server's default `proto-max-bulk-len`: the largest argument.
pub(crate) const MAX_BULK: i64 = 512 << 20;

/// Fewest bytes an argument takes (`$0\r\n\r\n`): a declared count whose
/// arguments cannot fit the size limit is refused at once.
const MIN_ARG: usize = 6;

/// Arguments a decoder makes room for before they arrive: more come as
/// they do.
const PREALLOCATED_ARGS: usize = 64;

/// Why a request was refused: what redis-server answers (the same text)
/// before it closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A multibulk count that is not a number, or above 2^31 - 1.
    InvalidMultibulkLength,
    /// A bulk length that is not a number, negative, or above 512 MiB.
    InvalidBulkLength,
    /// An argument that is not a bulk string: its first byte.
    ExpectedBulk(u8),
    /// Bulk data not followed by CRLF (redis-server skips the two bytes
    /// unread; wf refuses them rather than read what follows askew).
    MissingCrlf,
    /// A count line longer than [`INLINE_MAX`].
    TooBigCount,
    /// A bulk length line longer than [`INLINE_MAX`].
    TooBigBulkCount,
    /// An inline command longer than [`INLINE_MAX`] (or the size limit).
    TooBigInline,
    /// A request over the server's size limit, arrived or declared.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl Refusal {
    /// The error code of a task or connection refused for it: `EMSGSIZE`
    /// for sizes, `EBADMSG` for what is not RESP.
    pub(crate) fn code(self) -> i32 {
        match self {
            Refusal::TooBigCount | Refusal::TooBigBulkCount | Refusal::TooBigInline | Refusal::TooLarge { .. } => {
                libc::EMSGSIZE
            }
            _ => libc::EBADMSG,
        }
    }

    /// The error reply, as redis-server words it.
    pub(crate) fn reply(self) -> Bytes {
        match self {
            Refusal::ExpectedBulk(c) => {
                // The byte as it came, as redis-server's `%c` (a CR or LF
                // becomes a space when the line is written).
                let mut text = b"ERR Protocol error: expected '$', got '".to_vec();
                text.push(c);
                text.push(b'\'');
                Bytes::from(text)
            }
            other => Bytes::from(other.to_string()),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ERR Protocol error: ")?;
        match self {
            Refusal::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            Refusal::InvalidBulkLength => f.write_str("invalid bulk length"),
            Refusal::ExpectedBulk(c) => write!(f, "expected '$', got '{}'", c.escape_ascii()),
            Refusal::MissingCrlf => f.write_str("expected CRLF after bulk data"),
            Refusal::TooBigCount => f.write_str("too big mbulk count string"),
            Refusal::TooBigBulkCount => f.write_str("too big bulk count string"),
            Refusal::TooBigInline => f.write_str("too big inline request"),
            Refusal::TooLarge { limit } => write!(f, "request too large (limit {limit} bytes)"),
        }
    }
}

impl std::error::Error for Refusal {}

/// Decodes requests from the front of a read buffer, one at a time,
/// keeping its place between reads.
#[derive(Debug)]
pub(crate) struct RequestDecoder {
    limit: usize,
    /// The first byte of the request not examined yet.
    pos: usize,
    /// How far the search for the current line's end has gone.
    scan: usize,
    /// Arguments of the multibulk still to come (0: none begun).
    left: usize,
    /// The length of the argument whose header was read.
    bulk: Option<usize>,
    /// The arguments so far, as offsets.
    args: Vec<(usize, usize)>,
    /// Refused: every later call says so again.
    refused: Option<Refusal>,
    /// Bytes examined in all (tests check that it is linear).
    #[cfg(test)]
    pub(super) examined: usize,
}

impl RequestDecoder {
    /// A decoder refusing requests over `limit` bytes.
    pub(crate) fn new(limit: usize) -> RequestDecoder {
        RequestDecoder {
            limit,
            pos: 0,
            scan: 0,
            left: 0,
            bulk: None,
            args: Vec::new(),
            refused: None,
            #[cfg(test)]
            examined: 0,
        }
    }

    /// The refusal, once a request was refused.
    pub(crate) fn refused(&self) -> Option<Refusal> {
        self.refused
    }

    /// The next request's words, taken out of `buf`; `None` until all of
    /// it has arrived. Empty requests (`*0`, blank lines) are skipped.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, Refusal> {
        if let Some(r) = self.refused {
            return Err(r);
        }
        if buf.len() < self.pos {
            // The buffer was emptied under us: start afresh.
            self.restart();
        }
        let result = self.next(buf);
        if let Err(r) = result {
            self.refused = Some(r);
        }
        result
    }

    fn restart(&mut self) {
        self.pos = 0;
        self.scan = 0;
        self.left = 0;
        self.bulk = None;
        self.args.clear();
        if self.args.capacity() > 4 * PREALLOCATED_ARGS {
            // A huge request does not keep its memory for the next.
            self.args = Vec::new();
        }
    }

    /// Where the line starting at `pos` ends, at most `max` bytes on.
    fn line(&mut self, view: &[u8], max: usize) -> Line {
        #[cfg(test)]
        let from = self.scan.max(self.pos);
        let line = find_line(view, self.pos, &mut self.scan, max);
        #[cfg(test)]
        {
            self.examined += match line {
                Line::End(lf) => lf + 1 - from,
                _ => self.scan - from,
            };
        }
        line
    }

    fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, Refusal> {
        loop {
            // Bytes past the limit are never looked at: what is decided
            // depends on the bytes, not on how they arrived.
            let view = &buf[..buf.len().min(self.limit.saturating_add(1))];
            match self.parse(view)? {
                Step::More if buf.len() > self.limit => return Err(Refusal::TooLarge { limit: self.limit }),
                Step::More => return Ok(None),
                Step::Nothing(n) => {
                    buf.advance(n);
                    self.restart();
                }
                Step::Inline(lf) => {
                    let words = words(buf.split_to(lf + 1).freeze());
                    self.restart();
                    if !words.is_empty() {
                        return Ok(Some(words));
                    }
                }
                Step::Multibulk => {
                    if self.pos > self.limit {
                        return Err(Refusal::TooLarge { limit: self.limit });
                    }
                    let frame = buf.split_to(self.pos).freeze();
                    let words = self.args.iter().map(|&(s, e)| frame.slice(s..e)).collect();
                    self.restart();
                    return Ok(Some(words));
                }
            }
        }
    }

    /// Reads the request at the front of `view` from where it stopped.
    fn parse(&mut self, view: &[u8]) -> Result<Step, Refusal> {
        if self.left == 0 {
            let Some(&first) = view.first() else { return Ok(Step::More) };
            if first != b'*' {
                return match self.line(view, self.limit.min(INLINE_MAX)) {
                    Line::End(lf) => Ok(Step::Inline(lf)),
                    Line::More => Ok(Step::More),
                    Line::TooLong => Err(Refusal::TooBigInline),
                };
            }
            let lf = match self.line(view, INLINE_MAX) {
                Line::End(lf) => lf,
                Line::More => return Ok(Step::More),
                Line::TooLong => return Err(Refusal::TooBigCount),
            };
            let n =
                number(&view[1..lf]).filter(|&n| n <= i64::from(i32::MAX)).ok_or(Refusal::InvalidMultibulkLength)?;
            if n <= 0 {
                // redis-server: no command, the next one follows.
                return Ok(Step::Nothing(lf + 1));
            }
            let n = n as usize;
            self.pos = lf + 1;
            self.scan = self.pos;
            if self.pos.saturating_add(n.saturating_mul(MIN_ARG)) > self.limit {
                return Err(Refusal::TooLarge { limit: self.limit });
            }
            self.left = n;
            self.args.reserve(n.min(PREALLOCATED_ARGS));
        }
        while self.left > 0 {
            if let Some(len) = self.bulk {
                let end = self.pos + len;
                if view.len() < end + 2 {
                    return Ok(Step::More);
                }
                #[cfg(test)]
                {
                    self.examined += 2;
                }
                if view[end..end + 2] != *b"\r\n" {
                    return Err(Refusal::MissingCrlf);
                }
                self.args.push((self.pos, end));
                self.pos = end + 2;
                self.scan = self.pos;
                self.bulk = None;
                self.left -= 1;
                continue;
            }
            let Some(&c) = view.get(self.pos) else { return Ok(Step::More) };
            if c != b'$' {
                return Err(Refusal::ExpectedBulk(c));
            }
            let lf = match self.line(view, INLINE_MAX) {
                Line::End(lf) => lf,
                Line::More => return Ok(Step::More),
                Line::TooLong => return Err(Refusal::TooBigBulkCount),
            };
            let len = number(&view[self.pos + 1..lf])
                .filter(|&n| (0..=MAX_BULK).contains(&n))
                .ok_or(Refusal::InvalidBulkLength)? as usize;
            self.pos = lf + 1;
            self.scan = self.pos;
            // This argument, and the shortest the others could be.
            let least = (self.left - 1).saturating_mul(MIN_ARG);
            if self.pos.saturating_add(len + 2).saturating_add(least) > self.limit {
                return Err(Refusal::TooLarge { limit: self.limit });
            }
            self.bulk = Some(len);
        }
        Ok(Step::Multibulk)
    }
}

/// What [`RequestDecoder::parse`] found.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// The request goes on past what arrived.
    More,
    /// A multibulk, `pos` bytes.
    Multibulk,
    /// An inline command, its `\n` at this index.
    Inline(usize),
    /// No command (`*0`, `*-1`) in these bytes.
    Nothing(usize),
}

/// The words of an inline command's line (blank: none).
fn words(line: Bytes) -> Vec<Bytes> {
    let mut text = line.slice(..line.len() - 1);
    if text.ends_with(b"\r") {
        text.truncate(text.len() - 1);
    }
    let mut words = Vec::new();
    let mut at = 0;
    for word in text.split(|c| *c == b' ' || *c == b'\t') {
        if !word.is_empty() {
            words.push(text.slice(at..at + word.len()));
        }
        at += word.len() + 1;
    }
    words
}

/// A count or length line's number (`\r` included at its end), as
/// redis-server reads it.
fn number(line: &[u8]) -> Option<i64> {
    string2ll(line.strip_suffix(b"\r")?)
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    const MIB: usize = 1 << 20;

    /// Requests decoded from `wire` arriving whole, then the refusal if
    /// any.
    fn decode_all(wire: &[u8], limit: usize) -> (Vec<Vec<Bytes>>, Option<Refusal>) {
        let mut d = RequestDecoder::new(limit);
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        loop {
            match d.decode(&mut buf) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn words(r: &[Bytes]) -> Vec<&str> {
        r.iter().map(|w| std::str::from_utf8(w).unwrap()).collect()
    }

    fn refusal(wire: &[u8]) -> Option<Refusal> {
        decode_all(wire, MIB).1
    }

    #[test]
    fn redis_servers_refusals_and_texts() {
        use Refusal::*;
        let cases: &[(&[u8], Refusal, &str)] = &[
            (b"*1\r\n*1\r\n", ExpectedBulk(b'*'), "ERR Protocol error: expected '$', got '*'"),
            (b"*1\r\n:4\r\n", ExpectedBulk(b':'), "ERR Protocol error: expected '$', got ':'"),
            (b"*2147483648\r\n", InvalidMultibulkLength, "ERR Protocol error: invalid multibulk length"),
            (b"*01\r\n", InvalidMultibulkLength, "ERR Protocol error: invalid multibulk length"),
            (b"*-0\r\n", InvalidMultibulkLength, "ERR Protocol error: invalid multibulk length"),
            (b"*\r\n", InvalidMultibulkLength, "ERR Protocol error: invalid multibulk length"),
            (b"*1x\r\n", InvalidMultibulkLength, "ERR Protocol error: invalid multibulk length"),
            (b"*1\n", InvalidMultibulkLength, "ERR Protocol error: invalid multibulk length"),
            (b"*1\r\n$536870913\r\n", InvalidBulkLength, "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$-1\r\n", InvalidBulkLength, "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$04\r\n", InvalidBulkLength, "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$\r\n", InvalidBulkLength, "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$4\r\nPINGxx", MissingCrlf, "ERR Protocol error: expected CRLF after bulk data"),
        ];
        for &(wire, r, text) in cases {
            assert_eq!(refusal(wire), Some(r), "{}", wire.escape_ascii());
            assert_eq!(r.reply(), text.as_bytes());
            assert_eq!(r.to_string(), text);
            assert_eq!(r.code(), libc::EBADMSG);
        }
        let long = [b"*".as_slice(), &[b'1'; 70_000]].concat();
        assert_eq!(decode_all(&long, usize::MAX).1, Some(TooBigCount));
        let long = [b"*1\r\n$".as_slice(), &[b'1'; 70_000]].concat();
        assert_eq!(decode_all(&long, usize::MAX).1, Some(TooBigBulkCount));
        assert_eq!(decode_all(&[b'x'; 70_000], usize::MAX).1, Some(TooBigInline));
        assert_eq!(TooBigInline.code(), libc::EMSGSIZE);
        assert_eq!(TooBigInline.to_string(), "ERR Protocol error: too big inline request");
        // A byte that would end the error line is sent as it came (the
        // encoder makes it a space).
        assert_eq!(&ExpectedBulk(b'\r').reply()[..], b"ERR Protocol error: expected '$', got '\r'");
    }

    #[test]
    fn refusals_stick() {
        let mut d = RequestDecoder::new(MIB);
        let mut buf = BytesMut::from(&b"*1\r\n:1\r\n*1\r\n$4\r\nPING\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Err(Refusal::ExpectedBulk(b':')));
        assert_eq!(d.decode(&mut buf), Err(Refusal::ExpectedBulk(b':')));
        assert_eq!(d.refused(), Some(Refusal::ExpectedBulk(b':')));
    }

    #[test]
    fn commands_inline_and_empty() {
        let wire = b"*-5\r\n*0\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n\r\n\n  PING  a\tb\r\nQUIT\n*1\r\n$0\r\n\r\n";
        let (reqs, refused) = decode_all(wire, MIB);
        assert_eq!(refused, None);
        let got: Vec<Vec<&str>> = reqs.iter().map(|r| words(r)).collect();
        assert_eq!(got, [vec!["GET", "k"], vec!["PING", "a", "b"], vec!["QUIT"], vec![""]]);
        // Split anywhere, the same requests.
        for cut in 0..wire.len() {
            let mut d = RequestDecoder::new(MIB);
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut out = Vec::new();
            while let Some(r) = d.decode(&mut buf).unwrap() {
                out.push(r);
            }
            buf.extend_from_slice(&wire[cut..]);
            while let Some(r) = d.decode(&mut buf).unwrap() {
                out.push(r);
            }
            assert_eq!(out, reqs, "cut at {cut}");
        }
    }

    #[test]
    fn arguments_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let r = RequestDecoder::new(MIB).decode(&mut buf).unwrap().unwrap();
        assert_eq!((r[0].as_ptr() as usize, r[1].as_ptr() as usize), (base + 8, base + 17));
    }

    #[test]
    fn the_size_limit_holds_however_a_request_arrives() {
        // Declared: refused at the header, before any data.
        assert_eq!(decode_all(b"*1\r\n$2000\r\n", 1024).1, Some(Refusal::TooLarge { limit: 1024 }));
        assert_eq!(decode_all(b"*1000\r\n", 1024).1, Some(Refusal::TooLarge { limit: 1024 }));
        assert_eq!(decode_all(b"*2\r\n$1017\r\n", 1024).1, Some(Refusal::TooLarge { limit: 1024 }));
        assert_eq!(decode_all(b"*1\r\n$1010\r\n", 1024).1, None);
        // Arrived whole.
        let big = [b"*1\r\n$1014\r\n".as_slice(), &[b'x'; 1014], b"\r\n"].concat();
        assert_eq!(big.len(), 1027);
        assert_eq!(decode_all(&big, 1026).1, Some(Refusal::TooLarge { limit: 1026 }));
        assert_eq!(decode_all(&big, 1027).0.len(), 1);
        // Streamed in small arguments: refused once the buffer holds more
        // than the limit, nothing kept past it.
        let mut d = RequestDecoder::new(1024);
        let mut buf = BytesMut::from(&b"*1000000\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Err(Refusal::TooLarge { limit: 1024 }));
        let mut d = RequestDecoder::new(MIB);
        // 170,000 arguments of at least 6 bytes fit 1 MiB, of 7 do not.
        let mut buf = BytesMut::from(&b"*170000\r\n"[..]);
        let e = loop {
            buf.extend_from_slice(b"$1\r\nx\r\n");
            match d.decode(&mut buf) {
                Ok(None) => {}
                Ok(Some(_)) => panic!("a request over the limit"),
                Err(e) => break e,
            }
        };
        assert_eq!(e, Refusal::TooLarge { limit: MIB });
        assert!(buf.len() <= MIB + 7, "{} bytes buffered", buf.len());
        assert_eq!(e.code(), libc::EMSGSIZE);
        assert_eq!(e.to_string(), "ERR Protocol error: request too large (limit 1048576 bytes)");
        // Inline: the smaller of the limit and 64 KiB.
        assert_eq!(decode_all(&[b'x'; 200], 100).1, Some(Refusal::TooBigInline));
    }

    #[test]
    fn a_declared_huge_count_allocates_for_what_arrived() {
        let mut d = RequestDecoder::new(usize::MAX);
        let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        for _ in 0..10 {
            buf.extend_from_slice(b"$1\r\nx\r\n");
            assert_eq!(d.decode(&mut buf), Ok(None));
        }
        assert!(d.args.capacity() <= 2 * PREALLOCATED_ARGS, "{}", d.args.capacity());
    }

    /// Each byte is examined once (CRLFs after data twice): a request of
    /// 200,000 arguments fed one byte at a time, which would take hours
    /// were it parsed again on each read.
    #[test]
    fn decoding_is_linear_in_the_bytes() {
        const N: usize = 200_000;
        let mut wire = format!("*{N}\r\n").into_bytes();
        for i in 0..N {
            let arg = (i % 1000).to_string();
            wire.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        let mut d = RequestDecoder::new(wire.len());
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in &wire {
            assert!(got.is_none());
            buf.put_u8(b);
            got = d.decode(&mut buf).unwrap();
        }
        let got = got.unwrap();
        assert_eq!(got.len(), N);
        assert_eq!(&got[N - 1][..], b"999");
        assert!(d.examined <= wire.len() + 2 * N, "examined {} bytes of {}", d.examined, wire.len());
        // Its memory is not kept for the next request.
        assert!(d.args.capacity() <= 4 * PREALLOCATED_ARGS);
    }

    /// The same bytes give the same answer however they arrive: a length
    /// line that ends past the limit is refused for the limit, not read
    /// when it arrived whole (and refused for its number).
    #[test]
    fn the_answer_does_not_depend_on_how_bytes_arrive() {
        let cases: &[(&[u8], usize)] = &[
            (b"*1\r\n$111111111111111111111111111111\r\n", 20),
            (b"*111111111111111111111111111111\r\n", 20),
            (b"PING aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 20),
            (b"*1\r\n$4\r\nPING\r\n*1\r\n$3\r\nabcdefghijkl", 20),
        ];
        for &(wire, limit) in cases {
            let whole = decode_all(wire, limit);
            let mut d = RequestDecoder::new(limit);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut refused = None;
            'feed: for &b in wire {
                buf.put_u8(b);
                loop {
                    match d.decode(&mut buf) {
                        Ok(Some(r)) => out.push(r),
                        Ok(None) => break,
                        Err(e) => {
                            refused = Some(e);
                            break 'feed;
                        }
                    }
                }
            }
            assert_eq!((out, refused), whole, "{}", wire.escape_ascii());
            assert!(whole.1.is_some());
        }
    }
}
