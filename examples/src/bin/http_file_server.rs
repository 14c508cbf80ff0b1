//! Tutorial 09: an HTTP file server. For each request it opens the file
//! under the root in a go task (never on a network thread) and pushes
//! pread tasks into the request's series; the reply is sent when the
//! series ends, so it carries what the preads read (the delayed-reply
//! model). `GET /dir/` serves `dir/index.html`.
//!
//! What it serves, and what it refuses:
//!
//! * only regular files whose real path (symlinks resolved) is inside the
//!   root: `..`, and symlinks pointing out of the root, get 403;
//! * never a FIFO, socket, device or directory (403; `/dir/` asks for the
//!   directory's `index.html`, 404 when it has none): the path is
//!   `stat`ed first and only a regular file is opened (`O_NONBLOCK`,
//!   `O_NOFOLLOW`, checked again with `fstat`), so a FIFO in the root
//!   cannot stall anything;
//! * the path is percent-decoded (`/my%20file.txt`); a bad escape or an
//!   encoded NUL gets 400; methods other than GET and HEAD get 405;
//! * single HTTP ranges: `Range: bytes=a-b`, `bytes=a-` and `bytes=-n`
//!   give 206 with `Content-Range`; a range past the end gives 416;
//! * `HEAD` answers with the headers a `GET` would get and never reads the
//!   file;
//! * bodies up to 256 KiB are read at once and sent with a
//!   `Content-Length`; larger ones are streamed as chunked transfer
//!   encoding, one 256 KiB pread at a time ([`HttpStream`]), each read
//!   started when the previous chunk was queued, and stopped when the
//!   client goes away;
//! * memory is bounded: wf's `HttpStream` cannot tell how much of what
//!   was queued the client has taken yet, so a client that stops reading
//!   can leave a whole streamed reply queued in the server. Two limits
//!   bound that: a reply body over `--max-size` (64 MiB by default) gets
//!   403 (clients fetch bigger files in ranges of at most that size), and
//!   streamed replies in progress may together hold at most
//!   `--stream-budget` bytes (256 MiB by default); a request that would
//!   go over it gets 503 with `Retry-After: 1`. A reply's share is
//!   released when its last byte was written or its connection closed.
//!
//! Not covered: a local user who can write inside the root and swaps a
//! directory for a symlink between the check and the open (that needs
//! `openat2(RESOLVE_BENEATH)`).
//!
//! ```text
//! http_file_server [port] [root] [cert.pem key.pem] [--max-size BYTES] [--stream-budget BYTES]
//! ```
//!
//! `cargo run -p examples --bin http_file_server -- 8888 ./public` (TLS
//! with PEM files when both are given), then `curl -i
//! http://127.0.0.1:8888/` or `curl -r 0-99 …`. Port 0 picks a free port;
//! the address is printed. Runs until SIGTERM or SIGINT (Ctrl-C), then
//! stops gracefully; standard input is not read.

#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wf::fileio::{FileIoTask, create_pread_task};
use wf::http::{Http, HttpResponse, HttpServer, HttpServerTask, HttpStream};
use wf::net::ServerKind;
use wf::{State, create_go_task, series_of};

/// Bytes read (and sent) at a time.
const CHUNK: usize = 256 * 1024;

/// Default cap on a reply's body (`--max-size`).
const DEFAULT_MAX_SIZE: u64 = 64 << 20;

/// Default cap on the streamed replies in progress (`--stream-budget`).
const DEFAULT_STREAM_BUDGET: u64 = 256 << 20;

/// The compute queue the opens run on.
const OPEN_QUEUE: &str = "file-open";

/// What the server serves.
#[derive(Debug)]
struct Config {
    /// The root, canonical (symlinks resolved).
    root: PathBuf,
    /// The largest body sent in one reply.
    max_size: u64,
    /// The most bytes streamed replies in progress may hold together.
    stream_budget: u64,
    /// Bytes of the streamed replies in progress.
    streaming: AtomicU64,
}

/// A streamed reply's share of the budget, released when dropped.
#[derive(Debug)]
struct Reservation {
    config: Arc<Config>,
    bytes: u64,
}

impl Reservation {
    /// Takes `bytes` of the budget, or `None` when it would go over.
    fn take(config: &Arc<Config>, bytes: u64) -> Option<Reservation> {
        config
            .streaming
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= config.stream_budget)
            })
            .ok()?;
        Some(Reservation { config: config.clone(), bytes })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.config.streaming.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// What a `Range` header asks of a file of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    /// No (usable) range: the whole file, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part { start: u64, end: u64 },
    /// A range entirely past the end, 416.
    Unsatisfiable,
}

