//! Spare connection buffers, per thread.
//!
//! A server connection waiting idle gives its (empty) read and write
//! buffers back and takes a pair again when bytes come: 10,000 idle
//! keep-alive connections then hold no buffer memory. Handing buffers
//! through the allocator on every request would cost two 4 KiB
//! allocations and frees each time (about 1,000 instructions a request);
//! the thread keeps a few pairs spare instead, so a busy connection takes
//! the buffers another one just gave back.

use std::cell::RefCell;

use bytes::BytesMut;

/// Room made in a connection's read buffer before each read; the size of
/// a new buffer.
pub(crate) const READ_RESERVE: usize = 4096;

/// The most buffer pairs a thread keeps spare (512 KiB at 2 × 4 KiB
/// each); more are freed.
const SPARE_MAX: usize = 64;

/// A spare buffer larger than this (one that grew for a large message) is
/// freed rather than kept.
const SPARE_CAPACITY_MAX: usize = 4 * READ_RESERVE;

/// A read and a write buffer.
pub(crate) type Pair = (BytesMut, BytesMut);

thread_local! {
    static SPARE: RefCell<Vec<Pair>> = const { RefCell::new(Vec::new()) };
}

/// Two empty buffers: a spare pair of this thread's, or new ones with room
/// for [`READ_RESERVE`] bytes. A spare buffer may have less room left
/// until it is reserved again (which reclaims the room the bytes it held
/// took, unless some of them are still referenced elsewhere).
#[inline]
pub(crate) fn take() -> Pair {
    SPARE
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| (BytesMut::with_capacity(READ_RESERVE), BytesMut::with_capacity(READ_RESERVE)))
}

/// Gives back two empty buffers: kept for [`take`] while the thread keeps
/// fewer than [`SPARE_MAX`] pairs, else freed; so is a pair with a buffer
/// that has no room at all or grew past [`SPARE_CAPACITY_MAX`].
#[inline]
pub(crate) fn give(pair: Pair) {
    debug_assert!(pair.0.is_empty() && pair.1.is_empty());
    let usual = |b: &BytesMut| (1..=SPARE_CAPACITY_MAX).contains(&b.capacity());
    if !(usual(&pair.0) && usual(&pair.1)) {
        return;
    }
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SPARE_MAX {
            s.push(pair);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spare() -> usize {
        SPARE.with(|s| s.borrow().len())
    }

    #[test]
    fn keeps_a_bounded_number_of_usual_buffers() {
        let pairs: Vec<Pair> = (0..SPARE_MAX + 10).map(|_| take()).collect();
        assert!(pairs.iter().all(|(r, w)| r.is_empty() && w.is_empty()));
        for p in pairs {
            give(p);
        }
        assert_eq!(spare(), SPARE_MAX);
        // Without room, or grown large: freed.
        let (r, mut w) = take();
        give((r, BytesMut::new()));
        w.reserve(SPARE_CAPACITY_MAX * 2);
        let (r, _) = take();
        give((r, w));
        assert_eq!(spare(), SPARE_MAX - 2);
        // A spare buffer gets its room back when reserved, whatever it held.
        let (mut r, w) = take();
        r.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let _request = r.split().freeze();
        give((r, w));
        let (mut r, _) = take();
        r.reserve(READ_RESERVE);
        assert!(r.capacity() >= READ_RESERVE);
    }
}
