//! Client URLs: parsing, the parts a client task needs, and the registry of
//! default ports per scheme (Workflow's `URIParser` and
//! `WFGlobal::register_scheme_port`).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{PoisonError, RwLock};

use url::{Position, Url};

use crate::error::{Error, code};

/// Workflow's built-in scheme ports.
const BUILTIN_PORTS: &[(&str, u16)] = &[
    ("http", 80),
    ("https", 443),
    ("redis", 6379),
    ("rediss", 6379),
    ("mysql", 3306),
    ("mysqls", 3306),
    ("kafka", 9092),
    ("kafkas", 9093),
    ("dns", 53),
    ("dnss", 853),
];

/// The scheme-port registry as it starts: the built-ins.
pub(crate) fn builtin_ports() -> RwLock<HashMap<String, u16>> {
    RwLock::new(BUILTIN_PORTS.iter().map(|&(s, p)| (s.to_string(), p)).collect())
}

/// Sets the port used for URLs of `scheme` that name no port (Workflow's
/// `WFGlobal::register_scheme_port`). Schemes are case-insensitive;
/// registering a scheme again replaces its port, built-ins included,
/// except for the special schemes of the `url` crate (`http` 80, `https`
/// 443, `ws` 80, `wss` 443, `ftp` 21): normalization drops their default
/// port from a URL, so it cannot be told from one the URL named.
///
/// Built-ins: `http` 80, `https` 443, `redis`/`rediss` 6379,
/// `mysql`/`mysqls` 3306, `kafka` 9092, `kafkas` 9093, `dns` 53, `dnss` 853.
///
/// ```
/// use wf_core::net::{Uri, default_port, register_scheme_port};
///
/// register_scheme_port("MyProto", 7000);
/// assert_eq!(default_port("myproto"), Some(7000));
/// assert_eq!(Uri::parse("myproto://example.com/").unwrap().port(), 7000);
/// ```
pub fn register_scheme_port(scheme: &str, port: u16) {
    crate::global::scheme_ports()
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(scheme.to_ascii_lowercase(), port);
}

/// The port registered for `scheme` (case-insensitive), if any: see
/// [`register_scheme_port`].
///
/// ```
/// use wf_core::net::default_port;
///
/// assert_eq!(default_port("HTTPS"), Some(443));
/// assert_eq!(default_port("redis"), Some(6379));
/// assert_eq!(default_port("no-such-scheme"), None);
/// ```
pub fn default_port(scheme: &str) -> Option<u16> {
    let ports = crate::global::scheme_ports().read().unwrap_or_else(PoisonError::into_inner);
    if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
        ports.get(&scheme.to_ascii_lowercase()).copied()
    } else {
        ports.get(scheme).copied()
    }
}

/// The target a URL names.
///
/// ```
/// use wf_core::net::{Host, Uri};
///
/// assert_eq!(Uri::parse("http://127.0.0.1/").unwrap().host(), &Host::Ip("127.0.0.1".parse().unwrap()));
/// assert_eq!(Uri::parse("http://Example.COM/").unwrap().host(), &Host::Name("example.com".into()));
/// assert_eq!(Uri::parse("redis://%2Ftmp%2Fredis.sock/0").unwrap().host(), &Host::Unix("/tmp/redis.sock".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A literal IPv4 or IPv6 address: no name lookup needed.
    Ip(IpAddr),
    /// A host name to resolve, lowercased (IDNA names in their ASCII
    /// `xn--` form for `http`/`https`).
    Name(String),
    /// A Unix domain socket, written in the URL as a percent-encoded
    /// absolute path (`redis://%2Ftmp%2Fredis.sock/0`).
    Unix(PathBuf),
}

impl fmt::Display for Host {
    /// The address, the name, or the socket path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => ip.fmt(f),
            Host::Name(name) => f.write_str(name),
            Host::Unix(path) => path.display().fmt(f),
        }
    }
}

/// Host name the `url` crate parses in place of a Unix socket path (which
/// it refuses as a host for `http`); the path is spliced back afterwards.
const UNIX_PLACEHOLDER: &str = "wf-unix-socket.invalid";

/// A parsed client URL: `scheme://[user[:password]@]host[:port][/path][?query][#fragment]`.
///
/// The host is an IP address, a name, or a Unix socket path written
/// percent-encoded (`%2Ftmp%2Fx.sock`). The port is the URL's or, when it
/// names none, the one registered for the scheme ([`default_port`]).
///
/// ```
/// use wf_core::net::{Host, Uri};
///
/// let u = Uri::parse("HTTP://user:p%40ss@Example.com:8080/a/b?x=1#top").unwrap();
/// assert_eq!(u.scheme(), "http");
/// assert_eq!(u.user(), Some("user"));
/// assert_eq!(u.password(), Some("p@ss"));
/// assert_eq!(u.host(), &Host::Name("example.com".into()));
/// assert_eq!(u.port(), 8080);
/// assert_eq!(u.request_uri(), "/a/b?x=1");
/// assert_eq!(u.fragment(), Some("top"));
/// assert_eq!(u.authority(), "example.com:8080");
///
/// let err = Uri::parse("http://example.com:99999/").unwrap_err();
/// assert_eq!(err.code(), wf_core::code::URI_PORT_INVALID);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri(std::sync::Arc<Parts>);

