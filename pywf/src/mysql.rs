//! MySQL: `MySQLTask`, `MySQLRequest`, `MySQLResponse`,
//! `MySQLResultCursor`, `MySQLField`, `MySQLCell`, `MySQLConnection` and
//! `MySQLServer`.
//!
//! Cursors, fields and cells own what they show (a copy of the response,
//! whose rows share its buffers), so unlike pyworkflow's they stay valid
//! after the callback.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use wf::mysql::{
    CursorStatus, MySQLCell as Cell, MySQLClient, MySQLField as Field, MySQLRequest as WfRequest,
    MySQLResponse as WfResponse, MySQLResultCursor as Cursor, MySql,
};
use wf::net::{ReplyHandle, ServerKind};

use crate::core::{Core, SubTask, WFBase, lock, new_task};
use crate::server::body_bytes;
use crate::settings::ensure_init;

crate::net::net_task! {
    core: MySQLCore, task: MySQLTask, task_doc: "A MySQL task: a client query, or one a `MySQLServer` answers.",
    req: MySQLRequest, resp: MySQLResponse,
    client: MySQLClient, proto: MySql, wf_req: WfRequest, wf_resp: WfResponse,
    wrap_client: wrap_client, wrap_server: wrap_server,
    task_methods: {}
}

/// `MYSQL_STATUS_*`.
pub(crate) const STATUS: &[(&str, i32)] = &[
    ("MYSQL_STATUS_NOT_INIT", 0),
    ("MYSQL_STATUS_OK", 1),
    ("MYSQL_STATUS_GET_RESULT", 2),
    ("MYSQL_STATUS_ERROR", 3),
    ("MYSQL_STATUS_END", 4),
    ("MYSQL_PACKET_OTHER", 0),
    ("MYSQL_PACKET_OK", 1),
    ("MYSQL_PACKET_NULL", 2),
    ("MYSQL_PACKET_EOF", 3),
    ("MYSQL_PACKET_ERROR", 4),
    ("MYSQL_PACKET_GET_RESULT", 5),
    ("MYSQL_PACKET_LOCAL_INLINE", 6),
];

/// `MYSQL_TYPE_*` and their names.
pub(crate) const TYPES: &[(&str, i32)] = &[
    ("DECIMAL", 0),
    ("TINY", 1),
    ("SHORT", 2),
    ("LONG", 3),
    ("FLOAT", 4),
    ("DOUBLE", 5),
    ("NULL", 6),
    ("TIMESTAMP", 7),
    ("LONGLONG", 8),
    ("INT24", 9),
    ("DATE", 10),
    ("TIME", 11),
    ("DATETIME", 12),
    ("YEAR", 13),
    ("NEWDATE", 14),
    ("VARCHAR", 15),
    ("BIT", 16),
    ("TIMESTAMP2", 17),
    ("DATETIME2", 18),
    ("TIME2", 19),
    ("TYPED_ARRAY", 244),
    ("JSON", 245),
    ("NEWDECIMAL", 246),
    ("ENUM", 247),
    ("SET", 248),
    ("TINY_BLOB", 249),
    ("MEDIUM_BLOB", 250),
    ("LONG_BLOB", 251),
    ("BLOB", 252),
    ("VAR_STRING", 253),
    ("STRING", 254),
    ("GEOMETRY", 255),
];

/// The name of a `MYSQL_TYPE_*` number (`3` → `"LONG"`).
#[pyfunction]
pub(crate) fn mysql_datatype2str(datatype: i32) -> &'static str {
    TYPES.iter().find(|(_, n)| *n == datatype).map_or("UNKNOWN", |(s, _)| s)
}

fn cursor_status(s: CursorStatus) -> i32 {
    match s {
        CursorStatus::Ok => 1,
        CursorStatus::GetResult => 2,
        CursorStatus::Error => 3,
        CursorStatus::End => 4,
    }
}

