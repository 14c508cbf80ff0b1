//! `cargo xtask bench udp`: what a round trip over UDP costs through wf,
//! next to plain tokio sockets doing the same work.
//!
//! Round trips one after another (latency, not throughput), TLV messages
//! of 64 bytes, everything on loopback:
//!
//! 1. **client** (on CPU 1): against a blocking `std` echo thread pinned
//!    to CPU 0, µs per round trip of
//!    - `wf`: TLV client tasks over `Transport::Datagram`, each started by
//!      the previous one's callback (a series), one socket per task;
//!    - `tokio`: the same work by hand on a current-thread runtime: a
//!      socket bound and connected per request, send, receive, decode;
//!    - `tokio, one socket` (the floor): one connected socket reused.
//! 2. **server**: the `tokio, one socket` client against a wf
//!    `Server::start_udp` echo and against a `std` echo thread, each on
//!    CPU 1 with the client (wf runs one poller thread).
//!
//! Each figure is the median of `--runs` runs (default 5) of `--requests`
//! round trips (default 20,000), the clients alternating.
//!
//! `udp [--requests N] [--runs N]`.

#![forbid(unsafe_code)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Instant;

use benches::median;
use wf::net::tlv::{Tlv, TlvMessage};
use wf::net::{ClientTask, Server, Transport, create_client_task};
use wf::{create_series_work, series_of};

const VALUE: &[u8] = &[b'x'; 56];

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The wire form of the request: type 1, [`VALUE`].
fn wire() -> Vec<u8> {
    let mut v = 1u32.to_be_bytes().to_vec();
    v.extend_from_slice(&(VALUE.len() as u32).to_be_bytes());
    v.extend_from_slice(VALUE);
    v
}

/// A blocking echo on a thread pinned to CPU `cpu`.
fn std_echo(cpu: usize) -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = s.local_addr().expect("an address");
    std::thread::spawn(move || {
        if let Err(e) = benches::pin_to_cpu(cpu) {
            eprintln!("cannot pin the echo to CPU {cpu}: {e}");
        }
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    addr
}

/// `left` more wf tasks, each started by the previous one's callback.
fn wf_task(url: String, left: usize, failed: mpsc::Sender<()>) -> ClientTask<Tlv> {
    let protocol = Tlv::default().with_transport(Transport::Datagram);
    let mut t = create_client_task(protocol, &url.clone(), 0, move |t| {
        if t.state() != wf::State::Success {
            let _ = failed.send(());
        }
        if left > 1 {
            series_of(t).push_back(wf_task(url, left - 1, failed));
        }
    });
    *t.req_mut() = TlvMessage::new(1, VALUE);
    t
}

/// µs per round trip of `n` wf tasks in a series.
fn run_wf(addr: SocketAddr, n: usize) -> f64 {
    let (done_tx, done) = mpsc::channel();
    let (failed_tx, failed) = mpsc::channel();
    let t0 = Instant::now();
    create_series_work(wf_task(format!("tlv://{addr}"), n, failed_tx), move |_| {
        let _ = done_tx.send(());
    })
    .start();
    done.recv().expect("the series ends");
    let us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    let failures = failed.try_iter().count();
    assert_eq!(failures, 0, "wf: {failures} failed round trips");
    us
}

/// µs per round trip by hand with tokio: a socket per request when
/// `fresh`, else one socket.
fn run_tokio(rt: &tokio::runtime::Runtime, addr: SocketAddr, n: usize, fresh: bool) -> f64 {
    let req = wire();
    rt.block_on(async {
        let bind = || async {
            let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
            s.connect(addr).await.expect("connect");
            s
        };
        let mut shared = if fresh { None } else { Some(bind().await) };
        let mut buf = vec![0u8; 65_536];
        let t0 = Instant::now();
        for _ in 0..n {
            let own;
            let s = match &mut shared {
                Some(s) => &*s,
                None => {
                    own = bind().await;
                    &own
                }
            };
            s.send(&req).await.expect("send");
            let got = s.recv(&mut buf).await.expect("recv");
            // Decode as the TLV codec would: header, then the value.
            let len = u32::from_be_bytes(buf[4..8].try_into().expect("4 bytes")) as usize;
            assert_eq!(got, 8 + len);
            std::hint::black_box(bytes::Bytes::copy_from_slice(&buf[8..got]));
        }
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    })
}

fn main() {
    let requests = arg("--requests", 20_000);
    let runs = arg("--runs", 5);
    // This process, wf's threads and the tokio client on CPU 1.
    benches::pin_client_and_init_wf();
    let echo = std_echo(0);
    // The servers compared share CPU 1 with the client, alike.
    let echo_beside = std_echo(1);
    let server = Server::new(Tlv::default(), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    server.start_udp("127.0.0.1", 0).expect("the wf server starts");
    let wf_server = server.udp_addr().expect("an address");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");

    // Warm up every path once.
    run_wf(echo, 1000);
    run_tokio(&rt, echo, 1000, true);
    run_tokio(&rt, wf_server, 1000, false);

    let mut samples = [const { Vec::new() }; 5];
    for _ in 0..runs {
        samples[0].push(run_wf(echo, requests));
        samples[1].push(run_tokio(&rt, echo, requests, true));
        samples[2].push(run_tokio(&rt, echo, requests, false));
        samples[3].push(run_tokio(&rt, wf_server, requests, false));
        samples[4].push(run_tokio(&rt, echo_beside, requests, false));
    }
    let m: Vec<f64> = samples.iter().map(|s| median(s)).collect();
    println!("UDP round trips, one at a time, 64-byte TLV messages ({requests} per run, median of {runs} runs)");
    println!("client, against a std echo thread:");
    println!("  wf (TLV task over UDP)         {:>7.2} µs", m[0]);
    println!("  tokio (socket per request)     {:>7.2} µs   wf / tokio = {:.3}", m[1], m[0] / m[1]);
    println!("  tokio (one socket, the floor)  {:>7.2} µs", m[2]);
    println!("server, the tokio one-socket client against (server and client both on CPU 1):");
    println!("  wf Server::start_udp echo      {:>7.2} µs", m[3]);
    println!("  std echo thread                {:>7.2} µs   wf / std = {:.3}", m[4], m[3] / m[4]);
    server.stop();
}
