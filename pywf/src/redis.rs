//! Redis: `RedisTask`, `RedisRequest`, `RedisResponse`, `RedisValue` and
//! `RedisServer`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use wf::net::{ReplyHandle, ServerKind};
use wf::redis::{Redis, RedisClient, RedisRequest as WfRequest, RedisResponse as WfResponse, RedisValue as V};

use crate::core::{Core, SubTask, WFBase, create, lock, new_task};
use crate::server::body_bytes;

crate::net::net_task! {
    core: RedisCore, task: RedisTask, task_doc: "A Redis task: a client command, or one a `RedisServer` answers.",
    req: RedisRequest, resp: RedisResponse,
    client: RedisClient, proto: Redis, wf_req: WfRequest, wf_resp: WfResponse,
    wrap_client: wrap_client, wrap_server: wrap_server,
    task_methods: {}
}

#[pymethods]
impl RedisRequest {
    /// True when this object no longer reaches a request.
    fn is_null(&self) -> bool {
        self.core.with_req(|_| ()).is_err()
    }
    /// Sets the command and its parameters (str or bytes).
    fn set_request(&self, command: &str, params: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let args = params.iter().map(body_bytes).collect::<PyResult<Vec<_>>>()?;
        self.core.with_req(|r| r.set_request(command, args))
    }
    /// The command (`"SET"`).
    fn get_command(&self) -> PyResult<String> {
        self.core.with_req(|r| r.command().unwrap_or_default().to_string())
    }
    /// The parameters, as bytes.
    fn get_params<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        self.core.with_req(|r| r.params().iter().map(|p| PyBytes::new(py, p)).collect())
    }
    /// Kept for pyworkflow code.
    fn set_size_limit(&self, _limit: u64) -> PyResult<()> {
        self.core.with_req(|_| ())
    }

    /// The size limit (requests: unbounded here; a server bounds them).
    fn get_size_limit(&self) -> u64 {
        u64::MAX
    }
    /// Moves this request into `other`.
    fn move_to(&self, other: &Bound<'_, RedisRequest>) -> PyResult<()> {
        let m = self.core.with_req(std::mem::take)?;
        other.get().core.with_req(|o| *o = m)
    }
}

#[pymethods]
impl RedisResponse {
    /// True when this object no longer reaches a response.
    fn is_null(&self) -> bool {
        self.core.with_resp(|_| ()).is_err()
    }
    /// The reply, as a `RedisValue` (a copy).
    fn get_result(&self) -> PyResult<RedisValue> {
        Ok(RedisValue::owned(self.core.with_resp(|r| r.result().clone())?))
    }
    /// Sets the reply (a server task).
    fn set_result(&self, value: &RedisValue) -> PyResult<bool> {
        let v = value.get()?;
        self.core.with_resp(|r| r.set_result(v))?;
        Ok(true)
    }
    /// Client task: the largest reply accepted, in bytes.
    fn set_size_limit(&self, limit: u64) -> PyResult<()> {
        match &self.core {
            RedisCore::Client(c) => c.with(|t| t.set_response_size_limit(usize::try_from(limit).ok())),
            RedisCore::Server(_) => self.core.with_resp(|_| ()),
        }
    }

    /// Client task: the largest response accepted (2**64-1: none).
    fn get_size_limit(&self) -> PyResult<u64> {
        match &self.core {
            RedisCore::Client(c) => c.with(|t| t.options().response_size_limit().map_or(u64::MAX, |n| n as u64)),
            RedisCore::Server(_) => self.core.with_resp(|_| u64::MAX),
        }
    }
    /// Moves this response into `other`.
    fn move_to(&self, other: &Bound<'_, RedisResponse>) -> PyResult<()> {
        let m = self.core.with_resp(std::mem::take)?;
        other.get().core.with_resp(|o| *o = m)
    }
}

/// `create_redis_task(url, retry_max, callback)`.
#[pyfunction]
pub(crate) fn create_redis_task(
    py: Python<'_>,
    url: &str,
    retry_max: u32,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    create(py, "RedisTask", wrap_client, callback, |c| wf::redis::create_redis_task(url, retry_max, c.rust_callback()))
}

/// A Redis value that owns its data (safe to keep). `v[i]` reaches an
/// element in place (a reference into `v`), as in pyworkflow.
#[pyclass(frozen, module = "pywf")]
pub(crate) struct RedisValue {
    root: Arc<Mutex<V>>,
    /// The element of `root` this value is (empty: the root).
    path: Vec<usize>,
}

opaque_debug!(RedisValue);