impl std::hash::Hash for Uri {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

/// What a [`Uri`] holds, shared by its clones (a task's URL is cloned for
/// every attempt; sharing makes that a reference count).
#[derive(Debug, PartialEq, Eq)]
struct Parts {
    /// The parsed URL; for a Unix socket its host is [`UNIX_PLACEHOLDER`].
    url: Url,
    /// For a Unix socket, the URL string with the socket's host spliced back.
    unix_serialization: Option<String>,
    /// For a Unix socket, the host as written (percent-encoded).
    unix_raw_host: Option<String>,
    user: Option<String>,
    password: Option<String>,
    host: Host,
    host_str: String,
    port: u16,
    explicit_port: bool,
}

/// What a first pass over the authority finds (the `url` crate hides
/// explicit default ports and refuses socket paths as `http` hosts).
struct RawAuthority<'a> {
    /// Byte range of the host in the input (brackets excluded for IPv6).
    host_start: usize,
    host_end: usize,
    host: &'a str,
    /// The port text after `:`, if any (possibly empty).
    port: Option<&'a str>,
}

fn parse_failed() -> Error {
    Error::task(code::URI_PARSE_FAILED)
}

fn port_invalid() -> Error {
    Error::task(code::URI_PORT_INVALID)
}

/// Scans `scheme://authority` in `s` (already trimmed as the `url` crate
/// would) without validating the host.
fn scan_authority(s: &str) -> Result<RawAuthority<'_>, Error> {
    let colon = s.find(':').ok_or_else(parse_failed)?;
    let scheme = &s[..colon];
    let mut chars = scheme.bytes();
    if !chars.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(parse_failed());
    }
    let rest = &s[colon + 1..];
    if !rest.starts_with("//") {
        // No authority, so no host (`mailto:x@y`, `http:/path`).
        return Err(parse_failed());
    }
    let auth_start = colon + 3;
    let after = &s[auth_start..];
    // A backslash ends the authority in the `url` crate's special schemes
    // only; elsewhere it is data (as `url` reads it: the two must agree).
    let special = ["http", "https", "ws", "wss", "ftp", "file"].iter().any(|k| scheme.eq_ignore_ascii_case(k));
    let auth_len =
        if special { after.find(['/', '?', '#', '\\']) } else { after.find(['/', '?', '#']) }.unwrap_or(after.len());
    let authority = &after[..auth_len];
    let hp_start = authority.rfind('@').map_or(0, |i| i + 1);
    let hostport = &authority[hp_start..];
    let base = auth_start + hp_start;
    let (host_start, host_end, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let close = inner.find(']').ok_or_else(parse_failed)?;
        let tail = &inner[close + 1..];
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p),
            None if tail.is_empty() => None,
            None => return Err(parse_failed()),
        };
        (base + 1, base + 1 + close, port)
    } else {
        match hostport.find(':') {
            Some(i) => (base, base + i, Some(&hostport[i + 1..])),
            None => (base, base + hostport.len(), None),
        }
    };
    let host = &s[host_start..host_end];
    if host.is_empty() {
        return Err(parse_failed());
    }
    Ok(RawAuthority { host_start, host_end, host, port })
}

