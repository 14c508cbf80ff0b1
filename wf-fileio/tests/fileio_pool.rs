//! The file IO suite (`support::suite!`) on the thread-pool backend, forced
//! through `Settings` (as where io_uring is unavailable).

mod support;

use std::sync::Once;

use wf_core::{FileIoBackend, Settings};
use wf_fileio::{Backend, backend};

fn setup() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let mut s = Settings::default();
        s.fileio_backend = FileIoBackend::ThreadPool;
        s.fileio_threads = 3;
        wf_core::init(s).expect("the first use of wf in this process");
    });
    assert_eq!(backend(), Backend::ThreadPool);
}

support::suite!();
