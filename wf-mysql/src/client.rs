//! The client half of MySQL: the login on a fresh connection, checks
//! before a query goes out, and prepared statements' exchange.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wf_core::Error;
use wf_core::net::{ClientOptions, ClientProtocol, Connection, Uri};

use crate::code;
use crate::codec::ClientCodec;
use crate::guard::disallowed;
use crate::login::{MySqlLogin, handshake};
use crate::message::{MySQLRequest, MySQLResponse};
use crate::protocol::MySql;

impl ClientProtocol for MySql {
    type ClientCodec = ClientCodec;
    type Handshake = Arc<MySqlLogin>;

    fn client_codec(&self) -> ClientCodec {
        ClientCodec::new()
    }

    fn handshake(&self, uri: &Uri, opts: &ClientOptions) -> Result<Arc<MySqlLogin>, Error> {
        // Tasks to one URL parse it once per thread: the login is shared,
        // and compares and clones as a pointer.
        thread_local! {
            static LAST: RefCell<Option<(Uri, Arc<MySqlLogin>)>> = const { RefCell::new(None) };
        }
        if let Some(login) = LAST.with_borrow(|last| last.as_ref().filter(|(u, _)| u == uri).map(|(_, l)| l.clone())) {
            return Ok(login);
        }
        #[allow(unused_mut)]
        let mut login = MySqlLogin::from_uri(uri)?;
        // TLS set in the task's options is for `mysqls://`, which starts
        // TLS inside the handshake.
        #[cfg(feature = "tls")]
        if login.tls {
            login.tls_config = opts.tls().cloned().map(crate::login::TlsConfig).or_else(|| self.tls.clone());
            return Ok(Arc::new(login));
        }
        #[cfg(not(feature = "tls"))]
        let _ = opts;
        let login = Arc::new(login);
        LAST.with_borrow_mut(|last| *last = Some((uri.clone(), login.clone())));
        Ok(login)
    }

    async fn on_connect(&self, conn: &mut Connection<ClientCodec>, login: &Arc<MySqlLogin>) -> Result<(), Error> {
        if let Some(fixed) = &self.fixed {
            // A fixed connection that connected before was lost: what its
            // transaction did is gone. Say so once.
            if fixed.swap(false, Ordering::AcqRel) {
                return Err(Error::sys(libc::ECONNRESET));
            }
        }
        handshake(conn, login).await?;
        if let Some(fixed) = &self.fixed {
            fixed.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn default_keep_alive(&self) -> Duration {
        self.keep_alive.unwrap_or(Duration::from_secs(60))
    }

    fn prepare(&self, req: &mut MySQLRequest, _uri: &Uri, _opts: &ClientOptions) -> Result<(), Error> {
        code::register();
        let sql = match &req.prepared {
            Some((sql, _)) => &sql[..],
            None if req.query_is_unset() => return Err(Error::task(code::QUERY_NOT_SET)),
            None => req.query(),
        };
        if disallowed(sql) {
            return Err(Error::task(code::COMMAND_DISALLOWED));
        }
        Ok(())
    }

    async fn exchange(
        &self,
        conn: &mut Connection<ClientCodec>,
        req: &mut MySQLRequest,
    ) -> Result<MySQLResponse, Error> {
        match &req.prepared {
            Some((sql, params)) => crate::stmt::run(conn, sql.clone(), params).await,
            None => {
                conn.send(&*req).await?;
                conn.receive().await
            }
        }
    }

    fn is_retryable(&self, error: &Error) -> bool {
        // Not a fixed connection (its session would be lost), and not a
        // request that is wrong in itself (a prepared statement's parameter
        // count).
        self.fixed.is_none()
            && error.state() == wf_core::State::SysError
            && error.code() != libc::EINVAL
            && error.code() != libc::EMSGSIZE
    }
}
