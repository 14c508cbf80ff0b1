//! The file IO checks, shared by the test binaries that pin a backend
//! (`fileio_uring`, `fileio_pool`): each binary calls `suite!()`, which
//! makes one `#[test]` per check, each calling the binary's `setup()`
//! first.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::future::IntoFuture;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

pub(crate) use testkit::WAIT;
use wf_core::{State, Task, TaskKind, create_parallel_work, create_series_work, series_of};
use wf_fileio::{
    FileTarget, create_fdatasync_task, create_fsync_task, create_pread_task, create_preadv_task, create_pwrite_task,
    create_pwritev_task,
};

/// One `#[test]` per check below.
#[allow(unused_macros)]
macro_rules! suite {
    () => {
        $crate::support::suite!(
            roundtrip_on_fd,
            cpp_pwrite_then_pread_on_fd,
            cpp_pwrite_then_pread_on_path,
            vectored_roundtrip,
            short_reads_at_eof,
            sync_tasks_succeed,
            ebadf_errors,
            enoent_errors,
            bad_input_is_an_error,
            offsets_beyond_4_gib,
            thousand_concurrent_operations,
            dismissed_tasks_release_everything,
            awaited_tasks,
        );
    };
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                setup();
                support::$name();
            }
        )*
    };}
#[allow(unused_imports)]
pub(crate) use suite;

/// A path for a file (not created) in a scratch directory of its own
/// ([`testkit::TempDir`]), removed on drop.
pub(crate) struct TempFile {
    path: PathBuf,
    _dir: testkit::TempDir,
}

impl TempFile {
    pub(crate) fn new(tag: &str) -> TempFile {
        let dir = testkit::TempDir::new("fileio");
        TempFile { path: dir.path().join(tag), _dir: dir }
    }

    /// A temp file holding `data`.
    pub(crate) fn with(tag: &str, data: &[u8]) -> TempFile {
        let t = TempFile::new(tag);
        std::fs::write(&t.path, data).unwrap();
        t
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opened for reading and writing (created if missing).
    pub(crate) fn open_rw(&self) -> File {
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&self.path).unwrap()
    }
}

/// Starts `task` and gives it back once its callback ran.
pub(crate) fn run<K: TaskKind>(task: Task<K>) -> Task<K> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let _ = tx.send(rt.block_on(task.into_future()));
    });
    testkit::recv(&rx)
}

fn ok<K: TaskKind>(t: &Task<K>) {
    assert_eq!(t.state(), State::Success, "{}", t.error_text());
    assert_eq!(t.error_code(), 0);
}

fn sys_error<K: TaskKind>(t: &Task<K>, errno: i32) {
    assert_eq!((t.state(), t.error_code()), (State::SysError, errno), "{}", t.error_text());
}

pub(crate) fn roundtrip_on_fd() {
    let tmp = TempFile::new("rt");
    let file = tmp.open_rw();
    let fd = file.as_raw_fd();

    let w = run(create_pwrite_task(fd, b"hello, file".to_vec(), 3, |_| {}));
    ok(&w);
    assert_eq!(w.retval(), 11);
    assert_eq!((w.fd(), w.path(), w.offset(), w.count(), w.is_write()), (Some(fd), None, 3, 11, true));
    assert_eq!(w.buf(), b"hello, file", "a pwrite task keeps its data");

    let mut r = run(create_pread_task(fd, 11, 3, |_| {}));
    ok(&r);
    assert_eq!(r.retval(), 11);
    assert_eq!((r.fd(), r.offset(), r.count(), r.is_write()), (Some(fd), 3, 11, false));
    assert_eq!(r.take_buf(), b"hello, file");
    assert!(r.buf().is_empty());

    // The descriptor is still the user's, and still open.
    let mut got = [0u8; 5];
    file.read_exact_at(&mut got, 3).unwrap();
    assert_eq!(&got, b"hello");
    assert_eq!(std::fs::read(tmp.path()).unwrap(), b"\0\0\0hello, file");
}

