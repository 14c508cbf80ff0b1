//! Hostile replies from a fake server: clear errors, no panic, no hang.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use wf_srv::{DnsError, Resolver};

use crate::support::{FakeDns, qtype, reply_head, srv_record};

const NAME: &str = "_svc._tcp.example.test";

fn resolver(fake: &FakeDns) -> Resolver {
    Resolver::new(fake.addr()).timeout(Duration::from_millis(300)).attempts(2)
}

#[tokio::test]
async fn compression_loop() {
    let fake = FakeDns::start(|q| {
        // An answer whose owner name points at itself.
        let mut r = reply_head(q, 0, [1, 1, 0, 0]);
        let here = r.len() as u16;
        r.extend_from_slice(&(0xC000 | here).to_be_bytes());
        r.extend_from_slice(&[0, 33, 0, 1, 0, 0, 0, 1, 0, 0]);
        vec![r]
    });
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::BadPointer));
    // A broken reply is not asked again.
    assert_eq!(fake.queries(), 1);
}

#[tokio::test]
async fn truncated_message() {
    let fake = FakeDns::start(|q| {
        let mut r = reply_head(q, 0, [1, 1, 0, 0]);
        let rec = srv_record(60, 1, 1, 80, "a.example.test");
        r.extend_from_slice(&rec[..rec.len() - 5]);
        vec![r]
    });
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::Truncated));
}

#[tokio::test]
async fn wrong_id_and_not_a_response_are_dropped() {
    let fake = FakeDns::start(|q| {
        let mut wrong_id = reply_head(q, 0, [1, 1, 0, 0]);
        wrong_id[0] ^= 0xFF;
        wrong_id.extend_from_slice(&srv_record(60, 1, 1, 80, "127.0.0.1"));
        let mut query_echo = q.to_vec();
        query_echo[3] = 0;
        // Garbage, and many spoofed replies.
        let mut out = vec![vec![1, 2, 3], query_echo];
        out.extend(std::iter::repeat_n(wrong_id, 200));
        out
    });
    let e = resolver(&fake).lookup_srv(NAME).await.unwrap_err();
    assert_eq!(e, DnsError::IdMismatch);
    assert_eq!(fake.queries(), 2, "one query per attempt");
}

#[tokio::test]
async fn spoofed_reply_then_the_real_one() {
    let fake = FakeDns::start(|q| {
        let mut wrong_id = reply_head(q, 0, [1, 1, 0, 0]);
        wrong_id[1] ^= 1;
        wrong_id.extend_from_slice(&srv_record(60, 1, 1, 666, "127.0.0.66"));
        let mut good = reply_head(q, 0, [1, 1, 0, 0]);
        good.extend_from_slice(&srv_record(60, 1, 1, 80, "127.0.0.1"));
        vec![wrong_id, good]
    });
    let found = resolver(&fake).lookup_srv(NAME).await.unwrap();
    assert_eq!(found.servers.len(), 1);
    assert_eq!(found.servers[0].addr, "127.0.0.1:80".parse().unwrap());
}

#[tokio::test]
async fn huge_counts() {
    let fake = FakeDns::start(|q| vec![reply_head(q, 0, [1, 0xFFFF, 0xFFFF, 0xFFFF])]);
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::TooManyRecords(1 + 3 * 0xFFFF)));
}

#[tokio::test]
async fn another_question() {
    let fake = FakeDns::start(|q| {
        let mut r = reply_head(q, 0, [1, 0, 0, 0]);
        let n = r.len();
        r[n - 3] = 1; // type A instead of SRV
        vec![r]
    });
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::QuestionMismatch));
}

#[tokio::test]
async fn silence_is_a_timeout() {
    let fake = FakeDns::start(|_| Vec::new());
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::Timeout));
    assert_eq!(fake.queries(), 2);
}

#[tokio::test]
async fn targets_asked_for_are_bounded() {
    // 100 SRV records with distinct targets and no addresses: at most
    // MAX_TARGET_QUERIES of them are asked for (2 queries each).
    let fake = FakeDns::start(|q| {
        if qtype(q) != 33 {
            return vec![reply_head(q, 3, [1, 0, 0, 0])]; // NXDOMAIN
        }
        let mut r = reply_head(q, 0, [1, 100, 0, 0]);
        for i in 0..100 {
            r.extend_from_slice(&srv_record(60, 1, 1, 80, &format!("t{i}.example.test")));
        }
        vec![r]
    });
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::NameNotFound));
    // An NXDOMAIN for A stops that target's lookup: one query per target.
    assert_eq!(fake.queries(), 1 + wf_srv::MAX_TARGET_QUERIES);
}

/// A fake server on one port for UDP and TCP: UDP always says "truncated";
/// TCP does what `tcp` does with the connection.
fn truncating(tcp: impl Fn(std::net::TcpStream, Vec<u8>) + Send + 'static) -> FakeDns {
    // Find a port free for both.
    let (udp, listener) = (0..50)
        .find_map(|_| {
            let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
            let tcp = TcpListener::bind(udp.local_addr().ok()?).ok()?;
            Some((udp, tcp))
        })
        .expect("no port free for UDP and TCP");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut len = [0u8; 2];
            if conn.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if conn.read_exact(&mut q).is_err() {
                continue;
            }
            tcp(conn, q);
        }
    });
    FakeDns::on(udp, |q| vec![reply_head(q, 0x0200, [1, 0, 0, 0])])
}

#[tokio::test]
async fn truncated_then_tcp() {
    let fake = truncating(|mut conn, q| {
        let mut r = reply_head(&q, 0, [1, 1, 0, 0]);
        r.extend_from_slice(&srv_record(60, 1, 1, 80, "127.0.0.1"));
        let mut framed = (r.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&r);
        let _ = conn.write_all(&framed);
    });
    let found = resolver(&fake).lookup_srv(NAME).await.unwrap();
    assert_eq!(found.servers[0].addr, "127.0.0.1:80".parse().unwrap());
}

#[tokio::test]
async fn tcp_reply_cut_short_or_never_sent() {
    // Declares 65535 bytes, sends 3, closes.
    let fake = truncating(|mut conn, _| {
        let _ = conn.write_all(&[0xFF, 0xFF, 1, 2, 3]);
    });
    let e = resolver(&fake).lookup_srv(NAME).await.unwrap_err();
    assert_eq!(e, DnsError::Io(std::io::ErrorKind::UnexpectedEof, None));
    // Sends nothing and keeps the connection open.
    let fake = truncating(|conn, _| {
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::Timeout));
}

#[tokio::test]
async fn tcp_reply_with_another_id() {
    let fake = truncating(|mut conn, q| {
        let mut r = reply_head(&q, 0, [1, 0, 0, 0]);
        r[0] ^= 0x55;
        let mut framed = (r.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&r);
        let _ = conn.write_all(&framed);
    });
    assert_eq!(resolver(&fake).lookup_srv(NAME).await, Err(DnsError::IdMismatch));
}
