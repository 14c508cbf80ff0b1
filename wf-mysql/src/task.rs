//! `MySQLTask`: a query, or a prepared statement, as a task.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use wf_core::net::{ClientOptions, Uri, request, session};
use wf_core::{Error, RunContext, Task, TaskKind, code};

use crate::cell::MySQLCell;
use crate::message::{MySQLRequest, MySQLResponse};
use crate::protocol::{MySql, Target};
use crate::stmt;

/// A MySQL client task (Workflow's `WFMySQLTask`).
pub type MySQLTask = Task<MySQLClient>;

/// What the task runs.
#[derive(Clone, Debug)]
enum Work {
    /// The request as set (a query).
    Query,
    /// A prepared statement: prepare `sql`, execute it with `params`.
    Prepared { sql: Bytes, params: Vec<MySQLCell> },
}

type Running = Pin<Box<dyn Future<Output = (MySQLRequest, Result<(MySQLResponse, Option<SocketAddr>), Error>)> + Send>>;

/// The kind of a [`MySQLTask`].
pub struct MySQLClient {
    protocol: MySql,
    uri: Result<Uri, Error>,
    req: MySQLRequest,
    resp: MySQLResponse,
    work: Work,
    opts: ClientOptions,
    peer: Option<SocketAddr>,
    running: Option<Running>,
}

impl std::fmt::Debug for MySQLClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySQLClient").field("uri", &self.uri).field("req", &self.req).finish_non_exhaustive()
    }
}

/// Statements a task may not run: they would change the pooled
/// connection for whoever uses it next (the database and character set
/// come from the URL).
fn disallowed(sql: &[u8]) -> bool {
    let text = executable_comments_opened(&String::from_utf8_lossy(sql));
    split_statements(&text).any(|stmt| {
        let words: Vec<String> = stmt.split_whitespace().take(3).map(str::to_ascii_uppercase).collect();
        let w = |i: usize| words.get(i).map(String::as_str);
        matches!(w(0), Some("USE"))
            || (w(0) == Some("SET")
                && (matches!(w(1), Some("NAMES") | Some("CHARSET"))
                    || (w(1) == Some("CHARACTER") && w(2) == Some("SET"))))
    })
}

/// `sql` with MySQL's executable comments (`/*!40101 SET NAMES x */`,
/// MariaDB's `/*M!… */`) opened: the server runs what they hold, so it is
/// checked like the rest.
fn executable_comments_opened(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let body = after.strip_prefix('!').or_else(|| after.strip_prefix("M!"));
        match body {
            Some(body) => {
                let body = body.trim_start_matches(|c: char| c.is_ascii_digit());
                let end = body.find("*/").unwrap_or(body.len());
                out.push(' ');
                out.push_str(&body[..end]);
                out.push(' ');
                rest = body.get(end + 2..).unwrap_or("");
            }
            None => {
                out.push_str("/*");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The statements of `sql` (split at `;` outside quotes and comments),
/// each without its leading comments.
fn split_statements(sql: &str) -> impl Iterator<Item = &str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'-' if b.get(i + 1) == Some(&b'-') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    i += 2;
                    while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                        i += 1;
                    }
                    i += 1;
                }
                b';' => {
                    out.push(&sql[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    out.push(&sql[start.min(sql.len())..]);
    out.into_iter().map(strip_leading_comments)
}

fn strip_leading_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |i| &rest[i + 2..]);
        } else if s.starts_with("--") || s.starts_with('#') {
            s = s.find('\n').map_or("", |i| &s[i + 1..]);
        } else {
            return s;
        }
    }
}

impl MySQLClient {
    /// The request.
    pub fn req(&self) -> &MySQLRequest {
        &self.req
    }

    /// The request, to fill before start.
    pub fn req_mut(&mut self) -> &mut MySQLRequest {
        &mut self.req
    }