/// The packet type of the last statement (pyworkflow's `get_packet_type`).
fn last_packet(resp: &WfResponse) -> i32 {
    let mut c = Cursor::new(resp);
    let mut last = c.status();
    while c.next_result_set() {
        last = c.status();
    }
    match last {
        CursorStatus::Ok => 1,
        CursorStatus::GetResult => 3,
        CursorStatus::Error => 4,
        CursorStatus::End => 0,
    }
}

#[pymethods]
impl MySQLRequest {
    /// True when this object no longer reaches a request.
    fn is_null(&self) -> bool {
        self.core.with_req(|_| ()).is_err()
    }
    /// Sets the SQL (str or bytes).
    fn set_query(&self, query: &Bound<'_, PyAny>) -> PyResult<()> {
        let q = body_bytes(query)?;
        self.core.with_req(|r| r.set_query(q))
    }
    /// The SQL.
    fn get_query<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.core.with_req(|r| PyBytes::new(py, r.query()))
    }
    /// True when no query was set.
    fn query_is_unset(&self) -> PyResult<bool> {
        self.core.with_req(|r| r.query_is_unset())
    }
    /// The sequence id of the command's first packet (0 unless set).
    fn get_seqid(&self) -> PyResult<u8> {
        self.core.with_req(|r| r.seqid())
    }
    /// Sets the sequence id the command's first packet is written with
    /// (0 to 255; a MySQL server refuses anything but 0).
    fn set_seqid(&self, seqid: u8) -> PyResult<()> {
        self.core.with_req(|r| r.set_seqid(seqid))
    }
    /// The command byte: 3 (`COM_QUERY`) for a query, and when unset.
    fn get_command(&self) -> PyResult<u8> {
        self.core.with_req(|r| r.command())
    }
    /// Kept for pyworkflow code.
    fn set_size_limit(&self, _limit: u64) -> PyResult<()> {
        self.core.with_req(|_| ())
    }

    /// The size limit (requests: unbounded here; a server bounds them).
    fn get_size_limit(&self) -> u64 {
        u64::MAX
    }
    /// Moves this request into `other`.
    fn move_to(&self, other: &Bound<'_, MySQLRequest>) -> PyResult<()> {
        let m = self.core.with_req(std::mem::take)?;
        other.get().core.with_req(|o| *o = m)
    }
}

