//! One stream type for every transport: TCP, Unix sockets, and TLS over
//! either.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A plain transport.
#[derive(Debug)]
pub(crate) enum Plain {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connection's stream.
#[derive(Debug)]
pub(crate) enum NetStream {
    Plain(Plain),
    #[cfg(feature = "tls")]
    TlsClient(Box<tokio_rustls::client::TlsStream<Plain>>),
    #[cfg(feature = "tls")]
    TlsServer(Box<tokio_rustls::server::TlsStream<Plain>>),
    /// Moved out for a moment (a TLS upgrade); every operation fails.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Gone,
}

fn gone<T>() -> Poll<io::Result<T>> {
    Poll::Ready(Err(io::Error::from_raw_os_error(libc::ENOTCONN)))
}

macro_rules! delegate {
    ($self:ident, $method:ident($($arg:expr),*)) => {
        match $self.get_mut() {
            NetStream::Plain(Plain::Tcp(s)) => Pin::new(s).$method($($arg),*),
            NetStream::Plain(Plain::Unix(s)) => Pin::new(s).$method($($arg),*),
            #[cfg(feature = "tls")]
            NetStream::TlsClient(s) => Pin::new(s.as_mut()).$method($($arg),*),
            #[cfg(feature = "tls")]
            NetStream::TlsServer(s) => Pin::new(s.as_mut()).$method($($arg),*),
            NetStream::Gone => gone(),
        }
    };
}

impl AsyncRead for Plain {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Plain::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Plain::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Plain {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Plain::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Plain::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Plain::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Plain::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Plain::Tcp(s) => Pin::new(s).poll_flush(cx),
            Plain::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Plain::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Plain::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for NetStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        delegate!(self, poll_read(cx, buf))
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, poll_shutdown(cx))
    }
}

impl NetStream {
    /// Waits until a read may find bytes, without a buffer: a plain
    /// socket until it is readable (or closed); over TLS at once, since
    /// the TLS layer may hold decrypted bytes already.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            NetStream::Plain(Plain::Tcp(s)) => s.poll_read_ready(cx),
            NetStream::Plain(Plain::Unix(s)) => s.poll_read_ready(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Whether an idle connection is still usable: no pending data and not
    /// closed by the peer. Polls once with a waker that is never woken.
    pub(crate) fn is_reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        // Pending: nothing to read, the peer has not closed: reusable.
        // Ready(0): closed. Ready(n): a stray reply; Ready(Err): broken.
        Pin::new(self).poll_read(&mut cx, &mut buf).is_pending()
    }
}
