//! The asynchronous resolver (Workflow's default mode): the hosts file,
//! then the name servers of `resolv.conf`, A and AAAA asked in parallel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::client::DnsClient;
use super::hosts::Hosts;
use super::message::{DnsMessage, RecordType, rcode};
use super::resolv_conf::ResolvConf;
use crate::error::{Error, State};
use crate::net::client::ClientOptions;
use crate::runtime::AddressFamily;

/// What the resolver reads once, at its first lookup: the hosts file and
/// a client for the name servers.
#[derive(Debug)]
pub(crate) struct Resolver {
    hosts: Hosts,
    client: DnsClient,
    /// The families worth asking the name servers for when
    /// `AddressFamily::Unspecified`: see [`routable_families`].
    routable: AddressFamily,
}

impl Resolver {
    /// From the files the settings name.
    pub(crate) fn from_settings() -> Resolver {
        let s = crate::settings();
        let hosts = Hosts::load(&s.hosts_path);
        let mut conf = ResolvConf::load(&s.resolv_conf_path);
        // A server known by name would need this resolver to find it: a
        // lookup waiting for itself. Only addresses are kept.
        conf.servers.retain(|url| {
            let literal = crate::net::uri::Uri::parse(url).is_ok_and(|u| matches!(u.host(), crate::net::Host::Ip(_)));
            if !literal {
                crate::trace::warning!(server = %url, "resolv.conf: a name server given by name is ignored");
            }
            literal
        });
        let client = DnsClient::from_conf(&conf).unwrap_or_else(|_e| {
            crate::trace::warning!(error = %_e, "resolv.conf: a name server does not parse, asking 127.0.0.1");
            DnsClient::new("127.0.0.1").expect("a literal server")
        });
        Resolver { hosts, client, routable: routable_families() }
    }
}

/// What getaddrinfo's `AI_ADDRCONFIG` checks, once: which families this
/// host can reach beyond loopback, found by "connecting" a UDP socket to
/// a documentation address of each (a route lookup, no packet is sent).
/// `Ipv4` or `Ipv6` when only that family has a route; `Unspecified` when
/// both have, or neither (a host without any network still asks both, for
/// servers on loopback).
fn routable_families() -> AddressFamily {
    fn routable(local: IpAddr, remote: IpAddr) -> bool {
        std::net::UdpSocket::bind((local, 0)).and_then(|s| s.connect((remote, 53))).is_ok()
    }
    let v4 = routable(Ipv4Addr::UNSPECIFIED.into(), Ipv4Addr::new(192, 0, 2, 1).into());
    let v6 = routable(Ipv6Addr::UNSPECIFIED.into(), Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into());
    crate::trace::debug!(v4, v6, "DNS: address families with a route");
    match (v4, v6) {
        (true, false) => AddressFamily::Ipv4,
        (false, true) => AddressFamily::Ipv6,
        _ => AddressFamily::Unspecified,
    }
}

fn dns_err(eai: i32) -> Error {
    Error::new(State::DnsError, eai)
}

fn wanted(ip: &IpAddr, family: AddressFamily) -> bool {
    match family {
        AddressFamily::Unspecified => true,
        AddressFamily::Ipv4 => ip.is_ipv4(),
        AddressFamily::Ipv6 => ip.is_ipv6(),
    }
}

/// Resolves `host` for `port`: the hosts file, the special names of RFC
/// 6761 (`localhost` is the loopback, `.invalid` never exists), then the
/// name servers, one query per address family at once. With
/// `AddressFamily::Unspecified` the name servers are asked only for the
/// families the host has a route for (as `AI_ADDRCONFIG` does: no AAAA
/// on an IPv4-only host); the hosts file and `localhost` are not filtered. Failures are
/// `DNS_ERROR` with an `EAI_*` code: `EAI_NONAME` (no such name, or no
/// address of the family), `EAI_AGAIN` (no server answered).
pub(crate) async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    let family = crate::settings().address_family;
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7f) || !super::wire::is_valid_name(&name) {
        return Err(dns_err(libc::EAI_NONAME));
    }
    let r = crate::global::dns_resolver();
    let from_hosts: Vec<SocketAddr> =
        r.hosts.get(&name).iter().filter(|ip| wanted(ip, family)).map(|ip| SocketAddr::new(*ip, port)).collect();
    if !from_hosts.is_empty() {
        return Ok(from_hosts);
    }
    if name == "localhost" || name.ends_with(".localhost") {
        let all = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
        return Ok(all.iter().filter(|ip| wanted(ip, family)).map(|ip| SocketAddr::new(*ip, port)).collect());
    }
    if name == "invalid" || name.ends_with(".invalid") {
        return Err(dns_err(libc::EAI_NONAME));
    }
    let _permit = crate::global::dns_server_limit().acquire().await.map_err(|_| dns_err(libc::EAI_AGAIN))?;
    let mut opts = ClientOptions::default();
    opts.set_endpoint_params(crate::settings().dns_server_params.clone());
    r.client.apply_options(&mut opts);
    // The name servers are addresses: a route the user set for their own
    // requests (a default route, an upstream) has no say over them.
    opts.set_route(crate::net::route::DnsRoute::shared());
    let ask = |qtype| {
        let opts = opts.clone();
        async move {
            let mut req = DnsMessage::query(host, qtype);
            r.client.resolve_message(&mut req, super::client::is_absolute(host), &opts).await
        }
    };
    let asked = if family == AddressFamily::Unspecified { r.routable } else { family };
    let (v4, v6) = match asked {
        AddressFamily::Unspecified => tokio::join!(ask(RecordType::A), ask(RecordType::AAAA)),
        AddressFamily::Ipv4 => (ask(RecordType::A).await, Err(dns_err(libc::EAI_NONAME))),
        AddressFamily::Ipv6 => (Err(dns_err(libc::EAI_NONAME)), ask(RecordType::AAAA).await),
    };
    let mut out = Vec::new();
    let mut error = None;
    for (r, qtype) in [(v4, RecordType::A), (v6, RecordType::AAAA)] {
        match r {
            Ok(resp) => {
                let addrs = resp.answers.iter().filter(|a| a.rtype == qtype).filter_map(|a| a.ip());
                for ip in addrs.filter(|ip| wanted(ip, family)) {
                    let sa = SocketAddr::new(ip, port);
                    if !out.contains(&sa) {
                        out.push(sa);
                    }
                }
                if matches!(resp.rcode(), rcode::NOERROR | rcode::NXDOMAIN) {
                    error.get_or_insert(dns_err(libc::EAI_NONAME));
                } else {
                    error = Some(dns_err(libc::EAI_AGAIN));
                }
            }
            Err(e) if e.state() == State::DnsError => {
                error.get_or_insert(e);
            }
            Err(_e) => {
                crate::trace::debug!(host, error = %_e, "no DNS server answered");
                error = Some(dns_err(libc::EAI_AGAIN));
            }
        }
    }
    if out.is_empty() {
        return Err(error.unwrap_or_else(|| dns_err(libc::EAI_NONAME)));
    }
    Ok(out)
}
