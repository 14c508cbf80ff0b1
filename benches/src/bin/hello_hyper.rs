//! The hyper side of `cargo xtask bench http-server` (and the server of
//! `http-client`): a hyper 1 HTTP/1.1 hello server on a tokio runtime with
//! one worker thread, answering every request with `Hello World` (11
//! bytes, `Content-Type: text/plain`), keep-alive, TCP_NODELAY, and
//! `pipeline_flush(true)` so that replies to pipelined requests read
//! together go out in one write, as wf's do.
//!
//! `hello_hyper [port] [--current-thread] [--event-interval N]
//! [--global-queue-interval N]` (default port 8081) listens on 127.0.0.1
//! and runs until its standard input closes. The default runtime is a
//! multi-thread one with one worker, the runtime wf's server runs on;
//! `--current-thread` uses tokio's current-thread runtime; the other two
//! set tokio's scheduler knobs (for experiments).

#![forbid(unsafe_code)]

use std::convert::Infallible;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(benches::HELLO_BODY.as_bytes())));
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}

async fn serve(port: u16) {
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("hello_hyper: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

fn main() {
    let port = benches::port_arg(8081);
    let args: Vec<String> = std::env::args().collect();
    let current_thread = args.iter().any(|a| a == "--current-thread");
    let mut builder = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(1);
        b
    };
    // Scheduler knobs, for experiments (tokio's defaults: 61 and 31).
    if let Some(n) = args.iter().position(|a| a == "--event-interval").and_then(|i| args.get(i + 1)?.parse().ok()) {
        builder.event_interval(n);
    }
    if let Some(n) =
        args.iter().position(|a| a == "--global-queue-interval").and_then(|i| args.get(i + 1)?.parse().ok())
    {
        builder.global_queue_interval(n);
    }
    let rt = builder.enable_all().build().expect("tokio runtime");
    benches::exit_on_stdin_eof();
    rt.block_on(serve(port));
}
