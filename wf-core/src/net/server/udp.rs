//! Serving over UDP: each datagram is one request, decoded alone, run
//! through `process` and its series like a request on a connection, and
//! answered with one datagram to its sender.
//!
//! A datagram is its own pseudo-connection: a fresh codec decodes it and
//! encodes its reply, its [`ServerConnection`] (a fresh id, no context)
//! lives until the reply is sent, and its task's `task_seq` is 0.
//! Keep-alive, `on_accept`, `head_complete` and `server_interim` have no
//! meaning here and are not asked. Bytes a request's series pushes are
//! the start of its reply's datagram.
//!
//! # Bounds
//!
//! - One receive buffer of [`RECV_BUFFER`] bytes, reused; a datagram that
//!   fills it was cut short and is dropped.
//! - At most `max_connections` requests in flight (from the datagram to
//!   its reply sent); datagrams past that are dropped.
//! - A reply (pushed bytes included) over [`MAX_DATAGRAM`] is not sent,
//!   nor encoded when [`ServerProtocol::min_reply_len`] or the pushed bytes
//!   alone tell it would not fit.
//! - Sending a reply waits at most `peer_response_timeout`.

use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::Encoder;

use super::Server;
use super::conn::{spawn_request, start_series};
use super::protocol::ServerProtocol;
use super::reply::{Head, ReplySlot};
use super::shared::Shared;
use super::task::{Process, ServerConnection, ServerKind};
use crate::error::{Error, State, TimeoutReason};
use crate::net::datagram::{self, Decoded, MAX_DATAGRAM, RECV_BUFFER};
use crate::runtime;
use crate::sync::lock;
use crate::task::Task;
use crate::trace;

/// Serving over UDP, on the server handle.
impl<P: ServerProtocol> Server<P> {
    /// Answers datagrams on `host:port` over UDP too (or alone): each
    /// datagram is one request, its reply one datagram back to its sender.
    /// A server may listen on TCP and UDP at once, on the same port (a
    /// DNS server does); see [`udp_addr`](Server::udp_addr). `EBUSY` if
    /// the server already receives datagrams.
    ///
    /// Each datagram is decoded alone with a fresh server codec. A request
    /// that takes the whole datagram runs through `process` and its series
    /// like any request ([`peer_addr`](ServerKind::peer_addr) is its sender,
    /// [`noreply`](super::ServerTask::noreply) sends nothing); its reply is sent
    /// with the bytes pushed before it as one datagram, and is not sent
    /// over [`MAX_DATAGRAM`](crate::net::MAX_DATAGRAM) bytes (the task
    /// fails with `SYS_ERROR`/`EMSGSIZE`: a protocol truncates its replies
    /// itself, as DNS does). A datagram that does not decode, or holds
    /// more than one message, gets the protocol's
    /// [`error_reply`](ServerProtocol::error_reply) (`EBADMSG` for an
    /// incomplete one) if it has one, else it is dropped. At most
    /// [`max_connections`](super::ServerParams::max_connections) requests are in
    /// flight over UDP; datagrams past that are dropped.
    ///
    /// A datagram is its own pseudo-connection: its
    /// [`connection`](ServerKind::connection) is new (its context is
    /// dropped once the reply is sent), `task_seq` is 0, keep-alive and
    /// `on_accept` are not asked.
    ///
    /// One loop receives every datagram. With
    /// [`handler_threads`](crate::Settings::handler_threads) 0, `process`
    /// runs on that loop: a slow `process` holds up every datagram behind
    /// it. Nothing bounds the time from a datagram to its reply but the
    /// request's series itself (its tasks' own timeouts).
    pub fn start_udp(&self, host: &str, port: u16) -> Result<(), Error> {
        self.run_udp(bind(host, port)?)
    }

    /// Answers datagrams on a UDP socket made elsewhere; see
    /// [`start_udp`](Server::start_udp).
    pub fn serve_udp(&self, socket: std::net::UdpSocket) -> Result<(), Error> {
        self.run_udp(from_std(socket)?)
    }

