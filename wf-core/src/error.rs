//! Task states, error codes and their text, kept numerically identical to
//! C++ Workflow so that ported code and logs keep their meaning.

use std::fmt;

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
}

/// Task error codes used with [`State::TaskError`] (Workflow's `WFT_ERR_*`),
/// plus a few wf additions in the 9000 range.
pub mod code {
    /// The URL could not be parsed.
    pub const URI_PARSE_FAILED: i32 = 1001;
    /// The URL's scheme is not one this task understands.
    pub const URI_SCHEME_INVALID: i32 = 1002;
    /// The URL's port is not a valid port.
    pub const URI_PORT_INVALID: i32 = 1003;
    /// Every server of an upstream is down.
    pub const UPSTREAM_UNAVAILABLE: i32 = 1004;
    /// An HTTP redirect had no usable `Location`.
    pub const HTTP_BAD_REDIRECT_HEADER: i32 = 2001;
    /// The HTTP proxy refused the `CONNECT` tunnel.
    pub const HTTP_PROXY_CONNECT_FAILED: i32 = 2002;
    /// Redis refused the credentials.
    pub const REDIS_ACCESS_DENIED: i32 = 3001;
    /// The Redis command is managed by wf and may not be sent by hand.
    pub const REDIS_COMMAND_DISALLOWED: i32 = 3002;
    /// The MySQL server does not allow this host.
    pub const MYSQL_HOST_NOT_ALLOWED: i32 = 4001;
    /// MySQL refused the credentials.
    pub const MYSQL_ACCESS_DENIED: i32 = 4002;
    /// The requested MySQL character set is unknown.
    pub const MYSQL_INVALID_CHARACTER_SET: i32 = 4003;
    /// The MySQL statement is managed by wf and may not be sent by hand.
    pub const MYSQL_COMMAND_DISALLOWED: i32 = 4004;
    /// A MySQL task was started without a query.
    pub const MYSQL_QUERY_NOT_SET: i32 = 4005;
    /// The MySQL server does not support TLS.
    pub const MYSQL_SSL_NOT_SUPPORTED: i32 = 4006;
    /// wf: a user callback or go function panicked; the series was canceled.
    pub const PANICKED: i32 = 9001;
    /// wf: a graph task's edges form a cycle, so it cannot run.
    pub const GRAPH_CYCLE: i32 = 9002;
}

/// The outcome of a finished task: its [`State`], the error code that goes
/// with it, and for timeouts the [`TimeoutReason`].
///
/// `Display` gives the same text as Workflow's `get_error_string`, e.g.
/// `"Connection refused"` or `"URI Scheme Invalid"`.
///
/// ```
/// use wf_core::{Error, State};
/// let e = Error::new(State::TaskError, wf_core::code::URI_SCHEME_INVALID);
/// assert_eq!(e.to_string(), "URI Scheme Invalid");
/// assert_eq!(Error::new(State::SysError, libc::ECONNREFUSED).to_string(), "Connection refused");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    state: State,
    code: i32,
    timeout_reason: TimeoutReason,
}

impl Error {
    /// An outcome with a state and code.
    pub const fn new(state: State, code: i32) -> Error {
        Error { state, code, timeout_reason: TimeoutReason::NotTimeout }
    }

    /// `SYS_ERROR` with an `errno` value.
    pub const fn sys(errno: i32) -> Error {
        Error::new(State::SysError, errno)
    }

    /// `SYS_ERROR`/`ETIMEDOUT` with the reason for the timeout.
    pub const fn timeout(reason: TimeoutReason) -> Error {
        Error { state: State::SysError, code: libc::ETIMEDOUT, timeout_reason: reason }
    }

    /// `TASK_ERROR` with one of the [`code`] values.
    pub const fn task(code: i32) -> Error {
        Error::new(State::TaskError, code)
    }

    /// The state.
    pub const fn state(&self) -> State {
        self.state
    }

    /// The error code: an errno, an `EAI_*` value, an SSL error or a `WFT_ERR_*` code, by state.
    pub const fn code(&self) -> i32 {
        self.code
    }

