//! Reading `resolv.conf`: name servers, search list and options.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// The largest `resolv.conf` read; the rest is ignored.
pub(crate) const MAX_FILE: usize = 64 * 1024;
/// Name servers kept at most (glibc keeps 3).
pub(crate) const MAX_SERVERS: usize = 8;
/// Search domains kept at most.
pub(crate) const MAX_SEARCH: usize = 8;

/// What a `resolv.conf` says (see `resolv.conf(5)`).
///
/// Lines understood: `nameserver ADDRESS` (an IPv4 or IPv6 address, and
/// as wf and Workflow extensions `ADDRESS:PORT`, `[IPv6]:PORT`,
/// `dns://host[:port]` and `dnss://host[:port]` for DNS over TLS),
/// `search DOMAIN...`, `domain DOMAIN`, and `options` with `ndots:N`
/// (at most 15), `timeout:N` (seconds, at most 30), `attempts:N` (at most
/// 5) and `rotate`. Comments start with `#` or `;`. Other lines are
/// ignored, as by glibc.
///
/// ```
/// use wf_core::net::dns::ResolvConf;
///
/// let c = ResolvConf::parse("nameserver 127.0.0.1:5353\nnameserver ::1\nsearch a.test b.test\noptions ndots:2 rotate\n");
/// assert_eq!(c.servers, vec!["dns://127.0.0.1:5353/", "dns://[::1]/"]);
/// assert_eq!(c.search, vec!["a.test", "b.test"]);
/// assert_eq!((c.ndots, c.rotate), (2, true));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvConf {
    /// Name servers, as `dns://` or `dnss://` URLs, in order.
    pub servers: Vec<String>,
    /// Domains appended to short names, in order.
    pub search: Vec<String>,
    /// A name with at least this many dots is tried as it is first (1).
    pub ndots: u32,
    /// How long one query waits for its reply (5 s).
    pub timeout: Duration,
    /// Rounds over the servers for one name (2).
    pub attempts: u32,
    /// Whether to start with a different server each time (no).
    pub rotate: bool,
}

impl Default for ResolvConf {
    /// glibc's defaults: no server (see [`DnsClient`](super::DnsClient)
    /// for what that means), no search, `ndots:1 timeout:5 attempts:2`.
    fn default() -> ResolvConf {
        ResolvConf {
            servers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            rotate: false,
        }
    }
}

/// A name server as written in `resolv.conf` or given to
/// [`DnsClient::new`](super::DnsClient::new), as a URL; `None` if it is
/// none of the accepted forms.
pub(crate) fn server_url(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("dns://") || lower.starts_with("dnss://") {
        crate::net::uri::Uri::parse(s).ok()?;
        let after = &s[s.find("://")? + 3..];
        let path = if after.contains('/') { "" } else { "/" };
        return Some(format!("{s}{path}"));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(match ip {
            IpAddr::V4(v4) => format!("dns://{v4}/"),
            IpAddr::V6(v6) => format!("dns://[{v6}]/"),
        });
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once(']')?;
        let ip: Ipv6Addr = ip.parse().ok()?;
        return match port {
            "" => Some(format!("dns://[{ip}]/")),
            p => Some(format!("dns://[{ip}]:{}/", p.strip_prefix(':')?.parse::<u16>().ok()?)),
        };
    }
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let ip: std::net::Ipv4Addr = host.parse().ok()?;
    Some(format!("dns://{ip}:{port}/"))
}

