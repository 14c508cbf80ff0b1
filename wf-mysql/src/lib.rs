//! MySQL and MariaDB for wf: [`MySQLTask`], [`MySQLConnection`] for
//! transactions, prepared statements, and [`MySQLServer`], on wf-core's
//! protocol plug-in API.
//!
//! A query is a task like any other: it goes into series and parallels,
//! and its callback reads the response with a [`MySQLResultCursor`]:
//! one result per statement (multi-statement queries and stored
//! procedures give several), each an OK, an error, or fields and rows of
//! typed [`MySQLCell`]s.
//!
//! ```no_run
//! use wf_mysql::{create_mysql_task, CursorStatus, MySQLResultCursor};
//!
//! let mut task = create_mysql_task("mysql://root:pw@127.0.0.1:3306/test", 1, |t| {
//!     if t.state() != wf_core::State::Success {
//!         return eprintln!("{}", t.error_text());
//!     }
//!     let mut cursor = MySQLResultCursor::new(t.resp());
//!     loop {
//!         match cursor.status() {
//!             CursorStatus::GetResult => {
//!                 for row in cursor.fetch_all() {
//!                     println!("{}", row.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" | "));
//!                 }
//!             }
//!             CursorStatus::Ok => println!("OK, {} rows affected", cursor.affected_rows()),
//!             CursorStatus::Error => println!("error {:?}", cursor.error()),
//!             CursorStatus::End => break,
//!         }
//!         cursor.next_result_set();
//!     }
//! });
//! task.set_query("SELECT 1, NOW(6); INSERT INTO t VALUES (1); SELECT * FROM t");
//! task.start();
//! wf_core::wait_finish();
//! ```

#![forbid(unsafe_code)]

mod cell;
mod client;
pub mod code;
mod codec;
mod connection;
mod cursor;
mod escape;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod lenenc;
mod login;
mod message;
mod packet;
mod protocol;
mod server;
mod server_login;
mod stmt;
mod task;

pub use cell::{Date, DateTime, MySQLCell, Time};
pub use codec::{ClientCodec, ServerCodec};
pub use connection::MySQLConnection;
pub use cursor::{CursorStatus, MySQLResultCursor};
pub use escape::{escape_string, escape_string_quote};
pub use login::MySqlLogin;
pub use message::{MySQLField, MySQLRequest, MySQLResponse, PacketType};
pub use protocol::MySql;
pub use server::{MySQLServer, MySQLServerTask};
pub use server_login::ServerAuth;
pub use task::{MySQLClient, MySQLTask, create_mysql_task, create_mysql_task_with, create_prepared_task};
