//! Tutorial 04: an HTTP server that answers with an HTML echo of the
//! request, and closes each connection after 10 requests.
//!
//! `cargo run -p examples --bin http_echo_server -- 8888`, then
//! `curl -i http://127.0.0.1:8888/hello`. Stops on Enter.

#![forbid(unsafe_code)]

use wf::http::{HttpServer, HttpServerTask};

fn process(task: &mut HttpServerTask) {
    let req = task.req();
    let mut body = format!("<html>\n<p>{} {} {}</p>\n", req.method(), req.request_uri(), req.http_version());
    for (name, value) in req.headers() {
        body.push_str(&format!("<p>{name}: {}</p>\n", value.to_str().unwrap_or("")));
    }
    body.push_str("</html>\n");
    let seq = task.task_seq();
    let resp = task.resp_mut();
    resp.set_status_code(200);
    resp.add_header("Content-Type", "text/html");
    resp.add_header("Server", "wf HttpServer");
    resp.append_body(body);
    if seq == 9 {
        // Close after 10 requests on one connection.
        resp.set_header("Connection", "close");
    }
}

fn main() {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8888);
    let server = HttpServer::new(process);
    if let Err(e) = server.start(port) {
        eprintln!("cannot start server: {e}");
        std::process::exit(1);
    }
    println!("echo server on port {port}; press Enter to stop");
    let _ = std::io::stdin().read_line(&mut String::new());
    server.stop();
}
