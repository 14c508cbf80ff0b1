//! `MySQLCell`: one typed value of a row, from the text protocol (plain
//! queries) or the binary protocol (prepared statements).

use std::fmt;

use bytes::Bytes;
use mysql_common::constants::{ColumnFlags, ColumnType};

/// A calendar date (`DATE`; the zero date `0000-00-00` is allowed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1–12 (0 in a zero date).
    pub month: u8,
    /// Day, 1–31 (0 in a zero date).
    pub day: u8,
}

/// A `DATETIME` or `TIMESTAMP`, with microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Microseconds, 0–999,999.
    pub micros: u32,
}

/// A `TIME`: a signed duration of up to 838:59:59, with microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Time {
    /// Whether it is negative.
    pub negative: bool,
    /// Hours, 0–838.
    pub hours: u32,
    /// Minutes.
    pub minutes: u8,
    /// Seconds.
    pub seconds: u8,
    /// Microseconds.
    pub micros: u32,
}

/// One value of a row (Workflow's `MySQLCell`), typed by its column.
///
/// Integers keep their full 64-bit range, signed or unsigned as the column
/// says; `DECIMAL` stays text (no precision lost); temporal types are
/// parsed, with microseconds and negative times.
#[derive(Clone, Debug, PartialEq)]
pub enum MySQLCell {
    /// SQL `NULL`.
    Null,
    /// A signed integer column (`TINYINT` … `BIGINT`).
    Int(i64),
    /// An `UNSIGNED` integer column.
    UInt(u64),
    /// `FLOAT`.
    Float(f32),
    /// `DOUBLE`.
    Double(f64),
    /// `DECIMAL`, as its exact text.
    Decimal(String),
    /// `DATE`.
    Date(Date),
    /// `TIME`.
    Time(Time),
    /// `DATETIME` or `TIMESTAMP`.
    DateTime(DateTime),
    /// `YEAR`.
    Year(u16),
    /// `BIT(n)`, big-endian bytes.
    Bit(Bytes),
    /// Text: `CHAR`, `VARCHAR`, `TEXT`, `ENUM`, `SET`, `JSON`.
    String(Bytes),
    /// Binary data: `BINARY`, `VARBINARY`, `BLOB`, `GEOMETRY`.
    Bytes(Bytes),
}

impl MySQLCell {
    /// Whether this is `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, MySQLCell::Null)
    }

    /// A signed integer (also an unsigned one that fits, and `YEAR`).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            MySQLCell::Int(i) => Some(i),
            MySQLCell::UInt(u) => i64::try_from(u).ok(),
            MySQLCell::Year(y) => Some(y.into()),
            _ => None,
        }
    }

    /// An unsigned integer (also a non-negative signed one).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MySQLCell::UInt(u) => Some(u),
            MySQLCell::Int(i) => u64::try_from(i).ok(),
            MySQLCell::Year(y) => Some(y.into()),
            MySQLCell::Bit(ref b) if b.len() <= 8 => Some(b.iter().fold(0, |acc, &x| (acc << 8) | u64::from(x))),
            _ => None,
        }
    }

    /// A floating-point value (`FLOAT`, `DOUBLE`, or a `DECIMAL`'s text).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MySQLCell::Double(d) => Some(*d),
            MySQLCell::Float(f) => Some((*f).into()),
            MySQLCell::Decimal(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The bytes of a string, binary, bit or decimal value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            MySQLCell::String(b) | MySQLCell::Bytes(b) | MySQLCell::Bit(b) => Some(b),
            MySQLCell::Decimal(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// [`as_bytes`](MySQLCell::as_bytes) as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// A date (also the date of a datetime).
    pub fn as_date(&self) -> Option<Date> {
        match self {
            MySQLCell::Date(d) => Some(*d),
            MySQLCell::DateTime(dt) => Some(dt.date),
            _ => None,
        }
    }

    /// A datetime.
    pub fn as_datetime(&self) -> Option<DateTime> {
        match self {
            MySQLCell::DateTime(dt) => Some(*dt),
            MySQLCell::Date(d) => Some(DateTime { date: *d, ..DateTime::default() }),
            _ => None,
        }
    }

    /// A time.
    pub fn as_time(&self) -> Option<Time> {
        match self {
            MySQLCell::Time(t) => Some(*t),
            _ => None,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn micros(f: &mut fmt::Formatter<'_>, us: u32) -> fmt::Result {
    if us > 0 { write!(f, ".{us:06}") } else { Ok(()) }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:02}:{:02}:{:02}", self.date, self.hour, self.minute, self.second)?;
        micros(f, self.micros)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(f, "{sign}{:02}:{:02}:{:02}", self.hours, self.minutes, self.seconds)?;
        micros(f, self.micros)
    }
}

/// As the `mysql` client prints it (`NULL`, numbers, text; binary data
/// as hex).
impl fmt::Display for MySQLCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MySQLCell::Null => f.write_str("NULL"),
            MySQLCell::Int(i) => write!(f, "{i}"),
            MySQLCell::UInt(u) => write!(f, "{u}"),
            MySQLCell::Float(x) => write!(f, "{x}"),
            MySQLCell::Double(x) => write!(f, "{x}"),
            MySQLCell::Decimal(s) => f.write_str(s),
            MySQLCell::Date(d) => write!(f, "{d}"),
            MySQLCell::Time(t) => write!(f, "{t}"),
            MySQLCell::DateTime(dt) => write!(f, "{dt}"),
            MySQLCell::Year(y) => write!(f, "{y:04}"),
            MySQLCell::String(b) => f.write_str(&String::from_utf8_lossy(b)),
            MySQLCell::Bit(b) | MySQLCell::Bytes(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|x| write!(f, "{x:02X}"))
            }
        }
    }
}