    fn run_udp(&self, socket: tokio::net::UdpSocket) -> Result<(), Error> {
        let stop = Arc::new(Notify::new());
        {
            let mut l = lock(&self.shared.udp);
            if l.stop.is_some() {
                return Err(Error::sys(libc::EBUSY));
            }
            l.addr = socket.local_addr().ok();
            l.stop = Some(stop.clone());
        }
        self.shared.stopping.store(false, Ordering::Release);
        self.shared.udp_receiving.store(true, Ordering::Release);
        runtime::spawn(receive_loop(self.shared.clone(), self.process.clone(), socket, stop));
        Ok(())
    }

    /// The address the server receives datagrams on, once
    /// [`start_udp`](Server::start_udp) or [`serve_udp`](Server::serve_udp)
    /// ran.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        lock(&self.shared.udp).addr
    }
}

/// Binds a UDP socket on `host:port`.
pub(super) fn bind(host: &str, port: u16) -> Result<UdpSocket, Error> {
    let addr = (host, port).to_socket_addrs()?.next().ok_or(Error::sys(libc::EADDRNOTAVAIL))?;
    from_std(std::net::UdpSocket::bind(addr)?)
}

/// A UDP socket made elsewhere, registered with the runtime.
pub(super) fn from_std(socket: std::net::UdpSocket) -> Result<UdpSocket, Error> {
    socket.set_nonblocking(true)?;
    let _rt = runtime::handle().enter();
    Ok(UdpSocket::from_std(socket)?)
}

