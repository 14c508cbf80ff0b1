//! Hostile peers, replayed with raw sockets and exact bytes (issue 12):
//! a server declaring a huge column count (the client tried to allocate
//! 149 TB and aborted), lying lengths, rows that do not fit their
//! columns, binary rows with a bad null bitmap, a greeting with a lying
//! length; and clients sending a `MySQLServer` oversized commands or a
//! garbage login. Each fails cleanly: a task error, or MySQL's error
//! packet and a closed connection, with the process alive.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Outcome, prepared, query};
use testkit::{RawServer, WAIT};
use wf_core::State;
use wf_core::net::ServerParams;
use wf_mysql::{MySQLCell, MySQLServer};

// ---------------------------------------------------------------------------
// Packets

/// `payload` as a packet with sequence id `seq`.
fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

/// Packets with sequence ids from `seq` on.
fn packets(seq: u8, payloads: &[&[u8]]) -> Vec<u8> {
    payloads.iter().enumerate().flat_map(|(i, p)| packet(seq + i as u8, p)).collect()
}

/// A MySQL 5.7 greeting: protocol 10, a 20-byte scramble,
/// `mysql_native_password`.
fn greeting_payload() -> Vec<u8> {
    let mut p = b"\x0a5.7.44-hostile\0\x01\0\0\0abcdefgh\0".to_vec();
    p.extend_from_slice(&0xf7ffu16.to_le_bytes()); // capabilities, low
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&0x81ffu16.to_le_bytes()); // capabilities, high
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    p
}

const OK: &[u8] = b"\x00\x00\x00\x02\x00\x00\x00";
const EOF: &[u8] = b"\xfe\x00\x00\x02\x00";

/// A column definition of type `ty` (`0xfd` VAR_STRING, `0x03` LONG).
fn field(ty: u8) -> Vec<u8> {
    let mut p = b"\x03def\x00\x00\x00\x01c\x00\x0c\x21\x00\x0b\x00\x00\x00".to_vec();
    p.extend_from_slice(&[ty, 0, 0, 0, 0, 0]);
    p
}

/// Reads one packet (header and payload); `None` at end of input.
fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).ok()?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut payload = vec![0; len];
    s.read_exact(&mut payload).ok()?;
    Some((head[3], payload))
}

/// Waits until the peer closes (or [`WAIT`] passes): `true` if it closed.
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile servers against a wf client

/// A server that logs the client in, then answers each command packet
/// with the next of `replies` (raw bytes, headers included), then holds
/// the connection until the client closes it.
fn hostile(replies: Vec<Vec<u8>>) -> RawServer {
    let replies = Arc::new(replies);
    RawServer::spawn(move |mut s| {
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(&packet(0, &greeting_payload())).unwrap();
        let Some((1, _login)) = read_packet(&mut s) else { return };
        s.write_all(&packet(2, OK)).unwrap();
        for reply in replies.iter() {
            // The next command (COM_STMT_CLOSE gets no answer).
            loop {
                let Some((0, cmd)) = read_packet(&mut s) else { return };
                if cmd.first() != Some(&0x19) {
                    break;
                }
            }
            if s.write_all(reply).is_err() {
                return;
            }
        }
        closed(&mut s);
    })
}

fn url(server: &RawServer) -> String {
    format!("mysql://u:pw@{}/db", server.addr())
}

/// `SELECT 1` against a server answering with `payloads` (sequence ids
/// from 1).
fn select_against(payloads: &[&[u8]]) -> Outcome {
    let server = hostile(vec![packets(1, payloads)]);
    query(&url(&server), "SELECT 1")
}

#[test]
fn a_huge_column_count_is_a_bad_message_not_an_abort() {
    // The finding: 0xFFFFFFFFFFFF columns.
    select_against(&[b"\xfe\xff\xff\xff\xff\xff\xff\x00\x00"]).assert_failed(State::SysError, libc::EBADMSG);
    // A field count of 2^63, and one over wf's cap of 2^20 columns.
    select_against(&[b"\xfe\x00\x00\x00\x00\x00\x00\x00\x80"]).assert_failed(State::SysError, libc::EBADMSG);
    select_against(&[b"\xfd\x01\x00\x10"]).assert_failed(State::SysError, libc::EBADMSG);
    // The process is alive and the client still works.
    let f = field(0xfd);
    let rows = select_against(&[b"\x01", &f, EOF, b"\x02ok", EOF]).rows();
    assert_eq!(rows, [[support::text("ok")]]);
}