#[pymethods]
impl MySQLResponse {
    /// True when this object no longer reaches a response.
    fn is_null(&self) -> bool {
        self.core.with_resp(|_| ()).is_err()
    }
    /// True when the last statement answered OK.
    fn is_ok_packet(&self) -> PyResult<bool> {
        self.core.with_resp(|r| last_packet(r) == 1)
    }
    /// True when a statement failed.
    fn is_error_packet(&self) -> PyResult<bool> {
        self.core.with_resp(|r| r.is_error_packet())
    }
    /// `MYSQL_PACKET_*` of the last statement (an error anywhere: ERROR).
    fn get_packet_type(&self) -> PyResult<i32> {
        self.core.with_resp(|r| if r.is_error_packet() { 4 } else { last_packet(r) })
    }
    /// Rows changed.
    fn get_affected_rows(&self) -> PyResult<u64> {
        self.core.with_resp(|r| r.affected_rows())
    }
    /// The id of the last insert.
    fn get_last_insert_id(&self) -> PyResult<u64> {
        self.core.with_resp(|r| r.last_insert_id())
    }
    /// Warnings.
    fn get_warnings(&self) -> PyResult<u16> {
        self.core.with_resp(|r| r.warnings())
    }
    /// The server's error code (0 when none).
    fn get_error_code(&self) -> PyResult<u16> {
        self.core.with_resp(|r| r.error_code())
    }
    /// The server's error message.
    fn get_error_msg<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.core.with_resp(|r| PyBytes::new(py, r.error_msg().as_bytes()))
    }
    /// The SQL state of the error.
    fn get_sql_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.core.with_resp(|r| PyBytes::new(py, r.sql_state().as_bytes()))
    }
    /// The OK packet's info text.
    fn get_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.core.with_resp(|r| PyBytes::new(py, r.info().as_bytes()))
    }
    /// Server task: answer with an OK packet.
    #[pyo3(signature = (affected_rows = 0, insert_id = 0))]
    fn set_ok_packet(&self, affected_rows: u64, insert_id: u64) -> PyResult<()> {
        self.core.with_resp(|r| r.set_ok_packet(affected_rows, insert_id))
    }
    /// Server task: answer with an error packet.
    fn set_error_packet(&self, code: u16, sql_state: &str, message: &str) -> PyResult<()> {
        self.core.with_resp(|r| r.set_error_packet(code, sql_state, message))
    }
    /// Server task: answer with a result set of text columns (`None` is NULL).
    fn set_result_set(&self, columns: Vec<String>, rows: Vec<Vec<Option<String>>>) -> PyResult<()> {
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        self.core.with_resp(|r| r.set_result_set(&cols, rows))
    }
    /// Client task: the largest response accepted, in bytes.
    fn set_size_limit(&self, limit: u64) -> PyResult<()> {
        match &self.core {
            MySQLCore::Client(c) => c.with(|t| t.set_response_size_limit(usize::try_from(limit).ok())),
            MySQLCore::Server(_) => self.core.with_resp(|_| ()),
        }
    }

    /// Client task: the largest response accepted (2**64-1: none).
    fn get_size_limit(&self) -> PyResult<u64> {
        match &self.core {
            MySQLCore::Client(c) => c.with(|t| t.options().response_size_limit().map_or(u64::MAX, |n| n as u64)),
            MySQLCore::Server(_) => self.core.with_resp(|_| u64::MAX),
        }
    }
    /// Moves this response into `other`.
    fn move_to(&self, other: &Bound<'_, MySQLResponse>) -> PyResult<()> {
        let m = self.core.with_resp(std::mem::take)?;
        other.get().core.with_resp(|o| *o = m)
    }
}

fn new_mysql_task(py: Python<'_>, core: Arc<Core<MySQLClient>>, t: wf::mysql::MySQLTask) -> PyResult<Py<PyAny>> {
    core.own(t);
    wrap_client(py, core)
}

/// `create_mysql_task(url, retry_max, callback)`; set the SQL with
/// `get_req().set_query(...)`.
#[pyfunction]
pub(crate) fn create_mysql_task(
    py: Python<'_>,
    url: &str,
    retry_max: u32,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    ensure_init();
    let core = Core::new("MySQLTask", wrap_client, callback);
    let t = wf::mysql::create_mysql_task(url, retry_max, core.rust_callback());
    new_mysql_task(py, core, t)
}

/// A column of a result set (a copy: safe to keep).
#[pyclass(frozen, module = "pywf")]
pub(crate) struct MySQLField {
    field: Field,
}

#[pymethods]
impl MySQLField {
    fn get_name<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.field.name().as_bytes())
    }
    fn get_org_name<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.field.org_name().as_bytes())
    }
    fn get_table<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.field.table().as_bytes())
    }
    fn get_org_table<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.field.org_table().as_bytes())
    }
    fn get_db<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.field.db().as_bytes())
    }
    fn get_catalog<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, b"def")
    }
    fn get_def<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, b"")
    }
    fn get_charsetnr(&self) -> u16 {
        self.field.charset()
    }
    fn get_length(&self) -> u32 {
        self.field.length()
    }
    fn get_flags(&self) -> u16 {
        self.field.flags()
    }
    fn get_decimals(&self) -> u8 {
        self.field.decimals()
    }
    fn get_data_type(&self) -> u8 {
        self.field.data_type()
    }
    fn __str__(&self) -> String {
        self.field.name().to_string()
    }
    fn __repr__(&self) -> String {
        format!("pywf.MySQLField of {}", self.field.name())
    }
}

