//! The Python side of a task: [`Core`], shared by the Python objects of one
//! task and by the Rust callback the task runs, and the `WFBase` and
//! `SubTask` base classes.

use std::any::Any;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use pyo3::PyClass;
use pyo3::prelude::*;
use wf::{AnyTask, SeriesWork, Task, TaskKind};

use crate::error::{invalid, report};
use crate::lent::Lent;

pub(crate) use wf::lock::lock;

/// Makes the Python object a callback receives for a task.
pub(crate) type Wrap<K> = fn(Python<'_>, Arc<Core<K>>) -> PyResult<Py<PyAny>>;

/// One task as Python sees it: the task itself until it is started, then a
/// [`Lent`] borrow of it while its callback (or a server's `process`) runs.
pub(crate) struct Core<K: TaskKind> {
    owned: Mutex<Option<Task<K>>>,
    pub(crate) lent: Lent<Task<K>>,
    /// The task's series while its callback runs (`series_of`).
    pub(crate) series: Arc<Lent<SeriesWork>>,
    callback: Mutex<Option<Py<PyAny>>>,
    user_data: Mutex<Option<Py<PyAny>>>,
    /// What a kind keeps beyond the callback (a counter's handle, a
    /// server task's reply handle).
    pub(crate) extra: Mutex<Option<Box<dyn Any + Send>>>,
    wrap: Wrap<K>,
    /// The class name, for error messages.
    pub(crate) name: &'static str,
}

impl<K: TaskKind> Core<K> {
    /// A core for a task not created yet; see [`Core::own`].
    pub(crate) fn new(name: &'static str, wrap: Wrap<K>, callback: Option<Py<PyAny>>) -> Arc<Core<K>> {
        Arc::new(Core {
            owned: Mutex::new(None),
            lent: Lent::new(),
            series: Arc::new(Lent::new()),
            callback: Mutex::new(callback),
            user_data: Mutex::new(None),
            extra: Mutex::new(None),
            wrap,
            name,
        })
    }

    /// The Rust callback to give the task: it runs the Python callback.
    pub(crate) fn rust_callback(self: &Arc<Self>) -> impl FnOnce(&mut Task<K>) + Send + 'static {
        let core = self.clone();
        move |t: &mut Task<K>| core.finish(t)
    }

    /// Holds `task` until it is started.
    pub(crate) fn own(&self, task: Task<K>) {
        *lock(&self.owned) = Some(task);
    }

    /// Runs `f` on the task: the one not started yet, or the one whose
    /// callback runs; `InvalidHandleError` otherwise.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Task<K>) -> R) -> PyResult<R> {
        // The lent task first: most calls come from callbacks.
        let f = match self.lent.try_with(f)? {
            Ok(r) => return Ok(r),
            Err(f) => f,
        };
        match lock(&self.owned).as_mut() {
            Some(t) => Ok(f(t)),
            None => Err(invalid(self.name)),
        }
    }

    /// Whether a Python callback or user data is set.
    pub(crate) fn has_callback_or_data(&self) -> bool {
        lock(&self.callback).is_some() || lock(&self.user_data).is_some()
    }

    /// Runs the task's Python callback, if any, with the task and its
    /// series lent; then drops the user data (with the GIL held).
    fn finish(self: &Arc<Self>, t: &mut Task<K>) {
        let cb = lock(&self.callback).take();
        if cb.is_none() && lock(&self.user_data).is_none() {
            return;
        }
        let series = wf::try_series_of(t).map(NonNull::from);
        crate::attach::attach(|py| {
            if let Some(cb) = cb {
                self.call_lent(py, t, series, &cb);
            }
            // Dropped after the lock is released: a `__del__` may run.
            let data = lock(&self.user_data).take();
            drop(data);
        });
    }

    /// Calls `f(wrapper)` with the task (and its series) lent.
    pub(crate) fn call_lent(
        self: &Arc<Self>,
        py: Python<'_>,
        t: &mut Task<K>,
        series: Option<NonNull<SeriesWork>>,
        f: &Py<PyAny>,
    ) {
        let call = || {
            if let Err(e) = (self.wrap)(py, self.clone()).and_then(|obj| f.call1(py, (obj,))) {
                report(py, e, f.bind(py));
            }
        };
        self.lent.lend(t, || match series {
            // SAFETY: wf gives a callback its task's series for the whole
            // callback (series_of), and wf code does not touch it while
            // Python runs.
            Some(s) => unsafe { self.series.lend_ptr(s, call) },
            None => call(),
        });
    }
}

/// A task factory's whole job: starts wf if nothing did, makes the task
/// `make` builds around the core's Rust callback, and returns its Python
/// object (the task is held until it is started).
pub(crate) fn create<K: TaskKind>(
    py: Python<'_>,
    name: &'static str,
    wrap: Wrap<K>,
    callback: Option<Py<PyAny>>,
    make: impl FnOnce(&Arc<Core<K>>) -> Task<K>,
) -> PyResult<Py<PyAny>> {
    crate::settings::ensure_init();
    let core = Core::new(name, wrap, callback);
    core.own(make(&core));
    wrap(py, core)
}

