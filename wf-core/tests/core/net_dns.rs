//! DNS against real peers and hostile ones: client tasks (UDP, TCP, the
//! TCP fallback on `TC`) and the `resolv.conf`-style client against a
//! hermetic dnsmasq; the DNS server queried by `dig` over UDP and TCP;
//! servers sending wrong IDs, wrong questions, compression loops, huge
//! TCP lengths, or nothing.
#![cfg(feature = "net")]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wf_core::net::create_client_task;
use wf_core::net::dns::{
    Dns, DnsClient, DnsMessage, DnsServer, DnsTask, RData, Record, RecordType, create_dns_task, rcode,
};
use wf_core::{State, Task, TaskKind};

fn run<K: TaskKind>(t: Task<K>) -> Task<K> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { t.await })
}

fn run_async<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn dnsmasq() -> testkit::Dnsmasq {
    testkit::Dnsmasq::builder()
        .host("a.example.test", "127.0.0.5")
        .host("a.example.test", "::5")
        .srv("_http._tcp.example.test", "a.example.test", 8080, 10, 5)
        .ttl(30)
        // Authoritative for the domain: unknown names are NXDOMAIN.
        .arg("--local=/example.test/")
        .start()
}

fn ok(t: &DnsTask) -> &DnsMessage {
    assert_eq!(t.state(), State::Success, "{:?}", t.error());
    t.kind().resp()
}

