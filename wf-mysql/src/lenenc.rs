//! The protocol's length-encoded integers and strings.

use std::ops::Range;

use bytes::{Buf, Bytes};

/// A length-encoded integer; `None` if `buf` is too short or starts
/// with `0xfb` (`NULL`, only meaningful in a text row) or `0xff` (not an
/// integer at all).
pub(crate) fn lenenc_int(buf: &mut Bytes) -> Option<u64> {
    let first = *buf.first()?;
    let need = match first {
        0xfb | 0xff => return None,
        0xfc => 3,
        0xfd => 4,
        0xfe => 9,
        _ => 1,
    };
    if buf.len() < need {
        return None;
    }
    buf.advance(1);
    Some(match first {
        0xfc => buf.get_u16_le().into(),
        0xfd => {
            let lo = buf.get_u16_le() as u64;
            lo | (u64::from(buf.get_u8()) << 16)
        }
        0xfe => buf.get_u64_le(),
        b => b.into(),
    })
}

/// A length-encoded string; `None` unless all of it is in `buf` (the
/// declared length is checked against the bytes there, never reserved).
pub(crate) fn lenenc_bytes(buf: &mut Bytes) -> Option<Bytes> {
    let n = usize::try_from(lenenc_int(buf)?).ok()?;
    (buf.len() >= n).then(|| buf.split_to(n))
}

/// Appends `n` as a length-encoded integer.
pub(crate) fn put_lenenc_int(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=250 => out.push(n as u8),
        251..=0xffff => {
            out.push(0xfc);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// A length-encoded length at `at` in `p`: (length, where the data
/// starts); `None` if the length is cut short or not one (`0xfb`, `0xff`).
pub(crate) fn lenenc_at(p: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *p.get(at)?;
    let (n, len) = match first {
        0xfb | 0xff => return None,
        0xfc => (u64::from(u16::from_le_bytes(p.get(at + 1..at + 3)?.try_into().ok()?)), 3),
        0xfd => {
            let b = p.get(at + 1..at + 4)?;
            (u64::from(b[0]) | (u64::from(b[1]) << 8) | (u64::from(b[2]) << 16), 4)
        }
        0xfe => (u64::from_le_bytes(p.get(at + 1..at + 9)?.try_into().ok()?), 9),
        b => (u64::from(b), 1),
    };
    Some((usize::try_from(n).ok()?, at + len))
}

/// Where the length-encoded string at `*at` in `p` lies, all of it in
/// `p`; `*at` moves past it.
pub(crate) fn lenenc_range(p: &[u8], at: &mut usize) -> Option<Range<usize>> {
    let (n, start) = lenenc_at(p, *at)?;
    let end = start.checked_add(n).filter(|&e| e <= p.len())?;
    *at = end;
    Some(start..end)
}

/// The length-encoded string at `*at` in `p`; `*at` moves past it.
pub(crate) fn lenenc_slice<'a>(p: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    lenenc_range(p, at).map(|r| &p[r])
}

/// Appends `b` as a length-encoded string.
pub(crate) fn put_lenenc_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_lenenc_int(out, b.len() as u64);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_against_the_bytes_there() {
        // 2^63 declared, 3 bytes there.
        let mut b = Bytes::from_static(&[0xfe, 0, 0, 0, 0, 0, 0, 0, 0x80, 1, 2, 3]);
        assert_eq!(lenenc_bytes(&mut b), None);
        assert_eq!(lenenc_at(&[0xfe, 0, 0, 0, 0, 0, 0, 0, 0x80], 0), Some((1 << 63, 9)));
        assert_eq!(lenenc_int(&mut Bytes::from_static(&[0xfd, 1, 2])), None);
        assert_eq!(lenenc_int(&mut Bytes::from_static(&[0xff])), None);
        assert_eq!(lenenc_int(&mut Bytes::from_static(&[0xfb])), None);
        assert_eq!(lenenc_at(&[0xff], 0), None);
        let mut b = Bytes::from_static(&[0xfc, 2, 0, b'h', b'i', b'!']);
        assert_eq!(lenenc_bytes(&mut b).as_deref(), Some(&b"hi"[..]));
        assert_eq!(&b[..], b"!");
    }

    #[test]
    fn strings_in_place_end_inside_their_packet() {
        let p = [2, b'h', b'i', 0xfc, 1, 0, b'!', 3, b'n', b'o'];
        let mut at = 0;
        assert_eq!(lenenc_range(&p, &mut at), Some(1..3));
        assert_eq!(lenenc_slice(&p, &mut at), Some(&b"!"[..]));
        assert_eq!(at, 7);
        // 3 declared, 2 there: refused, and `at` stays.
        assert_eq!(lenenc_range(&p, &mut at), None);
        assert_eq!(at, 7);
        // 2^63 declared: no overflow.
        let mut at = 0;
        assert_eq!(lenenc_range(&[0xfe, 0, 0, 0, 0, 0, 0, 0, 0x80, 1], &mut at), None);
    }
}
