//! Events through `tracing` behind the default-on `tracing` feature (as in
//! wf-core): without it the macros expand to nothing.

#[cfg(feature = "tracing")]
macro_rules! debug {
    ($($t:tt)*) => { ::tracing::debug!(target: "wf::etcd", $($t)*) };
}

#[cfg(feature = "tracing")]
macro_rules! warning {
    ($($t:tt)*) => { ::tracing::warn!(target: "wf::etcd", $($t)*) };
}

#[cfg(not(feature = "tracing"))]
macro_rules! debug {
    ($($t:tt)*) => {{}};
}

#[cfg(not(feature = "tracing"))]
macro_rules! warning {
    ($($t:tt)*) => {{}};
}

pub(crate) use {debug, warning};
