//! DNS client tasks (Workflow's `WFDnsTask`): one query to one server, by
//! URL, over UDP with a fallback to TCP on a truncated reply, or over TLS.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::message::{DnsMessage, RecordType};
use super::protocol::query;
use crate::error::Error;
use crate::net::client::{ClientKind, ClientOptions};
use crate::net::uri::Uri;
use crate::task::{RunContext, Task, TaskKind};

pub(crate) type Running = Pin<Box<dyn Future<Output = (DnsMessage, Result<DnsMessage, Error>)> + Send>>;

/// How a query is answered: the query and the options in, a future giving
/// the query as sent and the outcome.
pub(crate) type Plan = Box<dyn FnOnce(DnsMessage, ClientOptions) -> Running + Send>;

enum Target {
    Url(Result<Uri, Error>),
    Plan(Option<Plan>),
}

/// The kind of a [`DnsTask`]: the query, the reply, the options, and where
/// the query goes (a server's URL, or a [`DnsClient`](super::DnsClient)'s
/// servers).
pub struct DnsQuery {
    target: Target,
    req: DnsMessage,
    resp: DnsMessage,
    opts: ClientOptions,
    running: Option<Running>,
}

/// A DNS client task: its callback gets the query ([`req`](DnsQuery::req))
/// and the reply ([`resp`](DnsQuery::resp)). A reply is a success whatever
/// its response code: check [`DnsMessage::rcode`].
pub type DnsTask = Task<DnsQuery>;

impl std::fmt::Debug for DnsQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsQuery").field("req", &self.req).field("resp", &self.resp).finish_non_exhaustive()
    }
}

impl DnsQuery {
    /// The query, to fill or change before start.
    pub fn req(&self) -> &DnsMessage {
        &self.req
    }

    /// The query, to fill or change before start (Workflow's
    /// `get_req()->set_question(...)`).
    pub fn req_mut(&mut self) -> &mut DnsMessage {
        &mut self.req
    }

    /// The reply (empty until the task succeeded).
    pub fn resp(&self) -> &DnsMessage {
        &self.resp
    }

    /// The reply, to take from in the callback.
    pub fn resp_mut(&mut self) -> &mut DnsMessage {
        &mut self.resp
    }

    /// A task asking `req` with `opts` as `plan` says (a
    /// [`DnsClient`](super::DnsClient)'s order of names and servers).
    pub(crate) fn with_plan(req: DnsMessage, opts: ClientOptions, plan: Plan) -> DnsQuery {
        DnsQuery { target: Target::Plan(Some(plan)), req, resp: DnsMessage::default(), opts, running: None }
    }
}

/// The question a URL asks: its path without the `/` (the root if none),
/// type `A` unless the query says `type=AAAA` (or any [`RecordType`]).
fn question_of(uri: &Uri) -> Result<(String, RecordType), Error> {
    let name = uri.path().trim_start_matches('/');
    let name = if name.is_empty() { "." } else { name };
    let mut qtype = RecordType::A;
    for pair in uri.query().unwrap_or("").split('&') {
        if let Some(v) = pair.strip_prefix("type=") {
            qtype = v.parse().map_err(|_| Error::sys(libc::EINVAL))?;
        }
    }
    Ok((name.to_owned(), qtype))
}

impl TaskKind for DnsQuery {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let fut = match &mut self.running {
            Some(f) => f,
            None => {
                let mut req = std::mem::take(&mut self.req);
                let opts = self.opts.clone();
                let fut: Running = match &mut self.target {
                    Target::Url(Err(e)) => {
                        self.req = req;
                        run.set_error(e.clone());
                        return Poll::Ready(());
                    }
                    Target::Url(Ok(uri)) => {
                        let uri = uri.clone();
                        Box::pin(async move {
                            let r = query(&uri, &mut req, &opts).await;
                            (req, r)
                        })
                    }
                    Target::Plan(plan) => match plan.take() {
                        Some(plan) => plan(req, opts),
                        // Polled again after it finished: nothing to do.
                        None => {
                            self.req = req;
                            return Poll::Ready(());
                        }
                    },
                };
                self.running.insert(fut)
            }
        };
        let (req, out) = match fut.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        self.req = req;
        match out {
            Ok(resp) => self.resp = resp,
            Err(e) => run.set_error(e),
        }
        Poll::Ready(())
    }
}

impl ClientKind for DnsQuery {
    fn client_options(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

/// Creates a DNS task for `url` (Workflow's `create_dns_task`):
/// `dns://server[:53]/name` (UDP, TCP when the reply is truncated) or
/// `dnss://server[:853]/name` (DNS over TLS). The question is the path's
/// name (the root without one), type `A` unless the URL's query says
/// `?type=AAAA` (a wf extension; any [`RecordType`] name or `TYPEnnn`),
/// class `IN`, recursion desired; change it with
/// [`req_mut`](DnsQuery::req_mut) before start. The query ID is random
/// unless set. A bad URL or type is reported in the callback.
///
/// ```no_run
/// use wf_core::net::dns::{RecordType, create_dns_task};
///
/// let t = create_dns_task("dns://127.0.0.1:5353/example.com?type=AAAA", 1, |t| {
///     if t.state() == wf_core::State::Success {
///         println!("{:?}", t.kind().resp().addrs());
///     }
/// });
/// t.start();
/// wf_core::wait_finish();
/// ```
pub fn create_dns_task(url: &str, retry_max: u32, callback: impl FnOnce(&mut DnsTask) + Send + 'static) -> DnsTask {
    let uri = Uri::parse(url).and_then(|u| {
        if !u.scheme().eq_ignore_ascii_case("dns") && !u.scheme().eq_ignore_ascii_case("dnss") {
            return Err(Error::task(crate::error::code::URI_SCHEME_INVALID));
        }
        Ok(u)
    });
    let req = match uri.as_ref().map(question_of) {
        Ok(Ok((name, qtype))) => DnsMessage::query(&name, qtype),
        _ => DnsMessage::query(".", RecordType::A),
    };
    let uri = uri.and_then(|u| question_of(&u).map(|_| u));
    let mut opts = ClientOptions::default();
    opts.set_retry_max(retry_max);
    Task::new(DnsQuery { target: Target::Url(uri), req, resp: DnsMessage::default(), opts, running: None })
        .with_callback(callback)
}
