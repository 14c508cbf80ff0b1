//! The MySQL codecs: mysql_common's packet codec (sequence ids, packets
//! split at 16 MiB) under a tokio-util codec that reads whole responses:
//! OK and error packets, result sets in the text or binary protocol, and
//! several of them for multi-statement queries and stored procedures.

use std::collections::VecDeque;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::proto::codec::PacketCodec;
use tokio_util::codec::{Decoder, Encoder};
use wf_core::Error;

use crate::cell::{self, Kind, MySQLCell};
use crate::lenenc::{lenenc_bytes, lenenc_int, put_lenenc_bytes, put_lenenc_int};
use crate::message::{Command, Done, MySQLField, MySQLRequest, MySQLResponse, Outcome, Reply, ServerError};

/// Largest packet either side accepts: 1 GiB, MySQL's own ceiling
/// (mysql_common's default, 4 MiB, is too small for real rows).
pub(crate) const MAX_PACKET: usize = 1 << 30;

/// `SERVER_MORE_RESULTS_EXISTS`: another result follows.
const MORE_RESULTS: u16 = 0x0008;

pub(crate) fn bad() -> Error {
    Error::sys(libc::EBADMSG)
}

fn packet_error(e: mysql_common::proto::codec::error::PacketCodecError) -> Error {
    use mysql_common::proto::codec::error::PacketCodecError as E;
    match e {
        E::Io(e) => Error::from(e),
        E::PacketTooLarge => Error::sys(libc::EMSGSIZE),
        E::PacketsOutOfSync | E::BadCompressedPacketHeader => bad(),
    }
}

fn packet_codec() -> PacketCodec {
    let mut c = PacketCodec::default();
    c.max_allowed_packet = MAX_PACKET;
    c
}