fn at_path<'a>(mut v: &'a mut V, path: &[usize]) -> Option<&'a mut V> {
    for &i in path {
        v = match v {
            V::Array(a) | V::Set(a) | V::Push(a) => a.get_mut(i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn items(v: &V) -> &[V] {
    match v {
        V::Array(a) | V::Set(a) | V::Push(a) => a,
        _ => &[],
    }
}

fn to_object(py: Python<'_>, v: &V) -> PyResult<Py<PyAny>> {
    Ok(match v {
        V::Nil => py.None(),
        V::Integer(i) => i.into_pyobject(py)?.into_any().unbind(),
        V::String(b) | V::Status(b) | V::Error(b) | V::BigNumber(b) => PyBytes::new(py, b).into_any().unbind(),
        V::Verbatim { text, .. } => PyBytes::new(py, text).into_any().unbind(),
        V::Double(d) => d.into_pyobject(py)?.into_any().unbind(),
        V::Boolean(b) => i64::from(*b).into_pyobject(py)?.into_any().unbind(),
        V::Array(a) | V::Set(a) | V::Push(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(to_object(py, x)?)?;
            }
            l.into_any().unbind()
        }
        V::Map(m) => {
            let l = PyList::empty(py);
            for (k, x) in m {
                l.append(to_object(py, k)?)?;
                l.append(to_object(py, x)?)?;
            }
            l.into_any().unbind()
        }
    })
}

fn debug(v: &V, out: &mut String) {
    match v {
        V::Nil => out.push_str("nil"),
        V::Integer(i) => out.push_str(&i.to_string()),
        V::String(b) | V::Status(b) | V::BigNumber(b) => {
            out.push('"');
            out.push_str(&String::from_utf8_lossy(b));
            out.push('"');
        }
        V::Verbatim { text, .. } => {
            out.push('"');
            out.push_str(&String::from_utf8_lossy(text));
            out.push('"');
        }
        V::Error(b) => {
            out.push_str("(error) ");
            out.push_str(&String::from_utf8_lossy(b));
        }
        V::Double(d) => out.push_str(&d.to_string()),
        V::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Array(a) | V::Set(a) | V::Push(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                debug(x, out);
            }
            out.push(']');
        }
        V::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                debug(k, out);
                out.push_str(": ");
                debug(x, out);
            }
            out.push('}');
        }
    }
}

impl RedisValue {
    fn owned(v: V) -> RedisValue {
        RedisValue { root: Arc::new(Mutex::new(v)), path: Vec::new() }
    }

    /// Runs `f` on this value; an element that no longer exists (its
    /// parent was resized) raises IndexError.
    fn with<R>(&self, f: impl FnOnce(&mut V) -> R) -> PyResult<R> {
        let mut g = lock(&self.root);
        at_path(&mut g, &self.path)
            .map(f)
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("RedisValue element no longer exists"))
    }

    fn get(&self) -> PyResult<V> {
        self.with(|v| v.clone())
    }

    fn set(&self, to: V) -> PyResult<()> {
        self.with(|v| *v = to)
    }

    fn element(&self, i: usize) -> PyResult<Option<RedisValue>> {
        let n = self.with(|v| items(v).len())?;
        Ok((i < n).then(|| {
            let mut path = self.path.clone();
            path.push(i);
            RedisValue { root: self.root.clone(), path }
        }))
    }
}

