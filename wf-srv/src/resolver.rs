//! A small DNS client: one server, UDP with a timeout and retries, TCP
//! when a reply comes back truncated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use crate::error::DnsError;
use crate::wire::{self, Header, Message, RData};

/// Where the system's DNS servers are listed.
const RESOLV_CONF: &str = "/etc/resolv.conf";
/// Read at most this much of it.
const RESOLV_CONF_MAX: u64 = 64 << 10;

/// Asks one DNS server, with its own small client: a query over UDP from a
/// random port with a random ID, the reply's ID and question checked
/// (replies that do not match are dropped, as a spoofed one would be),
/// each attempt bounded by a timeout, and a truncated reply asked again
/// over TCP. Every reply is decoded within the limits of [`wire`].
///
/// ```
/// use std::time::Duration;
/// # let dns = testkit::Dnsmasq::builder()
/// #     .srv("_http._tcp.example.test", "a.example.test", 8080, 10, 5)
/// #     .host("a.example.test", "127.0.0.1")
/// #     .start();
/// # let server = dns.addr();
/// let resolver = wf_srv::Resolver::new(server).timeout(Duration::from_secs(1));
/// let found = wf_core::handle().block_on(resolver.lookup_srv("_http._tcp.example.test"))?;
/// for s in &found.servers {
///     println!("{} priority {} weight {}", s.addr, s.priority, s.weight);
/// }
/// assert_eq!(found.servers[0].addr, "127.0.0.1:8080".parse().unwrap());
/// # Ok::<(), wf_srv::DnsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Resolver {
    server: SocketAddr,
    timeout: Duration,
    attempts: u32,
}

/// How one UDP attempt ended without a reply to use.
enum Miss {
    /// No matching reply in time; the last reply dropped, if any, said why.
    Timeout(Option<DnsError>),
    /// A socket error.
    Io(DnsError),
    /// A matching reply that does not decode: asking again will not help.
    Bad(DnsError),
}

impl Resolver {
    /// Asks `server`, 2 s per attempt, 3 attempts.
    pub fn new(server: SocketAddr) -> Resolver {
        Resolver { server, timeout: Duration::from_secs(2), attempts: 3 }
    }

    /// Asks the first `nameserver` of `/etc/resolv.conf`, on port 53.
    pub fn from_resolv_conf() -> Result<Resolver, DnsError> {
        use std::io::Read;
        let mut text = String::new();
        let file = std::fs::File::open(RESOLV_CONF).map_err(DnsError::from)?;
        // A file that is not text has no usable line.
        let _ = file.take(RESOLV_CONF_MAX).read_to_string(&mut text);
        first_nameserver(&text).map(Resolver::new).ok_or(DnsError::NoServer)
    }

    /// How long each attempt waits for a reply (a TCP retry included).
    pub fn timeout(mut self, timeout: Duration) -> Resolver {
        self.timeout = timeout;
        self
    }

    /// How many UDP attempts a query makes (at least 1).
    pub fn attempts(mut self, attempts: u32) -> Resolver {
        self.attempts = attempts.max(1);
        self
    }

    /// The server asked.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Asks for the records of `qtype` (class IN) of `name` and returns the
    /// decoded reply.
    ///
    /// The reply's response code must be 0 (3 is
    /// [`NameNotFound`](DnsError::NameNotFound), others
    /// [`ServerError`](DnsError::ServerError)). Attempts that get no reply
    /// or a socket error are retried; a reply that does not decode fails at
    /// once.
    pub async fn query(&self, name: &str, qtype: u16) -> Result<Message, DnsError> {
        let mut last = DnsError::Timeout;
        for _ in 0..self.attempts {
            let id = random_id();
            let query = wire::encode_query(id, name, qtype)?;
            match self.udp(id, &query, name, qtype).await {
                Ok(msg) if msg.header.truncated() => return self.tcp(id, &query, name, qtype).await.and_then(rcode),
                Ok(msg) => return rcode(msg),
                Err(Miss::Timeout(seen)) => last = seen.unwrap_or(DnsError::Timeout),
                Err(Miss::Io(e)) => last = e,
                Err(Miss::Bad(e)) => return Err(e),
            }
        }
        Err(last)
    }

    /// The IPv4 and IPv6 addresses of `name` (an A and an AAAA query), and
    /// the lowest TTL among them, in seconds.
    pub async fn lookup_ip(&self, name: &str) -> Result<(Vec<IpAddr>, u32), DnsError> {
        let mut ips = Vec::new();
        let mut ttl = u32::MAX;
        let mut last = DnsError::NoRecords;
        for qtype in [wire::TYPE_A, wire::TYPE_AAAA] {
            match self.query(name, qtype).await {
                Ok(msg) => {
                    for (ip, t) in addresses_of(&msg.answers, name) {
                        ips.push(ip);
                        ttl = ttl.min(t);
                    }
                }
                Err(DnsError::NameNotFound) => return Err(DnsError::NameNotFound),
                Err(e) => last = e,
            }
        }
        if ips.is_empty() { Err(last) } else { Ok((ips, ttl)) }
    }