/// The binary collation: `BLOB` and `VARBINARY` columns carry it, `TEXT`
/// and `VARCHAR` a text one.
const BINARY_CHARSET: u16 = 63;

/// How a column's values read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Kind {
    pub(crate) ty: ColumnType,
    pub(crate) flags: ColumnFlags,
    pub(crate) charset: u16,
}

impl Kind {
    /// The kind of a column of `data_type` (an unknown one reads as
    /// text), `flags` and `charset`.
    pub(crate) fn of(data_type: u8, flags: u16, charset: u16) -> Kind {
        Kind {
            ty: ColumnType::try_from(data_type).unwrap_or(ColumnType::MYSQL_TYPE_STRING),
            flags: ColumnFlags::from_bits_truncate(flags),
            charset,
        }
    }
}

/// Decimal digits as an unsigned number (no sign, no spaces).
fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

fn signed(b: &[u8]) -> Option<i64> {
    match b.first() {
        Some(b'-') => {
            let n = digits(&b[1..])?;
            if n == 1 << 63 { Some(i64::MIN) } else { i64::try_from(n).ok().map(|n| -n) }
        }
        _ => i64::try_from(digits(b)?).ok(),
    }
}

fn num<T: TryFrom<u64>>(b: &[u8]) -> Option<T> {
    T::try_from(digits(b)?).ok()
}

