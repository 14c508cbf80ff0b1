#![no_main]
//! Fuzz target `resp_reply`: wf-redis's client codec, which reads the
//! replies of untrusted servers, in RESP2 and RESP3.
//!
//! Input: byte 0 picks RESP3 (bit 0), the reply size limit (bits 1-3)
//! and, for RESP2, replies to requests of 1 to 4 commands (bits 4-5;
//! 0: every value on its own, as a subscriber reads them); byte 1 (mod
//! 9) says how many of the next bytes are piece sizes; the rest is what
//! a server sends. It is decoded whole, then again fed in pieces of
//! those sizes (1 to 256 bytes, cycled): both must give the same values
//! and stop at the same error code. Every value, written back as a
//! `RedisServer` writes it (RESP2), must decode to its RESP2 form. No
//! panic, no stack overflow, no hang, no allocation beyond what arrived.

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use wf_core::net::{ClientProtocol, ServerParams, ServerProtocol};
use wf_redis::{ClientCodec, Redis, RedisRequest, RedisResponse, RedisValue};

const LIMITS: [usize; 5] = [16, 256, 4096, 1 << 20, 512 << 20];

/// How replies are grouped.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Each value on its own (a subscriber), RESP3 or not.
    Every { resp3: bool },
    /// RESP2 replies to requests of this many commands each.
    Requests(usize),
}

/// A codec for `mode` reading `len` bytes, and the number of values per
/// response.
fn codec(mode: Mode, limit: usize, len: usize) -> (ClientCodec, usize) {
    let codec = Redis::with_size_limit(limit).client_codec();
    match mode {
        Mode::Every { resp3 } => (codec.every_value(resp3), 1),
        Mode::Requests(n) => {
            let mut codec = codec;
            let mut req = RedisRequest::default();
            for _ in 0..n {
                req.push_command("GET", ["k"]);
            }
            // Requests in flight (pipelined) for every value the input
            // could hold (3 bytes each at least).
            let mut sink = BytesMut::new();
            for _ in 0..len / 3 / n + 1 {
                codec.encode(&req, &mut sink).unwrap();
            }
            (codec, n)
        }
    }
}

/// The values decoded from `data` fed in pieces of `sizes` (whole when
/// there are none), as text (NaN equals NaN), and the code of the error
/// that stopped it (0: none).
fn decode(mode: Mode, limit: usize, data: &[u8], sizes: &[u8]) -> (Vec<RedisValue>, Vec<String>, i32) {
    let (mut codec, per_response) = codec(mode, limit, data.len());
    let mut buf = BytesMut::new();
    let (mut values, mut texts) = (Vec::new(), Vec::new());
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = sizes.get(i % sizes.len().max(1)).map_or(data.len(), |&s| usize::from(s) + 1);
        i += 1;
        let end = data.len().min(at + n);
        buf.extend_from_slice(&data[at..end]);
        at = end;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(mut r)) => {
                    assert_eq!(r.results().len(), per_response, "one value per command");
                    for v in r.take_results() {
                        texts.push(format!("{v:?}"));
                        values.push(v);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // EBADMSG or EMSGSIZE: a system error.
                    assert!(e.state() == wf_core::State::SysError && e.code() != 0, "{e:?}");
                    return (values, texts, e.code());
                }
            }
        }
        assert!(buf.len() <= limit, "{} bytes buffered over a limit of {limit}", buf.len());
    }
    (values, texts, 0)
}

fn line(b: &Bytes) -> Bytes {
    b.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect::<Vec<u8>>().into()
}

/// `v` as a RESP2 client reads it from a `RedisServer`.
fn resp2(v: &RedisValue) -> RedisValue {
    match v {
        RedisValue::Nil => RedisValue::Nil,
        RedisValue::Integer(i) => RedisValue::Integer(*i),
        RedisValue::String(b) | RedisValue::BigNumber(b) | RedisValue::Verbatim { text: b, .. } => {
            RedisValue::String(b.clone())
        }
        RedisValue::Status(b) => RedisValue::Status(line(b)),
        RedisValue::Error(b) => RedisValue::Error(line(b)),
        RedisValue::Array(a) | RedisValue::Set(a) | RedisValue::Push(a) => {
            RedisValue::Array(a.iter().map(resp2).collect())
        }
        RedisValue::Map(m) => RedisValue::Array(m.iter().flat_map(|(k, v)| [resp2(k), resp2(v)]).collect()),
        RedisValue::Double(d) if d.is_infinite() => RedisValue::from(if *d > 0.0 { "inf" } else { "-inf" }),
        RedisValue::Double(d) => RedisValue::from(d.to_string()),
        RedisValue::Boolean(b) => RedisValue::Integer(i64::from(*b)),
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, count, rest @ ..] = data else { return };
    let resp3 = pick & 1 == 1;
    let limit = LIMITS[usize::from((pick >> 1) & 7) % LIMITS.len()];
    let mode = match (pick >> 4) & 3 {
        n if n > 0 && !resp3 => Mode::Requests(usize::from(n)),
        _ => Mode::Every { resp3 },
    };
    let (sizes, wire) = rest.split_at(rest.len().min(usize::from(*count) % 9));
    let (values, whole, code) = decode(mode, limit, wire, &[]);
    let (_, pieces, pieces_code) = decode(mode, limit, wire, sizes);
    assert_eq!((&whole, code), (&pieces, pieces_code), "whole and in pieces of {sizes:?} differ");
    let mut server = Redis::default().server_codec(&ServerParams::default());
    for v in values {
        let mut resp = RedisResponse::default();
        resp.set_result(v.clone());
        let mut out = BytesMut::new();
        server.encode(&resp, &mut out).unwrap();
        let (again, _, code) = decode(Mode::Every { resp3: false }, usize::MAX, &out, &[]);
        assert_eq!(code, 0, "{v:?} written back is refused: {:?}", out.escape_ascii().to_string());
        assert_eq!(again.len(), 1);
        assert_eq!(format!("{:?}", again[0]), format!("{:?}", resp2(&v)), "{v:?} written back reads differently");
    }
});
