//! `HttpTask` redirects: 301/302/303 turn into GET (dropping the body),
//! 307/308 keep method and body, relative `Location` is resolved,
//! `Authorization` is dropped when the host changes, `redirect_max` is
//! honoured, and a missing `Location` is `TASK_ERROR` 2001. Server hits are
//! counted.

use crate::support;

use support::{RawServer, Reply, Seen, fetch, response};
use wf_core::State;

/// Redirects the targets listed in `rules` (target, status, location);
/// anything else answers 200 with `method target body`. `/r/<status>`
/// redirects to `/final` with that status.
fn redirector_with(rules: &[(&str, &str, &str)]) -> RawServer {
    let rules: Vec<(String, String, String)> =
        rules.iter().map(|(t, s, l)| (t.to_string(), s.to_string(), l.to_string())).collect();
    RawServer::spawn(move |req: &Seen| {
        let rule = rules.iter().find(|(t, _, _)| *t == req.target).cloned().or_else(|| {
            let status = req.target.strip_prefix("/r/")?;
            Some((req.target.clone(), status.to_string(), "/final".to_string()))
        });
        if let Some((_, status, location)) = rule {
            let reason = match status.as_str() {
                "301" => "Moved Permanently",
                "302" => "Found",
                "303" => "See Other",
                "307" => "Temporary Redirect",
                _ => "Permanent Redirect",
            };
            let location = format!("Location: {location}");
            return Reply::Send(response(&format!("{status} {reason}"), &[&location], "moved"));
        }
        let body = format!("{} {} {}", req.method, req.target, String::from_utf8_lossy(&req.body));
        Reply::Send(response("200 OK", &[], &body))
    })
}

fn redirector() -> RawServer {
    redirector_with(&[])
}

fn post(url: &str, redirect_max: u32) -> support::Outcome {
    fetch(url, redirect_max, 0, |t| {
        t.req_mut().set_method("POST");
        t.req_mut().set_header("Content-Type", "text/plain");
        t.req_mut().append_body("payload");
    })
}

#[test]
fn get_follows_each_status() {
    let server = redirector();
    for status in ["301", "302", "303", "307", "308"] {
        let o = fetch(&server.url(&format!("/r/{status}")), 3, 0, |_| {});
        assert_eq!(o.ok().body(), "GET /final ", "{status}");
        assert_eq!(o.redirects, 1);
        assert_eq!(o.uri.as_deref(), Some(server.url("/final").as_str()));
    }
    assert_eq!(server.seen().len(), 10, "two hits per redirect");
}

#[test]
fn post_becomes_get_on_301_302_303() {
    let server = redirector();
    for status in ["301", "302", "303"] {
        let o = post(&server.url(&format!("/r/{status}")), 3);
        assert_eq!(o.ok().body(), "GET /final ", "{status}: method GET, no body");
    }
    let seen = server.seen();
    for hit in seen.iter().filter(|s| s.target == "/final") {
        assert_eq!(hit.header("content-length"), None, "no length is left over: {}", hit.head_text());
        assert_eq!(hit.header("content-type"), None, "nor the body's type");
    }
    assert_eq!(seen.len(), 6);
}

#[test]
fn put_becomes_get_on_303() {
    let server = redirector();
    let o = fetch(&server.url("/r/303"), 3, 0, |t| {
        t.req_mut().set_method("PUT");
        t.req_mut().append_body("data");
    });
    assert_eq!(o.ok().body(), "GET /final ");
}

#[test]
fn head_stays_head_on_303() {
    let server = redirector();
    let o = fetch(&server.url("/r/303"), 3, 0, |t| {
        t.req_mut().set_method("HEAD");
    });
    o.ok();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[1].method.as_str(), seen[1].target.as_str()), ("HEAD", "/final"));
}

#[test]
fn post_is_kept_on_307_308() {
    let server = redirector();
    for status in ["307", "308"] {
        let o = post(&server.url(&format!("/r/{status}")), 3);
        assert_eq!(o.ok().body(), "POST /final payload", "{status}");
    }
    for hit in server.seen().iter().filter(|s| s.target == "/final") {
        assert_eq!(hit.header("content-length"), Some("7"));
        assert_eq!(hit.header("content-type"), Some("text/plain"));
    }
}

