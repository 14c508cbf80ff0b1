//! Requests and responses.

use bytes::{Bytes, BytesMut};

use crate::value::RedisValue;

/// Longest argument copied into a request's shared buffer rather than
/// given an allocation of its own.
const SHARED_ARG_MAX: usize = 64;

/// Room the shared buffer gets each time it fills up.
const SHARED_CHUNK: usize = 256;

/// Something that can be a command argument: text, bytes or a number.
pub trait RedisArg {
    /// The argument's bytes.
    fn into_arg(self) -> Bytes;

    /// The argument's bytes, a short one copied into `shared` (the
    /// request's buffer for its short arguments: one allocation for many
    /// arguments rather than one each). By default
    /// [`into_arg`](RedisArg::into_arg).
    fn into_arg_in(self, shared: &mut BytesMut) -> Bytes
    where
        Self: Sized,
    {
        let _ = shared;
        self.into_arg()
    }
}

/// `b` as a slice of `shared` when it is short, else in a buffer of its
/// own.
fn copy_in(b: &[u8], shared: &mut BytesMut) -> Bytes {
    if b.len() > SHARED_ARG_MAX {
        return Bytes::copy_from_slice(b);
    }
    if shared.capacity() - shared.len() < b.len() {
        // A fresh chunk: growing a buffer whose start is shared would
        // allocate just what this argument needs, every time.
        *shared = BytesMut::with_capacity(SHARED_CHUNK);
    }
    shared.extend_from_slice(b);
    shared.split().freeze()
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

    fn into_arg_in(self, shared: &mut BytesMut) -> Bytes {
        if self.len() <= SHARED_ARG_MAX { copy_in(&self, shared) } else { Bytes::from(self) }
    }
}

impl RedisArg for String {
    fn into_arg(self) -> Bytes {
        Bytes::from(self)
    }

    fn into_arg_in(self, shared: &mut BytesMut) -> Bytes {
        self.into_bytes().into_arg_in(shared)
    }
}

macro_rules! borrowed_arg {
    ($($t:ty),* $(,)?) => {$(
        impl RedisArg for $t {
            fn into_arg(self) -> Bytes {
                Bytes::copy_from_slice(AsRef::<[u8]>::as_ref(self))
            }

            fn into_arg_in(self, shared: &mut BytesMut) -> Bytes {
                copy_in(AsRef::<[u8]>::as_ref(self), shared)
            }
        }
    )*};
}
borrowed_arg!(&str, &String, &[u8], &Vec<u8>);

impl<const N: usize> RedisArg for &[u8; N] {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }

    fn into_arg_in(self, shared: &mut BytesMut) -> Bytes {
        copy_in(self, shared)
    }
}

/// Integers in decimal, formatted on the stack (at most 20 bytes: always
/// a short argument, copied into the shared buffer with no allocation).
macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl RedisArg for $t {
            fn into_arg(self) -> Bytes {
                Bytes::copy_from_slice(itoa::Buffer::new().format(self).as_bytes())
            }

            fn into_arg_in(self, shared: &mut BytesMut) -> Bytes {
                copy_in(itoa::Buffer::new().format(self).as_bytes(), shared)
            }
        }
    )*};
}
int_arg!(i32, i64, u32, u64, usize, isize);

/// As Rust displays it (`1` for 1.0; up to hundreds of digits).
impl RedisArg for f64 {
    fn into_arg(self) -> Bytes {
        Bytes::from(self.to_string())
    }

    fn into_arg_in(self, shared: &mut BytesMut) -> Bytes {
        self.to_string().into_arg_in(shared)
    }
}

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
#[derive(Default)]
pub struct RedisRequest {
    /// Every command's name and parameters, one command after another.
    args: Vec<Bytes>,
    /// Where each command but the last ends in `args` (the last ends with
    /// it: a single command needs no allocation here).
    ends: Vec<usize>,
    /// Where the short arguments' bytes are copied (see
    /// [`RedisArg::into_arg_in`]).
    shared: BytesMut,
    /// Send `ASKING` first (a cluster `ASK` redirect); its reply is
    /// dropped.
    pub(crate) asking: bool,
    /// Some command blocks the connection or changes its state: it may
    /// not share one ([`crate::command::is_exclusive`]).
    pub(crate) exclusive: bool,
}

