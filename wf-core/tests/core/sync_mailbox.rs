//! Mailboxes: send before and after start, one message only, named mailboxes with `max` and
//! typed delivery.

use crate::support;

use std::sync::mpsc;
use std::time::Duration;

use support::recv;
use wf_core::{MailboxTask, State, create_mailbox_task, create_named_mailbox_task, send_by_name};

#[test]
fn send_before_start() {
    let (tx, rx) = mpsc::channel();
    let m = create_mailbox_task(move |m: &mut MailboxTask<String>| tx.send((m.state(), m.take_message())).unwrap());
    let h = m.handle();
    assert_eq!(h.send("early".to_string()), Ok(()));
    m.start();
    assert_eq!(recv(&rx), (State::Success, Some("early".to_string())));
}

#[test]
fn send_after_start() {
    let (tx, rx) = mpsc::channel();
    let m = create_mailbox_task(move |m: &mut MailboxTask<u64>| tx.send((m.state(), m.message().copied())).unwrap());
    let h = m.handle();
    m.start();
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "no message yet");
    h.send(42).unwrap();
    assert_eq!(recv(&rx), (State::Success, Some(42)));
}

#[test]
fn second_send_gives_the_message_back() {
    let (tx, rx) = mpsc::channel();
    let m = create_mailbox_task(move |m: &mut MailboxTask<&'static str>| tx.send(m.take_message()).unwrap());
    let h = m.handle();
    let h2 = h.clone();
    assert_eq!(h.send("first"), Ok(()));
    assert_eq!(h2.send("second"), Err("second"));
    m.start();
    assert_eq!(recv(&rx), Some("first"));
    assert_eq!(h.send("third"), Err("third"));
}

/// `send_by_name` reaches at most `max` mailboxes of the message type, in creation order.
#[test]
fn send_by_name_with_max_and_types() {
    let name = "sync_mailbox::by-name";
    let (tx, rx) = mpsc::channel();
    for i in 0..3 {
        let tx = tx.clone();
        create_named_mailbox_task(name, move |m: &mut MailboxTask<String>| tx.send((i, m.take_message())).unwrap())
            .start();
    }
    let (tx_num, rx_num) = mpsc::channel();
    create_named_mailbox_task(name, move |m: &mut MailboxTask<u32>| tx_num.send(m.take_message()).unwrap()).start();

    assert_eq!(send_by_name(name, "hello".to_string(), 2), 2);
    let mut got = vec![recv(&rx), recv(&rx)];
    got.sort();
    assert_eq!(got, [(0, Some("hello".to_string())), (1, Some("hello".to_string()))]);
    assert!(rx_num.recv_timeout(Duration::from_millis(20)).is_err(), "the u32 mailbox got nothing");

    assert_eq!(send_by_name(name, 5u32, 10), 1, "only one mailbox takes u32");
    assert_eq!(recv(&rx_num), Some(5));

    assert_eq!(send_by_name(name, "again".to_string(), 10), 1);
    assert_eq!(recv(&rx), (2, Some("again".to_string())));

    assert_eq!(send_by_name(name, "nobody".to_string(), 10), 0);
    assert_eq!(send_by_name("sync_mailbox::unknown", 1u8, 10), 0);
}

/// A message of a type no mailbox of that name takes reaches nobody and leaves them waiting.
#[test]
fn send_by_name_wrong_type_reaches_nobody() {
    let name = "sync_mailbox::wrong-type";
    let (tx, rx) = mpsc::channel();
    create_named_mailbox_task(name, move |m: &mut MailboxTask<i64>| tx.send(m.take_message()).unwrap()).start();
    assert_eq!(send_by_name(name, 1u64, 10), 0);
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
    assert_eq!(send_by_name(name, -1i64, 10), 1);
    assert_eq!(recv(&rx), Some(-1));
}

/// A named mailbox that already got its message through its handle is no longer a target of
/// `send_by_name` (C++: a direct send removes the mailbox from the name list), so `max` counts
/// only mailboxes that can still take a message.
#[test]
fn send_by_name_skips_mailbox_filled_by_handle() {
    let name = "sync_mailbox::filled-by-handle";
    let (tx, rx) = mpsc::channel();
    let named = |i: u32| {
        let tx = tx.clone();
        create_named_mailbox_task(name, move |m: &mut MailboxTask<&'static str>| {
            tx.send((i, m.take_message())).unwrap()
        })
    };
    // The first gets its message directly and is not started yet; the second waits.
    let first = named(0);
    first.handle().send("direct").unwrap();
    named(1).start();
    assert_eq!(send_by_name(name, "by name", 1), 1, "the waiting mailbox gets the message");
    assert_eq!(recv(&rx), (1, Some("by name")));
    first.start();
    assert_eq!(recv(&rx), (0, Some("direct")));
}

/// A dismissed named mailbox leaves the registry.
#[test]
fn dropped_named_mailbox_is_unregistered() {
    let name = "sync_mailbox::dropped";
    let m = create_named_mailbox_task(name, |_: &mut MailboxTask<u8>| {});
    drop(m);
    assert_eq!(send_by_name(name, 1u8, 10), 0);
}

/// A mailbox started with no handle and no name can never get a message: it fails with
/// `TASK_ERROR`/`ORPHANED` instead of hanging; so does one whose last handle goes away unsent.
#[test]
fn mailbox_nobody_can_send_to_fails_orphaned() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    create_mailbox_task(move |m: &mut MailboxTask<u8>| tx.send((m.state(), m.error_code())).unwrap()).start();
    assert_eq!(recv(&rx), (State::TaskError, wf_core::code::ORPHANED));

    let m = create_mailbox_task(move |m: &mut MailboxTask<u8>| tx2.send((m.state(), m.error_code())).unwrap());
    let h = m.handle();
    m.start();
    assert!(rx.recv_timeout(Duration::from_millis(30)).is_err(), "the handle could still send");
    drop(h);
    assert_eq!(recv(&rx), (State::TaskError, wf_core::code::ORPHANED));
}

/// The array form: each waiting mailbox of the name gets its own message, in creation order;
/// messages nobody took stay with the caller, and a mailbox already filled through its handle does
/// not use one up.
#[test]
fn send_by_name_each_gives_each_mailbox_its_own_message() {
    let name = "sync_mailbox::each";
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for i in 0..3 {
        let tx = tx.clone();
        let m = create_named_mailbox_task(name, move |m: &mut MailboxTask<String>| {
            tx.send((i, m.take_message())).unwrap();
        });
        handles.push(m.handle());
        m.start();
    }
    // The first mailbox is filled through its handle: it leaves the name.
    handles[0].send("by handle".to_string()).unwrap();
    let mut msgs: std::collections::VecDeque<String> = ["a", "b", "c"].map(String::from).into();
    assert_eq!(wf_core::send_by_name_each(name, &mut msgs), 2);
    assert_eq!(msgs, ["c"]);
    let mut got: Vec<_> = (0..3).map(|_| recv(&rx)).collect();
    got.sort();
    assert_eq!(got, [(0, Some("by handle".to_string())), (1, Some("a".to_string())), (2, Some("b".to_string()))]);
    assert_eq!(wf_core::send_by_name_each(name, &mut msgs), 0, "nobody is left");
    assert_eq!(msgs.len(), 1);
}
