//! Tutorial 19: a DNS server answering over UDP and TCP on one port.
//!
//! ```text
//! cargo run -p examples --bin dns_server -- 5353
//! dig @127.0.0.1 -p 5353 example.test           # A 127.0.0.1
//! dig @127.0.0.1 -p 5353 example.test AAAA +tcp # AAAA ::1, over TCP
//! dig @127.0.0.1 -p 5353 example.test TXT       # "hello from wf"
//! ```
//!
//! Every name has an A record (127.0.0.1), an AAAA record (::1) and a
//! TXT record; other types get an empty answer, and a name under
//! `.invalid` is NXDOMAIN. Listens on 127.0.0.1 (port 0 picks a free
//! one; the address is printed). Runs until SIGTERM or SIGINT (Ctrl-C),
//! then stops gracefully; standard input is not read.

#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, Ipv6Addr};

use wf::dns::{DnsServer, RData, Record, RecordType, rcode};

fn main() {
    let Some(port) = std::env::args().nth(1).and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: dns_server PORT");
        std::process::exit(2);
    };
    // First, so that a stop request during start-up is not lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let server = DnsServer::new(|task| {
        let Some(q) = task.req().question().cloned() else {
            task.resp_mut().flags.rcode = rcode::FORMERR;
            return;
        };
        let resp = task.resp_mut();
        resp.flags.aa = true;
        if q.name == "invalid" || q.name.ends_with(".invalid") {
            resp.flags.rcode = rcode::NXDOMAIN;
            return;
        }
        let data = match q.qtype {
            RecordType::A => RData::A(Ipv4Addr::LOCALHOST),
            RecordType::AAAA => RData::Aaaa(Ipv6Addr::LOCALHOST),
            RecordType::TXT => RData::Txt(vec!["hello from wf".into()]),
            _ => return,
        };
        resp.answers.push(Record::new(&q.name, 60, data));
    });
    if let Err(e) = server.start_on("127.0.0.1", port) {
        eprintln!("cannot start the server: {e}");
        std::process::exit(1);
    }
    let addr = server.local_addr().expect("started");
    println!("DNS server listening on {addr} (UDP and TCP); stop with Ctrl-C or SIGTERM");
    match wf::signal::wait_for_shutdown() {
        Ok(signal) => println!("{signal}: stopping"),
        Err(e) => eprintln!("cannot wait for signals ({e}): stopping"),
    }
    server.stop();
}
