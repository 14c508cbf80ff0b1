//! The file server (tutorial 09) replaying the attack campaign's
//! findings with raw sockets: symlinks out of the root, `..`, a FIFO in
//! the root, percent-encoded names, HEAD, large files, special files.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::time::Duration;

use testkit::TempDir;

use crate::daemon::{Daemon, Response, exchange, request};

const BIN: &str = env!("CARGO_BIN_EXE_http_file_server");

/// A root with a few files, and the server on it.
fn serve(extra: &[&str]) -> (TempDir, Daemon) {
    let dir = TempDir::new("file-server");
    dir.write("index.html", "<html>root index</html>");
    dir.write("hello.txt", "hello");
    dir.write("my file.txt", "spaced out");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    dir.write("sub/index.html", "<html>index</html>");
    let root = dir.path().to_str().unwrap().to_owned();
    let mut args = vec!["0", &root];
    args.extend_from_slice(extra);
    let d = Daemon::start(BIN, &args);
    (dir, d)
}

#[test]
fn serves_files_ranges_and_index_and_stops_on_sigterm() {
    let (dir, d) = serve(&[]);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    dir.write("data.bin", &data);
    let port = d.port();

    let r = request(port, "GET", "/data.bin", "");
    assert_eq!(r.code(), 200, "{}", r.status);
    assert_eq!(r.body, data, "byte-identical");
    assert_eq!(r.header("content-length"), Some("100000"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    let r = request(port, "GET", "/sub/", "");
    assert_eq!((r.code(), r.header("content-type"), &r.body[..]), (200, Some("text/html"), &b"<html>index</html>"[..]));
    assert_eq!(request(port, "GET", "/", "").body, b"<html>root index</html>");

    let r = request(port, "GET", "/data.bin", "Range: bytes=10-19\r\n");
    assert_eq!((r.code(), r.header("content-range")), (206, Some("bytes 10-19/100000")));
    assert_eq!(r.body, &data[10..20]);
    let r = request(port, "GET", "/data.bin", "Range: bytes=-5\r\n");
    assert_eq!((r.code(), r.header("content-range")), (206, Some("bytes 99995-99999/100000")));
    assert_eq!(r.body, &data[99_995..]);
    let r = request(port, "GET", "/data.bin", "Range: bytes=100000-\r\n");
    assert_eq!((r.code(), r.header("content-range")), (416, Some("bytes */100000")));

    let r = request(port, "GET", "/missing.txt", "");
    assert_eq!((r.code(), &r.body[..]), (404, &b"<html>404 Not Found</html>"[..]));
    let r = request(port, "POST", "/hello.txt", "Content-Length: 0\r\n");
    assert_eq!((r.code(), r.header("allow")), (405, Some("GET, HEAD")));
    d.stop_with(libc::SIGTERM);
}

#[test]
fn symlinks_out_of_the_root_are_refused() {
    let (dir, d) = serve(&[]);
    symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
    symlink("/etc", dir.path().join("etc")).unwrap();
    symlink("hello.txt", dir.path().join("inside")).unwrap();
    for path in ["/passwd", "/etc/passwd", "/etc/hostname"] {
        let raw = exchange(d.port(), format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        let r = Response::parse(&raw);
        assert_eq!(r.code(), 403, "{path}: {}", r.status);
        assert!(!String::from_utf8_lossy(&raw).contains("root:"), "{path} leaked /etc/passwd");
    }
    // A symlink that stays inside the root is followed.
    assert_eq!(request(d.port(), "GET", "/inside", "").body, b"hello");
    d.stop_with(libc::SIGTERM);
}

#[test]
fn dot_dot_is_refused_in_every_spelling() {
    let (_dir, d) = serve(&[]);
    for path in ["/../etc/passwd", "/sub/../../etc/passwd", "/%2e%2e/etc/passwd", "/sub/..%2F..%2Fetc%2Fpasswd", "/.."]
    {
        let raw = exchange(d.port(), format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        let r = Response::parse(&raw);
        assert_eq!(r.code(), 403, "{path}: {}", r.status);
        assert!(!String::from_utf8_lossy(&raw).contains("root:"), "{path} leaked /etc/passwd");
    }
    d.stop_with(libc::SIGTERM);
}

#[test]
fn percent_encoded_names_are_decoded_and_bad_escapes_refused() {
    let (_dir, d) = serve(&[]);
    let r = request(d.port(), "GET", "/my%20file.txt", "");
    assert_eq!((r.code(), &r.body[..]), (200, &b"spaced out"[..]));
    assert_eq!(request(d.port(), "GET", "/%68ello.txt?x=%zz", "").body, b"hello");
    for path in ["/hello.txt%00.html", "/my%2", "/%zz", "/%%30"] {
        assert_eq!(request(d.port(), "GET", path, "").code(), 400, "{path}");
    }
    d.stop_with(libc::SIGTERM);
}

#[test]
fn a_fifo_in_the_root_stalls_nothing() {
    let (dir, d) = serve(&[]);
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // Two requests for the FIFO left in flight (no writer ever opens it)…
    let mut stuck: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
            s.write_all(b"GET /fifo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            s
        })
        .collect();
    // …do not hold up another request…
    assert_eq!(request(d.port(), "GET", "/hello.txt", "").body, b"hello");
    // …and are refused themselves, without the FIFO being opened.
    for s in &mut stuck {
        s.set_read_timeout(Some(testkit::WAIT)).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        assert_eq!(Response::parse(&raw).code(), 403);
    }
    d.stop_with(libc::SIGTERM);
}

#[test]
fn sockets_and_directories_without_index_are_refused() {
    let (dir, d) = serve(&[]);
    let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
    symlink("/dev/zero", dir.path().join("zero")).unwrap();
    for path in ["/sock", "/empty", "/sub", "/zero"] {
        assert_eq!(request(d.port(), "GET", path, "").code(), 403, "{path}");
    }
    // A directory's index is what `/dir/` asks for: missing here.
    assert_eq!(request(d.port(), "GET", "/empty/", "").code(), 404);
    d.stop_with(libc::SIGTERM);
}

/// HEAD of a 16 GiB sparse file: the headers a GET would get, no body,
/// and the server never reads it (its peak memory stays far below).
#[test]
fn head_does_not_read_the_file() {
    let (dir, d) = serve(&["--max-size", "1000000000000", "--stream-budget", "1000000000000"]);
    let big = std::fs::File::create(dir.path().join("big.bin")).unwrap();
    big.set_len(16 << 30).unwrap();
    let r = request(d.port(), "HEAD", "/big.bin", "");
    assert_eq!((r.code(), r.header("content-length")), (200, Some("17179869184")), "{r:?}");
    assert!(r.body.is_empty());
    let r = request(d.port(), "HEAD", "/big.bin", "Range: bytes=0-99\r\n");
    assert_eq!((r.code(), r.header("content-length")), (206, Some("100")));
    assert!(d.peak_rss() < 256 << 20, "peak RSS {} MiB", d.peak_rss() >> 20);
    d.stop_with(libc::SIGTERM);
}

/// A 64 MiB sparse file goes out in bounded chunks (chunked transfer
/// encoding, 256 KiB a read), one past `--max-size` is refused with 403,
/// and a range of it is served.
#[test]
fn large_files_are_streamed_in_bounded_chunks() {
    let (dir, d) = serve(&[]);
    let big = std::fs::File::create(dir.path().join("big.bin")).unwrap();
    big.set_len(64 << 20).unwrap();
    let before = d.peak_rss();
    let r = request(d.port(), "GET", "/big.bin", "");
    assert_eq!((r.code(), r.header("transfer-encoding"), r.header("content-length")), (200, Some("chunked"), None));
    assert_eq!(r.body.len(), 64 << 20);
    assert!(r.body.iter().all(|&b| b == 0));
    assert!(r.chunks.len() >= 256 && r.chunks.iter().all(|&c| c <= 256 << 10), "{} chunks", r.chunks.len());
    eprintln!("64 MiB download: server peak RSS {} -> {} MiB", before >> 20, d.peak_rss() >> 20);

    let over = std::fs::File::create(dir.path().join("over.bin")).unwrap();
    over.set_len((64 << 20) + 1).unwrap();
    assert_eq!(request(d.port(), "GET", "/over.bin", "").code(), 403);
    assert_eq!(request(d.port(), "HEAD", "/over.bin", "").code(), 403);
    let r = request(d.port(), "GET", "/over.bin", "Range: bytes=67108864-\r\n");
    assert_eq!((r.code(), &r.body[..]), (206, &[0u8][..]));

    // A client that goes away mid-download: the server stops reading and
    // keeps serving.
    let mut s = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut some = [0u8; 4096];
    s.read_exact(&mut some).unwrap();
    drop(s);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(request(d.port(), "GET", "/hello.txt", "").body, b"hello");
    d.stop_with(libc::SIGTERM);
}

/// Clients that stop reading hold at most `--stream-budget` bytes of
/// streamed replies in the server: past it, 503; the share comes back
/// when such a client goes away.
#[test]
fn stalled_clients_hold_at_most_the_stream_budget() {
    // 32 MiB: more than loopback socket buffers take, so the reply stays
    // queued while its client does not read.
    let (dir, d) = serve(&["--stream-budget", "33554432"]);
    std::fs::File::create(dir.path().join("big.bin")).unwrap().set_len(32 << 20).unwrap();
    let before = d.peak_rss();
    let mut stalled = TcpStream::connect(("127.0.0.1", d.port())).unwrap();
    stalled.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 64];
    stalled.set_read_timeout(Some(testkit::WAIT)).unwrap();
    stalled.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));

    let r = request(d.port(), "GET", "/big.bin", "");
    assert_eq!((r.code(), r.header("retry-after")), (503, Some("1")), "over the budget");
    // Small files and HEAD are not streamed, and still served.
    assert_eq!(request(d.port(), "GET", "/hello.txt", "").body, b"hello");
    assert_eq!(request(d.port(), "HEAD", "/big.bin", "").code(), 200);
    // Give the reads time to queue the whole reply (the bound must hold
    // then too).
    std::thread::sleep(Duration::from_millis(500));
    let held = d.peak_rss().saturating_sub(before);
    eprintln!("a stalled 32 MiB download: server peak RSS +{} MiB", held >> 20);
    assert!(held < 96 << 20, "peak RSS grew {} MiB", held >> 20);

    drop(stalled);
    assert!(
        testkit::wait_until(testkit::WAIT, || request(d.port(), "GET", "/big.bin", "Range: bytes=0-0\r\n").code()
            == 206),
        "a small range is served"
    );
    assert!(
        testkit::wait_until(testkit::WAIT, || request(d.port(), "GET", "/big.bin", "").code() == 200),
        "the share came back when the stalled client left"
    );
    d.stop_with(libc::SIGTERM);
}