#[test]
fn results_that_do_not_fit_their_columns_are_bad_messages() {
    let f = field(0xfd);
    for (what, payloads) in [
        ("more columns than declared", vec![&b"\x01"[..], &f, &f, EOF]),
        ("fewer columns than declared", vec![b"\x02", &f, EOF]),
        ("a truncated row", vec![b"\x01", &f, EOF, b"\x05ab", EOF]),
        ("a row with an extra cell", vec![b"\x01", &f, EOF, b"\x01a\x01b", EOF]),
        ("a cell length of 2^63", vec![b"\x01", &f, EOF, b"\xfe\x00\x00\x00\x00\x00\x00\x00\x80ab", EOF]),
        ("a field packet cut short", vec![b"\x01", &f[..10], EOF]),
        ("garbage", vec![b"\x01", b"\x07garbage", EOF]),
    ] {
        let o = select_against(&payloads);
        assert_eq!((o.state, o.error.code()), (State::SysError, libc::EBADMSG), "{what}: {o:?}");
    }
}

#[test]
fn a_row_cut_off_by_the_server_closing_fails_the_task() {
    // Half a row, then the connection closes.
    let f = field(0xfd);
    let mut reply = packets(1, &[b"\x01", &f, EOF]);
    reply.extend_from_slice(b"\x0a\x00\x00\x04\x09abc");
    let server = RawServer::spawn(move |mut s| {
        s.write_all(&packet(0, &greeting_payload())).unwrap();
        let _ = read_packet(&mut s);
        s.write_all(&packet(2, OK)).unwrap();
        let _ = read_packet(&mut s);
        let _ = s.write_all(&reply);
    });
    let o = query(&url(&server), "SELECT 1");
    assert_eq!(o.state, State::SysError, "{o:?}");
}

/// The answers to a prepared statement of one `LONG` column: the prepare
/// OK and its column, then the execution's result with `row`.
fn prepared_replies(row: &[u8]) -> Vec<Vec<u8>> {
    let long = field(0x03);
    let prepare_ok = b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00";
    vec![packets(1, &[prepare_ok, &long, EOF]), packets(1, &[b"\x01", &long, EOF, row, EOF])]
}

#[test]
fn binary_rows_with_a_bad_null_bitmap_are_bad_messages() {
    // A good one first: 42.
    let server = hostile(prepared_replies(b"\x00\x00\x2a\x00\x00\x00"));
    let o = prepared(&url(&server), "SELECT ?", vec![]);
    assert_eq!(support::results(o.ok())[0].1, [[MySQLCell::Int(42)]]);
    for (what, row) in [
        ("a reserved bit set", &b"\x00\x01\x2a\x00\x00\x00"[..]),
        ("a padding bit set", b"\x00\x80\x2a\x00\x00\x00"),
        ("no bitmap", b"\x00"),
        ("a value cut short", b"\x00\x00\x2a"),
        ("bytes after the values", b"\x00\x00\x2a\x00\x00\x00\x00"),
    ] {
        let server = hostile(prepared_replies(row));
        let o = prepared(&url(&server), "SELECT ?", vec![]);
        assert_eq!((o.state, o.error.code()), (State::SysError, libc::EBADMSG), "{what}: {o:?}");
    }
}

/// A server whose greeting is `greeting` (raw bytes, header included).
fn greeting_server(greeting: Vec<u8>) -> RawServer {
    RawServer::spawn(move |mut s| {
        let _ = s.write_all(&greeting);
        closed(&mut s);
    })
}

