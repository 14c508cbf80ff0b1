//! The DNS message model (Workflow's `DnsRequest`/`DnsResponse`): header,
//! question, and answer, authority and additional records.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

/// A record type (`QTYPE`/`TYPE`): a number with the common ones named.
///
/// ```
/// use wf_core::net::dns::RecordType;
/// assert_eq!("aaaa".parse::<RecordType>(), Ok(RecordType::AAAA));
/// assert_eq!(RecordType(99).to_string(), "TYPE99");
/// assert_eq!("TYPE99".parse::<RecordType>(), Ok(RecordType(99)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordType(pub u16);

impl RecordType {
    /// An IPv4 address.
    pub const A: RecordType = RecordType(1);
    /// A name server.
    pub const NS: RecordType = RecordType(2);
    /// The canonical name of an alias.
    pub const CNAME: RecordType = RecordType(5);
    /// The start of a zone of authority.
    pub const SOA: RecordType = RecordType(6);
    /// A domain name pointer (reverse lookups).
    pub const PTR: RecordType = RecordType(12);
    /// A mail exchange.
    pub const MX: RecordType = RecordType(15);
    /// Text strings.
    pub const TXT: RecordType = RecordType(16);
    /// An IPv6 address.
    pub const AAAA: RecordType = RecordType(28);
    /// A service location.
    pub const SRV: RecordType = RecordType(33);
    /// The EDNS(0) pseudo-record.
    pub const OPT: RecordType = RecordType(41);
    /// Every record (a question only).
    pub const ANY: RecordType = RecordType(255);

    const NAMES: [(RecordType, &'static str); 11] = [
        (RecordType::A, "A"),
        (RecordType::NS, "NS"),
        (RecordType::CNAME, "CNAME"),
        (RecordType::SOA, "SOA"),
        (RecordType::PTR, "PTR"),
        (RecordType::MX, "MX"),
        (RecordType::TXT, "TXT"),
        (RecordType::AAAA, "AAAA"),
        (RecordType::SRV, "SRV"),
        (RecordType::OPT, "OPT"),
        (RecordType::ANY, "ANY"),
    ];
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match RecordType::NAMES.iter().find(|(t, _)| t == self) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// The error of parsing a [`RecordType`] from text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownRecordType;

impl fmt::Display for UnknownRecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown DNS record type")
    }
}

impl std::error::Error for UnknownRecordType {}

impl std::str::FromStr for RecordType {
    type Err = UnknownRecordType;

    /// A name (`A`, `aaaa`, `SRV`…, any case) or `TYPEnnn` (RFC 3597).
    fn from_str(s: &str) -> Result<RecordType, UnknownRecordType> {
        if let Some((t, _)) = RecordType::NAMES.iter().find(|(_, n)| n.eq_ignore_ascii_case(s)) {
            return Ok(*t);
        }
        match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("TYPE") => s[4..].parse().map(RecordType).map_err(|_| UnknownRecordType),
            _ => Err(UnknownRecordType),
        }
    }
}

/// The class `IN` (Internet), the only one most messages use.
pub const CLASS_IN: u16 = 1;

/// Response codes (`RCODE`), as Workflow's `DNS_RCODE_*`.
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// The server could not understand the query.
    pub const FORMERR: u8 = 1;
    /// The server failed.
    pub const SERVFAIL: u8 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u8 = 3;
    /// The server does not do this kind of query.
    pub const NOTIMP: u8 = 4;
    /// The server refuses to answer.
    pub const REFUSED: u8 = 5;
}

/// Opcodes: only `QUERY` (0) is in common use.
pub const OPCODE_QUERY: u8 = 0;

/// The header's flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// A response (`QR`).
    pub qr: bool,
    /// The kind of query (4 bits; 0 = standard query).
    pub opcode: u8,
    /// An authoritative answer (`AA`).
    pub aa: bool,
    /// Truncated (`TC`): the reply did not fit, ask again over TCP.
    pub tc: bool,
    /// Recursion desired (`RD`).
    pub rd: bool,
    /// Recursion available (`RA`).
    pub ra: bool,
    /// Authentic data (`AD`, DNSSEC).
    pub ad: bool,
    /// Checking disabled (`CD`, DNSSEC).
    pub cd: bool,
    /// The response code (4 bits): see [`rcode`].
    pub rcode: u8,
}

