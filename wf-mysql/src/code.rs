//! MySQL's task error codes (Workflow's `WFT_ERR_MYSQL_*`), reported with
//! `State::TaskError` and named with `wf_core::register_task_error`.

use std::sync::Once;

/// The server does not allow this host.
pub const HOST_NOT_ALLOWED: i32 = 4001;
/// The server refused the credentials.
pub const ACCESS_DENIED: i32 = 4002;
/// The requested character set is unknown.
pub const INVALID_CHARACTER_SET: i32 = 4003;
/// The statement is managed by wf and may not be sent by hand (`USE`,
/// `SET NAMES`…: the URL sets the database and character set).
pub const COMMAND_DISALLOWED: i32 = 4004;
/// A task was started without a query.
pub const QUERY_NOT_SET: i32 = 4005;
/// `mysqls://` to a server without TLS.
pub const SSL_NOT_SUPPORTED: i32 = 4006;

/// Names the codes (once per process), so their errors display as
/// Workflow's texts.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (code, text) in [
            (HOST_NOT_ALLOWED, "MySQL Host Not Allowed"),
            (ACCESS_DENIED, "MySQL Access Denied"),
            (INVALID_CHARACTER_SET, "MySQL Invalid Character Set"),
            (COMMAND_DISALLOWED, "MySQL Command Disallowed"),
            (QUERY_NOT_SET, "MySQL Query Not Set"),
            (SSL_NOT_SUPPORTED, "MySQL SSL Not Supported"),
        ] {
            wf_core::register_task_error(code, text);
        }
    });
}
