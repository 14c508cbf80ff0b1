//! A connection: a stream, its buffers and its codec.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tokio_util::codec::{Decoder, Encoder};

use super::spare::READ_RESERVE;
use super::stream::NetStream;
use crate::error::{Error, TimeoutReason};

/// An open connection with its codec, as a protocol's hooks see it (for
/// example [`ClientProtocol::on_connect`](super::ClientProtocol::on_connect) sending
/// Redis `AUTH` or running the MySQL handshake).
///
/// Reads and writes give up with `SYS_ERROR`/`ETIMEDOUT`
/// ([`TimeoutReason::Transmit`]) when a single read or write makes no
/// progress for the endpoint's response timeout. On a client connection,
/// [`receive`](Connection::receive) gives up with `SYS_ERROR`/`EMSGSIZE`
/// when more bytes than the task's response size limit come without
/// decoding into an item; it never reads past the limit.
#[derive(Debug)]
pub struct Connection<C> {
    pub(crate) stream: NetStream,
    pub(crate) rbuf: BytesMut,
    pub(crate) wbuf: BytesMut,
    pub(crate) codec: C,
    peer: Option<SocketAddr>,
    response_timeout: Option<Duration>,
    /// The running task's limits, for [`send`](Connection::send) and
    /// [`receive`](Connection::receive).
    limits: Limits,
    /// Bytes read so far, in all.
    read_total: u64,
    /// Bytes read since the last item decoded (what is left in the buffer
    /// after a decode belongs to the next one).
    item_bytes: usize,
    /// Bytes written so far, in all.
    write_total: u64,
}

/// A client task's limits on one exchange.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    /// On sending a whole request.
    pub(crate) send: Option<Duration>,
    /// On the wait for a reply's first byte.
    pub(crate) watch: Option<Duration>,
    /// On receiving a whole reply.
    pub(crate) receive: Option<Duration>,
    /// On the bytes of one reply.
    pub(crate) size: Option<usize>,
}

pub(crate) fn deadline(t: Option<Duration>) -> Option<Instant> {
    t.map(|t| Instant::now() + t)
}

pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

pub(crate) async fn until<F: std::future::Future>(at: Option<Instant>, f: F) -> Result<F::Output, Error> {
    match at {
        Some(at) => timeout_at(at, f).await.map_err(|_| Error::timeout(TimeoutReason::Transmit)),
        None => Ok(f.await),
    }
}

impl<C> Connection<C> {
    pub(crate) fn new(
        stream: NetStream,
        codec: C,
        peer: Option<SocketAddr>,
        response_timeout: Option<Duration>,
    ) -> Self {
        Connection {
            stream,
            rbuf: BytesMut::with_capacity(READ_RESERVE),
            wbuf: BytesMut::with_capacity(READ_RESERVE),
            codec,
            peer,
            response_timeout,
            limits: Limits::default(),
            read_total: 0,
            item_bytes: 0,
            write_total: 0,
        }
    }

    /// Gives both buffers, empty, back to the thread's spares
    /// ([`super::spare`]): a server connection waiting idle holds none.
    pub(crate) fn release_buffers(&mut self) {
        super::spare::give((std::mem::take(&mut self.rbuf), std::mem::take(&mut self.wbuf)));
    }

    /// Takes buffers again after [`release_buffers`](Connection::release_buffers).
    pub(crate) fn take_buffers(&mut self) {
        (self.rbuf, self.wbuf) = super::spare::take();
    }

    /// The codec, e.g. to switch its state after a handshake.
    pub fn codec_mut(&mut self) -> &mut C {
        &mut self.codec
    }

    /// The peer's address (`None` for a Unix socket).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Encodes `item` and writes it out (within the running task's send
    /// timeout, if it set one).
    pub async fn send<T>(&mut self, item: T) -> Result<(), Error>
    where
        C: Encoder<T>,
        C::Error: Into<Error>,
    {
        self.send_within(item, self.limits.send).await
    }

    /// Reads until the codec decodes one item (within the running task's
    /// watch and receive timeouts, if it set them).
    pub async fn receive(&mut self) -> Result<C::Item, Error>
    where
        C: Decoder,
        C::Error: Into<Error>,
    {
        self.receive_within(self.limits.watch, self.limits.receive).await
    }

    /// Sets the limits [`send`](Connection::send) and
    /// [`receive`](Connection::receive) keep.
    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Sets the limit on the bytes of one received item alone (e.g. for
    /// the protocol's handshake, before the task's timeouts apply).
    pub(crate) fn set_size_limit(&mut self, size: Option<usize>) {
        self.limits.size = size;
    }

    /// Bytes read since the last item decoded, and the buffer's capacity
    /// (for tests that check a connection's memory stays bounded).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> (usize, usize) {
        (self.item_bytes, self.rbuf.capacity())
    }