/// Parses the text after `:`: `None` for no port (empty text), an error
/// for anything but a number in `0..=65535`.
fn parse_port(p: Option<&str>) -> Result<Option<u16>, Error> {
    match p {
        None | Some("") => Ok(None),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            let digits = p.trim_start_matches('0');
            if digits.len() > 5 {
                return Err(port_invalid());
            }
            let n: u32 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| port_invalid())? };
            u16::try_from(n).map(Some).map_err(|_| port_invalid())
        }
        Some(_) => Err(port_invalid()),
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (a `%` not followed by two hex digits is kept).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn percent_decode_lossy(s: &str) -> String {
    match String::from_utf8(percent_decode(s)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The `url` crate's input cleanup: leading and trailing C0 controls and
/// spaces go, and so do tabs and newlines anywhere.
fn preprocess(s: &str) -> std::borrow::Cow<'_, str> {
    let s = s.trim_matches(|c: char| c <= ' ');
    if s.contains(['\t', '\n', '\r']) { s.replace(['\t', '\n', '\r'], "").into() } else { s.into() }
}

impl Uri {
    /// Parses an absolute URL with a host.
    ///
    /// Errors are `TASK_ERROR` with [`code::URI_PARSE_FAILED`] for input
    /// that is not a URL or has no host, and [`code::URI_PORT_INVALID`] for
    /// a port that is not a number in `1..=65535`, or when the URL names no
    /// port and none is registered for its scheme. Any scheme is accepted
    /// here; whether a protocol supports it is checked when a task is made.
    /// A Unix socket host (a percent-encoded absolute path) needs no port.
    ///
    /// ```
    /// use wf_core::code;
    /// use wf_core::net::{Host, Uri};
    ///
    /// let u = Uri::parse("redis://:secret@%2Ftmp%2Fredis.sock/0").unwrap();
    /// assert_eq!(u.host(), &Host::Unix("/tmp/redis.sock".into()));
    /// assert_eq!((u.user(), u.password()), (None, Some("secret")));
    ///
    /// assert_eq!(Uri::parse("not a url").unwrap_err().code(), code::URI_PARSE_FAILED);
    /// assert_eq!(Uri::parse("http://h:0/").unwrap_err().code(), code::URI_PORT_INVALID);
    /// assert_eq!(Uri::parse("foo://h/").unwrap_err().code(), code::URI_PORT_INVALID);
    /// assert_eq!(Uri::parse("foo://h:1/").unwrap().port(), 1);
    /// ```
    pub fn parse(s: &str) -> Result<Uri, Error> {
        let s = preprocess(s);
        let s: &str = &s;
        let raw = scan_authority(s)?;
        let explicit = parse_port(raw.port)?;
        // Bytes: the host may start with a character of several bytes.
        let is_unix = raw.host.as_bytes().get(..3).is_some_and(|p| p.eq_ignore_ascii_case(b"%2F"));

        let mut url = if is_unix {
            let substituted = format!("{}{UNIX_PLACEHOLDER}{}", &s[..raw.host_start], &s[raw.host_end..]);
            Url::parse(&substituted)
        } else {
            Url::parse(s)
        }
        .map_err(|e| match e {
            url::ParseError::InvalidPort => port_invalid(),
            _ => parse_failed(),
        })?;

        let (host, host_str) = if is_unix {
            // The raw host is kept as written in the normalized URL: no
            // control characters (trimmed away when that is parsed again).
            if raw.host.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                return Err(parse_failed());
            }
            let bytes = percent_decode(raw.host);
            let path = String::from_utf8(bytes).map_err(|_| parse_failed())?;
            if path.contains('\0') || !path.starts_with('/') {
                return Err(parse_failed());
            }
            (Host::Unix(PathBuf::from(&path)), path)
        } else {
            match url.host() {
                Some(url::Host::Ipv4(ip)) => (Host::Ip(ip.into()), ip.to_string()),
                Some(url::Host::Ipv6(ip)) => (Host::Ip(ip.into()), ip.to_string()),
                Some(url::Host::Domain(d)) => {
                    // Non-special schemes keep hosts opaque: find literal
                    // addresses and escapes here.
                    let name = String::from_utf8(percent_decode(d)).map_err(|_| parse_failed())?;
                    if name.is_empty() || name.contains('\0') {
                        return Err(parse_failed());
                    }
                    match name.parse::<IpAddr>() {
                        Ok(ip) => (Host::Ip(ip), ip.to_string()),
                        Err(_) => {
                            let lower = name.to_lowercase();
                            (Host::Name(lower.clone()), lower)
                        }
                    }
                }
                None => return Err(parse_failed()),
            }
        };
        let upper_name =
            matches!(host, Host::Name(_)) && url.host_str().is_some_and(|h| h.bytes().any(|b| b.is_ascii_uppercase()));
        if upper_name {
            let lower = url.host_str().unwrap_or_default().to_ascii_lowercase();
            url.set_host(Some(&lower)).map_err(|_| parse_failed())?;
        }

        // The port scanned here must be the one `url` read (it drops a
        // special scheme's default port).
        if url.port().is_some_and(|p| explicit != Some(p)) {
            return Err(parse_failed());
        }
        let port = match explicit {
            Some(p) if p != 0 || is_unix => p,
            Some(_) => return Err(port_invalid()),
            // A special scheme's default port (`ws` 80, `ftp` 21…) is the
            // one `url` dropped from `ws://h:80/`: it comes first, so that
            // a URL and its normalized form name the same port.
            None => match url.port_or_known_default().or_else(|| default_port(url.scheme())) {
                Some(p) if p != 0 || is_unix => p,
                _ if is_unix => 0,
                _ => return Err(port_invalid()),
            },
        };

        let (unix_serialization, unix_raw_host) = if is_unix {
            let ser = format!("{}{}{}", &url[..Position::BeforeHost], raw.host, &url[Position::AfterHost..]);
            (Some(ser), Some(raw.host.to_string()))
        } else {
            (None, None)
        };
        let user = match url.username() {
            "" => None,
            u => Some(percent_decode_lossy(u)),
        };
        let password = url.password().map(percent_decode_lossy);

        Ok(Uri(std::sync::Arc::new(Parts {
            url,
            unix_serialization,
            unix_raw_host,
            user,
            password,
            host,
            host_str,
            port,
            explicit_port: explicit.is_some(),
        })))
    }

    /// [`parse`](Uri::parse), remembering the last few dozen URLs parsed on
    /// this thread: a service sends its requests to a handful of URLs, and
    /// parsing one (IDNA included) costs more than the rest of a request's
    /// setup. A parsed `Uri` is shared, so the cached copy costs a
    /// reference count.
    pub fn parse_cached(s: &str) -> Result<Uri, Error> {
        use std::cell::RefCell;
        /// Entries kept per thread before the cache starts over.
        const CAPACITY: usize = 64;
        thread_local! {
            // Fx, not SipHash: the keys are the program's own URLs, and
            // the table is small and cleared when full.
            static CACHE: RefCell<rustc_hash::FxHashMap<Box<str>, Result<Uri, Error>>> =
                RefCell::new(rustc_hash::FxHashMap::default());
        }
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if let Some(u) = c.get(s) {
                return u.clone();
            }
            let u = Uri::parse(s);
            if c.len() >= CAPACITY {
                c.clear();
            }
            c.insert(s.into(), u.clone());
            u
        })
    }

    /// The scheme, lowercased.
    ///
    /// ```
    /// assert_eq!(wf_core::net::Uri::parse("HTTPS://h/").unwrap().scheme(), "https");
    /// ```
    pub fn scheme(&self) -> &str {
        self.0.url.scheme()
    }

    /// The user name, percent-decoded; `None` when absent or empty.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("mysql://r%C3%A9mi:pw@db/").unwrap().user(), Some("rémi"));
    /// assert_eq!(Uri::parse("redis://:pw@h/").unwrap().user(), None);
    /// ```
    pub fn user(&self) -> Option<&str> {
        self.0.user.as_deref()
    }

    /// The password, percent-decoded; `None` when absent or empty.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("redis://:p%3Ass@h/").unwrap().password(), Some("p:ss"));
    /// assert_eq!(Uri::parse("redis://h/").unwrap().password(), None);
    /// ```
    pub fn password(&self) -> Option<&str> {
        self.0.password.as_deref()
    }

    /// The host: an address, a name or a Unix socket path.
    ///
    /// ```
    /// use wf_core::net::{Host, Uri};
    /// let ip = Uri::parse("redis://[::1]:6380/").unwrap();
    /// assert_eq!(ip.host(), &Host::Ip("::1".parse().unwrap()));
    /// ```
    pub fn host(&self) -> &Host {
        &self.0.host
    }

    /// The host as text: an IPv6 address without brackets, a name
    /// lowercased, a Unix socket as its decoded path.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("http://[::1]:8080/").unwrap().host_str(), "::1");
    /// assert_eq!(Uri::parse("http://WWW.Example.com/").unwrap().host_str(), "www.example.com");
    /// assert_eq!(Uri::parse("tlv://%2Frun%2Fx.sock").unwrap().host_str(), "/run/x.sock");
    /// ```
    pub fn host_str(&self) -> &str {
        &self.0.host_str
    }

    /// The Unix socket path, when the host is one.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// let u = Uri::parse("tlv://%2Frun%2Fx.sock").unwrap();
    /// assert_eq!(u.unix_path(), Some(std::path::Path::new("/run/x.sock")));
    /// assert_eq!(Uri::parse("http://h/").unwrap().unix_path(), None);
    /// ```
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.0.host {
            Host::Unix(p) => Some(p),
            _ => None,
        }
    }

    /// The port: the URL's, or the scheme's default when it names none
    /// (0 for a Unix socket whose scheme has none).
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("http://h/").unwrap().port(), 80);
    /// assert_eq!(Uri::parse("http://h:8080/").unwrap().port(), 8080);
    /// ```
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// True when the URL names its port, even if it is the default one.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert!(Uri::parse("http://h:80/").unwrap().has_explicit_port());
    /// assert!(!Uri::parse("http://h/").unwrap().has_explicit_port());
    /// ```
    pub fn has_explicit_port(&self) -> bool {
        self.0.explicit_port
    }

    /// The path, percent-encoded as in [`as_str`](Uri::as_str); `"/"` when
    /// the URL has none.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("http://h").unwrap().path(), "/");
    /// assert_eq!(Uri::parse("redis://h/3").unwrap().path(), "/3");
    /// assert_eq!(Uri::parse("http://h/a b").unwrap().path(), "/a%20b");
    /// ```
    pub fn path(&self) -> &str {
        match self.0.url.path() {
            "" => "/",
            p => p,
        }
    }

    /// The query (after `?`, percent-encoded), if any.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("http://h?x=1").unwrap().query(), Some("x=1"));
    /// assert_eq!(Uri::parse("http://h/").unwrap().query(), None);
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.0.url.query()
    }

    /// The fragment (after `#`), if any.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("http://h/#sec").unwrap().fragment(), Some("sec"));
    /// ```
    pub fn fragment(&self) -> Option<&str> {
        self.0.url.fragment()
    }

    /// The path and query, as on an HTTP request line.
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("http://h?x=1#f").unwrap().request_uri(), "/?x=1");
    /// assert_eq!(Uri::parse("http://h/a/b").unwrap().request_uri(), "/a/b");
    /// ```
    pub fn request_uri(&self) -> String {
        let path = self.path();
        match self.query() {
            Some(q) => {
                let mut s = String::with_capacity(path.len() + 1 + q.len());
                s.push_str(path);
                s.push('?');
                s.push_str(q);
                s
            }
            None => path.to_string(),
        }
    }

    /// The normalized URL (scheme and names lowercased, default ports of
    /// `http`/`https` dropped, unsafe characters percent-encoded).
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("HTTP://Example.com:80").unwrap().as_str(), "http://example.com/");
    /// assert_eq!(Uri::parse("redis://%2Ftmp%2Fr.sock/0").unwrap().as_str(), "redis://%2Ftmp%2Fr.sock/0");
    /// ```
    pub fn as_str(&self) -> &str {
        self.0.unix_serialization.as_deref().unwrap_or(self.0.url.as_str())
    }

    /// `host[:port]` as in an HTTP `Host` header: the port is left out when
    /// it is the scheme's default, an IPv6 address is in brackets, and a
    /// Unix socket is its host as written in the URL (percent-encoded).
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// assert_eq!(Uri::parse("http://h:80/").unwrap().authority(), "h");
    /// assert_eq!(Uri::parse("https://h:8443/").unwrap().authority(), "h:8443");
    /// assert_eq!(Uri::parse("http://[::1]:8080/").unwrap().authority(), "[::1]:8080");
    /// ```
    pub fn authority(&self) -> String {
        if let Some(raw) = &self.0.unix_raw_host {
            return raw.clone();
        }
        let host = self.0.url.host_str().unwrap_or(&self.0.host_str);
        if default_port(self.scheme()) == Some(self.0.port) {
            host.to_string()
        } else {
            format!("{host}:{}", self.0.port)
        }
    }

    /// Resolves `location` (absolute, `//host/...`, or relative such as
    /// `../x` or `?q`) against this URL, as for an HTTP redirect's
    /// `Location`. Errors are those of [`Uri::parse`].
    ///
    /// ```
    /// use wf_core::net::Uri;
    /// let base = Uri::parse("http://h:8080/a/b?x").unwrap();
    /// assert_eq!(base.join("c").unwrap().as_str(), "http://h:8080/a/c");
    /// assert_eq!(base.join("/d?y=1").unwrap().as_str(), "http://h:8080/d?y=1");
    /// assert_eq!(base.join("//other/e").unwrap().as_str(), "http://other/e");
    /// assert_eq!(base.join("https://s/").unwrap().port(), 443);
    /// ```
    pub fn join(&self, location: &str) -> Result<Uri, Error> {
        let joined = self.0.url.join(location).map_err(|e| match e {
            url::ParseError::InvalidPort => port_invalid(),
            _ => parse_failed(),
        })?;
        match &self.0.unix_raw_host {
            Some(raw) if joined.host_str() == Some(UNIX_PLACEHOLDER) => {
                Uri::parse(&format!("{}{raw}{}", &joined[..Position::BeforeHost], &joined[Position::AfterHost..]))
            }
            _ => Uri::parse(joined.as_str()),
        }
    }
}