/// Reads datagrams until `stop` is notified; requests in flight then go
/// on, each holding the socket until its reply is sent.
pub(super) async fn receive_loop<P: ServerProtocol>(
    shared: Arc<Shared<P>>,
    process: Arc<Process<P>>,
    socket: UdpSocket,
    stop: Arc<Notify>,
) {
    let socket = Arc::new(socket);
    let permits = Arc::new(Semaphore::new(shared.params.max_connections.min(Semaphore::MAX_PERMITS)));
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let received = tokio::select! {
            biased;
            _ = stop.notified() => break,
            r = socket.recv_from(&mut buf) => r,
        };
        let (n, peer) = match received {
            Ok(r) => r,
            // About one peer (an ICMP error for an earlier reply, where the
            // system reports those): nothing to wait for.
            Err(_e) if matches!(_e.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset) => {
                trace::debug!(error = %_e, "UDP receive: an error about a peer; ignored");
                continue;
            }
            Err(_e) => {
                trace::debug!(error = %_e, "UDP receive failed; pausing 10 ms");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if n == RECV_BUFFER {
            trace::debug!(%peer, "datagram cut short; dropped");
            continue;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            trace::debug!(%peer, "too many UDP requests in flight; datagram dropped");
            continue;
        };
        let mut codec = shared.protocol.server_codec(&shared.params);
        let error = match datagram::decode_whole(&mut codec, BytesMut::from(&buf[..n])) {
            Ok(Decoded::Message(req)) => {
                answer(&shared, &process, &socket, peer, codec, req, permit);
                continue;
            }
            Ok(Decoded::Incomplete | Decoded::LeftOver) => Error::sys(libc::EBADMSG),
            Err(e) => e,
        };
        refuse(&shared, &socket, peer, codec, &error);
    }
    shared.udp_receiving.store(false, Ordering::Release);
    shared.notify_quiet();
}

/// A datagram that is not a request: the protocol's `error_reply`, if it
/// has one, goes back at once (if the socket takes it now); else it is
/// dropped.
fn refuse<P: ServerProtocol>(
    shared: &Shared<P>,
    socket: &UdpSocket,
    peer: SocketAddr,
    mut codec: P::ServerCodec,
    error: &Error,
) {
    let Some(resp) = shared.protocol.error_reply(&mut codec, error) else {
        trace::debug!(%peer, %error, "datagram that is not a request dropped");
        return;
    };
    let mut out = BytesMut::new();
    if encode(&shared.protocol, &mut codec, &resp, &mut out).is_err() {
        trace::debug!(%peer, %error, "error reply to a bad datagram not sent: unencodable or too big");
        return;
    }
    if let Err(_e) = socket.try_send_to(&out, peer) {
        trace::debug!(%peer, error = %_e, "error reply to a bad datagram not sent");
    }
}

/// Runs a request's `process` and its series, and sends its reply. With
/// handler threads (`Settings::handler_threads`), `process` and the series
/// run there and only the reply is sent from here.
fn answer<P: ServerProtocol>(
    shared: &Arc<Shared<P>>,
    process: &Arc<Process<P>>,
    socket: &Arc<UdpSocket>,
    peer: SocketAddr,
    codec: P::ServerCodec,
    req: P::Request,
    permit: OwnedSemaphorePermit,
) {
    // Given back when the reply is sent or given up (the `Answered` guard).
    shared.udp_inflight.fetch_add(1, Ordering::AcqRel);
    let answered = Answered(shared.clone());
    let slot = ReplySlot::new();
    let connection = ServerConnection::new(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    let mut task =
        Box::new(Task::new(ServerKind::new(shared.clone(), req, 0, Some(peer), connection.clone(), slot.clone())));
    task.set_state(State::ToReply);
    let driver = if runtime::has_handlers() {
        spawn_request(shared.clone(), process.clone(), task);
        None
    } else {
        let Some(driver) = start_series(shared, &**process, task) else {
            trace::debug!(%peer, "process panicked; datagram not answered");
            connection.clear_context();
            return;
        };
        Some(driver)
    };
    let (shared, socket) = (shared.clone(), socket.clone());
    runtime::spawn(async move {
        match driver {
            Some(driver) => drop(tokio::join!(driver, reply(&shared, &socket, peer, &slot, codec))),
            None => reply(&shared, &socket, peer, &slot, codec).await,
        }
        connection.clear_context();
        drop(permit);
        drop(answered);
    });
}

/// Counts a datagram request in `udp_inflight` until it is dropped.
struct Answered<P: ServerProtocol>(Arc<Shared<P>>);

impl<P: ServerProtocol> Drop for Answered<P> {
    fn drop(&mut self) {
        self.0.udp_inflight.fetch_sub(1, Ordering::AcqRel);
        self.0.notify_quiet();
    }
}

/// Waits for the request's reply and sends it, with the bytes pushed
/// before it, as one datagram; hands the result back to the task.
async fn reply<P: ServerProtocol>(
    shared: &Shared<P>,
    socket: &UdpSocket,
    peer: SocketAddr,
    slot: &ReplySlot<P>,
    mut codec: P::ServerCodec,
) {
    let mut out = BytesMut::new();
    loop {
        std::future::poll_fn(|cx| slot.poll_ready(cx)).await;
        let (head, moved) = slot.take(&mut out, |resp, _, out| {
            let pushed = out.len();
            (pushed, encode(&shared.protocol, &mut codec, resp, out))
        });
        // Pushed bytes count as written once they are in the datagram: a
        // producer waiting for them to drain must not wait for the reply
        // its own series holds back.
        slot.wrote(moved);
        let pushed = match &head {
            Head::Reply((pushed, _)) => *pushed,
            Head::Waiting | Head::Close => out.len(),
        };
        if pushed > MAX_DATAGRAM {
            trace::debug!(%peer, bytes = pushed, "pushed bytes too big for one datagram; no reply");
            slot.conn_closed();
            return;
        }
        match head {
            Head::Waiting => continue,
            Head::Close => {
                slot.conn_closed();
                return;
            }
            Head::Reply((_, encoded)) => {
                let result = match encoded {
                    Ok(()) => send(&out, socket, peer, shared.params.peer_response_timeout).await,
                    Err(e) => {
                        trace::debug!(%peer, error = %e, "reply not encoded or too big for one datagram; not sent");
                        Err(e)
                    }
                };
                slot.written(result);
                return;
            }
        }
    }
}

/// Encodes `resp` after what `out` holds (the pushed bytes), unless it
/// would not fit in one datagram: `EMSGSIZE` then, before encoding when
/// [`min_reply_len`](ServerProtocol::min_reply_len) or the pushed bytes
/// tell already.
fn encode<P: ServerProtocol>(
    protocol: &P,
    codec: &mut P::ServerCodec,
    resp: &P::Response,
    out: &mut BytesMut,
) -> Result<(), Error> {
    datagram::check_size(out.len().saturating_add(protocol.min_reply_len(resp)))?;
    codec.encode(resp, out).map_err(Into::into)?;
    datagram::check_size(out.len())
}

/// Sends `out` (the pushed bytes and the reply, which fit) as one datagram.
async fn send(out: &[u8], socket: &UdpSocket, peer: SocketAddr, limit: Option<Duration>) -> Result<(), Error> {
    let sent = socket.send_to(out, peer);
    match limit {
        None => sent.await?,
        Some(t) => tokio::time::timeout(t, sent).await.map_err(|_| Error::timeout(TimeoutReason::Transmit))??,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;
    use tokio_util::codec::{Decoder, Encoder};

    use super::*;
    use crate::net::protocol::Protocol;
    use crate::net::server::ServerParams;

    /// A protocol whose reply is its bytes, told in advance (as TLV does
    /// with its header and value).
    #[derive(Clone)]
    struct Raw;

    impl Protocol for Raw {
        type Request = Vec<u8>;
        type Response = Vec<u8>;
        fn schemes(&self) -> &'static [&'static str] {
            &["raw"]
        }
    }

    struct RawCodec;

    impl Decoder for RawCodec {
        type Item = Vec<u8>;
        type Error = Error;
        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<u8>>, Error> {
            Ok((!src.is_empty()).then(|| src.split().to_vec()))
        }
    }

    impl Encoder<&Vec<u8>> for RawCodec {
        type Error = Error;
        fn encode(&mut self, item: &Vec<u8>, dst: &mut BytesMut) -> Result<(), Error> {
            dst.put_slice(item);
            Ok(())
        }
    }

    impl ServerProtocol for Raw {
        type ServerCodec = RawCodec;
        fn server_codec(&self, _: &ServerParams) -> RawCodec {
            RawCodec
        }
        fn min_reply_len(&self, resp: &Vec<u8>) -> usize {
            resp.len()
        }
    }

    /// A reply known too big for a datagram is refused before a byte of
    /// it is copied; one that fits exactly goes.
    #[test]
    fn an_oversized_reply_is_refused_unencoded() {
        let mut out = BytesMut::new();
        let e = encode(&Raw, &mut RawCodec, &vec![7; MAX_DATAGRAM + 1], &mut out).unwrap_err();
        assert_eq!(e.code(), libc::EMSGSIZE);
        assert!(out.is_empty(), "not encoded");
        encode(&Raw, &mut RawCodec, &vec![7; MAX_DATAGRAM], &mut out).unwrap();
        assert_eq!(out.len(), MAX_DATAGRAM);
    }

    /// Pushed bytes that fill the datagram already leave no room: the
    /// reply is not encoded after them.
    #[test]
    fn a_reply_after_too_many_pushed_bytes_is_refused_unencoded() {
        let mut out = BytesMut::from(&vec![1; MAX_DATAGRAM - 8][..]);
        let e = encode(&Raw, &mut RawCodec, &vec![7; 9], &mut out).unwrap_err();
        assert_eq!(e.code(), libc::EMSGSIZE);
        assert_eq!(out.len(), MAX_DATAGRAM - 8, "nothing added");
        encode(&Raw, &mut RawCodec, &vec![7; 8], &mut out).unwrap();
        assert_eq!(out.len(), MAX_DATAGRAM);
    }
}