/// Reads a `Range` header (RFC 9110 §14.2) for a file of `size` bytes. Only
/// single byte ranges are served; a malformed header or several ranges
/// are ignored (the whole file is sent), as the RFC allows.
fn parse_range(header: Option<&str>, size: u64) -> Span {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Span::Whole };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Span::Whole };
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| if s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<u64>().ok() } else { None };
    match (first.is_empty(), last.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match num(last) {
            Some(0) => Span::Unsatisfiable,
            Some(_) if size == 0 => Span::Unsatisfiable,
            Some(n) => Span::Part { start: size.saturating_sub(n), end: size - 1 },
            None => Span::Whole,
        },
        // bytes=a- and bytes=a-b.
        (false, _) => {
            let Some(start) = num(first) else { return Span::Whole };
            let end = if last.is_empty() { Some(u64::MAX) } else { num(last) };
            match end {
                None => Span::Whole,
                Some(end) if end < start => Span::Whole,
                Some(_) if start >= size => Span::Unsatisfiable,
                Some(end) => Span::Part { start, end: end.min(size - 1) },
            }
        }
        (true, true) => Span::Whole,
    }
}

/// Decodes `%XX` escapes; `None` for a bad escape or an encoded NUL.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            let byte = (hi * 16 + lo) as u8;
            if byte == 0 {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The file a request target names under `root` (not resolved yet), or
/// the status refusing it: 400 for a bad target or escape, 403 for `..`.
fn file_path(root: &Path, target: &str) -> Result<PathBuf, u16> {
    // Absolute form (`http://host/path`): the path part.
    let target = match target.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        _ => target,
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Err(400);
    }
    let decoded = percent_decode(path).ok_or(400u16)?;
    let mut out = root.to_path_buf();
    // Split after decoding, so `%2F..%2F` is a `..` too.
    for part in decoded.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(403),
            name => out.push(OsStr::from_bytes(name)),
        }
    }
    if decoded.ends_with(b"/") {
        out.push("index.html");
    }
    Ok(out)
}

/// Resolves `path` and opens it if it is a regular file inside `root`;
/// otherwise the status refusing it (404 missing, 403 outside or not a
/// regular file). Blocking calls: runs in a go task.
fn open_checked(root: &Path, path: &Path) -> Result<(File, Metadata), u16> {
    let real = std::fs::canonicalize(path).map_err(|_| 404u16)?;
    if !real.starts_with(root) {
        return Err(403);
    }
    // stat before open: a FIFO, a device or a socket is never opened.
    let meta = std::fs::metadata(&real).map_err(|_| 404u16)?;
    if !meta.is_file() {
        return Err(403);
    }
    // Non-blocking and not following a symlink, in case the file was
    // swapped since the stat; fstat says what was really opened.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|_| 403u16)?;
    let opened = file.metadata().map_err(|_| 500u16)?;
    if !opened.is_file() || (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return Err(403);
    }
    Ok((file, opened))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html",
        "txt" => "text/plain",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn status(resp: &mut HttpResponse, code: u16) {
    let text = match code {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    resp.set_status_code(code);
    resp.set_header("Content-Type", "text/html");
    resp.append_body(format!("<html>{code} {text}</html>"));
}

fn process(config: &Arc<Config>, task: &mut HttpServerTask) {
    let head = match task.req().method() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            task.resp_mut().set_header("Allow", "GET, HEAD");
            return status(task.resp_mut(), 405);
        }
    };
    let path = match file_path(&config.root, task.req().request_uri()) {
        Ok(path) => path,
        Err(code) => return status(task.resp_mut(), code),
    };
    let range = task.req().header("Range").map(str::to_owned);
    let (config, kind) = (config.clone(), content_type(&path));
    let open = create_go_task(OPEN_QUEUE, {
        let config = config.clone();
        move || open_checked(&config.root, &path)
    })
    .with_callback(move |t| {
        let opened = t.take_result();
        let series = series_of(t);
        let reply = series.last_task_mut::<ServerKind<Http>>().expect("the reply is the last task");
        let next = match opened {
            Some(Ok((file, meta))) => respond(reply, &config, file, meta.len(), kind, range.as_deref(), head),
            Some(Err(code)) => {
                status(reply.resp_mut(), code);
                None
            }
            None => {
                status(reply.resp_mut(), 500);
                None
            }
        };
        if let Some(next) = next {
            series.push_back(next);
        }
    });
    series_of(task).push_back(open);
}