impl Flags {
    /// The 16 bits of the header.
    pub fn to_bits(self) -> u16 {
        (u16::from(self.qr) << 15)
            | (u16::from(self.opcode & 0xf) << 11)
            | (u16::from(self.aa) << 10)
            | (u16::from(self.tc) << 9)
            | (u16::from(self.rd) << 8)
            | (u16::from(self.ra) << 7)
            | (u16::from(self.ad) << 5)
            | (u16::from(self.cd) << 4)
            | u16::from(self.rcode & 0xf)
    }

    /// Flags from the 16 bits of a header (the reserved `Z` bit is dropped).
    pub fn from_bits(b: u16) -> Flags {
        Flags {
            qr: b & 0x8000 != 0,
            opcode: ((b >> 11) & 0xf) as u8,
            aa: b & 0x0400 != 0,
            tc: b & 0x0200 != 0,
            rd: b & 0x0100 != 0,
            ra: b & 0x0080 != 0,
            ad: b & 0x0020 != 0,
            cd: b & 0x0010 != 0,
            rcode: (b & 0xf) as u8,
        }
    }
}

/// A question: a name, a type and a class.
///
/// Names are written as text without the final dot (`www.example.com`;
/// the root is `""`); a byte that is not a letter, digit, `-` or `_` in a
/// label is written `\DDD` (and a dot inside a label `\.`), as `dig` does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Question {
    /// The name asked about.
    pub name: String,
    /// The type asked for.
    pub qtype: RecordType,
    /// The class, [`CLASS_IN`] in general.
    pub qclass: u16,
}

impl Question {
    /// A question for `name`, type `qtype`, class `IN`. A final dot is
    /// dropped.
    pub fn new(name: &str, qtype: RecordType) -> Question {
        Question { name: name.strip_suffix('.').unwrap_or(name).to_owned(), qtype, qclass: CLASS_IN }
    }

    /// Whether `other` asks the same thing: names compared label by label
    /// as bytes on the wire, without ASCII case, so that `a+b.example`
    /// matches `a\043b.example` (the same name as a reply decodes it).
    pub fn matches(&self, other: &Question) -> bool {
        self.qtype == other.qtype && self.qclass == other.qclass && super::name::same_name(&self.name, &other.name)
    }
}

/// The data of a record, decoded for the common types; others are kept
/// as their raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// The canonical name this alias stands for.
    Cname(String),
    /// A name server.
    Ns(String),
    /// The name an address maps back to.
    Ptr(String),
    /// A mail exchange.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The mail server.
        exchange: String,
    },
    /// Text strings (each at most 255 bytes).
    Txt(Vec<Bytes>),
    /// A service location (RFC 2782).
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// The port of the service.
        port: u16,
        /// The host of the service.
        target: String,
    },
    /// The start of a zone of authority.
    Soa {
        /// The primary name server.
        mname: String,
        /// The mailbox of the person responsible.
        rname: String,
        /// The version of the zone.
        serial: u32,
        /// Seconds before a secondary refreshes.
        refresh: u32,
        /// Seconds before a failed refresh is retried.
        retry: u32,
        /// Seconds after which a secondary stops answering.
        expire: u32,
        /// The TTL of negative answers.
        minimum: u32,
    },
    /// Any other type: the bytes as they came (with names as sent, so a
    /// compressed name in an unknown type cannot be read back).
    Raw(Bytes),
}

/// A resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The owner name.
    pub name: String,
    /// The type; with [`RData::Raw`] it says what the bytes are.
    pub rtype: RecordType,
    /// The class ([`CLASS_IN`]; for OPT, the UDP payload size).
    pub class: u16,
    /// Seconds the record may be cached.
    pub ttl: u32,
    /// The data.
    pub data: RData,
}

