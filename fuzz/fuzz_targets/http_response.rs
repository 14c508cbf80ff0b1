#![no_main]
//! Fuzz target `http_response`: the client codec
//! (`ClientProtocol::client_codec` of `wf_http::Http`) decoding responses,
//! the end of the input as the end of the connection.
//!
//! The input is decoded in one piece, then byte by byte (small inputs) and
//! in pieces cut at input-derived points: every way must give the same
//! responses and the same final error. What stays buffered is bounded by
//! the head limit. Each decoded response is encoded again (the server
//! codec) and must decode to the same response.

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use wf_core::net::{ClientProtocol, ServerParams, ServerProtocol};
use wf_http::codec::{ClientCodec, CodecError, Limits};
use wf_http::{Http, HttpResponse};

const MAX_BUFFERED: usize = 64 * 1024 + 2;

#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    reason: String,
    version: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn seen(r: &HttpResponse) -> Seen {
    Seen {
        status: r.status_code(),
        reason: r.reason_phrase().to_string(),
        version: r.http_version(),
        headers: r.headers().iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect(),
        body: r.body().to_vec(),
    }
}

/// Decodes `pieces` in turn, then the end of the connection.
fn run<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<Seen>, Option<CodecError>) {
    let mut codec = Http::default().client_codec();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(r)) => out.push(seen(&r)),
                Ok(None) => {
                    assert!(buf.len() <= MAX_BUFFERED, "{} bytes left buffered", buf.len());
                    break;
                }
                Err(e) => return (out, Some(e)),
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(r)) => out.push(seen(&r)),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = run(std::iter::once(data));
    if data.len() <= 4096 {
        assert_eq!(whole, run(data.chunks(1)), "byte by byte");
    }
    assert_eq!(whole, run(wf_fuzz::pieces(data, 0x85eb_ca6b).into_iter()), "in pieces");

    // Encoded again (as wf's server sends a reply), each decodes the same.
    let (responses, _) = whole;
    let mut codec = Http::default().client_codec();
    let mut buf = BytesMut::from(data);
    let mut n = 0;
    while let Ok(Some(resp)) = codec.decode(&mut buf) {
        n += 1;
        let mut out = BytesMut::new();
        Http::default().server_codec(&ServerParams::default()).encode(&resp, &mut out).expect("encodes");
        let text = String::from_utf8_lossy(&out).into_owned();
        // Trailers move into the head: room for them.
        let mut again = ClientCodec::new(Limits { max_headers: 1000, max_head_bytes: 1 << 20, max_body: None });
        let copy = match again.decode(&mut out) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => again.decode_eof(&mut out).map(|c| c.expect("a response at the end")),
            Err(e) => Err(e),
        };
        let copy = match copy {
            Ok(c) => c,
            Err(e) => panic!("re-encoded response did not decode: {e:?}\n{text:?}"),
        };
        assert_eq!(seen(&resp), seen(&copy));
    }
    assert!(n <= responses.len());
});