    /// Like [`send`](Connection::send), all of it within `limit`.
    pub(crate) async fn send_within<T>(&mut self, item: T, limit: Option<Duration>) -> Result<(), Error>
    where
        C: Encoder<T>,
        C::Error: Into<Error>,
    {
        self.codec.encode(item, &mut self.wbuf).map_err(Into::into)?;
        self.flush_within(limit).await
    }

    /// Writes out what is buffered.
    pub(crate) async fn flush_within(&mut self, limit: Option<Duration>) -> Result<(), Error> {
        self.flush_reporting(limit, |_| {}).await
    }

    /// Writes out what is buffered, telling `wrote` how many bytes each
    /// write took from the front of the buffer (a server's pushed bytes
    /// are counted down as they go out).
    pub(crate) async fn flush_reporting(
        &mut self,
        limit: Option<Duration>,
        mut wrote: impl FnMut(usize),
    ) -> Result<(), Error> {
        let whole = deadline(limit);
        while !self.wbuf.is_empty() {
            let at = earliest(whole, deadline(self.response_timeout));
            let n = until(at, self.stream.write_buf(&mut self.wbuf)).await??;
            if n == 0 {
                return Err(Error::sys(libc::EPIPE));
            }
            self.write_total += n as u64;
            wrote(n);
        }
        until(earliest(whole, deadline(self.response_timeout)), self.stream.flush()).await??;
        Ok(())
    }

    /// Writes what is buffered as far as the stream takes it at once, with
    /// no timer: true when all of it went out (and is flushed), false when
    /// the stream would block with some left, for
    /// [`flush_reporting`](Self::flush_reporting) to finish within the
    /// response timeout. Most replies fit the socket's buffer, so most
    /// writes set up no timer and read no clock.
    pub(crate) fn poll_write_now(&mut self, cx: &mut Context<'_>, mut wrote: impl FnMut(usize)) -> Result<bool, Error> {
        while !self.wbuf.is_empty() {
            match tokio_util::io::poll_write_buf(Pin::new(&mut self.stream), cx, &mut self.wbuf) {
                Poll::Ready(Ok(0)) => return Err(Error::sys(libc::EPIPE)),
                Poll::Ready(Ok(n)) => {
                    self.write_total += n as u64;
                    wrote(n);
                }
                Poll::Ready(Err(e)) => return Err(e.into()),
                Poll::Pending => return Ok(false),
            }
        }
        match Pin::new(&mut self.stream).poll_flush(cx) {
            Poll::Ready(Ok(())) => Ok(true),
            Poll::Ready(Err(e)) => Err(e.into()),
            Poll::Pending => Ok(false),
        }
    }

    /// Reads one item: the first byte within `watch` (else the response
    /// timeout), all of it within `whole`, at most `limits.size` bytes of
    /// it (`EMSGSIZE` past that). With a watch timeout, `whole` counts
    /// from the first byte, as in Workflow.
    pub(crate) async fn receive_within(
        &mut self,
        watch: Option<Duration>,
        whole: Option<Duration>,
    ) -> Result<C::Item, Error>
    where
        C: Decoder,
        C::Error: Into<Error>,
    {
        let mut first = self.rbuf.is_empty();
        let mut whole_at = if first && watch.is_some() { None } else { deadline(whole) };
        let size = self.limits.size;
        loop {
            if let Some(item) = self.codec.decode(&mut self.rbuf).map_err(Into::into)? {
                self.item_bytes = self.rbuf.len();
                return Ok(item);
            }
            if size.is_some_and(|max| self.item_bytes > max) {
                crate::trace::debug!(peer = ?self.peer, limit = size, "response over the size limit");
                return Err(Error::sys(libc::EMSGSIZE));
            }
            let step = if first { watch.or(self.response_timeout) } else { self.response_timeout };
            self.rbuf.reserve(READ_RESERVE);
            // One byte past the limit at most: enough to tell the reply is
            // too big, nothing more buffered.
            let room = size.map_or(usize::MAX, |max| max.saturating_sub(self.item_bytes).saturating_add(1));
            let mut limited = (&mut self.rbuf).limit(room);
            let n = until(earliest(whole_at, deadline(step)), self.stream.read_buf(&mut limited)).await??;
            self.read_total += n as u64;
            self.item_bytes = self.item_bytes.saturating_add(n);
            if n == 0 {
                return match self.codec.decode_eof(&mut self.rbuf).map_err(Into::into) {
                    Ok(Some(item)) => {
                        self.item_bytes = self.rbuf.len();
                        Ok(item)
                    }
                    Ok(None) => Err(Error::sys(libc::ECONNRESET)),
                    // tokio-util's default for a reply cut short ("bytes
                    // remaining on stream", no errno): the peer closed.
                    Err(e) if e.state() == crate::State::SysError && e.code() == libc::EIO => {
                        Err(Error::sys(libc::ECONNRESET).with_cause(e))
                    }
                    Err(e) => Err(e),
                };
            }
            if first {
                first = false;
                if whole_at.is_none() {
                    whole_at = deadline(whole);
                }
            }
        }
    }

