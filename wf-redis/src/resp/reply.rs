//! The reply decoder: RESP2, or RESP3 after `HELLO 3`, resumable and
//! iterative (see the [module](super) documentation).

use bytes::{Bytes, BytesMut};

use super::{Line, MAX_DEPTH, find_line, parse_int};
use crate::value::RedisValue;

/// Fewest bytes an element takes (`+\r\n`, `_\r\n`): a declared count
/// whose elements cannot fit the limit is refused at once.
const MIN_ELEMENT: usize = 3;

/// Longest line of a length, count, integer, boolean or null (digits,
/// sign): one longer is not RESP, whatever follows.
const MAX_NUMBER_LINE: usize = 64;

/// Items a decoder keeps room for between replies.
const KEPT_ITEMS: usize = 1024;

/// Counts above this are refused, whatever the size limit (Redis's
/// multibulk limit, 2^31 - 1).
const MAX_COUNT: i64 = i32::MAX as i64;

/// Why a reply was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyError {
    /// Not RESP (`EBADMSG`), with what was wrong.
    Malformed(&'static str),
    /// Over the size limit, arrived or declared (`EMSGSIZE`).
    TooLarge,
}

/// An item of the frame being read, in the order it appeared (an
/// aggregate before its elements). Strings are offsets into the frame.
#[derive(Clone, Copy, Debug)]
enum Item {
    String(usize, usize),
    Status(usize, usize),
    Error(usize, usize),
    BigNumber(usize, usize),
    /// The whole payload, `fmt:` included.
    Verbatim(usize, usize),
    Integer(i64),
    Double(f64),
    Boolean(bool),
    Nil,
    Array(usize),
    Set(usize),
    Push(usize),
    /// The number of pairs.
    Map(usize),
}

/// What a `$`, `!` or `=` header announced.
#[derive(Clone, Copy, Debug)]
enum Blob {
    String,
    Error,
    Verbatim,
}

/// An aggregate being filled.
#[derive(Clone, Copy, Debug)]
struct Open {
    /// Elements still to come.
    left: usize,
    /// An attribute (`|`): it annotates the value after it and is
    /// dropped, its items from this index on.
    attribute: Option<usize>,
}

/// Decodes one reply at a time from the front of a read buffer, keeping
/// its place between reads.
#[derive(Debug, Default)]
pub(crate) struct ReplyDecoder {
    resp3: bool,
    /// The first byte of the frame not examined yet (the frame starts at
    /// the front of the buffer).
    pos: usize,
    /// How far the search for the current line's end has gone.
    scan: usize,
    /// A blob whose header was read: its length.
    blob: Option<(Blob, usize)>,
    items: Vec<Item>,
    open: Vec<Open>,
    /// Elements all open aggregates still expect.
    owed: usize,
    /// Bytes examined in all (tests check that it is linear).
    #[cfg(test)]
    pub(super) examined: usize,
}

impl ReplyDecoder {
    /// A decoder for RESP2 (`resp3: false`) or RESP3.
    pub(crate) fn new(resp3: bool) -> ReplyDecoder {
        ReplyDecoder { resp3, ..ReplyDecoder::default() }
    }

