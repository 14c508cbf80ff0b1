//! The client half of HTTP: how a request is completed, what a reply
//! means (redirects, keep-alive), and proxies.

use std::time::Duration;

use http::header::HeaderValue;
use http::{Method, Version};
use wf_core::Error;
use wf_core::net::{ClientOptions, ClientProtocol, Connection, KeepAlive, Next, Uri};

use crate::auth::basic_auth;
use crate::code;
use crate::codec::{ClientCodec, Limits, length_value};
use crate::headers::name_is;
use crate::message::{HttpRequest, HttpResponse, Text};
use crate::protocol::{Http, KEEP_ALIVE, MAX_KEEP_ALIVE, keep_alive_timeout};
use crate::proxy::{Tunnel, open_tunnel};

impl ClientProtocol for Http {
    type ClientCodec = ClientCodec;
    /// The tunnel through the proxy, for a proxied task.
    type Handshake = Option<Tunnel>;

    fn client_codec(&self) -> ClientCodec {
        ClientCodec::new(Limits::default())
    }

    fn handshake(&self, uri: &Uri, opts: &ClientOptions) -> Result<Option<Tunnel>, Error> {
        let Some(proxy) = &self.proxy else { return Ok(None) };
        let proxy = proxy.as_ref().map_err(Clone::clone)?;
        #[allow(unused_mut)]
        let mut tunnel = Tunnel::new(uri, proxy);
        #[cfg(feature = "tls")]
        {
            tunnel.tls = opts.tls().cloned();
        }
        #[cfg(not(feature = "tls"))]
        let _ = opts;
        Ok(Some(tunnel))
    }

    async fn on_connect(&self, conn: &mut Connection<ClientCodec>, tunnel: &Option<Tunnel>) -> Result<(), Error> {
        match tunnel {
            Some(t) => open_tunnel(t, conn).await,
            None => Ok(()),
        }
    }

