//! `MySQLResultCursor`: walks a response's result sets and rows.

use crate::cell::MySQLCell;
use crate::message::{Done, MySQLField, MySQLResponse, Outcome};

/// Where a cursor stands (Workflow's `MYSQL_STATUS_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorStatus {
    /// On a result set: fields and rows to read.
    GetResult,
    /// On a statement that returned no rows (an OK packet).
    Ok,
    /// On a statement that failed.
    Error,
    /// Past the last result.
    End,
}

/// Reads a [`MySQLResponse`]: one result per statement, each an OK, an
/// error or a result set with fields and rows (Workflow's
/// `MySQLResultCursor`).
///
/// ```
/// use wf_mysql::{CursorStatus, MySQLResponse, MySQLResultCursor};
///
/// let mut resp = MySQLResponse::default();
/// resp.set_result_set(&["a", "b"], [[Some("1".to_string()), None]]);
/// let mut cursor = MySQLResultCursor::new(&resp);
/// assert_eq!(cursor.status(), CursorStatus::GetResult);
/// assert_eq!(cursor.fetch_fields()[0].name(), "a");
/// let row = cursor.fetch_row().unwrap();
/// assert_eq!((row[0].as_str(), row[1].is_null()), (Some("1"), true));
/// assert!(cursor.fetch_row().is_none());
/// cursor.rewind();
/// assert_eq!(cursor.fetch_all().len(), 1);
/// assert!(!cursor.next_result_set());
/// ```
#[derive(Clone, Debug)]
pub struct MySQLResultCursor<'a> {
    outcomes: &'a [Outcome],
    set: usize,
    row: usize,
}

static NO_DONE: Done = Done { affected_rows: 0, last_insert_id: 0, warnings: 0, status: 0, info: String::new() };

impl<'a> MySQLResultCursor<'a> {
    /// A cursor on the first result of `resp`.
    pub fn new(resp: &'a MySQLResponse) -> MySQLResultCursor<'a> {
        MySQLResultCursor { outcomes: &resp.outcomes, set: 0, row: 0 }
    }

    fn current(&self) -> Option<&'a Outcome> {
        self.outcomes.get(self.set)
    }

    /// What the cursor is on.
    pub fn status(&self) -> CursorStatus {
        match self.current() {
            None => CursorStatus::End,
            Some(Outcome::Ok(_)) => CursorStatus::Ok,
            Some(Outcome::Err(_)) => CursorStatus::Error,
            Some(Outcome::Rows { .. }) => CursorStatus::GetResult,
        }
    }

    /// Moves to the next result; `false` when there is none (the cursor
    /// is then at [`CursorStatus::End`]).
    pub fn next_result_set(&mut self) -> bool {
        if self.set < self.outcomes.len() {
            self.set += 1;
        }
        self.row = 0;
        self.set < self.outcomes.len()
    }

    /// Back to the first result.
    pub fn first_result_set(&mut self) {
        self.set = 0;
        self.row = 0;
    }

    /// Back to the first row of this result set; past the end, back to
    /// the first result.
    pub fn rewind(&mut self) {
        if self.set >= self.outcomes.len() {
            self.set = 0;
        }
        self.row = 0;
    }

    /// The columns of this result set (none for an OK or an error).
    pub fn fetch_fields(&self) -> &'a [MySQLField] {
        match self.current() {
            Some(Outcome::Rows { fields, .. }) => fields,
            _ => &[],
        }
    }

    /// This result set's cells, and how many make a row.
    fn cells(&self) -> (&'a [MySQLCell], usize) {
        match self.current() {
            Some(Outcome::Rows { cells, fields, .. }) => (cells, fields.len().max(1)),
            _ => (&[], 1),
        }
    }

    /// The next row, or `None` at the end of this result set.
    pub fn fetch_row(&mut self) -> Option<&'a [MySQLCell]> {
        let (cells, width) = self.cells();
        let row = cells.get(self.row * width..(self.row + 1) * width)?;
        self.row += 1;
        Some(row)
    }

    /// The rows not fetched yet, by copy.
    pub fn fetch_all(&mut self) -> Vec<Vec<MySQLCell>> {
        let (cells, width) = self.cells();
        let rest = cells.get(self.row * width..).unwrap_or_default().chunks(width).map(<[MySQLCell]>::to_vec).collect();
        self.row = cells.len() / width;
        rest
    }

    /// Columns in this result set.
    pub fn field_count(&self) -> usize {
        self.fetch_fields().len()
    }

    /// Rows in this result set.
    pub fn rows_count(&self) -> usize {
        let (cells, width) = self.cells();
        cells.len() / width
    }

    fn done(&self) -> &'a Done {
        match self.current() {
            Some(Outcome::Ok(d)) | Some(Outcome::Rows { done: d, .. }) => d,
            _ => &NO_DONE,
        }
    }

    /// Rows changed by this statement.
    pub fn affected_rows(&self) -> u64 {
        self.done().affected_rows
    }

    /// The `AUTO_INCREMENT` id this statement generated.
    pub fn insert_id(&self) -> u64 {
        self.done().last_insert_id
    }

    /// This statement's warning count.
    pub fn warnings(&self) -> u16 {
        self.done().warnings
    }

    /// This statement's info text.
    pub fn info(&self) -> &'a str {
        &self.done().info
    }

    /// The server status flags after this statement.
    pub fn server_status(&self) -> u16 {
        self.done().status
    }

    /// This statement's error: code, SQL state and message.
    pub fn error(&self) -> Option<(u16, &'a str, &'a str)> {
        match self.current() {
            Some(Outcome::Err(e)) => Some((e.code, &e.state, &e.message)),
            _ => None,
        }
    }
}
