//! The request decoder: a multibulk of bulk strings or an inline command,
//! by redis-server's rules, resumable (see the [module](super)
//! documentation).

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::{find_lf, string2ll};

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

    /// The end of the line beginning at `pos` (its `\n`), searching from
    /// where the last search stopped.
    fn line_end(&mut self, buf: &[u8]) -> Option<usize> {
        let from = self.scan.max(self.pos);
        let found = find_lf(buf, from);
        #[cfg(test)]
        {
            self.examined += found.map_or(buf.len(), |lf| lf + 1).saturating_sub(from);
        }
        if found.is_none() {
            self.scan = buf.len();
        }
        found
    }

    /// `None` while the request is incomplete, refusing it once it holds
    /// more than the limit.
    fn incomplete(&self, buf: &[u8]) -> Result<Option<Vec<Bytes>>, Refusal> {
        if buf.len() > self.limit { Err(Refusal::TooLarge { limit: self.limit }) } else { Ok(None) }
    }

    fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, Refusal> {
        loop {
            if self.left == 0 {
                let Some(&first) = buf.first() else { return Ok(None) };
                if first != b'*' {
                    match self.inline(buf)? {
                        Some(words) if words.is_empty() => continue,
                        other => return Ok(other),
                    }
                }
                let Some(lf) = self.line_end(buf) else {
                    if buf.len() > INLINE_MAX {
                        return Err(Refusal::TooBigCount);
                    }
                    return self.incomplete(buf);
                };
                let n =
                    number(&buf[1..lf]).filter(|&n| n <= i64::from(i32::MAX)).ok_or(Refusal::InvalidMultibulkLength)?;
                if n <= 0 {
                    // redis-server: no command, the next one follows.
                    buf.advance(lf + 1);
                    self.restart();
                    continue;
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
                    if buf.len() < end + 2 {
                        return self.incomplete(buf);
                    }
                    #[cfg(test)]
                    {
                        self.examined += 2;
                    }
                    if buf[end..end + 2] != *b"\r\n" {
                        return Err(Refusal::MissingCrlf);
                    }
                    self.args.push((self.pos, end));
                    self.pos = end + 2;
                    self.scan = self.pos;
                    self.bulk = None;
                    self.left -= 1;
                    continue;
                }
                let Some(&c) = buf.get(self.pos) else { return self.incomplete(buf) };
                if c != b'$' {
                    return Err(Refusal::ExpectedBulk(c));
                }
                let Some(lf) = self.line_end(buf) else {
                    if buf.len() - self.pos > INLINE_MAX {
                        return Err(Refusal::TooBigBulkCount);
                    }
                    return self.incomplete(buf);
                };
                let len = number(&buf[self.pos + 1..lf])
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
            if self.pos > self.limit {
                return Err(Refusal::TooLarge { limit: self.limit });
            }
            let frame = buf.split_to(self.pos).freeze();
            let words = self.args.iter().map(|&(s, e)| frame.slice(s..e)).collect();
            self.restart();
            return Ok(Some(words));
        }
    }

    /// An inline command (`PING hello` as typed into telnet): its words,
    /// empty for a blank line.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, Refusal> {
        let Some(lf) = self.line_end(buf) else {
            return if buf.len() > self.limit.min(INLINE_MAX) { Err(Refusal::TooBigInline) } else { Ok(None) };
        };
        let line = buf.split_to(lf + 1).freeze();
        self.restart();
        let text = line.slice(..lf);
        let text = if text.ends_with(b"\r") { text.slice(..lf - 1) } else { text };
        let mut words = Vec::new();
        let mut at = 0;
        for word in text.split(|c| *c == b' ' || *c == b'\t') {
            if !word.is_empty() {
                words.push(text.slice(at..at + word.len()));
            }
            at += word.len() + 1;
        }
        Ok(Some(words))
    }
}

/// A count or length line's number (`\r` included at its end), as
/// redis-server reads it.
fn number(line: &[u8]) -> Option<i64> {
    string2ll(line.strip_suffix(b"\r")?)
}
