//! Global settings (`GlobalSettings`, `EndpointParams`,
//! `WORKFLOW_library_init`) and server parameters (`ServerParams`).

use std::sync::Once;
use std::time::Duration;

use pyo3::prelude::*;

/// pyworkflow's defaults (4 handler, compute and DNS threads), except the
/// poller threads: one per CPU the process may use, as wf's own default,
/// where pyworkflow has 4. Handler threads keep Python callbacks off the
/// IO threads.
///
/// Each poller thread is an event loop; more loops than CPUs only add
/// wake-ups. Pinned to one CPU (BENCHMARKS.md, issue 16), 4 pollers made
/// the client benchmark take 1.1-1.25x as long and the echo server cost
/// 1.2-1.3x the CPU per request that one did.
fn pywf_defaults() -> GlobalSettings {
    GlobalSettings {
        endpoint_params: EndpointParams::default(),
        dns_server_params: EndpointParams::default(),
        dns_ttl_default: 43200,
        dns_ttl_min: 180,
        dns_threads: 4,
        poller_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        handler_threads: 4,
        compute_threads: 4,
    }
}

/// Whether wf's settings were chosen: by `WORKFLOW_library_init` or, on
/// the first task, server or wait, pyworkflow's defaults. The first to
/// run decides; the `Once` keeps the later calls at one atomic load
/// (building a `Settings` asks the system for the CPU count, cgroup files
/// included, each time).
static CHOSEN: Once = Once::new();

/// Starts wf with pyworkflow's defaults unless `WORKFLOW_library_init`
/// (or an earlier call) already chose its settings. Every factory calls it.
pub(crate) fn ensure_init() {
    CHOSEN.call_once(|| {
        // Changes nothing when wf was started some other way.
        let _ = wf::init(pywf_defaults().to_wf());
    });
}

fn ms(v: i64) -> Option<Duration> {
    (v >= 0).then(|| Duration::from_millis(v as u64))
}

fn from_ms(d: Option<Duration>) -> i64 {
    d.map_or(-1, |d| d.as_millis() as i64)
}

/// Per-target client parameters; timeouts in milliseconds, -1 for none.
#[pyclass(module = "pywf", get_all, set_all, from_py_object)]
#[derive(Clone, Debug)]
pub(crate) struct EndpointParams {
    /// Connections open at once to one target (200).
    pub max_connections: usize,
    /// Connect timeout, ms (10000).
    pub connect_timeout: i64,
    /// Response timeout, ms (10000).
    pub response_timeout: i64,
    /// TLS handshake timeout, ms (10000).
    pub ssl_connect_timeout: i64,
    /// Whether TLS clients send SNI (wf: always on; kept for pyworkflow code).
    pub use_tls_sni: bool,
}

impl Default for EndpointParams {
    fn default() -> EndpointParams {
        EndpointParams {
            max_connections: 200,
            connect_timeout: 10000,
            response_timeout: 10000,
            ssl_connect_timeout: 10000,
            use_tls_sni: false,
        }
    }
}

impl EndpointParams {
    fn to_wf(&self) -> wf::EndpointParams {
        let mut p = wf::EndpointParams::default();
        p.max_connections = self.max_connections.max(1);
        p.connect_timeout = ms(self.connect_timeout);
        p.response_timeout = ms(self.response_timeout);
        p.ssl_connect_timeout = ms(self.ssl_connect_timeout);
        p
    }

    fn from_wf(p: &wf::EndpointParams, sni: bool) -> EndpointParams {
        EndpointParams {
            max_connections: p.max_connections,
            connect_timeout: from_ms(p.connect_timeout),
            response_timeout: from_ms(p.response_timeout),
            ssl_connect_timeout: from_ms(p.ssl_connect_timeout),
            use_tls_sni: sni,
        }
    }
}

#[pymethods]
impl EndpointParams {
    #[new]
    fn py_new() -> EndpointParams {
        EndpointParams::default()
    }

    fn __repr__(&self) -> String {
        format!("{self:?}")
    }
}

/// The settings `WORKFLOW_library_init` applies (pyworkflow's defaults).
#[pyclass(module = "pywf", get_all, set_all, from_py_object)]
#[derive(Clone, Debug)]
pub(crate) struct GlobalSettings {
    /// Client defaults.
    pub endpoint_params: EndpointParams,
    /// Parameters of the connections to DNS servers.
    pub dns_server_params: EndpointParams,
    /// Seconds a resolved name stays cached (43200).
    pub dns_ttl_default: u64,
    /// Seconds a retry trusts a cached name (180).
    pub dns_ttl_min: u64,
    /// Blocking-lookup threads (4).
    pub dns_threads: usize,
    /// IO threads, each its own event loop (one per CPU the process may
    /// use; pyworkflow: 4).
    pub poller_threads: usize,
    /// Threads running callbacks and server `process` (4).
    pub handler_threads: usize,
    /// Threads running go tasks (4).
    pub compute_threads: usize,
}

