//! Interop: `HttpTask` against a hyper 1 server (a peer we did not
//! write): chunked responses, keep-alive reuse, HEAD, request bodies,
//! redirects, `Connection: close`.

use crate::support;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use support::fetch;
use tokio::net::TcpListener;
use wf_core::State;

/// A body of several frames of unknown total length: hyper sends it
/// chunked.
struct Chunks(VecDeque<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

type RespBody = Either<Full<Bytes>, Chunks>;

fn full(s: impl Into<Bytes>) -> RespBody {
    Either::Left(Full::new(s.into()))
}

async fn handle(req: Request<Incoming>) -> Result<Response<RespBody>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let resp = match path.as_str() {
        "/chunked" => {
            let parts: VecDeque<Bytes> = (0..50).map(|i| Bytes::from(format!("part{i:02};"))).collect();
            Response::new(Either::Right(Chunks(parts)))
        }
        "/big" => {
            let parts: VecDeque<Bytes> = (0..64).map(|i| Bytes::from(vec![b'a' + (i % 26) as u8; 16 * 1024])).collect();
            Response::new(Either::Right(Chunks(parts)))
        }
        "/redirect" => {
            Response::builder().status(StatusCode::FOUND).header("location", "/chunked").body(full("")).unwrap()
        }
        "/close" => Response::builder().header("connection", "close").body(full("closing")).unwrap(),
        "/empty" => Response::builder().status(StatusCode::NO_CONTENT).body(full("")).unwrap(),
        _ => {
            let h = |n: &str| headers.get(n).map_or("-", |v| v.to_str().unwrap()).to_string();
            let text = format!(
                "{method} {path} host={} cl={} conn={} auth={} body={}",
                h("host"),
                h("content-length"),
                h("connection"),
                h("authorization"),
                String::from_utf8_lossy(&body)
            );
            Response::new(full(text))
        }
    };
    Ok(resp)
}

/// A hyper server on loopback counting accepted connections.
struct HyperServer {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

impl HyperServer {
    fn spawn() -> HyperServer {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let counted = accepts.clone();
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(handle))
                        .await;
                });
            }
        });
        HyperServer { addr, accepts, _rt: rt }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

#[test]
fn chunked_response() {
    let server = HyperServer::spawn();
    let o = fetch(&server.url("/chunked"), 0, 0, |_| {});
    o.ok();
    assert_eq!(o.resp.header("transfer-encoding"), Some("chunked"), "hyper framed it chunked");
    let expected: String = (0..50).map(|i| format!("part{i:02};")).collect();
    assert_eq!(o.body(), expected);
}

#[test]
fn big_chunked_response() {
    let server = HyperServer::spawn();
    let o = fetch(&server.url("/big"), 0, 0, |_| {});
    let body = o.ok().resp.body();
    assert_eq!(body.len(), 64 * 16 * 1024);
    for (i, block) in body.chunks(16 * 1024).enumerate() {
        assert!(block.iter().all(|&b| b == b'a' + (i % 26) as u8), "block {i}");
    }
}

#[test]
fn keep_alive_reuse() {
    let server = HyperServer::spawn();
    for path in ["/chunked", "/one", "/big", "/two"] {
        fetch(&server.url(path), 0, 0, |_| {}).ok();
    }
    assert_eq!(server.accepts(), 1, "every task reused the first connection");
}

#[test]
fn request_fields_reach_hyper() {
    let server = HyperServer::spawn();
    let port = server.addr.port();
    let o = fetch(&format!("http://me:pw@127.0.0.1:{port}/post?q=1"), 0, 0, |t| {
        t.req_mut().set_method("POST");
        t.req_mut().append_body("from wf");
    });
    assert_eq!(
        o.ok().body(),
        format!("POST /post host=127.0.0.1:{port} cl=7 conn=Keep-Alive auth=Basic bWU6cHc= body=from wf")
    );
}

#[test]
fn chunked_request_to_hyper() {
    let server = HyperServer::spawn();
    let o = fetch(&server.url("/up"), 0, 0, |t| {
        t.req_mut().set_method("PUT");
        t.req_mut().set_header("Transfer-Encoding", "chunked");
        t.req_mut().append_body("streamed ");
        t.req_mut().append_body("body");
    });
    assert!(o.ok().body().ends_with("cl=- conn=Keep-Alive auth=- body=streamed body"), "{}", o.body());
}

#[test]
fn head_request() {
    let server = HyperServer::spawn();
    let o = fetch(&server.url("/h"), 0, 0, |t| {
        t.req_mut().set_method("HEAD");
    });
    let announced: usize = o.ok().resp.header("content-length").unwrap().parse().unwrap();
    assert!(announced > 0);
    assert_eq!(o.resp.body_len(), 0);
    // The connection is usable after the bodiless reply.
    let o = fetch(&server.url("/after"), 0, 0, |_| {});
    assert!(o.ok().body().starts_with("GET /after "));
    assert_eq!(server.accepts(), 1);
}

#[test]
fn no_content() {
    let server = HyperServer::spawn();
    let o = fetch(&server.url("/empty"), 0, 0, |_| {});
    assert_eq!((o.ok().resp.status_code(), o.resp.body_len()), (204, 0));
    fetch(&server.url("/x"), 0, 0, |_| {}).ok();
    assert_eq!(server.accepts(), 1);
}

#[test]
fn redirect_from_hyper() {
    let server = HyperServer::spawn();
    let o = fetch(&server.url("/redirect"), 1, 0, |_| {});
    assert_eq!((o.ok().redirects, o.resp.status_code()), (1, 200));
    assert!(o.body().starts_with("part00;"));
    assert_eq!(server.accepts(), 1, "the redirect reused the connection");
}

#[test]
fn connection_close_from_hyper() {
    let server = HyperServer::spawn();
    let o = fetch(&server.url("/close"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "closing");
    let o = fetch(&server.url("/next"), 0, 0, |_| {});
    assert_eq!(o.state, State::Success, "{}", o.error);
    assert_eq!(server.accepts(), 2);
}