fn lenenc_string(buf: &mut Bytes) -> Option<String> {
    lenenc_bytes(buf).map(|b| String::from_utf8_lossy(&b).into_owned())
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

fn parse_field(mut p: Bytes) -> Option<(MySQLField, Kind)> {
    let _catalog = lenenc_bytes(&mut p)?;
    let db = lenenc_string(&mut p)?;
    let table = lenenc_string(&mut p)?;
    let org_table = lenenc_string(&mut p)?;
    let name = lenenc_string(&mut p)?;
    let org_name = lenenc_string(&mut p)?;
    let _fixed = lenenc_int(&mut p)?;
    if p.len() < 10 {
        return None;
    }
    let charset = p.get_u16_le();
    let length = p.get_u32_le();
    let data_type = p.get_u8();
    let flags = p.get_u16_le();
    let decimals = p.get_u8();
    let kind = Kind {
        ty: ColumnType::try_from(data_type).unwrap_or(ColumnType::MYSQL_TYPE_STRING),
        flags: ColumnFlags::from_bits_truncate(flags),
        charset,
    };
    Some((MySQLField { name, org_name, table, org_table, db, charset, length, flags, decimals, data_type }, kind))
}

/// A length-encoded length at `at` in `p`: (length, where the data starts).
fn lenenc_at(p: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *p.get(at)?;
    let (n, len) = match first {
        0xfc => (u64::from(u16::from_le_bytes(p.get(at + 1..at + 3)?.try_into().ok()?)), 3),
        0xfd => {
            let b = p.get(at + 1..at + 4)?;
            (u64::from(b[0]) | (u64::from(b[1]) << 8) | (u64::from(b[2]) << 16), 4)
        }
        0xfe => (u64::from_le_bytes(p.get(at + 1..at + 9)?.try_into().ok()?), 9),
        b => (u64::from(b), 1),
    };
    Some((usize::try_from(n).ok()?, at + len))
}

/// Appends a text-protocol row's cells to `cells`; numbers are read in
/// place, only text and binary values share the packet's buffer.
fn text_row(p: &Bytes, kinds: &[Kind], cells: &mut Vec<MySQLCell>) -> Option<()> {
    let mut at = 0;
    for k in kinds {
        if p.get(at) == Some(&0xfb) {
            at += 1;
            cells.push(MySQLCell::Null);
            continue;
        }
        let (n, start) = lenenc_at(p, at)?;
        let end = start.checked_add(n).filter(|&e| e <= p.len())?;
        cells.push(cell::from_text_in(*k, p, start, end));
        at = end;
    }
    Some(())
}

fn binary_row(mut p: Bytes, kinds: &[Kind], cells: &mut Vec<MySQLCell>) -> Option<()> {
    p.advance(1); // 0x00
    let bitmap_len = (kinds.len() + 7 + 2) / 8;
    if p.len() < bitmap_len {
        return None;
    }
    let bitmap = p.split_to(bitmap_len);
    for (i, k) in kinds.iter().enumerate() {
        let bit = i + 2;
        cells.push(if bitmap[bit / 8] & (1 << (bit % 8)) != 0 {
            MySQLCell::Null
        } else {
            cell::from_binary(*k, &mut p)?
        });
    }
    Some(())
}

/// Where the decoder is within a response.
#[derive(Debug, Default)]
enum State {
    /// The next packet starts a statement's outcome.
    #[default]
    Start,
    /// Reading column definitions, then their EOF.
    Fields { left: usize, fields: Vec<MySQLField>, kinds: Vec<Kind> },
    /// Reading rows until the EOF.
    Rows { fields: Vec<MySQLField>, kinds: Vec<Kind>, cells: Vec<MySQLCell> },
    /// A prepared statement's parameter and column definitions.
    Prepared { id: u32, params: u16, left: usize, eofs: usize },
}

/// The client side: encodes commands, decodes one whole response per
/// command. During the handshake it hands out single packets instead.
#[derive(Debug)]
pub struct ClientCodec {
    packets: PacketCodec,
    handshake: bool,
    expect: VecDeque<Reply>,
    state: State,
    response: MySQLResponse,
    scratch: BytesMut,
}

impl ClientCodec {
    pub(crate) fn new() -> ClientCodec {
        ClientCodec {
            packets: packet_codec(),
            handshake: true,
            expect: VecDeque::new(),
            state: State::Start,
            response: MySQLResponse::default(),
            scratch: BytesMut::new(),
        }
    }

    /// The handshake is over: decode whole responses from now on.
    pub(crate) fn commands(&mut self) {
        self.handshake = false;
    }

    fn packet(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        if self.packets.decode(buf, &mut self.scratch).map_err(packet_error)? {
            Ok(Some(self.scratch.split().freeze()))
        } else {
            Ok(None)
        }
    }

    /// Handles one packet of a response; `true` when the response is whole.
    fn step(&mut self, p: Bytes, reply: Reply) -> Result<bool, Error> {
        let first = *p.first().ok_or_else(bad)?;
        let state = std::mem::take(&mut self.state);
        match state {
            State::Start => match first {
                0x00 if reply == Reply::Prepare => {
                    let mut q = p.slice(1..);
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
                    self.state = State::Prepared { id, params, left, eofs };
                }
                0x00 => {
                    let done = parse_ok(p).ok_or_else(bad)?;
                    let more = done.status & MORE_RESULTS != 0;
                    self.response.outcomes.push(Outcome::Ok(done));
                    return Ok(!more);
                }
                0xff => {
                    self.response.outcomes.push(Outcome::Err(parse_err(&p)));
                    return Ok(true);
                }
                // LOCAL INFILE: the server would wait for a file.
                0xfb => return Err(Error::sys(libc::EPROTONOSUPPORT)),
                _ => {
                    let mut q = p;
                    let n = lenenc_int(&mut q).ok_or_else(bad)? as usize;
                    self.state = State::Fields { left: n, fields: Vec::with_capacity(n), kinds: Vec::with_capacity(n) };
                }
            },
            State::Fields { left, mut fields, mut kinds } => {
                if left == 0 {
                    if !is_eof(&p) {
                        return Err(bad());
                    }
                    self.state = State::Rows { fields, kinds, cells: Vec::new() };
                } else {
                    let (f, k) = parse_field(p).ok_or_else(bad)?;
                    fields.push(f);
                    kinds.push(k);
                    self.state = State::Fields { left: left - 1, fields, kinds };
                }
            }
            State::Rows { fields, kinds, mut cells } => {
                if is_eof(&p) {
                    let done = parse_eof(&p);
                    let more = done.status & MORE_RESULTS != 0;
                    self.response.outcomes.push(Outcome::Rows { fields, cells, done });
                    return Ok(!more);
                }
                if first == 0xff {
                    self.response.outcomes.push(Outcome::Err(parse_err(&p)));
                    return Ok(true);
                }
                let ok = match reply {
                    Reply::Binary => binary_row(p, &kinds, &mut cells),
                    _ => text_row(&p, &kinds, &mut cells),
                };
                ok.ok_or_else(bad)?;
                self.state = State::Rows { fields, kinds, cells };
            }
            State::Prepared { id, params, left, eofs } => {
                let _ = (id, params, eofs);
                if left == 1 {
                    return Ok(true);
                }
                self.state = State::Prepared { id, params, left: left - 1, eofs };
            }
        }
        Ok(false)
    }
}

impl Encoder<&MySQLRequest> for ClientCodec {
    type Error = Error;

    fn encode(&mut self, req: &MySQLRequest, dst: &mut BytesMut) -> Result<(), Error> {
        let (payload, reply) = match &req.command {
            Command::Unset => return Err(Error::task(crate::code::QUERY_NOT_SET)),
            Command::Query(sql) => {
                let mut p = BytesMut::with_capacity(1 + sql.len());
                p.put_u8(0x03);
                p.extend_from_slice(sql);
                (p.freeze(), Some(Reply::Text))
            }
            Command::Packet { payload, reply } => (payload.clone(), Some(*reply)),
            Command::Handshake(payload) => (payload.clone(), None),
        };
        if reply.is_some() {
            self.packets.reset_seq_id();
        }
        self.packets.encode(&mut payload.clone(), dst).map_err(packet_error)?;
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
            return Ok(self.packet(buf)?.map(|p| MySQLResponse { raw: Some(p), ..MySQLResponse::default() }));
        }
        loop {
            let Some(p) = self.packet(buf)? else { return Ok(None) };
            let reply = *self.expect.front().ok_or_else(bad)?;
            if self.step(p, reply)? {
                self.expect.pop_front();
                self.state = State::Start;
                return Ok(Some(std::mem::take(&mut self.response)));
            }
        }
    }
}