impl ResolvConf {
    /// Parses the text of a `resolv.conf` (at most its first 64 KiB).
    /// Lines it cannot use are skipped.
    pub fn parse(text: &str) -> ResolvConf {
        let mut c = ResolvConf::default();
        let text = match text.char_indices().nth(MAX_FILE) {
            Some((i, _)) => &text[..i],
            None => text,
        };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(url) = words.next().and_then(server_url) {
                        if c.servers.len() < MAX_SERVERS {
                            c.servers.push(url);
                        }
                    }
                }
                Some("search") => {
                    c.search = words
                        .filter(|d| super::wire::is_valid_name(d))
                        .map(|d| d.trim_end_matches('.').to_owned())
                        .take(MAX_SEARCH)
                        .collect();
                }
                Some("domain") => {
                    c.search = words
                        .next()
                        .filter(|d| super::wire::is_valid_name(d))
                        .map(|d| vec![d.to_owned()])
                        .unwrap_or_default();
                }
                Some("options") => {
                    for opt in words {
                        let (k, v) = opt.split_once(':').unwrap_or((opt, ""));
                        let n = v.parse::<u32>().ok();
                        match (k, n) {
                            ("ndots", Some(n)) => c.ndots = n.min(15),
                            ("timeout", Some(n)) => c.timeout = Duration::from_secs(u64::from(n.clamp(1, 30))),
                            ("attempts", Some(n)) => c.attempts = n.clamp(1, 5),
                            ("rotate", _) => c.rotate = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        c
    }

    /// Reads and parses a file; a file that cannot be read gives the
    /// defaults (as glibc does without `/etc/resolv.conf`).
    pub fn load(path: &std::path::Path) -> ResolvConf {
        use std::io::Read;
        let mut bytes = Vec::new();
        match std::fs::File::open(path) {
            Ok(f) => {
                if let Err(_e) = f.take(MAX_FILE as u64).read_to_end(&mut bytes) {
                    crate::trace::warning!(path = %path.display(), error = %_e, "resolv.conf unreadable, using defaults");
                    bytes.clear();
                }
            }
            Err(_e) => crate::trace::debug!(path = %path.display(), error = %_e, "no resolv.conf, using defaults"),
        }
        // A stray non-UTF-8 byte (a comment in Latin-1) spoils its line
        // only, not the whole file.
        ResolvConf::parse(&String::from_utf8_lossy(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms() {
        assert_eq!(server_url("10.0.0.1").as_deref(), Some("dns://10.0.0.1/"));
        assert_eq!(server_url("10.0.0.1:5353").as_deref(), Some("dns://10.0.0.1:5353/"));
        assert_eq!(server_url("fe80::1").as_deref(), Some("dns://[fe80::1]/"));
        assert_eq!(server_url("[::1]:53").as_deref(), Some("dns://[::1]:53/"));
        assert_eq!(server_url("[::1]").as_deref(), Some("dns://[::1]/"));
        assert_eq!(server_url("dnss://1.1.1.1").as_deref(), Some("dnss://1.1.1.1/"));
        assert_eq!(server_url("dns://ns.test:54/").as_deref(), Some("dns://ns.test:54/"));
        for bad in ["", "bad", "10.0.0.1:x", "10.0.0.1:70000", "[::1", "[::1]x", "a b", "host:53", "http://x/"] {
            assert_eq!(server_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn parse_everything() {
        let c = ResolvConf::parse(
            "# comment\n; other\nnameserver 127.0.0.1 # trailing\nnameserver bogus\nnameserver [::1]:5300\n\
             domain x.test\nsearch a.test b.test. bad..name\noptions ndots:99 timeout:0 attempts:9 rotate unknown:1\n\
             sortlist 1.2.3.4\n",
        );
        assert_eq!(c.servers, vec!["dns://127.0.0.1/", "dns://[::1]:5300/"]);
        assert_eq!(c.search, vec!["a.test", "b.test"]);
        assert_eq!((c.ndots, c.timeout, c.attempts, c.rotate), (15, Duration::from_secs(1), 5, true));
        let d = ResolvConf::parse("search a.test\ndomain d.test\n");
        assert_eq!(d.search, vec!["d.test"]);
        assert_eq!(ResolvConf::parse(""), ResolvConf::default());
    }

    #[test]
    fn hostile_sizes_bounded() {
        let mut text = "nameserver 10.0.0.1\n".repeat(100);
        text.push_str(&format!("search {}\n", "d.test ".repeat(10_000)));
        let c = ResolvConf::parse(&text);
        assert_eq!(c.servers.len(), MAX_SERVERS);
        assert_eq!(c.search.len(), MAX_SEARCH);
        let missing = ResolvConf::load(std::path::Path::new("/nonexistent/resolv.conf"));
        assert_eq!(missing, ResolvConf::default());
    }

    #[test]
    fn non_utf8_byte_spoils_only_its_line() {
        let path = std::env::temp_dir().join(format!("wf-resolv-{}.conf", std::process::id()));
        std::fs::write(&path, b"# caf\xe9\nnameserver 10.0.0.9\n").unwrap();
        let c = ResolvConf::load(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(c.servers, vec!["dns://10.0.0.9/"]);
    }
}