    /// Sets the SQL (several statements may be separated by `;`).
    pub fn set_query(&mut self, sql: impl Into<Bytes>) {
        self.req.set_query(sql);
    }

    /// The response (empty until the task succeeded; a statement the server
    /// refused is a successful task whose response is an error packet).
    pub fn resp(&self) -> &MySQLResponse {
        &self.resp
    }

    /// The response, mutably.
    pub fn resp_mut(&mut self) -> &mut MySQLResponse {
        &mut self.resp
    }

    /// The target URL, if it parsed.
    pub fn uri(&self) -> Option<&Uri> {
        self.uri.as_ref().ok()
    }

    /// The server's address (`None` over a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn check(&self) -> Result<Uri, Error> {
        let uri = self.uri.clone()?;
        Target::from_uri(&uri)?;
        let sql = match &self.work {
            Work::Query if self.req.query_is_unset() => return Err(Error::task(code::MYSQL_QUERY_NOT_SET)),
            Work::Query => self.req.query(),
            Work::Prepared { sql, .. } => sql,
        };
        if disallowed(sql) {
            return Err(Error::task(code::MYSQL_COMMAND_DISALLOWED));
        }
        Ok(uri)
    }
}

impl TaskKind for MySQLClient {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let fut = match &mut self.running {
            Some(f) => f,
            None => {
                let uri = match self.check() {
                    Ok(u) => u,
                    Err(e) => {
                        run.set_error(e);
                        return Poll::Ready(());
                    }
                };
                #[cfg_attr(not(feature = "tls"), allow(unused_mut))] // set below for TLS
                let (mut protocol, opts, req, work) =
                    (self.protocol.clone(), self.opts.clone(), std::mem::take(&mut self.req), self.work.clone());
                // TLS set in the task's options is for `mysqls://`, which
                // starts TLS inside the handshake.
                #[cfg(feature = "tls")]
                if let Some(tls) = opts.tls() {
                    protocol.tls = Some(crate::protocol::TlsConfig(tls.clone()));
                }
                self.running.insert(Box::pin(async move {
                    let r = match work {
                        Work::Query => request(&protocol, &uri, &req, &opts).await.map(|r| (r.response, r.peer)),
                        Work::Prepared { sql, params } => {
                            session(&protocol, &uri, &opts, |conn| {
                                let (sql, params) = (sql.clone(), params.clone());
                                Box::pin(async move {
                                    let resp = stmt::run(conn, sql, &params).await?;
                                    let peer = conn.peer_addr();
                                    Ok(((resp, peer), true))
                                })
                            })
                            .await
                        }
                    };
                    (req, r)
                }))
            }
        };
        let (req, result) = match fut.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        self.req = req;
        match result {
            Ok((resp, peer)) => {
                self.resp = resp;
                self.peer = peer;
            }
            Err(e) => run.set_error(e),
        }
        Poll::Ready(())
    }
}

pub(crate) fn new_task(
    protocol: MySql,
    url: &str,
    retry_max: u32,
    opts: Option<ClientOptions>,
    prepared: Option<(Bytes, Vec<MySQLCell>)>,
    callback: impl FnOnce(&mut MySQLTask) + Send + 'static,
) -> MySQLTask {
    let mut opts = opts.unwrap_or_default();
    opts.set_retry_max(retry_max);
    let (req, work) = match prepared {
        None => (MySQLRequest::default(), Work::Query),
        Some((sql, params)) => {
            let mut req = MySQLRequest::default();
            req.set_query(sql.clone());
            (req, Work::Prepared { sql, params })
        }
    };
    Task::new(MySQLClient {
        protocol,
        uri: Uri::parse_cached(url),
        req,
        resp: MySQLResponse::default(),
        work,
        opts,
        peer: None,
        running: None,
    })
    .with_callback(callback)
}

