#![no_main]
//! Fuzz target `resp_request`: wf-redis's server codec, which reads the
//! requests of untrusted clients (multibulks and inline commands).
//!
//! Input: byte 0 picks the request size limit, byte 1 (mod 9) says how
//! many of the next bytes are piece sizes; the rest is what a client
//! sends. It is decoded whole, then again fed in pieces of those sizes
//! (1 to 256 bytes, cycled): both must give the same requests and stop
//! at the same refusal (its error code). Every request, written back as
//! a multibulk, must decode to the same words. No panic, no hang, no
//! allocation beyond what arrived (libFuzzer's RSS and malloc limits).

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use wf_core::net::{ServerParams, ServerProtocol};
use wf_redis::{Redis, ServerCodec};

const LIMITS: [usize; 6] = [16, 64, 256, 4096, 1 << 20, 1 << 30];

fn codec(limit: usize) -> ServerCodec {
    let mut params = ServerParams::default();
    params.request_size_limit = Some(limit);
    Redis::default().server_codec(&params)
}

type Words = Vec<Vec<u8>>;

/// The requests decoded from `data` fed in pieces of `sizes` (whole when
/// there are none), and the code of the refusal that stopped it (0: none).
fn decode(limit: usize, data: &[u8], sizes: &[u8]) -> (Vec<Words>, i32) {
    let mut codec = codec(limit);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = sizes.get(i % sizes.len().max(1)).map_or(data.len(), |&s| usize::from(s) + 1);
        i += 1;
        let end = data.len().min(at + n);
        buf.extend_from_slice(&data[at..end]);
        at = end;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(req)) => {
                    let mut commands = req.commands();
                    assert_eq!(commands.len(), 1, "one command per request");
                    let words: Words = commands.next().unwrap().iter().map(|w| w.to_vec()).collect();
                    assert!(!words.is_empty(), "a request without a word");
                    out.push(words);
                }
                Ok(None) => break,
                Err(e) => {
                    // Each refusal has its -ERR text, and it sticks.
                    // EBADMSG or EMSGSIZE: a system error.
                    assert!(e.state() == wf_core::State::SysError && e.code() != 0, "{e:?}");
                    assert_eq!(codec.decode(&mut buf).unwrap_err().code(), e.code());
                    return (out, e.code());
                }
            }
        }
        assert!(buf.len() <= limit, "{} bytes buffered over a limit of {limit}", buf.len());
    }
    (out, 0)
}

fn multibulk(words: &Words) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [pick, count, rest @ ..] = data else { return };
    let limit = LIMITS[usize::from(*pick) % LIMITS.len()];
    let (sizes, wire) = rest.split_at(rest.len().min(usize::from(*count) % 9));
    let whole = decode(limit, wire, &[]);
    let pieces = decode(limit, wire, sizes);
    assert_eq!(whole, pieces, "whole and in pieces of {sizes:?} differ");
    for words in &whole.0 {
        let again = decode(1 << 30, &multibulk(words), &[]);
        assert_eq!(again, (vec![words.clone()], 0), "a request written back reads differently");
    }
});
