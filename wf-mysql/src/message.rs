//! Requests, responses and what a response holds: one outcome per
//! statement.

use bytes::Bytes;

use crate::cell::MySQLCell;

/// `COM_QUERY`: the command byte of a query.
const COM_QUERY: u8 = 0x03;

/// What a request carries on the wire.
#[derive(Clone, Debug, Default)]
pub(crate) enum Command {
    /// Nothing set yet.
    #[default]
    Unset,
    /// `COM_QUERY`: SQL text, possibly several statements.
    Query(Bytes),
    /// A packet with a command byte of its own (`COM_STMT_*`, `COM_QUIT`,
    /// `COM_PING`…), and what its response looks like.
    Packet { payload: Bytes, reply: Reply },
    /// A packet continuing the handshake (no new sequence).
    Handshake(Bytes),
}

/// The shape of the reply a command gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// OK/ERR, or result sets in the text protocol.
    Text,
    /// Result sets in the binary protocol (`COM_STMT_EXECUTE`).
    Binary,
    /// A `COM_STMT_PREPARE` answer.
    Prepare,
    /// No reply at all (`COM_STMT_CLOSE`, `COM_QUIT`).
    None,
}

/// A MySQL request: a query (Workflow's `MySQLRequest`).
///
/// ```
/// let mut req = wf_mysql::MySQLRequest::default();
/// assert!(req.query_is_unset());
/// req.set_query("SELECT 1; SELECT 2");
/// assert_eq!(req.query(), b"SELECT 1; SELECT 2");
/// ```
#[derive(Clone, Debug, Default)]
pub struct MySQLRequest {
    pub(crate) command: Command,
    /// For a prepared-statement task: the statement and its parameters
    /// (prepared, executed and closed on one connection).
    pub(crate) prepared: Option<(Bytes, Vec<crate::MySQLCell>)>,
    /// The sequence id of the command's first packet.
    pub(crate) seqid: u8,
}

impl MySQLRequest {
    /// Sets the SQL: one statement or several separated by `;` (each gets
    /// its own result in the response).
    pub fn set_query(&mut self, sql: impl Into<Bytes>) {
        self.command = Command::Query(sql.into());
    }

    /// The SQL (empty when unset).
    pub fn query(&self) -> &[u8] {
        match &self.command {
            Command::Query(q) => q,
            _ => &[],
        }
    }

    /// Whether no query was set.
    pub fn query_is_unset(&self) -> bool {
        matches!(self.command, Command::Unset)
    }

    /// The command byte (Workflow's `get_command`): `COM_QUERY` (3) for a
    /// query, and for a request with nothing set yet (Workflow's
    /// default); the first byte of any other command a server receives
    /// (`COM_QUIT` 1, `COM_PING` 14, `COM_STMT_EXECUTE` 23…); 0 for a
    /// login packet, which carries none.
    ///
    /// ```
    /// let mut req = wf_mysql::MySQLRequest::default();
    /// assert_eq!(req.command(), 3);
    /// req.set_query("SELECT 1");
    /// assert_eq!(req.command(), 3);
    /// ```
    pub fn command(&self) -> u8 {
        match &self.command {
            Command::Unset | Command::Query(_) => COM_QUERY,
            Command::Packet { payload, .. } => payload.first().copied().unwrap_or(0),
            Command::Handshake(_) => 0,
        }
    }

    /// The sequence id of the command's first packet (Workflow's
    /// `get_seqid`): 0 unless [`set_seqid`](Self::set_seqid) changed it,
    /// since every command starts a new sequence. A server's request
    /// always says 0: a command that starts elsewhere is refused as out
    /// of sequence.
    pub fn seqid(&self) -> u8 {
        self.seqid
    }

    /// Sets the sequence id the command's first packet is written with
    /// (Workflow's `set_seqid`; the packets after it follow on). A MySQL
    /// server expects 0 and refuses a command that starts elsewhere: this
    /// is for peers that want another, and for tests.
    ///
    /// ```
    /// let mut req = wf_mysql::MySQLRequest::default();
    /// assert_eq!(req.seqid(), 0);
    /// req.set_seqid(5);
    /// assert_eq!(req.seqid(), 5);
    /// ```
    pub fn set_seqid(&mut self, seqid: u8) {
        self.seqid = seqid;
    }

    pub(crate) fn packet(payload: impl Into<Bytes>, reply: Reply) -> MySQLRequest {
        MySQLRequest { command: Command::Packet { payload: payload.into(), reply }, prepared: None, seqid: 0 }
    }

    pub(crate) fn handshake(payload: impl Into<Bytes>) -> MySQLRequest {
        MySQLRequest { command: Command::Handshake(payload.into()), prepared: None, seqid: 0 }
    }
}

