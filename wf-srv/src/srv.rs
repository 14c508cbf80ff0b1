//! SRV lookups: records to addresses (RFC 2782).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::error::DnsError;
use crate::resolver::{Resolver, addresses_of};
use crate::trace;
use crate::wire::{self, RData};

/// The most servers one lookup gives: a 64 KiB reply pairing every SRV
/// record with every address of its target could otherwise name ~262k.
pub(crate) const MAX_SERVERS: usize = 4096;

/// At most this many SRV targets are resolved with queries of their own
/// per lookup (the others must come with addresses in the reply).
pub const MAX_TARGET_QUERIES: usize = 32;
/// At most this many CNAME hops are followed within one reply.
const MAX_ALIASES: usize = 8;

/// One server a SRV lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvServer {
    /// The target's address and the record's port.
    pub addr: SocketAddr,
    /// The target's name.
    pub target: String,
    /// The record's priority: lower is preferred.
    pub priority: u16,
    /// The record's weight among records of its priority (0 is kept as is).
    pub weight: u16,
}

/// What [`Resolver::lookup_srv`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvLookup {
    /// One entry per SRV record and address of its target, in the order of
    /// the records, then of the addresses.
    pub servers: Vec<SrvServer>,
    /// The lowest TTL of the SRV and address records used.
    pub ttl: Duration,
}

impl Resolver {
    /// Looks up the SRV records of `name` (`_service._proto.domain`) and
    /// the addresses of their targets: from the reply's additional section
    /// when it holds them, else with A and AAAA queries to the same server
    /// (for up to [`MAX_TARGET_QUERIES`] targets).
    ///
    /// A record whose target is `.` ("no service here") is skipped, and so
    /// is a target that does not resolve (a `tracing` warning says which).
    /// No server left is [`NoRecords`](DnsError::NoRecords), or the error of
    /// the last target that failed.
    pub async fn lookup_srv(&self, name: &str) -> Result<SrvLookup, DnsError> {
        let msg = self.query(name, wire::TYPE_SRV).await?;
        // The owner names the SRV records may have: the name, and the
        // aliases the reply's CNAME records lead to.
        let mut owners = vec![name.to_owned()];
        while owners.len() <= MAX_ALIASES {
            let last = owners.last().map(String::as_str).unwrap_or(name);
            let next = msg.answers.iter().find_map(|r| match &r.data {
                RData::Cname(t) if wire::same_name(&r.name, last) => Some(t.clone()),
                _ => None,
            });
            match next {
                Some(t) if !owners.iter().any(|o| wire::same_name(o, &t)) => owners.push(t),
                _ => break,
            }
        }
        let records: Vec<(&wire::Srv, u32)> = msg
            .answers
            .iter()
            .filter(|r| r.class == wire::CLASS_IN && owners.iter().any(|o| wire::same_name(o, &r.name)))
            .filter_map(|r| match &r.data {
                RData::Srv(s) if !s.target.is_empty() => Some((s, r.ttl)),
                _ => None,
            })
            .collect();
        let mut ttl = records.iter().map(|(_, t)| *t).min().ok_or(DnsError::NoRecords)?;
        let mut resolved: HashMap<String, Vec<IpAddr>> = HashMap::new();
        let mut queries = 0;
        let mut last_error = DnsError::NoRecords;
        let mut servers = Vec::new();
        for (srv, _) in &records {
            let key = srv.target.to_ascii_lowercase();
            if !resolved.contains_key(&key) {
                let mut ips: Vec<IpAddr> = Vec::new();
                if let Ok(ip) = srv.target.parse::<IpAddr>() {
                    ips.push(ip);
                }
                for (ip, t) in addresses_of(&msg.additional, &srv.target).chain(addresses_of(&msg.answers, &srv.target))
                {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                        ttl = ttl.min(t);
                    }
                }
                if ips.is_empty() && queries < MAX_TARGET_QUERIES {
                    queries += 1;
                    match self.lookup_ip(&srv.target).await {
                        Ok((found, t)) => {
                            ips = found;
                            ttl = ttl.min(t);
                        }
                        Err(e) => {
                            trace::warning!(srv = name, target = %srv.target, error = %e, "SRV target does not resolve; skipped");
                            last_error = e;
                        }
                    }
                } else if ips.is_empty() {
                    trace::warning!(srv = name, target = %srv.target, "too many SRV targets to resolve; skipped");
                }
                resolved.insert(key.clone(), ips);
            }
            for ip in &resolved[&key] {
                if servers.len() >= MAX_SERVERS {
                    break;
                }
                servers.push(SrvServer {
                    addr: SocketAddr::new(*ip, srv.port),
                    target: srv.target.clone(),
                    priority: srv.priority,
                    weight: srv.weight,
                });
            }
        }
        if servers.is_empty() {
            return Err(last_error);
        }
        Ok(SrvLookup { servers, ttl: Duration::from_secs(u64::from(ttl)) })
    }
}
