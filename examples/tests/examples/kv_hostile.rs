//! The key-value server against hostile and odd clients (issue 12), with
//! raw sockets and exact bytes: numbers that overflow, patterns that
//! would overflow the stack or backtrack forever, `QUIT`, and expiry
//! among many keys.

use std::io::{Read, Write};
use std::net::TcpStream;

use examples::kv::KvServer;
use testkit::{WAIT, wait_until};

fn start() -> (KvServer, TcpStream) {
    let server = KvServer::new();
    server.start_on("127.0.0.1", 0).expect("listen");
    let port = server.listen_addr().expect("listening").port();
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    (server, s)
}

/// A command in RESP.
fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends `request` and checks that exactly `reply` comes back.
fn exchange(s: &mut TcpStream, request: &[u8], reply: &[u8]) {
    s.write_all(request).unwrap();
    let mut got = vec![0; reply.len()];
    s.read_exact(&mut got).unwrap_or_else(|e| panic!("no full reply to {:?}: {e}", String::from_utf8_lossy(request)));
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(reply));
}

/// Sends `request` and returns one reply line (a status, error or integer).
fn line(s: &mut TcpStream, request: &[u8]) -> String {
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut byte = [0];
    while !got.ends_with(b"\r\n") {
        s.read_exact(&mut byte).expect("a reply line");
        got.push(byte[0]);
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn expire_overflow_is_an_error_and_the_connection_stays() {
    let (server, mut s) = start();
    exchange(
        &mut s,
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$19\r\n9223372036854775807\r\n",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    exchange(
        &mut s,
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$2\r\n-1\r\n",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    exchange(
        &mut s,
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\nabc\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    );
    exchange(&mut s, b"*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$1\r\n1\r\n", b"+OK\r\n");
    exchange(
        &mut s,
        b"*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$19\r\n9223372036854775807\r\n",
        b"-ERR increment or decrement would overflow\r\n",
    );
    exchange(
        &mut s,
        b"*3\r\n$6\r\nEXPIRE\r\n$1\r\nn\r\n$19\r\n9223372036854775807\r\n",
        b"-ERR invalid expire time in 'expire' command\r\n",
    );
    exchange(&mut s, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    exchange(&mut s, b"*2\r\n$3\r\nGET\r\n$1\r\nn\r\n", b"$1\r\n1\r\n");
    exchange(&mut s, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$-1\r\n");
    server.stop();
}

#[test]
fn keys_with_a_hundred_thousand_stars() {
    let (server, mut s) = start();
    exchange(&mut s, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", b"+OK\r\n");
    let stars = vec![b'*'; 100_000];
    exchange(&mut s, &command(&[b"KEYS", &stars]), b"*1\r\n$1\r\nk\r\n");
    let alternating = b"*k".repeat(50_000);
    exchange(&mut s, &command(&[b"KEYS", &alternating]), b"*0\r\n");
    exchange(&mut s, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    server.stop();
}

/// `*a*a…*ab` against long keys of `a`: a backtracking matcher tries
/// about C(key length, 12) splits per key, more than this test could ever
/// wait for; the linear one answers at once.
#[test]
fn keys_with_a_backtracking_pattern() {
    let (server, mut s) = start();
    for i in 0..20 {
        let key = [vec![b'a'; 4_000], i.to_string().into_bytes()].concat();
        exchange(&mut s, &command(&[b"SET", &key, b"v"]), b"+OK\r\n");
    }
    exchange(&mut s, &command(&[b"KEYS", b"*a*a*a*a*a*a*a*a*a*a*a*ab"]), b"*0\r\n");
    exchange(
        &mut s,
        &command(&[b"KEYS", b"*a*a*a*a*a*a*a*a*a*a*a*a19"]),
        &[&b"*1\r\n$4002\r\n"[..], &[b'a'; 4000], b"19\r\n"].concat(),
    );
    server.stop();
}

#[test]
fn quit_says_ok_and_closes() {
    let (server, mut s) = start();
    exchange(&mut s, b"*1\r\n$4\r\nQUIT\r\n", b"+OK\r\n");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("the server closes the connection");
    assert_eq!(rest, b"");
    // Inline too, as `telnet` users type it.
    let mut s = TcpStream::connect(server.listen_addr().unwrap()).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    exchange(&mut s, b"quit\r\n", b"+OK\r\n");
    assert_eq!(s.read(&mut [0; 16]).unwrap(), 0);
    server.stop();
}

/// What `redis-cli` and `redis-benchmark` send when they connect.
#[test]
fn connect_time_commands() {
    let (server, mut s) = start();
    exchange(&mut s, b"*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n", b"*0\r\n");
    exchange(&mut s, b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", b"+OK\r\n");
    exchange(&mut s, b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$2\r\nme\r\n", b"+OK\r\n");
    exchange(&mut s, b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n", b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    exchange(
        &mut s,
        b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
        b"-NOPROTO sorry, this protocol version is not supported\r\n",
    );
    exchange(&mut s, b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", b"$2\r\nhi\r\n");
    server.stop();
}

/// Keys with `PX 50` among many others: gone once expired, from `GET`
/// (lazy) and from `DBSIZE` (active expiry, which pops due deadlines
/// from a heap a few per command), while the others stay.
#[test]
fn expiry_among_many_keys() {
    const KEEP: usize = 20_000;
    const SHORT: usize = 200;
    let (server, mut s) = start();
    for chunk in (0..KEEP).collect::<Vec<_>>().chunks(1_000) {
        let keys: Vec<Vec<u8>> = chunk.iter().map(|i| format!("keep:{i}").into_bytes()).collect();
        let mut args: Vec<&[u8]> = vec![b"MSET"];
        for k in &keys {
            args.extend([&k[..], b"v"]);
        }
        exchange(&mut s, &command(&args), b"+OK\r\n");
    }
    let mut pipeline = Vec::new();
    for i in 0..SHORT {
        pipeline.extend(command(&[b"SET", format!("short:{i}").as_bytes(), b"v", b"PX", b"50"]));
    }
    exchange(&mut s, &pipeline, &b"+OK\r\n".repeat(SHORT));
    exchange(&mut s, b"*2\r\n$4\r\nPTTL\r\n$7\r\nkeep:42\r\n", b":-1\r\n");

    let keep = format!(":{KEEP}\r\n");
    let dbsize = command(&[b"DBSIZE"]);
    assert!(wait_until(WAIT, || line(&mut s, &dbsize) == keep), "expired keys are removed without being read");
    exchange(&mut s, &command(&[b"EXISTS", b"keep:0", b"keep:19999", b"short:0", b"short:150"]), b":2\r\n");
    exchange(&mut s, &command(&[b"GET", b"keep:12345"]), b"$1\r\nv\r\n");
    server.stop();
}