#[test]
fn dns_tasks_against_dnsmasq() {
    let dns = dnsmasq();
    let base = format!("dns://{}", dns.addr());
    let t = run(create_dns_task(&format!("{base}/a.example.test"), 0, |_| {}));
    let r = ok(&t);
    assert_eq!(r.id, t.kind().req().id);
    assert!(r.flags.qr && r.rcode() == rcode::NOERROR);
    assert_eq!(r.addrs(), vec!["127.0.0.5".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!(r.answers[0].ttl, 30);

    let t = run(create_dns_task(&format!("{base}/a.example.test?type=AAAA"), 0, |_| {}));
    assert_eq!(ok(&t).addrs(), vec!["::5".parse::<std::net::IpAddr>().unwrap()]);

    let t = run(create_dns_task(&format!("{base}/_http._tcp.example.test?type=SRV"), 0, |_| {}));
    let r = ok(&t);
    assert!(
        r.answers
            .iter()
            .any(|a| a.data == RData::Srv { priority: 10, weight: 5, port: 8080, target: "a.example.test".into() })
    );

    // The question set on the request wins over the URL's; the ID is kept.
    let mut t = create_dns_task(&format!("{base}/"), 0, |_| {});
    t.kind_mut().req_mut().set_question("nothere.example.test", RecordType::A);
    t.kind_mut().req_mut().id = 0x1234;
    let t = run(t);
    let r = ok(&t);
    assert_eq!((r.id, r.rcode()), (0x1234, rcode::NXDOMAIN));
    assert!(dns.log().contains("query[AAAA] a.example.test"), "{}", dns.log());

    // Bad URLs and types are reported in the callback.
    let t = run(create_dns_task("http://127.0.0.1/x", 0, |_| {}));
    assert_eq!(t.state(), State::TaskError);
    let t = run(create_dns_task(&format!("{base}/x?type=NOPE"), 0, |_| {}));
    assert_eq!(t.state(), State::SysError);
}

#[test]
fn dns_over_tcp_against_dnsmasq() {
    let dns = dnsmasq();
    let mut t = create_client_task(Dns::tcp(), &format!("dns://{}/", dns.addr()), 0, |_| {});
    *t.req_mut() = DnsMessage::query("a.example.test", RecordType::A);
    t.req_mut().id = 77;
    let t = run(t);
    assert_eq!(t.state(), State::Success, "{:?}", t.error());
    assert_eq!(t.resp().id, 77);
    assert_eq!(t.resp().addrs(), vec!["127.0.0.5".parse::<std::net::IpAddr>().unwrap()]);
}

/// A server of 100 A records for any name; counts the queries.
fn big_server() -> (DnsServer, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let server = DnsServer::new(move |t| {
        s.fetch_add(1, Ordering::SeqCst);
        let name = t.req().question().map(|q| q.name.clone()).unwrap_or_default();
        for i in 0..100u8 {
            t.resp_mut().answers.push(Record::new(&name, 60, RData::A(Ipv4Addr::new(10, 0, 0, i))));
        }
    });
    server.start_on("127.0.0.1", 0).unwrap();
    (server, seen)
}

#[test]
fn truncated_reply_falls_back_to_tcp() {
    let (server, seen) = big_server();
    let addr = server.local_addr().unwrap();
    let t = run(create_dns_task(&format!("dns://{addr}/many.test"), 0, |_| {}));
    let r = ok(&t);
    assert!(!r.flags.tc);
    assert_eq!(r.answers.len(), 100);
    // Once over UDP (truncated), once over TCP.
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    server.stop();
}

#[test]
fn client_tries_servers_and_search_list() {
    let dns = dnsmasq();
    // A first server that refuses (nothing listens on its port).
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = DnsClient::new(&format!("{dead},{}", dns.addr()))
        .unwrap()
        .with_search(&["nope.test", "example.test"], 1)
        .with_timeout(Duration::from_secs(2));
    let t = run(client.create_dns_task("a", RecordType::A, |_| {}));
    let r = ok(&t);
    assert_eq!(r.question().unwrap().name, "a.example.test");
    assert_eq!(r.addrs(), vec!["127.0.0.5".parse::<std::net::IpAddr>().unwrap()]);
    // A name nobody has: the last reply (NXDOMAIN), not an error.
    let t = run(client.create_dns_task("zz.example.test.", RecordType::A, |_| {}));
    assert_eq!(ok(&t).rcode(), rcode::NXDOMAIN);
    // Written with a final dot, it skipped the search list.
    assert!(!dns.log().contains("zz.example.test.nope.test"), "{}", dns.log());
    let r = run_async(client.resolve("zz.example.test.", RecordType::A));
    assert_eq!(r.unwrap().rcode(), rcode::NXDOMAIN);
    assert!(!dns.log().contains("zz.example.test.example.test"), "{}", dns.log());
    // Without it, the search list is tried after the name itself.
    let t = run(client.create_dns_task("yy.example.test", RecordType::A, |_| {}));
    assert_eq!(ok(&t).rcode(), rcode::NXDOMAIN);
    assert!(dns.log().contains("yy.example.test.nope.test"), "{}", dns.log());
    // No server answers: the last error.
    let only_dead = DnsClient::new(&dead.to_string()).unwrap().with_attempts(2);
    let t = run(only_dead.create_dns_task("a.example.test", RecordType::A, |_| {}));
    assert_eq!(t.state(), State::SysError);
    assert_eq!(t.error().unwrap().code(), libc::ECONNREFUSED);
}

/// A raw UDP server answering each query with what `answer` makes of it
/// (several datagrams allowed).
fn raw_udp(answer: impl Fn(&DnsMessage) -> Vec<Vec<u8>> + Send + 'static) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let Ok(q) = DnsMessage::decode(&buf[..n]) else { continue };
            for d in answer(&q) {
                let _ = sock.send_to(&d, peer);
            }
        }
    });
    addr
}

fn answer_a(q: &DnsMessage, ip: [u8; 4]) -> DnsMessage {
    let mut r = q.reply();
    let name = q.question().unwrap().name.clone();
    r.answers.push(Record::new(&name, 5, RData::A(ip.into())));
    r
}