/// What every task class shares, whatever its kind (the `SubTask` methods).
pub(crate) trait AnyCore: Send + Sync {
    /// Takes the task out to start it or to put it into a series.
    fn take(&self) -> PyResult<AnyTask>;
    /// Drops the task if not started (its callback never runs).
    fn release(&self);
    fn state(&self) -> PyResult<i32>;
    fn error(&self) -> PyResult<i32>;
    fn timeout_reason(&self) -> PyResult<i32>;
    fn is_null(&self) -> bool;
    fn callback(&self) -> &Mutex<Option<Py<PyAny>>>;
    fn user_data(&self) -> &Mutex<Option<Py<PyAny>>>;
    fn series(&self) -> Arc<Lent<SeriesWork>>;
}

impl<K: TaskKind> AnyCore for Core<K> {
    fn take(&self) -> PyResult<AnyTask> {
        lock(&self.owned)
            .take()
            .map(AnyTask::from)
            .ok_or_else(|| invalid(&format!("{} (already started, dismissed or added to a series)", self.name)))
    }

    fn release(&self) {
        let t = lock(&self.owned).take();
        drop(t);
    }

    fn state(&self) -> PyResult<i32> {
        self.with(|t| t.state() as i32)
    }

    fn error(&self) -> PyResult<i32> {
        self.with(|t| t.error_code())
    }

    fn timeout_reason(&self) -> PyResult<i32> {
        self.with(|t| t.timeout_reason() as i32)
    }

    fn is_null(&self) -> bool {
        lock(&self.owned).is_none() && !self.lent.is_lent()
    }

    fn callback(&self) -> &Mutex<Option<Py<PyAny>>> {
        &self.callback
    }

    fn user_data(&self) -> &Mutex<Option<Py<PyAny>>> {
        &self.user_data
    }

    fn series(&self) -> Arc<Lent<SeriesWork>> {
        self.series.clone()
    }
}

/// The base of every object whose lifetime wf manages (tasks, series,
/// messages): `isinstance(x, pywf.WFBase)` tells that `x` is only valid
/// in its callback.
#[pyclass(subclass, frozen, module = "pywf")]
#[derive(Debug)]
pub(crate) struct WFBase;

/// The base of every task class.
#[pyclass(subclass, frozen, extends = WFBase, module = "pywf")]
pub(crate) struct SubTask {
    pub(crate) core: Arc<dyn AnyCore>,
}

impl std::fmt::Debug for SubTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubTask")
    }
}

impl Drop for SubTask {
    fn drop(&mut self) {
        // A task never started is dismissed with its last Python object
        // (the callback it holds would otherwise keep it alive).
        self.core.release();
    }
}

/// The initializer of a task object of class `T` over `core`.
pub(crate) fn task_init<T: PyClass<BaseType = SubTask>>(core: Arc<dyn AnyCore>, obj: T) -> PyClassInitializer<T> {
    PyClassInitializer::from(WFBase).add_subclass(SubTask { core }).add_subclass(obj)
}

/// A new Python task object of class `T` over `core`.
pub(crate) fn new_task<T: PyClass<BaseType = SubTask>>(
    py: Python<'_>,
    core: Arc<dyn AnyCore>,
    obj: T,
) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, task_init(core, obj))?.into_any())
}

#[pymethods]
impl SubTask {
    /// Runs the task in a new series (pyworkflow's `start()`).
    fn start(&self) -> PyResult<()> {
        crate::settings::ensure_init();
        SeriesWork::new(self.core.take()?).start();
        Ok(())
    }

    /// Drops the task without running it; its callback never runs.
    fn dismiss(&self) -> PyResult<()> {
        drop(self.core.take()?);
        Ok(())
    }

    /// The task's state (`WFT_STATE_*`).
    fn get_state(&self) -> PyResult<i32> {
        self.core.state()
    }

    /// The error code (errno, `getaddrinfo` code or `WFT_ERR_*`), 0 on success.
    fn get_error(&self) -> PyResult<i32> {
        self.core.error()
    }

    /// Why the task timed out (`TOR_*`).
    fn get_timeout_reason(&self) -> PyResult<i32> {
        self.core.timeout_reason()
    }

    /// Sets (or with `None` removes) the callback run when the task finishes.
    fn set_callback(&self, callback: Option<Py<PyAny>>) {
        // The old one is dropped after the lock is released: a `__del__`
        // may run, and may come back to this task.
        let old = std::mem::replace(&mut *lock(self.core.callback()), callback);
        drop(old);
    }

    /// Attaches an object to the task (released with the task).
    fn set_user_data(&self, data: Option<Py<PyAny>>) {
        // As in `set_callback`: the old object is dropped unlocked.
        let old = std::mem::replace(&mut *lock(self.core.user_data()), data);
        drop(old);
    }

    /// The attached object, or `None`.
    fn get_user_data(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        lock(self.core.user_data()).as_ref().map(|d| d.clone_ref(py))
    }

    /// True when this object no longer reaches a task (started elsewhere,
    /// or its callback returned).
    fn is_null(&self) -> bool {
        self.core.is_null()
    }
}