#[test]
fn greetings_with_lying_lengths_fail_the_task() {
    // The packet header declares 16 MiB − 1 and the server then waits: the
    // login exchange's 64 KiB bound refuses it at the header, at once.
    let mut lying = greeting_payload();
    let mut g = vec![0xff, 0xff, 0xff, 0x00];
    g.append(&mut lying);
    let server = greeting_server(g);
    query(&url(&server), "SELECT 1").assert_failed(State::SysError, libc::EMSGSIZE);
    // A scramble length of 0x80 and 0xff (mysql_common's parser overflows
    // an i8 on the first) in a packet that does not hold them; a greeting
    // cut short.
    for len in [0x80u8, 0xff] {
        let mut p = greeting_payload();
        let at = p.iter().position(|&b| b == 21).unwrap();
        p[at] = len;
        p.truncate(p.len() - 22); // no plugin name: the packet ends early
        let server = greeting_server(packet(0, &p));
        query(&url(&server), "SELECT 1").assert_failed(State::SysError, libc::EBADMSG);
    }
    let p = greeting_payload();
    let server = greeting_server(packet(0, &p[..20]));
    query(&url(&server), "SELECT 1").assert_failed(State::SysError, libc::EBADMSG);
}

#[test]
fn an_auth_switch_to_a_clear_text_password_is_refused_over_tcp() {
    let server = RawServer::spawn(|mut s| {
        s.write_all(&packet(0, &greeting_payload())).unwrap();
        let _ = read_packet(&mut s);
        s.write_all(&packet(2, b"\xfemysql_clear_password\x00")).unwrap();
        // Whatever comes now must not be the password.
        s.set_read_timeout(Some(WAIT)).unwrap();
        if let Some((_, p)) = read_packet(&mut s) {
            assert_ne!(p, b"pw\0", "the password went out in clear");
        }
    });
    query(&url(&server), "SELECT 1").assert_failed(State::TaskError, wf_mysql::code::ACCESS_DENIED);
}

// ---------------------------------------------------------------------------
// Hostile clients against a MySQLServer

/// A server answering every query with OK, counting them, with a request
/// size limit of `limit` (`None`: the default parameters).
fn server(limit: Option<Option<usize>>) -> (MySQLServer, Arc<AtomicUsize>, u16) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let process = move |t: &mut wf_mysql::MySQLServerTask| {
        seen.fetch_add(1, Ordering::SeqCst);
        t.resp_mut().set_ok_packet(0, 0);
    };
    let server = match limit {
        Some(limit) => {
            let mut params = ServerParams::default();
            params.request_size_limit = limit;
            MySQLServer::with_params(params, None, process)
        }
        None => MySQLServer::new(process),
    };
    server.start_on("127.0.0.1", 0).expect("the MySQLServer starts");
    let port = server.listen_addr().unwrap().port();
    (server, count, port)
}

