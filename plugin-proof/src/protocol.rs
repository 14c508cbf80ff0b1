//! `impl Protocol for KvLine`: the codecs plus the hooks whose defaults do
//! not fit KV-line.

use std::sync::Once;
use std::time::Duration;

use wf_core::net::{
    BoxFuture, ClientTask, Connection, Protocol, ReplyKeepAlive, ServerParams, Uri, create_client_task,
};
use wf_core::{Error, State};

use crate::codec::{DEFAULT_LINE_LIMIT, KvClientCodec, KvServerCodec};
use crate::message::{Request, Response};

/// The port a `kvline://` URL without one goes to; [`KvLine::new`]
/// registers it with `wf_core::net::register_scheme_port`.
pub const DEFAULT_PORT: u16 = 7878;

/// `TASK_ERROR` code of a client task whose URL password the server
/// refused (KV-line's own code, in the range wf leaves to third parties;
/// [`KvLine::new`] registers its text, "KV-line Access Denied").
pub const ACCESS_DENIED: i32 = 10_001;

/// The KV-line protocol: URL scheme `kvline://[:password@]host[:port]`,
/// port [`DEFAULT_PORT`] when the URL gives none.
///
/// What it overrides of [`Protocol`]:
///
/// - [`default_keep_alive`](Protocol::default_keep_alive): 60 s, so
///   sequential tasks share a connection.
/// - [`on_connect`](Protocol::on_connect): with a password in the URL,
///   sends `AUTH password` on each fresh connection; a `-ERR` answer fails
///   the task with `TASK_ERROR`/[`ACCESS_DENIED`]. The task's callback
///   never sees the `AUTH`.
/// - [`is_retryable`](Protocol::is_retryable): `SYS_ERROR` but not
///   `EBADMSG`/`EMSGSIZE`/`EINVAL` (the same reply or request would fail
///   again); never `TASK_ERROR`, so never after an auth failure.
/// - [`pool_key`](Protocol::pool_key): the password, so connections
///   authenticated with different passwords are never shared, and the
///   reply limit, since a pooled connection keeps the codec (and limit) it
///   was made with.
/// - [`keep_alive`](Protocol::keep_alive): no reuse after `QUIT`.
/// - [`server_params`](Protocol::server_params): a 64 KiB request line
///   limit.
/// - [`keep_alive_after_reply`](Protocol::keep_alive_after_reply): the
///   server closes after `QUIT` and after a refused `AUTH`.
/// - [`error_reply`](Protocol::error_reply): the server answers a line it
///   cannot decode with `-ERR line too long` (`EMSGSIZE`) or
///   `-ERR bad request` (anything else), then closes.
///
/// The user name of a URL is ignored: KV-line has passwords only.
#[derive(Clone, Debug)]
pub struct KvLine {
    reply_limit: usize,
}

impl KvLine {
    /// The protocol, with response lines limited to
    /// [`DEFAULT_LINE_LIMIT`] on the client side. Registers
    /// [`DEFAULT_PORT`] for `kvline` (once per process).
    pub fn new() -> KvLine {
        KvLine::with_reply_limit(DEFAULT_LINE_LIMIT)
    }

    /// Like [`new`](KvLine::new), client tasks refusing response lines
    /// longer than `limit` bytes with `SYS_ERROR`/`EMSGSIZE`.
    pub fn with_reply_limit(limit: usize) -> KvLine {
        static REGISTER: Once = Once::new();
        REGISTER.call_once(|| {
            wf_core::net::register_scheme_port("kvline", DEFAULT_PORT);
            wf_core::register_task_error(ACCESS_DENIED, "KV-line Access Denied");
        });
        KvLine { reply_limit: limit }
    }
}

impl Default for KvLine {
    fn default() -> KvLine {
        KvLine::new()
    }
}

impl Protocol for KvLine {
    type Request = Request;
    type Response = Response;
    type ClientCodec = KvClientCodec;
    type ServerCodec = KvServerCodec;

    fn schemes(&self) -> &'static [&'static str] {
        &["kvline"]
    }

    fn client_codec(&self) -> KvClientCodec {
        KvClientCodec::new(self.reply_limit)
    }

    fn server_codec(&self, params: &ServerParams) -> KvServerCodec {
        KvServerCodec::new(params.request_size_limit)
    }

    fn default_keep_alive(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }

    fn on_connect<'a>(
        &'a self,
        conn: &'a mut Connection<KvClientCodec>,
        uri: &'a Uri,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Some(password) = uri.password() else { return Ok(()) };
            conn.send(&Request::Auth(password.to_owned())).await?;
            match conn.receive().await? {
                Response::Ok => Ok(()),
                Response::Error(_) => Err(Error::task(ACCESS_DENIED)),
                // Not an answer to AUTH: the peer does not speak KV-line.
                Response::Value(_) | Response::Integer(_) => Err(Error::sys(libc::EBADMSG)),
            }
        })
    }

    fn keep_alive(&self, req: &Request, _resp: &Response, configured: Option<Duration>) -> Option<Duration> {
        match req {
            Request::Quit => None,
            _ => configured,
        }
    }

    fn is_retryable(&self, error: &Error) -> bool {
        match error.state() {
            State::SysError => ![libc::EBADMSG, libc::EMSGSIZE, libc::EINVAL].contains(&error.code()),
            // TASK_ERROR, ACCESS_DENIED among them: the same password
            // would be refused again.
            _ => false,
        }
    }

    fn pool_key(&self, uri: &Uri) -> String {
        // A pooled connection keeps the codec it was made with, so the
        // reply limit is part of the key too.
        match uri.password() {
            Some(p) => format!("limit={};password={p}", self.reply_limit),
            None => format!("limit={}", self.reply_limit),
        }
    }

    fn keep_alive_after_reply(&self, req: &Request, resp: &Response, _seq: u64) -> ReplyKeepAlive {
        match (req, resp) {
            (Request::Quit, _) | (Request::Auth(_), Response::Error(_)) => ReplyKeepAlive::Close,
            _ => ReplyKeepAlive::Keep,
        }
    }

    fn error_reply(&self, _codec: &mut KvServerCodec, error: &Error) -> Option<Response> {
        let message = if error.state() == State::SysError && error.code() == libc::EMSGSIZE {
            "line too long"
        } else {
            "bad request"
        };
        Some(Response::Error(message.to_owned()))
    }

    fn server_params(&self) -> ServerParams {
        let mut params = ServerParams::default();
        params.request_size_limit = Some(DEFAULT_LINE_LIMIT);
        params
    }
}

/// A KV-line client task for `url` sending `req`: `create_client_task`
/// with the request filled in.
///
/// ```no_run
/// use wf_plugin_proof::{Request, create_kv_task};
///
/// create_kv_task("kvline://:secret@127.0.0.1/", 1, Request::Get("k".into()), |t| {
///     println!("{:?} {:?}", t.state(), t.resp());
/// })
/// .start();
/// wf_core::wait_finish();
/// ```
pub fn create_kv_task(
    url: &str,
    retry_max: u32,
    req: Request,
    callback: impl FnOnce(&mut ClientTask<KvLine>) + Send + 'static,
) -> ClientTask<KvLine> {
    let mut task = create_client_task(KvLine::new(), url, retry_max, callback);
    *task.req_mut() = req;
    task
}
