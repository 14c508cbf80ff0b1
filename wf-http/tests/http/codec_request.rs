//! The server side of the public codec: requests decoded from byte
//! literals (framing, pieces, pipelining, trailers), smuggling defences,
//! limits, and responses encoded to exact bytes.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};
use wf_core::State;
use wf_http::HttpResponse;
use wf_http::codec::{CodecError, Limits, ServerCodec};

fn decode_with(limits: Limits, raw: &[u8]) -> Result<Option<wf_http::HttpRequest>, CodecError> {
    ServerCodec::new(limits).decode(&mut BytesMut::from(raw))
}

fn decode(raw: &[u8]) -> Result<Option<wf_http::HttpRequest>, CodecError> {
    decode_with(Limits::default(), raw)
}

fn rejected(raw: &[u8]) -> CodecError {
    match decode(raw) {
        Err(e) => e,
        Ok(r) => panic!("accepted {:?}: {r:?}", String::from_utf8_lossy(raw)),
    }
}

#[test]
fn content_length_body_and_request_line() {
    let mut buf = BytesMut::from(
        &b"PUT /a/b?c=1&d HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-Two: 1\r\nX-Two: 2\r\n\r\nhello"[..],
    );
    let r = ServerCodec::default().decode(&mut buf).unwrap().expect("a whole request");
    assert_eq!((r.method(), r.request_uri(), r.http_version()), ("PUT", "/a/b?c=1&d", "HTTP/1.1"));
    assert_eq!(r.header("HOST"), Some("h"));
    let twos: Vec<_> = r.headers().get_all("x-two").map(|v| v.to_str().unwrap()).collect();
    assert_eq!(twos, ["1", "2"]);
    assert_eq!(&r.body()[..], b"hello");
    assert!(r.is_keep_alive());
    assert!(buf.is_empty(), "the whole request was consumed");
}

#[test]
fn request_without_length_has_no_body() {
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\nleftover"[..]);
    let r = ServerCodec::default().decode(&mut buf).unwrap().unwrap();
    assert_eq!(r.body_len(), 0);
    assert_eq!(&buf[..], b"leftover", "bytes after a bodiless request belong to the next one");
}

#[test]
fn http_10_request() {
    let r = decode(b"GET /old HTTP/1.0\r\n\r\n").unwrap().unwrap();
    assert_eq!(r.http_version(), "HTTP/1.0");
    assert!(!r.is_keep_alive(), "HTTP/1.0 closes by default");
    let r = decode(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap().unwrap();
    assert!(r.is_keep_alive());
    let r = decode(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap().unwrap();
    assert!(!r.is_keep_alive());
}

#[test]
fn byte_by_byte_then_pipelined() {
    let raw = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /y HTTP/1.1\r\nHost: x\r\n\r\nPOST /z HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n";
    let mut codec = ServerCodec::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in raw.iter() {
        buf.extend_from_slice(&[b]);
        while let Some(r) = codec.decode(&mut buf).unwrap() {
            got.push((r.request_uri().to_string(), r.body()));
        }
    }
    assert_eq!(got, [("/x".to_string(), "abc".into()), ("/y".to_string(), "".into()), ("/z".to_string(), "q".into())]);
    assert!(buf.is_empty());
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n";
    let r = decode(raw).unwrap().unwrap();
    assert_eq!(&r.body()[..], b"Wikipedia in\r\n\r\nchunks.");
    assert!(r.is_chunked());
    assert_eq!(r.header("x-checksum"), Some("abc"));
    assert_eq!(r.header("x-other"), Some("1"));
}

#[test]
fn chunked_split_everywhere() {
    let raw =
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n";
    for split in 1..raw.len() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&raw[..split]);
        let first = codec.decode(&mut buf).unwrap();
        let r = match first {
            Some(r) => r,
            None => {
                buf.extend_from_slice(&raw[split..]);
                codec.decode(&mut buf).unwrap().unwrap_or_else(|| panic!("split at {split}"))
            }
        };
        assert_eq!(&r.body()[..], b"0123456789abc", "split at {split}");
    }
}

