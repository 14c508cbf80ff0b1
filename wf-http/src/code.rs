//! HTTP's task error codes (Workflow's `WFT_ERR_HTTP_*`), reported with
//! `State::TaskError` and named with `wf_core::register_task_error`.

use std::sync::Once;

/// A redirect had no usable `Location`.
pub const BAD_REDIRECT_HEADER: i32 = 2001;
/// The proxy refused the `CONNECT` tunnel.
pub const PROXY_CONNECT_FAILED: i32 = 2002;

/// Names the codes (once per process), so their errors display as
/// Workflow's texts.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        wf_core::register_task_error(BAD_REDIRECT_HEADER, "Http Bad Redirect Header");
        wf_core::register_task_error(PROXY_CONNECT_FAILED, "Http Proxy Connect Failed");
    });
}
