//! Tutorial 10, client side: sends each line of standard input as a TLV
//! message and prints the reply. Each reply's callback pushes the task for
//! the next line into the same series.
//!
//! ```text
//! cargo run -p examples --bin tlv_client -- 9000
//! cargo run -p examples --bin tlv_client -- 9000 --udp      # one datagram per message
//! cargo run -p examples --bin tlv_client -- /tmp/tlv.sock
//! ```

#![forbid(unsafe_code)]

use std::io::BufRead;
use std::time::Duration;

use wf::net::tlv::{Tlv, TlvMessage};
use wf::net::{ClientTask, Transport, create_client_task};
use wf::{create_series_work, series_of};

/// `tlv://127.0.0.1:PORT`, or a Unix socket path as a percent-encoded host.
fn url_for(addr: &str) -> String {
    if addr.starts_with('/') {
        format!("tlv://{}", addr.replace('/', "%2F"))
    } else {
        format!("tlv://127.0.0.1:{addr}")
    }
}

fn next_task(url: String, transport: Transport) -> Option<ClientTask<Tlv>> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).ok()? == 0 {
        return None;
    }
    let protocol = Tlv::default().with_transport(transport);
    let mut task = create_client_task(protocol, &url.clone(), 1, move |t| {
        if t.state() != wf::State::Success {
            eprintln!("error: {}", t.error_text());
            return;
        }
        println!("reply type {}: {}", t.resp().tlv_type(), String::from_utf8_lossy(t.resp().value()));
        if let Some(next) = next_task(url, transport) {
            series_of(t).push_back(next);
        }
    });
    *task.req_mut() = TlvMessage::new(1, line.trim_end().to_string());
    // Keep the connection for the next line (over TCP: UDP has none).
    task.set_keep_alive(Duration::from_secs(30));
    Some(task)
}

fn main() {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: tlv_client <port | /path/to/unix.sock> [--udp]");
        std::process::exit(1);
    };
    let transport =
        if std::env::args().nth(2).as_deref() == Some("--udp") { Transport::Datagram } else { Transport::Stream };
    if let Some(first) = next_task(url_for(&addr), transport) {
        create_series_work(first, |_| println!("bye")).start();
        wf::wait_finish();
    }
}
