//! Requests and responses.

use bytes::Bytes;

use crate::value::RedisValue;

/// Something that can be a command argument: text, bytes or a number.
pub trait RedisArg {
    /// The argument's bytes.
    fn into_arg(self) -> Bytes;
}

impl RedisArg for Bytes {
    fn into_arg(self) -> Bytes {
        self
    }
}

impl RedisArg for Vec<u8> {
    fn into_arg(self) -> Bytes {
        Bytes::from(self)
    }
}

impl RedisArg for String {
    fn into_arg(self) -> Bytes {
        Bytes::from(self)
    }
}

impl RedisArg for &str {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl RedisArg for &String {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl RedisArg for &[u8] {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> RedisArg for &[u8; N] {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl RedisArg for &Vec<u8> {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl RedisArg for $t {
            fn into_arg(self) -> Bytes {
                Bytes::from(self.to_string())
            }
        }
    )*};
}
int_arg!(i32, i64, u32, u64, usize, isize, f64);

/// A Redis request: one command, or several sent as one pipeline whose
/// replies come back together (Workflow's `RedisRequest`).
///
/// ```
/// use wf_redis::RedisRequest;
///
/// let mut req = RedisRequest::default();
/// req.set_request("SET", ["key", "value"]);
/// assert_eq!(req.command(), Some("SET"));
/// assert_eq!(req.params().len(), 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RedisRequest {
    /// Each command: its name, then its parameters.
    commands: Vec<Vec<Bytes>>,
    /// Send `ASKING` first (a cluster `ASK` redirect); its reply is
    /// dropped.
    pub(crate) asking: bool,
    /// Some command blocks the connection or changes its state: it may
    /// not share one ([`crate::command::is_exclusive`]).
    pub(crate) exclusive: bool,
}

impl RedisRequest {
    /// Makes this request `command` with `params`, replacing what it held.
    pub fn set_request<I>(&mut self, command: &str, params: I)
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        self.commands.clear();
        self.exclusive = false;
        self.push_command(command, params);
    }

    /// Appends a command: the request becomes a pipeline, sent in one
    /// write, whose replies arrive together in
    /// [`RedisResponse::results`]. `MULTI` … `EXEC` belong in one
    /// pipeline: separate tasks may go out on different connections.
    pub fn push_command<I>(&mut self, command: &str, params: I)
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        let mut c = vec![Bytes::copy_from_slice(command.as_bytes())];
        c.extend(params.into_iter().map(RedisArg::into_arg));
        if self.commands.is_empty() {
            self.exclusive = false;
        }
        self.exclusive |= crate::command::is_exclusive(command.as_bytes());
        self.commands.push(c);
    }

    /// The (first) command's name.
    pub fn command(&self) -> Option<&str> {
        self.commands.first().and_then(|c| std::str::from_utf8(&c[0]).ok())
    }

    /// The (first) command's parameters.
    pub fn params(&self) -> &[Bytes] {
        self.commands.first().map_or(&[], |c| &c[1..])
    }

    /// Every command, each as its name followed by its parameters.
    pub fn commands(&self) -> impl ExactSizeIterator<Item = &[Bytes]> {
        self.commands.iter().map(Vec::as_slice)
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether no command is set.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    pub(crate) fn from_parts(parts: Vec<Bytes>) -> RedisRequest {
        let exclusive = crate::command::is_exclusive(&parts[0]);
        RedisRequest { commands: vec![parts], asking: false, exclusive }
    }
}

/// A Redis response: one value per command of the request (Workflow's
/// `RedisResponse`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RedisResponse {
    results: Vec<RedisValue>,
}

impl RedisResponse {
    /// The reply to the (first) command: nil when there is none.
    pub fn result(&self) -> &RedisValue {
        static NIL: RedisValue = RedisValue::Nil;
        self.results.first().unwrap_or(&NIL)
    }

    /// Takes the reply to the (first) command out.
    pub fn take_result(&mut self) -> RedisValue {
        if self.results.is_empty() { RedisValue::Nil } else { self.results.swap_remove(0) }
    }

    /// The reply to every command, in order.
    pub fn results(&self) -> &[RedisValue] {
        &self.results
    }

    /// Takes every reply out.
    pub fn take_results(&mut self) -> Vec<RedisValue> {
        std::mem::take(&mut self.results)
    }

    /// Sets the reply (a server's answer).
    pub fn set_result(&mut self, v: impl Into<RedisValue>) {
        self.results.clear();
        self.results.push(v.into());
    }

    pub(crate) fn from_results(results: Vec<RedisValue>) -> RedisResponse {
        RedisResponse { results }
    }
}
