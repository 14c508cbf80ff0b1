//! Helpers shared by the `net_*` integration tests: TLV client tasks that
//! report their outcome on a channel, and blocking raw TCP clients and
//! servers that speak (or refuse to speak) TLV. The protocol-free parts
//! (the raw server's accept loop, scratch directories) are `testkit`'s.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Instant;

pub(crate) use testkit::{TempDir, drain};
use wf_core::net::tlv::{Tlv, TlvMessage};
use wf_core::net::{ClientTask, Server, create_client_task};
use wf_core::{Error, State};

use super::WAIT;

/// What a client task's callback saw.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) state: State,
    pub(crate) error: Error,
    pub(crate) resp: TlvMessage,
    pub(crate) peer: Option<SocketAddr>,
    /// When the callback ran.
    pub(crate) at: Instant,
}

/// A TLV client task whose callback sends its [`Outcome`] on the returned
/// channel.
pub(crate) fn tlv_task(url: &str, retry_max: u32) -> (ClientTask<Tlv>, mpsc::Receiver<Outcome>) {
    let (tx, rx) = mpsc::channel();
    let task = create_client_task(Tlv::default(), url, retry_max, move |t| {
        let _ = tx.send(outcome_of(t));
    });
    (task, rx)
}

/// The [`Outcome`] of a finished client task.
pub(crate) fn outcome_of(t: &ClientTask<Tlv>) -> Outcome {
    Outcome {
        state: t.state(),
        error: t.error().cloned().unwrap_or_else(|| wf_core::Error::new(t.state(), 0)),
        resp: t.resp().clone(),
        peer: t.peer_addr(),
        at: Instant::now(),
    }
}

/// `tlv://addr`.
pub(crate) fn tlv_url(addr: SocketAddr) -> String {
    format!("tlv://{addr}")
}

/// Starts `server` on an ephemeral loopback port and returns its address.
pub(crate) fn start_local(server: &Server<Tlv>) -> SocketAddr {
    server.start_on("127.0.0.1", 0).expect("server starts");
    server.listen_addr().expect("a TCP listen address")
}

/// A server answering every request with its type and value unchanged.
pub(crate) fn echo_server() -> (Server<Tlv>, SocketAddr) {
    let server = Server::new(Tlv::default(), |task| {
        let req = task.req().clone();
        *task.resp_mut() = req;
    });
    let addr = start_local(&server);
    (server, addr)
}

/// A port on loopback where nothing listens ([`testkit::free_port`]).
pub(crate) fn closed_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, testkit::free_port()))
}

/// The wire form of a TLV message.
pub(crate) fn encode(kind: u32, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&kind.to_be_bytes());
    v.extend_from_slice(&(value.len() as u32).to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// A blocking loopback connection whose reads give up after [`WAIT`].
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads one TLV message; `Ok(None)` on a clean end of stream before its
/// first byte.
pub(crate) fn read_tlv(s: &mut impl Read) -> io::Result<Option<TlvMessage>> {
    let mut header = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        match s.read(&mut header[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let kind = u32::from_be_bytes(header[..4].try_into().unwrap());
    let len = u32::from_be_bytes(header[4..].try_into().unwrap()) as usize;
    let mut value = vec![0u8; len];
    s.read_exact(&mut value)?;
    Ok(Some(TlvMessage::new(kind, value)))
}

/// Sends one request and reads its reply, which must come.
pub(crate) fn round_trip(s: &mut TcpStream, kind: u32, value: &[u8]) -> TlvMessage {
    s.write_all(&encode(kind, value)).expect("send a request");
    read_tlv(s).expect("read a reply").expect("a reply, not the end of the stream")
}

/// How a peer closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// A clean end of stream.
    Eof,
    /// A reset (the peer closed with unread data).
    Reset,
}

/// Reads until the peer closes; panics if data arrives instead or nothing
/// happens within the stream's read timeout ([`WAIT`] from [`connect`]).
pub(crate) fn expect_closed(s: &mut TcpStream) -> Closed {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => Closed::Eof,
        Ok(n) => panic!("expected the connection closed, got {n} bytes: {:?}", &buf[..n]),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Closed::Reset,
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            panic!("the connection stayed open (read timeout {:?})", s.read_timeout().ok().flatten())
        }
        Err(e) => panic!("unexpected read error: {e}"),
    }
}

/// A blocking TCP server on loopback ([`testkit::RawServer`]) that runs
/// `handler` on a thread per accepted connection and counts accepts, with
/// a `tlv://` URL. Dropping it stops accepting.
pub(crate) struct RawServer(testkit::RawServer);

impl RawServer {
    pub(crate) fn spawn(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> RawServer {
        RawServer(testkit::RawServer::spawn(handler))
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    pub(crate) fn url(&self) -> String {
        tlv_url(self.0.addr())
    }

    /// Connections accepted so far.
    pub(crate) fn accepts(&self) -> usize {
        self.0.accepts()
    }
}
