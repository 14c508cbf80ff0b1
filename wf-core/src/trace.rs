//! Events through `tracing` where wf drops or retries something, behind
//! the default-on `tracing` feature; without it the macros expand to
//! nothing and cost nothing. With the feature but no subscriber installed,
//! an event costs one relaxed atomic load.
//!
//! Use: `trace::debug!(field = value, "message")`, `trace::warning!(…)`, with
//! `tracing`'s syntax.

#[cfg(feature = "tracing")]
macro_rules! debug {
    ($($t:tt)*) => { ::tracing::debug!(target: "wf", $($t)*) };
}

#[cfg(feature = "tracing")]
macro_rules! warning {
    ($($t:tt)*) => { ::tracing::warn!(target: "wf", $($t)*) };
}

#[cfg(not(feature = "tracing"))]
macro_rules! debug {
    ($($t:tt)*) => {{}};
}

#[cfg(not(feature = "tracing"))]
macro_rules! warning {
    ($($t:tt)*) => {{}};
}

#[allow(unused_imports)]
pub(crate) use {debug, warning};