impl Clone for RedisRequest {
    fn clone(&self) -> RedisRequest {
        RedisRequest {
            args: self.args.clone(),
            ends: self.ends.clone(),
            shared: BytesMut::new(),
            asking: self.asking,
            exclusive: self.exclusive,
        }
    }
}

impl std::fmt::Debug for RedisRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRequest")
            .field("commands", &self.commands().collect::<Vec<_>>())
            .field("asking", &self.asking)
            .field("exclusive", &self.exclusive)
            .finish()
    }
}

impl RedisRequest {
    /// Makes this request `command` with `params`, replacing what it held.
    pub fn set_request<I>(&mut self, command: &str, params: I)
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        self.args.clear();
        self.ends.clear();
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
        if self.args.is_empty() {
            self.exclusive = false;
        } else {
            self.ends.push(self.args.len());
        }
        let params = params.into_iter();
        self.args.reserve(1 + params.size_hint().0);
        self.args.push(copy_in(command.as_bytes(), &mut self.shared));
        for p in params {
            self.args.push(p.into_arg_in(&mut self.shared));
        }
        self.exclusive |= crate::command::is_exclusive(command.as_bytes());
    }

    /// The (first) command's name.
    pub fn command(&self) -> Option<&str> {
        self.args.first().and_then(|c| std::str::from_utf8(c).ok())
    }

    /// The (first) command's parameters.
    pub fn params(&self) -> &[Bytes] {
        self.commands().next().map_or(&[], |c| &c[1..])
    }

    /// Every command, each as its name followed by its parameters.
    pub fn commands(&self) -> impl ExactSizeIterator<Item = &[Bytes]> {
        let n = if self.args.is_empty() { 0 } else { self.ends.len() + 1 };
        (0..n).map(move |i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            let end = self.ends.get(i).copied().unwrap_or(self.args.len());
            &self.args[start..end]
        })
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        if self.args.is_empty() { 0 } else { self.ends.len() + 1 }
    }

    /// Whether no command is set.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    pub(crate) fn from_parts(parts: Vec<Bytes>) -> RedisRequest {
        let exclusive = crate::command::is_exclusive(&parts[0]);
        RedisRequest { args: parts, ends: Vec::new(), shared: BytesMut::new(), asking: false, exclusive }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_keep_their_arguments_apart() {
        let mut req = RedisRequest::default();
        assert!(req.is_empty());
        assert_eq!(req.commands().count(), 0);
        assert!(req.params().is_empty());
        let long = "v".repeat(SHARED_ARG_MAX + 1);
        req.push_command("SET", ["k1", long.as_str()]);
        req.push_command("GET", [String::from("k1")]);
        req.push_command("PING", Vec::<&str>::new());
        req.push_command("INCRBY", [&b"n"[..]]);
        assert_eq!(req.len(), 4);
        let cmds: Vec<Vec<&[u8]>> = req.commands().map(|c| c.iter().map(|b| &b[..]).collect()).collect();
        assert_eq!(
            cmds,
            vec![
                vec![&b"SET"[..], b"k1", long.as_bytes()],
                vec![&b"GET"[..], b"k1"],
                vec![&b"PING"[..]],
                vec![&b"INCRBY"[..], b"n"],
            ]
        );
        assert_eq!(req.command(), Some("SET"));
        assert_eq!(req.params().len(), 2);
        let copy = req.clone();
        req.set_request("DEL", [7i64]);
        assert_eq!(req.len(), 1);
        assert_eq!(req.params(), &[Bytes::from_static(b"7")]);
        assert_eq!(copy.len(), 4);
        assert_eq!(copy.commands().nth(1).unwrap()[1], Bytes::from_static(b"k1"));
    }

    #[test]
    fn many_short_arguments_fill_several_chunks() {
        let mut req = RedisRequest::default();
        let keys: Vec<String> = (0..200).map(|i| format!("key:{i:040}")).collect();
        for k in &keys {
            req.push_command("GET", [k]);
        }
        assert_eq!(req.len(), keys.len());
        for (c, k) in req.commands().zip(&keys) {
            assert_eq!(&c[0][..], b"GET");
            assert_eq!(&c[1][..], k.as_bytes());
        }
    }
}
