//! The protocol's length-encoded integers and strings.

use bytes::{Buf, Bytes};

/// A length-encoded integer; `None` if `buf` is too short.
pub(crate) fn lenenc_int(buf: &mut Bytes) -> Option<u64> {
    let first = *buf.first()?;
    let need = match first {
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

/// A length-encoded string.
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

/// Appends `b` as a length-encoded string.
pub(crate) fn put_lenenc_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_lenenc_int(out, b.len() as u64);
    out.extend_from_slice(b);
}
