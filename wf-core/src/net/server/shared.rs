//! What the server handle, its accept loop, its UDP receive loop, its
//! connections and its tasks share: the protocol, the parameters, the registry of open connections
//! (with what each is doing, for admission) and the counts that
//! `wait_finish` waits on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::Notify;

use super::params::ServerParams;
use super::protocol::ServerProtocol;
use crate::series::{ParentHook, SeriesWork};
use crate::sync::lock;

/// The state of one server, behind an `Arc`: the server handle, the accept
/// loop, every connection and every request's series hold it.
pub(super) struct Shared<P: ServerProtocol> {
    pub(super) protocol: P,
    pub(super) params: ServerParams,
    #[cfg(feature = "tls")]
    pub(super) tls: Mutex<Option<crate::net::tls::TlsServer>>,
    pub(super) listen: Mutex<Listening>,
    pub(super) stopping: AtomicBool,
    /// The accept loop runs (its listener is open).
    pub(super) accepting: AtomicBool,
    /// Where the server receives datagrams, and how to stop that.
    pub(super) udp: Mutex<Listening>,
    /// The UDP receive loop runs.
    pub(super) udp_receiving: AtomicBool,
    /// Datagram requests taken and not yet answered (or given up): counted
    /// from the datagram, so that `wait_finish` also waits for a request
    /// handed to the handler threads and not started yet.
    pub(super) udp_inflight: AtomicUsize,
    /// Open connections, by id.
    pub(super) conns: Mutex<HashMap<u64, Arc<ConnEntry>>>,
    pub(super) next_conn: AtomicU64,
    /// Request series not finished yet.
    pub(super) inflight: AtomicUsize,
    pub(super) quiet: Mutex<()>,
    pub(super) quiet_cv: Condvar,
    /// Threads in `wait_finish`.
    pub(super) waiters: AtomicUsize,
}

/// Where the server listens, and how to stop its accept loop.
#[derive(Default)]
pub(super) struct Listening {
    pub(super) addr: Option<SocketAddr>,
    pub(super) stop: Option<Arc<Notify>>,
}

impl<P: ServerProtocol> Shared<P> {
    /// A server's state, nothing open yet.
    pub(super) fn new(protocol: P, params: ServerParams) -> Shared<P> {
        Shared {
            protocol,
            params,
            #[cfg(feature = "tls")]
            tls: Mutex::new(None),
            listen: Mutex::new(Listening::default()),
            stopping: AtomicBool::new(false),
            accepting: AtomicBool::new(false),
            udp: Mutex::new(Listening::default()),
            udp_receiving: AtomicBool::new(false),
            udp_inflight: AtomicUsize::new(0),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            quiet: Mutex::new(()),
            quiet_cv: Condvar::new(),
            waiters: AtomicUsize::new(0),
        }
    }

    /// Wakes `wait_finish`, if anyone waits: a `notify_all` is a syscall
    /// even with no waiter, and this runs after nearly every request.
    pub(super) fn notify_quiet(&self) {
        if self.waiters.load(Ordering::Acquire) == 0 {
            return;
        }
        let _g = lock(&self.quiet);
        self.quiet_cv.notify_all();
    }

    /// Connection `id` has closed.
    pub(super) fn conn_closed(&self, id: u64) {
        lock(&self.conns).remove(&id);
        self.notify_quiet();
    }
}

impl<P: ServerProtocol> ParentHook for Shared<P> {
    fn series_done(self: Arc<Self>, _index: usize, series: SeriesWork) {
        drop(series);
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.notify_quiet();
        }
    }
}

/// What a connection is doing, as it last published it: what admission
/// looks at to choose a connection to close when the server is full.
///
/// The connection publishes it before each wait, and only when it
/// changed (see `conn.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Activity {
    /// Accepted: TLS handshake or the protocol's `on_accept` under way.
    Opening,
    /// Waiting for a request since this instant (accepted, or its last
    /// write): no byte of one has come.
    Idle(std::time::Instant),
    /// A request began at this instant and has not completed (its bytes
    /// may be in the read buffer or in the codec: an HTTP body arriving),
    /// and nothing is in flight.
    Receiving(std::time::Instant),
    /// Requests in flight: processed, or replies waiting their turn.
    Serving,
}

/// The server's handle on one open connection: what it is doing, and a
/// way to make it close.
pub(super) struct ConnEntry {
    activity: Mutex<Activity>,
    /// Makes an idle or receiving connection close (eviction), or tells
    /// it the server stops.
    pub(super) kick: Notify,
}

impl ConnEntry {
    /// A connection just accepted.
    pub(super) fn new() -> ConnEntry {
        ConnEntry { activity: Mutex::new(Activity::Opening), kick: Notify::new() }
    }

    /// What the connection last said it was doing.
    pub(super) fn activity(&self) -> Activity {
        *lock(&self.activity)
    }

    /// Connection side: says what it is doing now.
    #[inline]
    pub(super) fn publish(&self, activity: Activity) {
        *lock(&self.activity) = activity;
    }
}
