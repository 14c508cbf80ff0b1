//! `MySQLTask`: a MySQL client task (the machine is wf-core's; the login,
//! checks and prepared statements are MySQL's client half, in `client`).

use std::ops::{Deref, DerefMut};
use std::task::{Context, Poll};

use bytes::Bytes;
use wf_core::net::{Client, ClientKind, ClientOptions};
use wf_core::{RunContext, Task, TaskKind};

use crate::cell::MySQLCell;
use crate::protocol::MySql;

/// A MySQL client task (Workflow's `WFMySQLTask`).
pub type MySQLTask = Task<MySQLClient>;

/// The kind of a [`MySQLTask`]: wf-core's [`Client`] of [`MySql`] (its
/// `req()`, `resp()`, `uri()`, `peer_addr()` through `Deref`), with
/// MySQL's own shortcuts.
#[derive(Debug)]
pub struct MySQLClient {
    client: Client<MySql>,
}

impl Deref for MySQLClient {
    type Target = Client<MySql>;
    fn deref(&self) -> &Client<MySql> {
        &self.client
    }
}

impl DerefMut for MySQLClient {
    fn deref_mut(&mut self) -> &mut Client<MySql> {
        &mut self.client
    }
}

impl MySQLClient {
    /// Sets the SQL (several statements may be separated by `;`).
    pub fn set_query(&mut self, sql: impl Into<Bytes>) {
        self.client.req_mut().set_query(sql);
    }
}

impl TaskKind for MySQLClient {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        self.client.poll_run(cx, run)
    }
}

impl ClientKind for MySQLClient {
    fn client_options(&mut self) -> &mut ClientOptions {
        self.client.client_options()
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
    let mut client = Client::new(protocol, url, retry_max);
    if let Some(opts) = opts {
        *client.client_options() = opts;
    }
    client.client_options().set_retry_max(retry_max);
    if let Some((sql, params)) = prepared {
        let req = client.req_mut();
        req.set_query(sql.clone());
        req.prepared = Some((sql, params));
    }
    Task::new(MySQLClient { client }).with_callback(callback)
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
