//! wf-timer's integration tests, in one process: one test binary (one
//! link) instead of one per file. Each module is what used to be a test
//! binary of its own; named timers carry their module's name.

mod timer_basic;
mod timer_cancel;
mod timer_ns;
mod timer_zero;
