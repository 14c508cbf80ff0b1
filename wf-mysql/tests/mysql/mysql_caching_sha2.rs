//! `caching_sha2_password` (MySQL 8's default), which MariaDB cannot
//! exercise: a scripted server replays a MySQL 8.0 handshake packet by
//! packet, and checks what the client sends: the SHA-256 scramble (fast
//! path), and, when the server asks for full authentication over plain
//! TCP, the request for its RSA key and the encrypted password.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wf_core::State;
use wf_mysql::{MySQLTask, create_mysql_task};

const NONCE: &[u8; 20] = b"0123456789abcdefghij";
const KEY_PEM: &str = include_str!("caching_sha2_server_key.pem");

/// XOR(SHA256(password), SHA256(SHA256(SHA256(password)) + nonce)),
/// computed here independently of mysql_common.
fn expected_scramble(password: &[u8]) -> Vec<u8> {
    let p1 = Sha256::digest(password);
    let p2 = Sha256::digest(p1);
    let mut h = Sha256::new();
    h.update(p2);
    h.update(NONCE);
    let p3 = h.finalize();
    p1.iter().zip(p3.iter()).map(|(a, b)| a ^ b).collect()
}

fn write_packet(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    let len = payload.len() as u32;
    s.write_all(&[len as u8, (len >> 8) as u8, (len >> 16) as u8, seq]).unwrap();
    s.write_all(payload).unwrap();
}

fn read_packet(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).unwrap();
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    (h[3], p)
}

/// A MySQL 8.0.36 greeting announcing `caching_sha2_password`.
fn greeting() -> Vec<u8> {
    let caps: u32 = 0x1 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x80000 | 0x200000;
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(&NONCE[..8]);
    p.push(0);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(255); // utf8mb4_0900_ai_ci
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&NONCE[8..]);
    p.push(0);
    p.extend_from_slice(b"caching_sha2_password\0");
    p
}

/// The auth data of a HandshakeResponse41 (after caps, max packet,
/// charset, filler and the user name).
fn auth_data(p: &[u8]) -> (String, Vec<u8>) {
    let rest = &p[32..];
    let nul = rest.iter().position(|&c| c == 0).unwrap();
    let user = String::from_utf8_lossy(&rest[..nul]).into_owned();
    let rest = &rest[nul + 1..];
    let n = rest[0] as usize; // a short length-encoded length
    (user, rest[1..1 + n].to_vec())
}

const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];

enum Script {
    Fast,
    FullWithRsaKey,
    Refuse,
}

/// Serves one connection by `script`; returns what the client sent.
fn serve(script: Script) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut seen = Vec::new();
        write_packet(&mut s, 0, &greeting());
        let (seq, login) = read_packet(&mut s);
        assert_eq!(seq, 1);
        seen.push(login.clone());
        match script {
            Script::Fast => {
                write_packet(&mut s, 2, &[0x01, 0x03]);
                write_packet(&mut s, 3, OK);
            }
            Script::FullWithRsaKey => {
                write_packet(&mut s, 2, &[0x01, 0x04]);
                let (seq, ask) = read_packet(&mut s);
                assert_eq!((seq, ask.as_slice()), (3, &[0x02][..]), "the client asks for the RSA key");
                let mut key = vec![0x01];
                key.extend_from_slice(KEY_PEM.as_bytes());
                write_packet(&mut s, 4, &key);
                let (seq, encrypted) = read_packet(&mut s);
                assert_eq!(seq, 5);
                seen.push(encrypted);
                write_packet(&mut s, 6, OK);
            }
            Script::Refuse => {
                let mut err = vec![0xff, 0x15, 0x04, b'#'];
                err.extend_from_slice(b"28000Access denied for user 'u'");
                write_packet(&mut s, 2, &err);
                return seen;
            }
        }
        let (seq, query) = read_packet(&mut s);
        assert_eq!(seq, 0);
        seen.push(query);
        write_packet(&mut s, 1, OK);
        seen
    });
    (port, handle)
}

fn run(port: u16, password: &str) -> (State, i32) {
    let (tx, rx) = mpsc::channel();
    let mut t = create_mysql_task(&format!("mysql://u:{password}@127.0.0.1:{port}/"), 0, move |t: &mut MySQLTask| {
        tx.send((t.state(), t.error_code())).unwrap();
    });
    t.set_query("DO 1");
    t.start();
    rx.recv_timeout(Duration::from_secs(30)).expect("callback")
}

#[test]
fn fast_path_sends_the_sha256_scramble() {
    let (port, server) = serve(Script::Fast);
    assert_eq!(run(port, "secret"), (State::Success, 0));
    let seen = server.join().unwrap();
    let (user, data) = auth_data(&seen[0]);
    assert_eq!(user, "u");
    assert_eq!(data, expected_scramble(b"secret"));
    assert!(seen[0].ends_with(b"caching_sha2_password\0"));
    assert_eq!(seen[1], b"\x03DO 1");
}

#[test]
fn full_auth_over_tcp_encrypts_the_password_with_the_servers_key() {
    let (port, server) = serve(Script::FullWithRsaKey);
    assert_eq!(run(port, "secret"), (State::Success, 0));
    let seen = server.join().unwrap();
    // RSA-OAEP with a 2048-bit key: 256 bytes, not the password.
    assert_eq!(seen[1].len(), 256);
    assert!(!seen[1].windows(6).any(|w| w == b"secret"));
    assert_eq!(seen[2], b"\x03DO 1");
}

#[test]
fn refused_login_is_access_denied() {
    let (port, server) = serve(Script::Refuse);
    assert_eq!(run(port, "wrong"), (State::TaskError, wf_mysql::code::ACCESS_DENIED));
    server.join().unwrap();
}
