//! A DNS client configured like `resolv.conf` (Workflow's `WFDnsClient`):
//! name servers, search list, `ndots`, `attempts`, `rotate`, timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::message::{DnsMessage, RecordType, rcode};
use super::protocol::query;
use super::resolv_conf::{MAX_SEARCH, MAX_SERVERS, ResolvConf, server_url};
use super::task::{DnsQuery, DnsTask};
use crate::error::{Error, State};
use crate::net::client::ClientOptions;
use crate::net::uri::Uri;
use crate::task::Task;

/// A DNS client: a query goes to its name servers and its search-list
/// names in `resolv.conf`'s order, and the callback gets the first
/// useful reply.
///
/// The order (glibc's and Workflow's): the candidate names are the name
/// as given first when it has at least `ndots` dots (or ends with a dot:
/// then it is the only one), then the name with each search domain, then
/// the name as given if it was not first. For each name, up to `attempts`
/// rounds over the servers, each round from the next server when
/// `rotate` is set. A server that fails (an error, a timeout, `SERVFAIL`,
/// `NOTIMP`, `REFUSED`) passes the query to the next server; a reply
/// saying the name does not exist (`NXDOMAIN`, `FORMERR`, or no answer)
/// passes to the next name. The result is the first reply with an
/// answer, else the last reply, else the last error.
///
/// ```no_run
/// use wf_core::net::dns::{DnsClient, RecordType};
///
/// let client = DnsClient::new("127.0.0.1:5353,dns://[::1]:5353").unwrap().with_search(&["example.test"], 1);
/// let t = client.create_dns_task("www", RecordType::A, |t| {
///     println!("{:?}", t.kind().resp().addrs());
/// });
/// t.start();
/// wf_core::wait_finish();
/// ```
#[derive(Clone, Debug)]
pub struct DnsClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    servers: Vec<Uri>,
    search: Vec<String>,
    ndots: u32,
    attempts: u32,
    rotate: bool,
    timeout: Duration,
    next: AtomicUsize,
}

impl DnsClient {
    /// A client for comma-separated name servers (Workflow's
    /// `WFDnsClient::init(url)`): each `dns://host[:port]`,
    /// `dnss://host[:port]`, an IPv4 or IPv6 address, `IPv4:PORT` or
    /// `[IPv6]:PORT`; `resolv.conf`'s defaults otherwise.
    ///
    /// # Errors
    ///
    /// `TASK_ERROR`/`URI_PARSE_FAILED` when a server is none of these, or
    /// there is none, or more than 8.
    pub fn new(servers: &str) -> Result<DnsClient, Error> {
        let bad = || Error::new(State::TaskError, crate::error::code::URI_PARSE_FAILED);
        let urls: Vec<String> = servers.split(',').map(|s| server_url(s).ok_or_else(bad)).collect::<Result<_, _>>()?;
        if urls.is_empty() || urls.len() > MAX_SERVERS {
            return Err(bad());
        }
        let conf = ResolvConf { servers: urls, ..ResolvConf::default() };
        DnsClient::from_conf(&conf)
    }

