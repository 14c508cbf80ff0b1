//! Why a DNS lookup failed.

use std::fmt;

use wf_core::{Error, State};

/// Why a DNS lookup or a reply's decoding failed.
///
/// It converts into a [`wf_core::Error`] with state `DNS_ERROR` and the
/// `EAI_*` code closest to it (the `DnsError` kept as the cause): no reply
/// → `EAI_AGAIN`, no such name → `EAI_NONAME`, no records → `EAI_NODATA`,
/// a refusing or broken server → `EAI_FAIL`, a socket error →
/// `SYS_ERROR` with its errno.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsError {
    /// No valid reply within the timeout, after every attempt.
    Timeout,
    /// A socket error (connecting, sending, receiving).
    Io(std::io::ErrorKind, Option<i32>),
    /// The message ends inside a field, a name or a record.
    Truncated,
    /// The message is longer than 65535 bytes.
    MessageTooLong(usize),
    /// The counts declare more questions and records than the limit (1024),
    /// or than the bytes of the message can hold.
    TooManyRecords(usize),
    /// A name is longer than 255 bytes on the wire.
    NameTooLong,
    /// A label type other than a length or a compression pointer.
    BadLabelType(u8),
    /// A compression pointer that does not point before the name holding it.
    BadPointer,
    /// A name that follows more than 64 compression pointers.
    PointerLoop,
    /// A record whose data does not fit its type.
    BadRecord(&'static str),
    /// The only replies were not responses or had another query ID.
    IdMismatch,
    /// The reply is about another question than the one asked.
    QuestionMismatch,
    /// The name does not exist (NXDOMAIN).
    NameNotFound,
    /// The server answered with this error response code.
    ServerError(u8),
    /// The name exists but has no usable records of the type asked for.
    NoRecords,
    /// A name that cannot be asked for (empty label, label over 63 or name
    /// over 255 bytes).
    InvalidName(String),
    /// No DNS server to ask: none given and no `nameserver` line in
    /// `/etc/resolv.conf`.
    NoServer,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Timeout => f.write_str("DNS: no reply in time"),
            DnsError::Io(kind, Some(errno)) => write!(f, "DNS: socket error: {kind} (errno {errno})"),
            DnsError::Io(kind, None) => write!(f, "DNS: socket error: {kind}"),
            DnsError::Truncated => f.write_str("DNS: message cut short"),
            DnsError::MessageTooLong(n) => write!(f, "DNS: message of {n} bytes, over 65535"),
            DnsError::TooManyRecords(n) => write!(f, "DNS: {n} records declared, more than the message can hold"),
            DnsError::NameTooLong => f.write_str("DNS: name over 255 bytes"),
            DnsError::BadLabelType(b) => write!(f, "DNS: unknown label type 0x{b:02x}"),
            DnsError::BadPointer => f.write_str("DNS: compression pointer does not point backward"),
            DnsError::PointerLoop => f.write_str("DNS: name follows too many compression pointers"),
            DnsError::BadRecord(what) => write!(f, "DNS: bad record: {what}"),
            DnsError::IdMismatch => f.write_str("DNS: replies did not match the query ID"),
            DnsError::QuestionMismatch => f.write_str("DNS: reply to another question"),
            DnsError::NameNotFound => f.write_str("DNS: no such name"),
            DnsError::ServerError(rcode) => write!(f, "DNS: server error, response code {rcode}"),
            DnsError::NoRecords => f.write_str("DNS: no usable records"),
            DnsError::InvalidName(name) => write!(f, "DNS: invalid name {name:?}"),
            DnsError::NoServer => f.write_str("DNS: no server given and none in /etc/resolv.conf"),
        }
    }
}

impl std::error::Error for DnsError {}

impl From<std::io::Error> for DnsError {
    fn from(e: std::io::Error) -> DnsError {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return DnsError::Timeout;
        }
        DnsError::Io(e.kind(), e.raw_os_error())
    }
}

impl From<DnsError> for Error {
    fn from(e: DnsError) -> Error {
        let base = match &e {
            DnsError::Timeout => Error::new(State::DnsError, libc::EAI_AGAIN),
            DnsError::Io(_, Some(errno)) => Error::sys(*errno),
            DnsError::Io(..) => Error::sys(libc::EIO),
            DnsError::NameNotFound | DnsError::InvalidName(_) => Error::new(State::DnsError, libc::EAI_NONAME),
            DnsError::NoRecords => Error::new(State::DnsError, libc::EAI_NODATA),
            _ => Error::new(State::DnsError, libc::EAI_FAIL),
        };
        base.with_cause(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn into_wf_error() {
        let e = Error::from(DnsError::PointerLoop);
        assert_eq!((e.state(), e.code()), (State::DnsError, libc::EAI_FAIL));
        assert!(e.to_string().contains("too many compression pointers"), "{e}");
        assert_eq!(Error::from(DnsError::Timeout).code(), libc::EAI_AGAIN);
        assert_eq!(Error::from(DnsError::NameNotFound).code(), libc::EAI_NONAME);
        assert_eq!(Error::from(DnsError::Io(std::io::ErrorKind::ConnectionRefused, Some(111))), Error::sys(111));
    }
}
