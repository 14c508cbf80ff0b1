#![no_main]
//! Fuzz target `dns_reply`: wf-srv's DNS reply decoder
//! ([`wf_srv::wire::Message::decode`]) against hostile bytes.
//!
//! Input: the whole message (a UDP datagram or a TCP reply without its
//! length prefix).
//!
//! Checked:
//! * decoding never panics, and returns the same result twice;
//! * what decodes agrees with its header: as many questions and records as
//!   the counts declare, within the limits (1024 in all);
//! * every name is at most 255 bytes on the wire (escaped bytes counted as
//!   one), so no compression trick makes a longer one;
//! * a question name that has no escaped bytes survives `encode_query` +
//!   decode unchanged;
//! * no single allocation exceeds 1 MiB ([`wf_fuzz::CappedAlloc`]): a
//!   decoder reserving memory for declared counts fails here.

use libfuzzer_sys::fuzz_target;
use wf_srv::wire::{self, Message, RData};

#[global_allocator]
static ALLOC: wf_fuzz::CappedAlloc = wf_fuzz::CappedAlloc::new(1 << 20);

/// Wire length of a decoded name: labels, their length bytes, the root.
fn wire_len(name: &str) -> usize {
    if name.is_empty() {
        return 1;
    }
    let unescaped = name.len() - 3 * name.matches('\\').count();
    unescaped + 2
}

fuzz_target!(|data: &[u8]| {
    let first = Message::decode(data);
    assert_eq!(first, Message::decode(data));
    let Ok(msg) = first else { return };
    let h = msg.header;
    assert_eq!(msg.questions.len(), usize::from(h.qdcount));
    assert_eq!(msg.answers.len(), usize::from(h.ancount));
    assert_eq!(msg.authority.len(), usize::from(h.nscount));
    assert_eq!(msg.additional.len(), usize::from(h.arcount));
    let total = msg.questions.len() + msg.answers.len() + msg.authority.len() + msg.additional.len();
    assert!(total <= wire::MAX_RECORDS);
    let records = msg.answers.iter().chain(&msg.authority).chain(&msg.additional);
    for r in records {
        assert!(wire_len(&r.name) <= wire::MAX_NAME, "{:?}", r.name);
        match &r.data {
            RData::Srv(s) => assert!(wire_len(&s.target) <= wire::MAX_NAME),
            RData::Cname(t) => assert!(wire_len(t) <= wire::MAX_NAME),
            _ => {}
        }
    }
    for q in &msg.questions {
        assert!(wire_len(&q.name) <= wire::MAX_NAME, "{:?}", q.name);
        if !q.name.contains('\\') {
            let encoded = wire::encode_query(h.id, &q.name, q.qtype).expect("a decoded name encodes");
            let again = Message::decode(&encoded).expect("an encoded query decodes");
            assert_eq!(again.questions[0].name, q.name);
            assert_eq!(again.questions[0].qtype, q.qtype);
        }
    }
});
