//! Server addresses: `ip`, `host`, `ip:port`, `host:port`, `[v6]`,
//! `[v6]:port`, or a Unix socket path (starting with `/`).

use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::{Error, code};

/// Longest Unix socket path (`sun_path` holds 108 bytes with the NUL).
const UNIX_PATH_MAX: usize = 107;
/// Longest host name (RFC 1035).
const HOST_MAX: usize = 253;

/// Where a server is, as its address string says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Dest {
    /// A literal IP address, with the port if the address has one.
    Ip(IpAddr, Option<u16>),
    /// A host name (lower case) to resolve, with the port if any.
    Name(std::sync::Arc<str>, Option<u16>),
    /// A Unix domain socket.
    Unix(PathBuf),
}

fn bad() -> Error {
    Error::task(code::URI_PARSE_FAILED)
}

fn port(s: &str) -> Result<u16, Error> {
    let p: u16 = match s.parse() {
        Ok(p) if !s.starts_with('+') => p,
        _ => return Err(Error::task(code::URI_PORT_INVALID)),
    };
    if p == 0 {
        return Err(Error::task(code::URI_PORT_INVALID));
    }
    Ok(p)
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= HOST_MAX
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !h.starts_with('.')
        && !h.split('.').any(|label| label.len() > 63)
}

/// Parses a server address; a bad one is `TASK_ERROR`/`URI_PARSE_FAILED`
/// (`URI_PORT_INVALID` for a bad port).
pub(crate) fn parse(address: &str) -> Result<Dest, Error> {
    if address.starts_with('/') {
        if address.len() > UNIX_PATH_MAX || address.contains('\0') {
            return Err(bad());
        }
        return Ok(Dest::Unix(PathBuf::from(address)));
    }
    if let Some(rest) = address.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
        let ip: std::net::Ipv6Addr = ip.parse().map_err(|_| bad())?;
        let p = match after {
            "" => None,
            _ => Some(port(after.strip_prefix(':').ok_or_else(bad)?)?),
        };
        return Ok(Dest::Ip(IpAddr::V6(ip), p));
    }
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(Dest::Ip(ip, None));
    }
    let (host, p) = match address.split_once(':') {
        Some((h, p)) => (h, Some(port(p)?)),
        None => (address, None),
    };
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return Ok(Dest::Ip(IpAddr::V4(ip), p));
    }
    if !valid_host(host) {
        return Err(bad());
    }
    Ok(Dest::Name(host.to_ascii_lowercase().into(), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(parse("127.0.0.1").unwrap(), Dest::Ip(ip("127.0.0.1"), None));
        assert_eq!(parse("127.0.0.1:8080").unwrap(), Dest::Ip(ip("127.0.0.1"), Some(8080)));
        assert_eq!(parse("::1").unwrap(), Dest::Ip(ip("::1"), None));
        assert_eq!(parse("[::1]").unwrap(), Dest::Ip(ip("::1"), None));
        assert_eq!(parse("[::1]:99").unwrap(), Dest::Ip(ip("::1"), Some(99)));
        assert_eq!(parse("LocalHost").unwrap(), Dest::Name("localhost".into(), None));
        assert_eq!(parse("a.b-c_d:65535").unwrap(), Dest::Name("a.b-c_d".into(), Some(65535)));
        assert_eq!(parse("/tmp/s.sock").unwrap(), Dest::Unix("/tmp/s.sock".into()));
    }

    #[test]
    fn bad_addresses_are_errors() {
        let long_host = "a".repeat(254);
        let long_label = format!("{}.com", "a".repeat(64));
        let long_path = format!("/{}", "p".repeat(107));
        for a in [
            "",
            ":80",
            "host:",
            "host:0",
            "host:65536",
            "host:+80",
            "host:80:81",
            "host:80/path",
            "http://host:80",
            "ho st",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[nope]:80",
            "[127.0.0.1]:80",
            ".host",
            "host\0",
            "/a\0b",
            long_host.as_str(),
            long_label.as_str(),
            long_path.as_str(),
        ] {
            let e = parse(a).unwrap_err();
            assert_eq!(e.state(), crate::State::TaskError, "{a:?}");
            assert!([code::URI_PARSE_FAILED, code::URI_PORT_INVALID].contains(&e.code()), "{a:?}: {e:?}");
        }
    }
}
