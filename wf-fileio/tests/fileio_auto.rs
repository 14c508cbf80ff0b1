//! The default settings: `Auto` picks io_uring on Linux where it works, and
//! reports the choice.

mod support;

use wf_core::State;
use wf_fileio::{
    AlreadyInitialized, Backend, FileIoBackend, FileIoSettings, backend, create_pread_task, create_pwrite_task,
    settings,
};

#[test]
fn auto_picks_io_uring_on_linux() {
    assert_eq!(settings(), &FileIoSettings::default());
    assert_eq!(settings().backend, FileIoBackend::Auto);
    let b = backend();
    assert_eq!(backend(), b, "chosen once");
    // Too late now: the backend started with the defaults.
    let mut s = FileIoSettings::default();
    s.backend = FileIoBackend::ThreadPool;
    assert_eq!(wf_fileio::init(s), Err(AlreadyInitialized));
    assert_eq!(backend(), b);
    assert_eq!(b.to_string(), if b == Backend::IoUring { "io_uring" } else { "thread pool" });
    if cfg!(target_os = "linux") && b != Backend::IoUring {
        // Where a seccomp filter blocks io_uring (Docker's default profile), Auto falls
        // back; say so loudly, and fail unless the environment says that is expected.
        eprintln!("\n!!! io_uring is unavailable on this machine: wf-fileio runs on the thread pool\n");
        assert!(
            std::env::var_os("WF_FILEIO_NO_IO_URING").is_some(),
            "io_uring unavailable (set WF_FILEIO_NO_IO_URING=1 where that is expected)"
        );
    }
    if !cfg!(target_os = "linux") {
        assert_eq!(b, Backend::ThreadPool);
    }

    let tmp = support::TempFile::new("auto");
    let w = support::run(create_pwrite_task(tmp.path(), "auto", 0, |_| {}));
    let r = support::run(create_pread_task(tmp.path(), 8, 0, |_| {}));
    assert_eq!((w.state(), r.state(), r.buf()), (State::Success, State::Success, &b"auto"[..]));
}
