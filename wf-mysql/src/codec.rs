//! The MySQL codecs: packets (sequence ids, packets continued past
//! 16 MiB; see `packet`) under a tokio-util codec that reads whole
//! responses: OK and error packets, result sets in the text or binary
//! protocol, and several of them for multi-statement queries and stored
//! procedures.
//!
//! Hostile peers: packets are bounded ([`MAX_PACKET`], the server's
//! `request_size_limit`, [`HANDSHAKE_PACKET`] before login), a result set
//! declares at most [`MAX_COLUMNS`] columns, every length inside a packet
//! is checked against the packet's bytes, and nothing is reserved by a
//! declared count or length: memory grows with the packets that arrive.
//! Packets are decoded as they complete, the response's state kept between
//! reads (nothing is parsed twice). A response that breaks the protocol
//! (more or fewer columns than declared, a row that does not fit its
//! columns, a bad null bitmap, trailing bytes) fails its task with
//! `EBADMSG`. The size of a whole response is bounded by wf-core's
//! per-task response limit, counted on the bytes read.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};
use wf_core::Error;

use crate::cell::{self, MySQLCell};
use crate::lenenc::{
    lenenc_at, lenenc_bytes, lenenc_int, lenenc_range, lenenc_slice, put_lenenc_bytes, put_lenenc_int,
};
use crate::message::{Command, Done, FieldNames, MySQLField, MySQLRequest, MySQLResponse, Outcome, Reply, ServerError};
use crate::packet::Framer;
pub(crate) use crate::packet::MAX_PACKET;

/// Largest packet of the login exchange (greeting, login, auth switch,
/// auth data): real ones are a few hundred bytes, connection attributes
/// included (MySQL caps those at 64 KiB).
pub(crate) const HANDSHAKE_PACKET: usize = 64 << 10;

/// Most columns a result set may declare: 2^20. A count above it is
/// refused (`EBADMSG`) at once, before anything is allocated for it. Not
/// MySQL's 4096 columns per table: a bare `SELECT` list is not bound by
/// that (MariaDB 10.11 returns 200,000 constant columns). Nothing is
/// reserved by the count; each column definition takes at least 20 bytes
/// on the wire, so the task's response size limit (64 MiB by default)
/// binds long before this cap on real results: the cap only refuses at
/// once counts no server could send within it.
pub(crate) const MAX_COLUMNS: u64 = 1 << 20;

/// What is reserved at most for a declared number of items before they
/// arrive; past it, vectors grow with the items that come.
const PREALLOC: usize = 64;

/// What the read buffer is given room for while rows arrive: servers
/// send result sets in pieces of 16 KiB and more, and a read takes what
/// has come, up to the room there is.
const ROWS_READ: usize = 64 << 10;

/// The largest read buffer a connection keeps once a response is read.
const IDLE_BUFFER: usize = 128 << 10;

/// The most cells reserved for a result set before its rows arrive
/// (about 160 KiB; the hint is the connection's last result set, which
/// the server chose): past it, the vector grows with the rows that come.
const CELLS_HINT_MAX: usize = 1 << 12;

/// `COM_QUERY`: SQL text follows.
const COM_QUERY: u8 = 0x03;

/// `SERVER_MORE_RESULTS_EXISTS`: another result follows.
const MORE_RESULTS: u16 = 0x0008;