/// C++ Workflow's file IO test: pwrite "testtest" at offset 80 and, in the
/// callback, push a pread of it into the same series.
fn cpp_case(target: FileTarget) {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let read_target = target.clone();
    let write = create_pwrite_task(target, "testtest", 80, move |t| {
        tx.send(("pwrite", t.state(), t.retval(), t.buf().to_vec())).unwrap();
        let tx = tx.clone();
        series_of(t).push_back(create_pread_task(read_target, 8, 80, move |t| {
            tx.send(("pread", t.state(), t.retval(), t.take_buf())).unwrap();
        }));
    });
    create_series_work(write, move |_| tx2.send(("series", State::Success, 0, Vec::new())).unwrap()).start();
    let got: Vec<_> = (0..3).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(
        got,
        [
            ("pwrite", State::Success, 8, b"testtest".to_vec()),
            ("pread", State::Success, 8, b"testtest".to_vec()),
            ("series", State::Success, 0, Vec::new()),
        ]
    );
}

pub(crate) fn cpp_pwrite_then_pread_on_fd() {
    let tmp = TempFile::new("cpp-fd");
    let file = tmp.open_rw();
    cpp_case(FileTarget::Fd(file.as_raw_fd()));
    let data = std::fs::read(tmp.path()).unwrap();
    assert_eq!(data.len(), 88);
    assert_eq!(&data[80..], b"testtest");
}

pub(crate) fn cpp_pwrite_then_pread_on_path() {
    let tmp = TempFile::new("cpp-path");
    cpp_case(tmp.path().into());
    let data = std::fs::read(tmp.path()).unwrap();
    assert_eq!((data.len(), &data[80..]), (88, &b"testtest"[..]));
    // Created with 0644 (less what the umask takes away), never executable.
    let mode = std::fs::metadata(tmp.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o644, 0, "mode {mode:o}");
    assert_ne!(mode & 0o600, 0, "mode {mode:o}");

    // Writing through a path does not truncate what is there.
    ok(&run(create_pwrite_task(tmp.path(), "TEST", 84, |_| {})));
    let data = std::fs::read(tmp.path()).unwrap();
    assert_eq!(&data[80..], b"testTEST");
}

pub(crate) fn vectored_roundtrip() {
    let tmp = TempFile::new("vec");
    let file = tmp.open_rw();
    let fd = file.as_raw_fd();
    let bufs = vec![b"ab".to_vec(), b"cde".to_vec(), Vec::new(), b"fgh".to_vec()];
    let w = run(create_pwritev_task(fd, bufs.clone(), 10, |_| {}));
    ok(&w);
    assert_eq!((w.retval(), w.offset(), w.is_write()), (8, 10, true));
    assert_eq!(w.bufs(), &bufs[..], "a pwritev task keeps its data");

    let mut r = run(create_preadv_task(fd, [3, 0, 5], 10, |_| {}));
    ok(&r);
    assert_eq!(r.retval(), 8);
    assert_eq!(r.take_bufs(), [b"abc".to_vec(), Vec::new(), b"defgh".to_vec()]);

    // The same on a path: gather-write at 0, scatter-read back.
    ok(&run(create_pwritev_task(tmp.path(), vec![b"12".to_vec(), b"345".to_vec()], 0, |_| {})));
    let r = run(create_preadv_task(tmp.path(), [1, 4, 2], 0, |_| {}));
    ok(&r);
    assert_eq!(r.retval(), 7);
    assert_eq!(r.bufs(), [b"1".to_vec(), b"2345".to_vec(), b"\0\0".to_vec()]);
    assert_eq!(r.path(), Some(tmp.path()));
    assert_eq!(std::fs::read(tmp.path()).unwrap(), b"12345\0\0\0\0\0abcdefgh");
}

