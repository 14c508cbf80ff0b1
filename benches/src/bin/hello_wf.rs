//! The wf side of `cargo xtask bench http-server`: an HTTP hello server
//! on one poller thread, answering every request with `Hello World`
//! (11 bytes, `Content-Type: text/plain`), keep-alive, TCP_NODELAY (wf
//! sets it on every accepted connection).
//!
//! `hello_wf [port] [--work-stealing] [--handler-threads N]
//! [--max-connections N]` (default port 8080) listens on 127.0.0.1 and
//! runs until its standard input closes. The poller is its own event loop
//! (the default settings); `--work-stealing` runs it as the worker of a
//! work-stealing tokio runtime instead (`Settings::work_stealing`);
//! `--handler-threads N` runs `process` and the request series on N
//! handler threads (`Settings::handler_threads`, Workflow's model) instead
//! of on the poller; `--max-connections N` raises the server's limit on
//! open connections (2000, as Workflow's).

#![forbid(unsafe_code)]

use http::HeaderValue;
use http::header::CONTENT_TYPE;
use wf::http::HttpServer;

fn main() {
    let port = benches::port_arg(8080);
    let mut settings = wf::Settings::default();
    settings.poller_threads = 1;
    settings.compute_threads = 1;
    settings.work_stealing = std::env::args().any(|a| a == "--work-stealing");
    settings.handler_threads = benches::flag_value("--handler-threads").unwrap_or(0);
    wf::init(settings).expect("wf settings applied first");
    let mut params = wf::net::ServerParams::default();
    if let Some(n) = benches::flag_value("--max-connections") {
        params.max_connections = n;
    }
    let server = HttpServer::with_params(params, |task| {
        let resp = task.resp_mut();
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        resp.append_body(benches::HELLO_BODY);
    });
    if let Err(e) = server.start_on("127.0.0.1", port) {
        eprintln!("hello_wf: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    }
    benches::exit_on_stdin_eof();
    loop {
        std::thread::park();
    }
}