fn float<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Powers of ten a `f64` holds exactly.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// A `DOUBLE` as servers print most of them, `[-]digits[.digits]`, read
/// without `str::parse`: when the digits (dot left out) make an integer
/// of at most 2^53 and at most 22 follow the dot, both it and the power
/// of ten are exact in a `f64`, so one division rounds once, to the value
/// `str::parse` gives. Anything else (exponents, more digits) goes to
/// `str::parse`.
fn double(b: &[u8]) -> Option<f64> {
    let (negative, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (mut m, mut digits, mut scale, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in body {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            // 19 digits fit in a u64; the 2^53 check below bounds the rest.
            if digits == 19 {
                return float(b);
            }
            m = m * 10 + u64::from(d);
            digits += 1;
            scale += usize::from(dot);
        } else if c == b'.' && !dot {
            dot = true;
        } else {
            return float(b);
        }
    }
    if digits == 0 || m > 1 << 53 || scale >= EXACT_POW10.len() {
        return float(b);
    }
    let v = m as f64 / EXACT_POW10[scale];
    Some(if negative { -v } else { v })
}

/// Two decimal digits at `b[i..i + 2]`.
fn two(b: &[u8], i: usize) -> Option<u8> {
    let (hi, lo) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
    (hi < 10 && lo < 10).then(|| hi * 10 + lo)
}

fn parse_date(b: &[u8]) -> Option<Date> {
    // YYYY-MM-DD
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = u16::from(two(b, 0)?) * 100 + u16::from(two(b, 2)?);
    Some(Date { year, month: two(b, 5)?, day: two(b, 8)? })
}

/// `HH:MM:SS[.ffffff]` with any number of hour digits; returns the time
/// and the fraction in microseconds.
fn parse_clock(b: &[u8]) -> Option<(u32, u8, u8, u32)> {
    clock_as_sent(b).or_else(|| parse_clock_any(b))
}

/// [`parse_clock`] of what servers send, digit by digit: two hour
/// digits, a fraction of 1 to 6 digits or none; `None` for anything
/// else.
fn clock_as_sent(b: &[u8]) -> Option<(u32, u8, u8, u32)> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' || (b.len() > 8 && (b[8] != b'.' || !(10..=15).contains(&b.len()))) {
        return None;
    }
    let (h, m, s) = (two(b, 0)?, two(b, 3)?, two(b, 6)?);
    let mut us = 0u32;
    for &c in b.get(9..).unwrap_or_default() {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        us = us * 10 + u32::from(d);
    }
    let frac = b.len().saturating_sub(9) as u32;
    Some((h.into(), m, s, us * 10u32.pow(6 - frac)))
}

/// [`parse_clock`] for every form it takes (hours of any length, `1:2:3`).
fn parse_clock_any(b: &[u8]) -> Option<(u32, u8, u8, u32)> {
    let (whole, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[..0]),
    };
    let mut parts = whole.split(|&c| c == b':');
    let h = num(parts.next()?)?;
    let m = num(parts.next()?)?;
    let s = num(parts.next()?)?;
    if parts.next().is_some() || frac.len() > 6 {
        return None;
    }
    let us = if frac.is_empty() { 0 } else { num::<u32>(frac)? * 10u32.pow(6 - frac.len() as u32) };
    Some((h, m, s, us))
}

fn parse_datetime(b: &[u8]) -> Option<DateTime> {
    if b.len() < 19 || b[10] != b' ' {
        return parse_date(b).map(|date| DateTime { date, ..DateTime::default() });
    }
    let date = parse_date(&b[..10])?;
    let (h, m, s, us) = parse_clock(&b[11..])?;
    Some(DateTime { date, hour: u8::try_from(h).ok()?, minute: m, second: s, micros: us })
}