impl Record {
    /// A record of class `IN` whose type follows from `data` (for
    /// [`RData::Raw`], give the type with [`Record::raw`]).
    pub fn new(name: &str, ttl: u32, data: RData) -> Record {
        let rtype = match &data {
            RData::A(_) => RecordType::A,
            RData::Aaaa(_) => RecordType::AAAA,
            RData::Cname(_) => RecordType::CNAME,
            RData::Ns(_) => RecordType::NS,
            RData::Ptr(_) => RecordType::PTR,
            RData::Mx { .. } => RecordType::MX,
            RData::Txt(_) => RecordType::TXT,
            RData::Srv { .. } => RecordType::SRV,
            RData::Soa { .. } => RecordType::SOA,
            RData::Raw(_) => RecordType(0),
        };
        Record { name: name.strip_suffix('.').unwrap_or(name).to_owned(), rtype, class: CLASS_IN, ttl, data }
    }

    /// A record of type `rtype` with raw data.
    pub fn raw(name: &str, rtype: RecordType, ttl: u32, data: impl Into<Bytes>) -> Record {
        Record { rtype, ..Record::new(name, ttl, RData::Raw(data.into())) }
    }

    /// The address of an A or AAAA record.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.data {
            RData::A(a) => Some(IpAddr::V4(a)),
            RData::Aaaa(a) => Some(IpAddr::V6(a)),
            _ => None,
        }
    }
}

/// A DNS message: a query or a response.
///
/// ```
/// use wf_core::net::dns::{DnsMessage, RData, Record, RecordType};
///
/// let mut q = DnsMessage::query("example.com", RecordType::A);
/// q.id = 0x1234;
/// let mut r = q.reply();
/// r.answers.push(Record::new("example.com", 60, RData::A([192, 0, 2, 1].into())));
/// let wire = r.to_vec().unwrap();
/// let back = DnsMessage::decode(&wire).unwrap();
/// assert_eq!(back.id, 0x1234);
/// assert!(back.flags.qr);
/// assert_eq!(back.addrs(), vec!["192.0.2.1".parse::<std::net::IpAddr>().unwrap()]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsMessage {
    /// The ID matching a reply to its query.
    pub id: u16,
    /// The header's flags.
    pub flags: Flags,
    /// The questions (one in practice).
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section.
    pub additional: Vec<Record>,
}

impl DnsMessage {
    /// A standard query for `name` and `qtype`, class `IN`, recursion
    /// desired (the ID is left 0: client tasks pick a random one when it is 0).
    pub fn query(name: &str, qtype: RecordType) -> DnsMessage {
        let mut m = DnsMessage::default();
        m.set_question(name, qtype);
        m.flags.rd = true;
        m
    }

    /// Replaces the questions with one: `name`, `qtype`, class `IN`
    /// (Workflow's `set_question`).
    pub fn set_question(&mut self, name: &str, qtype: RecordType) {
        self.questions = vec![Question::new(name, qtype)];
    }

    /// The first question.
    pub fn question(&self) -> Option<&Question> {
        self.questions.first()
    }

    /// An empty reply to this query: the same ID, opcode, RD and
    /// questions, QR set (what Workflow's server fills in).
    pub fn reply(&self) -> DnsMessage {
        DnsMessage {
            id: self.id,
            flags: Flags { qr: true, opcode: self.flags.opcode, rd: self.flags.rd, ..Flags::default() },
            questions: self.questions.clone(),
            ..DnsMessage::default()
        }
    }

    /// The response code.
    pub fn rcode(&self) -> u8 {
        self.flags.rcode
    }

    /// The addresses of the A and AAAA answers, in order.
    pub fn addrs(&self) -> Vec<IpAddr> {
        self.answers.iter().filter_map(Record::ip).collect()
    }

    /// The smallest TTL of the answers (`None` without answers).
    pub fn min_ttl(&self) -> Option<u32> {
        self.answers.iter().map(|r| r.ttl).min()
    }
}
