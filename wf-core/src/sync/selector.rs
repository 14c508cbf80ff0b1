use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::Error;
use crate::lock::lock;
use crate::shutdown::ShutdownWatch;
use crate::task::{RunContext, Task, TaskKind};

/// A task that takes the first message offered by any of `candidates`
/// submitters (Workflow's `WFSelectorTask`).
///
/// Each candidate submits once, `Some(message)` or `None`; the first
/// `Some` wins and the callback can run as soon as the task started. When
/// every candidate submitted `None` the task fails with
/// `SYS_ERROR`/`ENOMSG`; [`shutdown`](crate::shutdown) aborts a selector
/// still waiting. A first-of-N request or a backup request racing a
/// timer are built this way.
///
/// ```
/// use wf_core::create_selector_task;
/// let mut s = create_selector_task(2, |s: &mut wf_core::SelectorTask<u8>| {
///     assert_eq!(s.message(), Some(&7));
/// });
/// let (a, b) = (s.handle(), s.handle());
/// s.start();
/// assert!(!a.submit(None));
/// assert!(b.submit(Some(7)));
/// wf_core::wait_finish();
/// ```
pub type SelectorTask<M> = Task<Selector<M>>;

/// The kind of a [`SelectorTask`].
#[derive(Debug)]
pub struct Selector<M> {
    shared: Arc<SelectorShared<M>>,
    message: Option<M>,
    watch: ShutdownWatch,
}

#[derive(Debug)]
struct SelectorShared<M> {
    candidates: usize,
    state: Mutex<SelectorState<M>>,
}

#[derive(Debug)]
struct SelectorState<M> {
    message: Option<M>,
    accepted: bool,
    submitted: usize,
    waker: Option<Waker>,
}

impl<M: Send + 'static> Selector<M> {
    /// A handle for one candidate.
    pub fn handle(&self) -> SelectorHandle<M> {
        SelectorHandle { shared: self.shared.clone() }
    }

    /// The accepted message.
    pub fn message(&self) -> Option<&M> {
        self.message.as_ref()
    }

    /// Takes the accepted message out.
    pub fn take_message(&mut self) -> Option<M> {
        self.message.take()
    }
}

impl<M: Send + 'static> TaskKind for Selector<M> {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        let mut st = lock(&self.shared.state);
        if st.accepted {
            self.message = st.message.take();
            Poll::Ready(())
        } else if st.submitted >= self.shared.candidates {
            run.set_error(Error::sys(libc::ENOMSG));
            Poll::Ready(())
        } else {
            st.waker = Some(cx.waker().clone());
            drop(st);
            if self.watch.poll_shutdown(cx).is_pending() {
                return Poll::Pending;
            }
            let mut st = lock(&self.shared.state);
            if st.accepted {
                self.message = st.message.take();
            } else {
                // Aborted: later submissions are refused.
                st.accepted = true;
                run.set_error(Error::aborted());
            }
            Poll::Ready(())
        }
    }
}

/// Submits a candidate's message to a [`SelectorTask`].
#[derive(Debug)]
pub struct SelectorHandle<M> {
    shared: Arc<SelectorShared<M>>,
}

impl<M> Clone for SelectorHandle<M> {
    fn clone(&self) -> Self {
        SelectorHandle { shared: self.shared.clone() }
    }
}

impl<M> SelectorHandle<M> {
    /// Offers `msg`; true when it was the first `Some` and was accepted.
    pub fn submit(&self, msg: Option<M>) -> bool {
        let mut st = lock(&self.shared.state);
        st.submitted += 1;
        let accepted = match msg {
            Some(m) if !st.accepted => {
                st.accepted = true;
                st.message = Some(m);
                true
            }
            _ => false,
        };
        let wake = accepted || st.submitted == self.shared.candidates;
        let w = if wake { st.waker.take() } else { None };
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
        accepted
    }
}

/// Creates a selector waiting for `candidates` submissions.
pub fn create_selector_task<M: Send + 'static>(
    candidates: usize,
    callback: impl FnOnce(&mut SelectorTask<M>) + Send + 'static,
) -> SelectorTask<M> {
    let shared = Arc::new(SelectorShared {
        candidates,
        state: Mutex::new(SelectorState { message: None, accepted: false, submitted: 0, waker: None }),
    });
    Task::new(Selector { shared, message: None, watch: ShutdownWatch::new() }).with_callback(callback)
}