    /// Why the task timed out, if it did.
    pub const fn timeout_reason(&self) -> TimeoutReason {
        self.timeout_reason
    }

    /// True when the state is [`State::Success`].
    pub fn is_success(&self) -> bool {
        self.state == State::Success
    }

    /// True for `SYS_ERROR`/`ETIMEDOUT`.
    pub fn is_timeout(&self) -> bool {
        self.state == State::SysError && self.code == libc::ETIMEDOUT
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_error_string(f, self.state, self.code)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        let errno = e.raw_os_error().unwrap_or(match e.kind() {
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
        });
        Error::sys(errno)
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

/// Names a protocol's own `TASK_ERROR` code, so that its `Display` (and
/// [`get_error_string`]) reads well. Codes 1000–9999 are Workflow's and
/// wf's; third-party protocols should use 10000 and above. Registering a
/// code again replaces its text.
///
/// ```
/// wf_core::register_task_error(10_001, "KV Access Denied");
/// assert_eq!(wf_core::Error::task(10_001).to_string(), "KV Access Denied");
/// ```
pub fn register_task_error(code: i32, text: &'static str) {
    let mut map = crate::lock::write(registered());
    map.insert(code, text);
}

fn registered() -> &'static std::sync::RwLock<std::collections::HashMap<i32, &'static str>> {
    static MAP: std::sync::OnceLock<std::sync::RwLock<std::collections::HashMap<i32, &'static str>>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(Default::default)
}

fn task_error_str(code: i32) -> &'static str {
    use code::*;
    match code {
        URI_PARSE_FAILED => "URI Parse Failed",
        URI_SCHEME_INVALID => "URI Scheme Invalid",
        URI_PORT_INVALID => "URI Port Invalid",
        UPSTREAM_UNAVAILABLE => "Upstream Unavailable",
        HTTP_BAD_REDIRECT_HEADER => "Http Bad Redirect Header",
        HTTP_PROXY_CONNECT_FAILED => "Http Proxy Connect Failed",
        REDIS_ACCESS_DENIED => "Redis Access Denied",
        REDIS_COMMAND_DISALLOWED => "Redis Command Disallowed",
        MYSQL_HOST_NOT_ALLOWED => "MySQL Host Not Allowed",
        MYSQL_ACCESS_DENIED => "MySQL Access Denied",
        MYSQL_INVALID_CHARACTER_SET => "MySQL Invalid Character Set",
        MYSQL_COMMAND_DISALLOWED => "MySQL Command Disallowed",
        MYSQL_QUERY_NOT_SET => "MySQL Query Not Set",
        MYSQL_SSL_NOT_SUPPORTED => "MySQL SSL Not Supported",
        PANICKED => "Task Panicked",
        GRAPH_CYCLE => "Graph Has A Cycle",
        _ => crate::lock::read(registered()).get(&code).copied().unwrap_or("Unknown"),
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
    }

    #[test]
    fn strings_match_workflow() {
        assert_eq!(get_error_string(State::SysError, 111), "Connection refused");
        assert_eq!(get_error_string(State::SysError, libc::ETIMEDOUT), "Connection timed out");
        assert_eq!(get_error_string(State::DnsError, -2), "Name or service not known");
        assert_eq!(get_error_string(State::TaskError, 1002), "URI Scheme Invalid");
        assert_eq!(get_error_string(State::TaskError, 4002), "MySQL Access Denied");
        assert_eq!(get_error_string(State::TaskError, 4005), "MySQL Query Not Set");
        assert_eq!(get_error_string(State::SslError, 1), "SSL Error SSL");
        assert_eq!(get_error_string(State::Success, 0), "Success");
        assert_eq!(get_error_string(State::TaskError, 1), "Unknown");
        let t = Error::timeout(TimeoutReason::Connect);
        assert!(t.is_timeout());
        assert_eq!(t.timeout_reason(), TimeoutReason::Connect);
    }
}
