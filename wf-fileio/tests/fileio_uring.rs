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

support::suite!(operations_completing_later_reach_their_callbacks);
