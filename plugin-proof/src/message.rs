//! KV-line requests and responses, and their one-line text forms.

use std::fmt;

/// A KV-line request: one line, the command word first.
///
/// | request | line |
/// |---|---|
/// | [`Ping`](Request::Ping) | `PING` |
/// | [`Get`](Request::Get) | `GET key` |
/// | [`Set`](Request::Set) | `SET key value` (the value is the rest of the line, spaces included) |
/// | [`Del`](Request::Del) | `DEL key` |
/// | [`Auth`](Request::Auth) | `AUTH secret` (the rest of the line) |
/// | [`Quit`](Request::Quit) | `QUIT` (the server answers `+OK` and closes) |
///
/// Command words are case-insensitive on input and upper-case on output.
/// Keys are non-empty and hold no space; no field holds `\r` or `\n`.
/// The default, what a new client task starts with, is `PING`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Request {
    /// `PING`: is the server there? Answered `$PONG`, also before `AUTH`.
    #[default]
    Ping,
    /// `GET key`: the value (`$value`), or `-ERR no such key`.
    Get(String),
    /// `SET key value`: stores the value, answered `+OK`.
    Set(String, String),
    /// `DEL key`: removes the key, answered with the number removed (`:0`
    /// or `:1`).
    Del(String),
    /// `AUTH secret`: authenticates the connection (`+OK` or `-ERR ...`).
    /// Client tasks send it by themselves when their URL has a password.
    Auth(String),
    /// `QUIT`: answered `+OK`, then the server closes the connection.
    Quit,
}

impl Request {
    /// The command word: `"GET"`, `"SET"`…
    pub fn command(&self) -> &'static str {
        match self {
            Request::Ping => "PING",
            Request::Get(_) => "GET",
            Request::Set(..) => "SET",
            Request::Del(_) => "DEL",
            Request::Auth(_) => "AUTH",
            Request::Quit => "QUIT",
        }
    }

    /// Whether the request can be written as one line (see the table on
    /// [`Request`]).
    pub fn is_valid(&self) -> bool {
        match self {
            Request::Ping | Request::Quit => true,
            Request::Get(k) | Request::Del(k) => is_key(k),
            Request::Set(k, v) => is_key(k) && is_text(v),
            Request::Auth(s) => !s.is_empty() && is_text(s),
        }
    }

    /// Parses one line, without its line end; `None` when it is not a
    /// request.
    pub fn parse(line: &str) -> Option<Request> {
        let (word, rest) = match line.split_once(' ') {
            Some((w, r)) => (w, Some(r)),
            None => (line, None),
        };
        let is = |name: &str| word.eq_ignore_ascii_case(name);
        let req = if is("PING") && rest.is_none() {
            Request::Ping
        } else if is("QUIT") && rest.is_none() {
            Request::Quit
        } else if is("GET") {
            Request::Get(rest?.to_owned())
        } else if is("DEL") {
            Request::Del(rest?.to_owned())
        } else if is("SET") {
            let (k, v) = rest?.split_once(' ')?;
            Request::Set(k.to_owned(), v.to_owned())
        } else if is("AUTH") {
            Request::Auth(rest?.to_owned())
        } else {
            return None;
        };
        req.is_valid().then_some(req)
    }
}

/// The line of a valid request, without its line end.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Ping | Request::Quit => f.write_str(self.command()),
            Request::Get(k) | Request::Del(k) => write!(f, "{} {k}", self.command()),
            Request::Set(k, v) => write!(f, "SET {k} {v}"),
            Request::Auth(s) => write!(f, "AUTH {s}"),
        }
    }
}

/// A KV-line response: one line, its kind given by the first byte.
///
/// | response | line |
/// |---|---|
/// | [`Ok`](Response::Ok) | `+OK` |
/// | [`Value`](Response::Value) | `$value` (possibly empty) |
/// | [`Error`](Response::Error) | `-ERR message` (`-ERR` alone for an empty message) |
/// | [`Integer`](Response::Integer) | `:n` (a signed 64-bit decimal) |
///
/// An `-ERR` answer is a response like any other: the client task still
/// succeeds, and its callback reads the error here. The default is `Ok`:
/// what a server answers when its `process` sets nothing, and what a
/// client task holds until it succeeds (read the task's state first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Response {
    /// `+OK`.
    #[default]
    Ok,
    /// `$value`.
    Value(String),
    /// `-ERR message`.
    Error(String),
    /// `:n`.
    Integer(i64),
}

impl Response {
    /// Whether the response can be written as one line (no `\r` or `\n`
    /// in a value or message).
    pub fn is_valid(&self) -> bool {
        match self {
            Response::Ok | Response::Integer(_) => true,
            Response::Value(s) | Response::Error(s) => is_text(s),
        }
    }

    /// Parses one line, without its line end; `None` when it is not a
    /// response.
    pub fn parse(line: &str) -> Option<Response> {
        let resp = if line == "+OK" {
            Response::Ok
        } else if let Some(v) = line.strip_prefix('$') {
            Response::Value(v.to_owned())
        } else if line == "-ERR" {
            Response::Error(String::new())
        } else if let Some(m) = line.strip_prefix("-ERR ") {
            Response::Error(m.to_owned())
        } else if let Some(n) = line.strip_prefix(':') {
            // `i64::from_str` takes a leading `+`; the protocol does not.
            if n.starts_with('+') {
                return None;
            }
            Response::Integer(n.parse().ok()?)
        } else {
            return None;
        };
        resp.is_valid().then_some(resp)
    }
}

/// The line of a valid response, without its line end.
impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Ok => f.write_str("+OK"),
            Response::Value(v) => write!(f, "${v}"),
            Response::Error(m) if m.is_empty() => f.write_str("-ERR"),
            Response::Error(m) => write!(f, "-ERR {m}"),
            Response::Integer(n) => write!(f, ":{n}"),
        }
    }
}

fn is_text(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n')
}

fn is_key(s: &str) -> bool {
    !s.is_empty() && is_text(s) && !s.contains(' ')
}
