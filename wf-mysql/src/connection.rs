//! `MySQLConnection`: one fixed connection, for transactions.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use wf_core::net::ClientOptions;

use crate::cell::MySQLCell;
use crate::message::{MySQLRequest, Reply};
use crate::protocol::MySql;
use crate::task::{MySQLTask, new_task};

/// How long an idle fixed connection stays open (Workflow: 1 hour).
const KEEP_ALIVE: Duration = Duration::from_secs(3600);

/// Per connection id and URL: whether it has connected (see
/// `MySql::fixed`).
type Registry = Mutex<HashMap<(u64, String), Arc<AtomicBool>>>;

fn registry() -> &'static Registry {
    static FIXED: OnceLock<Registry> = OnceLock::new();
    FIXED.get_or_init(Default::default)
}

/// One connection kept for a sequence of tasks, for transactions and
/// session state (Workflow's `WFMySQLConnection`): every task made from
/// it, with the same id and URL, runs on the same server connection.
///
/// * Tasks are not retried; a task started while another one of the same
///   connection runs fails at once with `SYS_ERROR`/`EAGAIN`.
/// * If the connection was lost and made again, the next task fails with
///   `SYS_ERROR`/`ECONNRESET` (a transaction in progress is gone); the one
///   after it runs on the new connection.
/// * The connection stays open for an hour of idleness, or until a
///   [disconnect task](MySQLConnection::create_disconnect_task) closes it.
///
/// ```no_run
/// use wf_mysql::MySQLConnection;
///
/// let conn = MySQLConnection::new(1, "mysql://root:pw@127.0.0.1/test");
/// let begin = conn.create_query_task("BEGIN", |_| {});
/// let mut series = wf_core::create_series_work(begin, |_| {});
/// series.push_back(conn.create_query_task("UPDATE t SET n = n + 1", |_| {}));
/// series.push_back(conn.create_query_task("COMMIT", |_| {}));
/// series.push_back(conn.create_disconnect_task(|_| {}));
/// series.start();
/// wf_core::wait_finish();
/// ```
#[derive(Clone, Debug)]
pub struct MySQLConnection {
    url: String,
    protocol: MySql,
    opts: ClientOptions,
}

impl MySQLConnection {
    /// The connection `id` to `url`: objects with the same id and URL
    /// share one server connection.
    pub fn new(id: u64, url: &str) -> MySQLConnection {
        let flag = wf_core::lock::lock(registry())
            .entry((id, url.to_owned()))
            .or_insert_with(|| Arc::new(AtomicBool::new(false)))
            .clone();
        let protocol = MySql { fixed: Some(flag), keep_alive: Some(KEEP_ALIVE), ..MySql::default() };
        let mut opts = ClientOptions::default();
        let mut endpoint = wf_core::settings().endpoint_params.clone();
        endpoint.max_connections = 1;
        opts.set_endpoint_params(endpoint);
        MySQLConnection { url: url.to_owned(), protocol, opts }
    }

    /// The same, with TLS settings for `mysqls://`.
    #[cfg(feature = "tls")]
    pub fn with_tls(id: u64, url: &str, tls: wf_core::net::tls::TlsClient) -> MySQLConnection {
        let mut c = MySQLConnection::new(id, url);
        c.opts.set_tls(tls.clone());
        let fixed = c.protocol.fixed.take();
        c.protocol = MySql { fixed, ..MySql::with_tls(tls) };
        c.protocol.keep_alive = Some(KEEP_ALIVE);
        c
    }

    /// A task running `sql` on this connection.
    pub fn create_query_task(
        &self,
        sql: impl Into<Bytes>,
        callback: impl FnOnce(&mut MySQLTask) + Send + 'static,
    ) -> MySQLTask {
        let mut t = new_task(self.protocol.clone(), &self.url, 0, Some(self.opts.clone()), None, callback);
        t.set_query(sql);
        t
    }

    /// A task running `sql` as a prepared statement with `params` on this
    /// connection.
    pub fn create_prepared_task(
        &self,
        sql: impl Into<Bytes>,
        params: Vec<MySQLCell>,
        callback: impl FnOnce(&mut MySQLTask) + Send + 'static,
    ) -> MySQLTask {
        new_task(self.protocol.clone(), &self.url, 0, Some(self.opts.clone()), Some((sql.into(), params)), callback)
    }

    /// A task that closes the connection (after a `COM_PING`); the next
    /// task connects afresh without an error.
    pub fn create_disconnect_task(&self, callback: impl FnOnce(&mut MySQLTask) + Send + 'static) -> MySQLTask {
        let flag = self.protocol.fixed.clone();
        let mut opts = self.opts.clone();
        opts.set_keep_alive(std::time::Duration::ZERO);
        let mut t = new_task(self.protocol.clone(), &self.url, 0, Some(opts), None, move |t: &mut MySQLTask| {
            if let Some(f) = &flag {
                f.store(false, std::sync::atomic::Ordering::Release);
            }
            callback(t)
        });
        *t.req_mut() = MySQLRequest::packet(vec![0x0e], Reply::Text);
        t
    }
}
