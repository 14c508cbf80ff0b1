//! `MySQLServer`: wf's generic server speaking the MySQL protocol, for
//! tests, proxies and examples.

use std::ops::Deref;
use std::sync::Arc;

use wf_core::net::{Server, ServerParams, ServerTask};

use crate::protocol::MySql;
use crate::server_login::{Login, ServerAuth};

/// A statement a [`MySQLServer`] is answering: `req().query()` is the
/// SQL; fill `resp_mut()` (`set_ok_packet`, `set_result_set`,
/// `set_error_packet`). Tasks pushed into `series_of(task)` run first.
pub type MySQLServerTask = ServerTask<MySql>;

/// A MySQL server (Workflow's `WFMySQLServer`): `process` sees each
/// command (`req().query()`) and fills the reply; the reply is sent when
/// the command's series ends. Logins are accepted as they come
/// ([`new`](MySQLServer::new), as Workflow's server does) or checked
/// against users ([`with_users`](MySQLServer::with_users)). Replies use
/// the text protocol.
///
/// Against hostile clients: a command over the server's
/// `request_size_limit` (wf-core's default unless
/// [`with_params`](MySQLServer::with_params) sets another; `None` means
/// MySQL's ceiling, 1 GiB) is refused at its packet header with MySQL's
/// `ER_NET_PACKET_TOO_LARGE` (1153, "Got a packet bigger than
/// 'max_allowed_packet' bytes") and the connection closes; login packets
/// are bounded at 64 KiB, and one that does not read gets
/// `ER_HANDSHAKE_ERROR` (1043).
///
/// ```no_run
/// use wf_mysql::MySQLServer;
///
/// let server = MySQLServer::new(|task| {
///     let sql = String::from_utf8_lossy(task.req().query()).into_owned();
///     task.resp_mut().set_result_set(&["you said"], [[Some(sql)]]);
/// });
/// server.start(3307).unwrap();
/// # server.stop();
/// ```
pub struct MySQLServer {
    server: Server<MySql>,
}

impl std::fmt::Debug for MySQLServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.fmt(f)
    }
}

impl MySQLServer {
    /// A server that lets everyone in.
    pub fn new(process: impl Fn(&mut MySQLServerTask) + Send + Sync + 'static) -> MySQLServer {
        MySQLServer { server: Server::new(MySql::default(), process) }
    }

    /// A server that checks `users` (name, password) with `auth`.
    pub fn with_users(
        users: &[(&str, &str)],
        auth: ServerAuth,
        process: impl Fn(&mut MySQLServerTask) + Send + Sync + 'static,
    ) -> MySQLServer {
        let login = Login { users: users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect(), auth };
        let protocol = MySql { server_auth: Some(Arc::new(login)), ..MySql::default() };
        MySQLServer { server: Server::new(protocol, process) }
    }

    /// A server with `params` and the users of `with_users` (none: let
    /// everyone in).
    pub fn with_params(
        params: ServerParams,
        users: Option<(&[(&str, &str)], ServerAuth)>,
        process: impl Fn(&mut MySQLServerTask) + Send + Sync + 'static,
    ) -> MySQLServer {
        let server_auth = users.map(|(users, auth)| {
            Arc::new(Login { users: users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect(), auth })
        });
        let protocol = MySql { server_auth, ..MySql::default() };
        MySQLServer { server: Server::with_params(protocol, params, process) }
    }
}

impl Deref for MySQLServer {
    type Target = Server<MySql>;
    fn deref(&self) -> &Server<MySql> {
        &self.server
    }
}
