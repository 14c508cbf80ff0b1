#![no_main]
//! Fuzz target `http_request`: the server codec (`ServerProtocol::server_codec`
//! of `wf_http::Http`, a 64 KiB request limit) decoding requests.
//!
//! The input is decoded in one piece, then byte by byte (small inputs) and
//! in pieces cut at input-derived points: every way must give the same
//! requests and the same final error (a decoder that resumes wrongly
//! differs). What stays buffered is bounded by the head limit, bodies by
//! the request limit. Each decoded request is encoded again (the client
//! codec) and must decode to the same request.

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use wf_core::net::{ClientProtocol, ServerParams, ServerProtocol};
use wf_http::codec::{CodecError, Limits, ServerCodec};
use wf_http::{Http, HttpRequest};

const LIMIT: usize = 64 * 1024;
/// The codec's head limit (`Limits::default()`), plus a partial chunk-data
/// CRLF.
const MAX_BUFFERED: usize = 64 * 1024 + 2;

#[derive(Debug, PartialEq, Eq)]
struct Seen {
    method: String,
    uri: String,
    version: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn seen(r: &HttpRequest) -> Seen {
    Seen {
        method: r.method().to_string(),
        uri: r.request_uri().to_string(),
        version: r.http_version(),
        headers: r.headers().iter().map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())).collect(),
        body: r.body().to_vec(),
    }
}

fn params() -> ServerParams {
    let mut p = ServerParams::default();
    p.request_size_limit = Some(LIMIT);
    p
}

/// Decodes `pieces` in turn, as reads would deliver them.
fn run<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<Seen>, Option<CodecError>) {
    let mut codec = Http::default().server_codec(&params());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(r)) => {
                    assert!(r.body_len() <= LIMIT, "a body past the limit");
                    out.push(seen(&r));
                }
                Ok(None) => {
                    assert!(buf.len() <= MAX_BUFFERED, "{} bytes left buffered", buf.len());
                    break;
                }
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let whole = run(std::iter::once(data));
    if data.len() <= 4096 {
        assert_eq!(whole, run(data.chunks(1)), "byte by byte");
    }
    assert_eq!(whole, run(wf_fuzz::pieces(data, 0x9e37_79b9).into_iter()), "in pieces");

    // Encoded again (as wf's client sends a request), each decodes the same.
    let mut codec = Http::default().server_codec(&params());
    let mut buf = BytesMut::from(data);
    while let Ok(Some(req)) = codec.decode(&mut buf) {
        let mut out = BytesMut::new();
        Http::default().client_codec().encode(&req, &mut out).expect("encodes");
        let text = String::from_utf8_lossy(&out).into_owned();
        // Trailers move into the head: room for them.
        let mut again = ServerCodec::new(Limits { max_headers: 1000, max_head_bytes: 1 << 20, max_body: Some(LIMIT) });
        let copy = match again.decode(&mut out) {
            Ok(Some(c)) => c,
            other => panic!("re-encoded request did not decode: {other:?}\n{text:?}"),
        };
        assert_eq!(seen(&req), seen(&copy));
    }
});