impl fmt::Display for Uri {
    /// The normalized URL, as [`Uri::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Uri {
    type Err = Error;

    /// Same as [`Uri::parse`].
    fn from_str(s: &str) -> Result<Uri, Error> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::State;

    fn code_of(s: &str) -> i32 {
        let e = Uri::parse(s).unwrap_err();
        assert_eq!(e.state(), State::TaskError, "{s}");
        e.code()
    }

    #[test]
    fn a_special_schemes_dropped_default_port_is_kept() {
        // Found by the url fuzz target: `url` drops `:80` from a `ws` URL,
        // and the normalized form must still parse to the same port.
        let u = Uri::parse("Ws://[::7:6:6:8]:080/a").unwrap();
        assert_eq!(u.port(), 80);
        let again = Uri::parse(u.as_str()).unwrap();
        assert_eq!((again.host(), again.port()), (u.host(), 80));
        assert_eq!(Uri::parse("wss://h/").unwrap().port(), 443);
        assert_eq!(Uri::parse("ftp://h/").unwrap().port(), 21);
    }

    #[test]
    fn builtin_ports() {
        for (s, p) in [
            ("http", 80),
            ("https", 443),
            ("redis", 6379),
            ("rediss", 6379),
            ("mysql", 3306),
            ("mysqls", 3306),
            ("kafka", 9092),
            ("kafkas", 9093),
            ("dns", 53),
            ("dnss", 853),
        ] {
            assert_eq!(default_port(s), Some(p));
            assert_eq!(default_port(&s.to_uppercase()), Some(p));
            assert_eq!(Uri::parse(&format!("{s}://h")).unwrap().port(), p);
        }
        assert_eq!(default_port("unit-test-unregistered"), None);
    }