fn parse_time(b: &[u8]) -> Option<Time> {
    let (negative, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (hours, minutes, seconds, micros) = parse_clock(rest)?;
    Some(Time { negative, hours, minutes, seconds, micros })
}

/// A text-protocol value of a column of `kind`. A value that does not
/// read as its type (a server quirk) is kept as text rather than lost.
pub(crate) fn from_text(kind: Kind, b: Bytes) -> MySQLCell {
    let end = b.len();
    from_text_in(kind, &b, 0, end)
}

/// [`from_text`] of `packet[start..end]`: numbers and dates are read in
/// place; only text and binary values take a slice of the packet.
pub(crate) fn from_text_in(kind: Kind, packet: &Bytes, start: usize, end: usize) -> MySQLCell {
    let b = &packet[start..end];
    let unsigned = kind.flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let parsed = match kind.ty {
        ColumnType::MYSQL_TYPE_TINY
        | ColumnType::MYSQL_TYPE_SHORT
        | ColumnType::MYSQL_TYPE_LONG
        | ColumnType::MYSQL_TYPE_INT24
        | ColumnType::MYSQL_TYPE_LONGLONG => {
            if unsigned {
                digits(b).map(MySQLCell::UInt)
            } else {
                signed(b).map(MySQLCell::Int)
            }
        }
        ColumnType::MYSQL_TYPE_YEAR => num(b).map(MySQLCell::Year),
        ColumnType::MYSQL_TYPE_FLOAT => float(b).map(MySQLCell::Float),
        ColumnType::MYSQL_TYPE_DOUBLE => double(b).map(MySQLCell::Double),
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            std::str::from_utf8(b).ok().map(|s| MySQLCell::Decimal(s.to_owned()))
        }
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => parse_date(b).map(MySQLCell::Date),
        ColumnType::MYSQL_TYPE_DATETIME
        | ColumnType::MYSQL_TYPE_DATETIME2
        | ColumnType::MYSQL_TYPE_TIMESTAMP
        | ColumnType::MYSQL_TYPE_TIMESTAMP2 => parse_datetime(b).map(MySQLCell::DateTime),
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => parse_time(b).map(MySQLCell::Time),
        ColumnType::MYSQL_TYPE_BIT => return MySQLCell::Bit(packet.slice(start..end)),
        ColumnType::MYSQL_TYPE_GEOMETRY => return MySQLCell::Bytes(packet.slice(start..end)),
        ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB
        | ColumnType::MYSQL_TYPE_BLOB
        | ColumnType::MYSQL_TYPE_VAR_STRING
        | ColumnType::MYSQL_TYPE_VARCHAR
        | ColumnType::MYSQL_TYPE_STRING
            if kind.charset == BINARY_CHARSET =>
        {
            return MySQLCell::Bytes(packet.slice(start..end));
        }
        _ => None,
    };
    parsed.unwrap_or_else(|| MySQLCell::String(packet.slice(start..end)))
}

