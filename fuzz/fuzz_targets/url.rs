#![no_main]
//! Fuzz target `url`: `wf_core::net::Uri::parse` on any text, every
//! accessor, and the normalized form parsed again (it must parse, to the
//! same parts); the input's second half joined to its first as a redirect
//! `Location` would be. A URL has no streaming form: there is nothing to
//! cut in pieces.

use libfuzzer_sys::fuzz_target;
use wf_core::net::Uri;

/// Scheme, user, password, host, port, path, query and the normalized
/// form of a URL.
type Parts = (String, Option<String>, Option<String>, String, u16, String, Option<String>, String);

fn parts(u: &Uri) -> Parts {
    (
        u.scheme().to_string(),
        u.user().map(str::to_string),
        u.password().map(str::to_string),
        u.host().to_string(),
        u.port(),
        u.path().to_string(),
        u.query().map(str::to_string),
        u.authority().to_string(),
    )
}

fn check(s: &str) -> Option<Uri> {
    let u = Uri::parse(s).ok()?;
    let _ = (u.host_str(), u.unix_path(), u.has_explicit_port(), u.fragment(), u.request_uri(), u.to_string());
    let again =
        Uri::parse(u.as_str()).unwrap_or_else(|e| panic!("{s:?} normalized to {:?}, which fails: {e}", u.as_str()));
    assert_eq!(parts(&u), parts(&again), "{s:?} -> {:?}", u.as_str());
    Some(u)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    check(s);
    if let Some((a, b)) = s.split_once('\u{1}')
        && let Some(base) = check(a)
        && let Ok(j) = base.join(b)
    {
        check(j.as_str());
    }
});
