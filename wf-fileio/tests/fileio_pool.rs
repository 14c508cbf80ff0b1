//! The file IO suite (`support::suite!`) on the thread-pool backend, forced
//! through `FileIoSettings` (as where io_uring is unavailable).

mod support;

use std::sync::Once;

use wf_fileio::{Backend, FileIoBackend, FileIoSettings, backend};

fn setup() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let mut s = FileIoSettings::default();
        s.backend = FileIoBackend::ThreadPool;
        s.threads = 3;
        wf_fileio::init(s).expect("the first file IO in this process");
    });
    assert_eq!(backend(), Backend::ThreadPool);
}

support::suite!();
