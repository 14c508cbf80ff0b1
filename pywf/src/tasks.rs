//! Timer, counter, go, empty and dynamic tasks, `count_by_name` and
//! `WaitGroup`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use wf::timer::Timer;
use wf::{Counter, CounterHandle, Dynamic, Empty, Go};

use crate::core::{Core, SubTask, create, lock, new_task};
use crate::error::report;
use crate::flow::wait_interruptible;
use crate::settings::ensure_init;

macro_rules! simple_task {
    ($(#[$doc:meta])* $name:ident, $kind:ty, $wrap:ident) => {
        $(#[$doc])*
        #[pyclass(frozen, extends = SubTask, module = "pywf")]
        pub(crate) struct $name {
            #[allow(dead_code)]
            core: Arc<Core<$kind>>,
        }

        opaque_debug!($name);

        fn $wrap(py: Python<'_>, core: Arc<Core<$kind>>) -> PyResult<Py<PyAny>> {
            new_task(py, core.clone(), $name { core })
        }
    };
}

simple_task!(
    /// A timer task (`create_timer_task`).
    TimerTask, Timer, wrap_timer
);
simple_task!(
    /// A go task: a Python function run on the compute pool.
    GoTask, Go<()>, wrap_go
);
simple_task!(
    /// A task that does nothing.
    EmptyTask, Empty, wrap_empty
);
simple_task!(
    /// A task that, when it starts, asks a Python function for the task to
    /// run in its place.
    DynamicTask, Dynamic, wrap_dynamic
);
simple_task!(
    /// A counter task: done when counted `target` times.
    CounterTask, Counter, wrap_counter
);

/// A timer of `microseconds`.
#[pyfunction]
pub(crate) fn create_timer_task(py: Python<'_>, microseconds: u64, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    create(py, "TimerTask", wrap_timer, callback, |c| {
        wf::timer::create_timer_task(Duration::from_micros(microseconds), c.rust_callback())
    })
}

/// `create_counter_task(target, callback)` or `(name, target, callback)`.
#[pyfunction]
#[pyo3(signature = (*args))]
pub(crate) fn create_counter_task(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    ensure_init();
    let (name, target, cb) = match args.len() {
        2 => (None, args.get_item(0)?.extract::<u32>()?, args.get_item(1)?),
        3 => (Some(args.get_item(0)?.extract::<String>()?), args.get_item(1)?.extract::<u32>()?, args.get_item(2)?),
        n => return Err(PyTypeError::new_err(format!("expected ([name,] target, callback), got {n} arguments"))),
    };
    let cb = (!cb.is_none()).then(|| cb.unbind());
    let core = Core::new("CounterTask", wrap_counter, cb);
    let t = match name {
        Some(n) => wf::create_named_counter_task(&n, target, core.rust_callback()),
        None => wf::create_counter_task(target, core.rust_callback()),
    };
    // Counting works also once the task is started (as in pyworkflow).
    *lock(&core.extra) = Some(Box::new(t.handle()));
    core.own(t);
    wrap_counter(py, core)
}

#[pymethods]
impl CounterTask {
    /// Counts once.
    fn count(&self) {
        if let Some(h) = lock(&self.core.extra).as_ref().and_then(|h| h.downcast_ref::<CounterHandle>()) {
            h.count();
        }
    }
}

/// Counts the counters named `name` `n` times in all, in creation order.
#[pyfunction]
pub(crate) fn count_by_name(name: &str, n: u32) {
    wf::count_by_name(name, n);
}

/// `create_go_task(function, *args, **kwargs)`, or with a compute queue
/// name first: `create_go_task(name, function, *args, **kwargs)`.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
pub(crate) fn create_go_task(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    ensure_init();
    if args.is_empty() {
        return Err(PyTypeError::new_err("create_go_task: a function is required"));
    }
    let named = args.get_item(0)?.is_instance_of::<PyString>() && args.len() >= 2;
    let (queue, skip) =
        if named { (args.get_item(0)?.extract::<String>()?, 1) } else { ("pywf-default".to_string(), 0) };
    let func = args.get_item(skip)?.unbind();
    let fargs = args.get_slice(skip + 1, args.len()).unbind();
    let fkwargs = kwargs.map(|k| k.clone().unbind());
    let core = Core::new("GoTask", wrap_go, None);
    let t = wf::create_go_task(&queue, move || {
        crate::attach::attach(|py| {
            let kw = fkwargs.as_ref().map(|k| k.bind(py));
            if let Err(e) = func.call(py, fargs.bind(py), kw) {
                report(py, e, func.bind(py));
            }
        })
    });
    core.own(t.with_callback(core.rust_callback()));
    wrap_go(py, core)
}

/// A task that does nothing.
#[pyfunction]
pub(crate) fn create_empty_task(py: Python<'_>) -> PyResult<Py<PyAny>> {
    create(py, "EmptyTask", wrap_empty, None, |c| wf::create_empty_task().with_callback(c.rust_callback()))
}

/// A task that calls `creater(dynamic_task)` when it starts and runs the
/// task it returns in its place.
#[pyfunction]
pub(crate) fn create_dynamic_task(py: Python<'_>, creater: Py<PyAny>) -> PyResult<Py<PyAny>> {
    ensure_init();
    let core = Core::new("DynamicTask", wrap_dynamic, None);
    let c = core.clone();
    let t = wf::create_dynamic_task(move |d: &mut wf::DynamicTask| {
        crate::attach::attach(|py| {
            let made = c.lent.lend(d, || -> PyResult<wf::AnyTask> {
                let obj = wrap_dynamic(py, c.clone())?;
                let next = creater.call1(py, (obj,))?;
                next.bind(py).cast::<SubTask>()?.get().core.take()
            });
            made.unwrap_or_else(|e| {
                report(py, e, creater.bind(py));
                wf::create_empty_task().into()
            })
        })
    });
    core.own(t.with_callback(core.rust_callback()));
    wrap_dynamic(py, core)
}

/// Waits for `n` calls of `done()` (Go's `sync.WaitGroup`).
#[pyclass(frozen, module = "pywf")]
#[derive(Debug)]
pub(crate) struct WaitGroup {
    wg: Arc<wf::WaitGroup>,
}

#[pymethods]
impl WaitGroup {
    #[new]
    fn py_new(n: i64) -> WaitGroup {
        WaitGroup { wg: Arc::new(wf::WaitGroup::new(n)) }
    }

    /// One done.
    fn done(&self) {
        self.wg.done();
    }

    /// Blocks (GIL released, Ctrl-C interrupts) until `n` were done.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let wg = self.wg.clone();
        wait_interruptible(py, None, move |step| wg.wait_timeout(step)).map(drop)
    }

    /// Like `wait`, for at most `seconds`; True when done.
    fn wait_timeout(&self, py: Python<'_>, seconds: f64) -> PyResult<bool> {
        let wg = self.wg.clone();
        let t = Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX);
        wait_interruptible(py, Some(t), move |step| wg.wait_timeout(step))
    }
}
