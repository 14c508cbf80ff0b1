//! The file IO suite (`support::suite!`) on io_uring with wf's other
//! runtime shapes: one event loop per poller (`work_stealing = false`)
//! and callbacks on handler threads, where the tasks submit from threads
//! other than the pollers that watch the rings' eventfds.

mod support;

use std::sync::Once;

use wf_fileio::{Backend, FileIoBackend, FileIoSettings, backend};

fn setup() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let mut s = wf_core::Settings::default();
        s.poller_threads = 2;
        s.work_stealing = false;
        s.handler_threads = 2;
        wf_core::init(s).expect("the first use of wf in this process");
        let mut f = FileIoSettings::default();
        f.backend = FileIoBackend::IoUring;
        f.threads = 3;
        wf_fileio::init(f).expect("the first file IO in this process");
    });
    assert_eq!(backend(), Backend::IoUring);
}

support::suite!();
support::suite!(operations_completing_later_reach_their_callbacks);
