//! MySQL packet framing: a 3-byte little-endian length and a sequence id
//! before each payload; payloads of 16 MiB − 1 bytes or more continue in
//! the next packet (a shorter one, possibly empty, ends them).
//!
//! Hostile peers: the declared length is checked against the limit as
//! soon as a header is here (nothing is reserved for it: the read buffer
//! grows with the bytes that arrive), and each call looks at one header
//! and the bytes buffered after it, so a packet trickling in is never
//! re-scanned (no quadratic path). A single-chunk payload is handed out
//! without a copy.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use wf_core::Error;

/// Largest packet either side accepts: 1 GiB, MySQL's own ceiling
/// (`max_allowed_packet` cannot be set higher).
pub(crate) const MAX_PACKET: usize = 1 << 30;

/// The longest chunk: a payload this long continues in the next packet.
pub(crate) const MAX_CHUNK: usize = 0xff_ffff;

/// Splits packets off a byte stream and writes them, checking sequence
/// ids both ways.
#[derive(Debug)]
pub(crate) struct Framer {
    /// The sequence id the next packet (read or written) carries.
    seq: u8,
    /// Largest payload accepted.
    limit: usize,
    /// Chunks of a payload continued past [`MAX_CHUNK`], so far.
    partial: BytesMut,
}

impl Framer {
    pub(crate) fn new(limit: usize) -> Framer {
        Framer { seq: 0, limit, partial: BytesMut::new() }
    }

    /// Changes the largest payload accepted.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The sequence id of the next packet.
    pub(crate) fn seq(&self) -> u8 {
        self.seq
    }

    /// Sets the sequence id of the next packet (0 starts a command).
    pub(crate) fn set_seq(&mut self, seq: u8) {
        self.seq = seq;
    }

    /// Whether a continued payload is half read.
    pub(crate) fn in_packet(&self) -> bool {
        !self.partial.is_empty()
    }

