//! The client-task machine: route → connection → exchange → decision.
//!
//! Every client task of every protocol runs [`run`]: for each attempt the
//! URL's [`Route`](crate::net::route::Route) says where it goes (and with
//! which endpoint parameters); the request meets a connection as the protocol's
//! [`mode`](ClientProtocol::mode) says (pooled, pipelined or dedicated);
//! the protocol's [`exchange`](ClientProtocol::exchange) sends and reads;
//! its [`on_reply`](ClientProtocol::on_reply) decides whether the task is
//! done, failed, retried or redirected; errors are retried as its
//! [`is_retryable`](ClientProtocol::is_retryable) says, within the task's
//! `retry_max`.

use std::net::SocketAddr;

use super::options::ClientOptions;
use super::pool;
use super::protocol::{ClientProtocol, Mode, Next};
use super::setup::Setup;
use crate::error::{Error, State, TimeoutReason};
use crate::net::conn::Limits;
use crate::net::datagram::Transport;
use crate::net::route::{self, Pick, Routed, Target};
use crate::net::uri::Uri;
use crate::trace;

/// How a task's requests went.
#[derive(Debug)]
pub(crate) struct Outcome<R> {
    /// The URL the last attempt went to (redirects followed).
    pub(crate) uri: Uri,
    /// Redirects followed.
    pub(crate) redirects: u32,
    /// The reply and the server's address, or why the task failed.
    pub(crate) result: Result<(R, Option<SocketAddr>), Error>,
}

/// The user's hook on the request, run just before each send.
pub(crate) type Prepare<P> = dyn Fn(&mut <P as crate::net::Protocol>::Request) + Send + Sync;

/// Runs the machine for `req` to `uri`, within the task's deadline if it
/// has one (dropping the machine's future drops the connection it holds).
/// `prepare` runs each time the request is about to be sent.
pub(crate) async fn run<P: ClientProtocol>(
    protocol: &P,
    uri: Uri,
    req: &mut P::Request,
    opts: &ClientOptions,
    prepare: Option<&Prepare<P>>,
) -> Outcome<P::Response> {
    let mut at = (uri, 0);
    let result = match opts.deadline() {
        None => attempts(protocol, &mut at, req, opts, prepare).await,
        Some(limit) => match tokio::time::timeout(limit, attempts(protocol, &mut at, req, opts, prepare)).await {
            Ok(r) => r,
            Err(_) => {
                trace::debug!(url = at.0.as_str(), ?limit, "task deadline passed");
                Err(Error::timeout(TimeoutReason::Deadline))
            }
        },
    };
    let (uri, redirects) = at;
    Outcome { uri, redirects, result }
}

/// Attempts, retries and redirects until the task is done; `at` keeps the
/// URL and the redirects followed so far.
async fn attempts<P: ClientProtocol>(
    protocol: &P,
    at: &mut (Uri, u32),
    req: &mut P::Request,
    opts: &ClientOptions,
    prepare: Option<&Prepare<P>>,
) -> Result<(P::Response, Option<SocketAddr>), Error> {
    let mut retries = 0;
    let mut tried: Vec<Routed> = Vec::new();
    loop {
        let (uri, redirects) = (&at.0, at.1);
        protocol.prepare(req, uri, opts)?;
        let result = attempt(protocol, uri, req, opts, &mut tried, retries > 0, prepare).await;
        let (resp, peer) = match result {
            Ok(r) => r,
            Err(e) if retries < opts.retry_max() && protocol.is_retryable(&e) => {
                retries += 1;
                trace::debug!(url = uri.as_str(), retry = retries, error = %e, "retrying a failed attempt");
                continue;
            }
            Err(e) => return Err(e),
        };
        let may_redirect = redirects < opts.redirect_max();
        match protocol.on_reply(req, &resp, uri, may_redirect) {
            Next::Fail(e) => return Err(e),
            Next::Retry if retries < opts.retry_max() => {
                retries += 1;
                trace::debug!(url = uri.as_str(), retry = retries, "retrying as the reply asks");
            }
            Next::Redirect(next) if may_redirect => {
                trace::debug!(from = uri.as_str(), to = next.as_str(), "redirected");
                *at = (next, redirects + 1);
                tried.clear();
            }
            Next::Done | Next::Retry | Next::Redirect(_) => return Ok((resp, peer)),
        }
    }
}

