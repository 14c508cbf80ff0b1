//! Tutorial 05: an HTTP proxy. For each request it sends the request on
//! with an `HttpTask` pushed into the request's series, so the reply to
//! the client waits for it (the delayed-reply model); the upstream
//! response is moved, not copied, into the reply.
//!
//! `cargo run -p examples --bin http_proxy -- 8080`, then
//! `curl -x http://127.0.0.1:8080 http://127.0.0.1:8888/`. Stops on Enter.

#![forbid(unsafe_code)]

use wf::http::{Http, HttpServer, HttpServerTask, create_http_task};
use wf::net::{ServerKind, ServerParams};
use wf::{State, series_of};

fn process(task: &mut HttpServerTask) {
    let url = task.req().request_uri().to_string();
    let keep_alive = task.req().is_keep_alive();
    let target = url.clone();
    let mut upstream = create_http_task(&target, 0, 0, move |t| {
        let state = t.state();
        let error = t.error_text();
        let resp = std::mem::take(t.resp_mut());
        let reply = series_of(t).last_task_mut::<ServerKind<Http>>().expect("the reply task");
        if state == State::Success {
            *reply.resp_mut() = resp;
            if !keep_alive {
                reply.resp_mut().set_header("Connection", "close");
            }
            println!("{url}: {} {}", reply.resp().status_code(), reply.resp().body_len());
        } else {
            println!("{url}: failed: {error}");
            reply.resp_mut().set_status_code(404);
            reply.resp_mut().append_body("<html>404 Not Found.</html>");
        }
    });
    // Forward the client's request (moved, not copied), in origin form.
    *upstream.req_mut() = std::mem::take(task.req_mut());
    upstream.req_mut().remove_header("Proxy-Connection");
    series_of(task).push_back(upstream);
}

fn main() {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8080);
    let mut params = ServerParams::default();
    params.request_size_limit = Some(8 << 20);
    let server = HttpServer::with_params(params, process);
    if let Err(e) = server.start(port) {
        eprintln!("cannot start proxy: {e}");
        std::process::exit(1);
    }
    println!("proxy on port {port}; press Enter to stop");
    let _ = std::io::stdin().read_line(&mut String::new());
    server.stop();
}
