//! Tutorial 09: an HTTP file server. For each request it opens the file
//! under the root and pushes a pread task into the request's series; the
//! reply is sent when the series ends, so it carries what the pread read
//! (the delayed-reply model). `GET /dir/` serves `dir/index.html`.
//!
//! * 404 for a missing file, 500 when the read fails, 403 for paths that
//!   leave the root;
//! * single HTTP ranges: `Range: bytes=a-b`, `bytes=a-` and `bytes=-n`
//!   give 206 with `Content-Range`; a range past the end gives 416.
//!
//! `cargo run -p examples --bin http_file_server -- 8888 [root] [cert key]`
//! (TLS with PEM files when both are given), then
//! `curl -i http://127.0.0.1:8888/` or `curl -r 0-99 …`. Stops on Enter.

#![forbid(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use wf::fileio::create_pread_task;
use wf::http::{Http, HttpResponse, HttpServer, HttpServerTask};
use wf::net::ServerKind;
use wf::{State, series_of};

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

/// The file a request path names under `root`, or `None` when the path
/// would leave the root (`..`).
fn file_path(root: &Path, uri: &str) -> Option<PathBuf> {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let mut out = root.to_path_buf();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    if path.ends_with('/') {
        out.push("index.html");
    }
    Some(out)
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

fn status(resp: &mut HttpResponse, code: u16, text: &str) {
    resp.set_status_code(code);
    resp.add_header("Content-Type", "text/html");
    resp.append_body(format!("<html>{code} {text}</html>"));
}

fn process(root: &Path, task: &mut HttpServerTask) {
    let Some(path) = file_path(root, task.req().request_uri()) else {
        return status(task.resp_mut(), 403, "Forbidden");
    };
    let opened = File::open(&path).and_then(|f| Ok((f.metadata()?, f)));
    let (meta, file) = match opened {
        Ok((meta, file)) if meta.is_file() => (meta, file),
        _ => return status(task.resp_mut(), 404, "Not Found"),
    };
    let size = meta.len();
    let (start, len, partial) = match parse_range(task.req().header("Range"), size) {
        Span::Whole => (0, size, false),
        Span::Part { start, end } => (start, end - start + 1, true),
        Span::Unsatisfiable => {
            task.resp_mut().set_header("Content-Range", &format!("bytes */{size}"));
            return status(task.resp_mut(), 416, "Range Not Satisfiable");
        }
    };
    let Ok(count) = usize::try_from(len) else { return status(task.resp_mut(), 500, "Internal Server Error") };
    let kind = content_type(&path);
    // The file stays open until the pread's callback has run: the callback
    // owns it and closes it (drops it) when done.
    let fd = file.as_raw_fd();
    let pread = create_pread_task(fd, count, start, move |t| {
        drop(file);
        let state = t.state();
        let body = t.take_buf();
        let reply = series_of(t).last_task_mut::<ServerKind<Http>>().expect("the reply is the last task");
        let resp = reply.resp_mut();
        if state != State::Success {
            return status(resp, 500, "Internal Server Error");
        }
        resp.add_header("Content-Type", kind);
        resp.add_header("Accept-Ranges", "bytes");
        if partial {
            // A file that shrank since it was opened gives a shorter part.
            let end = start + (body.len() as u64).max(1) - 1;
            resp.set_status_code(206);
            resp.add_header("Content-Range", &format!("bytes {start}-{end}/{size}"));
        }
        resp.append_body(body);
    });
    series_of(task).push_back(pread);
}

fn server(root: PathBuf) -> HttpServer {
    let root = Arc::new(root);
    HttpServer::new(move |task| process(&root, task))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = args.first().and_then(|p| p.parse().ok()).unwrap_or(8888);
    let root = PathBuf::from(args.get(1).map_or(".", String::as_str));
    let server = server(root.clone());
    let started = match (args.get(2), args.get(3)) {
        (Some(cert), Some(key)) => server.start_tls("0.0.0.0", port, Path::new(cert), Path::new(key)),
        _ => server.start(port),
    };
    if let Err(e) = started {
        eprintln!("cannot start server: {e}");
        std::process::exit(1);
    }
    println!("serving {} on port {port} (file IO on {}); press Enter to stop", root.display(), wf::fileio::backend());
    let _ = std::io::stdin().read_line(&mut String::new());
    server.stop();
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

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
    fn paths_stay_under_the_root() {
        let root = Path::new("/srv");
        assert_eq!(file_path(root, "/a/b.txt?x=1"), Some(PathBuf::from("/srv/a/b.txt")));
        assert_eq!(file_path(root, "/"), Some(PathBuf::from("/srv/index.html")));
        assert_eq!(file_path(root, "/docs/"), Some(PathBuf::from("/srv/docs/index.html")));
        assert_eq!(file_path(root, "/../etc/passwd"), None);
        assert_eq!(file_path(root, "/a/../../x"), None);
    }

    /// One request on a fresh connection; the status line, the headers
    /// (lower-case names) and the body.
    fn get(port: u16, path: &str, range: Option<&str>) -> (String, Vec<(String, String)>, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{range}Connection: close\r\n\r\n").unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers, raw[split + 4..].to_vec())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The server in this process, on a temp directory: 200, 206, 404, 416.
    #[test]
    fn serves_files_and_ranges() {
        let root = std::env::temp_dir().join(format!("wf-file-server-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("data.bin"), &data).unwrap();
        std::fs::write(root.join("sub/index.html"), "<html>index</html>").unwrap();

        let server = server(root.clone());
        server.start_on("127.0.0.1", 0).unwrap();
        let port = server.listen_addr().unwrap().port();

        let (status, headers, body) = get(port, "/data.bin", None);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert_eq!(body, data, "byte-identical");
        assert_eq!(header(&headers, "accept-ranges"), Some("bytes"));

        let (status, headers, body) = get(port, "/sub/", None);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert_eq!((header(&headers, "content-type"), &body[..]), (Some("text/html"), &b"<html>index</html>"[..]));

        let (status, headers, body) = get(port, "/data.bin", Some("bytes=10-19"));
        assert!(status.starts_with("HTTP/1.1 206"), "{status}");
        assert_eq!(header(&headers, "content-range"), Some("bytes 10-19/100000"));
        assert_eq!(body, &data[10..20]);

        let (status, headers, body) = get(port, "/data.bin", Some("bytes=-5"));
        assert!(status.starts_with("HTTP/1.1 206"), "{status}");
        assert_eq!(header(&headers, "content-range"), Some("bytes 99995-99999/100000"));
        assert_eq!(body, &data[99_995..]);

        let (status, _, body) = get(port, "/data.bin", Some("bytes=99990-"));
        assert!(status.starts_with("HTTP/1.1 206"), "{status}");
        assert_eq!(body, &data[99_990..]);

        let (status, headers, _) = get(port, "/data.bin", Some("bytes=100000-"));
        assert!(status.starts_with("HTTP/1.1 416"), "{status}");
        assert_eq!(header(&headers, "content-range"), Some("bytes */100000"));

        let (status, _, body) = get(port, "/missing.txt", None);
        assert!(status.starts_with("HTTP/1.1 404"), "{status}");
        assert_eq!(body, b"<html>404 Not Found</html>");
        let (status, _, _) = get(port, "/sub", None);
        assert!(status.starts_with("HTTP/1.1 404"), "a directory is not a file: {status}");
        let (status, _, _) = get(port, "/../etc/passwd", None);
        assert!(status.starts_with("HTTP/1.1 403"), "{status}");

        server.stop();
        std::fs::remove_dir_all(&root).unwrap();
    }
}