#[test]
fn equal_duplicate_lengths_are_one() {
    let r = decode(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").unwrap().unwrap();
    assert_eq!(&r.body()[..], b"ok");
    let r = decode(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nok").unwrap().unwrap();
    assert_eq!(&r.body()[..], b"ok");
}

#[test]
fn smuggling_content_length_with_transfer_encoding() {
    for raw in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: identity\r\n\r\n",
    ] {
        assert_eq!(rejected(raw), CodecError::BadMessage, "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn smuggling_differing_lengths() {
    for raw in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x1\r\n\r\na",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 1\r\n\r\na",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    ] {
        assert_eq!(rejected(raw), CodecError::BadMessage, "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn smuggling_transfer_codings_other_than_final_chunked() {
    for raw in [
        &b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        assert_eq!(rejected(raw), CodecError::BadMessage, "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn smuggling_bad_chunk_sizes() {
    let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for chunks in [
        "zz\r\n",                       // not hex
        "-1\r\n",                       // signed
        "0x5\r\nhello\r\n0\r\n\r\n",    // C-style prefix
        "\r\n",                         // empty size
        "11111111111111111\r\n",        // 17 hex digits: would overflow 64 bits
        "3\r\nabcXY\r\n0\r\n\r\n",      // data longer than the size
        "5\r\nab\r\n\r\n0\r\n\r\n\r\n", // not what the size says: "ab\r\n\r" then "\n0"
        "1 2\r\nx\r\n0\r\n\r\n",        // two numbers
    ] {
        let raw = format!("{head}{chunks}");
        assert_eq!(rejected(raw.as_bytes()), CodecError::BadMessage, "{chunks:?}");
    }
    // A size line that never ends is not buffered forever.
    let endless = format!("{head}{}", "0".repeat(4096));
    assert_eq!(rejected(endless.as_bytes()), CodecError::BadMessage);
}

#[test]
fn smuggling_obsolete_line_folding() {
    for raw in [
        &b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tfolded\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n 5\r\n\r\n",
    ] {
        assert_eq!(rejected(raw), CodecError::BadMessage, "{}", String::from_utf8_lossy(raw));
    }
    // In trailers too.
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n folded\r\n\r\n";
    assert_eq!(rejected(raw), CodecError::BadMessage);
}

#[test]
fn malformed_heads() {
    for raw in [
        &b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET /\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
    ] {
        assert_eq!(rejected(raw), CodecError::BadMessage, "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn header_count_limit() {
    let limits = Limits { max_headers: 4, ..Limits::default() };
    let three = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert!(decode_with(limits, three).unwrap().is_some(), "exactly the limit is fine");
    let four = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    assert_eq!(decode_with(limits, four).unwrap_err(), CodecError::HeadTooLarge);
    // The default is 100.
    let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert_eq!(decode(raw.as_bytes()).unwrap_err(), CodecError::HeadTooLarge);
    let hundred: String = (0..99).map(|i| format!("X-{i}: v\r\n")).collect();
    assert!(decode(format!("GET / HTTP/1.1\r\nHost: x\r\n{hundred}\r\n").as_bytes()).unwrap().is_some());
}

#[test]
fn head_size_limit() {
    let limits = Limits { max_head_bytes: 64, ..Limits::default() };
    let fits = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(64 - 27));
    assert_eq!(fits.len(), 64);
    assert!(decode_with(limits, fits.as_bytes()).unwrap().is_some());
    let over = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(64 - 26));
    assert_eq!(decode_with(limits, over.as_bytes()).unwrap_err(), CodecError::HeadTooLarge);
    // A head that is still incomplete but already too big fails at once.
    let partial = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "a".repeat(100));
    assert_eq!(decode_with(limits, partial.as_bytes()).unwrap_err(), CodecError::HeadTooLarge);
    // Default: 64 KiB.
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n", "a".repeat(64 * 1024));
    assert_eq!(decode(big.as_bytes()).unwrap_err(), CodecError::HeadTooLarge);
}

#[test]
fn body_size_limit() {
    let limits = Limits { max_body: Some(5), ..Limits::default() };
    assert!(decode_with(limits, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").unwrap().is_some());
    // Rejected from the head, before the body comes.
    assert_eq!(
        decode_with(limits, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n").unwrap_err(),
        CodecError::BodyTooLarge
    );
    assert_eq!(
        decode_with(limits, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n")
            .unwrap_err(),
        CodecError::ExpectationFailed
    );
    // Chunked: the total counts.
    let ok = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    assert_eq!(&decode_with(limits, ok).unwrap().unwrap().body()[..], b"abcde");
    let over = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    assert_eq!(decode_with(limits, over).unwrap_err(), CodecError::BodyTooLarge);
    // A huge announced chunk is refused before its data.
    let huge = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n";
    assert_eq!(decode_with(limits, huge).unwrap_err(), CodecError::BodyTooLarge);
}

#[test]
fn last_error_remembers_why() {
    let mut codec = ServerCodec::new(Limits { max_body: Some(1), ..Limits::default() });
    assert_eq!(codec.last_error(), None);
    let e =
        codec.decode(&mut BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"[..])).unwrap_err();
    assert_eq!(codec.last_error(), Some(e));
    assert_eq!(e, CodecError::BodyTooLarge);
}

#[test]
fn errors_map_to_statuses_and_task_errors() {
    assert_eq!(CodecError::BadMessage.status(), 400);
    assert_eq!(CodecError::BodyTooLarge.status(), 413);
    assert_eq!(CodecError::ExpectationFailed.status(), 417);
    assert_eq!(CodecError::HeadTooLarge.status(), 431);
    let e: wf_core::Error = CodecError::BadMessage.into();
    assert_eq!((e.state(), e.code()), (State::SysError, libc::EBADMSG));
    for big in [CodecError::BodyTooLarge, CodecError::HeadTooLarge, CodecError::ExpectationFailed] {
        let e: wf_core::Error = big.into();
        assert_eq!((e.state(), e.code()), (State::SysError, libc::EMSGSIZE), "{big:?}");
    }
    let e: wf_core::Error = CodecError::Io(libc::ECONNRESET).into();
    assert_eq!((e.state(), e.code()), (State::SysError, libc::ECONNRESET));
}

fn encode(resp: &HttpResponse) -> Vec<u8> {
    let mut out = BytesMut::new();
    ServerCodec::default().encode(resp, &mut out).unwrap();
    out.to_vec()
}

#[test]
fn encodes_responses_exactly() {
    let mut resp = HttpResponse::default();
    resp.set_status_code(404);
    resp.set_header("Content-Length", "4");
    resp.add_header("X-Multi", "a");
    resp.add_header("X-Multi", "b");
    resp.append_body("no");
    resp.append_body(&b"pe"[..]);
    assert_eq!(encode(&resp), b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nX-Multi: a\r\nX-Multi: b\r\n\r\nnope");

    let mut custom = HttpResponse::default();
    custom.set_status_code(299);
    custom.set_reason_phrase("Fine Enough");
    custom.set_http_version("HTTP/1.0");
    assert_eq!(encode(&custom), b"HTTP/1.0 299 Fine Enough\r\n\r\n");
}

#[test]
fn encodes_chunked_responses() {
    let mut resp = HttpResponse::default();
    resp.set_header("Transfer-Encoding", "chunked");
    resp.append_body("0123456789");
    resp.append_body("abcdef");
    assert_eq!(
        encode(&resp),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"
    );
    let mut empty = HttpResponse::default();
    empty.set_header("Transfer-Encoding", "chunked");
    assert_eq!(encode(&empty), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

#[test]
fn message_api() {
    let mut resp = HttpResponse::default();
    assert_eq!((resp.status_code(), resp.reason_phrase(), resp.http_version()), (200, "OK", "HTTP/1.1"));
    assert!(!resp.set_status_code(1000));
    assert!(!resp.set_http_version("HTTP/2"));
    assert!(!resp.add_header("bad name", "v"));
    assert!(!resp.set_header("x", "bad\r\nvalue"));
    assert!(resp.headers().is_empty(), "failed setters change nothing");
    assert!(resp.add_header("X-A", "1"));
    assert!(resp.add_header("x-a", "2"));
    assert!(resp.set_header("X-B", "3"));
    let all: Vec<(String, String)> =
        resp.headers().iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string())).collect();
    assert_eq!(all, [("X-A".into(), "1".into()), ("x-a".into(), "2".into()), ("X-B".into(), "3".into())]);
    assert!(resp.set_header("X-A", "only"));
    assert_eq!(resp.headers().get_all("x-a").count(), 1);
    assert!(resp.remove_header("x-a"));
    assert!(!resp.remove_header("x-a"));
    resp.append_body("ab");
    resp.append_body(String::from("cd"));
    resp.append_body(vec![b'e']);
    assert_eq!((resp.body_len(), &resp.body()[..]), (5, &b"abcde"[..]));
    resp.set_body("new");
    assert_eq!(&resp.take_body()[..], b"new");
    assert_eq!(resp.body_len(), 0);

    let mut req = wf_http::HttpRequest::default();
    assert_eq!((req.method(), req.request_uri()), ("GET", "/"));
    assert!(req.set_method("PATCH"));
    assert!(!req.set_method("BAD METHOD"));
    req.set_request_uri("/x?y");
    assert_eq!((req.method(), req.request_uri()), ("PATCH", "/x?y"));
}

#[test]
fn more_headers_than_the_stack_holds() {
    let limits = Limits { max_headers: 300, ..Limits::default() };
    let many: String = (0..250).map(|i| format!("X-{i}: {i}\r\n")).collect();
    let r = decode_with(limits, format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes()).unwrap().unwrap();
    assert_eq!(r.headers().len(), 251);
    assert_eq!(r.header("x-249"), Some("249"));
}

#[test]
fn trailer_count_limit() {
    let limits = Limits { max_headers: 2, ..Limits::default() };
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT1: 1\r\nT2: 2\r\nT3: 3\r\n\r\n";
    assert_eq!(decode_with(limits, raw).unwrap_err(), CodecError::HeadTooLarge);
}

#[test]
fn trailer_count_limit_across_reads() {
    // Trailers trickling in one line per read must not escape the limit
    // (nor grow the request without bound).
    let mut codec = ServerCodec::new(Limits { max_headers: 2, ..Limits::default() });
    let mut buf = BytesMut::from(&b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    let mut outcome = Ok(None);
    for i in 0..10 {
        buf.extend_from_slice(format!("T{i}: v\r\n").as_bytes());
        outcome = codec.decode(&mut buf);
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        buf.extend_from_slice(b"\r\n");
        outcome = codec.decode(&mut buf);
    }
    match outcome {
        Err(e) => assert_eq!(e, CodecError::HeadTooLarge),
        Ok(r) => panic!("10 trailers accepted with max_headers 2: {:?}", r.map(|r| r.headers().len())),
    }
}

#[test]
fn framing_and_routing_trailers_are_not_merged() {
    // RFC 9110 §6.5.1: trailers such as Content-Length, Transfer-Encoding
    // or Host must not be merged into the header section. Merged, a
    // request forwarded by a wf proxy (the http_proxy tutorial moves the
    // request into a client task) would carry both Transfer-Encoding and
    // Content-Length: a smuggling vector at the next hop.
    let raw = b"POST / HTTP/1.1\r\nHost: good\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 1\r\nHost: evil\r\nX-Ok: 1\r\n\r\n";
    let r = decode(raw).unwrap().unwrap();
    assert_eq!(&r.body()[..], b"a");
    assert_eq!(r.headers().get_all("host").collect::<Vec<_>>(), ["good"]);
    assert!(r.header("content-length").is_none(), "a trailer became the request's Content-Length");
}