/// Reads a binary-protocol value of `kind` from the front of `buf`
/// (prepared statements' rows); `None` if the row is cut short.
pub(crate) fn from_binary(kind: Kind, buf: &mut Bytes) -> Option<MySQLCell> {
    use bytes::Buf;
    let unsigned = kind.flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let need = |buf: &Bytes, n: usize| (buf.len() >= n).then_some(());
    Some(match kind.ty {
        ColumnType::MYSQL_TYPE_TINY => {
            need(buf, 1)?;
            let v = buf.get_u8();
            if unsigned { MySQLCell::UInt(v.into()) } else { MySQLCell::Int((v as i8).into()) }
        }
        ColumnType::MYSQL_TYPE_SHORT => {
            need(buf, 2)?;
            let v = buf.get_u16_le();
            if unsigned { MySQLCell::UInt(v.into()) } else { MySQLCell::Int((v as i16).into()) }
        }
        ColumnType::MYSQL_TYPE_YEAR => {
            need(buf, 2)?;
            MySQLCell::Year(buf.get_u16_le())
        }
        ColumnType::MYSQL_TYPE_LONG | ColumnType::MYSQL_TYPE_INT24 => {
            need(buf, 4)?;
            let v = buf.get_u32_le();
            if unsigned { MySQLCell::UInt(v.into()) } else { MySQLCell::Int((v as i32).into()) }
        }
        ColumnType::MYSQL_TYPE_LONGLONG => {
            need(buf, 8)?;
            let v = buf.get_u64_le();
            if unsigned { MySQLCell::UInt(v) } else { MySQLCell::Int(v as i64) }
        }
        ColumnType::MYSQL_TYPE_FLOAT => {
            need(buf, 4)?;
            MySQLCell::Float(buf.get_f32_le())
        }
        ColumnType::MYSQL_TYPE_DOUBLE => {
            need(buf, 8)?;
            MySQLCell::Double(buf.get_f64_le())
        }
        ColumnType::MYSQL_TYPE_DATE
        | ColumnType::MYSQL_TYPE_NEWDATE
        | ColumnType::MYSQL_TYPE_DATETIME
        | ColumnType::MYSQL_TYPE_DATETIME2
        | ColumnType::MYSQL_TYPE_TIMESTAMP
        | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
            need(buf, 1)?;
            let len = buf.get_u8() as usize;
            // The protocol's lengths: nothing, a date, seconds, micros.
            if !matches!(len, 0 | 4 | 7 | 11) {
                return None;
            }
            need(buf, len)?;
            let mut dt = DateTime::default();
            if len >= 4 {
                dt.date = Date { year: buf.get_u16_le(), month: buf.get_u8(), day: buf.get_u8() };
            }
            if len >= 7 {
                (dt.hour, dt.minute, dt.second) = (buf.get_u8(), buf.get_u8(), buf.get_u8());
            }
            if len >= 11 {
                dt.micros = buf.get_u32_le();
            }
            if matches!(kind.ty, ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE) {
                MySQLCell::Date(dt.date)
            } else {
                MySQLCell::DateTime(dt)
            }
        }
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => {
            need(buf, 1)?;
            let len = buf.get_u8() as usize;
            if !matches!(len, 0 | 8 | 12) {
                return None;
            }
            need(buf, len)?;
            let mut t = Time::default();
            if len >= 8 {
                t.negative = buf.get_u8() == 1;
                let days = buf.get_u32_le();
                t.hours = days.checked_mul(24)?.checked_add(u32::from(buf.get_u8()))?;
                (t.minutes, t.seconds) = (buf.get_u8(), buf.get_u8());
            }
            if len >= 12 {
                t.micros = buf.get_u32_le();
            }
            MySQLCell::Time(t)
        }
        _ => {
            let bytes = crate::lenenc::lenenc_bytes(buf)?;
            // The text form and the binary one agree for every other type.
            from_text(kind, bytes)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ty: ColumnType, flags: ColumnFlags, charset: u16) -> Kind {
        Kind { ty, flags, charset }
    }

    #[test]
    fn text_values_keep_their_type_and_range() {
        let k = |ty| kind(ty, ColumnFlags::empty(), 45);
        let u = |ty| kind(ty, ColumnFlags::UNSIGNED_FLAG, 45);
        assert_eq!(
            from_text(u(ColumnType::MYSQL_TYPE_LONGLONG), Bytes::from("18446744073709551615")),
            MySQLCell::UInt(u64::MAX)
        );
        assert_eq!(
            from_text(k(ColumnType::MYSQL_TYPE_LONGLONG), Bytes::from("-9223372036854775808")),
            MySQLCell::Int(i64::MIN)
        );
        assert_eq!(
            from_text(k(ColumnType::MYSQL_TYPE_NEWDECIMAL), Bytes::from("12345678901234567890.123456789")),
            MySQLCell::Decimal("12345678901234567890.123456789".into())
        );
        let t = from_text(k(ColumnType::MYSQL_TYPE_TIME), Bytes::from("-838:59:58.500000"));
        assert_eq!(t, MySQLCell::Time(Time { negative: true, hours: 838, minutes: 59, seconds: 58, micros: 500000 }));
        assert_eq!(t.to_string(), "-838:59:58.500000");
        let dt = from_text(k(ColumnType::MYSQL_TYPE_DATETIME), Bytes::from("2024-02-29 23:59:59.123"));
        assert_eq!(dt.to_string(), "2024-02-29 23:59:59.123000");
        assert_eq!(from_text(k(ColumnType::MYSQL_TYPE_DATE), Bytes::from("0000-00-00")).to_string(), "0000-00-00");
        assert_eq!(from_text(k(ColumnType::MYSQL_TYPE_YEAR), Bytes::from("2155")), MySQLCell::Year(2155));
        assert_eq!(
            from_text(kind(ColumnType::MYSQL_TYPE_BLOB, ColumnFlags::empty(), 63), Bytes::from_static(b"\x00\xff")),
            MySQLCell::Bytes(Bytes::from_static(b"\x00\xff"))
        );
        assert_eq!(from_text(k(ColumnType::MYSQL_TYPE_BLOB), Bytes::from("text")), MySQLCell::String("text".into()));
        assert_eq!(from_text(k(ColumnType::MYSQL_TYPE_BIT), Bytes::from_static(b"\x01\x02")).as_u64(), Some(258));
    }

    /// A small deterministic generator for the comparisons below.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn doubles_read_in_place_match_str_parse() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"0123456789012345678901234567890123456789.-e+";
        let mut cases: Vec<Vec<u8>> = ["0", "-0", "1.", ".5", "-.5", ".", "-", "", "1..2", "9007199254740993", "1e5"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        for _ in 0..200_000 {
            let len = (rng(&mut seed) % 26) as usize;
            cases.push((0..len).map(|_| alphabet[(rng(&mut seed) % alphabet.len() as u64) as usize]).collect());
            // Mostly well-formed: digits, a dot somewhere, maybe a sign.
            let mut s = Vec::new();
            if rng(&mut seed) % 4 == 0 {
                s.push(b'-');
            }
            let digits = 1 + (rng(&mut seed) % 24) as usize;
            let dot = (rng(&mut seed) % (digits as u64 + 2)) as usize;
            for i in 0..digits {
                if i == dot {
                    s.push(b'.');
                }
                s.push(b'0' + (rng(&mut seed) % 10) as u8);
            }
            cases.push(s);
        }
        for b in cases {
            let want: Option<f64> = std::str::from_utf8(&b).ok().and_then(|s| s.parse().ok());
            assert_eq!(double(&b).map(f64::to_bits), want.map(f64::to_bits), "{:?}", String::from_utf8_lossy(&b));
        }
    }

    #[test]
    fn clocks_and_dates_read_in_place_match_the_general_reader() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let alphabet = b"0123456789:.0123456789:-";
        let mut cases: Vec<Vec<u8>> = ["12:34:56", "12:34:56.", "12:34:56.1", "12:34:56.123456", "12:34:56.1234567"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        for _ in 0..200_000 {
            let len = 6 + (rng(&mut seed) % 12) as usize;
            let mut s: Vec<u8> =
                (0..len).map(|_| alphabet[(rng(&mut seed) % alphabet.len() as u64) as usize]).collect();
            // Often the shape servers send, with odd bytes here and there.
            if rng(&mut seed) % 2 == 0 && len >= 8 {
                (s[2], s[5]) = (b':', b':');
            }
            cases.push(s);
        }
        for b in cases {
            assert_eq!(parse_clock(&b), parse_clock_any(&b), "{:?}", String::from_utf8_lossy(&b));
            let date = b.get(..10).unwrap_or(&b);
            let general = (date.len() == 10 && date[4] == b'-' && date[7] == b'-')
                .then(|| Some(Date { year: num(&date[..4])?, month: num(&date[5..7])?, day: num(&date[8..10])? }))
                .flatten();
            assert_eq!(parse_date(date), general, "{:?}", String::from_utf8_lossy(date));
        }
    }

    #[test]
    fn binary_values() {
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let c = from_binary(kind(ColumnType::MYSQL_TYPE_LONGLONG, ColumnFlags::UNSIGNED_FLAG, 63), &mut b);
        assert_eq!(c, Some(MySQLCell::UInt(u64::MAX)));
        let mut b = Bytes::from_static(&[12, 1, 1, 0, 0, 0, 10, 20, 30, 0x20, 0xa1, 0x07, 0x00]);
        let c = from_binary(kind(ColumnType::MYSQL_TYPE_TIME, ColumnFlags::empty(), 63), &mut b).unwrap();
        assert_eq!(c.to_string(), "-34:20:30.500000"); // 1 day + 10 h
        let mut short = Bytes::from_static(&[1, 2]);
        assert_eq!(from_binary(kind(ColumnType::MYSQL_TYPE_LONG, ColumnFlags::empty(), 63), &mut short), None);
        // Hostile values: a length the protocol never uses, a day count
        // whose hours overflow.
        let mut odd = Bytes::from_static(&[5, 1, 2, 3, 4, 5]);
        assert_eq!(from_binary(kind(ColumnType::MYSQL_TYPE_DATETIME, ColumnFlags::empty(), 63), &mut odd), None);
        let mut days = Bytes::from_static(&[8, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert_eq!(from_binary(kind(ColumnType::MYSQL_TYPE_TIME, ColumnFlags::empty(), 63), &mut days), None);
    }
}
