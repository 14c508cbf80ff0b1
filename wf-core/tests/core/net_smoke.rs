//! Smoke test of the TLV client and server.
#![cfg(feature = "net")]
use std::sync::mpsc;
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{Server, create_client_task};

#[test]
fn echo() {
    let server = Server::new(Tlv::default(), |task| {
        let v = task.req().value().clone();
        let t = task.req().tlv_type();
        *task.resp_mut() = TlvMessage::new(t + 1, v);
    });
    server.start_on("127.0.0.1", 0).unwrap();
    let port = server.listen_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    for i in 0..5u32 {
        let tx = tx.clone();
        let mut t = create_client_task(Tlv::default(), &format!("tlv://127.0.0.1:{port}"), 0, move |t| {
            tx.send((t.state(), t.error_text(), t.resp().clone())).unwrap();
        });
        *t.req_mut() = TlvMessage::new(i, format!("hello {i}"));
        t.start();
    }
    for _ in 0..5 {
        let (state, err, resp) = rx.recv().unwrap();
        assert_eq!(state, wf_core::State::Success, "{err}");
        println!("{:?}", resp);
    }
    server.stop();
}
