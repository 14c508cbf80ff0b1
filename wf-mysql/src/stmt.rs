//! Prepared statements: `COM_STMT_PREPARE`, `COM_STMT_EXECUTE` with
//! typed parameters, `COM_STMT_CLOSE`, on one connection.

use bytes::Bytes;
use mysql_common::constants::ColumnType;
use wf_core::Error;
use wf_core::net::Connection;

use crate::cell::MySQLCell;
use crate::codec::{ClientCodec, bad};
use crate::lenenc::put_lenenc_bytes;
use crate::message::{MySQLRequest, MySQLResponse, Reply};

const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_CLOSE: u8 = 0x19;

/// A parameter's type on the wire, and whether it is unsigned.
fn param_type(c: &MySQLCell) -> (ColumnType, bool) {
    match c {
        MySQLCell::Null => (ColumnType::MYSQL_TYPE_NULL, false),
        MySQLCell::Int(_) => (ColumnType::MYSQL_TYPE_LONGLONG, false),
        MySQLCell::UInt(_) => (ColumnType::MYSQL_TYPE_LONGLONG, true),
        MySQLCell::Float(_) => (ColumnType::MYSQL_TYPE_FLOAT, false),
        MySQLCell::Double(_) => (ColumnType::MYSQL_TYPE_DOUBLE, false),
        MySQLCell::Decimal(_) => (ColumnType::MYSQL_TYPE_NEWDECIMAL, false),
        MySQLCell::Date(_) => (ColumnType::MYSQL_TYPE_DATE, false),
        MySQLCell::DateTime(_) => (ColumnType::MYSQL_TYPE_DATETIME, false),
        MySQLCell::Time(_) => (ColumnType::MYSQL_TYPE_TIME, false),
        MySQLCell::Year(_) => (ColumnType::MYSQL_TYPE_SHORT, true),
        MySQLCell::String(_) => (ColumnType::MYSQL_TYPE_VAR_STRING, false),
        MySQLCell::Bytes(_) | MySQLCell::Bit(_) => (ColumnType::MYSQL_TYPE_BLOB, false),
    }
}

fn put_value(out: &mut Vec<u8>, c: &MySQLCell) {
    match c {
        MySQLCell::Null => {}
        MySQLCell::Int(i) => out.extend_from_slice(&i.to_le_bytes()),
        MySQLCell::UInt(u) => out.extend_from_slice(&u.to_le_bytes()),
        MySQLCell::Float(f) => out.extend_from_slice(&f.to_le_bytes()),
        MySQLCell::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
        MySQLCell::Year(y) => out.extend_from_slice(&y.to_le_bytes()),
        MySQLCell::Decimal(s) => put_lenenc_bytes(out, s.as_bytes()),
        MySQLCell::String(b) | MySQLCell::Bytes(b) | MySQLCell::Bit(b) => put_lenenc_bytes(out, b),
        MySQLCell::Date(d) => {
            out.push(4);
            out.extend_from_slice(&d.year.to_le_bytes());
            out.extend_from_slice(&[d.month, d.day]);
        }
        MySQLCell::DateTime(dt) => {
            out.push(11);
            out.extend_from_slice(&dt.date.year.to_le_bytes());
            out.extend_from_slice(&[dt.date.month, dt.date.day, dt.hour, dt.minute, dt.second]);
            out.extend_from_slice(&dt.micros.to_le_bytes());
        }
        MySQLCell::Time(t) => {
            out.push(12);
            out.push(u8::from(t.negative));
            out.extend_from_slice(&(t.hours / 24).to_le_bytes());
            out.extend_from_slice(&[(t.hours % 24) as u8, t.minutes, t.seconds]);
            out.extend_from_slice(&t.micros.to_le_bytes());
        }
    }
}

/// A `COM_STMT_EXECUTE` packet for statement `id` with `params`.
pub(crate) fn execute_packet(id: u32, params: &[MySQLCell]) -> Vec<u8> {
    let mut out = vec![COM_STMT_EXECUTE];
    out.extend_from_slice(&id.to_le_bytes());
    out.push(0); // no cursor
    out.extend_from_slice(&1u32.to_le_bytes()); // iteration count
    if params.is_empty() {
        return out;
    }
    let mut nulls = vec![0u8; params.len().div_ceil(8)];
    for (i, p) in params.iter().enumerate() {
        if p.is_null() {
            nulls[i / 8] |= 1 << (i % 8);
        }
    }
    out.extend_from_slice(&nulls);
    out.push(1); // types follow
    for p in params {
        let (ty, unsigned) = param_type(p);
        out.push(ty as u8);
        out.push(if unsigned { 0x80 } else { 0 });
    }
    for p in params {
        put_value(&mut out, p);
    }
    out
}

/// Prepares `sql`, executes it with `params`, closes it. A statement the
/// server refuses (to prepare or to run) comes back as an error packet;
/// a parameter count that does not match is `SYS_ERROR`/`EINVAL`.
pub(crate) async fn run(
    conn: &mut Connection<ClientCodec>,
    sql: Bytes,
    params: &[MySQLCell],
) -> Result<MySQLResponse, Error> {
    let mut prepare = Vec::with_capacity(sql.len() + 1);
    prepare.push(COM_STMT_PREPARE);
    prepare.extend_from_slice(&sql);
    conn.send(&MySQLRequest::packet(prepare, Reply::Prepare)).await?;
    let prepared = conn.receive().await?;
    if prepared.is_error_packet() {
        return Ok(prepared);
    }
    let (id, count) = prepared.prepared.ok_or_else(bad)?;
    let close = || {
        let mut p = vec![COM_STMT_CLOSE];
        p.extend_from_slice(&id.to_le_bytes());
        MySQLRequest::packet(p, Reply::None)
    };
    if params.len() != usize::from(count) {
        conn.send(&close()).await?;
        return Err(Error::sys(libc::EINVAL));
    }
    conn.send(&MySQLRequest::packet(execute_packet(id, params), Reply::Binary)).await?;
    let resp = conn.receive().await?;
    conn.send(&close()).await?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_packet_layout() {
        let p = execute_packet(7, &[MySQLCell::Int(-1), MySQLCell::Null, MySQLCell::String("ab".into())]);
        assert_eq!(&p[..10], &[0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(p[10], 0b010); // the NULL bitmap
        assert_eq!(p[11], 1);
        assert_eq!(&p[12..18], &[8, 0, 6, 0, 253, 0]);
        assert_eq!(&p[18..26], &(-1i64).to_le_bytes());
        assert_eq!(&p[26..], &[2, b'a', b'b']);
    }
}
