//! Tutorial 05: an HTTP proxy. For each request it sends the request on
//! with an `HttpTask` pushed into the request's series, so the reply to
//! the client waits for it (the delayed-reply model); the upstream
//! response is moved, not copied, into the reply through the server
//! task's `reply_handle()`.
//!
//! **Without `--allow` this is an open proxy**: anyone who can connect to
//! it reaches every service the machine running it can reach, loopback
//! (`127.0.0.1`, `localhost`) and private networks included: admin
//! consoles, databases with HTTP interfaces, cloud metadata endpoints. Run
//! it that way only on a machine and network you trust, listening where
//! only you can connect. With one or more `--allow` patterns it forwards
//! only to matching targets and answers anything else with 403:
//!
//! * `host`: that host on any port (`example.com`, `127.0.0.1`, `[::1]`);
//! * `host:port`: that host on that port only;
//! * `*.example.com` (with or without `:port`): any subdomain of it.
//!
//! Targets and patterns are read by the parser the upstream task uses
//! (so `127.1`, `2130706433` and `LOCALHOST` compare as what they are), and
//! matched by host and port, not by the address a name resolves to: allow
//! only names you control. Unix-socket targets (`http://%2Frun%2Fx.sock/`)
//! are always refused. Redirects are not followed (the client sees them
//! and asks again, through the same check).
//!
//! ```text
//! http_proxy [port] [--allow host[:port]]...
//! ```
//!
//! `cargo run -p examples --bin http_proxy -- 8080 --allow 127.0.0.1:8888`,
//! then `curl -x http://127.0.0.1:8080 http://127.0.0.1:8888/`. Port 0
//! picks a free port; the address is printed. Runs until SIGTERM or SIGINT
//! (Ctrl-C), then stops gracefully; standard input is not read.

#![forbid(unsafe_code)]

use std::sync::Arc;

use wf::http::{HttpServer, HttpServerTask, create_http_task};
use wf::net::{ServerParams, Uri};
use wf::{State, series_of};

const USAGE: &str = "usage: http_proxy [port] [--allow host[:port]]...";

/// One `--allow` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Allow {
    /// The host as wf's URL parser writes it (lower case, IPv4 forms
    /// normalised, IPv6 without brackets); for `*.example.com`,
    /// `.example.com`.
    host: String,
    /// Whether the host is a `*.` suffix.
    suffix: bool,
    /// The port, or any.
    port: Option<u16>,
}

impl Allow {
    /// Parses `host[:port]` or `*.domain[:port]` with the parser the
    /// upstream task uses, so that a pattern and a target spelled
    /// differently (`127.1`, `LOCALHOST`) compare as the client sees them.
    fn parse(pattern: &str) -> Result<Allow, String> {
        let bad = || format!("not a host[:port] pattern: {pattern}");
        let (rest, suffix) = match pattern.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (pattern, false),
        };
        if rest.is_empty() || rest.contains(['/', '@', '?', '#', '\\', '*', '%']) {
            return Err(bad());
        }
        let uri = Uri::parse(&format!("http://{rest}/")).map_err(|_| bad())?;
        if uri.host_str().is_empty() || uri.unix_path().is_some() {
            return Err(bad());
        }
        let host = if suffix { format!(".{}", uri.host_str()) } else { uri.host_str().to_owned() };
        Ok(Allow { host, suffix, port: uri.has_explicit_port().then(|| uri.port()) })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        let host_ok = if self.suffix { host.ends_with(&self.host) } else { host == self.host };
        host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// The host and port the upstream task would connect to for `url`, as
/// wf's URL parser reads it; `None` for anything but an `http` or `https`
/// URL naming a network host.
fn target_host_port(url: &str) -> Option<(String, u16)> {
    let uri = Uri::parse(url).ok()?;
    if !matches!(uri.scheme(), "http" | "https") || uri.unix_path().is_some() {
        return None;
    }
    Some((uri.host_str().to_owned(), uri.port()))
}

/// Whether `url` may be forwarded: without an allow-list, any network
/// target (never a Unix socket, `http://%2Frun%2Fdocker.sock/`).
fn allowed(allow: &[Allow], url: &str) -> bool {
    match target_host_port(url) {
        None => Uri::parse(url).is_ok_and(|u| u.unix_path().is_none()) && allow.is_empty(),
        Some((host, port)) => allow.is_empty() || allow.iter().any(|a| a.matches(&host, port)),
    }
}

fn process(allow: &[Allow], task: &mut HttpServerTask) {
    let url = task.req().request_uri().to_string();
    if !allowed(allow, &url) {
        println!("{url}: refused (not on the allow-list)");
        let resp = task.resp_mut();
        resp.set_status_code(403);
        resp.add_header("Content-Type", "text/html");
        resp.append_body("<html>403 Forbidden: this proxy does not forward there.</html>");
        return;
    }
    let keep_alive = task.req().is_keep_alive();
    let target = url.clone();
    // The reply, for the upstream task's callback to fill.
    let reply = task.reply_handle();
    let mut upstream = create_http_task(&target, 0, 0, move |t| {
        let Some(mut resp) = reply.lock() else {
            return; // the server task is gone (its connection closed)
        };
        if t.state() == State::Success {
            *resp = std::mem::take(t.resp_mut());
            if !keep_alive {
                resp.set_header("Connection", "close");
            }
            println!("{url}: {} {}", resp.status_code(), resp.body_len());
        } else {
            println!("{url}: failed: {}", t.error_text());
            resp.set_status_code(404);
            resp.append_body("<html>404 Not Found.</html>");
        }
    });
    // Forward the client's request (moved, not copied), in origin form.
    *upstream.req_mut() = std::mem::take(task.req_mut());
    upstream.req_mut().remove_header("Proxy-Connection");
    series_of(task).push_back(upstream);
}

fn parse_args() -> Result<(u16, Vec<Allow>), String> {
    let mut port = None;
    let mut allow = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--allow" {
            allow.push(Allow::parse(&args.next().ok_or("--allow needs a host[:port]")?)?);
        } else if a.starts_with("--") || port.is_some() {
            return Err(format!("unexpected argument {a}"));
        } else {
            port = Some(a.parse().map_err(|_| format!("not a port: {a}"))?);
        }
    }
    Ok((port.unwrap_or(8080), allow))
}

