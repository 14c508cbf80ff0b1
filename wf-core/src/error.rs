//! Task states, error codes, their text and their causes, kept numerically identical to
//! C++ Workflow so that ported code and logs keep their meaning.

use std::fmt;
use std::sync::Arc;

/// The state a task finished in (Workflow's `WFT_STATE_*`).
///
/// The numeric values are Workflow's: `state as i32` gives the number a
/// Workflow log would show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum State {
    /// Created, not finished yet (`WFT_STATE_UNDEFINED`, -1).
    Undefined = -1,
    /// The task did its work (`WFT_STATE_SUCCESS`, 0).
    Success = 0,
    /// A system error; the code is an `errno` value (`WFT_STATE_SYS_ERROR`, 1).
    SysError = 1,
    /// Interrupted by shutdown (`WFT_STATE_ABORTED`, 2).
    Aborted = 2,
    /// A server task waiting for its reply (`WFT_STATE_TOREPLY`, 3).
    ToReply = 3,
    /// A server task that closes instead of replying (`WFT_STATE_NOREPLY`, 4).
    NoReply = 4,
    /// A TLS failure (`WFT_STATE_SSL_ERROR`, 65).
    SslError = 65,
    /// Name resolution failed; the code is a `getaddrinfo` `EAI_*` value (`WFT_STATE_DNS_ERROR`, 66).
    DnsError = 66,
    /// A task-level error; the code is one of the `WFT_ERR_*` values in [`code`] (`WFT_STATE_TASK_ERROR`, 67).
    TaskError = 67,
}

impl State {
    /// Converts a Workflow state number back into a `State`.
    pub fn from_i32(v: i32) -> Option<State> {
        Some(match v {
            -1 => State::Undefined,
            0 => State::Success,
            1 => State::SysError,
            2 => State::Aborted,
            3 => State::ToReply,
            4 => State::NoReply,
            65 => State::SslError,
            66 => State::DnsError,
            67 => State::TaskError,
            _ => return None,
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Undefined => "Undefined",
            State::Success => "Success",
            State::SysError => "System Error",
            State::Aborted => "Aborted",
            State::ToReply => "To Reply",
            State::NoReply => "No Reply",
            State::SslError => "SSL Error",
            State::DnsError => "DNS Error",
            State::TaskError => "Task Error",
        })
    }
}

/// Why a task timed out (Workflow's `TOR_*`), reported with `SYS_ERROR`/`ETIMEDOUT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum TimeoutReason {
    /// The task did not time out (`TOR_NOT_TIMEOUT`, 0).
    #[default]
    NotTimeout = 0,
    /// Waiting for a free connection slot took too long (`TOR_WAIT_TIMEOUT`, 1).
    Wait = 1,
    /// Connecting (TCP or TLS) took too long (`TOR_CONNECT_TIMEOUT`, 2).
    Connect = 2,
    /// Sending or receiving took too long (`TOR_TRANSMIT_TIMEOUT`, 3).
    Transmit = 3,
    /// wf only, not in Workflow: the task's overall deadline
    /// (`ClientOptions::set_deadline`) passed, whatever it was doing
    /// (connecting, retrying, redirecting, sending or receiving), 4.
    Deadline = 4,
}

impl fmt::Display for TimeoutReason {
    /// `"Not Timeout"`, `"Wait Timeout"`, `"Connect Timeout"`,
    /// `"Transmit Timeout"`, `"Deadline Timeout"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutReason::NotTimeout => "Not Timeout",
            TimeoutReason::Wait => "Wait Timeout",
            TimeoutReason::Connect => "Connect Timeout",
            TimeoutReason::Transmit => "Transmit Timeout",
            TimeoutReason::Deadline => "Deadline Timeout",
        })
    }
}