    #[test]
    fn register_overrides() {
        register_scheme_port("Unit-Test-Proto", 1234);
        assert_eq!(default_port("unit-test-proto"), Some(1234));
        let u = Uri::parse("unit-test-proto://h/").unwrap();
        assert_eq!(u.port(), 1234);
        assert_eq!(u.authority(), "h");
        register_scheme_port("UNIT-TEST-PROTO", 4321);
        assert_eq!(Uri::parse("unit-test-proto://h/").unwrap().port(), 4321);
        assert_eq!(u.authority(), "h:1234");
    }

    #[test]
    fn decomposition() {
        let u = Uri::parse("https://user:pass@www.Example.com:8443/p/a%20th?q=1&r=2#frag").unwrap();
        assert_eq!(u.scheme(), "https");
        assert_eq!(u.user(), Some("user"));
        assert_eq!(u.password(), Some("pass"));
        assert_eq!(u.host(), &Host::Name("www.example.com".into()));
        assert_eq!(u.host_str(), "www.example.com");
        assert_eq!(u.port(), 8443);
        assert!(u.has_explicit_port());
        assert_eq!(u.path(), "/p/a%20th");
        assert_eq!(u.query(), Some("q=1&r=2"));
        assert_eq!(u.fragment(), Some("frag"));
        assert_eq!(u.request_uri(), "/p/a%20th?q=1&r=2");
        assert_eq!(u.authority(), "www.example.com:8443");
        assert_eq!(u.as_str(), "https://user:pass@www.example.com:8443/p/a%20th?q=1&r=2#frag");
        assert_eq!(u.to_string(), u.as_str());
        assert_eq!("https://user:pass@www.Example.com:8443/p/a%20th?q=1&r=2#frag".parse::<Uri>().unwrap(), u);

        // Absent parts are None; no path is "/".
        let u = Uri::parse("http://h").unwrap();
        assert_eq!((u.user(), u.password(), u.query(), u.fragment()), (None, None, None, None));
        assert_eq!(u.path(), "/");
        assert!(!u.has_explicit_port());
        let u = Uri::parse("foo://h:7?x").unwrap();
        assert_eq!(u.path(), "/");
        assert_eq!(u.query(), Some("x"));
        assert_eq!(u.request_uri(), "/?x");
        let u = Uri::parse("http://h?aaa/=bbb").unwrap();
        assert_eq!(u.query(), Some("aaa/=bbb"));
        assert_eq!(u.path(), "/");
        // Empty query is kept.
        assert_eq!(Uri::parse("http://h/a?").unwrap().request_uri(), "/a?");
        // Non-ASCII is percent-encoded.
        let u = Uri::parse("http://h/中文#片段").unwrap();
        assert_eq!(u.path(), "/%E4%B8%AD%E6%96%87");
        assert!(u.fragment().is_some());
        // Whitespace around is ignored, like browsers do.
        assert_eq!(Uri::parse("  http://h:81/x \n").unwrap().port(), 81);
    }

