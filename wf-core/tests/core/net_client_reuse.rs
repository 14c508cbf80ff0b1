//! Client connection reuse: with a keep-alive, sequential tasks to one
//! target share one connection; without one (TLV's default, as Workflow's
//! generic tasks), every task opens its own.
#![cfg(feature = "net")]

use crate::support;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use support::net::{Outcome, outcome_of, start_local, tlv_url};
use support::{Log, recv};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{ClientTask, Server, create_client_task};
use wf_core::{State, create_series_work, series_of};

const N: u32 = 20;

/// A server that records `(connection id, task_seq)` per request and
/// echoes the request.
fn recording_server() -> (Server<Tlv>, Log<(u64, u64)>, String) {
    let log = Log::new();
    let seen = log.clone();
    let server = Server::new(Tlv::default(), move |task| {
        seen.push((task.connection().id(), task.task_seq()));
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    let url = tlv_url(start_local(&server));
    (server, log, url)
}

/// Task `i` of a chain of `N`: its callback reports and pushes task `i + 1`
/// into the same series.
fn chained(url: String, i: u32, keep_alive: Option<Duration>, tx: mpsc::Sender<Outcome>) -> ClientTask<Tlv> {
    let next_url = url.clone();
    let mut t = create_client_task(Tlv::default(), &url, 0, move |t| {
        tx.send(outcome_of(t)).unwrap();
        if i + 1 < N {
            series_of(t).push_back(chained(next_url, i + 1, keep_alive, tx));
        }
    });
    if let Some(k) = keep_alive {
        t.set_keep_alive(k);
    }
    *t.req_mut() = TlvMessage::new(i, format!("request {i}"));
    t
}

/// Runs the chain and checks every reply; returns the server's log.
fn run_chain(keep_alive: Option<Duration>) -> Vec<(u64, u64)> {
    let (server, log, url) = recording_server();
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    create_series_work(chained(url, 0, keep_alive, tx), move |_| done_tx.send(()).unwrap()).start();
    for i in 0..N {
        let o = recv(&rx);
        assert_eq!(o.state, State::Success, "task {i}: {}", o.error);
        assert_eq!(o.resp, TlvMessage::new(i, format!("request {i}")), "task {i}");
        assert_eq!(o.peer, server.listen_addr(), "task {i}");
    }
    recv(&done_rx);
    server.stop();
    log.get()
}

#[test]
fn keep_alive_reuses_one_connection() {
    let log = run_chain(Some(Duration::from_secs(10)));
    assert_eq!(log.len(), N as usize);
    let ids: BTreeSet<u64> = log.iter().map(|&(id, _)| id).collect();
    assert_eq!(ids.len(), 1, "connections used: {log:?}");
    let seqs: Vec<u64> = log.iter().map(|&(_, seq)| seq).collect();
    assert_eq!(seqs, (0..N as u64).collect::<Vec<_>>());
}

#[test]
fn without_keep_alive_each_task_connects() {
    let log = run_chain(None);
    assert_eq!(log.len(), N as usize);
    let ids: BTreeSet<u64> = log.iter().map(|&(id, _)| id).collect();
    assert_eq!(ids.len(), N as usize, "connections used: {log:?}");
    assert!(log.iter().all(|&(_, seq)| seq == 0), "{log:?}");
}
