//! The client side of the public codec: requests encoded to exact bytes,
//! responses decoded from byte literals (Content-Length, chunked with
//! trailers, close-delimited, bodiless after HEAD/204/304/CONNECT,
//! interim 1xx), limits and rejections.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};
use wf_http::codec::{ClientCodec, CodecError, Limits};
use wf_http::{HttpRequest, HttpResponse};

fn decode_one(codec: &mut ClientCodec, raw: &[u8]) -> Result<Option<HttpResponse>, CodecError> {
    codec.decode(&mut BytesMut::from(raw))
}

fn sent(codec: &mut ClientCodec, method: &str) -> Vec<u8> {
    let mut req = HttpRequest::default();
    assert!(req.set_method(method));
    let mut out = BytesMut::new();
    codec.encode(&req, &mut out).unwrap();
    out.to_vec()
}

#[test]
fn encodes_requests_exactly() {
    let mut req = HttpRequest::default();
    req.set_method("POST");
    req.set_request_uri("/submit?x=1");
    req.set_header("Host", "example.com");
    req.set_header("Content-Length", "5");
    req.append_body("he");
    req.append_body("llo");
    let mut out = BytesMut::new();
    ClientCodec::default().encode(&req, &mut out).unwrap();
    assert_eq!(&out[..], b"POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello");

    let mut chunked = HttpRequest::default();
    chunked.set_http_version("HTTP/1.0");
    chunked.set_header("Transfer-Encoding", "chunked");
    chunked.append_body("abc");
    let mut out = BytesMut::new();
    ClientCodec::default().encode(&chunked, &mut out).unwrap();
    assert_eq!(&out[..], b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
}

#[test]
fn content_length_response() {
    let mut c = ClientCodec::default();
    let mut buf = BytesMut::from(&b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\nX-A: 1\r\n\r\nbodyEXTRA"[..]);
    let r = c.decode(&mut buf).unwrap().unwrap();
    assert_eq!((r.status_code(), r.reason_phrase(), r.http_version()), (201, "Created", "HTTP/1.1"));
    assert_eq!(r.header("x-a"), Some("1"));
    assert_eq!(&r.body()[..], b"body");
    assert_eq!(&buf[..], b"EXTRA", "bytes after the body are left for the next response");
}

#[test]
fn custom_and_missing_reason_phrases() {
    let mut c = ClientCodec::default();
    let r = decode_one(&mut c, b"HTTP/1.1 200 Everything Fine\r\nContent-Length: 0\r\n\r\n").unwrap().unwrap();
    assert_eq!(r.reason_phrase(), "Everything Fine");
    let r = decode_one(&mut c, b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n").unwrap().unwrap();
    assert_eq!(r.status_code(), 404);
}

#[test]
fn response_in_single_bytes() {
    let raw =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    let mut c = ClientCodec::default();
    let mut buf = BytesMut::new();
    let mut done = None;
    for (i, &b) in raw.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        if let Some(r) = c.decode(&mut buf).unwrap() {
            assert_eq!(i, raw.len() - 1, "complete only at the last byte");
            done = Some(r);
        }
    }
    let r = done.expect("a response");
    assert_eq!(&r.body()[..], b"hello world");
    assert_eq!(r.header("x-trailer"), Some("t"));
}

#[test]
fn chunked_wins_over_content_length_in_responses() {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length.
    let mut c = ClientCodec::default();
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"[..],
    );
    let r = c.decode(&mut buf).unwrap().unwrap();
    assert_eq!(&r.body()[..], b"hi");
    assert!(buf.is_empty());
}

#[test]
fn close_delimited_response() {
    let mut c = ClientCodec::default();
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nfirst "[..]);
    assert!(c.decode(&mut buf).unwrap().is_none(), "not complete until the connection ends");
    buf.extend_from_slice(b"second");
    assert!(c.decode(&mut buf).unwrap().is_none());
    let r = c.decode_eof(&mut buf).unwrap().expect("the end of the connection completes it");
    assert_eq!(&r.body()[..], b"first second");
    // Nothing at all at the end: no response, no error.
    assert!(ClientCodec::default().decode_eof(&mut BytesMut::new()).unwrap().is_none());
}

#[test]
fn truncated_responses_are_errors() {
    for raw in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ] {
        let mut c = ClientCodec::default();
        let mut buf = BytesMut::from(raw);
        assert!(c.decode_eof(&mut buf).is_err(), "{}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn no_body_after_head_204_304_and_connect() {
    let mut c = ClientCodec::default();
    // Three requests in flight: HEAD, GET, CONNECT.
    sent(&mut c, "HEAD");
    sent(&mut c, "GET");
    sent(&mut c, "GET");
    sent(&mut c, "CONNECT");
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n\
HTTP/1.1 200 Connection established\r\n\r\nTUNNEL"[..],
    );
    let head = c.decode(&mut buf).unwrap().unwrap();
    assert_eq!((head.status_code(), head.body_len(), head.header("content-length")), (200, 0, Some("1000")));
    let no_content = c.decode(&mut buf).unwrap().unwrap();
    assert_eq!((no_content.status_code(), no_content.body_len()), (204, 0));
    let not_modified = c.decode(&mut buf).unwrap().unwrap();
    assert_eq!((not_modified.status_code(), not_modified.body_len()), (304, 0));
    let connect = c.decode(&mut buf).unwrap().unwrap();
    assert_eq!((connect.status_code(), connect.body_len()), (200, 0));
    assert_eq!(&buf[..], b"TUNNEL", "tunnel bytes are not a body");
}

#[test]
fn interim_responses_are_skipped() {
    let mut c = ClientCodec::default();
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..],
    );
    let r = c.decode(&mut buf).unwrap().unwrap();
    assert_eq!((r.status_code(), &r.body()[..]), (200, &b"ok"[..]));
    assert_eq!(r.header("link"), None, "headers of interim responses are not the final one's");
}

