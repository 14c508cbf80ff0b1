//! Tutorial 00: the smallest HTTP server.
//!
//! `cargo run --release -p examples --bin helloworld [port]` (default 8888),
//! then `curl -i http://127.0.0.1:8888/`. Stops on Enter.

#![forbid(unsafe_code)]

use wf::http::HttpServer;

fn main() {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8888);
    let server = HttpServer::new(|task| {
        task.resp_mut().add_header("Content-Type", "text/html");
        task.resp_mut().append_body("<html>Hello World!</html>");
    });
    if let Err(e) = server.start(port) {
        eprintln!("cannot start the server on port {port}: {e}");
        std::process::exit(1);
    }
    println!("listening on http://127.0.0.1:{port}/ ; press Enter to stop");
    let _ = std::io::stdin().read_line(&mut String::new());
    server.stop();
}
