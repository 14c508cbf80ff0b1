//! etcd goes away: requests through the upstream name go on with the
//! last list; after etcd's restart the watch resumes and a change made
//! right after the restart (while the watcher is still in its back-off,
//! or reconnecting) is applied.

use std::time::Duration;

use testkit::Etcd as EtcdServer;
use wf_core::upstream::{Policy, Upstream};
use wf_etcd::Etcd;
use wf_http::HttpServer;

use crate::{main, servers, unique, wait_servers};

/// The body of `GET url`, or the error text.
fn get(url: &str) -> String {
    testkit::capture(|tx| {
        let mut t = wf_http::create_http_task(url, 0, 1, move |t| {
            let out = match t.state() {
                wf_core::State::Success => String::from_utf8_lossy(&t.resp().body()).into_owned(),
                _ => format!("error: {}", t.error_text()),
            };
            let _ = tx.send(out);
        });
        t.set_deadline(Duration::from_secs(10));
        t.start();
    })
}

fn serve(body: &'static str) -> (HttpServer, String) {
    let server = HttpServer::new(move |t| t.resp_mut().append_body(body));
    server.start_on("127.0.0.1", 0).expect("an HTTP server");
    let addr = server.listen_addr().expect("its address").to_string();
    (server, addr)
}

#[test]
fn with_etcd_stopped_the_last_list_serves_and_the_watch_resumes_after_restart() {
    let mut etcd = EtcdServer::start();
    let client = Etcd::new(&etcd.url()).with_request_timeout(Duration::from_secs(2));
    let name = unique("outage");
    let (one, one_addr) = serve("one");
    etcd.ctl_ok(&["put", &client.key(&name, &one_addr).unwrap(), "{}"]);
    let u = Upstream::create(&name, Policy::RoundRobin { try_another: true });
    let d = client.discover_blocking(&u).expect("discover");
    assert!(testkit::wait_until(testkit::WAIT, || d.is_watching()));
    let url = format!("http://{name}/");
    assert_eq!(get(&url), "one");

    etcd.stop();
    assert!(testkit::wait_until(testkit::WAIT, || !d.is_watching()), "the watcher saw etcd go");
    for _ in 0..3 {
        assert_eq!(get(&url), "one", "served from the last list while etcd is down");
    }
    assert_eq!(servers(&u), [main(&one_addr, 1)]);

    etcd.restart();
    let (two, two_addr) = serve("two");
    etcd.ctl_ok(&["put", &client.key(&name, &two_addr).unwrap(), "{}"]);
    let mut want = vec![main(&one_addr, 1), main(&two_addr, 1)];
    want.sort();
    wait_servers(&u, &want);
    // Round robin: both answer now.
    let bodies: Vec<String> = (0..4).map(|_| get(&url)).collect();
    assert!(bodies.iter().any(|b| b == "one") && bodies.iter().any(|b| b == "two"), "{bodies:?}");
    one.stop();
    two.stop();
}
