//! Series and parallels: `SeriesWork`, `ConstSeriesWork`, `ParallelWork`,
//! `ConstParallelWork`, `series_of`, the factories and `wait_finish`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use wf::{Parallel, ParallelWork as WfParallel, SeriesWork as WfSeries};

use crate::core::{Core, SubTask, WFBase, lock, new_task};
use crate::error::{invalid, report};
use crate::lent::Lent;
use crate::settings::ensure_init;

/// Where a Python series object finds its series.
pub(crate) enum SeriesSrc {
    /// Created, not started: owned here.
    Owned(Mutex<Option<WfSeries>>),
    /// A running series, lent for a callback.
    Lent(Arc<Lent<WfSeries>>),
    /// Series `i` of a parallel whose callback runs.
    ParallelAt(Arc<Core<Parallel>>, usize),
}

impl SeriesSrc {
    fn with<R>(&self, f: impl FnOnce(&mut WfSeries) -> R) -> PyResult<R> {
        match self {
            SeriesSrc::Owned(m) => match lock(m).as_mut() {
                Some(s) => Ok(f(s)),
                None => Err(invalid("SeriesWork (already started, dismissed or added to a parallel)")),
            },
            SeriesSrc::Lent(l) => l.with("SeriesWork", f),
            SeriesSrc::ParallelAt(p, i) => p
                .with(|t| t.series_at_mut(*i).map(f))?
                .ok_or_else(|| PyIndexError::new_err("series index out of range")),
        }
    }

    fn take(&self) -> PyResult<WfSeries> {
        match self {
            SeriesSrc::Owned(m) => {
                lock(m).take().ok_or_else(|| invalid("SeriesWork (already started, dismissed or added to a parallel)"))
            }
            _ => Err(invalid("SeriesWork (a running series cannot be started or added again)")),
        }
    }

    fn is_null(&self) -> bool {
        match self {
            SeriesSrc::Owned(m) => lock(m).is_none(),
            SeriesSrc::Lent(l) => !l.is_lent(),
            SeriesSrc::ParallelAt(p, _) => p.with(|_| ()).is_err(),
        }
    }

    fn context(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.with(|s| s.context::<Py<PyAny>>().map(|c| c.clone_ref(py)))
    }
}

/// The Rust callback of a series running the Python `callback`.
pub(crate) fn series_callback(callback: Py<PyAny>) -> impl FnOnce(&mut WfSeries) + Send + 'static {
    move |s: &mut WfSeries| {
        crate::attach::attach(|py| {
            let lent = Arc::new(Lent::new());
            lent.lend(s, || {
                let obj = Py::new(py, (ConstSeriesWork { src: SeriesSrc::Lent(lent.clone()) }, WFBase));
                if let Err(e) = obj.and_then(|o| callback.call1(py, (o,))) {
                    report(py, e, callback.bind(py));
                }
            });
            drop(callback);
        })
    }
}

/// A series: tasks run one after another (pyworkflow's `SeriesWork`).
#[pyclass(frozen, extends = WFBase, module = "pywf")]
pub(crate) struct SeriesWork {
    pub(crate) src: SeriesSrc,
}

impl SeriesWork {
    pub(crate) fn new_owned(py: Python<'_>, s: WfSeries) -> PyResult<Py<SeriesWork>> {
        Py::new(py, (SeriesWork { src: SeriesSrc::Owned(Mutex::new(Some(s))) }, WFBase))
    }
}

#[pymethods]
impl SeriesWork {
    /// True when this object no longer reaches a series.
    fn is_null(&self) -> bool {
        self.src.is_null()
    }

    /// Starts the series.
    fn start(&self) -> PyResult<()> {
        ensure_init();
        self.src.take()?.start();
        Ok(())
    }

    /// Drops the series without running it.
    fn dismiss(&self) -> PyResult<()> {
        drop(self.src.take()?);
        Ok(())
    }

    /// Appends a task.
    fn push_back(&self, task: &Bound<'_, SubTask>) -> PyResult<()> {
        let t = task.get().core.take()?;
        self.src.with(|s| s.push_back(t))
    }

    /// Puts a task next in line.
    fn push_front(&self, task: &Bound<'_, SubTask>) -> PyResult<()> {
        let t = task.get().core.take()?;
        self.src.with(|s| s.push_front(t))
    }

    /// `series << task` appends `task` and gives the series back.
    fn __lshift__<'py>(slf: &Bound<'py, Self>, task: &Bound<'py, SubTask>) -> PyResult<Bound<'py, Self>> {
        slf.get().push_back(task)?;
        Ok(slf.clone())
    }

    /// Skips the tasks not run yet; the series callback still runs.
    fn cancel(&self) -> PyResult<()> {
        self.src.with(WfSeries::cancel)
    }

    /// True once `cancel` was called.
    fn is_canceled(&self) -> PyResult<bool> {
        self.src.with(|s| s.is_canceled())
    }