/// A column of a result set (Workflow's `MySQLField`).
#[derive(Clone, Debug, PartialEq)]
pub struct MySQLField {
    /// The database, table, table's real name, name and real name, one
    /// after another (one allocation for the five).
    text: String,
    /// Where each of the five ends in `text`.
    ends: [u32; 5],
    pub(crate) charset: u16,
    pub(crate) length: u32,
    pub(crate) flags: u16,
    pub(crate) decimals: u8,
    pub(crate) data_type: u8,
    /// How its values read.
    pub(crate) kind: crate::cell::Kind,
}

/// A column's names, in the order a column definition carries them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldNames<'a> {
    pub(crate) db: &'a [u8],
    pub(crate) table: &'a [u8],
    pub(crate) org_table: &'a [u8],
    pub(crate) name: &'a [u8],
    pub(crate) org_name: &'a [u8],
}

impl MySQLField {
    /// A column named `names` (bytes that are not UTF-8 are replaced, as
    /// `String::from_utf8_lossy` does), with its type.
    pub(crate) fn new(
        names: FieldNames<'_>,
        charset: u16,
        length: u32,
        flags: u16,
        decimals: u8,
        data_type: u8,
    ) -> MySQLField {
        let parts = [names.db, names.table, names.org_table, names.name, names.org_name];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0; 5];
        for (part, end) in parts.into_iter().zip(&mut ends) {
            match std::str::from_utf8(part) {
                Ok(s) => text.push_str(s),
                Err(_) => text.push_str(&String::from_utf8_lossy(part)),
            }
            // A column definition is one packet: under 1 GiB, and so is
            // what the replacement characters make of it (×3 at most).
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        let kind = crate::cell::Kind::of(data_type, flags, charset);
        MySQLField { text, ends, charset, length, flags, decimals, data_type, kind }
    }

    /// The `i`-th of the five names.
    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or_default()
    }

    /// The column's name (its alias if it has one).
    pub fn name(&self) -> &str {
        self.part(3)
    }

    /// The column's name in its table.
    pub fn org_name(&self) -> &str {
        self.part(4)
    }

    /// The table's name (its alias if it has one).
    pub fn table(&self) -> &str {
        self.part(1)
    }

    /// The table's real name.
    pub fn org_table(&self) -> &str {
        self.part(2)
    }

    /// The database.
    pub fn db(&self) -> &str {
        self.part(0)
    }

    /// The character set (collation id; 63 is binary).
    pub fn charset(&self) -> u16 {
        self.charset
    }

    /// The column's display length.
    pub fn length(&self) -> u32 {
        self.length
    }

    /// Column flags (`NOT_NULL` 1, `PRI_KEY` 2, `UNSIGNED` 32, `BINARY` 128…).
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// Decimals shown.
    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// The column type (`MYSQL_TYPE_*`: 1 `TINY`, 3 `LONG`, 8 `LONGLONG`,
    /// 246 `NEWDECIMAL`, 252 `BLOB`, 253 `VAR_STRING`…).
    pub fn data_type(&self) -> u8 {
        self.data_type
    }
}

/// The outcome of one statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// An OK packet.
    Ok(Done),
    /// An error packet.
    Err(ServerError),
    /// A result set: its fields, its rows' cells one after another (a row
    /// is `fields.len()` cells), and the status at its end.
    Rows { fields: Vec<MySQLField>, cells: Vec<MySQLCell>, done: Done },
}

/// What an OK packet (or the end of a result set) says.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Done {
    pub(crate) affected_rows: u64,
    pub(crate) last_insert_id: u64,
    pub(crate) warnings: u16,
    pub(crate) status: u16,
    pub(crate) info: String,
}

/// A server error.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ServerError {
    pub(crate) code: u16,
    pub(crate) state: String,
    pub(crate) message: String,
}

/// The kind of a response's first packet (Workflow's
/// `MYSQL_PACKET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    /// Nothing received yet.
    None,
    /// An OK packet: a statement without rows succeeded.
    Ok,
    /// An error packet.
    Error,
    /// A result set.
    ResultSet,
}

/// A MySQL response: every statement's outcome, in order (Workflow's
/// `MySQLResponse`). Read rows with a
/// [`MySQLResultCursor`](crate::MySQLResultCursor).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MySQLResponse {
    pub(crate) outcomes: Vec<Outcome>,
    /// A handshake packet (internal).
    pub(crate) raw: Option<Bytes>,
    /// A prepared statement's id and parameter count (internal).
    pub(crate) prepared: Option<(u32, u16)>,
}

impl MySQLResponse {
    /// The kind of the first outcome; [`PacketType::Error`] when any
    /// statement failed (the server stops at the first error).
    pub fn packet_type(&self) -> PacketType {
        if self.error().is_some() {
            return PacketType::Error;
        }
        match self.outcomes.first() {
            None => PacketType::None,
            Some(Outcome::Ok(_)) => PacketType::Ok,
            Some(Outcome::Err(_)) => PacketType::Error,
            Some(Outcome::Rows { .. }) => PacketType::ResultSet,
        }
    }

    /// Whether the first outcome is an OK packet (and none failed).
    pub fn is_ok_packet(&self) -> bool {
        self.packet_type() == PacketType::Ok
    }