    /// A client as a `resolv.conf` says. Without a name server it asks
    /// `127.0.0.1` (glibc's choice; Workflow's is 8.8.8.8).
    ///
    /// # Errors
    ///
    /// `TASK_ERROR`/`URI_PARSE_FAILED` for a server URL that does not parse.
    pub fn from_conf(conf: &ResolvConf) -> Result<DnsClient, Error> {
        let mut servers = conf.servers.iter().map(|s| Uri::parse(s)).collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            servers.push(Uri::parse("dns://127.0.0.1/")?);
        }
        Ok(DnsClient {
            inner: Arc::new(Inner {
                servers,
                search: conf.search.iter().take(MAX_SEARCH).cloned().collect(),
                ndots: conf.ndots,
                attempts: conf.attempts.clamp(1, 5),
                rotate: conf.rotate,
                timeout: conf.timeout,
                next: AtomicUsize::new(0),
            }),
        })
    }

    fn with(&self, f: impl FnOnce(&mut ResolvConf)) -> DnsClient {
        let i = &self.inner;
        let mut conf = ResolvConf {
            servers: i.servers.iter().map(|u| u.as_str().to_owned()).collect(),
            search: i.search.clone(),
            ndots: i.ndots,
            timeout: i.timeout,
            attempts: i.attempts,
            rotate: i.rotate,
        };
        f(&mut conf);
        DnsClient::from_conf(&conf).expect("servers parsed before")
    }

    /// This client with a search list and `ndots` (Workflow's `init`
    /// arguments). Names that cannot be DNS names are left out.
    #[must_use]
    pub fn with_search(&self, search: &[&str], ndots: u32) -> DnsClient {
        self.with(|c| {
            c.search = search
                .iter()
                .filter(|d| super::wire::is_valid_name(d))
                .map(|d| d.trim_end_matches('.').to_owned())
                .take(MAX_SEARCH)
                .collect();
            c.ndots = ndots.min(15);
        })
    }

    /// This client with `attempts` rounds over the servers (1 to 5).
    #[must_use]
    pub fn with_attempts(&self, attempts: u32) -> DnsClient {
        self.with(|c| c.attempts = attempts.clamp(1, 5))
    }

    /// This client starting each query at the next server (`rotate`).
    #[must_use]
    pub fn with_rotate(&self, rotate: bool) -> DnsClient {
        self.with(|c| c.rotate = rotate)
    }

    /// This client waiting `timeout` for each reply (5 s by default).
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> DnsClient {
        self.with(|c| c.timeout = timeout)
    }

    /// The servers, as URLs.
    pub fn servers(&self) -> impl Iterator<Item = &str> {
        self.inner.servers.iter().map(Uri::as_str)
    }

    /// Creates a task asking `name` for `qtype` records (Workflow's
    /// `WFDnsClient::create_dns_task(name, cb)`); its callback gets the
    /// reply chosen as the type says. The query ID is random.
    pub fn create_dns_task(
        &self,
        name: &str,
        qtype: RecordType,
        callback: impl FnOnce(&mut DnsTask) + Send + 'static,
    ) -> DnsTask {
        let mut opts = ClientOptions::default();
        self.apply_options(&mut opts);
        let client = self.clone();
        let absolute = is_absolute(name);
        let plan = Box::new(move |mut req: DnsMessage, opts: ClientOptions| -> super::task::Running {
            Box::pin(async move {
                let r = client.resolve_message(&mut req, absolute, &opts).await;
                (req, r)
            })
        });
        Task::new(DnsQuery::with_plan(DnsMessage::query(name, qtype), opts, plan)).with_callback(callback)
    }

    /// Asks `name` for `qtype` records, outside a task.
    ///
    /// # Errors
    ///
    /// The last server's error when no server gave a reply.
    pub async fn resolve(&self, name: &str, qtype: RecordType) -> Result<DnsMessage, Error> {
        let mut req = DnsMessage::query(name, qtype);
        let mut opts = ClientOptions::default();
        self.apply_options(&mut opts);
        self.resolve_message(&mut req, is_absolute(name), &opts).await
    }

    /// The per-query timeout, on options that do not have one.
    pub(crate) fn apply_options(&self, opts: &mut ClientOptions) {
        opts.set_watch_timeout(Some(self.inner.timeout));
        opts.set_receive_timeout(Some(self.inner.timeout));
    }

    /// The candidate names for `name`, in the order tried: only `name`
    /// when it is `absolute` (written with a final dot).
    fn candidates(&self, name: &str, absolute: bool) -> Vec<String> {
        if absolute || self.inner.search.is_empty() {
            return vec![name.to_owned()];
        }
        let dots = name.matches('.').count() as u32;
        let mut names = Vec::with_capacity(self.inner.search.len() + 1);
        if dots >= self.inner.ndots {
            names.push(name.to_owned());
        }
        for d in &self.inner.search {
            let full = format!("{name}.{d}");
            if super::wire::is_valid_name(&full) {
                names.push(full);
            }
        }
        if dots < self.inner.ndots {
            names.push(name.to_owned());
        }
        names
    }

    /// Resolves the question of `req` (keeping its type, class and
    /// flags), the search list skipped when the caller wrote the name
    /// `absolute` (the question itself has lost its final dot); `req`
    /// ends as the last query sent.
    pub(crate) async fn resolve_message(
        &self,
        req: &mut DnsMessage,
        absolute: bool,
        opts: &ClientOptions,
    ) -> Result<DnsMessage, Error> {
        let Some(q) = req.questions.first().cloned() else { return Err(Error::sys(libc::EINVAL)) };
        let i = &self.inner;
        let n = i.servers.len();
        let start = if i.rotate { i.next.fetch_add(1, Ordering::Relaxed) % n } else { 0 };
        let mut last_reply = None;
        let mut last_error = None;
        for name in self.candidates(&q.name, absolute) {
            'name: for _round in 0..i.attempts {
                for k in 0..n {
                    let uri = &i.servers[(start + k) % n];
                    req.id = 0;
                    req.set_question(&name, q.qtype);
                    req.questions[0].qclass = q.qclass;
                    match query(uri, req, opts).await {
                        Ok(resp) => match resp.rcode() {
                            rcode::NOERROR if !resp.answers.is_empty() => return Ok(resp),
                            rcode::NOERROR | rcode::NXDOMAIN | rcode::FORMERR => {
                                last_reply = Some(resp);
                                break 'name;
                            }
                            _ => {
                                crate::trace::debug!(server = %uri.as_str(), rcode = resp.rcode(), "DNS server failed, trying the next");
                                last_reply = Some(resp);
                            }
                        },
                        Err(e) => {
                            crate::trace::debug!(server = %uri.as_str(), error = %e, "DNS query failed, trying the next server");
                            last_error = Some(e);
                        }
                    }
                }
            }
        }
        match (last_reply, last_error) {
            (Some(r), _) => Ok(r),
            (None, Some(e)) => Err(e),
            (None, None) => Err(Error::new(State::DnsError, libc::EAI_NONAME)),
        }
    }
}

