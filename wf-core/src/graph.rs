//! Graph tasks: tasks ordered by a directed acyclic graph.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, code};
use crate::series::{Driver, End, ParentHook, SeriesWork};
use crate::sync::lock;
use crate::task::{AnyTask, RunContext, Task, TaskKind};

/// Tasks ordered by a DAG (Workflow's `WFGraphTask`).
///
/// Each node runs its task in a series of its own (so the task's callback
/// may push more into it); a node starts when all its predecessors' series
/// have finished, nodes without predecessors start together. Canceling a
/// node's series cancels every successor, recursively. A cycle is reported
/// when the graph starts, as `TASK_ERROR`/[`code::GRAPH_CYCLE`], and no
/// node runs.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wf_core::{create_go_task, create_graph_task};
/// let order = Arc::new(Mutex::new(Vec::new()));
/// let mut g = create_graph_task(|g| assert!(g.state() == wf_core::State::Success));
/// let mut node = |name: &'static str| {
///     let order = order.clone();
///     g.create_graph_node(create_go_task("doc", move || order.lock().unwrap().push(name)))
/// };
/// let (a, b, c) = (node("a"), node("b"), node("c"));
/// g.precede(a, b); // a --> b
/// g.precede(c, b); // c --> b
/// g.start();
/// wf_core::wait_finish();
/// assert_eq!(order.lock().unwrap()[2], "b");
/// ```
pub type GraphTask = Task<Graph>;

/// A node of a [`GraphTask`], returned by [`Graph::create_graph_node`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GraphNode(usize);

/// The kind of a [`GraphTask`].
#[derive(Default)]
pub struct Graph {
    series: Vec<SeriesWork>,
    successors: Vec<Vec<usize>>,
    running: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("nodes", &self.series.len()).finish_non_exhaustive()
    }
}

struct Shared {
    state: Mutex<RunState>,
}

struct RunState {
    successors: Vec<Vec<usize>>,
    /// Predecessors not finished yet, per node.
    waiting_for: Vec<usize>,
    cancel: Vec<bool>,
    /// Nodes not started yet (taken when they start) and finished ones.
    series: Vec<Option<SeriesWork>>,
    left: usize,
    waker: Option<Waker>,
}

impl Shared {
    fn start_node(self: &Arc<Self>, st: &mut RunState, node: usize, ready: &mut Vec<SeriesWork>) {
        let mut s = st.series[node].take().expect("node series");
        if st.cancel[node] {
            s.cancel();
            s.clear();
        }
        s.set_end(End::Parent(self.clone(), node));
        ready.push(s);
    }
}

impl ParentHook for Shared {
    fn series_done(self: Arc<Self>, index: usize, series: SeriesWork) {
        let mut ready = Vec::new();
        let waker = {
            let mut st = lock(&self.state);
            let canceled = series.is_canceled();
            st.series[index] = Some(series);
            st.left -= 1;
            let succ = std::mem::take(&mut st.successors[index]);
            for &s in &succ {
                if canceled {
                    st.cancel[s] = true;
                }
                st.waiting_for[s] -= 1;
                if st.waiting_for[s] == 0 {
                    let mut sw = st.series[s].take().expect("node series");
                    if st.cancel[s] {
                        // Its task never runs; the node finishes canceled at
                        // once and cancels its own successors in turn.
                        sw.cancel();
                        sw.clear();
                    }
                    ready.push((s, sw));
                }
            }
            if st.left == 0 { st.waker.take() } else { None }
        };
        for (i, mut s) in ready {
            s.set_end(End::Parent(self.clone(), i));
            Driver::start(s);
        }
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Graph {
    /// Adds a node running `task`.
    pub fn create_graph_node(&mut self, task: impl Into<AnyTask>) -> GraphNode {
        self.series.push(SeriesWork::new(task));
        self.successors.push(Vec::new());
        GraphNode(self.series.len() - 1)
    }

    /// `a` runs before `b` (Workflow's `a --> b`).
    pub fn precede(&mut self, a: GraphNode, b: GraphNode) {
        self.successors[a.0].push(b.0);
    }

    /// `b` runs after `a` (Workflow's `b <-- a`).
    pub fn succeed(&mut self, b: GraphNode, a: GraphNode) {
        self.precede(a, b);
    }

    /// The series of `node` (e.g. to read its context in the callback).
    pub fn node_series(&mut self, node: GraphNode) -> Option<&mut SeriesWork> {
        self.series.get_mut(node.0)
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        self.series.len()
    }

    /// Predecessor counts, or `None` when the edges form a cycle.
    fn in_degrees(&self) -> Option<Vec<usize>> {
        let n = self.series.len();
        let mut indeg = vec![0usize; n];
        for succ in &self.successors {
            for &s in succ {
                indeg[s] += 1;
            }
        }
        // Kahn's algorithm: every node must be reachable by peeling roots.
        let mut left = indeg.clone();
        let mut stack: Vec<usize> = (0..n).filter(|&i| left[i] == 0).collect();
        let mut seen = 0;
        while let Some(i) = stack.pop() {
            seen += 1;
            for &s in &self.successors[i] {
                left[s] -= 1;
                if left[s] == 0 {
                    stack.push(s);
                }
            }
        }
        (seen == n).then_some(indeg)
    }
}

impl TaskKind for Graph {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let Some(shared) = &self.running else {
            let n = self.series.len();
            if n == 0 {
                return Poll::Ready(());
            }
            let Some(indeg) = self.in_degrees() else {
                run.set_error(Error::task(code::GRAPH_CYCLE));
                return Poll::Ready(());
            };
            let shared = Arc::new(Shared {
                state: Mutex::new(RunState {
                    successors: std::mem::take(&mut self.successors),
                    waiting_for: indeg,
                    cancel: vec![false; n],
                    series: self.series.drain(..).map(Some).collect(),
                    left: n,
                    waker: Some(cx.waker().clone()),
                }),
            });
            let mut ready = Vec::new();
            {
                let mut st = lock(&shared.state);
                for i in 0..n {
                    if st.waiting_for[i] == 0 {
                        shared.start_node(&mut st, i, &mut ready);
                    }
                }
            }
            for s in ready {
                Driver::start(s);
            }
            self.running = Some(shared);
            return Poll::Pending;
        };
        let mut st = lock(&shared.state);
        if st.left != 0 {
            st.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        self.series = st.series.drain(..).map(|s| s.expect("finished node")).collect();
        drop(st);
        self.running = None;
        Poll::Ready(())
    }
}

/// Creates an empty graph task; add nodes and edges, then start it.
pub fn create_graph_task(callback: impl FnOnce(&mut GraphTask) + Send + 'static) -> GraphTask {
    Task::new(Graph::default()).with_callback(callback)
}