/// One value of a row, with its column type (a copy: safe to keep).
#[pyclass(frozen, module = "pywf")]
pub(crate) struct MySQLCell {
    cell: Cell,
    data_type: u8,
}

fn datetime_mod(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("datetime")
}

impl MySQLCell {
    fn is(&self, types: &[u8]) -> bool {
        types.contains(&self.data_type)
    }

    fn date(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.cell.as_date() {
            Some(d) => Ok(datetime_mod(py)?.getattr("date")?.call1((d.year, d.month, d.day)).ok().map(Bound::unbind)),
            None => Ok(None),
        }
    }

    fn datetime(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.cell.as_datetime() {
            Some(t) => Ok(datetime_mod(py)?
                .getattr("datetime")?
                .call1((t.date.year, t.date.month, t.date.day, t.hour, t.minute, t.second, t.micros))
                .ok()
                .map(Bound::unbind)),
            None => Ok(None),
        }
    }

    /// A TIME as a `timedelta`, sign applied to the whole value (pyworkflow
    /// applied it to the hours only).
    fn time(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let Some(t) = self.cell.as_time() else { return Ok(None) };
        let sign = if t.negative { -1i64 } else { 1 };
        let secs = i64::from(t.hours) * 3600 + i64::from(t.minutes) * 60 + i64::from(t.seconds);
        let kw = pyo3::types::PyDict::new(py);
        kw.set_item("seconds", sign * secs)?;
        kw.set_item("microseconds", sign * i64::from(t.micros))?;
        Ok(Some(datetime_mod(py)?.getattr("timedelta")?.call((), Some(&kw))?.unbind()))
    }

    fn text(&self) -> Vec<u8> {
        match self.cell.as_bytes() {
            Some(b) => b.to_vec(),
            None if self.cell.is_null() => Vec::new(),
            None => self.cell.to_string().into_bytes(),
        }
    }

    fn object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match &self.cell {
            Cell::Null => py.None(),
            Cell::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
            Cell::UInt(u) => u.into_pyobject(py)?.into_any().unbind(),
            Cell::Year(y) => y.into_pyobject(py)?.into_any().unbind(),
            Cell::Float(f) => f64::from(*f).into_pyobject(py)?.into_any().unbind(),
            Cell::Double(d) => d.into_pyobject(py)?.into_any().unbind(),
            Cell::Date(_) => self.date(py)?.unwrap_or_else(|| py.None()),
            Cell::DateTime(_) => self.datetime(py)?.unwrap_or_else(|| py.None()),
            Cell::Time(_) => self.time(py)?.unwrap_or_else(|| py.None()),
            Cell::Decimal(_) | Cell::String(_) | Cell::Bytes(_) | Cell::Bit(_) => {
                PyBytes::new(py, &self.text()).into_any().unbind()
            }
        })
    }
}

