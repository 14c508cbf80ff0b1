#![no_main]
//! Fuzz target `mysql_client`: wf-mysql's client side against a hostile
//! server. The first input byte picks what the client expects:
//!
//! - `% 4 == 0`: text results of a query (OK, ERR, result sets, several
//!   of them with `SERVER_MORE_RESULTS_EXISTS`);
//! - `1`: binary rows (a `COM_STMT_EXECUTE` encoded first, so the codec
//!   expects them);
//! - `2`: a `COM_STMT_PREPARE` answer, then binary rows;
//! - `3`: the login: the server's greeting, then auth switch / more data
//!   / OK / ERR packets.
//!
//! The rest is the server's bytes. Each input is decoded whole and in
//! pieces of 1 to 8 bytes (chosen by the first byte's upper bits): both
//! must give the same responses and the same error (decoders resume where
//! they stopped). No panic, no allocation beyond what the input holds
//! (libFuzzer's malloc limit catches one reserved by a declared length).

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use wf_mysql::fuzzing::{self, Expect};

/// What the codec made of `data`, fed `step` bytes at a time (0: whole):
/// each response's debug form, then the error that stopped it, if any.
fn decode(mode: u8, data: &[u8], step: usize) -> Vec<String> {
    let mut codec = if mode == 3 { fuzzing::handshake_client_codec() } else { fuzzing::client_codec() };
    // Several commands in flight: the responses follow one another.
    let expects: &[Expect] = match mode {
        0 => &[Expect::Text, Expect::Text, Expect::Text],
        1 => &[Expect::Binary, Expect::Text, Expect::Binary],
        2 => &[Expect::Prepare, Expect::Binary],
        _ => &[],
    };
    for e in expects {
        fuzzing::expect(&mut codec, *e);
    }
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    let step = if step == 0 { data.len().max(1) } else { step };
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(r)) => out.push(format!("{r:?}")),
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("error {:?} {}", e.state(), e.code()));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else { return };
    let mode = selector % 4;
    let whole = decode(mode, data, 0);
    let step = usize::from(selector >> 2) % 8 + 1;
    assert_eq!(whole, decode(mode, data, step), "whole and in pieces of {step} differ");
    if mode == 3 {
        // The login: the codec split the packets; the client's parsers
        // read them (greeting, auth switch, more data).
        let mut codec = fuzzing::handshake_client_codec();
        let mut buf = BytesMut::from(data);
        let mut packets = Vec::new();
        while let Ok(Some(p)) = codec.decode(&mut buf) {
            packets.push(p);
        }
        let raw: Vec<&[u8]> = packets.iter().map(fuzzing::raw_packet).collect();
        if let Some((greeting, then)) = raw.split_first() {
            let _ = fuzzing::client_login(greeting, then);
        }
    }
});
