//! Helpers shared by the fuzz targets of `fuzz/fuzz_targets/`: [`pieces`]
//! cuts an input the way reads would deliver it, and
//!
//! [`CappedAlloc`]: a global allocator that refuses any single allocation
//! above a cap. Without a sanitizer (the targets are built with `-s none`),
//! libFuzzer's `-malloc_limit_mb` is not enforced and `-rss_limit_mb` only
//! sees pages that were touched, so a decoder that reserves memory for a
//! length the peer *declared* (the bug class of issue 12: a 9-byte TLV
//! header reserving 4 GiB) would go unnoticed. With the cap, such a
//! reservation fails, Rust's allocation-error handler prints
//! `memory allocation of N bytes failed` and aborts, and libFuzzer records
//! the input as a crash.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, refusing (returning null for) any single
/// allocation or reallocation larger than a cap. Install it in a target:
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: wf_fuzz::CappedAlloc = wf_fuzz::CappedAlloc::new(16 << 20);
/// ```
///
/// Choose the cap well above what the target's largest input (`-max_len`)
/// can legitimately make the code allocate, and well below the declared
/// lengths a hostile peer can write.
#[derive(Debug)]
pub struct CappedAlloc {
    cap: usize,
}

impl CappedAlloc {
    /// An allocator refusing single allocations above `cap` bytes.
    pub const fn new(cap: usize) -> CappedAlloc {
        CappedAlloc { cap }
    }
}

// SAFETY: every call is forwarded unchanged to `System`, except requests
// above the cap, which return null as the `GlobalAlloc` contract allows for
// an allocation failure.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > self.cap {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > self.cap {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller upholds `alloc_zeroed`'s contract for `layout`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator)
        // with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > self.cap {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller upholds `realloc`'s contract; `ptr` came from
        // `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// `data` cut into pieces of 1 to 17 bytes, their lengths drawn from the
/// input itself (and `seed`, so that two targets cut differently): a
/// decoder fed these must decode what it decodes from `data` whole.
pub fn pieces(data: &[u8], seed: u32) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = data;
    let mut state = data.len() as u32 ^ seed;
    let mut i = 0;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345 + u32::from(data[i % data.len()]));
        let n = ((state >> 16) as usize % 17 + 1).min(rest.len());
        let (a, b) = rest.split_at(n);
        pieces.push(a);
        rest = b;
        i += 1;
    }
    pieces
}
