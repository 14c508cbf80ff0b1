//! Parsed URLs, remembered per thread: a service sends its commands to a
//! handful of URLs, and parsing one costs more than a whole request.

use std::cell::RefCell;
use std::collections::HashMap;

use wf_core::Error;
use wf_core::net::Uri;

/// Entries kept per thread before the cache starts over.
const CAPACITY: usize = 64;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Result<Uri, Error>>> = RefCell::new(HashMap::new());
}

/// [`Uri::parse`], from the cache when `url` was parsed lately.
pub(crate) fn parse(url: &str) -> Result<Uri, Error> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(u) = c.get(url) {
            return u.clone();
        }
        let u = Uri::parse(url);
        if c.len() >= CAPACITY {
            c.clear();
        }
        c.insert(url.into(), u.clone());
        u
    })
}