impl GlobalSettings {
    fn to_wf(&self) -> wf::Settings {
        let mut s = wf::Settings::default();
        s.endpoint_params = self.endpoint_params.to_wf();
        s.dns_server_params = self.dns_server_params.to_wf();
        s.dns_ttl_default = Duration::from_secs(self.dns_ttl_default);
        s.dns_ttl_min = Duration::from_secs(self.dns_ttl_min);
        s.dns_threads = self.dns_threads;
        s.poller_threads = self.poller_threads;
        s.handler_threads = self.handler_threads;
        s.compute_threads = self.compute_threads;
        s.use_tls_sni = s.use_tls_sni || self.endpoint_params.use_tls_sni;
        s
    }

    fn from_wf(s: &wf::Settings) -> GlobalSettings {
        GlobalSettings {
            endpoint_params: EndpointParams::from_wf(&s.endpoint_params, s.use_tls_sni),
            dns_server_params: EndpointParams::from_wf(&s.dns_server_params, s.use_tls_sni),
            dns_ttl_default: s.dns_ttl_default.as_secs(),
            dns_ttl_min: s.dns_ttl_min.as_secs(),
            dns_threads: s.dns_threads,
            poller_threads: s.poller_threads,
            handler_threads: s.handler_threads,
            compute_threads: s.compute_threads,
        }
    }
}

#[pymethods]
impl GlobalSettings {
    #[new]
    fn py_new() -> GlobalSettings {
        pywf_defaults()
    }

    fn __str__(&self) -> String {
        format!("{self:?}")
    }
}

/// Applies `settings`; only before the first task is created, as in
/// pyworkflow. A later call changes nothing and warns.
#[pyfunction]
#[pyo3(name = "WORKFLOW_library_init")]
pub(crate) fn workflow_library_init(py: Python<'_>, settings: &GlobalSettings) -> PyResult<()> {
    let mut applied = false;
    CHOSEN.call_once(|| applied = wf::init(settings.to_wf()).is_ok());
    if !applied {
        let warn = py.import("warnings")?;
        warn.call_method1(
            "warn",
            (
                "WORKFLOW_library_init: wf already started; the settings in force stay",
                py.get_type::<pyo3::exceptions::PyRuntimeWarning>(),
            ),
        )?;
    }
    Ok(())
}

/// A copy of the settings in force, or of pyworkflow's defaults before
/// wf starts (asking does not start it: the copy can be changed and given
/// to `WORKFLOW_library_init`).
#[pyfunction]
pub(crate) fn get_global_settings() -> GlobalSettings {
    if CHOSEN.is_completed() { GlobalSettings::from_wf(wf::settings()) } else { pywf_defaults() }
}

/// A server's parameters; timeouts in milliseconds, -1 for none.
#[pyclass(module = "pywf", get_all, set_all, from_py_object)]
#[derive(Clone, Debug)]
pub(crate) struct ServerParams {
    /// Connections open at once (2000).
    pub max_connections: usize,
    /// Limit on each read or write making progress, ms (10000).
    pub peer_response_timeout: i64,
    /// Limit on receiving a whole request, ms (-1: none).
    pub receive_timeout: i64,
    /// Idle keep-alive time, ms (60000).
    pub keep_alive_timeout: i64,
    /// Largest request accepted, bytes (wf's default, 1 MiB, when -1 or
    /// larger than the memory can hold).
    pub request_size_limit: i64,
    /// TLS handshake timeout, ms (10000).
    pub ssl_accept_timeout: i64,
}

impl ServerParams {
    pub(crate) fn to_wf(&self) -> wf::net::ServerParams {
        let mut p = wf::net::ServerParams::default();
        p.max_connections = self.max_connections.max(1);
        p.peer_response_timeout = ms(self.peer_response_timeout);
        p.receive_timeout = ms(self.receive_timeout);
        p.keep_alive_timeout = ms(self.keep_alive_timeout);
        p.ssl_accept_timeout = ms(self.ssl_accept_timeout);
        if self.request_size_limit >= 0 {
            p.request_size_limit = usize::try_from(self.request_size_limit).ok();
        }
        p
    }
}

#[pymethods]
impl ServerParams {
    #[new]
    fn py_new() -> ServerParams {
        ServerParams {
            max_connections: 2000,
            peer_response_timeout: 10000,
            receive_timeout: -1,
            keep_alive_timeout: 60000,
            request_size_limit: -1,
            ssl_accept_timeout: 10000,
        }
    }

    fn __repr__(&self) -> String {
        format!("{self:?}")
    }
}
