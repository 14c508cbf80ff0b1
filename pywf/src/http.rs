//! HTTP: `HttpTask` (client and server side), `HttpRequest`,
//! `HttpResponse` and `HttpServer`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use wf::http::{Http, HttpClient, HttpRequest as WfRequest, HttpResponse as WfResponse};
use wf::net::{ReplyHandle, ServerKind};

use crate::core::{Core, SubTask, WFBase, lock, new_task};
use crate::server::body_bytes;
use crate::settings::ensure_init;
use crate::text::Utf8;

crate::net::net_task! {
    core: HttpCore, task: HttpTask, task_doc: "An HTTP task: a client request, or a request an `HttpServer` answers.",
    req: HttpRequest, resp: HttpResponse,
    client: HttpClient, proto: Http, wf_req: WfRequest, wf_resp: WfResponse,
    wrap_client: wrap_client, wrap_server: wrap_server,
    task_methods: {}
}

/// The header fields as a list of `(name, value)` tuples of `str`.
fn headers_of<'py>(py: Python<'py>, h: &wf::http::Headers) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (k, v) in h.iter() {
        let v = String::from_utf8_lossy(v.as_bytes());
        list.append((PyString::new(py, k), PyString::new(py, &v)))?;
    }
    Ok(list)
}

/// The methods requests and responses share.
macro_rules! message_methods {
    ($ty:ident, $with:ident, { $($extra:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($extra)*

            /// True when this object no longer reaches a message.
            fn is_null(&self) -> bool {
                self.core.$with(|_| ()).is_err()
            }
            /// Whether the body came chunked.
            fn is_chunked(&self) -> PyResult<bool> {
                self.core.$with(|m| m.is_chunked())
            }
            /// Whether the connection stays open after this message.
            fn is_keep_alive(&self) -> PyResult<bool> {
                self.core.$with(|m| m.is_keep_alive())
            }
            /// `"HTTP/1.1"` or `"HTTP/1.0"`.
            fn get_http_version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
                self.core.$with(|m| PyString::new(py, m.http_version()))
            }
            /// Sets the version (`"HTTP/1.1"`); False when not valid.
            fn set_http_version(&self, version: Utf8<'_>) -> PyResult<bool> {
                self.core.$with(|m| m.set_http_version(&version))
            }
            /// The header fields, in order, duplicates kept.
            fn get_headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.core.$with(|m| headers_of(py, m.headers()))?
            }
            /// Adds a header field; False when not valid.
            fn add_header_pair(&self, name: Utf8<'_>, value: Utf8<'_>) -> PyResult<bool> {
                self.core.$with(|m| m.add_header(&name, &value))
            }
            /// Replaces the first field of that name (or adds it).
            fn set_header_pair(&self, name: Utf8<'_>, value: Utf8<'_>) -> PyResult<bool> {
                self.core.$with(|m| m.set_header(&name, &value))
            }
            /// The body.
            fn get_body<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                let b = self.core.$with(|m| m.body())?;
                Ok(PyBytes::new(py, &b))
            }
            /// The body's size in bytes.
            fn get_body_size(&self) -> PyResult<usize> {
                self.core.$with(|m| m.body_len())
            }
            /// Appends bytes (or str, UTF-8) to the body.
            fn append_body(&self, data: &Bound<'_, PyAny>) -> PyResult<bool> {
                let b = body_bytes(data)?;
                self.core.$with(|m| m.append_body(b))?;
                Ok(true)
            }
            /// Empties the body.
            fn clear_body(&self) -> PyResult<()> {
                self.core.$with(|m| m.clear_body())
            }
            /// Kept for pyworkflow code: the message is complete already.
            fn end_parsing(&self) -> PyResult<()> {
                self.core.$with(|_| ())
            }
            /// Moves this message into `other` (this one is left empty).
            fn move_to(&self, other: &Bound<'_, $ty>) -> PyResult<()> {
                let m = self.core.$with(std::mem::take)?;
                other.get().core.$with(|o| *o = m)
            }
        }
    };
}

