//! Integer arguments are formatted into a request's shared buffer with
//! no allocation of their own: this binary counts the allocations of its
//! test thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use wf_redis::RedisArg;

thread_local! {
    /// Allocations made on this thread.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting allocations per thread.
struct Counting;

// SAFETY: every call is forwarded unchanged to `System`; counting touches
// only a const-initialised thread-local, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn integer_arguments_go_into_the_shared_buffer_without_allocating() {
    let mut shared = BytesMut::with_capacity(256);
    // The first argument makes the buffer shared: its one allocation.
    let first = "SET".into_arg_in(&mut shared);
    let before = allocations();
    let args: [Bytes; 6] = [
        42i32.into_arg_in(&mut shared),
        i64::MIN.into_arg_in(&mut shared),
        u32::MAX.into_arg_in(&mut shared),
        u64::MAX.into_arg_in(&mut shared),
        0usize.into_arg_in(&mut shared),
        (-1isize).into_arg_in(&mut shared),
    ];
    assert_eq!(allocations() - before, 0, "no allocation per integer");
    let text: Vec<&[u8]> = args.iter().map(|b| &b[..]).collect();
    assert_eq!(text, [&b"42"[..], b"-9223372036854775808", b"4294967295", b"18446744073709551615", b"0", b"-1"]);
    assert_eq!(&first[..], b"SET");
    // Without a shared buffer, one allocation: the argument's own.
    let before = allocations();
    let own = 1234567u64.into_arg();
    assert_eq!((allocations() - before, &own[..]), (1, &b"1234567"[..]));
    assert_eq!(&2.5f64.into_arg()[..], b"2.5");
    assert_eq!(&1.0f64.into_arg_in(&mut shared)[..], b"1");
}