/// Task error codes of wf-core used with [`State::TaskError`] (Workflow's
/// `WFT_ERR_*` that are not a protocol's, plus wf's own in the 9000 range).
///
/// Protocol crates keep their own codes (`wf_http::code`, `wf_redis::code`,
/// `wf_mysql::code`) and name them with [`register_task_error`], the way a
/// third-party crate does.
pub mod code {
    /// The URL could not be parsed.
    pub const URI_PARSE_FAILED: i32 = 1001;
    /// The URL's scheme is not one this task understands.
    pub const URI_SCHEME_INVALID: i32 = 1002;
    /// The URL's port is not a valid port.
    pub const URI_PORT_INVALID: i32 = 1003;
    /// Every server of an upstream is down.
    pub const UPSTREAM_UNAVAILABLE: i32 = 1004;
    /// wf: a user callback or go function panicked; the series was canceled.
    pub const PANICKED: i32 = 9001;
    /// wf: a graph task's edges form a cycle, so it cannot run.
    pub const GRAPH_CYCLE: i32 = 9002;
    /// wf: a counter, mailbox or conditional waits for a count, message or
    /// signal that nothing can give any more (no handle left, no name), so
    /// it fails instead of hanging.
    pub const ORPHANED: i32 = 9003;
}

/// What caused an [`Error`]: the rustls error, the `io::Error`, a codec's
/// reason. Shared, so that errors stay cheap to clone.
type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a task failed: its [`State`], the error code that goes with it, for
/// timeouts the [`TimeoutReason`], and where known the underlying cause.
///
/// `Display` gives Workflow's `get_error_string` text, e.g.
/// `"Connection refused"` or `"URI Scheme Invalid"`, followed by the cause
/// when there is one (`"SSL Error SSL: invalid peer certificate: …"`); the
/// cause is also [`source`](std::error::Error::source). Two errors are
/// equal when state, code and timeout reason are: the cause is detail.
///
/// ```
/// use wf_core::{Error, State};
/// let e = Error::new(State::TaskError, wf_core::code::URI_SCHEME_INVALID);
/// assert_eq!(e.to_string(), "URI Scheme Invalid");
/// assert_eq!(Error::new(State::SysError, libc::ECONNREFUSED).to_string(), "Connection refused");
///
/// let bad = std::io::Error::new(std::io::ErrorKind::InvalidData, "chunk size too long");
/// let e = Error::from(bad);
/// assert_eq!((e.state(), e.code()), (State::SysError, libc::EBADMSG));
/// assert_eq!(e.to_string(), "Bad message: chunk size too long");
/// assert!(std::error::Error::source(&e).is_some());
/// ```
#[derive(Clone)]
pub struct Error {
    state: State,
    code: i32,
    timeout_reason: TimeoutReason,
    cause: Option<Cause>,
}

impl Error {
    /// An error with a state and code.
    pub const fn new(state: State, code: i32) -> Error {
        Error { state, code, timeout_reason: TimeoutReason::NotTimeout, cause: None }
    }

    /// `SYS_ERROR` with an `errno` value.
    pub const fn sys(errno: i32) -> Error {
        Error::new(State::SysError, errno)
    }

    /// `SYS_ERROR`/`ETIMEDOUT` with the reason for the timeout.
    pub const fn timeout(reason: TimeoutReason) -> Error {
        Error { state: State::SysError, code: libc::ETIMEDOUT, timeout_reason: reason, cause: None }
    }

    /// `ABORTED` (code 0, as Workflow reports it): the task was interrupted
    /// by [`shutdown`](crate::shutdown).
    pub const fn aborted() -> Error {
        Error::new(State::Aborted, 0)
    }

    /// `TASK_ERROR` with a task error code ([`code`], or a protocol's).
    pub const fn task(code: i32) -> Error {
        Error::new(State::TaskError, code)
    }