fn main() {
    let (port, allow) = parse_args().unwrap_or_else(|e| {
        eprintln!("{e}\n{USAGE}");
        std::process::exit(2);
    });
    // First, so that a stop request during start-up is not lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let mut params = ServerParams::default();
    params.request_size_limit = Some(8 << 20);
    let open = allow.is_empty();
    let allow = Arc::new(allow);
    let server = HttpServer::with_params(params, move |task| process(&allow, task));
    if let Err(e) = server.start(port) {
        eprintln!("cannot start proxy: {e}");
        std::process::exit(1);
    }
    let addr = server.listen_addr().expect("listening");
    if open {
        eprintln!(
            "warning: no --allow given: this is an OPEN proxy to every service this machine reaches, loopback included"
        );
    }
    println!("proxy listening on {addr}; stop with Ctrl-C or SIGTERM");
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
    fn patterns() {
        let a = |p: &str| Allow::parse(p).unwrap();
        assert!(a("Example.COM").matches("example.com", 80));
        assert!(a("example.com").matches("example.com", 8080));
        assert!(!a("example.com").matches("www.example.com", 80));
        assert!(a("example.com:8080").matches("example.com", 8080));
        assert!(!a("example.com:8080").matches("example.com", 80));
        assert!(a("*.example.com").matches("www.example.com", 80));
        assert!(!a("*.example.com").matches("example.com", 80));
        assert!(!a("*.example.com").matches("evilexample.com", 80));
        assert!(a("[::1]:80").matches("::1", 80));
        assert!(a("127.1").matches("127.0.0.1", 80), "normalised as the client does");
        for bad in ["", ":80", "a:b", "a:1:2", "*", "a/b", "[::1", "x:70000", "a@b", "*.", "%2Ftmp%2Fs"] {
            assert!(Allow::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets() {
        assert_eq!(target_host_port("http://Example.com/x"), Some(("example.com".into(), 80)));
        assert_eq!(target_host_port("https://example.com:8443"), Some(("example.com".into(), 8443)));
        assert_eq!(target_host_port("http://ok.com@127.0.0.1:6379/"), Some(("127.0.0.1".into(), 6379)));
        assert_eq!(target_host_port("http://[::1]:81/"), Some(("::1".into(), 81)));
        assert_eq!(target_host_port("http://2130706433/"), Some(("127.0.0.1".into(), 80)));
        assert_eq!(target_host_port("/relative"), None);
        assert_eq!(target_host_port("ftp://x/"), None);
        let allow = vec![Allow::parse("ok.com").unwrap(), Allow::parse("127.0.0.1:8888").unwrap()];
        assert!(allowed(&allow, "http://ok.com/"));
        assert!(!allowed(&allow, "http://ok.com@127.0.0.1/"));
        // Parsed as the client parses it: `\` ends the authority.
        assert!(!allowed(&allow, "http://evil.com\\@127.0.0.1:8888/"));
        assert_eq!(target_host_port("http://127.0.0.1:8888\\@evil.com/"), Some(("127.0.0.1".into(), 8888)));
        assert!(!allowed(&allow, "/relative"));
        assert!(allowed(&[], "http://127.0.0.1:6379/"));
        assert!(!allowed(&[], "http://%2Frun%2Fdocker.sock/containers/json"));
    }
}