    /// The next whole payload in `src`, if it is all there. Errors:
    /// `EMSGSIZE` for a payload over the limit (refused at its header;
    /// the sequence id then follows that header's, for an error reply),
    /// `EBADMSG` for a sequence id out of order.
    pub(crate) fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        loop {
            let Some(head) = src.get(..4) else { return Ok(None) };
            let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
            let seq = head[3];
            if seq != self.seq {
                return Err(Error::sys(libc::EBADMSG));
            }
            if self.partial.len() + len > self.limit {
                self.seq = seq.wrapping_add(1);
                self.partial = BytesMut::new();
                return Err(Error::sys(libc::EMSGSIZE));
            }
            if src.len() < 4 + len {
                return Ok(None);
            }
            src.advance(4);
            let chunk = src.split_to(len);
            self.seq = seq.wrapping_add(1);
            if len == MAX_CHUNK {
                self.partial.extend_from_slice(&chunk);
                continue;
            }
            if self.partial.is_empty() {
                return Ok(Some(chunk.freeze()));
            }
            self.partial.extend_from_slice(&chunk);
            return Ok(Some(std::mem::take(&mut self.partial).freeze()));
        }
    }

    /// How many bytes at the front of `src` are whole packets that
    /// [`decode`](Framer::decode) would hand out one by one as they are:
    /// in sequence, within the limit, none continued past [`MAX_CHUNK`],
    /// and no continued payload half read. Nothing is consumed; walk them
    /// with [`next_in`](Framer::next_in).
    pub(crate) fn whole_packets(&self, src: &[u8]) -> usize {
        if self.in_packet() {
            return 0;
        }
        let (mut at, mut seq) = (0, self.seq);
        while let Some(head) = src.get(at..at + 4) {
            let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
            if head[3] != seq || len == MAX_CHUNK || len > self.limit || src.len() - at - 4 < len {
                break;
            }
            at += 4 + len;
            seq = seq.wrapping_add(1);
        }
        at
    }

    /// The packet at `run[at..]`, one of those
    /// [`whole_packets`](Framer::whole_packets) measured: where its
    /// payload starts and ends; the sequence moves past it.
    pub(crate) fn next_in(&mut self, run: &[u8], at: usize) -> (usize, usize) {
        let len = usize::from(run[at]) | usize::from(run[at + 1]) << 8 | usize::from(run[at + 2]) << 16;
        self.seq = self.seq.wrapping_add(1);
        (at + 4, at + 4 + len)
    }

    /// Writes the payload `command` then `body` (a `COM_QUERY` and its
    /// SQL, say) like [`encode`](Framer::encode), without gathering it
    /// first.
    pub(crate) fn encode_command(&mut self, command: u8, body: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        let len = 1 + body.len();
        if len >= MAX_CHUNK {
            let mut payload = Vec::with_capacity(len);
            payload.push(command);
            payload.extend_from_slice(body);
            return self.encode(&payload, dst);
        }
        dst.reserve(4 + len);
        dst.put_uint_le(len as u64, 3);
        dst.put_u8(self.seq);
        self.seq = self.seq.wrapping_add(1);
        dst.put_u8(command);
        dst.extend_from_slice(body);
        Ok(())
    }

    /// Writes `payload` as one packet (several past [`MAX_CHUNK`]).
    /// `EMSGSIZE` past [`MAX_PACKET`] (the limit is on what is read: a
    /// server's replies may be larger than the requests it takes).
    pub(crate) fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        if payload.len() > MAX_PACKET {
            return Err(Error::sys(libc::EMSGSIZE));
        }
        dst.reserve(payload.len() + 4 * (payload.len() / MAX_CHUNK + 1));
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_CHUNK);
            dst.put_uint_le(n as u64, 3);
            dst.put_u8(self.seq);
            self.seq = self.seq.wrapping_add(1);
            dst.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n < MAX_CHUNK {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8], seq: u8) -> BytesMut {
        let mut f = Framer::new(usize::MAX);
        f.set_seq(seq);
        let mut out = BytesMut::new();
        f.encode(payload, &mut out).unwrap();
        out
    }

    #[test]
    fn packets_split_at_16_mib_and_join_again() {
        for len in [0, 1, MAX_CHUNK - 1, MAX_CHUNK, MAX_CHUNK + 1, 2 * MAX_CHUNK] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let wire = framed(&payload, 0);
            let chunks = len / MAX_CHUNK + 1;
            assert_eq!(wire.len(), len + 4 * chunks, "{len}");
            let mut f = Framer::new(2 * MAX_CHUNK);
            // A byte at a time (large ones 64 KiB at a time): the payload
            // comes out once, whole.
            let step = if len < 1000 { 1 } else { 1 << 16 };
            let mut src = BytesMut::new();
            let mut out = None;
            for piece in wire.chunks(step) {
                src.extend_from_slice(piece);
                if let Some(p) = f.decode(&mut src).unwrap() {
                    assert!(out.is_none());
                    out = Some(p);
                }
            }
            assert_eq!(out.as_deref(), Some(&payload[..]), "{len}");
            assert_eq!(f.seq() as usize, chunks);
            assert!(src.is_empty());
        }
    }

    #[test]
    fn commands_are_written_as_their_payload_would_be() {
        for len in [0, 1, MAX_CHUNK - 2, MAX_CHUNK - 1, MAX_CHUNK, 2 * MAX_CHUNK] {
            let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut payload = vec![3];
            payload.extend_from_slice(&body);
            let mut f = Framer::new(usize::MAX);
            f.set_seq(5);
            let mut out = BytesMut::new();
            f.encode_command(3, &body, &mut out).unwrap();
            assert!(out == framed(&payload, 5), "{len}");
            assert_eq!(f.seq() as usize, 5 + payload.len() / MAX_CHUNK + 1);
        }
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_at_its_header() {
        let mut f = Framer::new(100);
        // 16 MiB − 1 declared, nothing more sent: refused at once, nothing
        // buffered for it.
        let mut src = BytesMut::from(&[0xff, 0xff, 0xff, 0][..]);
        assert_eq!(f.decode(&mut src).unwrap_err().code(), libc::EMSGSIZE);
        assert_eq!(f.seq(), 1, "an error reply follows the refused packet");
        // Continuations count too.
        let mut f = Framer::new(MAX_CHUNK + 10);
        let mut src = framed(&vec![7; MAX_CHUNK + 11], 0);
        assert_eq!(f.decode(&mut src).unwrap_err().code(), libc::EMSGSIZE);
        // Exactly at the limit is fine.
        let mut f = Framer::new(100);
        assert_eq!(f.decode(&mut framed(&[1; 100], 0)).unwrap().unwrap().len(), 100);
    }

    #[test]
    fn nothing_is_reserved_for_a_declared_length() {
        // 16 MiB − 1 declared (under the limit), 3 bytes of it here:
        // nothing is allocated for the rest, and later calls only look at
        // the header again.
        let mut f = Framer::new(MAX_PACKET);
        let mut src = BytesMut::from(&[0xff, 0xff, 0xff, 0, 1, 2, 3][..]);
        let cap = src.capacity();
        for _ in 0..3 {
            assert!(f.decode(&mut src).unwrap().is_none());
        }
        assert_eq!((src.len(), src.capacity(), f.partial.capacity()), (7, cap, 0));
    }

    #[test]
    fn sequence_ids_out_of_order_are_refused() {
        let mut f = Framer::new(100);
        assert_eq!(f.decode(&mut framed(b"x", 3)).unwrap_err().code(), libc::EBADMSG);
    }
}