#[pymethods]
impl RedisValue {
    /// `RedisValue()` (nil) or `RedisValue(other)` (a copy).
    #[new]
    #[pyo3(signature = (other = None))]
    fn py_new(other: Option<&RedisValue>) -> PyResult<RedisValue> {
        Ok(RedisValue::owned(match other {
            Some(o) => o.get()?,
            None => V::Nil,
        }))
    }
    /// Makes this value nil.
    fn set_nil(&self) -> PyResult<()> {
        self.set(V::Nil)
    }
    /// Makes this value an integer.
    fn set_int(&self, v: i64) -> PyResult<()> {
        self.set(V::Integer(v))
    }
    /// Makes this value an array of `n` nils.
    fn set_array(&self, n: usize) -> PyResult<()> {
        self.set(V::Array(vec![V::Nil; n]))
    }
    /// Makes this value a string (str or bytes).
    fn set_string(&self, s: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set(V::String(body_bytes(s)?))
    }
    /// Makes this value a status (`+OK`).
    fn set_status(&self, s: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set(V::Status(body_bytes(s)?))
    }
    /// Makes this value an error reply.
    fn set_error(&self, s: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set(V::Error(body_bytes(s)?))
    }
    /// True unless an error reply.
    fn is_ok(&self) -> PyResult<bool> {
        self.with(|v| v.is_ok())
    }
    /// True for an error reply.
    fn is_error(&self) -> PyResult<bool> {
        self.with(|v| v.is_error())
    }
    /// True for nil.
    fn is_nil(&self) -> PyResult<bool> {
        self.with(|v| v.is_nil())
    }
    /// True for an integer.
    fn is_int(&self) -> PyResult<bool> {
        self.with(|v| v.is_int())
    }
    /// True for an array.
    fn is_array(&self) -> PyResult<bool> {
        self.with(|v| v.is_array())
    }
    /// True for a string or a status.
    fn is_string(&self) -> PyResult<bool> {
        self.with(|v| matches!(v, V::String(_) | V::Status(_) | V::Verbatim { .. }))
    }
    /// The string's bytes (b'' when not a string, status or error).
    fn string_value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.with(|v| match v {
            V::String(b) | V::Status(b) | V::Error(b) => PyBytes::new(py, b),
            V::Verbatim { text, .. } => PyBytes::new(py, text),
            _ => PyBytes::new(py, b""),
        })
    }
    /// The integer (0 when not one).
    fn int_value(&self) -> PyResult<i64> {
        self.with(|v| v.as_int().unwrap_or(0))
    }
    /// The number of elements (0 when not an array).
    fn arr_size(&self) -> PyResult<usize> {
        self.with(|v| items(v).len())
    }
    /// Empties the array.
    fn arr_clear(&self) -> PyResult<()> {
        self.with(|v| {
            if let V::Array(a) | V::Set(a) | V::Push(a) = v {
                a.clear();
            }
        })
    }
    /// Resizes the array (new elements are nil).
    fn arr_resize(&self, n: usize) -> PyResult<()> {
        self.with(|v| match v {
            V::Array(a) | V::Set(a) | V::Push(a) => a.resize(n, V::Nil),
            _ => *v = V::Array(vec![V::Nil; n]),
        })
    }
    /// Makes this value nil.
    fn clear(&self) -> PyResult<()> {
        self.set(V::Nil)
    }
    /// A readable form, e.g. `b'[nil, [1, "value"], "string"]'`.
    fn debug_string<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut s = String::new();
        self.with(|v| debug(v, &mut s))?;
        Ok(PyBytes::new(py, s.as_bytes()))
    }
    /// A copy of element `i`, or None.
    fn arr_at(&self, i: usize) -> PyResult<Option<RedisValue>> {
        self.element(i)?.map(|e| e.get().map(RedisValue::owned)).transpose()
    }
    /// Element `i` in place (changes reach this value), or None.
    fn arr_at_ref(&self, i: usize) -> PyResult<Option<RedisValue>> {
        self.element(i)
    }
    /// Element `i` as a Python object, or None.
    fn arr_at_object(&self, py: Python<'_>, i: usize) -> PyResult<Option<Py<PyAny>>> {
        self.with(|v| items(v).get(i).map(|x| to_object(py, x)).transpose())?
    }
    /// bytes, int, None or list.
    fn as_object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.with(|v| to_object(py, v))?
    }
    fn __len__(&self) -> PyResult<usize> {
        self.arr_size()
    }
    fn __getitem__(&self, i: usize) -> PyResult<RedisValue> {
        self.element(i)?.ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("RedisValue index out of range"))
    }
    fn __setitem__(&self, i: usize, value: &RedisValue) -> PyResult<()> {
        let v = value.get()?;
        self.with(|x| {
            if let V::Array(a) | V::Set(a) | V::Push(a) = x {
                if let Some(slot) = a.get_mut(i) {
                    *slot = v;
                }
            }
        })
    }
    /// A copy.
    fn copy(&self) -> PyResult<RedisValue> {
        Ok(RedisValue::owned(self.get()?))
    }
    fn __copy__(&self) -> PyResult<RedisValue> {
        self.copy()
    }
    #[pyo3(signature = (_memo = None))]
    fn __deepcopy__(&self, _memo: Option<&Bound<'_, PyAny>>) -> PyResult<RedisValue> {
        self.copy()
    }
    /// Moves this value into `other` (this one becomes nil).
    fn move_to(&self, other: &RedisValue) -> PyResult<()> {
        let v = self.with(std::mem::take)?;
        other.set(v)
    }
    /// Moves `other` into this value (`other` becomes nil).
    fn move_from(&self, other: &RedisValue) -> PyResult<()> {
        other.move_to(self)
    }
    fn __repr__(&self) -> PyResult<String> {
        let mut s = String::new();
        self.with(|v| debug(v, &mut s))?;
        Ok(format!("RedisValue({s})"))
    }
}

server_class!(
    /// A Redis server whose `process(task)` is a Python function.
    RedisServer, wf::redis::RedisServer, wf::redis::RedisServerTask, "RedisTask", wrap_server,
    |f| wf::redis::RedisServer::new(f),
    |p, f| wf::redis::RedisServer::with_params(p, f)
);
