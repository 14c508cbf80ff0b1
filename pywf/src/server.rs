//! What the server classes share: running the Python `process`, and
//! `start`'s and the constructor's arguments.

use std::ptr::NonNull;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use wf::net::{Server, ServerKind, ServerProtocol, ServerTask};

use crate::core::{Core, Wrap, lock};
use crate::settings::{ServerParams, ensure_init};

/// Runs the Python `process` for one request.
pub(crate) fn process_request<P: ServerProtocol>(
    process: &Py<PyAny>,
    t: &mut ServerTask<P>,
    name: &'static str,
    wrap: Wrap<ServerKind<P>>,
) {
    let core = Core::new(name, wrap, None);
    let series = wf::try_series_of(t).map(NonNull::from);
    crate::attach::attach(|py| core.call_lent(py, t, series, process));
    // Python kept the task or its reply (tutorial 05, 09): the reply moves
    // into a handle that later callbacks fill until it is sent.
    let kept = Arc::strong_count(&core) > 1;
    if kept {
        *lock(&core.extra) = Some(Box::new(t.reply_handle()));
    }
    // The post-reply callback (pyworkflow's runs the callback `process`
    // may set, and releases the user data): needed only when `process`
    // set one of them, or kept the task to set them later.
    if kept || core.has_callback_or_data() {
        t.set_callback(core.rust_callback());
    }
}

/// `start`'s arguments: `(port[, cert, key])` or `(family, host, port[, cert, key])`.
/// Where and how a server listens.
struct Listen {
    host: Option<String>,
    port: u16,
    /// Certificate and key files.
    tls: Option<(String, String)>,
}

fn parse_start(args: &Bound<'_, PyTuple>) -> PyResult<Listen> {
    let n = args.len();
    // Three arguments are (family, host, port) when the last is a number,
    // else (port, cert_file, key_file).
    let with_host = n == 5 || (n == 3 && args.get_item(2)?.extract::<u16>().is_ok());
    let (host, port, rest) = match n {
        1 | 3 | 5 if with_host => {
            (Some(args.get_item(1)?.extract::<String>()?), args.get_item(2)?.extract::<u16>()?, 3)
        }
        1 | 3 => (None, args.get_item(0)?.extract::<u16>()?, 1),
        _ => {
            return Err(PyTypeError::new_err(
                "start(port[, cert_file, key_file]) or start(family, host, port[, cert_file, key_file])",
            ));
        }
    };
    let tls = if n > rest {
        let cert: String = args.get_item(rest)?.extract()?;
        let key: String = args.get_item(rest + 1)?.extract()?;
        (!cert.is_empty() && !key.is_empty()).then_some((cert, key))
    } else {
        None
    };
    Ok(Listen { host, port, tls })
}

pub(crate) fn start_server<P: ServerProtocol>(server: &Server<P>, args: &Bound<'_, PyTuple>) -> PyResult<i32> {
    ensure_init();
    let Listen { host, port, tls } = parse_start(args)?;
    let r = match (host, tls) {
        (None, None) => server.start(port),
        (Some(h), None) => server.start_on(&h, port),
        (h, Some((cert, key))) => {
            server.start_tls(h.as_deref().unwrap_or("0.0.0.0"), port, cert.as_ref(), key.as_ref())
        }
    };
    Ok(match r {
        Ok(()) => 0,
        Err(e) => {
            tracing::warn!(error = %e, "pywf: server start failed");
            -1
        }
    })
}

/// `Server(process)` or `Server(params, process)`.
pub(crate) fn server_args(args: &Bound<'_, PyTuple>) -> PyResult<(Option<ServerParams>, Py<PyAny>)> {
    match args.len() {
        1 => Ok((None, args.get_item(0)?.unbind())),
        2 => Ok((Some(args.get_item(0)?.extract::<ServerParams>()?), args.get_item(1)?.unbind())),
        n => Err(PyValueError::new_err(format!("expected ([params,] process), got {n} arguments"))),
    }
}

/// Bytes or str (UTF-8) as bytes.
pub(crate) fn body_bytes(data: &Bound<'_, PyAny>) -> PyResult<bytes::Bytes> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(bytes::Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = data.cast::<pyo3::types::PyString>() {
        return Ok(bytes::Bytes::copy_from_slice(crate::text::Utf8::of(s.as_borrowed())?.as_bytes()));
    }
    Err(PyTypeError::new_err("expected bytes or str"))
}
