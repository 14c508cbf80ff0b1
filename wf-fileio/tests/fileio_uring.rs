//! The file IO suite (`support::suite!`) on the io_uring backend, with two
//! rings, required through `FileIoSettings`: if io_uring cannot run here, every
//! test fails, loudly.

mod support;

use std::sync::Once;

use wf_fileio::{Backend, FileIoBackend, FileIoSettings, backend};

fn setup() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let mut s = FileIoSettings::default();
        s.backend = FileIoBackend::IoUring;
        s.threads = 2;
        wf_fileio::init(s).expect("the first file IO in this process");
    });
    assert_eq!(backend(), Backend::IoUring);
}

support::suite!();

/// Says plainly when the machine has no io_uring (a seccomp filter in a
/// container gives EPERM), instead of leaving only the suite's failures.
#[test]
fn io_uring_is_available_here() {
    setup();
    let t = support::run(wf_fileio::create_fsync_task(-2, |_| {}));
    assert_eq!(t.error_code(), libc::EBADF, "precheck");
    let tmp = support::TempFile::with("probe", b"probe");
    let t = support::run(wf_fileio::create_pread_task(tmp.path(), 5, 0, |_| {}));
    assert!(
        t.state() == wf_core::State::Success,
        "\n\n!!! io_uring does not work on this machine ({}): the io_uring backend cannot run here.\n\
         !!! wf falls back to the thread pool with the default settings; these tests require io_uring.\n",
        t.error_text()
    );
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

/// Operations that do not complete inside their submission (here reads
/// of an empty pipe) complete when the kernel is done, through the ring's
/// eventfd, even with more of them waiting than the rings hold (they
/// queue for room): nothing is lost and nothing hangs.
#[test]
fn operations_completing_later_reach_their_callbacks() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};

    setup();
    // Two rings of 512 in flight each (see `setup`): 1,500 readers.
    const N: usize = 1500;
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
    assert_eq!(rx.recv_timeout(support::WAIT).unwrap(), N);
    assert_eq!(got.load(Ordering::Relaxed), N);
}