    /// After `HELLO 3`: RESP3 from the next reply on.
    pub(crate) fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.scan = 0;
        self.blob = None;
        self.items.clear();
        if self.items.capacity() > KEPT_ITEMS {
            // A huge reply does not keep its memory for the next.
            self.items = Vec::new();
        }
        self.open.clear();
        self.owed = 0;
    }

    /// The next reply at the front of `buf`, taken out of it; `None`
    /// until all of it has arrived. A reply larger than `limit` bytes is
    /// refused, as soon as that is known.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut, limit: usize) -> Result<Option<RedisValue>, ReplyError> {
        if buf.len() < self.pos {
            // The buffer was emptied under us (a connection reset): start
            // afresh.
            self.reset();
        }
        // Bytes past the limit are never looked at: what is decided
        // depends on the bytes, not on how they arrived.
        let view = &buf[..buf.len().min(limit.saturating_add(1))];
        match self.advance(view, limit) {
            Ok(true) if self.pos > limit => {
                self.reset();
                Err(ReplyError::TooLarge)
            }
            Ok(true) => {
                let frame = buf.split_to(self.pos).freeze();
                let value = build(&self.items, &frame);
                self.reset();
                Ok(Some(value))
            }
            Ok(false) if buf.len() > limit => Err(ReplyError::TooLarge),
            Ok(false) => Ok(None),
            Err(e) => {
                self.reset();
                Err(e)
            }
        }
    }

    /// Reads what `buf` holds past `pos`; `true` when the frame is whole.
    fn advance(&mut self, buf: &[u8], limit: usize) -> Result<bool, ReplyError> {
        loop {
            if let Some((blob, len)) = self.blob {
                let end = self.pos + len;
                if buf.len() < end + 2 {
                    return Ok(false);
                }
                #[cfg(test)]
                {
                    self.examined += 2;
                }
                if buf[end..end + 2] != *b"\r\n" {
                    return Err(ReplyError::Malformed("a bulk string not followed by CRLF"));
                }
                let item = match blob {
                    Blob::String => Item::String(self.pos, end),
                    Blob::Error => Item::Error(self.pos, end),
                    Blob::Verbatim => {
                        if len < 4 || buf[self.pos + 3] != b':' {
                            return Err(ReplyError::Malformed("a verbatim string without its format"));
                        }
                        Item::Verbatim(self.pos, end)
                    }
                };
                self.blob = None;
                self.pos = end + 2;
                self.scan = self.pos;
                if self.complete(item) {
                    return Ok(true);
                }
                continue;
            }
            let Some(&kind) = buf.get(self.pos) else { return Ok(false) };
            let number = match kind {
                b'+' | b'-' => false,
                b':' | b'$' | b'*' => true,
                b'(' | b',' if self.resp3 => false,
                b'_' | b'#' | b'!' | b'=' | b'%' | b'~' | b'>' | b'|' if self.resp3 => true,
                _ => return Err(ReplyError::Malformed("not a RESP type")),
            };
            let max = if number { MAX_NUMBER_LINE } else { usize::MAX };
            let lf = match self.line(buf, max) {
                Line::End(lf) => lf,
                Line::More => return Ok(false),
                Line::TooLong => return Err(ReplyError::Malformed("a number line too long")),
            };
            if lf < self.pos + 2 || buf[lf - 1] != b'\r' {
                return Err(ReplyError::Malformed("a line not ended by CRLF"));
            }
            let (start, end) = (self.pos + 1, lf - 1);
            let line = &buf[start..end];
            self.pos = lf + 1;
            self.scan = self.pos;
            let item = match kind {
                b'+' => Item::Status(start, end),
                b'-' => Item::Error(start, end),
                b'(' => Item::BigNumber(start, end),
                b':' => Item::Integer(parse_int(line).ok_or(ReplyError::Malformed("an invalid integer"))?),
                b',' => Item::Double(
                    std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or(ReplyError::Malformed("an invalid double"))?,
                ),
                b'#' => match line {
                    b"t" => Item::Boolean(true),
                    b"f" => Item::Boolean(false),
                    _ => return Err(ReplyError::Malformed("an invalid boolean")),
                },
                b'_' if line.is_empty() => Item::Nil,
                b'_' => return Err(ReplyError::Malformed("an invalid null")),
                b'$' | b'!' | b'=' => {
                    let len = parse_int(line).ok_or(ReplyError::Malformed("an invalid bulk length"))?;
                    if len == -1 && kind == b'$' {
                        Item::Nil
                    } else {
                        let len = usize::try_from(len).map_err(|_| ReplyError::Malformed("an invalid bulk length"))?;
                        if self.pos.saturating_add(len).saturating_add(2) > limit {
                            return Err(ReplyError::TooLarge);
                        }
                        let blob = match kind {
                            b'$' => Blob::String,
                            b'!' => Blob::Error,
                            _ => Blob::Verbatim,
                        };
                        self.blob = Some((blob, len));
                        continue;
                    }
                }
                _ => {
                    // `*`, `%`, `~`, `>`, `|`: an aggregate.
                    let n = parse_int(line).ok_or(ReplyError::Malformed("an invalid multibulk length"))?;
                    if n == -1 && kind == b'*' {
                        Item::Nil
                    } else if n < 0 {
                        return Err(ReplyError::Malformed("an invalid multibulk length"));
                    } else if n > MAX_COUNT {
                        return Err(ReplyError::TooLarge);
                    } else {
                        let n = n as usize;
                        let elements = if matches!(kind, b'%' | b'|') { n * 2 } else { n };
                        if elements > 0 || kind == b'|' {
                            self.open(kind, n, elements, limit)?;
                            continue;
                        }
                        match kind {
                            b'*' => Item::Array(0),
                            b'%' => Item::Map(0),
                            b'~' => Item::Set(0),
                            _ => Item::Push(0),
                        }
                    }
                }
            };
            if self.complete(item) {
                return Ok(true);
            }
        }
    }

    /// Where the line starting at `pos` ends, at most `max` bytes on.
    fn line(&mut self, buf: &[u8], max: usize) -> Line {
        #[cfg(test)]
        let from = self.scan.max(self.pos);
        let line = find_line(buf, self.pos, &mut self.scan, max);
        #[cfg(test)]
        {
            self.examined += match line {
                Line::End(lf) => lf + 1 - from,
                _ => self.scan - from,
            };
        }
        line
    }

    /// Opens an aggregate of `elements` elements (`n` as declared).
    fn open(&mut self, kind: u8, n: usize, elements: usize, limit: usize) -> Result<(), ReplyError> {
        if self.open.len() >= MAX_DEPTH {
            return Err(ReplyError::Malformed("nested deeper than 128"));
        }
        if elements == 0 {
            // `|0`: an empty attribute, nothing to keep.
            return Ok(());
        }
        self.owed += elements;
        // Every open aggregate but the innermost waits for one element
        // that is already under way.
        let still = self.owed - self.open.len();
        if self.pos.saturating_add(still.saturating_mul(MIN_ELEMENT)) > limit {
            return Err(ReplyError::TooLarge);
        }
        let attribute = if kind == b'|' {
            Some(self.items.len())
        } else {
            self.items.push(match kind {
                b'*' => Item::Array(n),
                b'%' => Item::Map(n),
                b'~' => Item::Set(n),
                _ => Item::Push(n),
            });
            None
        };
        self.open.push(Open { left: elements, attribute });
        Ok(())
    }

    /// Adds a whole element, closing the aggregates it completes; `true`
    /// when it completes the frame.
    fn complete(&mut self, item: Item) -> bool {
        self.items.push(item);
        loop {
            let Some(open) = self.open.last_mut() else { return true };
            open.left -= 1;
            self.owed -= 1;
            if open.left > 0 {
                return false;
            }
            let done = self.open.pop().expect("an open aggregate");
            if let Some(from) = done.attribute {
                // The attribute is over: drop it; the value it annotates
                // comes next and is the element.
                self.items.truncate(from);
                return false;
            }
        }
    }
}