pub(crate) fn short_reads_at_eof() {
    let tmp = TempFile::with("eof", b"hello, workflow"); // 15 bytes
    let file = File::open(tmp.path()).unwrap();
    let fd = file.as_raw_fd();

    // pywf gave back all 100 bytes, the tail uninitialised; here exactly 15.
    let r = run(create_pread_task(fd, 100, 0, |_| {}));
    ok(&r);
    assert_eq!((r.retval(), r.buf()), (15, &b"hello, workflow"[..]));
    let r = run(create_pread_task(tmp.path(), 100, 7, |_| {}));
    assert_eq!((r.retval(), r.buf()), (8, &b"workflow"[..]));

    for offset in [15, 16, 1 << 20] {
        let r = run(create_pread_task(fd, 10, offset, |_| {}));
        ok(&r);
        assert_eq!((r.retval(), r.buf()), (0, &b""[..]), "offset {offset}");
    }
    let r = run(create_pread_task(fd, 0, 0, |_| {}));
    ok(&r);
    assert_eq!(r.retval(), 0);

    let r = run(create_preadv_task(fd, [10, 10, 10], 0, |_| {}));
    ok(&r);
    assert_eq!(r.retval(), 15);
    assert_eq!(r.bufs(), [b"hello, wor".to_vec(), b"kflow".to_vec(), Vec::new()]);
}

pub(crate) fn sync_tasks_succeed() {
    let tmp = TempFile::with("sync", b"data");
    let file = tmp.open_rw();
    let fd = file.as_raw_fd();
    for t in [
        run(create_fsync_task(fd, |_| {})),
        run(create_fdatasync_task(fd, |_| {})),
        run(create_fsync_task(tmp.path(), |_| {})),
        run(create_fdatasync_task(tmp.path(), |_| {})),
    ] {
        ok(&t);
        assert_eq!(t.retval(), 0);
    }
    let t = run(create_fdatasync_task(fd, |_| {}));
    assert_eq!((t.fd(), t.is_datasync()), (Some(fd), true));
    let t = run(create_fsync_task(tmp.path(), |_| {}));
    assert_eq!((t.path(), t.is_datasync()), (Some(tmp.path()), false));
}

/// A descriptor number that is certainly not open (above any test's files).
const NOT_OPEN: i32 = 1_000_000;

pub(crate) fn ebadf_errors() {
    for fd in [-1, NOT_OPEN] {
        let r = run(create_pread_task(fd, 8, 0, |_| {}));
        sys_error(&r, libc::EBADF);
        assert_eq!((r.retval(), r.buf()), (-1, &b""[..]));
        assert_eq!(r.error_text(), "Bad file descriptor");
        let w = run(create_pwrite_task(fd, "data", 0, |_| {}));
        sys_error(&w, libc::EBADF);
        assert_eq!((w.retval(), w.buf()), (-1, &b"data"[..]), "the data comes back on failure too");
        sys_error(&run(create_preadv_task(fd, [1, 2], 0, |_| {})), libc::EBADF);
        sys_error(&run(create_pwritev_task(fd, vec![b"x".to_vec()], 0, |_| {})), libc::EBADF);
        let s = run(create_fsync_task(fd, |_| {}));
        sys_error(&s, libc::EBADF);
        assert_eq!(s.retval(), -1);
        sys_error(&run(create_fdatasync_task(fd, |_| {})), libc::EBADF);
    }
    // Writing through a read-only descriptor: the kernel's EBADF.
    let tmp = TempFile::with("ro", b"read only");
    let file = File::open(tmp.path()).unwrap();
    sys_error(&run(create_pwrite_task(file.as_raw_fd(), "x", 0, |_| {})), libc::EBADF);
    sys_error(&run(create_pwritev_task(file.as_raw_fd(), vec![b"x".to_vec()], 0, |_| {})), libc::EBADF);
    assert_eq!(std::fs::read(tmp.path()).unwrap(), b"read only");
}

pub(crate) fn enoent_errors() {
    let missing = TempFile::new("missing");
    let r = run(create_pread_task(missing.path(), 8, 0, |_| {}));
    sys_error(&r, libc::ENOENT);
    assert_eq!(r.error_text(), "No such file or directory");
    assert_eq!(r.retval(), -1);
    sys_error(&run(create_preadv_task(missing.path(), [4], 0, |_| {})), libc::ENOENT);
    sys_error(&run(create_fsync_task(missing.path(), |_| {})), libc::ENOENT);
    sys_error(&run(create_fdatasync_task(missing.path(), |_| {})), libc::ENOENT);
    assert!(!missing.path().exists(), "reads and syncs never create the file");

    let in_missing_dir = missing.path().join("file");
    sys_error(&run(create_pwrite_task(&in_missing_dir, "x", 0, |_| {})), libc::ENOENT);
    sys_error(&run(create_pwritev_task(&in_missing_dir, vec![b"x".to_vec()], 0, |_| {})), libc::ENOENT);
}