/// Creates a MySQL task for `url`:
/// `mysql[s]://user:password@host[:port][/db][?character_set=…&character_set_results=…]`
/// (Workflow's `create_mysql_task`). Set the SQL with
/// [`set_query`](MySQLClient::set_query) before it starts.
///
/// Each new connection logs in (`mysql_native_password`,
/// `caching_sha2_password`, `client_ed25519`, switching plugins when the
/// server asks), over TLS for `mysqls://`. Errors: no query is
/// `TASK_ERROR` 4005; `USE` and `SET NAMES`/`CHARSET`/`CHARACTER SET` are
/// 4004 (the URL sets the database and character set); a refused login is
/// 4002 and not retried; an unknown character set 4003; `mysqls://` to a
/// server without TLS 4006. A statement the server refuses is not a task
/// error: the task succeeds and its response is an error packet.
///
/// ```no_run
/// use wf_mysql::{create_mysql_task, MySQLResultCursor};
///
/// let mut task = create_mysql_task("mysql://root:pw@127.0.0.1/test", 1, |t| {
///     let mut cursor = MySQLResultCursor::new(t.resp());
///     while let Some(row) = cursor.fetch_row() {
///         println!("{row:?}");
///     }
/// });
/// task.set_query("SELECT 1, 'one'");
/// task.start();
/// wf_core::wait_finish();
/// ```
pub fn create_mysql_task(
    url: &str,
    retry_max: u32,
    callback: impl FnOnce(&mut MySQLTask) + Send + 'static,
) -> MySQLTask {
    new_task(MySql::default(), url, retry_max, None, None, callback)
}

/// [`create_mysql_task`] with a protocol value of your own (TLS settings
/// for `mysqls://`: [`MySql::with_tls`]).
pub fn create_mysql_task_with(
    protocol: MySql,
    url: &str,
    retry_max: u32,
    callback: impl FnOnce(&mut MySQLTask) + Send + 'static,
) -> MySQLTask {
    new_task(protocol, url, retry_max, None, None, callback)
}

/// Creates a task that runs `sql` as a prepared statement (the binary
/// protocol) with `params` bound to its `?` placeholders: no escaping, and
/// rows come back as typed binary values, read with the same
/// [`MySQLResultCursor`](crate::MySQLResultCursor). The statement is
/// prepared, executed and closed on one connection.
///
/// ```no_run
/// use wf_mysql::{create_prepared_task, MySQLCell};
///
/// create_prepared_task(
///     "mysql://root:pw@127.0.0.1/test",
///     "SELECT ? + 1, ?",
///     vec![MySQLCell::Int(41), MySQLCell::String("it's".into())],
///     1,
///     |t| println!("{:?}", t.resp()),
/// )
/// .start();
/// wf_core::wait_finish();
/// ```
pub fn create_prepared_task(
    url: &str,
    sql: impl Into<Bytes>,
    params: Vec<MySQLCell>,
    retry_max: u32,
    callback: impl FnOnce(&mut MySQLTask) + Send + 'static,
) -> MySQLTask {
    new_task(MySql::default(), url, retry_max, None, Some((sql.into(), params)), callback)
}

impl wf_core::net::ClientKind for MySQLClient {
    fn client_options(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disallowed_statements() {
        assert!(disallowed(b"/*!40101 SET NAMES latin1 */"));
        assert!(disallowed(b"SELECT 1; /*M!100100 USE mysql */"));
        assert!(!disallowed(b"/* USE x */ SELECT 1"));
        assert!(disallowed(b"USE test"));
        assert!(disallowed(b"select 1; use test"));
        assert!(disallowed(b"/* hi */ set names utf8"));
        assert!(disallowed(b"SET CHARACTER SET gbk"));
        assert!(disallowed(b"-- c\nSET charset latin1"));
        assert!(!disallowed(b"SELECT 'USE x; SET NAMES y'"));
        assert!(!disallowed(b"SET @a = 1; SELECT `use`"));
        assert!(!disallowed(b"UPDATE users SET names = 'x'"));
    }
}
