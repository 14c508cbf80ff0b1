//! KV-line as a wf protocol: its messages and scheme ([`Protocol`]), the
//! client half ([`ClientProtocol`]) and the server half
//! ([`ServerProtocol`]), each with only the hooks whose defaults do not fit.

use std::sync::Once;
use std::time::Duration;

use wf_core::net::{
    ClientOptions, ClientProtocol, ClientTask, Connection, KeepAlive, Protocol, ServerParams, ServerProtocol, Uri,
    create_client_task,
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
/// The value is configuration (the client's reply limit): it is `Eq +
/// Hash`, and wf-core pools connections per distinct value, so a
/// connection made with one limit never serves a task with another.
///
/// Client half ([`ClientProtocol`]), what differs from the defaults:
/// - the handshake is the URL's password: with one, `on_connect` sends
///   `AUTH password` on each fresh connection and a `-ERR` answer fails
///   the task with `TASK_ERROR`/[`ACCESS_DENIED`]; the task's callback never
///   sees the `AUTH`; connections are pooled per password;
/// - connections are kept 60 s, and not reused after `QUIT`;
/// - `SYS_ERROR` is retried but not `EBADMSG`/`EMSGSIZE`/`EINVAL` (the same
///   reply or request would fail again); `TASK_ERROR` never.
///
/// Server half ([`ServerProtocol`]): a 64 KiB request line limit; the
/// connection closes after `QUIT` and after a refused `AUTH`; a line the
/// codec rejects is answered `-ERR line too long` (`EMSGSIZE`) or
/// `-ERR bad request`, then the connection closes.
///
/// The user name of a URL is ignored: KV-line has passwords only.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

    fn schemes(&self) -> &'static [&'static str] {
        &["kvline"]
    }
}

impl ClientProtocol for KvLine {
    type ClientCodec = KvClientCodec;
    /// The URL's password, if any.
    type Handshake = Option<String>;

    fn client_codec(&self) -> KvClientCodec {
        KvClientCodec::new(self.reply_limit)
    }

    fn handshake(&self, uri: &Uri, _opts: &ClientOptions) -> Result<Option<String>, Error> {
        Ok(uri.password().map(str::to_owned))
    }

    async fn on_connect(&self, conn: &mut Connection<KvClientCodec>, password: &Option<String>) -> Result<(), Error> {
        let Some(password) = password else { return Ok(()) };
        conn.send(&Request::Auth(password.clone())).await?;
        match conn.receive().await? {
            Response::Ok => Ok(()),
            Response::Error(_) => Err(Error::task(ACCESS_DENIED)),
            // Not an answer to AUTH: the peer does not speak KV-line.
            Response::Value(_) | Response::Integer(_) => Err(Error::sys(libc::EBADMSG)),
        }
    }

    fn default_keep_alive(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn keep_alive(&self, req: &Request, _resp: &Response) -> KeepAlive {
        if *req == Request::Quit { KeepAlive::Close } else { KeepAlive::Keep }
    }

    fn is_retryable(&self, error: &Error) -> bool {
        // TASK_ERROR, ACCESS_DENIED among them: the same password would be
        // refused again.
        error.state() == State::SysError && ![libc::EBADMSG, libc::EMSGSIZE, libc::EINVAL].contains(&error.code())
    }
}

impl ServerProtocol for KvLine {
    type ServerCodec = KvServerCodec;

    fn server_codec(&self, params: &ServerParams) -> KvServerCodec {
        KvServerCodec::new(params.request_size_limit)
    }

    fn server_params(&self) -> ServerParams {
        let mut params = ServerParams::default();
        params.request_size_limit = Some(DEFAULT_LINE_LIMIT);
        params
    }

    fn keep_alive_after_reply(&self, req: &Request, resp: &Response, _seq: u64) -> KeepAlive {
        match (req, resp) {
            (Request::Quit, _) | (Request::Auth(_), Response::Error(_)) => KeepAlive::Close,
            _ => KeepAlive::Keep,
        }
    }

    fn error_reply(&self, _codec: &mut KvServerCodec, error: &Error) -> Option<Response> {
        let too_long = error.state() == State::SysError && error.code() == libc::EMSGSIZE;
        Some(Response::Error(if too_long { "line too long" } else { "bad request" }.to_owned()))
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
