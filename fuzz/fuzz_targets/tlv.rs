#![no_main]
//! Fuzz target `tlv`: [`TlvCodec`] against a hostile byte stream.
//!
//! Input: 4 control bytes, then the stream.
//! * byte 0, bits 0-1: the codec's size limit (none, a limit from byte 1,
//!   one from bytes 1-2, `u32::MAX`); bits 2-4: the largest chunk size;
//! * byte 3: the seed of the chunk sizes.
//!
//! Checked:
//! * the stream decoded at once and decoded in input-derived chunks (one
//!   `decode` loop per chunk, as a connection does per read) give the same
//!   messages and end the same way (waiting for more, or `EMSGSIZE`), and
//!   both agree with a 10-line model of the format;
//! * a decoder that answered `Ok(None)` answers it again when called with
//!   no new bytes;
//! * the read buffer stays within a bound of the bytes that arrived, and no
//!   single allocation exceeds 8 MiB ([`wf_fuzz::CappedAlloc`]): a codec
//!   reserving memory for a *declared* length fails here;
//! * encoding the decoded messages gives back exactly the bytes they were
//!   decoded from; a message made from the input survives encode + decode,
//!   or is refused with `EMSGSIZE` when it is over the limit.

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use wf_core::net::tlv::{TlvCodec, TlvMessage};

#[global_allocator]
static ALLOC: wf_fuzz::CappedAlloc = wf_fuzz::CappedAlloc::new(8 << 20);

const HEADER: usize = 8;

/// How a decode loop ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// `Ok(None)`: waiting for more bytes.
    Pending,
    /// `Err` with `EMSGSIZE`: a value longer than the limit.
    TooBig,
}

fuzz_target!(|data: &[u8]| {
    let Some((ctl, stream)) = data.split_first_chunk::<4>() else { return };
    let limit = match ctl[0] & 3 {
        0 => None,
        1 => Some(usize::from(ctl[1])),
        2 => Some(usize::from(u16::from_be_bytes([ctl[1], ctl[2]]))),
        _ => Some(u32::MAX as usize),
    };
    let span = [1, 2, 3, 7, 8, 9, 64, 4096][usize::from(ctl[0] >> 2 & 7)];

    let (expected, expected_end, consumed) = model(stream, limit);

    let (whole, whole_end) = decode_whole(stream, limit);
    assert_eq!(whole_end, expected_end, "whole: end");
    assert_eq!(whole, expected, "whole: messages");

    let (chunked, chunked_end) = decode_chunked(stream, limit, span, ctl[3]);
    assert_eq!(chunked_end, expected_end, "chunked (span {span}): end");
    assert_eq!(chunked, expected, "chunked (span {span}): messages");

    // Encoding what was decoded gives back the bytes it came from.
    let mut out = BytesMut::new();
    for msg in &whole {
        TlvCodec::new(None).encode(msg, &mut out).expect("encode a decoded message");
    }
    assert_eq!(&out[..], &stream[..consumed], "re-encoded messages");

    // A message made from the input: encode, then decode under the limit.
    let msg = TlvMessage::new(u32::from_be_bytes(*ctl), stream.to_vec());
    let mut buf = BytesMut::new();
    TlvCodec::new(limit).encode(&msg, &mut buf).expect("encode");
    assert_eq!(buf.len(), HEADER + stream.len());
    let mut codec = TlvCodec::new(limit);
    match codec.decode(&mut buf) {
        Ok(Some(back)) => {
            assert!(limit.is_none_or(|l| stream.len() <= l), "a value over the limit was accepted");
            assert_eq!(back, msg, "round trip");
            assert!(buf.is_empty(), "bytes left after a round trip");
        }
        Ok(None) => panic!("a whole encoded message was not decoded"),
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE), "round trip: {e}");
            assert!(limit.is_some_and(|l| stream.len() > l), "refused a value within the limit");
        }
    }
});

/// The format, independently: the messages, how the stream ends, and how
/// many bytes the messages use.
fn model(stream: &[u8], limit: Option<usize>) -> (Vec<TlvMessage>, End, usize) {
    let mut msgs = Vec::new();
    let mut at = 0;
    loop {
        let rest = &stream[at..];
        let Some(head) = rest.first_chunk::<HEADER>() else { return (msgs, End::Pending, at) };
        let kind = u32::from_be_bytes(head[..4].try_into().unwrap());
        let len = u32::from_be_bytes(head[4..].try_into().unwrap()) as usize;
        if limit.is_some_and(|l| len > l) {
            return (msgs, End::TooBig, at);
        }
        let Some(value) = rest.get(HEADER..HEADER + len) else { return (msgs, End::Pending, at) };
        msgs.push(TlvMessage::new(kind, value.to_vec()));
        at += HEADER + len;
    }
}

/// Decodes from `buf` until the codec waits or fails.
fn drain(codec: &mut TlvCodec, buf: &mut BytesMut, msgs: &mut Vec<TlvMessage>) -> End {
    loop {
        match codec.decode(buf) {
            Ok(Some(msg)) => msgs.push(msg),
            Ok(None) => return End::Pending,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE), "unexpected error: {e}");
                return End::TooBig;
            }
        }
    }
}

fn decode_whole(stream: &[u8], limit: Option<usize>) -> (Vec<TlvMessage>, End) {
    let mut codec = TlvCodec::new(limit);
    let mut buf = BytesMut::from(stream);
    let mut msgs = Vec::new();
    let end = drain(&mut codec, &mut buf, &mut msgs);
    check_bound(&buf, stream.len());
    (msgs, end)
}

fn decode_chunked(stream: &[u8], limit: Option<usize>, span: usize, seed: u8) -> (Vec<TlvMessage>, End) {
    let mut codec = TlvCodec::new(limit);
    let mut buf = BytesMut::new();
    let mut msgs = Vec::new();
    let mut rng = u32::from(seed) << 8 | 1;
    let mut fed = 0;
    while fed < stream.len() {
        rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (rng >> 16) as usize % span).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        if drain(&mut codec, &mut buf, &mut msgs) == End::TooBig {
            return (msgs, End::TooBig);
        }
        let before = msgs.len();
        assert_eq!(drain(&mut codec, &mut buf, &mut msgs), End::Pending, "decode again without new bytes");
        assert_eq!(msgs.len(), before, "a message out of no new bytes");
        check_bound(&buf, fed);
    }
    (msgs, End::Pending)
}

/// The read buffer grows with the bytes that arrived, not with a length
/// some header declared (the slack leaves room for a bounded read-ahead;
/// inputs are at most 1 KiB, declared lengths up to 4 GiB).
fn check_bound(buf: &BytesMut, fed: usize) {
    let bound = 4 * fed + (256 << 10);
    assert!(buf.capacity() <= bound, "buffer capacity {} after {fed} bytes (bound {bound})", buf.capacity());
}
