//! The `Date` header, formatted once per second per thread.

use std::cell::RefCell;
use std::time::SystemTime;

use http::header::HeaderValue;

thread_local! {
    /// The `Date` header, made once per second per thread.
    static DATE_CACHE: RefCell<(u64, HeaderValue)> = const { RefCell::new((0, HeaderValue::from_static(""))) };
}

pub(crate) fn date_header() -> HeaderValue {
    with_date(HeaderValue::clone)
}

/// Runs `f` on the current `Date` header (no copy of it: the encoder
/// writes it straight from the cache).
pub(crate) fn with_date<R>(f: impl FnOnce(&HeaderValue) -> R) -> R {
    let now = SystemTime::now();
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            let text = httpdate::fmt_http_date(now);
            c.1 = HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""));
            c.0 = secs;
        }
        f(&c.1)
    })
}
