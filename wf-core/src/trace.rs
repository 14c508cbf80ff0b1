//! Events through `tracing` where wf drops or retries something, behind
//! the default-on `tracing` feature; without it the macros expand to
//! nothing and cost nothing. With the feature but no subscriber installed,
//! an event costs one relaxed atomic load.
//!
//! Use: `trace::debug!(field = value, "message")`, `trace::warning!(…)`, with
//! `tracing`'s syntax.

#[cfg(feature = "tracing")]
#[allow(unused_macros)]
macro_rules! debug {
    ($($t:tt)*) => { ::tracing::debug!(target: "wf", $($t)*) };
}

#[cfg(feature = "tracing")]
#[allow(unused_macros)]
macro_rules! warning {
    ($($t:tt)*) => { ::tracing::warn!(target: "wf", $($t)*) };
}

#[cfg(not(feature = "tracing"))]
#[allow(unused_macros)]
macro_rules! debug {
    ($($t:tt)*) => {{}};
}

#[cfg(not(feature = "tracing"))]
#[allow(unused_macros)]
macro_rules! warning {
    ($($t:tt)*) => {{}};
}

#[allow(unused_imports)]
pub(crate) use {debug, warning};

/// A client task's span, carrying its URL (debug level: when no
/// subscriber wants it, nothing is formatted or allocated).
#[cfg(feature = "tracing")]
pub(crate) type Span = tracing::Span;

/// Without `tracing`, no span.
#[cfg(not(feature = "tracing"))]
#[derive(Debug)]
pub(crate) struct Span;

/// The span a client task for `url` runs in.
#[cfg(feature = "tracing")]
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn client_span(url: &dyn std::fmt::Display) -> Span {
    tracing::debug_span!(target: "wf", "client_task", url = %url)
}

/// Without `tracing`, no span.
#[cfg(not(feature = "tracing"))]
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn client_span(_url: &dyn std::fmt::Display) -> Span {
    Span
}

/// `fut`, entering `span` whenever it is polled.
#[cfg(feature = "tracing")]
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn instrument<F: std::future::Future>(fut: F, span: Span) -> tracing::instrument::Instrumented<F> {
    tracing::Instrument::instrument(fut, span)
}

/// Without `tracing`: `fut` itself.
#[cfg(not(feature = "tracing"))]
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn instrument<F: std::future::Future>(fut: F, _span: Span) -> F {
    fut
}