    /// Whether a statement failed.
    pub fn is_error_packet(&self) -> bool {
        self.error().is_some()
    }

    fn error(&self) -> Option<&ServerError> {
        self.outcomes.iter().find_map(|o| match o {
            Outcome::Err(e) => Some(e),
            _ => None,
        })
    }

    fn first_done(&self) -> Option<&Done> {
        self.outcomes.iter().find_map(|o| match o {
            Outcome::Ok(d) => Some(d),
            _ => None,
        })
    }

    /// Rows changed by the first statement without a result set.
    pub fn affected_rows(&self) -> u64 {
        self.first_done().map_or(0, |d| d.affected_rows)
    }

    /// The `AUTO_INCREMENT` id it generated.
    pub fn last_insert_id(&self) -> u64 {
        self.first_done().map_or(0, |d| d.last_insert_id)
    }

    /// Its warning count.
    pub fn warnings(&self) -> u16 {
        self.first_done().map_or(0, |d| d.warnings)
    }

    /// Its info text (`Rows matched: 1  Changed: 1  Warnings: 0`).
    pub fn info(&self) -> &str {
        self.first_done().map_or("", |d| &d.info)
    }

    /// The server's error code (0: none), e.g. 1064 for a syntax error.
    pub fn error_code(&self) -> u16 {
        self.error().map_or(0, |e| e.code)
    }

    /// The server's error message.
    pub fn error_msg(&self) -> &str {
        self.error().map_or("", |e| &e.message)
    }

    /// The error's SQL state, e.g. `42000`.
    pub fn sql_state(&self) -> &str {
        self.error().map_or("", |e| &e.state)
    }

    /// How many statements answered (result sets, OKs and an error).
    pub fn result_count(&self) -> usize {
        self.outcomes.len()
    }

    /// A server: answers OK (no rows), e.g. to a statement it accepts.
    pub fn set_ok_packet(&mut self, affected_rows: u64, last_insert_id: u64) {
        self.outcomes.clear();
        self.add_ok_packet(affected_rows, last_insert_id);
    }

    /// A server: adds an OK to the answer (one result per statement of a
    /// multi-statement query).
    pub fn add_ok_packet(&mut self, affected_rows: u64, last_insert_id: u64) {
        self.outcomes.push(Outcome::Ok(Done { affected_rows, last_insert_id, ..Done::default() }));
    }

    /// A server: answers with an error.
    pub fn set_error_packet(&mut self, code: u16, sql_state: &str, message: &str) {
        self.outcomes.clear();
        self.add_error_packet(code, sql_state, message);
    }

    /// A server: adds an error to the answer. It ends the answer (results
    /// added after it are not sent), as a failing statement ends a
    /// multi-statement query.
    pub fn add_error_packet(&mut self, code: u16, sql_state: &str, message: &str) {
        self.outcomes.push(Outcome::Err(ServerError {
            code,
            state: sql_state.to_owned(),
            message: message.to_owned(),
        }));
    }

    /// A server: answers with a result set of text columns named
    /// `columns` (values are sent as text; `None` is `NULL`).
    pub fn set_result_set<R, C>(&mut self, columns: &[&str], rows: R)
    where
        R: IntoIterator<Item = C>,
        C: IntoIterator<Item = Option<String>>,
    {
        self.outcomes.clear();
        self.add_result_set(columns, rows);
    }

    /// A server: adds a result set to the answer.
    pub fn add_result_set<R, C>(&mut self, columns: &[&str], rows: R)
    where
        R: IntoIterator<Item = C>,
        C: IntoIterator<Item = Option<String>>,
    {
        let fields = columns
            .iter()
            .map(|c| {
                let names =
                    FieldNames { db: b"", table: b"", org_table: b"", name: c.as_bytes(), org_name: c.as_bytes() };
                let ty = mysql_common::constants::ColumnType::MYSQL_TYPE_VAR_STRING as u8;
                MySQLField::new(names, 45, 1024, 0, 0, ty)
            })
            .collect();
        let width = columns.len();
        let mut cells = Vec::new();
        for row in rows {
            let start = cells.len();
            cells.extend(row.into_iter().map(|c| c.map_or(MySQLCell::Null, |s| MySQLCell::String(s.into()))));
            // Every row has one cell per column: pad or cut to fit.
            cells.resize(start + width, MySQLCell::Null);
        }
        self.outcomes.push(Outcome::Rows { fields, cells, done: Done::default() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_bytes() {
        assert_eq!(MySQLRequest::default().command(), COM_QUERY);
        assert_eq!(MySQLRequest::packet(&b"\x0e"[..], Reply::Text).command(), 14, "COM_PING");
        assert_eq!(MySQLRequest::packet(Bytes::new(), Reply::Text).command(), 0, "empty: none");
        assert_eq!(MySQLRequest::handshake(&b"\x03login"[..]).command(), 0, "a login packet has none");
    }
}
