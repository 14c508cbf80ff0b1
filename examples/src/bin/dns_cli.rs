//! Tutorial 17: ask a DNS question and print the reply, as `dig` would.
//!
//! ```text
//! cargo run -p examples --bin dns_cli -- example.com              # A, servers of /etc/resolv.conf
//! cargo run -p examples --bin dns_cli -- example.com AAAA
//! cargo run -p examples --bin dns_cli -- example.com MX 127.0.0.1:5353
//! cargo run -p examples --bin dns_cli -- example.com A dnss://1.1.1.1   # DNS over TLS
//! ```
//!
//! The server may be anything `DnsClient::new` takes (comma-separated
//! addresses, `dns://` or `dnss://` URLs); without one, the name servers,
//! search list and options of `/etc/resolv.conf` are used. Exits 0 on a
//! reply (whatever its response code), 1 when no server answered.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicI32, Ordering};

use wf::State;
use wf::dns::{DnsClient, DnsMessage, RecordType, ResolvConf};

static EXIT: AtomicI32 = AtomicI32::new(0);

fn print_reply(m: &DnsMessage) {
    let f = m.flags;
    let rcode = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"].get(usize::from(f.rcode));
    println!(";; ->>HEADER<<- opcode: {}, status: {}, id: {}", f.opcode, rcode.unwrap_or(&"OTHER"), m.id);
    let flags: Vec<&str> = [(f.qr, "qr"), (f.aa, "aa"), (f.tc, "tc"), (f.rd, "rd"), (f.ra, "ra")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
    println!(";; flags: {}", flags.join(" "));
    for q in &m.questions {
        println!(";; QUESTION: {}. {}", q.name, q.qtype);
    }
    for (section, records) in [("ANSWER", &m.answers), ("AUTHORITY", &m.authority), ("ADDITIONAL", &m.additional)] {
        if records.is_empty() {
            continue;
        }
        println!(";; {section} SECTION:");
        for r in records {
            println!("{}.\t{}\tIN\t{}\t{:?}", r.name, r.ttl, r.rtype, r.data);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!("usage: dns_cli NAME [TYPE] [SERVER]");
        std::process::exit(2);
    };
    let qtype = match args.get(1).map(|t| t.parse::<RecordType>()) {
        None => RecordType::A,
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            eprintln!("{e}: {}", args[1]);
            std::process::exit(2);
        }
    };
    let client = match args.get(2) {
        Some(servers) => DnsClient::new(servers),
        None => DnsClient::from_conf(&ResolvConf::load("/etc/resolv.conf".as_ref())),
    };
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bad server: {e}");
            std::process::exit(2);
        }
    };
    let task = client.create_dns_task(name, qtype, |t| {
        if t.state() != State::Success {
            eprintln!("state: {} error: {}", t.state() as i32, t.error().map(ToString::to_string).unwrap_or_default());
            EXIT.store(1, Ordering::SeqCst);
            return;
        }
        print_reply(t.kind().resp());
    });
    task.start();
    wf::wait_finish();
    std::process::exit(EXIT.load(Ordering::SeqCst));
}
