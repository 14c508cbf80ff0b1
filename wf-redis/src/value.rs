//! `RedisValue`: one reply (or part of one), every RESP2 and RESP3 kind.

use std::fmt;

use bytes::Bytes;

/// A Redis value (Workflow's `RedisValue`): what a command returns, or
/// what a [`RedisServer`](crate::RedisServer) answers.
///
/// RESP2 has the first six kinds; RESP3 (a connection with
/// `?protocol=3` in its URL) adds the rest. Strings are bytes: Redis is
/// binary safe.
///
/// ```
/// use wf_redis::RedisValue;
///
/// let v = RedisValue::Array(vec![RedisValue::Nil, RedisValue::Integer(1), RedisValue::from("value")]);
/// assert_eq!(v.to_string(), r#"[nil, 1, "value"]"#);
/// assert_eq!(v[2].as_str(), Some("value"));
/// assert!(v[7].is_nil()); // out of range reads as nil
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RedisValue {
    /// No value (`$-1`, `*-1`, RESP3 `_`).
    #[default]
    Nil,
    /// An integer (`:`).
    Integer(i64),
    /// A bulk string (`$`), binary safe.
    String(Bytes),
    /// A status reply (`+OK`).
    Status(Bytes),
    /// An error reply (`-ERR …`, RESP3 `!`).
    Error(Bytes),
    /// An array (`*`).
    Array(Vec<RedisValue>),
    /// RESP3: a map (`%`), in the order the server sent it.
    Map(Vec<(RedisValue, RedisValue)>),
    /// RESP3: a set (`~`).
    Set(Vec<RedisValue>),
    /// RESP3: a double (`,`).
    Double(f64),
    /// RESP3: a boolean (`#`).
    Boolean(bool),
    /// RESP3: a big number (`(`), as its decimal digits.
    BigNumber(Bytes),
    /// RESP3: a verbatim string (`=`) and its format (`txt`, `mkd`).
    Verbatim {
        /// The three-letter format.
        format: String,
        /// The text.
        text: Bytes,
    },
    /// RESP3: an out-of-band push (`>`), e.g. a client-tracking
    /// invalidation.
    Push(Vec<RedisValue>),
}

static NIL: RedisValue = RedisValue::Nil;

impl RedisValue {
    /// A status reply, e.g. `RedisValue::status("OK")`.
    pub fn status(s: impl Into<Bytes>) -> RedisValue {
        RedisValue::Status(s.into())
    }

    /// `+OK`.
    pub fn ok() -> RedisValue {
        RedisValue::Status(Bytes::from_static(b"OK"))
    }

    /// An error reply, e.g. `RedisValue::error("ERR unknown command")`.
    pub fn error(s: impl Into<Bytes>) -> RedisValue {
        RedisValue::Error(s.into())
    }

