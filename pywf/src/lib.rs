//! pywf: pyworkflow's Python API (`import pywf as wf`) on wf's engine.
//!
//! The module keeps pyworkflow's functions, classes, methods, settings and
//! constants, with Workflow's state and error numbers, and makes three
//! things safe that pyworkflow leaves to the user:
//!
//! * a task, series, request or response used after its callback returned
//!   raises `InvalidHandleError` (pyworkflow: a use after free);
//! * an exception escaping a callback is reported through
//!   `sys.unraisablehook` and the series goes on (pyworkflow: exit);
//! * every wait releases the GIL and is interrupted by Ctrl-C.
//!
//! Python callbacks and a server's `process` run on wf's handler threads
//! (4, as pyworkflow), never on the IO threads; go tasks run on the
//! compute pool. Build the wheel with `maturin build --release -m
//! pywf/Cargo.toml`.

/// `Debug` for a Python-facing type whose insides are handles.
macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )*};
}

/// A server class whose `process(task)` is a Python function (pyworkflow's
/// one template for `HttpServer`, `RedisServer` and `MySQLServer`):
/// `server_class!(Name, WfServer, WfServerTask, "TaskName", wrap,
/// |process| new, |params, process| with_params)`.
macro_rules! server_class {
    ($(#[$doc:meta])* $name:ident, $server:ty, $task:ty, $task_name:literal, $wrap:path,
     |$f:ident| $new:expr, |$p:ident, $g:ident| $with:expr) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "pywf")]
        pub(crate) struct $name {
            server: $server,
        }

        opaque_debug!($name);

        #[pymethods]
        impl $name {
            #[new]
            #[pyo3(signature = (*args))]
            fn py_new(args: &Bound<'_, PyTuple>) -> PyResult<$name> {
                crate::settings::ensure_init();
                let (params, process) = crate::server::server_args(args)?;
                let $f = move |t: &mut $task| crate::server::process_request(&process, t, $task_name, $wrap);
                let server = match params {
                    Some(params) => {
                        let ($p, $g) = (params.to_wf(), $f);
                        $with
                    }
                    None => $new,
                };
                Ok($name { server })
            }

            /// Listens: `start(port[, cert_file, key_file])` (all addresses)
            /// or `start(family, host, port[, cert_file, key_file])`. 0 on
            /// success, -1 on failure. TLS when both files are given.
            #[pyo3(signature = (*args))]
            fn start(&self, args: &Bound<'_, PyTuple>) -> PyResult<i32> {
                crate::server::start_server(&self.server, args)
            }

            /// The port listened on (pywf addition: useful after
            /// `start(..., 0)`).
            fn get_listen_port(&self) -> Option<u16> {
                self.server.listen_addr().map(|a| a.port())
            }

            /// Stops accepting connections.
            fn shutdown(&self, py: Python<'_>) {
                py.detach(|| self.server.shutdown());
            }

            /// Waits for the requests in flight after `shutdown` (the GIL
            /// released; Ctrl-C interrupts it).
            fn wait_finish(&self, py: Python<'_>) -> PyResult<()> {
                crate::flow::wait_interruptible(py, None, |step| self.server.wait_finish_timeout(step)).map(drop)
            }

            /// `shutdown()` then `wait_finish()`.
            fn stop(&self, py: Python<'_>) -> PyResult<()> {
                py.detach(|| self.server.shutdown());
                self.wait_finish(py)
            }
        }
    };
}

mod attach;
mod core;
mod error;
mod file;
mod flow;
mod http;
mod lent;
mod mysql;
mod net;
mod redis;
mod server;
mod settings;
mod tasks;
mod text;

use pyo3::prelude::*;

/// The text of a state and error code, as Workflow gives it.
#[pyfunction]
fn get_error_string(state: i32, error: i32) -> String {
    match wf::State::from_i32(state) {
        Some(s) => wf::get_error_string(s, error),
        None => "Unknown".to_string(),
    }
}

/// Workflow's state, timeout-reason and MySQL numbers.
const CONSTANTS: &[(&str, i32)] = &[
    ("WFT_STATE_UNDEFINED", -1),
    ("WFT_STATE_SUCCESS", 0),
    ("WFT_STATE_SYS_ERROR", 1),
    ("WFT_STATE_ABORTED", 2),
    ("WFT_STATE_TOREPLY", 3),
    ("WFT_STATE_NOREPLY", 4),
    ("WFT_STATE_SSL_ERROR", 65),
    ("WFT_STATE_DNS_ERROR", 66),
    ("WFT_STATE_TASK_ERROR", 67),
    ("TOR_NOT_TIMEOUT", 0),
    ("TOR_WAIT_TIMEOUT", 1),
    ("TOR_CONNECT_TIMEOUT", 2),
    ("TOR_TRANSMIT_TIMEOUT", 3),
];