    /// Changes the limit on each read or write making progress (the
    /// endpoint's response timeout; `None`: wait forever), e.g. for a
    /// connection that waits for pushed messages.
    pub fn set_response_timeout(&mut self, t: Option<Duration>) {
        self.response_timeout = t;
    }

    /// The endpoint's limit on a read or write making progress.
    pub(crate) fn response_timeout(&self) -> Option<Duration> {
        self.response_timeout
    }

    /// Whether nothing of a reply has arrived yet (so a failure now is a
    /// stale keep-alive connection, not a failed request).
    pub(crate) fn nothing_received(&self) -> bool {
        self.rbuf.is_empty()
    }

    /// Bytes read on this connection so far.
    pub(crate) fn read_total(&self) -> u64 {
        self.read_total
    }

    /// Bytes written on this connection so far.
    pub(crate) fn write_total(&self) -> u64 {
        self.write_total
    }

    /// Whether an idle connection can be handed out again.
    pub(crate) fn is_reusable(&mut self) -> bool {
        self.rbuf.is_empty() && self.stream.is_reusable()
    }

    /// Switches the stream to TLS (e.g. MySQL after its SSL request). Bytes
    /// already buffered are kept.
    #[cfg(feature = "tls")]
    pub async fn upgrade_tls(&mut self, tls: &super::tls::TlsClient, server_name: &str) -> Result<(), Error> {
        let NetStream::Plain(plain) = std::mem::replace(&mut self.stream, NetStream::Gone) else {
            return Err(Error::sys(libc::EINVAL));
        };
        let s = super::tls::connect(tls, server_name, plain, self.response_timeout).await?;
        self.stream = NetStream::TlsClient(Box::new(s));
        Ok(())
    }
}

impl From<tokio::time::error::Elapsed> for Error {
    fn from(_: tokio::time::error::Elapsed) -> Error {
        Error::timeout(TimeoutReason::Transmit)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::net::stream::Plain;

    /// A third party's codec that buffers everything and never decodes.
    struct Hoarder;

    impl Decoder for Hoarder {
        type Item = ();
        type Error = std::io::Error;

        fn decode(&mut self, _: &mut BytesMut) -> std::io::Result<Option<()>> {
            Ok(None)
        }
    }

    /// Connects to a hostile server that writes `prefix`, then zeros
    /// without end.
    async fn endless(prefix: &'static [u8]) -> NetStream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let _ = s.write_all(prefix);
            let zeros = [0u8; 16 << 10];
            while s.write_all(&zeros).is_ok() {}
        });
        NetStream::Plain(Plain::Tcp(tokio::net::TcpStream::connect(addr).await.unwrap()))
    }

    /// An endless reply: `EMSGSIZE` once past the limit, and the
    /// connection never buffered more than the limit and one byte.
    #[tokio::test]
    async fn endless_reply_stops_at_the_size_limit() {
        const LIMIT: usize = 256 << 10;
        let mut conn = Connection::new(endless(b"").await, Hoarder, None, Some(Duration::from_secs(10)));
        conn.set_size_limit(Some(LIMIT));
        let e = conn.receive().await.unwrap_err();
        assert_eq!((e.state(), e.code()), (crate::State::SysError, libc::EMSGSIZE), "{e}");
        let (read, capacity) = conn.buffered();
        assert!(read <= LIMIT + 1, "read {read} bytes for one item");
        assert!(conn.rbuf.len() <= LIMIT + 1, "buffered {}", conn.rbuf.len());
        assert!(capacity <= 2 * (LIMIT + READ_RESERVE), "capacity {capacity}");
    }

    /// The count is per item: bytes left after a decode belong to the
    /// next one, and a long stream of small items is fine.
    #[tokio::test]
    async fn limit_is_per_item() {
        use tokio_util::codec::LengthDelimitedCodec;
        // Items of 4 + 100 bytes (a big-endian length, then the bytes);
        // the zeros after them are empty items (4 bytes each).
        let mut wire = Vec::new();
        for _ in 0..100 {
            wire.extend_from_slice(&[0, 0, 0, 100]);
            wire.extend_from_slice(&[7; 100]);
        }
        let wire: &'static [u8] = Vec::leak(wire);
        let codec = LengthDelimitedCodec::new();
        let mut conn = Connection::new(endless(wire).await, codec, None, Some(Duration::from_secs(10)));
        conn.set_size_limit(Some(200));
        for _ in 0..100 {
            let m = conn.receive().await.unwrap();
            assert_eq!(m.len(), 100);
        }
        for _ in 0..1000 {
            assert_eq!(conn.receive().await.unwrap().len(), 0);
        }
    }
}