    /// One UDP attempt: the first reply that matches the query, decoded.
    async fn udp(&self, id: u16, query: &[u8], name: &str, qtype: u16) -> Result<Message, Miss> {
        let io = |e: std::io::Error| Miss::Io(e.into());
        let local: SocketAddr = match self.server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let sock = UdpSocket::bind(local).await.map_err(io)?;
        // Connected: datagrams from anyone else are not even received.
        sock.connect(self.server).await.map_err(io)?;
        sock.send(query).await.map_err(io)?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = vec![0u8; wire::MAX_MESSAGE];
        let mut seen = None;
        loop {
            let n = match timeout_at(deadline, sock.recv(&mut buf)).await {
                Err(_) => return Err(Miss::Timeout(seen)),
                Ok(Err(e)) => return Err(io(e)),
                Ok(Ok(n)) => n,
            };
            let reply = &buf[..n];
            match Header::decode(reply) {
                Ok(h) if h.is_response() && h.id == id => {
                    if h.truncated() {
                        // The body may be cut anywhere: only the header counts.
                        let header = h;
                        return Ok(Message {
                            header,
                            questions: Vec::new(),
                            answers: Vec::new(),
                            authority: Vec::new(),
                            additional: Vec::new(),
                        });
                    }
                    let msg = Message::decode(reply).map_err(Miss::Bad)?;
                    match check_question(&msg, name, qtype) {
                        Ok(()) => return Ok(msg),
                        Err(e) => seen = Some(e),
                    }
                }
                Ok(_) => seen = Some(DnsError::IdMismatch),
                Err(e) => seen = Some(e),
            }
        }
    }

    /// The query again over TCP (a reply was truncated), under one timeout.
    async fn tcp(&self, id: u16, query: &[u8], name: &str, qtype: u16) -> Result<Message, DnsError> {
        let exchange = async {
            let mut stream = TcpStream::connect(self.server).await?;
            let mut framed = Vec::with_capacity(2 + query.len());
            framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
            framed.extend_from_slice(query);
            stream.write_all(&framed).await?;
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await?;
            // At most 65535 bytes: the length prefix bounds it.
            let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut reply).await?;
            Ok::<_, std::io::Error>(reply)
        };
        let reply = match timeout_at(Instant::now() + self.timeout, exchange).await {
            Err(_) => return Err(DnsError::Timeout),
            Ok(r) => r?,
        };
        let msg = Message::decode(&reply)?;
        if !msg.header.is_response() || msg.header.id != id {
            return Err(DnsError::IdMismatch);
        }
        check_question(&msg, name, qtype)?;
        Ok(msg)
    }
}

/// The reply's answers, or the error its response code says.
fn rcode(msg: Message) -> Result<Message, DnsError> {
    match msg.header.rcode() {
        wire::RCODE_NOERROR => Ok(msg),
        wire::RCODE_NXDOMAIN => Err(DnsError::NameNotFound),
        other => Err(DnsError::ServerError(other)),
    }
}

/// A reply must repeat the question (a server that refuses may leave it
/// out).
fn check_question(msg: &Message, name: &str, qtype: u16) -> Result<(), DnsError> {
    match msg.questions.as_slice() {
        [] if msg.header.rcode() != wire::RCODE_NOERROR => Ok(()),
        [q] if q.qtype == qtype && q.qclass == wire::CLASS_IN && wire::same_name(&q.name, name) => Ok(()),
        _ => Err(DnsError::QuestionMismatch),
    }
}

/// The A and AAAA records of class IN owned by `name`, with their TTLs.
pub(crate) fn addresses_of<'a>(records: &'a [wire::Record], name: &'a str) -> impl Iterator<Item = (IpAddr, u32)> + 'a {
    records.iter().filter(move |r| r.class == wire::CLASS_IN && wire::same_name(&r.name, name)).filter_map(|r| match r
        .data
    {
        RData::A(ip) => Some((IpAddr::V4(ip), r.ttl)),
        RData::Aaaa(ip) => Some((IpAddr::V6(ip), r.ttl)),
        _ => None,
    })
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: the clock's nanoseconds still vary per query.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        return nanos as u16 ^ (nanos >> 16) as u16;
    }
    u16::from_be_bytes(b)
}

/// The first `nameserver` line's address of a resolv.conf text, port 53
/// (an IPv6 zone, `%eth0`, is dropped).
fn first_nameserver(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != "nameserver" {
            return None;
        }
        let addr = words.next()?;
        let ip: IpAddr = addr.split('%').next()?.parse().ok()?;
        Some(SocketAddr::new(ip, 53))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_parsing() {
        let text = "# comment\nsearch example\nnameserver bogus\nnameserver fe80::1%eth0\nnameserver 10.0.0.1\n";
        assert_eq!(first_nameserver(text), Some("[fe80::1]:53".parse().unwrap()));
        assert_eq!(first_nameserver("options ndots:2\nnameserver 1.2.3.4"), Some("1.2.3.4:53".parse().unwrap()));
        assert_eq!(first_nameserver("domain x\n"), None);
    }

    #[test]
    fn ids_vary() {
        let ids: std::collections::HashSet<u16> = (0..64).map(|_| random_id()).collect();
        assert!(ids.len() > 1);
    }
}