#[test]
fn relative_locations_are_resolved() {
    let cases = [
        ("/abs/path?x=1", "/abs/path?x=1"),
        ("sibling", "/dir/sub/sibling"),
        ("../up", "/dir/up"),
        ("?only=query", "/dir/sub/page?only=query"),
        ("./same#frag", "/dir/sub/same"),
    ];
    for (location, expected) in cases {
        let server = redirector_with(&[("/dir/sub/page", "302", location)]);
        let o = fetch(&server.url("/dir/sub/page"), 1, 0, |_| {});
        assert_eq!(o.ok().body(), format!("GET {expected} "), "{location}");
        assert_eq!(server.seen().len(), 2);
    }
    // Absolute and network-path references to the same server.
    let server = redirector();
    let absolute = server.url("/abs");
    let network = format!("//{}/net", server.addr());
    let both = redirector_with(&[("/a", "301", &absolute), ("/n", "308", &network)]);
    let o = fetch(&both.url("/a"), 1, 0, |_| {});
    assert_eq!(o.ok().body(), "GET /abs ");
    let o = fetch(&both.url("/n"), 1, 0, |_| {});
    assert_eq!(o.ok().body(), "GET /net ");
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn redirect_chain_and_max() {
    let rules = [("/a", "301", "/b"), ("/b", "302", "/c"), ("/c", "303", "/done")];
    let server = redirector_with(&rules);
    let o = fetch(&server.url("/a"), 5, 0, |_| {});
    assert_eq!(o.ok().body(), "GET /done ");
    assert_eq!(o.redirects, 3);
    assert_eq!(server.seen().len(), 4);

    // With redirect_max 2 the third redirect is the answer.
    let server = redirector_with(&rules);
    let o = fetch(&server.url("/a"), 2, 0, |_| {});
    assert_eq!((o.ok().resp.status_code(), o.redirects), (303, 2));
    assert_eq!(o.body(), "moved");
    assert_eq!(o.uri.as_deref(), Some(server.url("/c").as_str()));
    assert_eq!(server.seen().len(), 3);

    // And with 0 none is followed.
    let server = redirector_with(&rules);
    let o = fetch(&server.url("/c"), 0, 0, |_| {});
    assert_eq!((o.ok().resp.status_code(), o.redirects), (303, 0));
    assert_eq!(o.resp.header("location"), Some("/done"));
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn redirect_loop_stops_at_max() {
    let server = redirector_with(&[("/loop", "302", "/loop")]);
    let o = fetch(&server.url("/loop"), 4, 0, |_| {});
    assert_eq!((o.ok().resp.status_code(), o.redirects), (302, 4));
    assert_eq!(server.seen().len(), 5);
}

#[test]
fn missing_location_is_2001() {
    let server = RawServer::spawn(|_| Reply::Send(response("302 Found", &[], "")));
    let o = fetch(&server.url("/"), 3, 3, |_| {});
    assert_eq!((o.state, o.error.code()), (State::TaskError, wf_http::code::BAD_REDIRECT_HEADER), "{}", o.error);
    assert_eq!(o.error.code(), 2001);
    assert_eq!(server.seen().len(), 1, "not retried");
}

#[test]
fn unusable_location_is_2001() {
    let server = RawServer::spawn(|_| Reply::Send(response("301 Moved Permanently", &["Location: ftp://x/"], "")));
    let o = fetch(&server.url("/"), 3, 0, |_| {});
    assert_eq!((o.state, o.error.code()), (State::TaskError, wf_http::code::BAD_REDIRECT_HEADER), "{}", o.error);
}

#[test]
fn authorization_kept_on_the_same_host() {
    let server = redirector();
    let port = server.addr().port();
    let o = fetch(&format!("http://u:p@127.0.0.1:{port}/r/302"), 2, 0, |_| {});
    o.ok();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("authorization"), Some("Basic dTpw"));
    assert_eq!(seen[1].header("authorization"), Some("Basic dTpw"));
}

#[test]
fn authorization_dropped_when_the_host_changes() {
    let other = RawServer::spawn_on("127.0.0.2".parse().unwrap(), |req| {
        Reply::Send(response("200 OK", &[], &format!("auth={}", req.header("authorization").unwrap_or("none"))))
    });
    let target = other.url("/landing");
    let first = RawServer::spawn(move |_| Reply::Send(response("302 Found", &[&format!("Location: {target}")], "")));
    let port = first.addr().port();
    // From URL credentials...
    let o = fetch(&format!("http://u:p@127.0.0.1:{port}/"), 2, 0, |_| {});
    assert_eq!(o.ok().body(), "auth=none");
    // ...and from a header set by hand.
    let o = fetch(&first.url("/"), 2, 0, |t| {
        t.req_mut().set_header("Authorization", "Bearer secret");
    });
    assert_eq!(o.ok().body(), "auth=none");
    assert_eq!(first.seen()[0].header("authorization"), Some("Basic dTpw"));
    assert_eq!(first.seen()[1].header("authorization"), Some("Bearer secret"));
    assert_eq!(other.seen().len(), 2);
    // The Host header follows the new target.
    assert_eq!(other.seen()[0].header("host"), Some(other.addr().to_string().as_str()));
}