/// One attempt: route, connection, exchange.
async fn attempt<P: ClientProtocol>(
    protocol: &P,
    uri: &Uri,
    req: &mut P::Request,
    opts: &ClientOptions,
    tried: &mut Vec<Routed>,
    retry: bool,
    prepare: Option<&Prepare<P>>,
) -> Result<(P::Response, Option<SocketAddr>), Error> {
    let setup = Setup::new(protocol, uri, opts)?;
    let route = match opts.route() {
        Some(r) => r.clone(),
        None => route::route_for(setup.via),
    };
    let routed = {
        let load = |t: &Target| pool::load(&setup.key(t));
        route.route(setup.via, Pick::new(tried, retry, &load)).await?
    };
    let target = routed.target();
    // The route's endpoint parameters (an upstream server's) first.
    let endpoint = routed.endpoint().unwrap_or_else(|| opts.endpoint());
    let limits = Limits {
        send: opts.send_timeout(),
        watch: opts.watch_timeout(),
        receive: opts.receive_timeout(),
        size: opts.response_size_limit_for(endpoint),
    };
    let result = if setup.transport == Transport::Datagram {
        if let Some(prepare) = prepare {
            prepare(req);
        }
        // Boxed: the stream path's future would otherwise grow by it.
        Box::pin(super::datagram::exchange(protocol, req, target, endpoint, limits)).await
    } else {
        match protocol.mode(req) {
            Mode::Pipelined => {
                // The pipe is chosen inside; the request goes out right after.
                if let Some(prepare) = prepare {
                    prepare(req);
                }
                super::pipe::request(&setup, req, opts, endpoint, &routed, setup.key(target)).await
            }
            Mode::Pooled => pooled(&setup, req, opts, endpoint, &routed, limits, prepare).await,
            Mode::Dedicated => match Box::pin(setup.open(&routed, endpoint, limits)).await {
                Ok(mut conn) => {
                    if let Some(prepare) = prepare {
                        prepare(req);
                    }
                    protocol.exchange(&mut conn, req).await.map(|resp| (resp, conn.peer_addr()))
                }
                Err(e) => Err(e),
            },
        }
    };
    route.report(&routed, result.as_ref().map(|_| ()));
    // Remembered only when another attempt may pick again (a push
    // allocates, and most tasks make one attempt).
    if opts.retry_max() > 0 {
        tried.push(routed);
    }
    result
}

/// An exchange on a pooled connection of its own.
async fn pooled<P: ClientProtocol>(
    setup: &Setup<'_, P>,
    req: &mut P::Request,
    opts: &ClientOptions,
    endpoint: &crate::runtime::EndpointParams,
    routed: &Routed,
    limits: Limits,
    prepare: Option<&Prepare<P>>,
) -> Result<(P::Response, Option<SocketAddr>), Error> {
    let key = setup.key(routed.target());
    loop {
        let mut lease = pool::acquire::<P::ClientCodec>(&key, endpoint.max_connections, opts.wait_timeout()).await?;
        if lease.conn().is_none() {
            // Boxed: connecting is rarer than reusing, and its future would
            // make every request's future as large.
            let conn = Box::pin(setup.open(routed, endpoint, limits)).await?;
            lease.set_conn(conn);
        }
        let reused = lease.reused();
        if reused && setup.protocol.send_at_end_of_turn() {
            tokio::task::yield_now().await;
        }
        let conn = lease.conn().expect("connected");
        conn.set_limits(limits);
        if let Some(prepare) = prepare {
            prepare(req);
        }
        let read_before = conn.read_total();
        let written_before = conn.write_total();
        match setup.protocol.exchange(conn, req).await {
            Ok(resp) => {
                let peer = conn.peer_addr();
                let configured = opts.keep_alive().unwrap_or_else(|| setup.protocol.default_keep_alive());
                lease.release(setup.protocol.keep_alive(req, &resp).idle_limit(Some(configured)));
                return Ok((resp, peer));
            }
            // The server closed an idle connection as it was reused: not a
            // failure of this request; try again on another connection.
            // (Not when any byte of a reply came: the server was running the
            // request, a MySQL statement say, when the connection broke. Nor
            // when the request went out, unless it is idempotent: the server
            // may have run it before it closed.)
            Err(e)
                if reused
                    && conn.read_total() == read_before
                    && conn.nothing_received()
                    && is_stale(&e)
                    && (conn.write_total() == written_before || setup.protocol.is_idempotent(req)) =>
            {
                trace::debug!(target = ?routed.target(), error = %e, "reused connection was closed by the server; reconnecting");
                lease.discard_conn();
            }
            Err(e) => return Err(e),
        }
    }
}

/// Errors of a connection the server closed while it sat in the pool.
pub(crate) fn is_stale(e: &Error) -> bool {
    e.state() == State::SysError && [libc::ECONNRESET, libc::EPIPE, libc::ENOTCONN].contains(&e.code())
}
