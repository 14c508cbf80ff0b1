//! The delayed reply on `HttpServer`: tasks pushed into the request's
//! series in `process` run before the reply and fill it through
//! `series_of(t).last_task_mut::<ServerKind<Http>>()`; the server task's
//! callback runs once the reply is written.

use crate::support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Wire, fetch, mask_date, sleep_task, start};
use wf_core::net::ServerKind;
use wf_core::{SeriesWork, State, series_of};
use wf_http::{Http, HttpServer};

fn reply_of(series: &mut SeriesWork) -> &mut wf_http::HttpResponse {
    series.last_task_mut::<ServerKind<Http>>().expect("the server task ends the series").resp_mut()
}

#[test]
fn pushed_task_fills_the_reply() {
    let (events_tx, events) = mpsc::channel();
    let server = HttpServer::new(move |task| {
        assert_eq!(task.state(), State::ToReply);
        task.resp_mut().set_header("X-From", "process");
        let tx = events_tx.clone();
        let late = sleep_task(Duration::from_millis(200), move |t| {
            let resp = reply_of(series_of(t));
            resp.set_status_code(201);
            resp.append_body("filled later");
            let _ = tx.send("sleep callback".to_string());
        });
        series_of(task).push_back(late);
        let tx = events_tx.clone();
        task.set_callback(move |t| {
            let _ = tx.send(format!("reply callback {:?} {}", t.state(), t.resp().status_code()));
        });
    });
    let addr = start(&server);
    let t0 = Instant::now();
    let mut w = Wire::connect(addr);
    w.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let reply = w.read_response();
    assert!(t0.elapsed() >= Duration::from_millis(190), "the reply waited for the pushed task");
    assert_eq!(
        mask_date(&reply),
        "HTTP/1.1 201 Created\r\nX-From: process\r\nContent-Length: 12\r\nConnection: Keep-Alive\r\nDate: <date>\r\n\r\nfilled later"
    );
    assert_eq!(events.recv_timeout(support::WAIT).unwrap(), "sleep callback");
    assert_eq!(events.recv_timeout(support::WAIT).unwrap(), "reply callback Success 201");
    server.stop();
}

#[test]
fn a_chain_of_tasks_before_the_reply() {
    let server = HttpServer::new(|task| {
        let first = sleep_task(Duration::from_millis(30), |t| {
            reply_of(series_of(t)).append_body("a");
            let second = sleep_task(Duration::from_millis(30), |t| reply_of(series_of(t)).append_body("b"));
            series_of(t).push_back(second);
        });
        series_of(task).push_back(first);
        series_of(task).push_back(sleep_task(Duration::from_millis(10), |t| reply_of(series_of(t)).append_body("c")));
    });
    let addr = start(&server);
    let o = fetch(&format!("http://{addr}/"), 0, 0, |_| {});
    o.ok();
    // Nested pushes go after what was already queued.
    assert_eq!(o.body(), "acb");
    server.stop();
}

#[test]
fn client_task_inside_the_series_proxies_a_reply() {
    // A server that fetches from another server before replying (the
    // http_proxy tutorial pattern).
    let backend = HttpServer::new(|task| task.resp_mut().append_body("from backend"));
    let backend_addr = start(&backend);
    let url = format!("http://{backend_addr}/");
    let front = HttpServer::new(move |task| {
        let fetch = wf_http::create_http_task(&url, 0, 0, |t| {
            let body = t.resp().body();
            let status = t.state();
            let resp = reply_of(series_of(t));
            resp.append_body(format!("{status:?}: "));
            resp.append_body(body);
        });
        series_of(task).push_back(fetch);
    });
    let front_addr = start(&front);
    let o = fetch(&format!("http://{front_addr}/"), 0, 0, |_| {});
    assert_eq!(o.ok().body(), "Success: from backend");
    front.stop();
    backend.stop();
}
