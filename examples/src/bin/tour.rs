//! The tour: wf's model in one run, printing what happens.
//!
//! `cargo run --release -p examples --bin tour [--redis URL] [--mysql URL]`
//!
//! It starts with the seed README's three flows (one HTTP request, a
//! series, a parallel) against a local `HttpServer`, then
//! shows one task, a series that grows from its callbacks, a parallel
//! of series, a counter released from elsewhere, a graph, and tasks awaited
//! from async code, a TLV server and client, file IO, and an HTTP page
//! stored in Redis (the embedded key-value server unless `--redis URL`
//! names a real one), and a multi-statement MySQL query whose result sets
//! are walked with a cursor (an in-process `MySQLServer` unless `--mysql
//! URL` names a real server), and a parallel of requests through an
//! upstream of three local servers.

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use examples::kv::KvServer;
use wf::fileio::{create_pread_task, create_pwrite_task};
use wf::http::{HttpServer, HttpTask, create_http_task};
use wf::mysql::{CursorStatus, MySQLResultCursor, MySQLServer, create_mysql_task};
use wf::net::tlv::{Tlv, TlvMessage};
use wf::net::{Server, ServerKind, create_client_task};
use wf::redis::create_redis_task;
use wf::timer::create_timer_task;
use wf::upstream::{Policy, Upstream};
use wf::{
    SeriesWork, State, create_counter_task, create_go_task, create_graph_task, create_parallel_work,
    create_series_work, series_of,
};

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

