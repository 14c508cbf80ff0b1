//! Redis's task error codes (Workflow's `WFT_ERR_REDIS_*`), reported with
//! `State::TaskError` and named with `wf_core::register_task_error`.

use std::sync::Once;

/// Redis refused the credentials (`AUTH`/`HELLO` failed, or `NOAUTH`).
pub const ACCESS_DENIED: i32 = 3001;
/// The command is managed by wf and may not be sent by hand (`AUTH`,
/// `SELECT`, `SUBSCRIBE`…).
pub const COMMAND_DISALLOWED: i32 = 3002;
/// A [cluster](crate::cluster) request whose keys hash to different
/// slots (`MGET a b` where `a` and `b` live on different masters): use
/// `{hash tags}` to put keys together.
pub const CROSS_SLOT: i32 = 3003;

/// Names the codes (once per process), so their errors display as
/// Workflow's texts.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        wf_core::register_task_error(ACCESS_DENIED, "Redis Access Denied");
        wf_core::register_task_error(COMMAND_DISALLOWED, "Redis Command Disallowed");
        wf_core::register_task_error(CROSS_SLOT, "Redis Cluster Cross Slot");
    });
}