#[pymethods]
impl MySQLCell {
    fn get_data_type(&self) -> u8 {
        self.data_type
    }
    fn is_null(&self) -> bool {
        self.cell.is_null()
    }
    /// TINY, SHORT, INT24 or LONG.
    fn is_int(&self) -> bool {
        self.is(&[1, 2, 9, 3])
    }
    /// DECIMAL, NEWDECIMAL, STRING, VARCHAR, VAR_STRING or JSON.
    fn is_string(&self) -> bool {
        self.is(&[0, 246, 254, 15, 253, 245])
    }
    fn is_float(&self) -> bool {
        self.is(&[4])
    }
    fn is_double(&self) -> bool {
        self.is(&[5])
    }
    /// LONGLONG.
    fn is_ulonglong(&self) -> bool {
        self.is(&[8])
    }
    fn is_date(&self) -> bool {
        self.is(&[10])
    }
    fn is_time(&self) -> bool {
        self.is(&[11])
    }
    /// DATETIME or TIMESTAMP.
    fn is_datetime(&self) -> bool {
        self.is(&[12, 7])
    }
    fn as_int(&self) -> i64 {
        self.cell.as_i64().unwrap_or(0)
    }
    fn as_float(&self) -> f64 {
        self.cell.as_f64().unwrap_or(0.0)
    }
    fn as_double(&self) -> f64 {
        self.cell.as_f64().unwrap_or(0.0)
    }
    fn as_ulonglong(&self) -> u64 {
        self.cell.as_u64().unwrap_or(0)
    }
    /// The text of a string, decimal, date or time cell; b'' otherwise.
    fn as_string<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let text = match &self.cell {
            Cell::String(_) | Cell::Decimal(_) | Cell::Bytes(_) | Cell::Date(_) | Cell::Time(_) | Cell::DateTime(_) => {
                self.text()
            }
            _ => Vec::new(),
        };
        PyBytes::new(py, &text)
    }
    /// `datetime.date`, or None.
    fn as_date(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.date(py)
    }
    /// `datetime.timedelta`, or None.
    fn as_time(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.time(py)
    }
    /// `datetime.datetime`, or None.
    fn as_datetime(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.datetime(py)
    }
    /// The value's text.
    fn as_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.text())
    }
    /// None, int (signed or not, as the column), float, a datetime type,
    /// or bytes.
    fn as_object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.object(py)
    }
    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        let o = self.object(py)?;
        let o = o.bind(py);
        if let Ok(b) = o.cast::<PyBytes>() {
            if let Ok(s) = std::str::from_utf8(b.as_bytes()) {
                return Ok(s.to_string());
            }
        }
        Ok(o.str()?.to_string())
    }
    fn __repr__(&self) -> String {
        format!("MySQLCell({})", self.cell)
    }
}

opaque_debug!(MySQLField, MySQLCell, MySQLResultCursor, MySQLConnection);

/// Walks a response's result sets and rows. It holds a copy of the
/// response, so it stays valid after the callback; `rewind()` works after
/// the end too (pyworkflow's did nothing then).
#[pyclass(module = "pywf")]
pub(crate) struct MySQLResultCursor {
    resp: Arc<WfResponse>,
    set: usize,
    row: usize,
}

impl MySQLResultCursor {
    fn cursor(&self) -> Cursor<'_> {
        let mut c = Cursor::new(&self.resp);
        for _ in 0..self.set {
            c.next_result_set();
        }
        c
    }

    fn types(&self) -> Vec<u8> {
        self.cursor().fetch_fields().iter().map(Field::data_type).collect()
    }

    fn row_at(&self, types: &[u8], i: usize) -> Option<Vec<MySQLCell>> {
        let mut c = self.cursor();
        if c.status() != CursorStatus::GetResult || i >= c.rows_count() {
            return None;
        }
        // Rows are fetched in order; skip to row `i`.
        for _ in 0..i {
            c.fetch_row();
        }
        let row = c.fetch_row()?;
        Some(
            row.iter()
                .enumerate()
                .map(|(k, cell)| MySQLCell { cell: cell.clone(), data_type: types.get(k).copied().unwrap_or(0) })
                .collect(),
        )
    }
}