pub(crate) fn bad() -> Error {
    Error::sys(libc::EBADMSG)
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// An OK packet (`0x00`), or the end of a result set (an EOF packet).
fn parse_ok(mut p: Bytes) -> Option<Done> {
    p.advance(1);
    let affected_rows = lenenc_int(&mut p)?;
    let last_insert_id = lenenc_int(&mut p)?;
    if p.len() < 4 {
        return None;
    }
    let status = p.get_u16_le();
    let warnings = p.get_u16_le();
    // Servers send the info as a length-encoded string (MySQL and MariaDB
    // both use net_store_data); the protocol documents the rest of the
    // packet. Take the length when it fits exactly.
    let mut lenenc = p.clone();
    let info = match lenenc_bytes(&mut lenenc) {
        Some(text) if lenenc.is_empty() => text,
        _ => p,
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    Some(Done { affected_rows, last_insert_id, warnings, status, info })
}

fn parse_eof(p: &[u8]) -> Done {
    let mut d = Done::default();
    if p.len() >= 5 {
        d.warnings = u16::from_le_bytes([p[1], p[2]]);
        d.status = u16::from_le_bytes([p[3], p[4]]);
    }
    d
}

pub(crate) fn parse_err(p: &[u8]) -> ServerError {
    let code = if p.len() >= 3 { u16::from_le_bytes([p[1], p[2]]) } else { 0 };
    let rest = p.get(3..).unwrap_or_default();
    let (state, msg) = match rest.first() {
        Some(b'#') if rest.len() >= 6 => (String::from_utf8_lossy(&rest[1..6]).into_owned(), &rest[6..]),
        _ => (String::new(), rest),
    };
    ServerError { code, state, message: String::from_utf8_lossy(msg).into_owned() }
}

fn parse_field(p: &[u8]) -> Option<MySQLField> {
    let mut at = 0;
    let _catalog = lenenc_slice(p, &mut at)?;
    let names = FieldNames {
        db: lenenc_slice(p, &mut at)?,
        table: lenenc_slice(p, &mut at)?,
        org_table: lenenc_slice(p, &mut at)?,
        name: lenenc_slice(p, &mut at)?,
        org_name: lenenc_slice(p, &mut at)?,
    };
    // The length of the fixed fields (0x0c), then those fields.
    let (_fixed, at) = lenenc_at(p, at)?;
    let mut q = p.get(at..).filter(|q| q.len() >= 10)?;
    let charset = q.get_u16_le();
    let length = q.get_u32_le();
    let data_type = q.get_u8();
    let flags = q.get_u16_le();
    let decimals = q.get_u8();
    Some(MySQLField::new(names, charset, length, flags, decimals, data_type))
}

/// Appends the cells of the text-protocol row at `chunk[start..end]` to
/// `cells`; numbers are read in place, only text and binary values take
/// a slice of the chunk.
fn text_row(chunk: &Bytes, start: usize, end: usize, fields: &[MySQLField], cells: &mut Vec<MySQLCell>) -> Option<()> {
    let p = &chunk[..end];
    let mut at = start;
    for f in fields {
        if p.get(at) == Some(&0xfb) {
            at += 1;
            cells.push(MySQLCell::Null);
            continue;
        }
        let value = lenenc_range(p, &mut at)?;
        cells.push(cell::from_text_in(f.kind, chunk, value.start, value.end));
    }
    // More cells than columns.
    (at == end).then_some(())
}

/// Appends a binary-protocol row's cells to `cells`: a `0x00` header, a
/// null bitmap (2 reserved bits, one per column, padding bits clear),
/// then the non-null values, nothing after them.
fn binary_row(mut p: Bytes, fields: &[MySQLField], cells: &mut Vec<MySQLCell>) -> Option<()> {
    if p.first() != Some(&0x00) {
        return None;
    }
    p.advance(1);
    let bits = fields.len() + 2;
    let bitmap_len = bits.div_ceil(8);
    if p.len() < bitmap_len {
        return None;
    }
    let bitmap = p.split_to(bitmap_len);
    let is_set = |bit: usize| bitmap[bit / 8] & (1 << (bit % 8)) != 0;
    if is_set(0) || is_set(1) || (bits..bitmap_len * 8).any(is_set) {
        return None;
    }
    for (i, f) in fields.iter().enumerate() {
        cells.push(if is_set(i + 2) { MySQLCell::Null } else { cell::from_binary(f.kind, &mut p)? });
    }
    p.is_empty().then_some(())
}

/// A column-count packet: a length-encoded count, 1 to [`MAX_COLUMNS`],
/// and nothing else.
fn column_count(p: &[u8]) -> Option<usize> {
    let (n, end) = lenenc_at(p, 0)?;
    (end == p.len() && (1..=MAX_COLUMNS).contains(&(n as u64))).then_some(n)
}

/// Where the decoder is within a response.
#[derive(Debug, Default)]
enum State {
    /// The next packet starts a statement's outcome.
    #[default]
    Start,
    /// Reading column definitions, then their EOF.
    Fields { left: usize, fields: Vec<MySQLField> },
    /// Reading rows until the EOF.
    Rows { fields: Vec<MySQLField>, cells: Vec<MySQLCell> },
    /// A prepared statement's parameter and column definitions (skipped):
    /// `left` packets more.
    Prepared { left: usize },
}

/// The client side: encodes commands, decodes one whole response per
/// command. During the handshake it hands out single packets instead.
#[derive(Debug)]
pub struct ClientCodec {
    packets: Framer,
    handshake: bool,
    expect: VecDeque<Reply>,
    state: State,
    response: MySQLResponse,
    /// Cells in the last result set read.
    cells_hint: usize,
}

impl ClientCodec {
    pub(crate) fn new() -> ClientCodec {
        ClientCodec {
            packets: Framer::new(HANDSHAKE_PACKET),
            handshake: true,
            expect: VecDeque::new(),
            state: State::Start,
            response: MySQLResponse::default(),
            cells_hint: 0,
        }
    }

    /// The handshake is over: decode whole responses from now on.
    pub(crate) fn commands(&mut self) {
        self.handshake = false;
        self.packets.set_limit(MAX_PACKET);
    }

    /// Handles one packet of a response, `chunk[start..end]`; `true` when
    /// the response is whole.
    fn step(&mut self, chunk: &Bytes, start: usize, end: usize, reply: Reply) -> Result<bool, Error> {
        let p = &chunk[start..end];
        let first = *p.first().ok_or_else(bad)?;
        // Rows, the common packet, are read where the state is.
        if let State::Rows { fields, cells } = &mut self.state
            && first != 0xff
            && !is_eof(p)
        {
            let ok = match reply {
                Reply::Binary => binary_row(chunk.slice(start..end), fields, cells),
                _ => text_row(chunk, start, end, fields, cells),
            };
            return ok.map(|()| false).ok_or_else(bad);
        }
        let state = std::mem::take(&mut self.state);
        match state {
            State::Start => match first {
                0x00 if reply == Reply::Prepare => {
                    let mut q = &p[1..];
                    if q.len() < 11 {
                        return Err(bad());
                    }
                    let (id, cols, params) = (q.get_u32_le(), q.get_u16_le(), q.get_u16_le());
                    self.response.prepared = Some((id, params));
                    let eofs = usize::from(params > 0) + usize::from(cols > 0);
                    let left = usize::from(params) + usize::from(cols) + eofs;
                    if left == 0 {
                        return Ok(true);
                    }
                    self.state = State::Prepared { left };
                }
                0x00 => {
                    let done = parse_ok(chunk.slice(start..end)).ok_or_else(bad)?;
                    let more = done.status & MORE_RESULTS != 0;
                    self.response.outcomes.push(Outcome::Ok(done));
                    return Ok(!more);
                }
                0xff => {
                    self.response.outcomes.push(Outcome::Err(parse_err(p)));
                    return Ok(true);
                }
                // LOCAL INFILE: the server would wait for a file.
                0xfb => return Err(Error::sys(libc::EPROTONOSUPPORT)),
                _ if reply == Reply::Prepare => return Err(bad()),
                _ => {
                    let n = column_count(p).ok_or_else(bad)?;
                    let fields = Vec::with_capacity(n.min(PREALLOC));
                    self.state = State::Fields { left: n, fields };
                }
            },
            State::Fields { left, mut fields } => {
                if left == 0 {
                    // More columns than declared: no EOF here.
                    if !is_eof(p) {
                        return Err(bad());
                    }
                    // Room for as many cells as the connection's last
                    // result set had (results on one connection tend to
                    // look alike), within a bound: the vector then seldom
                    // moves as it grows.
                    let cells = Vec::with_capacity(self.cells_hint.min(CELLS_HINT_MAX));
                    self.state = State::Rows { fields, cells };
                } else {
                    // Fewer: an EOF already.
                    if is_eof(p) {
                        return Err(bad());
                    }
                    fields.push(parse_field(p).ok_or_else(bad)?);
                    self.state = State::Fields { left: left - 1, fields };
                }
            }
            State::Rows { fields, cells, .. } => {
                // The end of the rows or an error: a row was read above.
                if first == 0xff {
                    self.response.outcomes.push(Outcome::Err(parse_err(p)));
                    return Ok(true);
                }
                let done = parse_eof(p);
                let more = done.status & MORE_RESULTS != 0;
                self.cells_hint = cells.len();
                self.response.outcomes.push(Outcome::Rows { fields, cells, done });
                return Ok(!more);
            }
            State::Prepared { left } => {
                if left == 1 {
                    return Ok(true);
                }
                self.state = State::Prepared { left: left - 1 };
            }
        }
        Ok(false)
    }
}

impl Encoder<&MySQLRequest> for ClientCodec {
    type Error = Error;

    fn encode(&mut self, req: &MySQLRequest, dst: &mut BytesMut) -> Result<(), Error> {
        let reply = match &req.command {
            Command::Unset => return Err(Error::task(crate::code::QUERY_NOT_SET)),
            Command::Query(sql) => {
                // A command starts a new sequence (at 0 unless set).
                self.packets.set_seq(req.seqid);
                self.packets.encode_command(COM_QUERY, sql, dst)?;
                Some(Reply::Text)
            }
            Command::Packet { payload, reply } => {
                self.packets.set_seq(req.seqid);
                self.packets.encode(payload, dst)?;
                Some(*reply)
            }
            Command::Handshake(payload) => {
                self.packets.encode(payload, dst)?;
                None
            }
        };
        if let Some(r) = reply.filter(|r| *r != Reply::None) {
            self.expect.push_back(r);
        }
        Ok(())
    }
}

impl Decoder for ClientCodec {
    type Item = MySQLResponse;
    type Error = Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<MySQLResponse>, Error> {
        if self.handshake {
            return Ok(self.packets.decode(buf)?.map(|p| MySQLResponse { raw: Some(p), ..MySQLResponse::default() }));
        }
        loop {
            // The whole packets at the front of `buf` are split off
            // together and read in place: one reference count for all of
            // them, not one per packet.
            let run = self.packets.whole_packets(buf);
            if run == 0 {
                // One packet the general way: cut short, continued past
                // 16 MiB, over the limit or out of sequence.
                let Some(p) = self.packets.decode(buf)? else {
                    if matches!(self.state, State::Rows { .. }) {
                        // Rows to come: read them in large pieces (the
                        // connection reads into what the buffer has room
                        // for, 4 KiB otherwise).
                        buf.reserve(ROWS_READ);
                    }
                    return Ok(None);
                };
                if let Some(resp) = self.packet(&p, 0, p.len())? {
                    return Ok(Some(done_with(buf, resp)));
                }
                continue;
            }
            let chunk = buf.split_to(run).freeze();
            let mut at = 0;
            while at < run {
                let (start, end) = self.packets.next_in(&chunk, at);
                at = end;
                if let Some(resp) = self.packet(&chunk, start, end)? {
                    if at < run {
                        // Bytes after the response (a reply to a command
                        // sent after it) go back to the front of `buf`.
                        let mut rest = BytesMut::from(&chunk[at..]);
                        rest.unsplit(std::mem::take(buf));
                        *buf = rest;
                    }
                    return Ok(Some(done_with(buf, resp)));
                }
            }
        }
    }
}

/// Hands out `resp`, letting go of a large read buffer with nothing left
/// in it (grown for rows, or for a packet of many megabytes): an idle
/// connection keeps a small one.
fn done_with(buf: &mut BytesMut, resp: MySQLResponse) -> MySQLResponse {
    if buf.is_empty() && buf.capacity() > IDLE_BUFFER {
        *buf = BytesMut::new();
    }
    resp
}

impl ClientCodec {
    /// Reads the packet `chunk[start..end]`; the response once it is whole.
    fn packet(&mut self, chunk: &Bytes, start: usize, end: usize) -> Result<Option<MySQLResponse>, Error> {
        // Bytes nobody asked for.
        let reply = *self.expect.front().ok_or_else(bad)?;
        if !self.step(chunk, start, end, reply)? {
            return Ok(None);
        }
        self.expect.pop_front();
        self.state = State::Start;
        Ok(Some(std::mem::take(&mut self.response)))
    }
}

/// The server side: reads commands, writes responses in the text
/// protocol. A command over the server's `request_size_limit` is refused
/// at its header (`ER_NET_PACKET_TOO_LARGE`, then the connection closes);
/// the login exchange's packets are bounded at 64 KiB.
#[derive(Debug)]
pub struct ServerCodec {
    packets: Framer,
    /// Still logging in: packets are handed out one by one.
    handshake: bool,
    /// The largest command.
    limit: usize,
    /// The sequence id each command's reply starts with, in order.
    replies: VecDeque<u8>,
    /// Why the last command was refused, for the error reply.
    refusal: Option<ServerError>,
}

/// One packet of the server's handshake (greeting, auth data, OK, error).
pub(crate) struct RawPacket(pub(crate) Vec<u8>);

/// `ER_NET_PACKET_TOO_LARGE`.
pub(crate) const ER_NET_PACKET_TOO_LARGE: u16 = 1153;
/// `ER_NET_PACKETS_OUT_OF_ORDER`.
const ER_NET_PACKETS_OUT_OF_ORDER: u16 = 1156;
/// `ER_UNKNOWN_COM_ERROR`.
const ER_UNKNOWN_COM_ERROR: u16 = 1047;

/// The error packet MySQL answers a refused packet with.
pub(crate) fn refusal_for(code: i32) -> ServerError {
    let (code, message) = match code {
        libc::EMSGSIZE => (ER_NET_PACKET_TOO_LARGE, "Got a packet bigger than 'max_allowed_packet' bytes"),
        libc::EBADMSG => (ER_NET_PACKETS_OUT_OF_ORDER, "Got packets out of order"),
        _ => (ER_UNKNOWN_COM_ERROR, "Unknown command"),
    };
    ServerError { code, state: "08S01".into(), message: message.into() }
}

impl ServerCodec {
    /// A server codec refusing commands over `limit` bytes (none: 1 GiB,
    /// MySQL's ceiling).
    pub(crate) fn new(limit: Option<usize>) -> ServerCodec {
        ServerCodec {
            packets: Framer::new(HANDSHAKE_PACKET),
            handshake: true,
            limit: limit.unwrap_or(MAX_PACKET).min(MAX_PACKET),
            replies: VecDeque::new(),
            refusal: None,
        }
    }

    /// Writes one packet.
    fn write_packet(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        self.packets.encode(payload, dst)
    }

    /// The handshake is over: commands from now on.
    pub(crate) fn commands(&mut self) {
        self.handshake = false;
        self.packets.set_limit(self.limit);
    }

    /// The error packet for the command the codec refused last.
    pub(crate) fn take_refusal(&mut self) -> Option<ServerError> {
        self.refusal.take()
    }

    fn refuse(&mut self, e: Error, reply_seq: Option<u8>) -> Error {
        if let Some(seq) = reply_seq {
            self.replies.push_back(seq);
        }
        self.refusal = Some(refusal_for(e.code()));
        e
    }
}

impl Encoder<RawPacket> for ServerCodec {
    type Error = Error;

    fn encode(&mut self, p: RawPacket, dst: &mut BytesMut) -> Result<(), Error> {
        self.write_packet(&p.0, dst)
    }
}

fn put_done(out: &mut Vec<u8>, d: &Done, more: bool) {
    out.push(0x00);
    put_lenenc_int(out, d.affected_rows);
    put_lenenc_int(out, d.last_insert_id);
    let status = (d.status & !MORE_RESULTS) | if more { MORE_RESULTS } else { 0 } | 0x0002; // AUTOCOMMIT
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&d.warnings.to_le_bytes());
    if !d.info.is_empty() {
        put_lenenc_bytes(out, d.info.as_bytes());
    }
}

pub(crate) fn err_packet(e: &ServerError) -> Vec<u8> {
    let mut out = vec![0xff];
    out.extend_from_slice(&e.code.to_le_bytes());
    out.push(b'#');
    let mut state = e.state.clone().into_bytes();
    state.resize(5, b'0');
    out.extend_from_slice(&state[..5]);
    out.extend_from_slice(e.message.as_bytes());
    out
}

fn field_packet(f: &MySQLField) -> Vec<u8> {
    let mut out = Vec::new();
    put_lenenc_bytes(&mut out, b"def");
    for s in [f.db(), f.table(), f.org_table(), f.name(), f.org_name()] {
        put_lenenc_bytes(&mut out, s.as_bytes());
    }
    out.push(0x0c);
    out.extend_from_slice(&f.charset.to_le_bytes());
    out.extend_from_slice(&f.length.to_le_bytes());
    out.push(f.data_type);
    out.extend_from_slice(&f.flags.to_le_bytes());
    out.push(f.decimals);
    out.extend_from_slice(&[0, 0]);
    out
}

fn eof_packet(status: u16) -> Vec<u8> {
    let mut out = vec![0xfe, 0, 0];
    out.extend_from_slice(&(status | 0x0002).to_le_bytes());
    out
}

impl Decoder for ServerCodec {
    type Item = MySQLRequest;
    type Error = Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<MySQLRequest>, Error> {
        if !self.handshake && !self.packets.in_packet() {
            // A new command starts its sequence at 0.
            self.packets.set_seq(0);
        }
        // A refused header's reply follows its sequence id.
        let refused_seq = buf.get(3).map(|s| s.wrapping_add(1));
        let p = match self.packets.decode(buf) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.refuse(e, refused_seq)),
        };
        if self.handshake {
            return Ok(Some(MySQLRequest::handshake(p)));
        }
        self.replies.push_back(self.packets.seq());
        let Some(&cmd) = p.first() else { return Err(self.refuse(Error::sys(libc::EPROTO), None)) };
        Ok(Some(match cmd {
            0x03 => {
                let mut r = MySQLRequest::default();
                r.set_query(p.slice(1..));
                r
            }
            _ => MySQLRequest::packet(p, Reply::Text),
        }))
    }
}

