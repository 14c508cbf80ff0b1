//! Tutorial 10, server side: a server for a protocol of our own, here TLV
//! (4-byte type, 4-byte length, value), over TCP and UDP, or a Unix
//! socket.
//!
//! ```text
//! cargo run -p examples --bin tlv_server -- 9000            # TCP and UDP port 9000
//! cargo run -p examples --bin tlv_server -- /tmp/tlv.sock   # Unix socket
//! ```
//!
//! It answers each message with the value upper-cased and the type plus one.
//! Port 0 picks a free port; the address is printed. Runs until SIGTERM or
//! SIGINT (Ctrl-C), then stops gracefully; standard input is not read.

#![forbid(unsafe_code)]

use wf::net::Server;
use wf::net::tlv::{Tlv, TlvMessage};

fn main() {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: tlv_server <port | /path/to/unix.sock>");
        std::process::exit(2);
    };
    // First, so that a stop request during start-up is not lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let server = Server::new(Tlv::default(), |task| {
        let req = task.req();
        let reply = TlvMessage::new(req.tlv_type() + 1, req.value().to_ascii_uppercase());
        println!("request #{} of connection {}: {:?}", task.task_seq(), task.connection().id(), req.value());
        *task.resp_mut() = reply;
    });
    let started = if addr.starts_with('/') {
        let _ = std::fs::remove_file(&addr);
        server.start_unix(&addr)
    } else {
        match addr.parse::<u16>() {
            // TCP first (port 0 picks one), then UDP on the same port: one
            // message per datagram, answered through the same `process`.
            Ok(port) => server.start_on("127.0.0.1", port).and_then(|()| {
                let port = server.listen_addr().map_or(port, |a| a.port());
                server.start_udp("127.0.0.1", port)
            }),
            Err(_) => {
                eprintln!("not a port or a socket path: {addr}");
                std::process::exit(1);
            }
        }
    };
    if let Err(e) = started {
        eprintln!("cannot start the server: {e}");
        std::process::exit(1);
    }
    match server.listen_addr() {
        Some(tcp) => println!("TLV server listening on {tcp} (TCP and UDP); stop with Ctrl-C or SIGTERM"),
        None => println!("TLV server listening on {addr}; stop with Ctrl-C or SIGTERM"),
    }
    match wf::signal::wait_for_shutdown() {
        Ok(signal) => println!("{signal}: stopping"),
        Err(e) => eprintln!("cannot wait for signals ({e}): stopping"),
    }
    server.stop();
    if addr.starts_with('/') {
        let _ = std::fs::remove_file(&addr);
    }
}