#[pymodule]
fn _pywf(m: &Bound<'_, PyModule>) -> PyResult<()> {
    for (name, v) in CONSTANTS {
        m.add(*name, *v)?;
    }
    m.add("InvalidHandleError", m.py().get_type::<error::InvalidHandleError>())?;
    m.add_class::<core::WFBase>()?;
    m.add_class::<core::SubTask>()?;
    m.add_class::<flow::SeriesWork>()?;
    m.add_class::<flow::ConstSeriesWork>()?;
    m.add_class::<flow::ParallelWork>()?;
    m.add_class::<flow::ConstParallelWork>()?;
    m.add_class::<tasks::TimerTask>()?;
    m.add_class::<tasks::CounterTask>()?;
    m.add_class::<tasks::GoTask>()?;
    m.add_class::<tasks::EmptyTask>()?;
    m.add_class::<tasks::DynamicTask>()?;
    m.add_class::<tasks::WaitGroup>()?;
    m.add_class::<settings::GlobalSettings>()?;
    m.add_class::<settings::EndpointParams>()?;
    m.add_class::<settings::ServerParams>()?;
    m.add_class::<http::HttpTask>()?;
    m.add_class::<http::HttpRequest>()?;
    m.add_class::<http::HttpResponse>()?;
    m.add_class::<http::HttpServer>()?;
    m.add_function(wrap_pyfunction!(get_error_string, m)?)?;
    m.add_function(wrap_pyfunction!(settings::workflow_library_init, m)?)?;
    m.add_function(wrap_pyfunction!(settings::get_global_settings, m)?)?;
    m.add_function(wrap_pyfunction!(flow::create_series_work, m)?)?;
    m.add_function(wrap_pyfunction!(flow::start_series_work, m)?)?;
    m.add_function(wrap_pyfunction!(flow::create_parallel_work, m)?)?;
    m.add_function(wrap_pyfunction!(flow::start_parallel_work, m)?)?;
    m.add_function(wrap_pyfunction!(flow::series_of, m)?)?;
    m.add_function(wrap_pyfunction!(flow::wait_finish, m)?)?;
    m.add_function(wrap_pyfunction!(flow::wait_finish_timeout, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::create_timer_task, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::create_counter_task, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::count_by_name, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::create_go_task, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::create_empty_task, m)?)?;
    m.add_function(wrap_pyfunction!(tasks::create_dynamic_task, m)?)?;
    m.add_function(wrap_pyfunction!(http::create_http_task, m)?)?;
    m.add_class::<file::FileIOTask>()?;
    m.add_class::<file::FileVIOTask>()?;
    m.add_class::<file::FileSyncTask>()?;
    m.add_function(wrap_pyfunction!(file::create_pread_task, m)?)?;
    m.add_function(wrap_pyfunction!(file::create_pwrite_task, m)?)?;
    m.add_function(wrap_pyfunction!(file::create_pwritev_task, m)?)?;
    m.add_function(wrap_pyfunction!(file::create_fsync_task, m)?)?;
    m.add_function(wrap_pyfunction!(file::create_fdsync_task, m)?)?;
    for (name, v) in mysql::STATUS {
        m.add(*name, *v)?;
    }
    for (name, v) in mysql::TYPES {
        m.add(format!("MYSQL_TYPE_{name}"), *v)?;
    }
    m.add_class::<mysql::MySQLTask>()?;
    m.add_class::<mysql::MySQLRequest>()?;
    m.add_class::<mysql::MySQLResponse>()?;
    m.add_class::<mysql::MySQLResultCursor>()?;
    m.add_class::<mysql::MySQLField>()?;
    m.add_class::<mysql::MySQLCell>()?;
    m.add_class::<mysql::MySQLConnection>()?;
    m.add_class::<mysql::MySQLServer>()?;
    m.add_function(wrap_pyfunction!(mysql::create_mysql_task, m)?)?;
    m.add_function(wrap_pyfunction!(mysql::mysql_datatype2str, m)?)?;
    m.add_class::<redis::RedisTask>()?;
    m.add_class::<redis::RedisRequest>()?;
    m.add_class::<redis::RedisResponse>()?;
    m.add_class::<redis::RedisValue>()?;
    m.add_class::<redis::RedisServer>()?;
    m.add_function(wrap_pyfunction!(redis::create_redis_task, m)?)?;
    Ok(())
}
