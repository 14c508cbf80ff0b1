//! The io_uring backend: tokio-uring rings, each driven by a thread of its
//! own. wf tasks (on wf's tokio runtime) send requests over a channel; the
//! ring thread starts one local task per request. Completions go back in
//! batches: the ring thread queues them and wakes one delivery task on
//! wf's runtime, which hands each to its task's oneshot channel. So the
//! ring thread wakes the runtime once per batch rather than once per
//! operation, and the tasks' own wake-ups are local to a poller thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use tokio_uring::buf::{IoBuf, IoBufMut};
use tokio_uring::fs::{File, OpenOptions};
use wf_core::lock::lock;

use crate::op::{Completion, Op, ReadBuf, Reply, Request};
use crate::target::FileTarget;

/// Submission queue size of each ring (the completion queue is twice as
/// big, and the kernel keeps overflowing completions).
const ENTRIES: u32 = 256;
/// Requests taken off the channel at once.
const BATCH: usize = 128;

type Job = (Request, Reply);

/// Finished operations of one ring, waiting for the delivery task.
struct Outbox {
    done: Mutex<Vec<(Completion, Reply)>>,
    ready: Notify,
}

impl Outbox {
    fn push(&self, c: Completion, reply: Reply) {
        lock(&self.done).push((c, reply));
        // Stores a permit if the delivery task is busy: nothing is missed,
        // and a batch costs one wake-up.
        self.ready.notify_one();
    }
}

/// The delivery task of one ring, on wf's runtime.
async fn deliver(outbox: Arc<Outbox>) {
    let mut batch = Vec::new();
    loop {
        outbox.ready.notified().await;
        std::mem::swap(&mut *lock(&outbox.done), &mut batch);
        for (c, reply) in batch.drain(..) {
            // The task may be gone (runtime shutdown): nothing to tell then.
            let _ = reply.send(c);
        }
    }
}

pub(super) struct Rings {
    senders: Vec<mpsc::UnboundedSender<Job>>,
}

impl Rings {
    /// Starts `n` ring threads; the errno of the first ring that cannot be
    /// set up (`EPERM` under a seccomp filter, `ENOSYS` on old kernels).
    pub(super) fn start(n: usize) -> Result<Rings, i32> {
        let mut senders = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = mpsc::unbounded_channel();
            let (probe_tx, probe_rx) = std::sync::mpsc::channel();
            let outbox = Arc::new(Outbox { done: Mutex::new(Vec::new()), ready: Notify::new() });
            let ring_outbox = outbox.clone();
            std::thread::Builder::new()
                .name(format!("wf-fileio-uring-{i}"))
                .spawn(move || match tokio_uring::Runtime::new(tokio_uring::builder().entries(ENTRIES)) {
                    Ok(rt) => {
                        let _ = probe_tx.send(Ok(()));
                        serve(rt, rx, &ring_outbox);
                    }
                    Err(e) => {
                        let _ = probe_tx.send(Err(e.raw_os_error().unwrap_or(libc::EIO)));
                    }
                })
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EAGAIN))?;
            // If a later ring fails, the threads already started see their
            // channel close and exit.
            probe_rx.recv().map_err(|_| libc::EIO)??;
            wf_core::handle().spawn(deliver(outbox));
            senders.push(tx);
        }
        Ok(Rings { senders })
    }

    pub(super) fn submit(&self, req: Request, reply: Reply) {
        let i = match &req.target {
            // A descriptor's operations stay on one ring, in order of submission.
            FileTarget::Fd(fd) => *fd as usize,
            FileTarget::Path(p) => {
                let mut h = DefaultHasher::new();
                p.hash(&mut h);
                h.finish() as usize
            }
        } % self.senders.len();
        if let Err(mpsc::error::SendError((req, reply))) = self.senders[i].send((req, reply)) {
            // Only if the ring thread died.
            let _ = reply.send(Completion { op: req.op, result: Err(libc::EIO) });
        }
    }
}