pub(crate) fn bad_input_is_an_error() {
    let tmp = TempFile::with("bad", b"data");
    let file = tmp.open_rw();
    let fd = file.as_raw_fd();
    // An offset the kernel would see as negative.
    sys_error(&run(create_pread_task(fd, 4, u64::MAX, |_| {})), libc::EINVAL);
    sys_error(&run(create_pwrite_task(fd, "x", 1 << 63, |_| {})), libc::EINVAL);
    sys_error(&run(create_preadv_task(fd, [4], u64::MAX, |_| {})), libc::EINVAL);
    // A read larger than memory: ENOMEM in the callback, not an abort.
    let r = run(create_pread_task(fd, usize::MAX, 0, |_| {}));
    sys_error(&r, libc::ENOMEM);
    assert_eq!(r.count(), usize::MAX);
    sys_error(&run(create_preadv_task(fd, [4, usize::MAX], 0, |_| {})), libc::ENOMEM);
    // More buffers than IOV_MAX: the kernel's EINVAL.
    sys_error(&run(create_preadv_task(fd, vec![1; 2000], 0, |_| {})), libc::EINVAL);
    assert_eq!(std::fs::read(tmp.path()).unwrap(), b"data");
}

pub(crate) fn offsets_beyond_4_gib() {
    let tmp = TempFile::new("sparse");
    let file = tmp.open_rw();
    let fd = file.as_raw_fd();
    let far = (5u64 << 30) + 3;
    ok(&run(create_pwrite_task(fd, "far away", far, |_| {})));
    assert_eq!(file.metadata().unwrap().len(), far + 8);
    let r = run(create_pread_task(fd, 8, far, |_| {}));
    ok(&r);
    assert_eq!(r.buf(), b"far away");
    // A hole reads as zeros.
    let r = run(create_pread_task(tmp.path(), 4, 4u64 << 30, |_| {}));
    ok(&r);
    assert_eq!(r.buf(), [0; 4]);
    // Vectored, on a path, just past 4 GiB.
    let at = (4u64 << 30) + 1;
    ok(&run(create_pwritev_task(tmp.path(), vec![b"ab".to_vec(), b"cd".to_vec()], at, |_| {})));
    let r = run(create_preadv_task(fd, [1, 3], at, |_| {}));
    assert_eq!(r.bufs(), [b"a".to_vec(), b"bcd".to_vec()]);
    let mut got = [0u8; 4];
    file.read_exact_at(&mut got, at).unwrap();
    assert_eq!(&got, b"abcd");
}

/// 1,000 pwrites in one parallel, then 1,000 preads in another.
pub(crate) fn thousand_concurrent_operations() {
    const N: u64 = 1000;
    let tmp = TempFile::new("many");
    let file = tmp.open_rw();
    let fd = file.as_raw_fd();
    let record = |i: u64| format!("{i:07}\n").into_bytes();

    let (tx, rx) = mpsc::channel();
    let ok_count = Arc::new(AtomicUsize::new(0));
    let mut writes = create_parallel_work({
        let tx = tx.clone();
        move |p| tx.send(p.size()).unwrap()
    });
    for i in 0..N {
        let ok_count = ok_count.clone();
        let task = create_pwrite_task(fd, record(i), i * 8, move |t| {
            if t.state() == State::Success && t.retval() == 8 {
                ok_count.fetch_add(1, Ordering::Relaxed);
            }
        });
        writes.add_series(create_series_work(task, |_| {}));
    }
    writes.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), N as usize);
    assert_eq!(ok_count.load(Ordering::Relaxed), N as usize);
    let data = std::fs::read(tmp.path()).unwrap();
    assert_eq!(data, (0..N).flat_map(record).collect::<Vec<u8>>());

    // Reads, half on the descriptor and half on the path, each checking its record.
    let bad = Arc::new(Mutex::new(Vec::new()));
    let mut reads = create_parallel_work(move |p| tx.send(p.size()).unwrap());
    for i in 0..N {
        let bad = bad.clone();
        let target: FileTarget = if i % 2 == 0 { fd.into() } else { tmp.path().into() };
        let task = create_pread_task(target, 8, i * 8, move |t| {
            if t.state() != State::Success || t.buf() != record(i) {
                bad.lock().unwrap().push((i, t.state(), t.buf().to_vec()));
            }
        });
        reads.add_series(create_series_work(task, |_| {}));
    }
    reads.start();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), N as usize);
    assert_eq!(*bad.lock().unwrap(), []);
}