    /// Sets (or with `None` removes) the callback run after the last task.
    fn set_callback(&self, callback: Option<Py<PyAny>>) -> PyResult<()> {
        self.src.with(|s| match callback {
            Some(cb) => s.set_callback(series_callback(cb)),
            None => s.set_callback(|_| {}),
        })
    }

    /// Attaches an object to the series (`None` releases it).
    fn set_context(&self, context: Option<Py<PyAny>>) -> PyResult<()> {
        // The old context leaves the lend and is dropped after it (a
        // `__del__` may run and come back to this series).
        let old = self.src.with(|s| {
            let old = s.take_context::<Py<PyAny>>();
            if let Some(c) = context {
                s.set_context(c);
            }
            old
        })?;
        drop(old);
        Ok(())
    }

    /// The attached object, or `None`.
    fn get_context(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.src.context(py)
    }
}

/// The series a series callback receives: read-only.
#[pyclass(frozen, extends = WFBase, module = "pywf")]
pub(crate) struct ConstSeriesWork {
    src: SeriesSrc,
}

#[pymethods]
impl ConstSeriesWork {
    /// True when this object no longer reaches a series.
    fn is_null(&self) -> bool {
        self.src.is_null()
    }

    /// True when the series was canceled.
    fn is_canceled(&self) -> PyResult<bool> {
        self.src.with(|s| s.is_canceled())
    }

    /// The series' context, or `None`.
    fn get_context(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.src.context(py)
    }
}

/// A parallel: series running side by side (a task itself).
#[pyclass(frozen, extends = SubTask, module = "pywf")]
pub(crate) struct ParallelWork {
    core: Arc<Core<Parallel>>,
}

fn wrap_const_parallel(py: Python<'_>, core: Arc<Core<Parallel>>) -> PyResult<Py<PyAny>> {
    new_task(py, core.clone(), ConstParallelWork { core })
}

fn new_parallel(py: Python<'_>, callback: Option<Py<PyAny>>, all: Vec<WfSeries>) -> PyResult<Py<PyAny>> {
    ensure_init();
    let core = Core::new("ParallelWork", wrap_const_parallel, callback);
    let mut p: WfParallel = wf::create_parallel_work(core.rust_callback());
    for s in all {
        p.add_series(s);
    }
    core.own(p);
    new_task(py, core.clone(), ParallelWork { core })
}

fn parallel_context(core: &Core<Parallel>, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
    core.with(|p| p.context::<Py<PyAny>>().map(|c| c.clone_ref(py)))
}

fn series_at(py: Python<'_>, core: &Arc<Core<Parallel>>, i: usize) -> PyResult<Py<ConstSeriesWork>> {
    let n = core.with(|p| p.size())?;
    if i >= n {
        return Err(PyIndexError::new_err(format!("series_at({i}): the parallel has {n} series")));
    }
    Py::new(py, (ConstSeriesWork { src: SeriesSrc::ParallelAt(core.clone(), i) }, WFBase))
}

#[pymethods]
impl ParallelWork {
    /// Adds a series (not started yet).
    fn add_series(&self, series: &Bound<'_, SeriesWork>) -> PyResult<()> {
        let s = series.get().src.take()?;
        self.core.with(|p| p.add_series(s))
    }

    /// `parallel * series` adds `series` and gives the parallel back.
    fn __mul__<'py>(slf: &Bound<'py, Self>, series: &Bound<'py, SeriesWork>) -> PyResult<Bound<'py, Self>> {
        slf.get().add_series(series)?;
        Ok(slf.clone())
    }

    /// Series `i`, read-only.
    fn series_at(&self, py: Python<'_>, i: usize) -> PyResult<Py<ConstSeriesWork>> {
        series_at(py, &self.core, i)
    }

    /// How many series the parallel holds.
    fn size(&self) -> PyResult<usize> {
        self.core.with(|p| p.size())
    }

    /// Attaches an object to the parallel.
    fn set_context(&self, context: Option<Py<PyAny>>) -> PyResult<()> {
        // `None` stores None: the parallel holds no way to drop its context.
        Python::attach(|py| {
            let c = context.unwrap_or_else(|| py.None());
            // The old context is dropped after the lend (see `SeriesWork`).
            let old = self.core.with(|p| match p.context_mut::<Py<PyAny>>() {
                Some(slot) => Some(std::mem::replace(slot, c)),
                None => {
                    p.set_context(c);
                    None
                }
            })?;
            drop(old);
            Ok(())
        })
    }

    /// The attached object, or `None`.
    fn get_context(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        parallel_context(&self.core, py)
    }
}

/// The parallel a parallel callback receives: read-only.
#[pyclass(frozen, extends = SubTask, module = "pywf")]
pub(crate) struct ConstParallelWork {
    core: Arc<Core<Parallel>>,
}

#[pymethods]
impl ConstParallelWork {
    /// Series `i`, read-only.
    fn series_at(&self, py: Python<'_>, i: usize) -> PyResult<Py<ConstSeriesWork>> {
        series_at(py, &self.core, i)
    }