/// Fills the reply's head for `file` and returns the first read, if any.
fn respond(
    reply: &mut HttpServerTask,
    config: &Arc<Config>,
    file: File,
    size: u64,
    kind: &'static str,
    range: Option<&str>,
    head: bool,
) -> Option<FileIoTask> {
    let resp = reply.resp_mut();
    let (start, len, partial) = match parse_range(range, size) {
        Span::Whole => (0, size, false),
        Span::Part { start, end } => (start, end - start + 1, true),
        Span::Unsatisfiable => {
            resp.set_header("Content-Range", &format!("bytes */{size}"));
            status(resp, 416);
            return None;
        }
    };
    let cap = config.max_size.min(config.stream_budget);
    if len > cap {
        resp.set_status_code(403);
        resp.set_header("Content-Type", "text/plain");
        resp.append_body(format!(
            "403 Forbidden: {len} bytes is more than this server sends in one reply ({cap}); ask for a Range\n"
        ));
        return None;
    }
    let streamed = !head && len > CHUNK as u64;
    let share = if streamed { Reservation::take(config, len) } else { None };
    if streamed && share.is_none() {
        resp.set_header("Retry-After", "1");
        status(resp, 503);
        return None;
    }
    resp.set_header("Content-Type", kind);
    resp.set_header("Accept-Ranges", "bytes");
    if partial {
        resp.set_status_code(206);
        resp.set_header("Content-Range", &format!("bytes {start}-{}/{size}", start + len - 1));
    }
    if head {
        // The headers a GET gets; the file is not read.
        resp.set_header("Content-Length", &len.to_string());
        return None;
    }
    if len == 0 {
        return None;
    }
    if len <= CHUNK as u64 {
        let fd = file.as_raw_fd();
        // The callback owns the file: it stays open until the read ran.
        return Some(create_pread_task(fd, len as usize, start, move |t| {
            drop(file);
            let ok = t.state() == State::Success && t.retval() as u64 == len;
            let body = t.take_buf();
            let reply = series_of(t).last_task_mut::<ServerKind<Http>>().expect("the reply is the last task");
            if ok {
                reply.resp_mut().append_body(body);
            } else {
                // Failed, or the file shrank since it was opened: the
                // head promised other bytes; close instead.
                reply.noreply();
            }
        }));
    }
    // The reply task's callback runs once the reply was written or its
    // connection closed; the share goes with it.
    reply.set_callback(move |_| drop(share));
    let stream = HttpStream::begin(reply);
    Some(read_chunk(Transfer { file, stream, next: start, end: start + len }))
}

/// A streamed reply in progress: the next bytes to read and send.
#[derive(Debug)]
struct Transfer {
    file: File,
    stream: HttpStream,
    next: u64,
    end: u64,
}

/// Reads the next chunk; its callback sends it and pushes the read after.
fn read_chunk(transfer: Transfer) -> FileIoTask {
    let count = (transfer.end - transfer.next).min(CHUNK as u64) as usize;
    let fd = transfer.file.as_raw_fd();
    let offset = transfer.next;
    create_pread_task(fd, count, offset, move |t| {
        let mut transfer = transfer;
        if t.state() != State::Success || t.retval() <= 0 {
            // A failed read, or the file shrank: end the reply without its
            // last chunk, so the client sees it incomplete.
            let reply = series_of(t).last_task_mut::<ServerKind<Http>>().expect("the reply is the last task");
            reply.noreply();
            return;
        }
        let data = t.take_buf();
        transfer.next += data.len() as u64;
        // false: the client went away; stop reading.
        if transfer.stream.send(data) && transfer.next < transfer.end {
            series_of(t).push_back(read_chunk(transfer));
        }
    })
}

/// Command-line options.
#[derive(Debug)]
struct Args {
    port: u16,
    root: PathBuf,
    tls: Option<(PathBuf, PathBuf)>,
    max_size: u64,
    stream_budget: u64,
}

const USAGE: &str =
    "usage: http_file_server [port] [root] [cert.pem key.pem] [--max-size BYTES] [--stream-budget BYTES]";

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let (mut max_size, mut stream_budget) = (DEFAULT_MAX_SIZE, DEFAULT_STREAM_BUDGET);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--max-size" || a == "--stream-budget" {
            let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
            let n = v.parse().map_err(|_| format!("not a size: {v}"))?;
            *(if a == "--max-size" { &mut max_size } else { &mut stream_budget }) = n;
        } else if a.starts_with("--") {
            return Err(format!("unknown option {a}"));
        } else {
            positional.push(a);
        }
    }
    let port = match positional.first() {
        Some(p) => p.parse().map_err(|_| format!("not a port: {p}"))?,
        None => 8888,
    };
    let root = PathBuf::from(positional.get(1).map_or(".", String::as_str));
    let tls = match (positional.get(2), positional.get(3)) {
        (Some(cert), Some(key)) => Some((cert.into(), key.into())),
        (Some(_), None) => return Err("a certificate needs a key".into()),
        _ => None,
    };
    if positional.len() > 4 {
        return Err("too many arguments".into());
    }
    Ok(Args { port, root, tls, max_size, stream_budget })
}