    /// A bulk string.
    pub fn string(s: impl Into<Bytes>) -> RedisValue {
        RedisValue::String(s.into())
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, RedisValue::Nil)
    }

    /// Whether this is an integer.
    pub fn is_int(&self) -> bool {
        matches!(self, RedisValue::Integer(_))
    }

    /// Whether this is a bulk string or a status (as in Workflow).
    pub fn is_string(&self) -> bool {
        matches!(self, RedisValue::String(_) | RedisValue::Status(_))
    }

    /// Whether this is a status reply.
    pub fn is_status(&self) -> bool {
        matches!(self, RedisValue::Status(_))
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, RedisValue::Error(_))
    }

    /// Whether this is not an error (Workflow's `is_ok`).
    pub fn is_ok(&self) -> bool {
        !self.is_error()
    }

    /// Whether this is an array (or a RESP3 set or push).
    pub fn is_array(&self) -> bool {
        matches!(self, RedisValue::Array(_) | RedisValue::Set(_) | RedisValue::Push(_))
    }

    /// Whether this is a RESP3 map.
    pub fn is_map(&self) -> bool {
        matches!(self, RedisValue::Map(_))
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            RedisValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The double, if this is one.
    pub fn as_double(&self) -> Option<f64> {
        match self {
            RedisValue::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            RedisValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The bytes of a string, status, error, big number or verbatim
    /// string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            RedisValue::String(b)
            | RedisValue::Status(b)
            | RedisValue::Error(b)
            | RedisValue::BigNumber(b)
            | RedisValue::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    /// [`as_bytes`](RedisValue::as_bytes) as UTF-8 text (`None` if it is
    /// not text).
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The elements of an array, set or push.
    pub fn as_array(&self) -> Option<&[RedisValue]> {
        match self {
            RedisValue::Array(a) | RedisValue::Set(a) | RedisValue::Push(a) => Some(a),
            _ => None,
        }
    }

    /// The pairs of a map.
    pub fn as_map(&self) -> Option<&[(RedisValue, RedisValue)]> {
        match self {
            RedisValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Elements of an array, set or push, pairs of a map; 0 otherwise
    /// (Workflow's `arr_size`).
    pub fn len(&self) -> usize {
        match self {
            RedisValue::Map(m) => m.len(),
            v => v.as_array().map_or(0, <[RedisValue]>::len),
        }
    }

    /// Whether [`len`](RedisValue::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` of an array, set or push.
    pub fn get(&self, i: usize) -> Option<&RedisValue> {
        self.as_array().and_then(|a| a.get(i))
    }

    /// The value of `key` in a map (comparing string contents).
    pub fn map_get(&self, key: &str) -> Option<&RedisValue> {
        self.as_map()?.iter().find(|(k, _)| k.as_bytes() == Some(key.as_bytes())).map(|(_, v)| v)
    }
}

/// `value[i]`: element `i`, or nil when there is none (not an array, or
/// out of range), as Workflow's `operator[]` never fails.
impl std::ops::Index<usize> for RedisValue {
    type Output = RedisValue;

    fn index(&self, i: usize) -> &RedisValue {
        self.get(i).unwrap_or(&NIL)
    }
}

impl From<i64> for RedisValue {
    fn from(i: i64) -> RedisValue {
        RedisValue::Integer(i)
    }
}

impl From<&str> for RedisValue {
    fn from(s: &str) -> RedisValue {
        RedisValue::String(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for RedisValue {
    fn from(s: String) -> RedisValue {
        RedisValue::String(Bytes::from(s))
    }
}

impl From<&[u8]> for RedisValue {
    fn from(s: &[u8]) -> RedisValue {
        RedisValue::String(Bytes::copy_from_slice(s))
    }
}

impl From<Vec<u8>> for RedisValue {
    fn from(s: Vec<u8>) -> RedisValue {
        RedisValue::String(Bytes::from(s))
    }
}

impl From<Bytes> for RedisValue {
    fn from(s: Bytes) -> RedisValue {
        RedisValue::String(s)
    }
}

impl<T: Into<RedisValue>> From<Option<T>> for RedisValue {
    fn from(v: Option<T>) -> RedisValue {
        v.map_or(RedisValue::Nil, Into::into)
    }
}

impl<T: Into<RedisValue>> From<Vec<T>> for RedisValue {
    fn from(v: Vec<T>) -> RedisValue {
        RedisValue::Array(v.into_iter().map(Into::into).collect())
    }
}

fn quoted(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for c in b.iter().flat_map(|c| std::ascii::escape_default(*c)) {
        fmt::Write::write_char(f, c as char)?;
    }
    f.write_str("\"")
}

fn list(f: &mut fmt::Formatter<'_>, open: &str, items: &[RedisValue], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{v}")?;
    }
    f.write_str(close)
}

/// Workflow's `debug_string`: strings quoted and escaped, arrays in
/// brackets, e.g. `[nil, [1, "value"], "string"]`. Statuses show bare,
/// errors as `(error) text`, maps as `{k: v}`, sets as `~{…}`.
impl fmt::Display for RedisValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisValue::Nil => f.write_str("nil"),
            RedisValue::Integer(i) => write!(f, "{i}"),
            RedisValue::String(b) | RedisValue::Verbatim { text: b, .. } => quoted(f, b),
            RedisValue::Status(b) | RedisValue::BigNumber(b) => f.write_str(&String::from_utf8_lossy(b)),
            RedisValue::Error(b) => write!(f, "(error) {}", String::from_utf8_lossy(b)),
            RedisValue::Array(a) => list(f, "[", a, "]"),
            RedisValue::Set(a) => list(f, "~{", a, "}"),
            RedisValue::Push(a) => list(f, ">[", a, "]"),
            RedisValue::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            RedisValue::Double(d) => write!(f, "{d}"),
            RedisValue::Boolean(b) => write!(f, "{b}"),
        }
    }
}