    #[test]
    fn userinfo() {
        let u = Uri::parse("redis://:testpass@127.0.0.1:6677/6").unwrap();
        assert_eq!(u.user(), None);
        assert_eq!(u.password(), Some("testpass"));
        assert_eq!(u.host(), &Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(u.port(), 6677);
        assert_eq!(u.path(), "/6");
        let u = Uri::parse("mysql://us%40er:p%3Aw%2Fd@db/x").unwrap();
        assert_eq!(u.user(), Some("us@er"));
        assert_eq!(u.password(), Some("p:w/d"));
        let u = Uri::parse("mysql://a@b@db/x").unwrap();
        assert_eq!(u.host_str(), "db");
        assert_eq!(u.user(), Some("a@b"));
        let u = Uri::parse("http://user:@h/").unwrap();
        assert_eq!((u.user(), u.password()), (Some("user"), None));
    }

    #[test]
    fn hosts() {
        let ip4 = "127.0.0.1".parse::<IpAddr>().unwrap();
        let ip6 = "::1".parse::<IpAddr>().unwrap();
        for s in ["http://127.0.0.1/", "redis://127.0.0.1/", "foo://127.0.0.1:9/"] {
            let u = Uri::parse(s).unwrap();
            assert_eq!(u.host(), &Host::Ip(ip4), "{s}");
            assert_eq!(u.host_str(), "127.0.0.1");
        }
        for s in ["http://[::1]/", "redis://[::1]/", "foo://[::1]:9/", "http://[0:0::1]:80/"] {
            let u = Uri::parse(s).unwrap();
            assert_eq!(u.host(), &Host::Ip(ip6), "{s}");
            assert_eq!(u.host_str(), "::1");
            assert!(u.as_str().contains("[::1]"), "{s}");
        }
        assert_eq!(Uri::parse("http://[::1]:8080/").unwrap().authority(), "[::1]:8080");
        assert_eq!(Uri::parse("http://[::1]:80/").unwrap().authority(), "[::1]");
        assert_eq!(Uri::parse("redis://[::1]/").unwrap().authority(), "[::1]");
        // Names are lowercased for every scheme, in Host and in as_str().
        let u = Uri::parse("redis://MyHost:1/").unwrap();
        assert_eq!(u.host(), &Host::Name("myhost".into()));
        assert_eq!(u.as_str(), "redis://myhost:1/");
        assert_eq!(u.authority(), "myhost:1");
        // Escapes in opaque hosts are decoded.
        assert_eq!(Uri::parse("foo://my%2Dhost:1/").unwrap().host(), &Host::Name("my-host".into()));
        assert_eq!(Uri::parse("foo://%31%32%37.0.0.1:1/").unwrap().host(), &Host::Ip(ip4));
        // IDNA for http.
        assert_eq!(Uri::parse("http://bücher.de/").unwrap().host_str(), "xn--bcher-kva.de");
    }

    #[test]
    fn unix_sockets() {
        let u = Uri::parse("redis://%2Ftmp%2Fredis.sock/0").unwrap();
        assert_eq!(u.host(), &Host::Unix("/tmp/redis.sock".into()));
        assert_eq!(u.host_str(), "/tmp/redis.sock");
        assert_eq!(u.port(), 6379);
        assert_eq!(u.path(), "/0");
        assert_eq!(u.as_str(), "redis://%2Ftmp%2Fredis.sock/0");
        assert_eq!(u.authority(), "%2Ftmp%2Fredis.sock");

        let u = Uri::parse("tlv://%2frun%2Fx.sock").unwrap();
        assert_eq!(u.host(), &Host::Unix("/run/x.sock".into()));
        assert_eq!(u.port(), 0);
        assert!(!u.has_explicit_port());
        assert_eq!(u.path(), "/");

        // http refuses such hosts in the url crate: spliced through.
        let u = Uri::parse("http://user:pw@%2Fvar%2Frun%2Fdocker.sock:0/v1/info?all=1").unwrap();
        assert_eq!(u.host(), &Host::Unix("/var/run/docker.sock".into()));
        assert_eq!(u.port(), 0);
        assert_eq!(u.user(), Some("user"));
        assert_eq!(u.request_uri(), "/v1/info?all=1");
        assert_eq!(u.as_str(), "http://user:pw@%2Fvar%2Frun%2Fdocker.sock:0/v1/info?all=1");
        let j = u.join("/v2?x").unwrap();
        assert_eq!(j.host(), u.host());
        assert_eq!(j.as_str(), "http://user:pw@%2Fvar%2Frun%2Fdocker.sock:0/v2?x");
        let j = u.join("http://elsewhere/").unwrap();
        assert_eq!(j.host(), &Host::Name("elsewhere".into()));

        // Escaped spaces and friends in paths.
        assert_eq!(Uri::parse("tlv://%2Ftmp%2Fa%20b.sock").unwrap().host_str(), "/tmp/a b.sock");
        // Not absolute / NUL / bad UTF-8.
        assert_eq!(code_of("tlv://%2F%00x"), code::URI_PARSE_FAILED);
        assert_eq!(code_of("tlv://%2F%FFx"), code::URI_PARSE_FAILED);
        assert_eq!(code_of("tlv://%2Fx:99999"), code::URI_PORT_INVALID);
    }

    #[test]
    fn errors() {
        for s in [
            "",
            "   ",
            "not a url",
            "http",
            "http:",
            "http:/h/",
            "http:///h/",
            "mailto:a@b",
            "://h/",
            "1http://h/",
            "http://",
            "http://:80/",
            "http://user@/",
            "http://a b/",
            "foo://a b:1/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[zz]/",
            "foo://%FF:1/",
        ] {
            assert_eq!(code_of(s), code::URI_PARSE_FAILED, "{s:?}");
        }
        for s in [
            "http://h:99999/",
            "http://h:65536/",
            "http://h:0/",
            "http://h:00/",
            "http://h:abc/",
            "http://h:-1/",
            "http://h:1:2/",
            "http://h:99999999999999999999/",
            "http://[::1]:x/",
            "foo://h/",
            "foo://h:0/",
            "foo://h:abc/",
        ] {
            assert_eq!(code_of(s), code::URI_PORT_INVALID, "{s:?}");
        }
        assert_eq!(Uri::parse("http://h:65535/").unwrap().port(), 65535);
        assert_eq!(Uri::parse("http://h:0080/").unwrap().port(), 80);
        assert_eq!(Uri::parse("foo://h:1/").unwrap().scheme(), "foo");
        // An empty port means the default one.
        assert_eq!(Uri::parse("http://h:/").unwrap().port(), 80);
        // Registered port 0 is no default.
        register_scheme_port("unit-test-zero", 0);
        assert_eq!(code_of("unit-test-zero://h/"), code::URI_PORT_INVALID);
    }

    #[test]
    fn join() {
        let b = Uri::parse("http://u:p@h:8080/a/b?x#f").unwrap();
        assert_eq!(b.join("c").unwrap().as_str(), "http://u:p@h:8080/a/c");
        assert_eq!(b.join("../..").unwrap().as_str(), "http://u:p@h:8080/");
        assert_eq!(b.join("?y").unwrap().as_str(), "http://u:p@h:8080/a/b?y");
        assert_eq!(b.join("//o:1/z").unwrap().as_str(), "http://o:1/z");
        assert_eq!(b.join("https://s").unwrap().port(), 443);
        assert_eq!(b.join("https://s:0/").unwrap_err().code(), code::URI_PORT_INVALID);
        assert_eq!(b.join("http://h:bad/").unwrap_err().code(), code::URI_PORT_INVALID);
        assert_eq!(b.join("http://[::1/").unwrap_err().code(), code::URI_PARSE_FAILED);
        let r = Uri::parse("redis://h/1").unwrap();
        assert_eq!(r.join("2").unwrap().as_str(), "redis://h/2");
    }

    #[test]
    fn no_panics_on_junk() {
        let samples = [
            "http://",
            "http://[",
            "http://[]",
            "http://[]:",
            "http://@",
            "http://@:",
            "http://%",
            "http://%2",
            "http://%2F",
            "tlv://%2",
            "tlv://%2F",
            "tlv://%2F:",
            "a://b:",
            "a:",
            ":",
            "//",
            "http://h/%",
            "http://h#%zz",
            "\u{0}http://h/",
            "http://\u{7f}/",
            "http://é:1/",
            "x://[v1.x]:1/",
            "http://1.2.3.4.5/",
            // Found by the `url` fuzz target: a host starting with a
            // character of several bytes panicked (a slice inside it).
            "mysql://root:pw@db\u{493}ochcarset=utf2",
            "http://\u{e9}\u{e9}/",
            "http://a\u{10348}/",
        ];
        for s in samples {
            let _ = Uri::parse(s);
            for i in 0..s.len() {
                if s.is_char_boundary(i) {
                    let _ = Uri::parse(&s[..i]);
                }
            }
        }
        assert_eq!(percent_decode("%"), b"%");
        assert_eq!(percent_decode("%2"), b"%2");
        assert_eq!(percent_decode("%41%4a%zz"), b"AJ%zz");
    }

    #[test]
    fn a_backslash_is_data_outside_special_schemes() {
        // Found by the `url` fuzz target: wf's scan ended the authority at
        // the backslash, `url` did not: wf saw no port (3306) where the
        // URL, once normalized, named 16.
        let u = Uri::parse("mysql://r@d\\x@db.al:16").unwrap();
        assert_eq!((u.host_str(), u.port(), u.user()), ("db.al", 16, Some("r@d\\x")));
        let again = Uri::parse(u.as_str()).unwrap();
        assert_eq!((again.host_str(), again.port(), again.user()), ("db.al", 16, Some("r@d\\x")));
        // In http a backslash is a slash.
        let u = Uri::parse("http://h:81\\path").unwrap();
        assert_eq!((u.host_str(), u.port(), u.path()), ("h", 81, "/path"));
    }

    #[test]
    fn a_unix_socket_host_has_no_control_characters() {
        // Found by the `url` fuzz target: a control character ending the
        // raw host stayed in the normalized URL, which then parsed to
        // another path (trimmed).
        assert_eq!(Uri::parse("x://%2Fs\u{1}:").unwrap_err().code(), code::URI_PARSE_FAILED);
        assert_eq!(Uri::parse("x://%2Fs\u{7f}/").unwrap_err().code(), code::URI_PARSE_FAILED);
        assert_eq!(Uri::parse("x://%2Fs/").unwrap().host(), &Host::Unix("/s".into()));
    }
}
