//! Tutorial 04: an HTTP server that answers with an HTML echo of the
//! request, and closes each connection after 10 requests. What it
//! reflects is HTML-escaped: a request line or header carrying
//! `<script>` is shown, never run, in the browser that reads the page.
//!
//! `cargo run -p examples --bin http_echo_server -- 8888` (0 picks a free
//! port), then `curl -i http://127.0.0.1:8888/hello`. Runs until SIGTERM
//! or SIGINT (Ctrl-C), then stops gracefully; standard input is not read.

#![forbid(unsafe_code)]

use std::fmt::Write;

use wf::http::{HttpServer, HttpServerTask};

/// `s` with `& < > " '` replaced by entities: safe inside HTML text and
/// quoted attribute values.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn process(task: &mut HttpServerTask) {
    let req = task.req();
    let mut body = String::from("<html>\n");
    let _ = writeln!(
        body,
        "<p>{} {} {}</p>",
        html_escape(req.method()),
        html_escape(req.request_uri()),
        req.http_version()
    );
    for (name, value) in req.headers() {
        // Header values may hold any byte but controls: shown lossily.
        let value = String::from_utf8_lossy(value.as_bytes());
        let _ = writeln!(body, "<p>{}: {}</p>", html_escape(name), html_escape(&value));
    }
    body.push_str("</html>\n");
    let seq = task.task_seq();
    let resp = task.resp_mut();
    resp.set_status_code(200);
    resp.add_header("Content-Type", "text/html; charset=utf-8");
    resp.add_header("Server", "wf HttpServer");
    resp.append_body(body);
    if seq == 9 {
        // Close after 10 requests on one connection.
        resp.set_header("Connection", "close");
    }
}

fn main() {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8888);
    // First, so that a stop request during start-up is not lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let server = HttpServer::new(process);
    if let Err(e) = server.start(port) {
        eprintln!("cannot start server: {e}");
        std::process::exit(1);
    }
    let addr = server.listen_addr().expect("listening");
    println!("echo server listening on {addr}; stop with Ctrl-C or SIGTERM");
    match wf::signal::wait_for_shutdown() {
        Ok(signal) => println!("{signal}: stopping"),
        Err(e) => eprintln!("cannot wait for signals ({e}): stopping"),
    }
    server.stop();
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(
            super::html_escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(super::html_escape("plain ü"), "plain ü");
    }
}
