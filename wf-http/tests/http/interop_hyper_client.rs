//! Interop: a hyper 1 client (a peer we did not write) against
//! `HttpServer`: keep-alive on one connection, chunked request bodies with
//! trailers, HEAD, `Connection: close`, and hyper-util's pooling client.
//! (hyper's client does not pipeline; pipelining is tested with raw
//! sockets in `server_pipeline.rs`.)

use crate::support;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Either, Empty, Full};
use hyper::body::{Body, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::start;
use tokio::net::TcpStream;
use wf_http::HttpServer;

/// A body of several frames of unknown total length (so hyper sends it
/// chunked), optionally ending with trailers.
struct Chunks {
    parts: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(p) = self.parts.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }
}

/// Answers with `method uri seq=N te=... sum=...` and the request body.
fn server() -> (HttpServer, std::net::SocketAddr) {
    let server = HttpServer::new(|task| {
        let req = task.req();
        let line = format!(
            "{} {} seq={} te={} sum={}|",
            req.method(),
            req.request_uri(),
            task.task_seq(),
            req.header("transfer-encoding").unwrap_or("-"),
            req.header("x-sum").unwrap_or("-"),
        );
        let body = req.body();
        task.resp_mut().append_body(line);
        task.resp_mut().append_body(body);
        task.resp_mut().set_header("X-Server", "wf");
    });
    let addr = start(&server);
    (server, addr)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

#[test]
fn keep_alive_on_one_connection() {
    let (server, addr) = server();
    runtime().block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        let conn = tokio::spawn(conn);
        for i in 0..3 {
            sender.ready().await.unwrap();
            let req = Request::get(format!("/n/{i}")).header("host", "wf").body(Empty::<Bytes>::new()).unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()["x-server"], "wf");
            assert_eq!(resp.headers()["connection"], "Keep-Alive");
            let date = resp.headers()["date"].to_str().unwrap().to_string();
            httpdate::parse_http_date(&date).expect("a valid date");
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, format!("GET /n/{i} seq={i} te=- sum=-|"));
        }
        assert_eq!(server.conn_count(), 1);
        drop(sender);
        conn.await.unwrap().unwrap();
    });
    server.stop();
}

#[test]
fn chunked_request_body_with_trailers() {
    let (server, addr) = server();
    runtime().block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", "42".parse().unwrap());
        let body = Chunks {
            parts: ["first,", "second,", "third"].into_iter().map(Bytes::from).collect(),
            trailers: Some(trailers),
        };
        let req =
            Request::post("/upload").header("host", "wf").header("trailer", "x-sum").body(Either::Left(body)).unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "POST /upload seq=0 te=chunked sum=42|first,second,third");
        // The connection is still good after a chunked request.
        sender.ready().await.unwrap();
        let req = Request::post("/again")
            .header("host", "wf")
            .body(Either::Right(Full::new(Bytes::from_static(b"fixed"))))
            .unwrap();
        let body = sender.send_request(req).await.unwrap().into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "POST /again seq=1 te=- sum=-|fixed");
    });
    server.stop();
}

#[test]
fn head_and_close() {
    let (server, addr) = server();
    runtime().block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        let conn = tokio::spawn(conn);
        let req = Request::head("/h").header("host", "wf").body(Empty::<Bytes>::new()).unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let length: usize = resp.headers()["content-length"].to_str().unwrap().parse().unwrap();
        assert_eq!(length, "HEAD /h seq=0 te=- sum=-|".len(), "HEAD announces the GET length");
        assert!(resp.into_body().collect().await.unwrap().to_bytes().is_empty());
        sender.ready().await.unwrap();
        let req = Request::get("/bye").header("host", "wf").header("connection", "close").body(Empty::<Bytes>::new());
        let resp = sender.send_request(req.unwrap()).await.unwrap();
        assert_eq!(resp.headers()["connection"], "close");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "GET /bye seq=1 te=- sum=-|");
        // The server closed: hyper's connection task ends cleanly.
        tokio::time::timeout(support::WAIT, conn).await.expect("the connection ended").unwrap().unwrap();
    });
    server.stop();
}

#[test]
fn pooled_client_reuses_and_parallelises() {
    let (server, addr) = server();
    runtime().block_on(async {
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        // hyper returns a connection to its pool asynchronously, once the
        // response is read; a short pause lets it, and the keep-alive
        // connection wf kept open is reused. How often hyper reuses is its
        // business: assert that it did, not that it always did.
        let mut fresh = 0;
        for i in 0..4 {
            let uri = format!("http://{addr}/seq/{i}");
            let resp = client.get(uri.parse().unwrap()).await.unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let text = String::from_utf8_lossy(&body).into_owned();
            let seq: u64 = text
                .strip_prefix(&format!("GET /seq/{i} seq="))
                .and_then(|rest| rest.strip_suffix(" te=- sum=-|"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected body {text:?}"));
            fresh += usize::from(seq == 0);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(fresh < 4, "no request reused a pooled keep-alive connection");
        // Concurrent requests, each answered.
        let mut handles = Vec::new();
        for i in 0..8 {
            let client = client.clone();
            handles.push(tokio::spawn(async move {
                let req = Request::builder()
                    .method(Method::PUT)
                    .uri(format!("http://{addr}/p/{i}"))
                    .body(Full::new(Bytes::from(format!("body{i}"))))
                    .unwrap();
                let resp = client.request(req).await.unwrap();
                resp.into_body().collect().await.unwrap().to_bytes()
            }));
        }
        for (i, h) in handles.into_iter().enumerate() {
            let body = h.await.unwrap();
            let text = String::from_utf8_lossy(&body);
            assert!(text.starts_with(&format!("PUT /p/{i} seq=")), "{text}");
            assert!(text.ends_with(&format!("|body{i}")), "{text}");
        }
    });
    server.stop();
}