/// A minimal 4.1 login packet (user `u`, no password).
fn login_payload() -> Vec<u8> {
    let caps: u32 = 0x0200 | 0x8000 | 0x0008_0000; // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH
    let mut p = caps.to_le_bytes().to_vec();
    p.extend_from_slice(&(1u32 << 24).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(b"u\x00\x00mysql_native_password\x00");
    p
}

/// Connects and logs in; the stream is ready for commands.
fn logged_in(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let (seq, greeting) = read_packet(&mut s).expect("a greeting");
    assert_eq!((seq, greeting[0]), (0, 10));
    s.write_all(&packet(1, &login_payload())).unwrap();
    let (seq, ok) = read_packet(&mut s).expect("an answer to the login");
    assert_eq!((seq, ok[0]), (2, 0x00), "{ok:?}");
    s
}

/// Asserts the next packet is MySQL's error `code` and the server then
/// closes the connection.
#[track_caller]
fn assert_refused(s: &mut TcpStream, code: u16, message: &str) {
    let (_, p) = read_packet(s).expect("an error packet");
    assert_eq!(p[0], 0xff, "{p:?}");
    assert_eq!(u16::from_le_bytes([p[1], p[2]]), code, "{}", String::from_utf8_lossy(&p));
    assert_eq!(&p[3..9], b"#08S01");
    assert_eq!(String::from_utf8_lossy(&p[9..]), message);
    assert!(closed(s), "the server keeps the connection open");
}

const TOO_LARGE: &str = "Got a packet bigger than 'max_allowed_packet' bytes";

#[test]
fn commands_over_the_request_size_limit_get_error_1153_and_a_close() {
    let (server, count, port) = server(Some(Some(1024)));
    // Exactly the limit: answered.
    let mut s = logged_in(port);
    let mut q = vec![0x03];
    q.resize(1024, b' ');
    s.write_all(&packet(0, &q)).unwrap();
    let (seq, ok) = read_packet(&mut s).expect("an answer");
    assert_eq!((seq, ok[0]), (1, 0x00));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // One byte over: refused at the header, before its bytes arrive.
    s.write_all(&b"\x01\x04\x00\x00\x03"[..]).unwrap();
    assert_refused(&mut s, 1153, TOO_LARGE);
    // A 16 MiB packet continued past the limit, the same.
    let mut s = logged_in(port);
    s.write_all(&[0xff, 0xff, 0xff, 0x00]).unwrap();
    assert_refused(&mut s, 1153, TOO_LARGE);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    server.stop();
}

#[test]
fn the_default_request_size_limit_applies() {
    // wf-core's default (1 MiB): `MySQLServer::new` keeps it.
    let limit = ServerParams::default().request_size_limit.expect("a default request size limit");
    assert!(limit < 0xff_ffff, "a limit one packet header can exceed: {limit}");
    let (server, count, port) = server(None);
    let mut s = logged_in(port);
    s.write_all(&packet(0, b"\x03SELECT 1")).unwrap();
    assert_eq!(read_packet(&mut s).expect("an answer").1[0], 0x00);
    s.write_all(&(limit as u32 + 1).to_le_bytes()[..3]).unwrap();
    s.write_all(&[0x00, 0x03]).unwrap();
    assert_refused(&mut s, 1153, TOO_LARGE);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    server.stop();
}

#[test]
fn garbage_logins_get_an_error_and_a_close() {
    let (server, count, port) = server(Some(Some(1024)));
    let connect = || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        read_packet(&mut s).expect("a greeting");
        s
    };
    // Not a login at all.
    let mut s = connect();
    s.write_all(&packet(1, b"hello")).unwrap();
    assert_refused(&mut s, 1043, "Bad handshake");
    // A login whose auth data declares 2^63 bytes.
    let mut p = login_payload()[..34].to_vec();
    p.extend_from_slice(b"\xfe\x00\x00\x00\x00\x00\x00\x00\x80ab");
    let mut s = connect();
    s.write_all(&packet(1, &p)).unwrap();
    // (SECURE_CONNECTION without the lenenc flag: 0xfe bytes of auth
    // data, more than the packet holds.)
    assert_refused(&mut s, 1043, "Bad handshake");
    // A login packet declaring 16 MiB − 1: refused at its header.
    let mut s = connect();
    s.write_all(&[0xff, 0xff, 0xff, 0x01]).unwrap();
    assert_refused(&mut s, 1153, TOO_LARGE);
    // Out of sequence.
    let mut s = connect();
    s.write_all(&packet(7, &login_payload())).unwrap();
    assert_refused(&mut s, 1156, "Got packets out of order");
    // An empty command after a good login.
    let mut s = logged_in(port);
    s.write_all(&packet(0, b"")).unwrap();
    assert_refused(&mut s, 1047, "Unknown command");
    assert_eq!(count.load(Ordering::SeqCst), 0);
    server.stop();
}

/// The "endless rows": a server that never ends its result set.
/// The client used to grow without bound (1.7 GB); the task's response
/// size limit ends it with `EMSGSIZE`, with the retries left unused (the
/// same query would get the same answer).
#[test]
fn endless_rows_fail_at_the_response_size_limit() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    let server = RawServer::spawn(move |mut s| {
        counted.fetch_add(1, Ordering::SeqCst);
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(&packet(0, &greeting_payload())).unwrap();
        let Some((1, _login)) = read_packet(&mut s) else { return };
        s.write_all(&packet(2, OK)).unwrap();
        let Some((0, _query)) = read_packet(&mut s) else { return };
        let mut out = packets(1, &[b"\x01", &field(0xfd), EOF]);
        let mut seq = 4u8;
        let row = [&b"\x40"[..], &[b'r'; 64]].concat();
        loop {
            for _ in 0..64 {
                out.extend(packet(seq, &row));
                seq = seq.wrapping_add(1);
            }
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
    });
    let mut t = wf_mysql::create_mysql_task(&url(&server), 2, |_| {});
    t.set_query("SELECT r FROM endless".to_owned());
    t.set_response_size_limit(Some(1 << 20));
    support::run(t).assert_failed(State::SysError, libc::EMSGSIZE);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
