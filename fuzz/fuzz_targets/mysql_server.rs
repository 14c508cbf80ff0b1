#![no_main]
//! Fuzz target `mysql_server`: wf-mysql's server side against a hostile
//! client. The first input byte picks the server codec's request size
//! limit (none, 64 bytes, 1 KiB) and whether it is past the login
//! (commands) or in it (login packets); the rest is the client's bytes,
//! decoded whole and in pieces of 1 to 8 bytes, which must agree. Each
//! packet a login-phase codec hands out also goes through the login
//! packet parser, as does the whole input.

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use wf_mysql::fuzzing;

/// What the codec made of `data`, fed `step` bytes at a time (0: whole).
fn decode(selector: u8, data: &[u8], step: usize) -> Vec<String> {
    let limit = [None, Some(64), Some(1024)][usize::from(selector % 3)];
    let commands = selector & 0x04 != 0;
    let mut codec = fuzzing::server_codec(limit, commands);
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    let step = if step == 0 { data.len().max(1) } else { step };
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(req)) => {
                    if !commands {
                        let _ = fuzzing::server_login(fuzzing::request_packet(&req));
                    }
                    out.push(format!("{req:?}"));
                }
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
    let _ = fuzzing::server_login(data);
    let whole = decode(selector, data, 0);
    let step = usize::from(selector >> 3) % 8 + 1;
    assert_eq!(whole, decode(selector, data, step), "whole and in pieces of {step} differ");
});