#[test]
fn pipelined_responses_in_order() {
    let mut c = ClientCodec::default();
    for _ in 0..3 {
        sent(&mut c, "GET");
    }
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"[..],
    );
    let bodies: Vec<_> = (0..3).map(|_| c.decode(&mut buf).unwrap().unwrap().body()).collect();
    assert_eq!(bodies, ["a", "b", "c"]);
}

#[test]
fn rejected_responses() {
    for raw in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTX/1.1 200 OK\r\n\r\n",
    ] {
        let mut c = ClientCodec::default();
        assert_eq!(decode_one(&mut c, raw).unwrap_err(), CodecError::BadMessage, "{}", String::from_utf8_lossy(raw));
    }
}

const SMALL: Limits = Limits { max_headers: 2, max_head_bytes: 128, max_body: Some(4) };

#[test]
fn response_header_count_limit() {
    let too_many = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(decode_one(&mut ClientCodec::new(SMALL), too_many).unwrap_err(), CodecError::HeadTooLarge);
    let two = b"HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n";
    assert!(decode_one(&mut ClientCodec::new(SMALL), two).unwrap().is_some());
}

#[test]
fn response_head_size_limit_while_incomplete() {
    let partial = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(200));
    assert_eq!(decode_one(&mut ClientCodec::new(SMALL), partial.as_bytes()).unwrap_err(), CodecError::HeadTooLarge);
}

#[test]
fn response_head_size_limit_when_complete() {
    // The whole oversized head arrives in one read: still over the limit.
    let long = format!("HTTP/1.1 200 OK\r\nX: {}\r\nContent-Length: 0\r\n\r\n", "a".repeat(200));
    assert_eq!(decode_one(&mut ClientCodec::new(SMALL), long.as_bytes()).unwrap_err(), CodecError::HeadTooLarge);
}

#[test]
fn response_body_size_limit() {
    let big_cl = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(decode_one(&mut ClientCodec::new(SMALL), big_cl).unwrap_err(), CodecError::BodyTooLarge);
    let big_chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    assert_eq!(decode_one(&mut ClientCodec::new(SMALL), big_chunked).unwrap_err(), CodecError::BodyTooLarge);
    let big_eof = b"HTTP/1.1 200 OK\r\n\r\nabcdef";
    assert_eq!(decode_one(&mut ClientCodec::new(SMALL), big_eof).unwrap_err(), CodecError::BodyTooLarge);
    let fits = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd";
    assert_eq!(&decode_one(&mut ClientCodec::new(SMALL), fits).unwrap().unwrap().body()[..], b"abcd");
}

#[test]
fn trailer_count_limit_across_reads() {
    let mut c = ClientCodec::new(Limits { max_headers: 2, ..Limits::default() });
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"[..]);
    assert!(c.decode(&mut buf).unwrap().is_none());
    let mut outcome = Ok(None);
    for i in 0..10 {
        buf.extend_from_slice(format!("T{i}: v\r\n").as_bytes());
        outcome = c.decode(&mut buf);
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        buf.extend_from_slice(b"\r\n");
        outcome = c.decode(&mut buf);
    }
    match outcome {
        Err(e) => assert_eq!(e, CodecError::HeadTooLarge),
        Ok(r) => panic!("10 trailers accepted with max_headers 2: {:?}", r.map(|r| r.headers().len())),
    }
}
