//! An in-memory key-value server speaking RESP, built on `RedisServer`
//! (see `examples::kv`): try it with `redis-cli -p 6380`.
//!
//! `cargo run -p examples --bin redis_kv_server -- 6380`

#![forbid(unsafe_code)]

use examples::kv::KvServer;

fn main() {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        None => 6380,
        Some(Err(_)) => {
            eprintln!("usage: redis_kv_server [port]");
            std::process::exit(1);
        }
    };
    let server = KvServer::new();
    if let Err(e) = server.start(port) {
        eprintln!("Cannot start server: {e}");
        std::process::exit(1);
    }
    println!("wf key-value server on port {port}; press Enter to stop");
    let _ = std::io::stdin().read_line(&mut String::new());
    server.stop();
}
