//! Tutorial 15: name-service policies. A policy registered under a host
//! name decides where URLs with that host go, and hears how each attempt
//! went.
//!
//! `cargo run -p examples --bin name_service`
//!
//! Two policies, against three local `HttpServer`s:
//! - `Naming`, Workflow's tutorial policy: a hosts-like naming table
//!   rewrites the host (an alias to an IP or to another name), or the
//!   host and the port, and DNS does the rest ([`DnsRoute::route_to`]);
//! - `Rotation`: picks from its own list of addresses, in turn, skipping
//!   those this request already tried and those that failed last; it
//!   counts the successes and failures it hears about.
//!
//! One address in `Rotation`'s list has no server: its attempts are
//! refused, the policy hears so, and the task's retry goes elsewhere.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wf::http::{HttpServer, create_http_task};
use wf::net::Uri;
use wf::net::route::{DnsRoute, Pick, Route, Routed, Target, async_trait, register_route, unregister_route};
use wf::{Error, State, create_series_work};

/// Workflow's naming file: `destination alias...` per line, `#` comments.
/// The destination is an IP address or a host name DNS resolves, with a
/// port (`host:port`) that replaces the URL's, or without.
fn naming_file(api_port: u16) -> String {
    format!(
        "127.0.0.1         mydomain    # an alias for an IP address\n\
         localhost         shop store  # two aliases for a name DNS (here /etc/hosts) resolves\n\
         127.0.0.1:{api_port}   api    # host and port\n"
    )
}

/// Rewrites the host (and the port, when the table gives one) with the
/// naming table and lets DNS resolve the result.
struct Naming {
    table: HashMap<String, (String, Option<u16>)>,
}

impl Naming {
    /// Parses a hosts-like table.
    fn parse(text: &str) -> Naming {
        let mut table = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let Some(dest) = words.next() else { continue };
            let dest = match dest.split_once(':') {
                Some((host, port)) => (host.to_owned(), port.parse().ok()),
                None => (dest.to_owned(), None),
            };
            for alias in words {
                table.insert(alias.to_ascii_lowercase(), dest.clone());
            }
        }
        Naming { table }
    }
}

#[async_trait]
impl Route for Naming {
    async fn route(&self, uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        let (host, port) = match self.table.get(uri.host_str()) {
            Some((host, port)) => (host.as_str(), port.unwrap_or(uri.port())),
            None => (uri.host_str(), uri.port()),
        };
        DnsRoute::shared().route_to(host, port, pick).await
    }

    fn report(&self, routed: &Routed, outcome: Result<(), &Error>) {
        // Let DNS avoid addresses that fail to connect.
        DnsRoute::shared().report(routed, outcome);
    }
}

/// What a [`Rotation`] heard about one address.
#[derive(Clone, Copy, Default)]
struct Heard {
    succeeded: u32,
    failed: u32,
    last_failed: bool,
}

/// Picks from its own list, in turn; hears every attempt's outcome.
struct Rotation {
    addrs: Vec<SocketAddr>,
    next: AtomicUsize,
    heard: Mutex<HashMap<SocketAddr, Heard>>,
}

impl Rotation {
    fn new(addrs: Vec<SocketAddr>) -> Rotation {
        Rotation { addrs, next: AtomicUsize::new(0), heard: Mutex::default() }
    }
}

#[async_trait]
impl Route for Rotation {
    async fn route(&self, _uri: &Uri, pick: Pick<'_>) -> Result<Routed, Error> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.addrs.len();
        let order = || (0..n).map(|i| self.addrs[(start + i) % n]);
        let untried = |a: &SocketAddr| !pick.was_tried(&Target::Inet(*a));
        let chosen = {
            let heard = self.heard.lock().unwrap();
            let failing = |a: &SocketAddr| heard.get(a).is_some_and(|h| h.last_failed);
            // In turn from `start`: untried and not failing, else untried.
            order().find(|a| untried(a) && !failing(a)).or_else(|| order().find(untried))
        };
        let chosen = chosen.ok_or_else(|| Error::task(wf::code::UPSTREAM_UNAVAILABLE))?;
        Ok(Routed::new(Target::Inet(chosen)))
    }

    fn report(&self, routed: &Routed, outcome: Result<(), &Error>) {
        let Target::Inet(a) = routed.target() else { return };
        let mut heard = self.heard.lock().unwrap();
        let h = heard.entry(*a).or_default();
        h.last_failed = outcome.is_err();
        match outcome {
            Ok(()) => h.succeeded += 1,
            Err(e) => {
                h.failed += 1;
                println!("  policy heard: {a} failed ({e})");
            }
        }
    }
}

/// GETs `urls` one after another in a series, printing who answered.
fn get_all(urls: &[String]) {
    let print = |t: &mut wf::http::HttpTask| match t.state() {
        State::Success => println!(
            "  {} -> {} (from {})",
            t.req().request_uri(),
            String::from_utf8_lossy(&t.resp().body()),
            t.peer_addr().map_or("?".into(), |a| a.to_string())
        ),
        _ => println!("  {} -> failed: {}", t.req().request_uri(), t.error_text()),
    };
    let mut tasks = urls.iter().map(|u| create_http_task(u, 2, 2, print));
    let Some(first) = tasks.next() else { return };
    let mut series = create_series_work(first, |_| {});
    for t in tasks {
        series.push_back(t);
    }
    series.start();
    wf::wait_finish();
}

fn main() {
    let servers: Vec<HttpServer> = ["alpha", "beta", "gamma"]
        .into_iter()
        .map(|name| {
            HttpServer::new(move |task| {
                let path = task.req().request_uri().to_string();
                task.resp_mut().append_body(format!("{name} served {path}"));
            })
        })
        .collect();
    let addrs: Vec<SocketAddr> = servers
        .iter()
        .map(|s| {
            s.start_on("127.0.0.1", 0).expect("start a server");
            s.listen_addr().expect("listening")
        })
        .collect();

    println!("== a naming policy: aliases rewritten, then DNS");
    let naming = Arc::new(Naming::parse(&naming_file(addrs[1].port())));
    for alias in ["mydomain", "shop", "store", "api"] {
        register_route(alias, naming.clone());
    }
    let port = addrs[0].port();
    get_all(&[
        format!("http://mydomain:{port}/a"),
        format!("http://shop:{port}/b"),
        format!("http://store:{port}/c"),
        "http://api/d".to_owned(),
    ]);

    println!("\n== a policy with its own list: beta, gamma and an address with no server");
    let dead = {
        // A port that was free a moment ago: connections to it are refused.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("address")
    };
    let rotation = Arc::new(Rotation::new(vec![addrs[1], dead, addrs[2]]));
    register_route("backend", rotation.clone());
    get_all(&(1..=6).map(|i| format!("http://backend/item/{i}")).collect::<Vec<_>>());

    println!("\n== what the policy heard");
    let heard = rotation.heard.lock().unwrap().clone();
    for a in &rotation.addrs {
        let h = heard.get(a).copied().unwrap_or_default();
        println!("  {a}: {} succeeded, {} failed", h.succeeded, h.failed);
    }

    for name in ["mydomain", "shop", "store", "api", "backend"] {
        unregister_route(name);
    }
    for s in &servers {
        s.stop();
    }
}
