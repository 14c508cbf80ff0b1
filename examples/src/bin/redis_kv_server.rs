//! An in-memory key-value server speaking RESP, built on `RedisServer`
//! (see `examples::kv`): try it with `redis-cli -p 6380`.
//!
//! `cargo run -p examples --bin redis_kv_server -- [port]` (default 6380;
//! 0 picks a free port). Runs until SIGTERM or SIGINT (Ctrl-C), then stops
//! gracefully; standard input is not read.

#![forbid(unsafe_code)]

use examples::kv::KvServer;

fn main() {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        None => 6380,
        Some(Err(_)) => {
            eprintln!("usage: redis_kv_server [port]");
            std::process::exit(2);
        }
    };
    // First, so that a stop request during start-up is not lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let server = KvServer::new();
    if let Err(e) = server.start(port) {
        eprintln!("Cannot start server: {e}");
        std::process::exit(1);
    }
    let addr = server.listen_addr().expect("listening");
    println!("wf key-value server listening on {addr}; stop with Ctrl-C or SIGTERM");
    match wf::signal::wait_for_shutdown() {
        Ok(signal) => println!("{signal}: stopping"),
        Err(e) => eprintln!("cannot wait for signals ({e}): stopping"),
    }
    server.stop();
}
