#![no_main]
//! Fuzz target `mysql_server` (placeholder: filled in by the codec's owner).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
