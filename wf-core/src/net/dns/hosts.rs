//! Reading a hosts file (`/etc/hosts`): names to addresses.

use std::collections::HashMap;
use std::net::IpAddr;

/// The largest hosts file read; the rest is ignored.
pub(crate) const MAX_FILE: usize = 1 << 20;

/// The names and addresses of a hosts file (`hosts(5)`): `ADDRESS NAME
/// [ALIAS...]` per line, `#` comments. Names are matched without case;
/// a name on several lines gets every address, in order.
///
/// ```
/// use wf_core::net::dns::Hosts;
///
/// let h = Hosts::parse("127.0.0.1 localhost\n::1 localhost ip6-localhost # v6\n");
/// assert_eq!(h.get("LOCALHOST").len(), 2);
/// assert!(h.get("example.com").is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hosts {
    names: HashMap<String, Vec<IpAddr>>,
}

impl Hosts {
    /// Parses the text of a hosts file (at most its first MiB).
    pub fn parse(text: &str) -> Hosts {
        let mut names: HashMap<String, Vec<IpAddr>> = HashMap::new();
        let text = if text.len() > MAX_FILE {
            let mut end = MAX_FILE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        } else {
            text
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            // A scope suffix (fe80::1%eth0) is not kept.
            let Some(ip) = words.next().and_then(|w| w.split('%').next()?.parse::<IpAddr>().ok()) else { continue };
            for name in words {
                let addrs = names.entry(name.trim_end_matches('.').to_ascii_lowercase()).or_default();
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
        }
        Hosts { names }
    }

    /// Reads and parses a file; one that cannot be read is empty.
    pub fn load(path: &std::path::Path) -> Hosts {
        use std::io::Read;
        let mut bytes = Vec::new();
        if let Ok(f) = std::fs::File::open(path) {
            let _ = f.take(MAX_FILE as u64).read_to_end(&mut bytes);
        }
        Hosts::parse(&String::from_utf8_lossy(&bytes))
    }

    /// The addresses of `name` (empty if it is not in the file).
    pub fn get(&self, name: &str) -> &[IpAddr] {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        self.names.get(&key).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let h = Hosts::parse(
            "127.0.0.1\tlocalhost loopback\n# 10.0.0.9 commented\nbogus name\n10.0.0.1 a.test. # c\n\
             10.0.0.2 A.TEST\n10.0.0.1 a.test\nfe80::1%lo link.test\n",
        );
        assert_eq!(h.get("localhost"), &["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(h.get("loopback").len(), 1);
        assert!(h.get("commented").is_empty() && h.get("name").is_empty());
        let a: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert_eq!(h.get("a.test."), &a[..]);
        assert_eq!(h.get("link.test"), &["fe80::1".parse::<IpAddr>().unwrap()]);
        assert_eq!(Hosts::load(std::path::Path::new("/nonexistent/hosts")), Hosts::default());
    }
}