impl Encoder<&MySQLResponse> for ServerCodec {
    type Error = Error;

    fn encode(&mut self, resp: &MySQLResponse, dst: &mut BytesMut) -> Result<(), Error> {
        // The reply continues its command's sequence.
        if let Some(seq) = self.replies.pop_front() {
            self.packets.set_seq(seq);
        }
        let n = resp.outcomes.len();
        if n == 0 {
            let mut out = Vec::new();
            put_done(&mut out, &Done::default(), false);
            return self.write_packet(&out, dst);
        }
        for (i, o) in resp.outcomes.iter().enumerate() {
            let more = i + 1 < n;
            match o {
                Outcome::Ok(d) => {
                    let mut out = Vec::new();
                    put_done(&mut out, d, more);
                    self.write_packet(&out, dst)?;
                }
                Outcome::Err(e) => {
                    self.write_packet(&err_packet(e), dst)?;
                    break;
                }
                Outcome::Rows { fields, cells, done } => {
                    let mut out = Vec::new();
                    put_lenenc_int(&mut out, fields.len() as u64);
                    self.write_packet(&out, dst)?;
                    for f in fields {
                        self.write_packet(&field_packet(f), dst)?;
                    }
                    self.write_packet(&eof_packet(0), dst)?;
                    for row in cells.chunks(fields.len().max(1)) {
                        let mut out = Vec::new();
                        for c in row {
                            match c {
                                MySQLCell::Null => out.push(0xfb),
                                MySQLCell::String(b) | MySQLCell::Bytes(b) | MySQLCell::Bit(b) => {
                                    put_lenenc_bytes(&mut out, b)
                                }
                                other => put_lenenc_bytes(&mut out, other.to_string().as_bytes()),
                            }
                        }
                        self.write_packet(&out, dst)?;
                    }
                    let status = if more { done.status | MORE_RESULTS } else { done.status & !MORE_RESULTS };
                    self.write_packet(&eof_packet(status), dst)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    /// A client writes a command's first packet with the request's
    /// sequence id: 0 by default, what `set_seqid` said otherwise.
    #[test]
    fn a_command_is_written_with_its_seqid() {
        for (seqid, want) in [(None, 0), (Some(5), 5), (Some(255), 255)] {
            let mut c = ClientCodec::new();
            c.commands();
            let mut req = MySQLRequest::default();
            req.set_query("SELECT 1");
            if let Some(s) = seqid {
                req.set_seqid(s);
            }
            assert_eq!(req.seqid(), want);
            let mut out = BytesMut::new();
            c.encode(&req, &mut out).unwrap();
            assert_eq!(&out[..5], &[9, 0, 0, want, COM_QUERY], "length 9, the seqid, COM_QUERY");
            assert_eq!(&out[5..], b"SELECT 1");
        }
    }

    /// `payloads` framed with sequence ids from 1 (a command's reply).
    fn wire(payloads: &[&[u8]]) -> BytesMut {
        let mut f = Framer::new(MAX_PACKET);
        f.set_seq(1);
        let mut out = BytesMut::new();
        for p in payloads {
            f.encode(p, &mut out).unwrap();
        }
        out
    }

    fn codec(reply: Reply) -> ClientCodec {
        let mut c = ClientCodec::new();
        c.commands();
        let req = match reply {
            Reply::Text => {
                let mut r = MySQLRequest::default();
                r.set_query("SELECT 1");
                r
            }
            r => MySQLRequest::packet(&b"\x17\x01\0\0\0\0\x01\0\0\0"[..], r),
        };
        c.encode(&req, &mut BytesMut::new()).unwrap();
        c
    }

    fn decode(reply: Reply, payloads: &[&[u8]]) -> Result<Option<MySQLResponse>, Error> {
        codec(reply).decode(&mut wire(payloads))
    }

    const EOF: &[u8] = b"\xfe\0\0\x02\0";

    /// A column definition of type `ty` named `c`.
    fn field(ty: u8) -> Vec<u8> {
        let mut p = b"\x03def\0\0\0\x01c\0\x0c\x21\0\x0b\0\0\0".to_vec();
        p.extend_from_slice(&[ty, 0, 0, 0, 0, 0]);
        p
    }

    fn failed(r: Result<Option<MySQLResponse>, Error>) -> i32 {
        r.expect_err("the response must be refused").code()
    }

    #[test]
    fn a_result_set_decodes_whole_and_a_byte_at_a_time() {
        let f = field(0xfd);
        let payloads: [&[u8]; 6] = [b"\x01", &f, EOF, b"\x02hi", b"\xfb", EOF];
        let whole = decode(Reply::Text, &payloads).unwrap().unwrap();
        let mut c = codec(Reply::Text);
        let mut buf = BytesMut::new();
        let mut got = None;
        for b in wire(&payloads) {
            buf.put_u8(b);
            if let Some(r) = c.decode(&mut buf).unwrap() {
                got = Some(r);
            }
            // Packets are taken as they complete: what stays buffered is
            // never more than one packet.
            assert!(buf.len() < 4 + f.len());
        }
        assert_eq!(got.unwrap(), whole);
        assert_eq!(crate::MySQLResultCursor::new(&whole).fetch_all().len(), 2);
    }

    #[test]
    fn bytes_after_a_response_stay_buffered() {
        // Whole packets are read together: what follows the response in
        // the same read is left in the buffer as it came.
        let mut c = codec(Reply::Text);
        let f = field(0x08); // LONGLONG
        let mut buf = wire(&[b"\x01", &f, EOF, b"\x011", EOF]);
        let after = wire(&[b"\x00\0\0\x02\0\0\0"]);
        buf.extend_from_slice(&after);
        let first = c.decode(&mut buf).unwrap().unwrap();
        assert_eq!(crate::MySQLResultCursor::new(&first).fetch_all(), [[MySQLCell::Int(1)]]);
        assert_eq!(buf, after);
        // Nobody asked for them.
        assert_eq!(c.decode(&mut buf).unwrap_err().code(), libc::EBADMSG);
    }

    #[test]
    fn a_bad_packet_inside_a_run_of_whole_ones_is_refused() {
        let f = field(0xfd);
        // The third packet claims sequence id 9: the two before it are
        // read, then it is refused.
        let mut buf = wire(&[b"\x01", &f]);
        buf.extend_from_slice(b"\x05\0\0\x09\xfe\0\0\x02\0");
        assert_eq!(codec(Reply::Text).decode(&mut buf).unwrap_err().code(), libc::EBADMSG);
        // A row continued past 16 MiB among whole packets is joined.
        let big = vec![b'x'; crate::packet::MAX_CHUNK + 10];
        let mut row = vec![0xfe];
        row.extend_from_slice(&(big.len() as u64).to_le_bytes());
        row.extend_from_slice(&big);
        let resp = decode(Reply::Text, &[b"\x01", &f, EOF, b"\x02hi", &row, b"\x02ho", EOF]).unwrap().unwrap();
        let rows = crate::MySQLResultCursor::new(&resp).fetch_all();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1][0].as_bytes().map(<[u8]>::len), Some(big.len()));
        assert_eq!(rows[2][0].as_str(), Some("ho"));
    }

    #[test]
    fn rows_are_read_in_large_pieces_and_an_idle_buffer_stays_small() {
        let f = field(0xfd);
        let mut c = codec(Reply::Text);
        let mut buf = wire(&[b"\x01", &f, EOF, b"\x02hi"]);
        // A row cut short: room for the rows to come.
        buf.extend_from_slice(b"\x03\0\0\x05\x02h");
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() >= ROWS_READ, "{}", buf.capacity());
        buf.extend_from_slice(b"o");
        buf.extend_from_slice(b"\x05\0\0\x06\xfe\0\0\x02\0");
        let resp = c.decode(&mut buf).unwrap().unwrap();
        assert_eq!(crate::MySQLResultCursor::new(&resp).rows_count(), 2);
        // Within the bound a connection keeps; past it, let go once the
        // response is read.
        assert!(buf.capacity() <= IDLE_BUFFER);
        let mut c = codec(Reply::Text);
        let mut buf = BytesMut::with_capacity(4 * IDLE_BUFFER);
        buf.extend_from_slice(&wire(&[b"\x01", &f, EOF, b"\x02hi", EOF]));
        assert!(c.decode(&mut buf).unwrap().is_some());
        assert!(buf.capacity() <= IDLE_BUFFER, "{}", buf.capacity());
    }

    #[test]
    fn hostile_column_counts_are_refused_without_allocating() {
        // 0xFFFFFFFFFFFF columns (the finding: a 149 TB allocation).
        assert_eq!(failed(decode(Reply::Text, &[b"\xfe\xff\xff\xff\xff\xff\xff\0\0"])), libc::EBADMSG);
        // 2^63 columns.
        assert_eq!(failed(decode(Reply::Text, &[b"\xfe\0\0\0\0\0\0\0\x80"])), libc::EBADMSG);
        // One over the cap (2^20), zero, garbage after the count.
        assert_eq!(failed(decode(Reply::Text, &[b"\xfd\x01\0\x10"])), libc::EBADMSG);
        assert_eq!(failed(decode(Reply::Text, &[b"\xfc\0\0"])), libc::EBADMSG);
        assert_eq!(failed(decode(Reply::Text, &[b"\x01x"])), libc::EBADMSG);
        // The cap itself, and MySQL's 4097 (past its per-table limit, as a
        // bare SELECT list can be), are fine: they wait for the fields.
        assert!(decode(Reply::Text, &[b"\xfd\0\0\x10"]).unwrap().is_none());
        assert!(decode(Reply::Text, &[b"\xfc\x01\x10"]).unwrap().is_none());
        // A count cut short.
        assert_eq!(failed(decode(Reply::Text, &[b"\xfd\x01"])), libc::EBADMSG);
    }

    #[test]
    fn more_or_fewer_columns_than_declared_are_refused() {
        let f = field(0xfd);
        // Two fields for one column; one field for two columns.
        assert_eq!(failed(decode(Reply::Text, &[b"\x01", &f, &f, EOF])), libc::EBADMSG);
        assert_eq!(failed(decode(Reply::Text, &[b"\x02", &f, EOF])), libc::EBADMSG);
        // Rows with more cells, fewer, cut short, or a length past the
        // packet (2^63).
        for row in [&b"\x01a\x01b"[..], b"", b"\x05ab", b"\xfe\0\0\0\0\0\0\0\x80ab", b"\xff\x01"] {
            let r = decode(Reply::Text, &[b"\x01", &f, EOF, row, EOF]);
            if row.first() == Some(&0xff) {
                // An error packet ends the response, reported as such.
                assert!(r.unwrap().unwrap().is_error_packet());
            } else {
                assert_eq!(failed(r), libc::EBADMSG, "{row:?}");
            }
        }
        // A field packet whose strings run past its end.
        assert_eq!(failed(decode(Reply::Text, &[b"\x01", b"\x03def\xfc\xff\xff", EOF])), libc::EBADMSG);
        assert_eq!(failed(decode(Reply::Text, &[b"\x01", &f[..f.len() - 8]])), libc::EBADMSG);
    }

    #[test]
    fn binary_rows_check_their_bitmap_and_cells() {
        let long = field(0x03); // LONG: 4 bytes
        let rs = |row: &'static [u8]| decode(Reply::Binary, &[b"\x01", &long, EOF, row, EOF]);
        let ok = rs(b"\x00\x00\x2a\0\0\0").unwrap().unwrap();
        assert_eq!(crate::MySQLResultCursor::new(&ok).fetch_all()[0][0], MySQLCell::Int(42));
        assert_eq!(
            crate::MySQLResultCursor::new(&rs(b"\x00\x04").unwrap().unwrap()).fetch_all()[0][0],
            MySQLCell::Null
        );
        for bad_row in [
            &b"\x00\x01\x2a\0\0\0"[..], // a reserved bit set
            b"\x00\x08\x2a\0\0\0",      // a padding bit set
            b"\x00",                    // no bitmap
            b"\x00\x00\x2a\0",          // the value cut short
            b"\x00\x00\x2a\0\0\0\0",    // a byte after the values
            b"\x01\x00\x2a\0\0\0",      // not a row header
        ] {
            assert_eq!(failed(rs(bad_row)), libc::EBADMSG, "{bad_row:?}");
        }
    }

    #[test]
    fn unasked_bytes_and_bad_packets_are_refused() {
        // A response nobody asked for.
        let mut c = ClientCodec::new();
        c.commands();
        assert_eq!(c.decode(&mut wire(&[b"\x00\0\0\x02\0\0\0"])).unwrap_err().code(), libc::EBADMSG);
        // An empty packet, an EOF where a result starts, a sequence id out
        // of order, a prepare answered with a result set.
        assert_eq!(failed(decode(Reply::Text, &[b""])), libc::EBADMSG);
        assert_eq!(failed(decode(Reply::Text, &[EOF])), libc::EBADMSG);
        assert_eq!(
            codec(Reply::Text).decode(&mut BytesMut::from(&b"\x01\0\0\x05\x01"[..])).unwrap_err().code(),
            libc::EBADMSG
        );
        assert_eq!(failed(decode(Reply::Prepare, &[b"\x01"])), libc::EBADMSG);
        // An OK packet cut short.
        assert_eq!(failed(decode(Reply::Text, &[b"\x00\x01"])), libc::EBADMSG);
    }

    #[test]
    fn oversized_commands_are_refused_at_their_header() {
        let mut c = ServerCodec::new(Some(100));
        c.commands();
        // 101 bytes declared, nothing of them sent.
        let mut buf = BytesMut::from(&b"\x65\0\0\0"[..]);
        assert_eq!(c.decode(&mut buf).unwrap_err().code(), libc::EMSGSIZE);
        let e = c.take_refusal().unwrap();
        assert_eq!((e.code, e.state.as_str()), (1153, "08S01"));
        assert_eq!(e.message, "Got a packet bigger than 'max_allowed_packet' bytes");
        // The error reply follows the refused packet's sequence.
        let mut resp = MySQLResponse::default();
        resp.outcomes.push(Outcome::Err(e));
        let mut out = BytesMut::new();
        c.encode(&resp, &mut out).unwrap();
        assert_eq!(&out[..5], b"\x3c\0\0\x01\xff");
        // 100 bytes are fine, and the login exchange has its own bound.
        let mut c = ServerCodec::new(Some(100));
        c.commands();
        let mut buf = BytesMut::from(&b"\x64\0\0\0\x03"[..]);
        buf.extend_from_slice(&[b'x'; 99]);
        assert_eq!(c.decode(&mut buf).unwrap().unwrap().query().len(), 99);
        let mut c = ServerCodec::new(None);
        let mut buf = BytesMut::from(&b"\x01\0\x01\0"[..]);
        assert_eq!(c.decode(&mut buf).unwrap_err().code(), libc::EMSGSIZE);
        // An empty command.
        let mut c = ServerCodec::new(None);
        c.commands();
        assert!(c.decode(&mut BytesMut::from(&b"\0\0\0\0"[..])).is_err());
        assert_eq!(c.take_refusal().unwrap().code, 1047);
    }
}
