//! Upstreams: one name, several servers, requests spread by weight; a
//! server that stops answering is fused by the circuit breaker and comes
//! back after the MTTR.
//!
//! `cargo run -p examples --bin upstream_http`
//!
//! Three local `HttpServer`s of weights 5, 3 and 1 behind the upstream
//! name `backend`:
//! 1. 900 requests (a parallel of 9 series of 100) spread about 5:3:1;
//! 2. server1 stops: its attempts are refused; after `max_fails` (3 here)
//!    consecutive failures it is fused and requests go to the others;
//! 3. server1 starts again on its port; once the MTTR (1 s here) has
//!    passed it is tried again, answers, and takes its share back.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wf::http::{HttpServer, HttpTask, create_http_task};
use wf::upstream::{AddressParams, Policy, Upstream};
use wf::{State, create_parallel_work, create_series_work};

const WEIGHTS: [u16; 3] = [5, 3, 1];
const MAX_FAILS: u32 = 3;
const MTTR: Duration = Duration::from_secs(1);

/// Who answered how many requests; "failed: …" for those that failed.
type Tally = Arc<Mutex<BTreeMap<String, usize>>>;

fn count(tally: &Tally) -> impl Fn(&mut HttpTask) + Send + Sync + Clone + 'static {
    let tally = tally.clone();
    move |t: &mut HttpTask| {
        let key = match t.state() {
            State::Success => String::from_utf8_lossy(&t.resp().body()).into_owned(),
            _ => format!("failed: {}", t.error_text()),
        };
        *tally.lock().unwrap().entry(key).or_default() += 1;
    }
}

/// `series` series of `each` requests one after another, the series in
/// a parallel; with `retry_max` retries each. Returns who answered.
fn burst(series: usize, each: usize, retry_max: u32) -> BTreeMap<String, usize> {
    let tally = Tally::default();
    let mut parallel = create_parallel_work(|_| {});
    for _ in 0..series {
        let mut s = create_series_work(create_http_task("http://backend/", 0, retry_max, count(&tally)), |_| {});
        for _ in 1..each {
            s.push_back(create_http_task("http://backend/", 0, retry_max, count(&tally)));
        }
        parallel.add_series(s);
    }
    parallel.start();
    wf::wait_finish();
    Arc::try_unwrap(tally).map(|m| m.into_inner().unwrap()).unwrap_or_default()
}

fn print(tally: &BTreeMap<String, usize>) {
    let total: usize = tally.values().sum();
    for (who, n) in tally {
        println!("  {who:<40} {n:>4}  ({:.1}%)", 100.0 * *n as f64 / total as f64);
    }
}

fn main() {
    let t0 = Instant::now();
    let servers: Vec<HttpServer> =
        (1..=3).map(|i| HttpServer::new(move |task| task.resp_mut().append_body(format!("server{i}")))).collect();
    let mut addrs = Vec::new();
    for s in &servers {
        s.start_on("127.0.0.1", 0).expect("start a server");
        addrs.push(s.listen_addr().expect("listening"));
    }

    let upstream = Upstream::create("backend", Policy::WeightedRandom { try_another: true });
    upstream.set_mttr(MTTR);
    for (addr, weight) in addrs.iter().zip(WEIGHTS) {
        let mut params = AddressParams::default();
        params.weight = weight;
        params.max_fails = MAX_FAILS;
        upstream.add_server_with(&addr.to_string(), params).expect("a valid address");
    }
    println!("upstream `backend`: {:?}, weights {WEIGHTS:?}", upstream.main_addresses());

    println!("\n== 1. 900 requests spread by weight (expected 55.6% / 33.3% / 11.1%)");
    print(&burst(9, 100, 0));

    println!("\n== 2. server1 stops; 30 requests one after another, no retries");
    servers[0].stop();
    let tally = burst(1, 30, 0);
    print(&tally);
    let refused: usize = tally.iter().filter(|(k, _)| k.starts_with("failed")).map(|(_, n)| n).sum();
    println!("  server1 fused after {refused} refused attempts (max_fails {MAX_FAILS}): the rest went elsewhere");

    println!("\n== 3. server1 starts again; after the MTTR ({MTTR:?}) it is tried again and recovers");
    servers[0].start_on("127.0.0.1", addrs[0].port()).expect("restart server1 on its port");
    println!("  still fused before the MTTR passes:");
    print(&burst(1, 20, 0));
    std::thread::sleep(MTTR + Duration::from_millis(200));
    println!("  after the MTTR, 900 requests:");
    print(&burst(9, 100, 0));

    Upstream::delete("backend");
    for s in &servers {
        s.stop();
    }
    println!("\nfinished in {:.1} s", t0.elapsed().as_secs_f64());
}