    /// How many series the parallel holds.
    fn size(&self) -> PyResult<usize> {
        self.core.with(|p| p.size())
    }

    /// The parallel's context, or `None`.
    fn get_context(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        parallel_context(&self.core, py)
    }
}

fn opt_callback(cb: &Bound<'_, PyAny>) -> Option<Py<PyAny>> {
    (!cb.is_none()).then(|| cb.clone().unbind())
}

/// Builds a series from `(first, callback)` or `(first, last, callback)`.
fn build_series(args: &Bound<'_, PyTuple>) -> PyResult<WfSeries> {
    let (first, last, cb) = match args.len() {
        2 => (args.get_item(0)?, None, args.get_item(1)?),
        3 => (args.get_item(0)?, Some(args.get_item(1)?), args.get_item(2)?),
        n => return Err(PyTypeError::new_err(format!("expected (first, [last,] callback), got {n} arguments"))),
    };
    let first = first.cast::<SubTask>()?.get().core.take()?;
    let mut s = WfSeries::new(first);
    if let Some(last) = last {
        s.set_last_task(last.cast::<SubTask>()?.get().core.take()?);
    }
    if let Some(cb) = opt_callback(&cb) {
        s.set_callback(series_callback(cb));
    }
    Ok(s)
}

/// `create_series_work(first, callback)` or `(first, last, callback)`.
#[pyfunction]
#[pyo3(signature = (*args))]
pub(crate) fn create_series_work(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<SeriesWork>> {
    ensure_init();
    SeriesWork::new_owned(py, build_series(args)?)
}

/// Creates and starts a series: `(first, callback)` or `(first, last, callback)`.
#[pyfunction]
#[pyo3(signature = (*args))]
pub(crate) fn start_series_work(args: &Bound<'_, PyTuple>) -> PyResult<()> {
    ensure_init();
    build_series(args)?.start();
    Ok(())
}

fn take_all(all: &Bound<'_, PyAny>) -> PyResult<Vec<WfSeries>> {
    let mut v = Vec::new();
    for s in all.try_iter()? {
        v.push(s?.cast::<SeriesWork>()?.get().src.take()?);
    }
    Ok(v)
}

/// `create_parallel_work(callback)` or `(all_series, callback)`.
#[pyfunction]
#[pyo3(signature = (*args))]
pub(crate) fn create_parallel_work(py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    match args.len() {
        1 => new_parallel(py, opt_callback(&args.get_item(0)?), Vec::new()),
        2 => {
            let all = take_all(&args.get_item(0)?)?;
            new_parallel(py, opt_callback(&args.get_item(1)?), all)
        }
        n => Err(PyTypeError::new_err(format!("expected ([all_series,] callback), got {n} arguments"))),
    }
}

/// Creates a parallel of `all_series` and starts it in a new series.
#[pyfunction]
pub(crate) fn start_parallel_work(
    py: Python<'_>,
    all_series: &Bound<'_, PyAny>,
    callback: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let all = take_all(all_series)?;
    let p = new_parallel(py, opt_callback(callback), all)?;
    ensure_init();
    wf::SeriesWork::new(p.bind(py).cast::<SubTask>()?.get().core.take()?).start();
    Ok(())
}

opaque_debug!(SeriesWork, ConstSeriesWork, ParallelWork, ConstParallelWork);

/// The series of a task whose callback runs (or of a server task in
/// `process`); a null series (`is_null()`) for any other task.
#[pyfunction]
pub(crate) fn series_of(py: Python<'_>, task: &Bound<'_, SubTask>) -> PyResult<Py<SeriesWork>> {
    Py::new(py, (SeriesWork { src: SeriesSrc::Lent(task.get().core.series()) }, WFBase))
}

/// The poll step of every wait: short, so that Ctrl-C is seen quickly.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Waits, with the GIL released, until `done(step)` says so, running
/// Python's signal handlers between steps (Ctrl-C raises here).
pub(crate) fn wait_interruptible(
    py: Python<'_>,
    timeout: Option<Duration>,
    done: impl Fn(Duration) -> bool + Send + Sync,
) -> PyResult<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let step = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                left.min(WAIT_STEP)
            }
            None => WAIT_STEP,
        };
        if py.detach(|| done(step)) {
            return Ok(true);
        }
        py.check_signals()?;
    }
}

/// Blocks until every started series finished; Ctrl-C interrupts it.
#[pyfunction]
pub(crate) fn wait_finish(py: Python<'_>) -> PyResult<()> {
    wait_interruptible(py, None, wf::wait_finish_timeout).map(drop)
}

/// Like `wait_finish`, for at most `seconds`; True when all finished.
#[pyfunction]
pub(crate) fn wait_finish_timeout(py: Python<'_>, seconds: f64) -> PyResult<bool> {
    let t = Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX);
    wait_interruptible(py, Some(t), wf::wait_finish_timeout)
}