pub(crate) fn dismissed_tasks_release_everything() {
    let tmp = TempFile::new("dismissed");
    let called = Arc::new(AtomicBool::new(false));
    let held = Arc::new(());
    fn callback<T>(called: &Arc<AtomicBool>, held: &Arc<()>) -> impl FnOnce(&mut T) + Send + 'static {
        let (called, held) = (called.clone(), held.clone());
        move |_| {
            let _ = &held;
            called.store(true, Ordering::SeqCst);
        }
    }
    let w = create_pwrite_task(tmp.path(), vec![7u8; 1 << 20], 0, callback(&called, &held));
    let r = create_pread_task(tmp.path(), 1 << 20, 0, callback(&called, &held));
    let v = create_pwritev_task(tmp.path(), vec![vec![1u8; 10]], 0, callback(&called, &held));
    let s = create_fsync_task(tmp.path(), callback(&called, &held));
    assert_eq!(Arc::strong_count(&held), 5);
    assert_eq!((w.retval(), r.retval(), w.buf().len()), (-1, -1, 1 << 20));
    drop((w, r, v, s));
    // A series never started is dismissed with its tasks.
    let series = create_series_work(create_pwrite_task(tmp.path(), "x", 0, callback(&called, &held)), |_| {});
    drop(series);
    assert_eq!(Arc::strong_count(&held), 1, "callbacks and buffers were dropped");
    wf_core::wait_finish();
    assert!(!called.load(Ordering::SeqCst), "no callback ran");
    assert!(!tmp.path().exists(), "nothing was opened or created");
}

pub(crate) fn awaited_tasks() {
    let tmp = TempFile::new("await");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (w, r) = rt.block_on(async {
        let w = create_pwrite_task(tmp.path(), "awaited", 0, |_| {}).await;
        let r = create_pread_task(tmp.path(), 64, 0, |_| {}).await;
        (w, r)
    });
    ok(&w);
    ok(&r);
    assert_eq!((w.retval(), r.retval(), r.buf()), (7, 7, &b"awaited"[..]));
}

/// A pipe: reads on it wait in the kernel until something is written.
fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors, owned from here on.
    unsafe { (std::os::fd::OwnedFd::from_raw_fd(fds[0]), std::os::fd::OwnedFd::from_raw_fd(fds[1])) }
}

/// io_uring only (a pread of a pipe is `ESPIPE` for the pool): operations
/// that do not complete inside their submission (here reads of an empty
/// pipe) complete when the kernel is done, through the ring's eventfd,
/// even with more of them waiting than the rings hold (they queue for
/// room): nothing is lost and nothing hangs.
pub(crate) fn operations_completing_later_reach_their_callbacks() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};

    // A ring holds 512 operations: with two or three rings, some of the
    // 2,000 readers wait for room.
    const N: usize = 2000;
    let (r, w) = pipe();
    let got = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let mut readers = wf_core::create_parallel_work(move |p| tx.send(p.size()).unwrap());
    for _ in 0..N {
        let got = got.clone();
        let task = wf_fileio::create_pread_task(r.as_raw_fd(), 1, 0, move |t| {
            if t.state() == wf_core::State::Success && t.buf() == b"x" {
                got.fetch_add(1, Ordering::Relaxed);
            }
        });
        readers.add_series(wf_core::create_series_work(task, |_| {}));
    }
    readers.start();
    let mut w = std::fs::File::from(w);
    w.write_all(&[b'x'; N]).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), N);
    assert_eq!(got.load(Ordering::Relaxed), N);
}