fn server(config: Config) -> HttpServer {
    let config = Arc::new(config);
    HttpServer::new(move |task| process(&config, task))
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("{e}\n{USAGE}");
        std::process::exit(2);
    });
    let root = match std::fs::canonicalize(&args.root) {
        Ok(root) if root.is_dir() => root,
        _ => {
            eprintln!("not a directory: {}", args.root.display());
            std::process::exit(1);
        }
    };
    // Before the server starts, so that a stop request is never lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let config = Config {
        root: root.clone(),
        max_size: args.max_size,
        stream_budget: args.stream_budget,
        streaming: AtomicU64::new(0),
    };
    let server = server(config);
    let started = match &args.tls {
        Some((cert, key)) => server.start_tls("0.0.0.0", args.port, cert, key),
        None => server.start(args.port),
    };
    if let Err(e) = started {
        eprintln!("cannot start server: {e}");
        std::process::exit(1);
    }
    let addr = server.listen_addr().expect("listening");
    println!(
        "listening on {addr}, serving {} (file IO on {}); stop with Ctrl-C or SIGTERM",
        root.display(),
        wf::fileio::backend()
    );
    match wf::signal::wait_for_shutdown() {
        Ok(signal) => println!("{signal}: stopping"),
        Err(e) => eprintln!("cannot wait for signals ({e}): stopping"),
    }
    server.stop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str, size| parse_range(Some(h), size);
        assert_eq!(parse_range(None, 10), Span::Whole);
        assert_eq!(r("bytes=0-4", 10), Span::Part { start: 0, end: 4 });
        assert_eq!(r("bytes=2-2", 10), Span::Part { start: 2, end: 2 });
        assert_eq!(r("bytes=5-100", 10), Span::Part { start: 5, end: 9 });
        assert_eq!(r("bytes=7-", 10), Span::Part { start: 7, end: 9 });
        assert_eq!(r("bytes=-3", 10), Span::Part { start: 7, end: 9 });
        assert_eq!(r("bytes=-30", 10), Span::Part { start: 0, end: 9 });
        assert_eq!(r(" bytes= 1 - 2 ", 10), Span::Part { start: 1, end: 2 });
        assert_eq!(r("bytes=10-", 10), Span::Unsatisfiable);
        assert_eq!(r("bytes=10-20", 10), Span::Unsatisfiable);
        assert_eq!(r("bytes=-0", 10), Span::Unsatisfiable);
        assert_eq!(r("bytes=-5", 0), Span::Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Span::Unsatisfiable);
        // Ignored: malformed, reversed, several ranges, other units.
        for h in ["bytes=5-2", "bytes=a-b", "bytes=-", "bytes=1", "bytes=0-1,3-4", "items=0-1", "bytes=+1-2"] {
            assert_eq!(r(h, 10), Span::Whole, "{h}");
        }
    }

    #[test]
    fn paths_stay_under_the_root_and_are_decoded() {
        let root = Path::new("/srv");
        let p = |t| file_path(root, t);
        assert_eq!(p("/a/b.txt?x=1"), Ok(PathBuf::from("/srv/a/b.txt")));
        assert_eq!(p("/"), Ok(PathBuf::from("/srv/index.html")));
        assert_eq!(p("/docs/"), Ok(PathBuf::from("/srv/docs/index.html")));
        assert_eq!(p("/my%20file.txt"), Ok(PathBuf::from("/srv/my file.txt")));
        assert_eq!(p("/a%3Fb"), Ok(PathBuf::from("/srv/a?b")));
        assert_eq!(p("/%C3%BC"), Ok(PathBuf::from("/srv/ü")));
        assert_eq!(p("http://host:8/x/y"), Ok(PathBuf::from("/srv/x/y")));
        assert_eq!(p("//etc/passwd"), Ok(PathBuf::from("/srv/etc/passwd")));
        for bad in ["/../etc/passwd", "/a/../../x", "/%2e%2e/x", "/a%2F..%2F..%2Fx", "/.."] {
            assert_eq!(p(bad), Err(403), "{bad}");
        }
        for bad in ["*", "etc/passwd", "/a%00b", "/%", "/%4", "/%zz", "/%%41"] {
            assert_eq!(p(bad), Err(400), "{bad}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%41%62%2f"), Some(b"aAb/".to_vec()));
        assert_eq!(percent_decode("%ff"), Some(vec![0xff]));
        assert_eq!(percent_decode("%00"), None);
        assert_eq!(percent_decode("%+1"), None);
    }
}
