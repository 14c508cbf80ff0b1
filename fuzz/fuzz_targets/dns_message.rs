#![no_main]
//! Fuzz target `dns_message`: wf-core's DNS message decoder
//! ([`wf_core::net::dns::DnsMessage::decode`]) and its stream codec
//! ([`DnsCodec`]) against hostile bytes.
//!
//! Input: one whole message (a UDP datagram, or a TCP message without its
//! length prefix).
//!
//! Checked:
//! * decoding never panics, and gives the same result twice;
//! * what decodes encodes again, and that decodes to the same message
//!   (names, escapes, compression, every record type);
//! * encoding within 512 bytes gives at most 512 bytes that decode, the
//!   records kept being the first ones, `TC` set when answers or
//!   authority records were left out;
//! * the stream codec, given the message behind its 2-byte length and cut
//!   into pieces, decodes the same as the whole;
//! * no single allocation exceeds 1 MiB ([`wf_fuzz::CappedAlloc`]): a
//!   decoder reserving memory for declared counts fails here.

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use wf_core::net::dns::{DnsCodec, DnsMessage};

#[global_allocator]
static ALLOC: wf_fuzz::CappedAlloc = wf_fuzz::CappedAlloc::new(1 << 20);

fuzz_target!(|data: &[u8]| {
    let first = DnsMessage::decode(data).map_err(|e| e.to_string());
    assert_eq!(first, DnsMessage::decode(data).map_err(|e| e.to_string()));

    // The stream codec agrees, whatever the pieces.
    if data.len() <= usize::from(u16::MAX) {
        let mut codec = DnsCodec::new(true);
        let mut buf = BytesMut::new();
        let mut framed = Vec::with_capacity(data.len() + 2);
        framed.put_u16(data.len() as u16);
        framed.extend_from_slice(data);
        let mut got = None;
        for piece in framed.chunks(7) {
            buf.extend_from_slice(piece);
            match codec.decode(&mut buf) {
                Ok(Some(m)) => got = Some(Ok(m)),
                Ok(None) => {}
                Err(e) => got = Some(Err(e.to_string())),
            }
            if got.is_some() {
                break;
            }
        }
        assert_eq!(got.expect("a whole frame decodes or fails"), first);
    }

    let Ok(msg) = first else { return };
    let wire = msg.to_vec().expect("a decoded message encodes");
    assert_eq!(DnsMessage::decode(&wire).expect("an encoded message decodes"), msg);

    let (small, cut) = msg.encode_limited(512).unwrap_or_else(|e| {
        // Only the questions alone may not fit.
        assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE), "{e}");
        (Vec::new(), true)
    });
    if small.is_empty() {
        return;
    }
    assert!(small.len() <= 512);
    let back = DnsMessage::decode(&small).expect("a truncated message decodes");
    assert_eq!(back.questions, msg.questions);
    assert_eq!(back.answers[..], msg.answers[..back.answers.len()]);
    assert_eq!(cut, wire.len() > 512);
    let lost_main = back.answers.len() < msg.answers.len() || back.authority.len() < msg.authority.len();
    assert_eq!(back.flags.tc, msg.flags.tc || lost_main);
});
