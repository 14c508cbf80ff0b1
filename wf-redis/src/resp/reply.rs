//! The reply decoder: RESP2, or RESP3 after `HELLO 3`, resumable and
//! iterative (see the [module](super) documentation).

use bytes::{Bytes, BytesMut};

use super::{MAX_DEPTH, find_lf, parse_int};
use crate::value::RedisValue;

/// Fewest bytes an element takes (`+\r\n`, `_\r\n`): a declared count
/// whose elements cannot fit the limit is refused at once.
const MIN_ELEMENT: usize = 3;

/// Longest line of a length, count, integer, boolean or null (digits,
/// sign): one longer is not RESP, whatever follows.
const MAX_NUMBER_LINE: usize = 64;

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
        match self.advance(buf, limit) {
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
            let from = self.scan.max(self.pos + 1);
            let found = find_lf(buf, from);
            #[cfg(test)]
            {
                self.examined += found.map_or(buf.len(), |lf| lf + 1) - from;
            }
            let Some(lf) = found else {
                self.scan = buf.len();
                if number && buf.len() - self.pos > MAX_NUMBER_LINE {
                    return Err(ReplyError::Malformed("a number line too long"));
                }
                return Ok(false);
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
