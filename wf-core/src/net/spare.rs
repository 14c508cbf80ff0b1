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
    // A kept buffer whose block was still shared when it was given back
    // (a request's body) showed only its room left; now the block may be
    // its alone, and too big to use as a usual one.
    SPARE
        .with(|s| s.borrow_mut().pop())
        .and_then(|(mut r, mut w)| (usual(&mut r) && usual(&mut w)).then_some((r, w)))
        .unwrap_or_else(|| (BytesMut::with_capacity(READ_RESERVE), BytesMut::with_capacity(READ_RESERVE)))
}

/// True for an empty buffer whose block is not bigger than
/// [`SPARE_CAPACITY_MAX`] and still has room. `capacity()` alone is only
/// the room after what the buffer held: reclaiming more than the limit
/// succeeds exactly when the buffer is the block's only owner and the
/// block is too big. (A block still shared shows its room left, and is
/// checked again by [`take`].)
fn usual(b: &mut BytesMut) -> bool {
    (1..=SPARE_CAPACITY_MAX).contains(&b.capacity()) && !b.try_reclaim(SPARE_CAPACITY_MAX + 1)
}

/// Gives back two empty buffers: kept for [`take`] while the thread keeps
/// fewer than [`SPARE_MAX`] pairs, else freed; so is a pair with a buffer
/// that has no room at all or grew past [`SPARE_CAPACITY_MAX`].
#[inline]
pub(crate) fn give(mut pair: Pair) {
    debug_assert!(pair.0.is_empty() && pair.1.is_empty());
    if !(usual(&mut pair.0) && usual(&mut pair.1)) {
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

    /// A buffer whose block grew for a large message shows only the room
    /// left after it: it is still freed, not kept holding the block.
    #[test]
    fn a_grown_block_is_not_kept_behind_a_small_room() {
        use bytes::Buf;
        let big = SPARE_CAPACITY_MAX * 4;
        let grown = || {
            let mut b = BytesMut::with_capacity(big);
            b.extend_from_slice(&vec![b'x'; big - 100]);
            b
        };
        while spare() > 0 {
            take();
        }
        // Its own block: freed when given back.
        let mut r = grown();
        r.advance(big - 100);
        assert!(r.capacity() <= 100);
        give((r, BytesMut::with_capacity(READ_RESERVE)));
        assert_eq!(spare(), 0);
        // Shared with a request's body when given back: kept, but not
        // handed out once the body is gone.
        let mut r = grown();
        let body = r.split().freeze();
        give((r, BytesMut::with_capacity(READ_RESERVE)));
        assert_eq!(spare(), 1);
        drop(body);
        let (r, _) = take();
        assert_eq!(spare(), 0);
        assert!(r.capacity() <= SPARE_CAPACITY_MAX);
    }
}
