//! TLV: the reference protocol plug-in (Workflow's `TLVMessage`, tutorial
//! 10): a 4-byte type, a 4-byte length, then the value; numbers in network
//! byte order.
//!
//! ```
//! use bytes::BytesMut;
//! use tokio_util::codec::{Decoder, Encoder};
//! use wf_core::net::tlv::{TlvCodec, TlvMessage};
//!
//! let mut codec = TlvCodec::new(None);
//! let mut buf = BytesMut::new();
//! codec.encode(&TlvMessage::new(7, "hi"), &mut buf).unwrap();
//! assert_eq!(&buf[..], b"\0\0\0\x07\0\0\0\x02hi");
//! assert_eq!(codec.decode(&mut buf).unwrap(), Some(TlvMessage::new(7, "hi")));
//! ```

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::client::{ClientOptions, ClientProtocol};
use super::datagram::Transport;
use super::protocol::Protocol;
use super::server::{ServerParams, ServerProtocol};
use super::uri::Uri;
use crate::Error;

const HEADER: usize = 8;

/// A TLV message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlvMessage {
    kind: u32,
    value: Bytes,
}

impl TlvMessage {
    /// A message of type `kind` carrying `value`.
    pub fn new(kind: u32, value: impl Into<Bytes>) -> TlvMessage {
        TlvMessage { kind, value: value.into() }
    }

    /// The type.
    pub fn tlv_type(&self) -> u32 {
        self.kind
    }

    /// Sets the type.
    pub fn set_type(&mut self, kind: u32) {
        self.kind = kind;
    }

    /// The value.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// Sets the value.
    pub fn set_value(&mut self, value: impl Into<Bytes>) {
        self.value = value.into();
    }

    /// Takes the value out, leaving it empty.
    pub fn take_value(&mut self) -> Bytes {
        std::mem::take(&mut self.value)
    }
}

/// Encodes and decodes [`TlvMessage`]s, refusing values longer than a
/// limit with `EMSGSIZE`.
///
/// The decoder is resumable and never trusts a declared length: it takes
/// the 8-byte header as soon as it is in (refusing at once a length over
/// the limit), then waits for the value without reserving room for it;
/// the buffer grows with the bytes that actually arrive.
#[derive(Clone, Debug, Default)]
pub struct TlvCodec {
    size_limit: Option<usize>,
    /// The header of the message being received: type and length.
    head: Option<(u32, usize)>,
}

impl TlvCodec {
    /// A codec refusing values longer than `size_limit` bytes.
    pub fn new(size_limit: Option<usize>) -> TlvCodec {
        TlvCodec { size_limit, head: None }
    }

    /// Whether the header of a message being received has been read.
    pub fn head_complete(&self) -> bool {
        self.head.is_some()
    }
}

fn too_big() -> io::Error {
    io::Error::from_raw_os_error(libc::EMSGSIZE)
}

impl Decoder for TlvCodec {
    type Item = TlvMessage;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<TlvMessage>> {
        let (kind, len) = match self.head {
            Some(head) => head,
            None => {
                if src.len() < HEADER {
                    return Ok(None);
                }
                let kind = u32::from_be_bytes(src[0..4].try_into().expect("4 bytes"));
                let len = u32::from_be_bytes(src[4..8].try_into().expect("4 bytes")) as usize;
                if self.size_limit.is_some_and(|limit| len > limit) {
                    return Err(too_big());
                }
                src.advance(HEADER);
                self.head = Some((kind, len));
                (kind, len)
            }
        };
        if src.len() < len {
            // No reserve for the declared length: the buffer grows with
            // the bytes that come.
            return Ok(None);
        }
        self.head = None;
        Ok(Some(TlvMessage { kind, value: src.split_to(len).freeze() }))
    }
}

impl Encoder<&TlvMessage> for TlvCodec {
    type Error = io::Error;

    fn encode(&mut self, msg: &TlvMessage, dst: &mut BytesMut) -> io::Result<()> {
        let len = u32::try_from(msg.value.len()).map_err(|_| too_big())?;
        dst.reserve(HEADER + msg.value.len());
        dst.put_u32(msg.kind);
        dst.put_u32(len);
        dst.put_slice(&msg.value);
        Ok(())
    }
}

/// The TLV protocol: URL schemes `tlv://` and, with TLS, `tlvs://` (no
/// default port: give one). Client connections are not kept unless a task
/// sets a keep-alive, as in Workflow.
///
/// ```no_run
/// use wf_core::net::tlv::{Tlv, TlvMessage};
/// use wf_core::net::{Server, create_client_task};
///
/// let server = Server::new(Tlv::default(), |task| {
///     let echo = task.req().value().clone();
///     task.resp_mut().set_value(echo);
/// });
/// server.start_on("127.0.0.1", 9000).unwrap();
///
/// let mut t = create_client_task(Tlv::default(), "tlv://127.0.0.1:9000", 0, |t| {
///     println!("{:?}", t.resp().value());
/// });
/// t.req_mut().set_value("hello");
/// t.start();
/// wf_core::wait_finish();
/// server.stop();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tlv {
    size_limit: Option<usize>,
    transport: Transport,
}