/// `--<name> URL` from the command line.
fn url_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let (redis_url, mysql_url) = (url_arg("--redis"), url_arg("--mysql"));
    let t0 = Instant::now();
    let at = move || format!("{:>7.1} ms", t0.elapsed().as_secs_f64() * 1e3);

    // The seed README's three flows, against a local HttpServer: one
    // task, a series, a parallel.
    let server = HttpServer::new(|task| {
        let uri = task.req().request_uri().to_string();
        task.resp_mut().add_header("Content-Type", "text/plain");
        task.resp_mut().append_body(format!("hello from {uri}"));
    });
    server.start_on("127.0.0.1", 0).expect("start the HTTP server");
    let base = format!("http://127.0.0.1:{}", server.listen_addr().expect("listening").port());
    let http_callback = move |t: &mut HttpTask| match t.state() {
        State::Success => println!(
            "{}  {} -> {} {:?}",
            at(),
            t.req().request_uri(),
            t.resp().status_code(),
            String::from_utf8_lossy(&t.resp().body())
        ),
        _ => println!("{}  failed: {}", at(), t.error_text()),
    };

    println!("== seed flow 1: one HTTP request");
    create_http_task(&format!("{base}/"), 4, 2, http_callback).start();
    wf::wait_finish();

    println!("\n== seed flow 2: several HTTP requests, one after another");
    let mut series = create_series_work(create_http_task(&format!("{base}/a"), 4, 2, http_callback), move |_| {
        println!("{}  all tasks in this series are done", at())
    });
    series.push_back(create_http_task(&format!("{base}/b"), 4, 2, http_callback));
    series.push_back(create_http_task(&format!("{base}/c"), 4, 2, http_callback));
    series.start();
    wf::wait_finish();

    println!("\n== seed flow 3: several HTTP requests at the same time");
    let mut parallel =
        create_parallel_work(move |p| println!("{}  all {} series in this parallel are done", at(), p.size()));
    for path in ["x", "y", "z"] {
        let task = create_http_task(&format!("{base}/{path}"), 4, 2, http_callback);
        parallel.add_series(create_series_work(task, |_| {}));
    }
    parallel.start();
    wf::wait_finish();
    server.stop();

    println!("\n== 1. one task: a go task computes fib(30) on the compute pool");
    create_go_task("tour", || fib(30))
        .with_callback(move |t| println!("{}  fib(30) = {}", at(), t.result().unwrap()))
        .start();
    wf::wait_finish();

    println!("\n== 2. a series: each callback pushes the next step; the context is its local variable");
    let first = create_timer_task(Duration::from_millis(20), move |t| {
        println!("{}  timer fired ({})", at(), t.state());
        let next = create_go_task("tour", || (1..=100u64).sum::<u64>()).with_callback(move |t| {
            let sum = t.take_result().unwrap();
            println!("{}  sum(1..=100) = {sum}", at());
            series_of(t).context_mut::<Vec<u64>>().unwrap().push(sum);
        });
        series_of(t).push_back(next);
    });
    let mut series = create_series_work(first, move |s| {
        println!("{}  series done, context = {:?}", at(), s.context::<Vec<u64>>().unwrap());
    });
    series.set_context(Vec::<u64>::new());
    series.start();
    wf::wait_finish();

    println!("\n== 3. a parallel of three series; its callback reads every series' context");
    let mut parallel = create_parallel_work(move |p| {
        println!("{}  parallel done: {} series", at(), p.size());
        for (i, s) in p.iter().enumerate() {
            println!("           series {i}: {}", s.context::<String>().unwrap());
        }
    });
    for (i, ms) in [30u64, 10, 20].into_iter().enumerate() {
        let timer = create_timer_task(Duration::from_millis(ms), move |t| {
            *series_of(t).context_mut::<String>().unwrap() = format!("slept {ms} ms");
            println!("{}  branch {i} woke", at());
        });
        let mut s = create_series_work(timer, |_| {});
        s.set_context(String::new());
        parallel.add_series(s);
    }
    parallel.start();
    wf::wait_finish();

    println!("\n== 4. a counter holds a series until three go tasks have counted it");
    let counter = create_counter_task(3, move |c| println!("{}  counter reached its target ({})", at(), c.state()));
    let handle = counter.handle();
    create_series_work(counter, move |_| println!("{}  series behind the counter done", at())).start();
    for i in 0..3u64 {
        let h = handle.clone();
        create_go_task("tour", move || fib(20 + i))
            .with_callback(move |t| {
                println!("{}  worker {i} counts (fib = {})", at(), t.result().unwrap());
                h.count();
            })
            .start();
    }
    wf::wait_finish();

    println!("\n== 5. a graph: b and c need a; d needs b and c");
    let order = Arc::new(Mutex::new(Vec::new()));
    let shown = order.clone();
    let mut graph = create_graph_task(move |g| {
        println!("{}  graph done ({}), order {:?}", at(), g.state(), shown.lock().unwrap());
    });
    let mut node = |name: &'static str, ms: u64| {
        let order = order.clone();
        graph.create_graph_node(create_timer_task(Duration::from_millis(ms), move |_| order.lock().unwrap().push(name)))
    };
    let (a, b, c, d) = (node("a", 5), node("b", 20), node("c", 10), node("d", 1));
    graph.precede(a, b);
    graph.precede(a, c);
    graph.precede(b, d);
    graph.precede(c, d);
    graph.start();
    wf::wait_finish();

    println!("\n== 6. from async code (here a plain tokio runtime) every task and series can be awaited");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let (state, answer, context) = rt.block_on(async {
        let t = create_timer_task(Duration::from_millis(5), |_| {}).await;
        let go = create_go_task("tour", || 6 * 7).await;
        let mut s: SeriesWork = create_series_work(create_go_task("tour", || ()), |_| {});
        s.set_context("awaited series");
        let s = s.await;
        (t.state(), *go.result().unwrap(), s.context::<&str>().copied())
    });
    assert_eq!(state, State::Success);
    println!("{}  timer {state}, go task = {answer}, series context = {context:?}", at());

    println!("\n== 7. a protocol of our own (TLV) over the network: a server and a client task");
    let server = Server::new(Tlv::default(), |task| {
        // The reply is sent when this request's series ends: push a go task
        // that computes it first (the delayed-reply model).
        let text = String::from_utf8_lossy(task.req().value()).into_owned();
        let go = create_go_task("tour", move || text.to_uppercase()).with_callback(|t| {
            let upper = t.take_result().unwrap();
            let reply = series_of(t).last_task_mut::<ServerKind<Tlv>>().expect("the reply is the last task");
            *reply.resp_mut() = TlvMessage::new(2, upper);
        });
        series_of(task).push_back(go);
    });
    server.start_on("127.0.0.1", 0).expect("start the TLV server");
    let port = server.listen_addr().expect("listening").port();
    let mut client = create_client_task(Tlv::default(), &format!("tlv://127.0.0.1:{port}"), 1, move |t| {
        println!("{}  TLV reply ({}): type {}, {:?}", at(), t.state(), t.resp().tlv_type(), t.resp().value());
    });
    *client.req_mut() = TlvMessage::new(1, "hello, workflow");
    client.start();
    wf::wait_finish();
    server.stop();

    println!("\n== 8. file IO: a pwrite task, then a pread task pushed into the same series");
    let path = std::env::temp_dir().join(format!("wf-tour-{}.txt", std::process::id()));
    let read_path = path.clone();
    let write = create_pwrite_task(&path, "hello, file", 0, move |t| {
        println!("{}  pwrite: {} bytes ({}, on {})", at(), t.retval(), t.state(), wf::fileio::backend());
        series_of(t).push_back(create_pread_task(&read_path, 64, 0, move |t| {
            println!("{}  pread: {:?} ({})", at(), String::from_utf8_lossy(t.buf()), t.state());
        }));
    });
    create_series_work(write, |_| {}).start();
    wf::wait_finish();
    let _ = std::fs::remove_file(&path);

    println!("\n== 9. wget to Redis: an HTTP GET, then the body stored in Redis and read back, one series");
    let kv = KvServer::new();
    let redis_url = match redis_url {
        Some(url) => url,
        None => {
            kv.start_on("127.0.0.1", 0).expect("start the key-value server");
            format!("redis://127.0.0.1:{}/", kv.listen_addr().expect("listening").port())
        }
    };
    let web = HttpServer::new(|task| task.resp_mut().append_body("<html>stored in Redis by wf</html>"));
    web.start_on("127.0.0.1", 0).expect("start the HTTP server");
    let page = format!("http://127.0.0.1:{}/page", web.listen_addr().expect("listening").port());
    let key = page.clone();
    let fetch = create_http_task(&page, 4, 2, move |t| {
        if t.state() != State::Success {
            return println!("{}  GET failed: {}", at(), t.error_text());
        }
        let body = t.resp().body();
        println!("{}  GET {} -> {} bytes", at(), t.req().request_uri(), body.len());
        let url = series_of(t).context::<String>().expect("the Redis URL").clone();
        let (get_url, get_key) = (url.clone(), key.clone());
        let mut set = create_redis_task(&url, 2, move |t| {
            println!("{}  SET -> {} ({})", at(), t.result(), t.state());
            let mut get = create_redis_task(&get_url, 2, move |t| {
                println!("{}  GET -> {} ({})", at(), t.result(), t.state());
            });
            get.set_request("GET", [get_key]);
            series_of(t).push_back(get);
        });
        set.set_request("SET", [key.as_bytes(), &body[..]]);
        series_of(t).push_back(set);
    });
    let mut series = create_series_work(fetch, move |_| println!("{}  series done", at()));
    series.set_context(redis_url);
    series.start();
    wf::wait_finish();
    web.stop();
    kv.stop();

    println!("\n== 10. MySQL: a multi-statement query in a series; its callback walks every result set");
    // Without --mysql, a MySQLServer in this process answers each query
    // with one result set of its own.
    let db = MySQLServer::new(|task| {
        let sql = String::from_utf8_lossy(task.req().query()).into_owned();
        task.resp_mut().set_result_set(&["server", "you sent"], [[Some("wf MySQLServer".to_owned()), Some(sql)]]);
    });
    let mysql_url = match mysql_url {
        Some(url) => url,
        None => {
            db.start_on("127.0.0.1", 0).expect("start the MySQL server");
            let url = format!("mysql://tour@127.0.0.1:{}/", db.listen_addr().expect("listening").port());
            println!("           (no --mysql URL: an in-process MySQLServer at {url} answers)");
            url
        }
    };
    let mut query = create_mysql_task(&mysql_url, 1, move |t| {
        if t.state() != State::Success {
            return println!("{}  query failed: {}", at(), t.error_text());
        }
        let mut cursor = MySQLResultCursor::new(t.resp());
        for n in 1.. {
            match cursor.status() {
                CursorStatus::GetResult => {
                    let names: Vec<&str> = cursor.fetch_fields().iter().map(|f| f.name()).collect();
                    println!("{}  result set {n}: {}", at(), names.join(" | "));
                    while let Some(row) = cursor.fetch_row() {
                        let cells: Vec<String> = row.iter().map(ToString::to_string).collect();
                        println!("           {}", cells.join(" | "));
                    }
                }
                CursorStatus::Ok => println!("{}  result {n}: OK, {} rows affected", at(), cursor.affected_rows()),
                CursorStatus::Error => println!("{}  result {n}: error {:?}", at(), cursor.error()),
                CursorStatus::End => break,
            }
            cursor.next_result_set();
        }
    });
    query.set_query("SELECT VERSION(), NOW(6), 1+1; SELECT 'two results'");
    create_series_work(query, move |_| println!("{}  series done", at())).start();
    wf::wait_finish();
    db.stop();

    println!("\n== 11. an upstream: one name, three local servers in turn; a parallel of six requests");
    let backends: Vec<HttpServer> =
        (1..=3).map(|i| HttpServer::new(move |task| task.resp_mut().append_body(format!("backend {i}")))).collect();
    let upstream = Upstream::create("tour.backend", Policy::RoundRobin { try_another: true });
    for b in &backends {
        b.start_on("127.0.0.1", 0).expect("start a backend");
        upstream.add_server(&b.listen_addr().expect("listening").to_string()).expect("a valid address");
    }
    let mut parallel =
        create_parallel_work(move |p| println!("{}  all {} requests answered through the upstream", at(), p.size()));
    for i in 1..=6 {
        let task = create_http_task(&format!("http://tour.backend/job/{i}"), 0, 2, move |t| match t.state() {
            State::Success => {
                println!("{}  {} -> {:?}", at(), t.req().request_uri(), String::from_utf8_lossy(&t.resp().body()))
            }
            _ => println!("{}  {} failed: {}", at(), t.req().request_uri(), t.error_text()),
        });
        parallel.add_series(create_series_work(task, |_| {}));
    }
    parallel.start();
    wf::wait_finish();
    Upstream::delete("tour.backend");
    for b in &backends {
        b.stop();
    }
    println!("\ntour finished in {}", at());
}