#[test]
fn udp_replies_not_ours_are_ignored() {
    let addr = raw_udp(|q| {
        let mut wrong_id = answer_a(q, [1, 1, 1, 1]);
        wrong_id.id = q.id.wrapping_add(1);
        let mut wrong_q = answer_a(q, [2, 2, 2, 2]);
        wrong_q.set_question("other.test", RecordType::A);
        let not_a_reply = q.clone();
        let right = answer_a(q, [3, 3, 3, 3]);
        [wrong_id, wrong_q, not_a_reply, right].iter().map(|m| m.to_vec().unwrap()).collect()
    });
    let t = run(create_dns_task(&format!("dns://{addr}/x.test"), 0, |_| {}));
    assert_eq!(ok(&t).addrs(), vec!["3.3.3.3".parse::<std::net::IpAddr>().unwrap()]);
    // The bare protocol value too: an ID is picked, and only its reply taken.
    let mut t = create_client_task(Dns::udp(), &format!("dns://{addr}/"), 0, |_| {});
    *t.req_mut() = DnsMessage::query("y.test", RecordType::A);
    let t = run(t);
    assert_eq!(t.state(), State::Success, "{:?}", t.error());
    assert_ne!(t.req().id, 0);
    assert_eq!((t.resp().id, t.resp().addrs()), (t.req().id, vec!["3.3.3.3".parse::<std::net::IpAddr>().unwrap()]));
}

#[test]
fn names_with_punctuation_get_their_reply() {
    // The reply's name decodes as `a\043b.example`: the same name.
    let addr = raw_udp(|q| vec![answer_a(q, [4, 4, 4, 4]).to_vec().unwrap()]);
    let mut t = create_client_task(Dns::udp(), &format!("dns://{addr}/"), 0, |_| {});
    *t.req_mut() = DnsMessage::query("a+b.example", RecordType::A);
    t.set_watch_timeout(Duration::from_secs(2));
    let t = run(t);
    assert_eq!(t.state(), State::Success, "{:?}", t.error());
    assert_eq!(t.resp().addrs(), vec!["4.4.4.4".parse::<std::net::IpAddr>().unwrap()]);
}

#[test]
fn udp_garbage_without_our_id_is_ignored() {
    let addr = raw_udp(|q| {
        let mut garbage = (!q.id).to_be_bytes().to_vec();
        garbage.extend_from_slice(b" is not DNS");
        vec![garbage, vec![0xff; 3], answer_a(q, [5, 5, 5, 5]).to_vec().unwrap()]
    });
    let mut t = create_dns_task(&format!("dns://{addr}/x.test"), 0, |_| {});
    t.set_watch_timeout(Duration::from_secs(2));
    let t = run(t);
    assert_eq!(ok(&t).addrs(), vec!["5.5.5.5".parse::<std::net::IpAddr>().unwrap()]);
}

#[test]
fn formerr_without_a_question_is_taken() {
    let addr = raw_udp(|q| {
        let mut r = q.reply();
        r.questions.clear();
        r.flags.rcode = rcode::FORMERR;
        vec![r.to_vec().unwrap()]
    });
    let mut t = create_dns_task(&format!("dns://{addr}/x.test"), 0, |_| {});
    t.set_watch_timeout(Duration::from_secs(2));
    let t = run(t);
    assert_eq!(ok(&t).rcode(), rcode::FORMERR);
}

#[test]
fn hostile_udp_replies_fail_cleanly() {
    // A reply whose answer name is a pointer to itself.
    let addr = raw_udp(|q| {
        let mut v = q.reply().to_vec().unwrap();
        v[7] = 1; // ANCOUNT = 1
        let at = v.len() as u16;
        v.extend_from_slice(&(0xc000 | at).to_be_bytes());
        v.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]);
        vec![v]
    });
    let t = run(create_dns_task(&format!("dns://{addr}/x.test"), 0, |_| {}));
    assert_eq!(t.state(), State::SysError);
    assert_eq!(t.error().unwrap().code(), libc::EBADMSG);

    // A silent server: the task's watch timeout ends it.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut task = create_dns_task(&format!("dns://{}/x.test", silent.local_addr().unwrap()), 1, |_| {});
    task.set_watch_timeout(Duration::from_millis(200));
    let start = Instant::now();
    let t = run(task);
    assert_eq!(t.state(), State::SysError);
    assert_eq!(t.error().unwrap().code(), libc::ETIMEDOUT);
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// A raw TCP server writing `reply` (made from the query) then holding
/// the connection open 2 s (past the tasks' receive timeout).
fn raw_tcp(reply: impl Fn(&DnsMessage) -> Vec<u8> + Send + 'static) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if s.read_exact(&mut q).is_err() {
                continue;
            }
            let q = DnsMessage::decode(&q).unwrap();
            let _ = s.write_all(&reply(&q));
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    addr
}

