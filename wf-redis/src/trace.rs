//! Events through `tracing` where wf-redis drops or retries something,
//! behind the default-on `tracing` feature; without it the macros expand
//! to nothing. Use: `trace::debug!(field = value, "message")`.

#[cfg(feature = "tracing")]
macro_rules! debug {
    ($($t:tt)*) => { ::tracing::debug!(target: "wf", $($t)*) };
}

#[cfg(not(feature = "tracing"))]
macro_rules! debug {
    ($($t:tt)*) => {{}};
}

pub(crate) use debug;