/// Whether `name` ends with a dot that is not part of its last label.
pub(crate) fn is_absolute(name: &str) -> bool {
    name.ends_with('.') && !name.ends_with("\\.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_forms() {
        // Workflow's dns_unittest `WFDnsClientInit2`.
        let c = DnsClient::new("0.0.0.0,0.0.0.1:1,dns://0.0.0.2,dnss://0.0.0.3").unwrap();
        let s: Vec<_> = c.servers().collect();
        assert_eq!(s, ["dns://0.0.0.0/", "dns://0.0.0.1:1/", "dns://0.0.0.2/", "dnss://0.0.0.3/"]);
        assert!(DnsClient::new("bad").is_err());
        assert!(DnsClient::new("").is_err());
        assert!(DnsClient::new(&["10.0.0.1"; 9].join(",")).is_err());
    }

    #[test]
    fn candidate_order() {
        let c = DnsClient::new("127.0.0.1").unwrap().with_search(&["a.test", "b.test"], 1);
        assert_eq!(c.candidates("www", false), ["www.a.test", "www.b.test", "www"]);
        assert_eq!(c.candidates("www.x", false), ["www.x", "www.x.a.test", "www.x.b.test"]);
        assert_eq!(c.candidates("www.x", true), ["www.x"]);
        let c = c.with_search(&["a.test"], 3);
        assert_eq!(c.candidates("a.b", false), ["a.b.a.test", "a.b"]);
        assert_eq!(DnsClient::new("127.0.0.1").unwrap().candidates("x", false), ["x"]);
        assert!(is_absolute("www.x.") && !is_absolute("www.x") && !is_absolute("www.x\\."));
    }
}
