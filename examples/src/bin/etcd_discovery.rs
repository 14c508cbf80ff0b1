//! Discovery on etcd: a server registers itself, a client finds it by
//! service name.
//!
//! The etcd URL is the third argument, else `WF_ETCD`, else
//! `http://127.0.0.1:2379`.
//!
//! - `etcd_discovery` runs both in one process: an HTTP server registers
//!   as service `hello`, a client follows `hello` and sends `GET
//!   http://hello/`, prints the reply, and the server deregisters.
//! - `etcd_discovery server [SERVICE [ETCD_URL]]` serves and stays registered until
//!   SIGTERM or SIGINT (Ctrl-C), then deregisters (killed, its key goes
//!   when its 10 s lease expires).
//! - `etcd_discovery client [SERVICE [ETCD_URL]]` sends one request to the service.

#![forbid(unsafe_code)]

use std::time::Duration;

use wf::etcd::Etcd;
use wf::http::{HttpServer, create_http_task};
use wf::upstream::{AddressParams, Policy, Upstream};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next();
    let service = args.next().unwrap_or_else(|| "hello".to_owned());
    let url =
        args.next().or_else(|| std::env::var("WF_ETCD").ok()).unwrap_or_else(|| "http://127.0.0.1:2379".to_owned());
    let etcd = Etcd::new(&url);
    let code = match mode.as_deref() {
        None => both(&etcd, &service),
        Some("server") => server(&etcd, &service),
        Some("client") => client(&etcd, &service),
        Some(other) => {
            eprintln!("unknown mode {other:?}: use `server`, `client`, or nothing for both");
            2
        }
    };
    std::process::exit(code);
}

/// An HTTP server on a free port of 127.0.0.1 that says who it is.
fn start_server(service: &str) -> Result<(HttpServer, String), wf::Error> {
    let name = service.to_owned();
    let server = HttpServer::new(move |task| {
        task.resp_mut().add_header("Content-Type", "text/plain");
        task.resp_mut().append_body(format!("hello from a {name} server\n"));
    });
    server.start_on("127.0.0.1", 0)?;
    let addr = server.listen_addr().expect("listening").to_string();
    Ok((server, addr))
}

fn both(etcd: &Etcd, service: &str) -> i32 {
    let (server, addr) = match start_server(service) {
        Ok(s) => s,
        Err(e) => return fail("cannot start the server", &e),
    };
    let me = match etcd.register_blocking(service, &addr, &AddressParams::default(), Duration::from_secs(10)) {
        Ok(me) => me,
        Err(e) => return fail(&format!("cannot register at {}", etcd.url()), &e),
    };
    println!("registered {} -> {addr}", me.key());
    let code = client(etcd, service);
    if let Err(e) = me.deregister_blocking() {
        return fail("cannot deregister", &e);
    }
    println!("deregistered");
    server.stop();
    code
}

fn server(etcd: &Etcd, service: &str) -> i32 {
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        return 1;
    }
    let (server, addr) = match start_server(service) {
        Ok(s) => s,
        Err(e) => return fail("cannot start the server", &e),
    };
    let me = match etcd.register_blocking(service, &addr, &AddressParams::default(), Duration::from_secs(10)) {
        Ok(me) => me,
        Err(e) => return fail(&format!("cannot register at {}", etcd.url()), &e),
    };
    println!("listening on {addr}; registered as {}", me.key());
    match wf::signal::wait_for_shutdown() {
        Ok(signal) => println!("{signal}: stopping"),
        Err(e) => eprintln!("cannot wait for signals ({e}): stopping"),
    }
    let code = match me.deregister_blocking() {
        Ok(()) => {
            println!("deregistered");
            0
        }
        Err(e) => fail("cannot deregister", &e),
    };
    server.stop();
    code
}

fn client(etcd: &Etcd, service: &str) -> i32 {
    let upstream = Upstream::create(service, Policy::WeightedRandom { try_another: true });
    let discovery = match etcd.discover_blocking(&upstream) {
        Ok(d) => d,
        Err(e) => return fail(&format!("cannot read {service} at {}", etcd.url()), &e),
    };
    println!("{service}: {:?} (etcd revision {})", upstream.main_addresses(), discovery.revision());
    let (tx, rx) = std::sync::mpsc::channel();
    let mut task = create_http_task(&format!("http://{service}/"), 0, 1, move |t| {
        let reply = match t.state() {
            wf::State::Success => Ok(String::from_utf8_lossy(&t.resp().body()).into_owned()),
            _ => Err(t.error_text()),
        };
        let _ = tx.send(reply);
    });
    task.set_deadline(Duration::from_secs(10));
    task.start();
    match rx.recv() {
        Ok(Ok(body)) => {
            print!("GET http://{service}/: {body}");
            0
        }
        Ok(Err(e)) => {
            eprintln!("GET http://{service}/ failed: {e}");
            1
        }
        Err(_) => 1,
    }
}

fn fail(what: &str, e: &wf::Error) -> i32 {
    eprintln!("{what}: {e}");
    1
}
