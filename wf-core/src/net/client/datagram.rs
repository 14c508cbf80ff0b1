//! One attempt over UDP: a connected socket of its own, the request as
//! one datagram, the first datagram that decodes alone as the reply.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, BytesMut};
use tokio::net::UdpSocket;
use tokio_util::codec::Encoder;

use super::protocol::ClientProtocol;
use crate::error::Error;
use crate::net::conn::{Limits, deadline, earliest, until};
use crate::net::datagram::{self, Decoded, RECV_BUFFER};
use crate::net::route::Target;
use crate::runtime::EndpointParams;
use crate::trace;

/// Sends `req` to `target` as one datagram and waits for the reply: the
/// first datagram within the watch timeout (else the endpoint's response
/// timeout), within the receive timeout in all. Datagrams that do not
/// decode into a message (`Ok(None)`: not ours) are dropped and the wait
/// goes on, its deadline unchanged.
pub(super) async fn exchange<P: ClientProtocol>(
    protocol: &P,
    req: &P::Request,
    target: &Target,
    endpoint: &EndpointParams,
    limits: Limits,
) -> Result<(P::Response, Option<SocketAddr>), Error> {
    let addr = match target {
        Target::Inet(a) => *a,
        Target::Unix(_) => return Err(Error::sys(libc::EAFNOSUPPORT)),
    };
    let mut wire = BytesMut::new();
    protocol.client_codec().encode(req, &mut wire).map_err(Into::into)?;
    if let Err(e) = datagram::check_size(wire.len()) {
        trace::debug!(target = %addr, bytes = wire.len(), "request too big for one datagram; not sent");
        return Err(e);
    }
    let local: SocketAddr =
        if addr.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    let send_at = earliest(deadline(limits.send), deadline(endpoint.response_timeout));
    until(send_at, socket.send(&wire)).await??;

    let recv_at = earliest(deadline(limits.watch.or(endpoint.response_timeout)), deadline(limits.receive));
    // One byte more than accepted: a datagram that fills the buffer is over
    // the limit (or was cut short).
    let cap = limits.size.unwrap_or(usize::MAX).min(RECV_BUFFER - 1);
    // A datagram that is too big, has bytes left after a reply, or that the
    // codec refuses may be spoofed: it is remembered, not trusted, and the
    // wait goes on. It is the task's error only if no reply comes in time;
    // with no time limit at all, it is the error at once (no later reply
    // would ever let it be told).
    let remember = |e: Error| if recv_at.is_some() { Ok(e) } else { Err(e) };
    let mut bad: Option<Error> = None;
    loop {
        let mut buf = BytesMut::with_capacity(cap + 1);
        let n = match until(recv_at, socket.recv_buf(&mut (&mut buf).limit(cap + 1))).await {
            Ok(received) => received?,
            Err(timeout) => return Err(bad.unwrap_or(timeout)),
        };
        if n > cap {
            trace::debug!(target = %addr, limit = cap, "reply datagram over the size limit; still waiting");
            bad = Some(remember(Error::sys(libc::EMSGSIZE))?);
            continue;
        }
        match datagram::decode_whole(&mut protocol.reply_codec(req), buf) {
            Ok(Decoded::Message(resp)) => return Ok((resp, Some(addr))),
            Ok(Decoded::LeftOver) => {
                trace::debug!(target = %addr, "bytes left after the reply in its datagram; still waiting");
                bad = Some(remember(Error::sys(libc::EBADMSG))?);
            }
            Ok(Decoded::Incomplete) => {
                trace::debug!(target = %addr, bytes = n, "datagram that is not a reply dropped; still waiting");
            }
            Err(e) => {
                trace::debug!(target = %addr, error = %e, "datagram the codec refused; still waiting");
                bad = Some(remember(e)?);
            }
        }
    }
}