/// A ring thread's loop.
fn serve(rt: tokio_uring::Runtime, mut rx: mpsc::UnboundedReceiver<Job>, outbox: &Arc<Outbox>) {
    // Descriptors lent by users, one tokio-uring `File` per number. They
    // are never dropped: dropping one would close the user's descriptor.
    // Ops use the number only, so a number the user closes and reuses for
    // another file is served correctly; the map holds at most one entry
    // per descriptor number.
    let borrowed: ManuallyDrop<RefCell<HashMap<RawFd, Rc<File>>>> = ManuallyDrop::new(RefCell::new(HashMap::new()));
    rt.block_on(async {
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            for (req, reply) in batch.drain(..) {
                let file = match req.target {
                    FileTarget::Fd(fd) => Some(
                        borrowed
                            .borrow_mut()
                            .entry(fd)
                            // SAFETY: the user lent `fd` for the task's run;
                            // this `File` is never dropped, so never closes it.
                            .or_insert_with(|| Rc::new(unsafe { File::from_raw_fd(fd) }))
                            .clone(),
                    ),
                    FileTarget::Path(_) => None,
                };
                let outbox = outbox.clone();
                tokio_uring::spawn(async move { outbox.push(run(req, file).await, reply) });
            }
        }
    });
}

async fn run(req: Request, file: Option<Rc<File>>) -> Completion {
    let Request { target, offset, op } = req;
    if let Some(file) = file {
        return exec(&file, offset, op).await;
    }
    let FileTarget::Path(path) = target else { unreachable!("a descriptor comes with its File") };
    let mut o = OpenOptions::new();
    if op.writes() {
        o.write(true).create(true).mode(0o644);
    } else {
        o.read(true);
    }
    match o.open(&path).await {
        Ok(f) => {
            let c = exec(&f, offset, op).await;
            // Closed before the callback runs; a close error changes nothing
            // about the bytes already read or written.
            let _ = f.close().await;
            c
        }
        Err(e) => Completion { op, result: Err(errno(&e)) },
    }
}

async fn exec(f: &File, offset: u64, op: Op) -> Completion {
    match op {
        Op::Read(rb) => {
            let (r, rb) = f.read_at(rb, offset).await;
            Completion { op: Op::Read(rb), result: r.map_err(|e| errno(&e)) }
        }
        Op::Write(buf) => {
            let (r, buf) = f.write_at(buf, offset).submit().await;
            Completion { op: Op::Write(buf), result: r.map_err(|e| errno(&e)) }
        }
        Op::ReadV(bufs) => {
            let (r, bufs) = f.readv_at(bufs, offset).await;
            Completion { op: Op::ReadV(bufs), result: r.map_err(|e| errno(&e)) }
        }
        Op::WriteV(bufs) => {
            let (r, bufs) = f.writev_at(bufs, offset).await;
            Completion { op: Op::WriteV(bufs), result: r.map_err(|e| errno(&e)) }
        }
        Op::Sync { data_only } => {
            let r = if data_only { f.sync_data().await } else { f.sync_all().await };
            Completion { op, result: r.map(|()| 0).map_err(|e| errno(&e)) }
        }
    }
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

// SAFETY: the pointer is the Vec's heap block, which does not move when the
// ReadBuf moves; `bytes_init` is the Vec's length and `bytes_total`
// (`count`) never exceeds its capacity (ReadBuf::new reserved it).
unsafe impl IoBuf for ReadBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.vec.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.vec.len()
    }

    fn bytes_total(&self) -> usize {
        self.count
    }
}

// SAFETY: as for IoBuf; tokio-uring calls `set_init` with the number of
// bytes the kernel wrote from the start of the buffer, at most `count`.
unsafe impl IoBufMut for ReadBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.vec.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        if self.vec.len() < pos {
            // SAFETY: the kernel wrote the first `pos` bytes, `pos <= count`.
            unsafe { self.filled(pos) };
        }
    }
}
