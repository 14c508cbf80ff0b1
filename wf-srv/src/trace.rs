//! Events through `tracing` (target `wf`), behind the default-on `tracing`
//! feature; without it the macros expand to nothing.

#[cfg(feature = "tracing")]
macro_rules! warning {
    ($($t:tt)*) => { ::tracing::warn!(target: "wf", $($t)*) };
}

#[cfg(not(feature = "tracing"))]
macro_rules! warning {
    ($($t:tt)*) => {{}};
}

pub(crate) use warning;
