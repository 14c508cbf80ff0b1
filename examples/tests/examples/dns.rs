//! Tutorials 17 and 19: `dns_server` answers `dig` over UDP and TCP and
//! stops on SIGTERM; `dns_cli` asks it.

use std::process::Command;

use crate::daemon::Daemon;

fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=5", "+tries=1", "+short"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run dig ({e}): apt-get install -y dnsutils"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn dns_server_answers_dig_and_dns_cli() {
    let d = Daemon::start_stdin_closed(env!("CARGO_BIN_EXE_dns_server"), &["0"]);
    assert_eq!(dig(d.port(), &["example.test"]), "127.0.0.1");
    assert_eq!(dig(d.port(), &["example.test", "AAAA", "+tcp"]), "::1");
    assert_eq!(dig(d.port(), &["example.test", "TXT"]), "\"hello from wf\"");

    let server = format!("127.0.0.1:{}", d.port());
    let out = Command::new(env!("CARGO_BIN_EXE_dns_cli")).args(["www.example.test", "AAAA", &server]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("status: NOERROR") && text.contains("Aaaa(::1)"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_dns_cli")).args(["x.invalid", "A", &server]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("status: NXDOMAIN"));

    assert_eq!(d.stop_with(libc::SIGTERM), ["SIGTERM: stopping"]);
}

#[test]
fn dns_cli_fails_without_a_server() {
    // A port nothing listens on: no reply, exit status 1.
    let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_dns_cli")).args(["example.test", "A", &free.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_dns_cli")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
