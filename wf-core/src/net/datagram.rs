//! Datagrams: which transport a protocol's messages take, and the rules
//! every datagram obeys on both sides (one message per datagram, sizes,
//! decoding a datagram alone).

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::error::Error;

/// How a protocol's messages travel: see
/// [`ClientProtocol::transport`](super::ClientProtocol::transport) and
/// [`Server::start_udp`](super::Server::start_udp).
///
/// Over [`Datagram`](Transport::Datagram) (UDP) each message is exactly one
/// datagram of at most [`MAX_DATAGRAM`] bytes, decoded alone with a fresh
/// codec; there are no connections, so no pool, no keep-alive and no TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A byte stream: TCP, a Unix socket, or TLS over either (the default).
    #[default]
    Stream,
    /// UDP datagrams, one message each.
    Datagram,
}

/// The largest message sent as one UDP datagram, in bytes: 65,535 less
/// the IPv4 and UDP headers (20 + 8). A request or reply that encodes to
/// more is not sent (`SYS_ERROR`/`EMSGSIZE`).
pub const MAX_DATAGRAM: usize = 65_507;

/// The receive buffer: one byte more than any UDP payload over IPv4 or
/// IPv6 can be (65,527), so a datagram that fills it was cut short.
pub(crate) const RECV_BUFFER: usize = 65_536;

/// What decoding one whole datagram gave.
#[derive(Debug)]
pub(crate) enum Decoded<T> {
    /// A message, and the datagram held nothing else.
    Message(T),
    /// The codec wants more than the datagram holds: not a message of
    /// this protocol (a client ignores it, a server answers it as bad).
    Incomplete,
    /// Bytes were left after the message (one datagram, one message).
    LeftOver,
}

/// Decodes `datagram` alone with `codec` (fresh for this datagram).
pub(crate) fn decode_whole<C>(codec: &mut C, mut buf: BytesMut) -> Result<Decoded<C::Item>, Error>
where
    C: Decoder,
    C::Error: Into<Error>,
{
    match codec.decode(&mut buf).map_err(Into::into)? {
        Some(item) if buf.is_empty() => Ok(Decoded::Message(item)),
        Some(_) => Ok(Decoded::LeftOver),
        None => Ok(Decoded::Incomplete),
    }
}

/// `EMSGSIZE` unless `len` fits in one datagram.
pub(crate) fn check_size(len: usize) -> Result<(), Error> {
    if len > MAX_DATAGRAM { Err(Error::sys(libc::EMSGSIZE)) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::codec::LengthDelimitedCodec;

    /// Frames of a 4-byte length, then the bytes.
    fn wire(frames: &[&[u8]]) -> BytesMut {
        let mut buf = BytesMut::new();
        for f in frames {
            buf.extend_from_slice(&(f.len() as u32).to_be_bytes());
            buf.extend_from_slice(f);
        }
        buf
    }

    #[test]
    fn one_datagram_one_message() {
        let codec = || LengthDelimitedCodec::builder().max_frame_length(8).new_codec();
        let one = wire(&[b"x"]);
        assert!(matches!(decode_whole(&mut codec(), one.clone()), Ok(Decoded::Message(d)) if &d[..] == b"x"));
        assert!(matches!(decode_whole(&mut codec(), wire(&[b"x", b"y"])), Ok(Decoded::LeftOver)));
        assert!(matches!(decode_whole(&mut codec(), BytesMut::from(&one[..4])), Ok(Decoded::Incomplete)));
        let e = decode_whole(&mut codec(), wire(&[b"more than 8"])).unwrap_err();
        assert_eq!(e.state(), crate::State::SysError);
    }

    #[test]
    fn sizes() {
        assert!(check_size(MAX_DATAGRAM).is_ok());
        assert_eq!(check_size(MAX_DATAGRAM + 1).unwrap_err().code(), libc::EMSGSIZE);
    }
}