fn tcp_task(addr: SocketAddr) -> wf_core::net::ClientTask<Dns> {
    let mut t = create_client_task(Dns::tcp(), &format!("dns://{addr}/"), 0, |_| {});
    *t.req_mut() = DnsMessage::query("x.test", RecordType::A);
    t.req_mut().id = 9;
    t.set_watch_timeout(Duration::from_millis(200));
    t.set_receive_timeout(Duration::from_millis(500));
    t
}

#[test]
fn hostile_tcp_replies_fail_cleanly() {
    // A wrong ID over TCP is a broken server.
    let addr = raw_tcp(|q| {
        let mut r = answer_a(q, [1, 2, 3, 4]);
        r.id ^= 0xff;
        let b = r.to_vec().unwrap();
        let mut v = (b.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&b);
        v
    });
    let t = run(tcp_task(addr));
    assert_eq!((t.state(), t.error().unwrap().code()), (State::SysError, libc::EBADMSG));

    // A length of 65,535 and a few bytes: the receive timeout, no hang.
    let addr = raw_tcp(|_| vec![0xff, 0xff, 1, 2, 3]);
    let start = Instant::now();
    let t = run(tcp_task(addr));
    assert_eq!((t.state(), t.error().unwrap().code()), (State::SysError, libc::ETIMEDOUT));
    assert!(start.elapsed() < Duration::from_secs(10));

    // A length shorter than a header.
    let addr = raw_tcp(|_| vec![0, 4, 1, 2, 3, 4]);
    let t = run(tcp_task(addr));
    assert_eq!((t.state(), t.error().unwrap().code()), (State::SysError, libc::EBADMSG));
}

