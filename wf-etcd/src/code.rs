//! wf-etcd's task error codes, reported with `State::TaskError` and named
//! with `wf_core::register_task_error`. The error's cause says more
//! (etcd's own message, what was wrong with the reply).

use std::sync::Once;

/// etcd answered with an error (a gRPC status through the gateway, or an
/// HTTP status other than 200).
pub const ETCD_ERROR: i32 = 6001;
/// The reply was not what etcd sends: not JSON, a field missing or of the
/// wrong type, bad base64, a stream that is not a sequence of objects.
pub const BAD_REPLY: i32 = 6002;
/// A service name, prefix or address etcd keys cannot hold (empty, or a
/// service name with `/`).
pub const BAD_NAME: i32 = 6003;

/// Names the codes (once per process).
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        wf_core::register_task_error(ETCD_ERROR, "Etcd Error");
        wf_core::register_task_error(BAD_REPLY, "Etcd Bad Reply");
        wf_core::register_task_error(BAD_NAME, "Etcd Bad Name");
    });
}

/// A `TASK_ERROR` with `code` and `why` as its cause.
pub(crate) fn error(code: i32, why: impl Into<String>) -> wf_core::Error {
    register();
    wf_core::Error::task(code).with_cause(why.into())
}