impl Tlv {
    /// A TLV protocol whose clients refuse replies longer than
    /// `size_limit` bytes (servers use `request_size_limit`).
    ///
    /// Without one, clients refuse replies longer than the default
    /// response size limit of the settings
    /// ([`EndpointParams::response_size_limit`](crate::EndpointParams::response_size_limit),
    /// 64 MiB) as soon as the header says so; a task's own
    /// [`response_size_limit`](super::client::ClientOptions::set_response_size_limit)
    /// is kept by its connection in any case.
    pub fn with_size_limit(size_limit: usize) -> Tlv {
        Tlv { size_limit: Some(size_limit), transport: Transport::Stream }
    }

    /// This protocol with its client tasks sending over `transport`: with
    /// [`Transport::Datagram`], each request and reply is one UDP datagram
    /// (a server answers over UDP with
    /// [`Server::start_udp`](super::Server::start_udp), whatever this says).
    ///
    /// ```no_run
    /// use wf_core::net::tlv::Tlv;
    /// use wf_core::net::{Server, Transport, create_client_task};
    ///
    /// let server = Server::new(Tlv::default(), |task| {
    ///     let echo = task.req().value().clone();
    ///     task.resp_mut().set_value(echo);
    /// });
    /// server.start_udp("127.0.0.1", 9000).unwrap();
    /// let udp = Tlv::default().with_transport(Transport::Datagram);
    /// let mut t = create_client_task(udp, "tlv://127.0.0.1:9000", 2, |t| {
    ///     println!("{:?} {:?}", t.state(), t.resp().value());
    /// });
    /// t.req_mut().set_value("hello");
    /// t.start();
    /// ```
    #[must_use]
    pub fn with_transport(mut self, transport: Transport) -> Tlv {
        self.transport = transport;
        self
    }
}

impl Protocol for Tlv {
    type Request = TlvMessage;
    type Response = TlvMessage;

    fn schemes(&self) -> &'static [&'static str] {
        &["tlv", "tlvs"]
    }

    fn tls_schemes(&self) -> &'static [&'static str] {
        &["tlvs"]
    }
}

impl ClientProtocol for Tlv {
    type ClientCodec = TlvCodec;
    type Handshake = ();

    fn client_codec(&self) -> TlvCodec {
        TlvCodec::new(self.size_limit.or(crate::runtime::settings().endpoint_params.response_size_limit))
    }

    fn handshake(&self, _uri: &Uri, _opts: &ClientOptions) -> Result<(), Error> {
        Ok(())
    }

    fn transport(&self, _uri: &Uri) -> Transport {
        self.transport
    }
}

impl ServerProtocol for Tlv {
    type ServerCodec = TlvCodec;

    fn server_codec(&self, params: &ServerParams) -> TlvCodec {
        TlvCodec::new(params.request_size_limit)
    }

    /// The head is the 8-byte header.
    fn head_complete(&self, codec: &TlvCodec) -> bool {
        codec.head_complete()
    }

    /// The 8-byte header and the value.
    fn min_reply_len(&self, resp: &TlvMessage) -> usize {
        HEADER.saturating_add(resp.value.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u32, len: u32) -> Vec<u8> {
        let mut v = kind.to_be_bytes().to_vec();
        v.extend_from_slice(&len.to_be_bytes());
        v
    }

    /// What a reply tells of its size before it is encoded is its size
    /// encoded (UDP servers refuse an oversized reply on it).
    #[test]
    fn min_reply_len_is_the_encoded_length() {
        use tokio_util::codec::Encoder;
        for len in [0, 1, 100, 65_499] {
            let mut m = TlvMessage::default();
            m.set_value(vec![7; len]);
            let mut out = bytes::BytesMut::new();
            TlvCodec::default().encode(&m, &mut out).unwrap();
            assert_eq!(Tlv::default().min_reply_len(&m), out.len());
        }
    }

    /// A header declaring 4 GiB reserves nothing: refused at once over the
    /// limit, and without a limit the buffer stays as small as what came.
    #[test]
    fn declared_length_reserves_nothing() {
        let mut codec = TlvCodec::new(Some(1 << 20));
        let mut buf = BytesMut::from(&header(1, u32::MAX)[..]);
        let e = codec.decode(&mut buf).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
        assert!(buf.capacity() < 4096, "capacity {}", buf.capacity());

        let mut codec = TlvCodec::new(None);
        let mut buf = BytesMut::from(&header(1, u32::MAX)[..]);
        buf.extend_from_slice(b"abc");
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(codec.head_complete());
        assert!(buf.capacity() < 4096, "capacity {}", buf.capacity());
        assert_eq!(&buf[..], b"abc");
    }

    /// Byte by byte, the codec resumes where it stopped.
    #[test]
    fn resumes_byte_by_byte() {
        let mut codec = TlvCodec::new(Some(16));
        let mut wire = header(7, 5);
        wire.extend_from_slice(b"hello");
        wire.extend_from_slice(&header(8, 0));
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for (i, b) in wire.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                got.push(m);
            }
            assert_eq!(codec.head_complete(), (7..12).contains(&i), "after byte {i}");
        }
        assert_eq!(got, vec![TlvMessage::new(7, "hello"), TlvMessage::new(8, "")]);
        assert!(buf.is_empty());
    }

    /// A value exactly at the limit is taken; one byte more is refused.
    #[test]
    fn limit_is_inclusive() {
        let mut codec = TlvCodec::new(Some(4));
        let mut buf = BytesMut::from(&header(1, 4)[..]);
        buf.extend_from_slice(b"four");
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(TlvMessage::new(1, "four")));
        buf.extend_from_slice(&header(1, 5));
        assert_eq!(codec.decode(&mut buf).unwrap_err().raw_os_error(), Some(libc::EMSGSIZE));
    }
}