message_methods!(HttpRequest, with_req, {
    /// The method (`"GET"`).
    fn get_method<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.core.with_req(|m| PyString::new(py, m.method()))
    }
    /// Sets the method; False when not valid.
    fn set_method(&self, method: Utf8<'_>) -> PyResult<bool> {
        self.core.with_req(|m| m.set_method(&method))
    }
    /// The request target (`"/path?q"`).
    fn get_request_uri<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.core.with_req(|m| PyString::new(py, m.request_uri()))
    }
    /// Sets the request target.
    fn set_request_uri(&self, uri: Utf8<'_>) -> PyResult<()> {
        self.core.with_req(|m| m.set_request_uri(&*uri))
    }
    /// Kept for pyworkflow code (a request's size is bound by its server).
    fn set_size_limit(&self, _limit: u64) -> PyResult<()> {
        self.core.with_req(|_| ())
    }

    /// The size limit (requests: unbounded here; a server bounds them).
    fn get_size_limit(&self) -> u64 {
        u64::MAX
    }
});

message_methods!(HttpResponse, with_resp, {
    /// The status code, as a string (`"200"`).
    fn get_status_code(&self) -> PyResult<String> {
        self.core.with_resp(|m| m.status_code().to_string())
    }
    /// Sets the status code from a string; False when not valid.
    fn set_status_code(&self, code: Utf8<'_>) -> PyResult<bool> {
        let Ok(c) = code.trim().parse::<u16>() else { return Ok(false) };
        self.core.with_resp(|m| m.set_status_code(c))
    }
    /// The reason phrase (`"OK"`).
    fn get_reason_phrase<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.core.with_resp(|m| PyString::new(py, m.reason_phrase()))
    }
    /// Sets the reason phrase.
    fn set_reason_phrase(&self, reason: Utf8<'_>) -> PyResult<()> {
        self.core.with_resp(|m| m.set_reason_phrase(&*reason))
    }
    /// Client task: the largest response accepted, in bytes.
    fn set_size_limit(&self, limit: u64) -> PyResult<()> {
        match &self.core.clone() {
            HttpCore::Client(c) => c.with(|t| t.set_response_size_limit(usize::try_from(limit).ok())),
            HttpCore::Server(_) => self.core.with_resp(|_| ()),
        }
    }

    /// Client task: the largest response accepted (2**64-1: none).
    fn get_size_limit(&self) -> PyResult<u64> {
        match &self.core {
            HttpCore::Client(c) => c.with(|t| t.options().response_size_limit().map_or(u64::MAX, |n| n as u64)),
            HttpCore::Server(_) => self.core.with_resp(|_| u64::MAX),
        }
    }
});

/// `create_http_task(url, redirect_max, retry_max, callback)` or, through
/// an HTTP proxy, `(url, proxy_url, redirect_max, retry_max, callback)`.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
pub(crate) fn create_http_task(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
) -> PyResult<Py<PyAny>> {
    ensure_init();
    let kw = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        match kwargs {
            Some(k) => k.get_item(name),
            None => Ok(None),
        }
    };
    let pos: Vec<Bound<'_, PyAny>> = args.iter().collect();
    let proxy = pos.len() == 5 || (pos.len() >= 2 && pos[1].is_instance_of::<pyo3::types::PyString>());
    let mut it = pos.into_iter();
    let url: String = it.next().ok_or_else(|| PyTypeError::new_err("create_http_task: url is required"))?.extract()?;
    let proxy_url: Option<String> = if proxy { Some(it.next().unwrap().extract()?) } else { None };
    let mut arg = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        match it.next() {
            Some(v) => Ok(v),
            None => kw(name)?.ok_or_else(|| PyTypeError::new_err(format!("create_http_task: {name} is required"))),
        }
    };
    let redirect_max: u32 = arg("redirect_max")?.extract()?;
    let retry_max: u32 = arg("retry_max")?.extract()?;
    let cb = arg("callback")?;
    let cb = (!cb.is_none()).then(|| cb.unbind());
    let core = Core::new("HttpTask", wrap_client, cb);
    let t = match proxy_url {
        Some(p) => wf::http::create_http_task_with_proxy(&url, &p, redirect_max, retry_max, core.rust_callback()),
        None => wf::http::create_http_task(&url, redirect_max, retry_max, core.rust_callback()),
    };
    core.own(t);
    wrap_client(py, core)
}

server_class!(
    /// An HTTP server whose `process(task)` is a Python function.
    HttpServer, wf::http::HttpServer, wf::http::HttpServerTask, "HttpTask", wrap_server,
    |f| wf::http::HttpServer::new(f),
    |p, f| wf::http::HttpServer::with_params(p, f)
);