#[pymethods]
impl MySQLResultCursor {
    #[new]
    fn py_new(resp: &Bound<'_, MySQLResponse>) -> PyResult<MySQLResultCursor> {
        let r = resp.get().core.with_resp(|r| r.clone())?;
        Ok(MySQLResultCursor { resp: Arc::new(r), set: 0, row: 0 })
    }
    /// Moves to the next result set; False at the end.
    fn next_result_set(&mut self) -> bool {
        if self.cursor().status() != CursorStatus::End {
            self.set += 1;
        }
        self.row = 0;
        self.cursor().status() != CursorStatus::End
    }
    /// Back to the first result set.
    fn first_result_set(&mut self) {
        self.set = 0;
        self.row = 0;
    }
    /// Back to the first row of this result set.
    fn rewind(&mut self) {
        self.row = 0;
    }
    /// This result set's columns.
    fn fetch_fields(&self) -> Vec<MySQLField> {
        self.cursor().fetch_fields().iter().map(|f| MySQLField { field: f.clone() }).collect()
    }
    /// The next row, or None.
    fn fetch_row(&mut self) -> Option<Vec<MySQLCell>> {
        let row = self.row_at(&self.types(), self.row)?;
        self.row += 1;
        Some(row)
    }
    /// The remaining rows.
    fn fetch_all(&mut self) -> Vec<Vec<MySQLCell>> {
        let types = self.types();
        let c = self.cursor();
        let n = if c.status() == CursorStatus::GetResult { c.rows_count() } else { 0 };
        let mut c = c;
        for _ in 0..self.row.min(n) {
            c.fetch_row();
        }
        let mut out = Vec::new();
        while let Some(row) = c.fetch_row() {
            out.push(
                row.iter()
                    .enumerate()
                    .map(|(k, cell)| MySQLCell { cell: cell.clone(), data_type: types.get(k).copied().unwrap_or(0) })
                    .collect(),
            );
        }
        self.row = n;
        out
    }
    /// `MYSQL_STATUS_*` of this result set.
    fn get_cursor_status(&self) -> i32 {
        cursor_status(self.cursor().status())
    }
    fn get_server_status(&self) -> u16 {
        self.cursor().server_status()
    }
    fn get_field_count(&self) -> usize {
        self.cursor().field_count()
    }
    fn get_rows_count(&self) -> usize {
        let c = self.cursor();
        if c.status() == CursorStatus::GetResult { c.rows_count() } else { 0 }
    }
    fn get_affected_rows(&self) -> u64 {
        self.cursor().affected_rows()
    }
    fn get_insert_id(&self) -> u64 {
        self.cursor().insert_id()
    }
    fn get_warnings(&self) -> u16 {
        self.cursor().warnings()
    }
    fn get_info<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.cursor().info().as_bytes())
    }
}

/// A fixed connection: its tasks share one connection, so session state
/// (`SET @x`) carries from one to the next.
#[pyclass(frozen, module = "pywf")]
pub(crate) struct MySQLConnection {
    id: u64,
    conn: std::sync::Mutex<Option<wf::mysql::MySQLConnection>>,
}

#[pymethods]
impl MySQLConnection {
    #[new]
    fn py_new(id: u64) -> MySQLConnection {
        MySQLConnection { id, conn: std::sync::Mutex::new(None) }
    }
    /// Sets the URL; 0.
    fn init(&self, url: &str) -> i32 {
        ensure_init();
        *lock(&self.conn) = Some(wf::mysql::MySQLConnection::new(self.id, url));
        0
    }
    /// Forgets the URL.
    fn deinit(&self) {
        lock(&self.conn).take();
    }
    /// A task running `query` on this connection.
    fn create_query_task(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let q = body_bytes(query)?;
        let core = Core::new("MySQLTask", wrap_client, callback);
        let t = match lock(&self.conn).as_ref() {
            Some(c) => c.create_query_task(q, core.rust_callback()),
            None => return Err(pyo3::exceptions::PyRuntimeError::new_err("MySQLConnection: init(url) first")),
        };
        new_mysql_task(py, core, t)
    }
    /// A task that closes the connection.
    fn create_disconnect_task(&self, py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let core = Core::new("MySQLTask", wrap_client, callback);
        let t = match lock(&self.conn).as_ref() {
            Some(c) => c.create_disconnect_task(core.rust_callback()),
            None => return Err(pyo3::exceptions::PyRuntimeError::new_err("MySQLConnection: init(url) first")),
        };
        new_mysql_task(py, core, t)
    }
}

server_class!(
    /// A MySQL server whose `process(task)` is a Python function.
    MySQLServer, wf::mysql::MySQLServer, wf::mysql::MySQLServerTask, "MySQLTask", wrap_server,
    |f| wf::mysql::MySQLServer::new(f),
    |p, f| wf::mysql::MySQLServer::with_params(p, None, f)
);
