//! What the network task classes share: a task object over a client or a
//! server task, its request and response objects ([`net_task!`]).

/// Declares, for one protocol, the enum of its client and server task
/// cores, the task class and the request and response classes (their
/// protocol-specific methods are added by the caller's `#[pymethods]`
/// through `message_methods`-style macros).
macro_rules! net_task {
    (
        core: $core:ident, task: $task:ident, task_doc: $task_doc:literal,
        req: $req:ident, resp: $resp:ident,
        client: $client:ty, proto: $proto:ty, wf_req: $wfreq:ty, wf_resp: $wfresp:ty,
        wrap_client: $wrap_client:ident, wrap_server: $wrap_server:ident,
        task_methods: { $($extra:tt)* }
    ) => {
/// The task behind a task object: a client task or a server task.
#[derive(Clone)]
pub(crate) enum $core {
    Client(Arc<Core<$client>>),
    Server(Arc<Core<ServerKind<$proto>>>),
}

impl $core {
    fn with_req<R>(&self, f: impl FnOnce(&mut $wfreq) -> R) -> PyResult<R> {
        match self {
            $core::Client(c) => c.with(|t| f(t.req_mut())),
            $core::Server(c) => c.with(|t| f(t.req_mut())),
        }
    }

    fn with_resp<R>(&self, f: impl FnOnce(&mut $wfresp) -> R) -> PyResult<R> {
        match self {
            $core::Client(c) => c.with(|t| f(t.resp_mut())),
            $core::Server(c) => {
                // In `process` (or a callback lending the task): the task's.
                let mut f = Some(f);
                if let Ok(r) = c.lent.try_with(|t| f.take().map(|f| f(t.resp_mut())))? {
                    return r.ok_or_else(|| crate::error::invalid(c.name));
                }
                let f = f.take().ok_or_else(|| crate::error::invalid(c.name))?;
                // Once `process` returned, the reply lives in its handle
                // until it is sent.
                let handle = lock(&c.extra).as_ref().and_then(|h| h.downcast_ref::<ReplyHandle<$proto>>()).cloned();
                if let Some(mut resp) = handle.as_ref().and_then(ReplyHandle::lock) {
                    return Ok(f(&mut resp));
                }
                c.with(|t| f(t.resp_mut()))
            }
        }
    }
}

fn $wrap_client(py: Python<'_>, core: Arc<Core<$client>>) -> PyResult<Py<PyAny>> {
    new_task(py, core.clone(), $task { core: $core::Client(core) })
}

fn $wrap_server(py: Python<'_>, core: Arc<Core<ServerKind<$proto>>>) -> PyResult<Py<PyAny>> {
    new_task(py, core.clone(), $task { core: $core::Server(core) })
}

#[doc = $task_doc]
#[pyclass(frozen, extends = SubTask, module = "pywf")]
pub(crate) struct $task {
    core: $core,
}

#[pymethods]
impl $task {
    $($extra)*

    /// The request.
    fn get_req(&self, py: Python<'_>) -> PyResult<Py<$req>> {
        Py::new(py, ($req { core: self.core.clone() }, WFBase))
    }

    /// The response (a server task: the reply being built).
    fn get_resp(&self, py: Python<'_>) -> PyResult<Py<$resp>> {
        Py::new(py, ($resp { core: self.core.clone() }, WFBase))
    }

    /// Server task: close the connection instead of replying; in
    /// `process` or any later callback of its series, until the reply is
    /// sent.
    fn noreply(&self) -> PyResult<()> {
        match &self.core {
            $core::Server(c) => {
                // Once `process` returned, through the reply's handle
                // (nothing once the reply was sent).
                let handle = lock(&c.extra).as_ref().and_then(|h| h.downcast_ref::<ReplyHandle<$proto>>()).cloned();
                match handle {
                    Some(h) => {
                        h.noreply();
                        Ok(())
                    }
                    None => c.with(|t| t.noreply()),
                }
            }
            $core::Client(_) => Ok(()),
        }
    }

    /// Server task: the request's index on its connection, from 0.
    fn get_task_seq(&self) -> PyResult<u64> {
        match &self.core {
            $core::Server(c) => c.with(|t| t.task_seq()),
            $core::Client(c) => c.with(|_| 0),
        }
    }

    /// The peer's `(ip, port)`, `('', 0)` when unknown.
    fn get_peer_addr(&self) -> PyResult<(String, u16)> {
        let addr = match &self.core {
            $core::Server(c) => c.with(|t| t.peer_addr())?,
            $core::Client(c) => c.with(|t| t.peer_addr())?,
        };
        Ok(addr.map_or((String::new(), 0), |a| (a.ip().to_string(), a.port())))
    }

    /// Client: send timeout, ms.
    fn set_send_timeout(&self, ms_: u64) -> PyResult<()> {
        match &self.core {
            $core::Client(c) => c.with(|t| t.set_send_timeout(Duration::from_millis(ms_))),
            $core::Server(_) => Ok(()),
        }
    }

    /// Client: receive timeout, ms.
    fn set_receive_timeout(&self, ms_: u64) -> PyResult<()> {
        match &self.core {
            $core::Client(c) => c.with(|t| t.set_receive_timeout(Duration::from_millis(ms_))),
            $core::Server(_) => Ok(()),
        }
    }

    /// Client: how long the connection may stay idle for reuse, ms.
    fn set_keep_alive(&self, ms_: u64) -> PyResult<()> {
        match &self.core {
            $core::Client(c) => c.with(|t| t.set_keep_alive(Duration::from_millis(ms_))),
            $core::Server(_) => Ok(()),
        }
    }
}

#[doc = concat!("A request (valid while its task is).")]
#[pyclass(frozen, extends = WFBase, module = "pywf")]
pub(crate) struct $req {
    core: $core,
}

#[doc = "A response (valid while its task is; a server's reply until sent)."]
#[pyclass(frozen, extends = WFBase, module = "pywf")]
pub(crate) struct $resp {
    core: $core,
}


        opaque_debug!($task, $req, $resp);
    };
}

pub(crate) use net_task;
