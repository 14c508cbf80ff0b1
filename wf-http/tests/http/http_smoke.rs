//! Smoke test: HttpTask against HttpServer, redirects, keep-alive reuse.
use std::sync::mpsc;
use wf_http::{HttpServer, create_http_task};

#[test]
fn client_and_server() {
    let server = HttpServer::new(|task| {
        let uri = task.req().request_uri().to_string();
        if uri == "/old" {
            task.resp_mut().set_status_code(302);
            task.resp_mut().set_header("Location", "/new?x=1");
            return;
        }
        let seq = task.task_seq();
        task.resp_mut().append_body(format!("{uri} seq={seq}"));
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let first = create_http_task(&format!("http://127.0.0.1:{port}/old"), 3, 0, move |t| {
        tx.send((t.state(), t.error_text(), t.resp().status_code(), t.resp().body(), t.redirects())).unwrap();
    });
    let mut series = wf_core::create_series_work(first, |_| {});
    series.push_back(create_http_task(&format!("http://127.0.0.1:{port}/again"), 0, 0, move |t| {
        tx2.send((t.state(), t.error_text(), t.resp().status_code(), t.resp().body(), t.redirects())).unwrap();
    }));
    series.start();
    let (state, err, code, body, redirects) = rx.recv().unwrap();
    assert_eq!(state, wf_core::State::Success, "{err}");
    assert_eq!((code, &body[..], redirects), (200, &b"/new?x=1 seq=1"[..], 1));
    let (_, _, code, body, _) = rx.recv().unwrap();
    assert_eq!((code, &body[..]), (200, &b"/again seq=2"[..]));
    server.stop();
}