    /// The same error, caused by `cause` (kept as its
    /// [`source`](std::error::Error::source) and shown by `Display`).
    pub fn with_cause(mut self, cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Error {
        self.cause = Some(Arc::from(cause.into()));
        self
    }

    /// The state.
    pub const fn state(&self) -> State {
        self.state
    }

    /// The error code: an errno, an `EAI_*` value, an SSL error or a task
    /// error code, by state.
    pub const fn code(&self) -> i32 {
        self.code
    }

    /// Why the task timed out, if it did.
    pub const fn timeout_reason(&self) -> TimeoutReason {
        self.timeout_reason
    }

    /// True for `SYS_ERROR`/`ETIMEDOUT`.
    pub fn is_timeout(&self) -> bool {
        self.state == State::SysError && self.code == libc::ETIMEDOUT
    }

    /// Workflow's text for the state and code alone, without the cause.
    pub fn text(&self) -> String {
        get_error_string(self.state, self.code)
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        (self.state, self.code, self.timeout_reason) == (other.state, other.code, other.timeout_reason)
    }
}

impl Eq for Error {}

impl std::hash::Hash for Error {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.state, self.code, self.timeout_reason).hash(h);
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("state", &self.state).field("code", &self.code);
        if self.timeout_reason != TimeoutReason::NotTimeout {
            d.field("timeout_reason", &self.timeout_reason);
        }
        if let Some(c) = &self.cause {
            d.field("cause", c);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_error_string(f, self.state, self.code)?;
        match &self.cause {
            Some(c) => write!(f, ": {c}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    /// `SYS_ERROR` with the errno; an error that carries no OS errno (a
    /// codec's "bad message", say) maps its kind to one and is kept as the
    /// cause.
    fn from(e: std::io::Error) -> Error {
        if let Some(errno) = e.raw_os_error() {
            return Error::sys(errno);
        }
        // An io::Error made from a wf Error (a codec reporting one) gives it back.
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            return Error::sys(libc::EIO);
        }
        let errno = match e.kind() {
            std::io::ErrorKind::TimedOut => libc::ETIMEDOUT,
            std::io::ErrorKind::ConnectionRefused => libc::ECONNREFUSED,
            std::io::ErrorKind::ConnectionReset => libc::ECONNRESET,
            std::io::ErrorKind::UnexpectedEof => libc::ECONNRESET,
            std::io::ErrorKind::InvalidData => libc::EBADMSG,
            std::io::ErrorKind::InvalidInput => libc::EINVAL,
            std::io::ErrorKind::NotFound => libc::ENOENT,
            std::io::ErrorKind::PermissionDenied => libc::EACCES,
            std::io::ErrorKind::WouldBlock => libc::EAGAIN,
            _ => libc::EIO,
        };
        if e.get_ref().is_some() { Error::sys(errno).with_cause(e) } else { Error::sys(errno) }
    }
}

/// The text Workflow's `WFGlobal::get_error_string(state, error)` gives.
///
/// ```
/// assert_eq!(wf_core::get_error_string(wf_core::State::Success, 0), "Success");
/// assert_eq!(wf_core::get_error_string(wf_core::State::DnsError, -2), "Name or service not known");
/// ```
pub fn get_error_string(state: State, code: i32) -> String {
    struct D(State, i32);
    impl fmt::Display for D {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_error_string(f, self.0, self.1)
        }
    }
    D(state, code).to_string()
}

fn write_error_string(f: &mut fmt::Formatter<'_>, state: State, code: i32) -> fmt::Result {
    match state {
        State::Success => f.write_str("Success"),
        State::SysError => f.write_str(&strerror(code)),
        State::SslError => f.write_str(ssl_error_str(code)),
        State::DnsError => f.write_str(&gai_strerror(code)),
        State::TaskError => f.write_str(task_error_str(code)),
        State::Aborted => f.write_str("Aborted"),
        State::ToReply => f.write_str("To Reply"),
        State::NoReply => f.write_str("No Reply"),
        State::Undefined => f.write_str("Undefined"),
    }
}

fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; Workflow prints the bare strerror text.
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn gai_strerror(code: i32) -> String {
    // SAFETY: gai_strerror returns a pointer to a static, NUL-terminated string
    // for every input (unknown codes give "Unknown error").
    unsafe {
        let p = libc::gai_strerror(code);
        if p.is_null() {
            return "Unknown error".to_string();
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn ssl_error_str(code: i32) -> &'static str {
    match code {
        1 => "SSL Error SSL",
        2 => "SSL Error Want Read",
        3 => "SSL Error Want Write",
        4 => "SSL Error Want X509 Lookup",
        5 => "SSL Error Syscall",
        6 => "SSL Error Zero Return",
        7 => "SSL Error Want Connect",
        8 => "SSL Error Want Accept",
        _ => "SSL Error",
    }
}

/// Names a task error code, so that its `Display` (and
/// [`get_error_string`]) reads well: how wf-http, wf-redis and wf-mysql
/// name theirs (2001–2002, 3001–3002, 4001–4006, Workflow's numbers), and
/// how a third-party protocol names its own, from 10000 up. Registering a
/// code again replaces its text.
///
/// ```
/// wf_core::register_task_error(10_001, "KV Access Denied");
/// assert_eq!(wf_core::Error::task(10_001).to_string(), "KV Access Denied");
/// ```
pub fn register_task_error(code: i32, text: &'static str) {
    crate::lock::write(crate::global::task_error_texts()).insert(code, text);
}

fn task_error_str(code: i32) -> &'static str {
    use code::*;
    match code {
        URI_PARSE_FAILED => "URI Parse Failed",
        URI_SCHEME_INVALID => "URI Scheme Invalid",
        URI_PORT_INVALID => "URI Port Invalid",
        UPSTREAM_UNAVAILABLE => "Upstream Unavailable",
        PANICKED => "Task Panicked",
        GRAPH_CYCLE => "Graph Has A Cycle",
        ORPHANED => "Task Orphaned",
        _ => crate::lock::read(crate::global::task_error_texts()).get(&code).copied().unwrap_or("Unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_numbers() {
        assert_eq!(State::Success as i32, 0);
        assert_eq!(State::SysError as i32, 1);
        assert_eq!(State::Aborted as i32, 2);
        assert_eq!(State::ToReply as i32, 3);
        assert_eq!(State::NoReply as i32, 4);
        assert_eq!(State::SslError as i32, 65);
        assert_eq!(State::DnsError as i32, 66);
        assert_eq!(State::TaskError as i32, 67);
        assert_eq!(State::Undefined as i32, -1);
        for v in [-1, 0, 1, 2, 3, 4, 65, 66, 67] {
            assert_eq!(State::from_i32(v).unwrap() as i32, v);
        }
        assert_eq!(State::from_i32(5), None);
        assert_eq!(TimeoutReason::Transmit as i32, 3);
        assert_eq!(TimeoutReason::Deadline as i32, 4);
        assert_eq!(TimeoutReason::Deadline.to_string(), "Deadline Timeout");
    }

    #[test]
    fn strings_match_workflow() {
        assert_eq!(get_error_string(State::SysError, 111), "Connection refused");
        assert_eq!(get_error_string(State::SysError, libc::ETIMEDOUT), "Connection timed out");
        assert_eq!(get_error_string(State::DnsError, -2), "Name or service not known");
        assert_eq!(get_error_string(State::TaskError, 1002), "URI Scheme Invalid");
        assert_eq!(get_error_string(State::SslError, 1), "SSL Error SSL");
        assert_eq!(get_error_string(State::Success, 0), "Success");
        assert_eq!(get_error_string(State::TaskError, 1), "Unknown");
        register_task_error(4002, "MySQL Access Denied");
        assert_eq!(get_error_string(State::TaskError, 4002), "MySQL Access Denied");
        let t = Error::timeout(TimeoutReason::Connect);
        assert!(t.is_timeout());
        assert_eq!(t.timeout_reason(), TimeoutReason::Connect);
    }
}