fn dig(args: &[&str]) -> String {
    let out = Command::new("dig").args(["+time=5", "+tries=1"]).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run dig ({e}): apt-get install -y dnsutils, or `cargo xtask test` installs it")
    });
    assert!(out.status.success(), "dig {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn server_answers_dig_over_udp_and_tcp() {
    let server = DnsServer::new(|t| {
        let Some(q) = t.req().question().cloned() else { return };
        match q.qtype {
            RecordType::A => t.resp_mut().answers.push(Record::new(&q.name, 60, RData::A([127, 0, 0, 7].into()))),
            RecordType::TXT => t.resp_mut().answers.push(Record::new(&q.name, 60, RData::Txt(vec!["hi there".into()]))),
            _ => t.resp_mut().flags.rcode = rcode::NXDOMAIN,
        }
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let at = ["@127.0.0.1", "-p", &port];
    let udp = dig(&[&at[..], &["x.test", "+short"]].concat());
    assert_eq!(udp.trim(), "127.0.0.7");
    let tcp = dig(&[&at[..], &["x.test", "TXT", "+tcp", "+short"]].concat());
    assert_eq!(tcp.trim(), "\"hi there\"");
    let nx = dig(&[&at[..], &["x.test", "MX"]].concat());
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    server.stop();
}

#[test]
fn server_truncates_udp_for_dig() {
    let (server, _) = big_server();
    let port = server.local_addr().unwrap().port().to_string();
    // Without EDNS, over UDP only: 512 bytes and TC.
    let out = dig(&["@127.0.0.1", "-p", &port, "many.test", "+noedns", "+ignore"]);
    assert!(out.contains(" tc"), "{out}");
    assert!(out.contains("MSG SIZE  rcvd: 5") || out.contains("MSG SIZE  rcvd: 4"), "{out}");
    // dig's own fallback to TCP gets all 100.
    let all = dig(&["@127.0.0.1", "-p", &port, "many.test", "+short"]);
    assert_eq!(all.lines().count(), 100, "{all}");
    server.stop();
}

#[test]
fn server_drops_garbage_datagrams() {
    let server = DnsServer::new(|t| {
        let name = t.req().question().map(|q| q.name.clone()).unwrap_or_default();
        t.resp_mut().answers.push(Record::new(&name, 1, RData::A([127, 0, 0, 8].into())));
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let addr = server.local_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    for junk in [&b"garbage"[..], &[0u8; 12][..3], &[0xffu8; 600][..]] {
        sock.send_to(junk, addr).unwrap();
    }
    let mut buf = [0u8; 600];
    assert!(sock.recv_from(&mut buf).is_err(), "an answer to garbage");
    let t = run(create_dns_task(&format!("dns://{addr}/ok.test"), 0, |_| {}));
    assert_eq!(ok(&t).addrs(), vec!["127.0.0.8".parse::<std::net::IpAddr>().unwrap()]);
    server.stop();
}

#[cfg(feature = "tls")]
#[test]
fn dns_over_tls() {
    use wf_core::net::tls::{TlsClient, TlsServer};
    let pki = testkit::Pki::new("net_dns CA");
    let server = DnsServer::new(|t| {
        let name = t.req().question().map(|q| q.name.clone()).unwrap_or_default();
        t.resp_mut().answers.push(Record::new(&name, 1, RData::A([127, 0, 0, 9].into())));
    });
    server.tcp().set_tls(TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap());
    server.start_on("127.0.0.1", 0).unwrap();
    let addr = server.local_addr().unwrap();
    let mut t = create_dns_task(&format!("dnss://localhost:{}/tls.test", addr.port()), 0, |_| {});
    t.options_mut().set_tls(TlsClient::with_root_pem(pki.ca_pem.as_bytes()).unwrap());
    let t = run(t);
    assert_eq!(ok(&t).addrs(), vec!["127.0.0.9".parse::<std::net::IpAddr>().unwrap()]);
    // Not trusted: an SSL error, not a reply.
    let t = run(create_dns_task(&format!("dnss://localhost:{}/tls.test", addr.port()), 0, |_| {}));
    assert_eq!(t.state(), State::SslError);
    server.stop();
}

#[test]
fn server_ignores_responses_sent_to_it() {
    let (server, seen) = big_server();
    let addr = server.local_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    // A response (QR set), as a reflection attack would send.
    let mut r = DnsMessage::query("x.test", RecordType::A).reply();
    r.id = 5;
    sock.send_to(&r.to_vec().unwrap(), addr).unwrap();
    let mut buf = [0u8; 600];
    assert!(sock.recv_from(&mut buf).is_err(), "answered a response");
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    server.stop();
}

#[test]
fn server_refuses_odd_queries_with_formerr() {
    let (server, seen) = big_server();
    let addr = server.local_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut two = DnsMessage::query("x.test", RecordType::A);
    two.id = 21;
    two.questions.push(two.questions[0].clone());
    let mut none = two.clone();
    none.id = 22;
    none.questions.clear();
    let mut with_answer = DnsMessage::query("x.test", RecordType::A);
    with_answer.id = 23;
    with_answer.answers.push(Record::new("x.test", 1, RData::A([1, 2, 3, 4].into())));
    let mut many_additional = DnsMessage::query("x.test", RecordType::A);
    many_additional.id = 24;
    many_additional.additional = vec![Record::new("x.test", 1, RData::A([1, 2, 3, 4].into())); 50];
    for q in [&two, &none, &with_answer, &many_additional] {
        sock.send_to(&q.to_vec().unwrap(), addr).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = sock.recv_from(&mut buf).expect("a FORMERR reply");
        let r = DnsMessage::decode(&buf[..n]).unwrap();
        assert_eq!((r.id, r.flags.qr, r.rcode(), r.questions.len()), (q.id, true, rcode::FORMERR, 0));
    }
    // Over TCP: FORMERR, then the connection closes.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let b = two.to_vec().unwrap();
    s.write_all(&(b.len() as u16).to_be_bytes()).unwrap();
    s.write_all(&b).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let r = DnsMessage::decode(&rest[2..]).unwrap();
    assert_eq!((r.id, r.rcode()), (21, rcode::FORMERR));
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    server.stop();
}