    fn default_keep_alive(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn keep_alive(&self, req: &HttpRequest, resp: &HttpResponse) -> KeepAlive {
        // One pass over the reply's fields for the four that matter; the
        // rules then look again only at fields that are there.
        let (mut length, mut coding, mut connection, mut offer) = (false, false, false, false);
        for (name, _) in resp.headers.raw() {
            let is = |n: &str| name_is(name, n.as_bytes());
            if is("Content-Length") {
                length = true;
            } else if is("Transfer-Encoding") {
                coding = true;
            } else if is("Connection") {
                connection = true;
            } else if is(KEEP_ALIVE) {
                offer = true;
            }
        }
        let framed = length
            || (coding && resp.is_chunked())
            || req.method == Method::HEAD
            || matches!(resp.status_code(), 204 | 304)
            || (100..200).contains(&resp.status_code());
        let resp_keep = if connection { resp.is_keep_alive() } else { resp.version != Version::HTTP_10 };
        if !framed || !resp_keep || !req.is_keep_alive() {
            return KeepAlive::Close;
        }
        match offer.then(|| keep_alive_timeout(resp.headers.get(KEEP_ALIVE))).flatten() {
            Some(offered) => KeepAlive::KeepFor(offered.min(MAX_KEEP_ALIVE)),
            None => KeepAlive::Keep,
        }
    }

    fn via<'a>(&'a self, uri: &'a Uri) -> &'a Uri {
        match &self.proxy {
            Some(Ok(proxy)) => proxy,
            _ => uri,
        }
    }

    fn prepare(&self, req: &mut HttpRequest, uri: &Uri, opts: &ClientOptions) -> Result<(), Error> {
        match &self.proxy {
            Some(Ok(p)) if p.scheme() != "http" => return Err(Error::task(wf_core::code::URI_SCHEME_INVALID)),
            Some(Err(e)) => return Err(e.clone()),
            _ => {}
        }
        code::register();
        let auto_host = *req.auto_host.get_or_insert_with(|| !req.headers.contains_key("Host"));
        complete(req, uri, auto_host, opts.keep_alive() != Some(Duration::ZERO));
        Ok(())
    }

    /// Yes: the requests a turn's replies start leave together (see the
    /// hook; under load, the server is woken once for many).
    fn send_at_end_of_turn(&self) -> bool {
        true
    }

    /// RFC 9110 §9.2.2's idempotent methods: such a request is sent again
    /// when a reused keep-alive connection turns out to be closed; a
    /// `POST` or `PATCH` the server may have run is not.
    fn is_idempotent(&self, req: &HttpRequest) -> bool {
        matches!(
            req.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
        )
    }

    fn on_reply(&self, req: &mut HttpRequest, resp: &HttpResponse, uri: &Uri, may_redirect: bool) -> Next {
        if !may_redirect || !is_redirect(resp.status_code()) {
            return Next::Done;
        }
        let next = match resp.header("Location").map(|l| uri.join(l)) {
            Some(Ok(next)) if matches!(next.scheme(), "http" | "https") => next,
            _ => return Next::Fail(Error::task(code::BAD_REDIRECT_HEADER)),
        };
        let status = resp.status_code();
        if status == 303 || (matches!(status, 301 | 302) && req.method != Method::GET && req.method != Method::HEAD) {
            if req.method != Method::HEAD {
                req.method = Method::GET;
            }
            req.clear_body();
            for h in ["Content-Length", "Transfer-Encoding", "Content-Type"] {
                req.headers.remove(h);
            }
        }
        if next.host() != uri.host() || next.port() != uri.port() {
            req.headers.remove("Authorization");
        }
        Next::Redirect(next)
    }
}

/// Fills what a request to `uri` needs: the request target, `Host` (unless
/// the task set its own) as the first field (RFC 9112 §3.2), then after
/// the task's own fields: credentials from the URL (`Authorization`),
/// `Content-Length` and `Connection`. A field the task set already keeps
/// its place (and, for `Connection`, its value); on a redirect or retry
/// each is set again where it stands.
fn complete(req: &mut HttpRequest, uri: &Uri, auto_host: bool, keep: bool) {
    if !is_request_target(req.uri.as_str(), uri) {
        req.uri = Text::from(uri.request_uri());
    }
    if auto_host {
        if let Ok(v) = HeaderValue::from_str(uri.authority()) {
            req.headers.set_first("Host", v);
        }
    }
    if let Some(pass) = uri.password() {
        if let Ok(v) = HeaderValue::from_str(&basic_auth(uri.user().unwrap_or(""), pass)) {
            req.headers.set_static("Authorization", v);
        }
    } else if let Some(user) = uri.user() {
        if let Ok(v) = HeaderValue::from_str(&basic_auth(user, "")) {
            req.headers.set_static("Authorization", v);
        }
    }
    if !req.is_chunked() && (req.body_len() > 0 || req.method == Method::POST || req.method == Method::PUT) {
        req.headers.set_static("Content-Length", length_value(req.body_len()));
    }
    if !req.headers.contains_key("Connection") {
        req.headers.set_static("Connection", HeaderValue::from_static(if keep { "Keep-Alive" } else { "close" }));
    }
}

/// Whether `target` is `uri`'s path and query already (no new `String`
/// for a request sent again, or to `/`).
fn is_request_target(target: &str, uri: &Uri) -> bool {
    let path = uri.path();
    match uri.query() {
        None => target == path,
        Some(q) => target.strip_prefix(path).and_then(|t| t.strip_prefix('?')) == Some(q),
    }
}

fn is_redirect(code: u16) -> bool {
    matches!(code, 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(version: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let mut resp = HttpResponse::default();
        resp.set_http_version(version);
        for (name, value) in fields {
            resp.add_header(name, value);
        }
        resp
    }

    #[test]
    fn keep_alive_decisions() {
        let http = Http::default();
        let get = HttpRequest::default();
        let decide = |version, fields: &[(&str, &str)]| http.keep_alive(&get, &reply(version, fields));
        assert_eq!(decide("HTTP/1.1", &[("content-length", "2")]), KeepAlive::Keep);
        assert_eq!(decide("HTTP/1.1", &[("Transfer-Encoding", "chunked")]), KeepAlive::Keep);
        // Delimited by the end of the connection: never reused.
        assert_eq!(decide("HTTP/1.1", &[]), KeepAlive::Close);
        assert_eq!(decide("HTTP/1.1", &[("Transfer-Encoding", "gzip")]), KeepAlive::Close);
        assert_eq!(decide("HTTP/1.1", &[("Content-Length", "2"), ("Connection", "close")]), KeepAlive::Close);
        assert_eq!(decide("HTTP/1.0", &[("Content-Length", "2")]), KeepAlive::Close);
        assert_eq!(decide("HTTP/1.0", &[("Content-Length", "2"), ("Connection", "Keep-Alive")]), KeepAlive::Keep);
        assert_eq!(decide("HTTP/1.0", &[("Content-Length", "2"), ("Connection", "Foo, keep-alive")]), KeepAlive::Keep);
        assert_eq!(decide("HTTP/1.1", &[("Content-Length", "2"), ("Connection", "TE , CLOSE")]), KeepAlive::Close);
        assert_eq!(
            decide("HTTP/1.1", &[("Content-Length", "2"), ("Connection", "keep-alive"), ("Connection", "close")]),
            KeepAlive::Close
        );
        assert_eq!(
            decide("HTTP/1.1", &[("Content-Length", "2"), ("keep-alive", "timeout=5")]),
            KeepAlive::KeepFor(Duration::from_secs(5))
        );
        assert_eq!(
            decide("HTTP/1.1", &[("Content-Length", "2"), ("Keep-Alive", "timeout=900")]),
            KeepAlive::KeepFor(MAX_KEEP_ALIVE)
        );
        let mut close = HttpRequest::default();
        close.set_header("Connection", "close");
        assert_eq!(http.keep_alive(&close, &reply("HTTP/1.1", &[("Content-Length", "2")])), KeepAlive::Close);
    }

    #[test]
    fn request_target_compared_without_a_string() {
        let uri = Uri::parse("http://h/a/b?x=1").unwrap();
        assert!(is_request_target("/a/b?x=1", &uri));
        assert!(!is_request_target("/a/b", &uri));
        assert!(!is_request_target("/a/b?x=12", &uri));
        assert!(!is_request_target("/a/bx=1", &uri));
        let root = Uri::parse("http://h").unwrap();
        assert!(is_request_target("/", &root));
        assert!(!is_request_target("/?", &root));
        let mut req = HttpRequest::default();
        complete(&mut req, &uri, true, true);
        assert_eq!((req.request_uri(), req.header("Host")), ("/a/b?x=1", Some("h")));
        complete(&mut req, &root, true, true);
        assert_eq!(req.request_uri(), "/");
    }
}