/// An aggregate under construction in [`build`].
enum Building {
    List { kind: u8, items: Vec<RedisValue>, left: usize },
    Map { pairs: Vec<(RedisValue, RedisValue)>, key: Option<RedisValue>, left: usize },
}

/// The value of a whole frame's items (without recursion).
fn build(items: &[Item], frame: &Bytes) -> RedisValue {
    let mut stack: Vec<Building> = Vec::new();
    for item in items {
        // Counts are exact here: every element has arrived.
        let mut value = match *item {
            Item::String(s, e) => RedisValue::String(frame.slice(s..e)),
            Item::Status(s, e) => RedisValue::Status(frame.slice(s..e)),
            Item::Error(s, e) => RedisValue::Error(frame.slice(s..e)),
            Item::BigNumber(s, e) => RedisValue::BigNumber(frame.slice(s..e)),
            Item::Verbatim(s, e) => RedisValue::Verbatim {
                format: String::from_utf8_lossy(&frame[s..s + 3]).into_owned(),
                text: frame.slice(s + 4..e),
            },
            Item::Integer(i) => RedisValue::Integer(i),
            Item::Double(d) => RedisValue::Double(d),
            Item::Boolean(b) => RedisValue::Boolean(b),
            Item::Nil => RedisValue::Nil,
            Item::Array(0) => RedisValue::Array(Vec::new()),
            Item::Set(0) => RedisValue::Set(Vec::new()),
            Item::Push(0) => RedisValue::Push(Vec::new()),
            Item::Map(0) => RedisValue::Map(Vec::new()),
            Item::Array(n) => {
                stack.push(Building::List { kind: b'*', items: Vec::with_capacity(n), left: n });
                continue;
            }
            Item::Set(n) => {
                stack.push(Building::List { kind: b'~', items: Vec::with_capacity(n), left: n });
                continue;
            }
            Item::Push(n) => {
                stack.push(Building::List { kind: b'>', items: Vec::with_capacity(n), left: n });
                continue;
            }
            Item::Map(n) => {
                stack.push(Building::Map { pairs: Vec::with_capacity(n), key: None, left: n * 2 });
                continue;
            }
        };
        loop {
            let Some(top) = stack.last_mut() else { return value };
            let left = match top {
                Building::List { items, left, .. } => {
                    items.push(value);
                    left
                }
                Building::Map { pairs, key, left } => {
                    match key.take() {
                        None => *key = Some(value),
                        Some(k) => pairs.push((k, value)),
                    }
                    left
                }
            };
            *left -= 1;
            if *left > 0 {
                break;
            }
            value = match stack.pop().expect("an aggregate") {
                Building::List { kind: b'*', items, .. } => RedisValue::Array(items),
                Building::List { kind: b'~', items, .. } => RedisValue::Set(items),
                Building::List { items, .. } => RedisValue::Push(items),
                Building::Map { pairs, .. } => RedisValue::Map(pairs),
            };
        }
    }
    // `complete` said the frame is whole: its last item closed the
    // outermost aggregate, which returned above.
    debug_assert!(false, "an incomplete frame was built");
    RedisValue::Nil
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    const LIMIT: usize = 512 << 20;

    fn whole(wire: &[u8], resp3: bool) -> Result<Option<RedisValue>, ReplyError> {
        ReplyDecoder::new(resp3).decode(&mut BytesMut::from(wire), LIMIT)
    }

    fn one(wire: &[u8], resp3: bool) -> RedisValue {
        let mut buf = BytesMut::from(wire);
        let v = ReplyDecoder::new(resp3).decode(&mut buf, LIMIT).unwrap().expect("a whole reply");
        assert!(buf.is_empty(), "left over: {buf:?}");
        v
    }

    /// Fed one byte at a time: the same values as whole, nothing before
    /// a frame's last byte.
    fn bytewise(wire: &[u8], resp3: bool) -> Vec<RedisValue> {
        let mut d = ReplyDecoder::new(resp3);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in wire {
            buf.put_u8(b);
            while let Some(v) = d.decode(&mut buf, LIMIT).unwrap() {
                out.push(v);
            }
        }
        assert!(buf.is_empty());
        out
    }

    fn s(v: &str) -> RedisValue {
        RedisValue::from(v)
    }

    #[test]
    fn resp2_kinds() {
        assert_eq!(one(b"+OK\r\n", false), RedisValue::status("OK"));
        assert_eq!(one(b"-ERR no\r\n", false), RedisValue::error("ERR no"));
        assert_eq!(one(b":-42\r\n", false), RedisValue::Integer(-42));
        assert_eq!(one(b"$5\r\nhe\r\no\r\n", false), s("he\r\no"));
        assert_eq!(one(b"$0\r\n\r\n", false), s(""));
        assert_eq!(one(b"$-1\r\n", false), RedisValue::Nil);
        assert_eq!(one(b"*-1\r\n", false), RedisValue::Nil);
        assert_eq!(one(b"*0\r\n", false), RedisValue::Array(vec![]));
        assert_eq!(one(b"+\r\n", false), RedisValue::status(""));
        assert_eq!(
            one(b"*3\r\n*2\r\n:1\r\n*0\r\n$-1\r\n*1\r\n+x\r\n", false),
            RedisValue::Array(vec![
                RedisValue::Array(vec![RedisValue::Integer(1), RedisValue::Array(vec![])]),
                RedisValue::Nil,
                RedisValue::Array(vec![RedisValue::status("x")]),
            ])
        );
    }

    #[test]
    fn resp3_kinds() {
        assert_eq!(one(b"_\r\n", true), RedisValue::Nil);
        assert_eq!(one(b"#t\r\n", true), RedisValue::Boolean(true));
        assert_eq!(one(b"#f\r\n", true), RedisValue::Boolean(false));
        assert_eq!(one(b",1.5\r\n", true), RedisValue::Double(1.5));
        assert_eq!(one(b",-inf\r\n", true), RedisValue::Double(f64::NEG_INFINITY));
        assert!(one(b",nan\r\n", true).as_double().unwrap().is_nan());
        assert_eq!(one(b"(12345678901234567890\r\n", true), RedisValue::BigNumber("12345678901234567890".into()));
        assert_eq!(one(b"!5\r\nERR x\r\n", true), RedisValue::error("ERR x"));
        assert_eq!(
            one(b"=8\r\nmkd:a\r\nb\r\n", true),
            RedisValue::Verbatim { format: "mkd".into(), text: "a\r\nb".into() }
        );
        assert_eq!(one(b"=4\r\ntxt:\r\n", true), RedisValue::Verbatim { format: "txt".into(), text: "".into() });
        assert_eq!(
            one(b"%2\r\n+a\r\n~2\r\n:1\r\n:1\r\n$1\r\nb\r\n>1\r\n_\r\n", true),
            RedisValue::Map(vec![
                (RedisValue::status("a"), RedisValue::Set(vec![RedisValue::Integer(1), RedisValue::Integer(1)])),
                (s("b"), RedisValue::Push(vec![RedisValue::Nil])),
            ])
        );
        assert_eq!(one(b"%0\r\n", true), RedisValue::Map(vec![]));
        assert_eq!(one(b"~0\r\n", true), RedisValue::Set(vec![]));
        assert_eq!(one(b">0\r\n", true), RedisValue::Push(vec![]));
        // RESP2's nulls are read in RESP3 too.
        assert_eq!(one(b"$-1\r\n", true), RedisValue::Nil);
        assert_eq!(one(b"*-1\r\n", true), RedisValue::Nil);
    }

    #[test]
    fn attributes_are_dropped() {
        // Outside: the value after it is the reply.
        assert_eq!(one(b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", true), s("v"));
        // Inside an aggregate: not an element.
        assert_eq!(
            one(b"*2\r\n:1\r\n|1\r\n+k\r\n*1\r\n:9\r\n:2\r\n", true),
            RedisValue::Array(vec![RedisValue::Integer(1), RedisValue::Integer(2)])
        );
        assert_eq!(one(b"|0\r\n:7\r\n", true), RedisValue::Integer(7));
        // Attributes of attributes.
        assert_eq!(one(b"|1\r\n|1\r\n:0\r\n:0\r\n+k\r\n+v\r\n:5\r\n", true), RedisValue::Integer(5));
    }

    #[test]
    fn every_split_decodes_alike() {
        let wires: &[(&[u8], bool)] = &[
            (b"+OK\r\n:1\r\n$3\r\nabc\r\n*2\r\n$-1\r\n*1\r\n-E\r\n", false),
            (b"%1\r\n+a\r\n|1\r\n+x\r\n+y\r\n~1\r\n=5\r\ntxt:a\r\n,2.5\r\n(7\r\n#t\r\n_\r\n>1\r\n!1\r\nE\r\n", true),
        ];
        for &(wire, resp3) in wires {
            let mut d = ReplyDecoder::new(resp3);
            let mut buf = BytesMut::from(wire);
            let mut expected = Vec::new();
            while let Some(v) = d.decode(&mut buf, LIMIT).unwrap() {
                expected.push(v);
            }
            assert!(buf.is_empty());
            assert_eq!(bytewise(wire, resp3), expected);
            for cut in 0..wire.len() {
                let mut d = ReplyDecoder::new(resp3);
                let mut buf = BytesMut::from(&wire[..cut]);
                let mut got = Vec::new();
                while let Some(v) = d.decode(&mut buf, LIMIT).unwrap() {
                    got.push(v);
                }
                buf.extend_from_slice(&wire[cut..]);
                while let Some(v) = d.decode(&mut buf, LIMIT).unwrap() {
                    got.push(v);
                }
                assert_eq!(got, expected, "cut at {cut}");
            }
        }
    }

    #[test]
    fn strings_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$5\r\nhello\r\n+OK\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let v = ReplyDecoder::new(false).decode(&mut buf, LIMIT).unwrap().unwrap();
        let RedisValue::Array(items) = v else { panic!() };
        let (RedisValue::String(a), RedisValue::Status(b)) = (&items[0], &items[1]) else { panic!() };
        assert_eq!(a.as_ptr() as usize, base + 8);
        assert_eq!(b.as_ptr() as usize, base + 16);
    }

    #[test]
    fn malformed_replies_are_refused() {
        let bad: &[(&[u8], bool)] = &[
            (b"?x\r\n", false),
            (b"%1\r\n", false), // RESP3 in RESP2
            (b"_\r\n", false),
            (b"$3\r\nabcd\r\n", false),
            (b"$3\r\nabc\n\n", false),
            (b"+OK\n", false),
            (b":12a\r\n", false),
            (b":\r\n", false),
            (b"$-2\r\n", false),
            (b"*-2\r\n", false),
            (b"$abc\r\n", false),
            (b"#x\r\n", true),
            (b"_x\r\n", true),
            (b",1.5.5\r\n", true),
            (b"=3\r\ntxt\r\n", true),
            (b"=4\r\ntxt-\r\n", true),
            (b"!-1\r\n", true),
            (b"%-1\r\n", true),
            (b"$?\r\n", true), // streamed strings are not read
            (b"*?\r\n", true),
            (b";3\r\n", true),
        ];
        for &(wire, resp3) in bad {
            assert!(
                matches!(whole(wire, resp3), Err(ReplyError::Malformed(_))),
                "{:?}",
                wire.escape_ascii().to_string()
            );
        }
        // A number line that does not end is refused before the limit.
        let long = [b":".as_slice(), &[b'1'; 100]].concat();
        assert!(matches!(whole(&long, false), Err(ReplyError::Malformed(_))));
    }

    #[test]
    fn nesting_deeper_than_128_is_refused() {
        let bomb = b"*1\r\n".repeat(10_000);
        assert_eq!(whole(&bomb, false), Err(ReplyError::Malformed("nested deeper than 128")));
        // Byte by byte as well: refused as the 129th level opens.
        let mut d = ReplyDecoder::new(false);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let e = loop {
            buf.put_u8(bomb[fed]);
            fed += 1;
            match d.decode(&mut buf, LIMIT) {
                Ok(None) => {}
                Ok(Some(v)) => panic!("{v:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(e, ReplyError::Malformed("nested deeper than 128"));
        assert_eq!(fed, 129 * 4);
        // 128 levels are fine, in RESP3 kinds too.
        let mut ok = b"*1\r\n".repeat(126);
        ok.extend(b"%1\r\n$0\r\n\r\n~1\r\n:1\r\n");
        let mut v = one(&ok, true);
        let mut depth = 0;
        loop {
            v = match v {
                RedisValue::Array(mut a) | RedisValue::Set(mut a) => a.pop().unwrap(),
                RedisValue::Map(mut m) => m.pop().unwrap().1,
                _ => break,
            };
            depth += 1;
        }
        assert_eq!(depth, 128);
        assert!(matches!(whole(&b"|1\r\n".repeat(200), true), Err(ReplyError::Malformed(_))));
    }

    #[test]
    fn declared_sizes_over_the_limit_are_refused_at_once() {
        let mut d = ReplyDecoder::new(false);
        assert_eq!(d.decode(&mut BytesMut::from(&b"$536870913\r\n"[..]), LIMIT), Err(ReplyError::TooLarge));
        assert_eq!(d.decode(&mut BytesMut::from(&b"*2147483648\r\n"[..]), usize::MAX), Err(ReplyError::TooLarge));
        assert_eq!(d.decode(&mut BytesMut::from(&b"*200000000\r\n"[..]), LIMIT), Err(ReplyError::TooLarge));
        assert_eq!(d.decode(&mut BytesMut::from(&b"*1\r\n*1\r\n$100\r\n"[..]), 100), Err(ReplyError::TooLarge));
        assert_eq!(d.decode(&mut BytesMut::from(&b"*40\r\n"[..]), 100), Err(ReplyError::TooLarge));
        // A map's pairs count twice.
        let mut d = ReplyDecoder::new(true);
        assert_eq!(d.decode(&mut BytesMut::from(&b"%20\r\n"[..]), 100), Err(ReplyError::TooLarge));
        // What fits waits for its data.
        assert_eq!(ReplyDecoder::new(true).decode(&mut BytesMut::from(&b"%15\r\n"[..]), 100), Ok(None));
        // Arrived whole but over the limit.
        assert_eq!(
            ReplyDecoder::new(false).decode(&mut BytesMut::from(&b"+0123456789\r\n"[..]), 8),
            Err(ReplyError::TooLarge)
        );
        assert_eq!(
            ReplyDecoder::new(false).decode(&mut BytesMut::from(&b"+0123456789"[..]), 8),
            Err(ReplyError::TooLarge)
        );
    }

    #[test]
    fn a_declared_huge_array_allocates_for_what_arrived() {
        let mut d = ReplyDecoder::new(false);
        let mut buf = BytesMut::from(&b"*100000000\r\n"[..]);
        assert_eq!(d.decode(&mut buf, LIMIT), Ok(None));
        for _ in 0..10 {
            buf.extend_from_slice(b":1\r\n");
            assert_eq!(d.decode(&mut buf, LIMIT), Ok(None));
        }
        assert!(d.items.capacity() < 64, "{}", d.items.capacity());
    }

    /// Each byte is examined once (and CRLFs after blobs twice): a frame
    /// of 200,000 elements fed one byte at a time, which would take
    /// hours were the frame parsed again on each read.
    #[test]
    fn decoding_is_linear_in_the_bytes() {
        const N: usize = 200_000;
        let mut wire = format!("*{N}\r\n").into_bytes();
        for i in 0..N {
            match i % 4 {
                0 => wire.extend_from_slice(b"$1\r\nx\r\n"),
                1 => wire.extend_from_slice(b":12\r\n"),
                2 => wire.extend_from_slice(b"*1\r\n+ok\r\n"),
                _ => wire.extend_from_slice(b"$-1\r\n"),
            }
        }
        let mut d = ReplyDecoder::new(false);
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in &wire {
            assert!(got.is_none());
            buf.put_u8(b);
            got = d.decode(&mut buf, LIMIT).unwrap();
        }
        assert_eq!(got.unwrap().len(), N);
        assert!(d.examined <= wire.len() + 2 * N, "examined {} bytes of {}", d.examined, wire.len());
        // Its memory is not kept for the next reply.
        assert!(d.items.capacity() <= KEPT_ITEMS);
    }

    /// The same bytes give the same answer however they arrive (a line
    /// ending past the limit is over the limit, whole or in pieces).
    #[test]
    fn the_answer_does_not_depend_on_how_bytes_arrive() {
        let cases: &[(&[u8], usize)] =
            &[(b"+0123456789abcdef\r\n", 8), (b"*1\r\n:12345678901234567890123456789\r\n", 16), (b"$1\r\nabc", 16)];
        for &(wire, limit) in cases {
            let whole = ReplyDecoder::new(false).decode(&mut BytesMut::from(wire), limit);
            let mut d = ReplyDecoder::new(false);
            let mut buf = BytesMut::new();
            let mut got = Ok(None);
            for &b in wire {
                buf.put_u8(b);
                got = d.decode(&mut buf, limit);
                if got.is_err() {
                    break;
                }
            }
            assert_eq!(got, whole, "{}", wire.escape_ascii());
            assert!(whole.is_err());
        }
    }
}
