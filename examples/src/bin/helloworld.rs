//! Tutorial 00: the smallest HTTP server.
//!
//! `cargo run --release -p examples --bin helloworld [port]` (default 8888;
//! 0 picks a free port), then `curl -i http://127.0.0.1:8888/`. Runs until
//! SIGTERM or SIGINT (Ctrl-C), then stops gracefully: it runs the same in
//! a terminal, under systemd, `nohup` or in a container (standard input
//! is not read).

#![forbid(unsafe_code)]

use wf::http::HttpServer;

fn main() {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8888);
    // First, so that a stop request during start-up is not lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let server = HttpServer::new(|task| {
        task.resp_mut().add_header("Content-Type", "text/html");
        task.resp_mut().append_body("<html>Hello World!</html>");
    });
    if let Err(e) = server.start(port) {
        eprintln!("cannot start the server on port {port}: {e}");
        std::process::exit(1);
    }
    let addr = server.listen_addr().expect("listening");
    println!("listening on {addr}; stop with Ctrl-C or SIGTERM");
    match wf::signal::wait_for_shutdown() {
        Ok(signal) => println!("{signal}: stopping"),
        Err(e) => eprintln!("cannot wait for signals ({e}): stopping"),
    }
    server.stop();
}
