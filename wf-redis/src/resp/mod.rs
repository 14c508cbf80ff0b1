//! wf's own RESP decoders: [`ReplyDecoder`] (RESP2 and RESP3 replies,
//! the client side) and [`RequestDecoder`] (commands, the server side).
//!
//! # Why not `redis-protocol`
//!
//! DESIGN.md names the `redis-protocol` crate for RESP. It was replaced
//! after an attack campaign (issue 12) found two faults a hostile peer
//! can use, both in the way it parses rather than in a bug one could
//! patch:
//!
//! - it **recurses** once per level of nesting: `*1\r\n` repeated 10,000
//!   times (50 kB) overflowed the stack and aborted the process, a
//!   `RedisServer` as well as any client a hostile server answers;
//! - it is not **resumable**: each read parses the frame again from its
//!   first byte, so a reply declaring a large array of small items costs
//!   time quadratic in its size (a `redis_cli` spent 30 s of CPU and
//!   1 GB on one; a `RedisServer` 15 s on a request redis-server reads in
//!   0.5 s).
//!
//! # How these decoders work
//!
//! - **Resumable**: a decoder keeps where it stands between reads: the
//!   offset of the first byte it has not examined, how far it has
//!   searched for the end of the current line, and the frame's items so
//!   far. Each byte is examined once, however the frame is split: a
//!   frame arriving one byte at a time costs O(n) in all.
//! - **Iterative**: nesting is an explicit stack of open aggregates,
//!   at most [`MAX_DEPTH`] deep; nothing recurses on input.
//! - **Zero-copy**: a frame's bytes stay at the front of the read buffer
//!   until it is complete (so the connection still sees a request or a
//!   reply in progress); then they are split off once and every string
//!   of the frame is a [`Bytes`](bytes::Bytes) slice of them.
//! - **Bounded**: element vectors grow with the elements that arrived,
//!   never by a declared count; declared lengths and counts that cannot
//!   fit the size limit are refused when read, before any data.
//!
//! Requests follow redis-server's rules (`processMultibulkBuffer`,
//! `processInlineBuffer`), with its error texts, plus a size limit per
//! request. Replies accept every RESP2 and RESP3 type except the
//! streamed ones (`$?`, `*?`), which Redis does not send.

mod reply;
mod request;

pub(crate) use reply::{ReplyDecoder, ReplyError};
pub(crate) use request::{Refusal, RequestDecoder};

/// Deepest nesting of aggregates a reply may have (a request has none).
pub(crate) const MAX_DEPTH: usize = 128;

/// How the search for the end of a line went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Line {
    /// The index of its `\n`.
    End(usize),
    /// Not yet arrived.
    More,
    /// Longer than it may be.
    TooLong,
}

/// Searches `buf` for the `\n` ending the line that starts at `start`,
/// from `*scan` on (where the last search stopped; updated), the `\n`
/// at most `max` bytes after `start`. The answer depends only on the
/// bytes, not on how they arrived: a line is too long when `buf` holds
/// more than `max` bytes after `start` and none of them is its end.
fn find_line(buf: &[u8], start: usize, scan: &mut usize, max: usize) -> Line {
    let window = start.saturating_add(max).saturating_add(1);
    let end = buf.len().min(window);
    let from = (*scan).max(start);
    if from < end {
        if let Some(i) = buf[from..end].iter().position(|&c| c == b'\n') {
            return Line::End(from + i);
        }
    }
    *scan = end.max(from);
    if buf.len() >= window { Line::TooLong } else { Line::More }
}

/// redis-server's `string2ll`: an optional `-` and decimal digits, no
/// leading zero (except `0` itself), no `+`, no space, no overflow.
fn string2ll(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > i64::MIN.unsigned_abs() { None } else { Some((v as i64).wrapping_neg()) }
    } else {
        i64::try_from(v).ok()
    }
}

/// An integer as other RESP parsers read one: an optional sign, then
/// decimal digits (leading zeros allowed), no overflow.
fn parse_int(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = i64::from(c - b'0');
        v = v.checked_mul(10)?;
        v = if negative { v.checked_sub(d)? } else { v.checked_add(d)? };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_is_redis_servers() {
        for (s, v) in [
            ("0", Some(0)),
            ("1", Some(1)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("01", None),
            ("-0", None),
            ("+1", None),
            ("", None),
            ("-", None),
            (" 1", None),
            ("1 ", None),
            ("1a", None),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(string2ll(s.as_bytes()), v, "{s:?}");
        }
    }

    #[test]
    fn parse_int_takes_signs_and_zeros() {
        assert_eq!(parse_int(b"+5"), Some(5));
        assert_eq!(parse_int(b"007"), Some(7));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(b"1.5"), None);
    }

    #[test]
    fn lines_are_found_from_where_the_search_stopped() {
        let mut scan = 0;
        assert_eq!(find_line(b"ab\r\ncd\n", 0, &mut scan, 100), Line::End(3));
        assert_eq!(find_line(b"ab\r\ncd\n", 4, &mut scan, 100), Line::End(6));
        assert_eq!(find_line(b"ab", 0, &mut scan, 100), Line::More);
        assert_eq!(scan, 2);
        assert_eq!(find_line(b"abc\n", 0, &mut scan, 100), Line::End(3));
        // At most `max` bytes after the start.
        let mut scan = 0;
        assert_eq!(find_line(b"abc\n", 0, &mut scan, 3), Line::End(3));
        assert_eq!(find_line(b"abcd\n", 0, &mut scan, 3), Line::TooLong);
        let mut scan = 0;
        assert_eq!(find_line(b"abc", 0, &mut scan, 3), Line::More);
        assert_eq!(find_line(b"abcd", 0, &mut scan, 3), Line::TooLong);
    }
}