/// The server side: reads commands, writes responses in the text
/// protocol.
#[derive(Debug)]
pub struct ServerCodec {
    packets: PacketCodec,
    /// Still logging in: packets are handed out one by one.
    handshake: bool,
    /// The next packet read is a new command (its sequence starts at 0).
    at_command: bool,
}

/// One packet of the server's handshake (greeting, auth data, OK, error).
pub(crate) struct RawPacket(pub(crate) Vec<u8>);

impl ServerCodec {
    pub(crate) fn new() -> ServerCodec {
        ServerCodec { packets: packet_codec(), handshake: true, at_command: false }
    }

    /// Writes one packet.
    fn write_packet(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        self.packets.encode(&mut &payload[..], dst).map_err(packet_error)
    }

    /// The handshake is over: commands from now on.
    pub(crate) fn commands(&mut self) {
        self.handshake = false;
        self.at_command = true;
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
    for s in [&f.db, &f.table, &f.org_table, &f.name, &f.org_name] {
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
        // A new command starts its sequence at 0. Only once its header is
        // here: the server also decodes (and finds nothing) between
        // reading a command and writing the reply, which continues the
        // command's sequence.
        if self.at_command && buf.len() >= 4 {
            self.packets.reset_seq_id();
            self.at_command = false;
        }
        let mut out = BytesMut::new();
        if !self.packets.decode(buf, &mut out).map_err(packet_error)? {
            return Ok(None);
        }
        let p = out.freeze();
        if self.handshake {
            return Ok(Some(MySQLRequest::handshake(p)));
        }
        self.at_command = true;
        let Some(&cmd) = p.first() else { return Err(bad()) };
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
