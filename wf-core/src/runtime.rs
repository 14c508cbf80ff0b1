//! The global runtime: settings, lazy start, and waiting for series.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::handlers::Pool;
use crate::lock::{lock, wait, wait_timeout};

/// Global settings, applied once by [`init`] before wf is first used
/// (Workflow's `WORKFLOW_library_init`). Fields not set keep their defaults.
///
/// ```
/// let mut s = wf_core::Settings::default();
/// s.compute_threads = 2;
/// assert!(s.poller_threads >= 1);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// Threads that run IO, timers and callbacks: one event loop each (or
    /// the workers of one tokio runtime, with [`work_stealing`](Settings::work_stealing)).
    /// Default: the number of CPUs.
    pub poller_threads: usize,
    /// Threads of the compute pool that runs go, thread and algorithm
    /// tasks, at start; [`increase_compute_thread`](crate::increase_compute_thread)
    /// and [`decrease_compute_thread`](crate::decrease_compute_thread)
    /// change the count later. Default: the number of CPUs.
    pub compute_threads: usize,
    /// Defaults for every client connection target.
    pub endpoint_params: EndpointParams,
    /// How long a name resolved on a task's first attempt stays cached
    /// (Workflow's `dns_ttl_default`, 3600 s).
    pub dns_ttl_default: Duration,
    /// How long a cached name is trusted by a retry (Workflow's
    /// `dns_ttl_min`, 60 s): retries look names up again sooner.
    pub dns_ttl_min: Duration,
    /// Threads that may run blocking name lookups at once (4), with
    /// [`Resolver::Getaddrinfo`].
    pub dns_threads: usize,
    /// How host names are resolved: [`Resolver::Async`] (the default, as
    /// in Workflow) or blocking `getaddrinfo`.
    pub resolver: Resolver,
    /// Which addresses of a name are used (Workflow's
    /// `endpoint_params.address_family`): both (the default), or only
    /// IPv4 or IPv6.
    pub address_family: AddressFamily,
    /// Whether TLS clients send the server's name (SNI). Default `true`
    /// (Workflow: `false`): wf verifies certificates, and servers that
    /// host several names need it to pick the right one.
    pub use_tls_sni: bool,
    /// The `resolv.conf` the asynchronous resolver reads once, at its
    /// first lookup (`/etc/resolv.conf`). Its name servers must be
    /// addresses: one given by name is ignored (finding it would need the
    /// resolver itself). Without any, 127.0.0.1 is asked.
    pub resolv_conf_path: std::path::PathBuf,
    /// The hosts file the asynchronous resolver reads once, at its first
    /// lookup (`/etc/hosts`).
    pub hosts_path: std::path::PathBuf,
    /// Parameters of the connections to DNS servers; `max_connections`
    /// (200) caps the lookups in flight at once.
    pub dns_server_params: EndpointParams,
    /// How poller threads share work. `false` (the default): Workflow's
    /// model, each poller thread its own event loop (a tokio
    /// current-thread runtime). Server connections are spread over the
    /// loops, each served by its loop alone, which schedules many busy
    /// connections fairly and keeps the tail latency low; every new series
    /// (`start()`, the series of a parallel or a graph) goes to the next
    /// loop in turn, so a parallel of series runs on every poller thread.
    /// A series stays on its loop once started, and one that blocks its
    /// loop stalls the connections and series sharing it (CPU work belongs
    /// in a go task).
    ///
    /// `true`: one tokio multi-thread runtime whose workers steal work from
    /// each other, which balances uneven series better; but with a
    /// thousand busy connections its scheduler serves some of them ten
    /// times later than others (p99 at 1,000 connections: 150 ms against
    /// 15 ms on event loops, see BENCHMARKS.md).
    pub work_stealing: bool,
    /// Threads that run series, apart from the pollers (Workflow's
    /// `handler_threads`). `0` (the default): series run on the poller
    /// threads, so a task's callback, a server's `process` and a series
    /// callback run where the IO runs, with no thread switch; one that
    /// blocks stalls the other connections of its poller. `n > 0`:
    /// Workflow's model, every series (task callbacks, server `process`,
    /// series callbacks) runs on a pool of `n` handler threads while the
    /// connections' IO stays on the pollers, so a blocking callback holds
    /// up only its own series (and a handler thread); each request and
    /// each series started then costs a hand-over between threads.
    /// Workflow's default is 20.
    pub handler_threads: usize,
}

/// How host names are resolved: see [`Settings::resolver`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolver {
    /// Workflow's default: the hosts file, then the name servers of
    /// `resolv.conf` asked by wf's own DNS client, A and AAAA in parallel
    /// (with [`AddressFamily::Unspecified`], only the families the host has
    /// a route for, detected once: no AAAA on an IPv4-only host).
    #[default]
    Async,
    /// Blocking `getaddrinfo` on up to `dns_threads` threads (Workflow
    /// with `resolv_conf_path` set to null).
    Getaddrinfo,
}

/// Which addresses a name resolves to: see [`Settings::address_family`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressFamily {
    /// IPv4 and IPv6 (`AF_UNSPEC`).
    #[default]
    Unspecified,
    /// IPv4 only (`AF_INET`).
    Ipv4,
    /// IPv6 only (`AF_INET6`).
    Ipv6,
}

/// Per-target client defaults (Workflow's `EndpointParams`). A timeout of
/// `None` waits forever.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointParams {
    /// Connections open at once to one target (200); a task that finds no
    /// free slot fails with `SYS_ERROR`/`EAGAIN` unless it has a wait
    /// timeout.
    pub max_connections: usize,
    /// Limit on establishing a TCP (or Unix) connection (10 s).
    pub connect_timeout: Option<Duration>,
    /// Limit on each read or write making progress (10 s).
    pub response_timeout: Option<Duration>,
    /// Limit on the TLS handshake (10 s).
    pub ssl_connect_timeout: Option<Duration>,
    /// wf: the largest response a client task accepts, in bytes on the
    /// wire (64 MiB), unless the task sets its own
    /// (`ClientOptions::set_response_size_limit`).
    /// Over it the task fails with `SYS_ERROR`/`EMSGSIZE` and the
    /// connection is closed; nothing past it is buffered.
    pub response_size_limit: Option<usize>,
}

impl Default for EndpointParams {
    fn default() -> EndpointParams {
        let ten = Some(Duration::from_secs(10));
        EndpointParams {
            max_connections: 200,
            connect_timeout: ten,
            response_timeout: ten,
            ssl_connect_timeout: ten,
            response_size_limit: Some(64 << 20),
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Settings {
            poller_threads: cpus,
            compute_threads: cpus,
            endpoint_params: EndpointParams::default(),
            dns_ttl_default: Duration::from_secs(3600),
            dns_ttl_min: Duration::from_secs(60),
            dns_threads: 4,
            resolver: Resolver::Async,
            address_family: AddressFamily::Unspecified,
            use_tls_sni: true,
            resolv_conf_path: "/etc/resolv.conf".into(),
            hosts_path: "/etc/hosts".into(),
            dns_server_params: EndpointParams::default(),
            work_stealing: false,
            handler_threads: 0,
        }
    }
}

/// Returned by [`init`] when the settings can no longer change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyInitialized;

impl fmt::Display for AlreadyInitialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wf is already initialized: settings must be applied before first use")
    }
}

impl std::error::Error for AlreadyInitialized {}

/// The poller threads: one work-stealing runtime, or one event loop each.
pub(crate) enum Pollers {
    Stealing(tokio::runtime::Runtime),
    Loops { handles: Vec<tokio::runtime::Handle>, next: AtomicUsize },
}

fn pollers() -> &'static Pollers {
    crate::global::pollers().get_or_init(|| {
        let s = settings();
        if s.work_stealing {
            return Pollers::Stealing(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(s.poller_threads)
                    .thread_name("wf-poller")
                    .enable_all()
                    .build()
                    .expect("wf: cannot start the tokio runtime"),
            );
        }
        let handles = (0..s.poller_threads)
            .map(|i| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .thread_name("wf-poller")
                    .enable_all()
                    .build()
                    .expect("wf: cannot start a poller");
                let handle = rt.handle().clone();
                std::thread::Builder::new()
                    .name(format!("wf-poller-{i}"))
                    .spawn(move || rt.block_on(std::future::pending::<()>()))
                    .expect("wf: cannot start a poller thread");
                handle
            })
            .collect();
        Pollers::Loops { handles, next: AtomicUsize::new(0) }
    })
}

/// Applies `settings`. Call it once, before anything else in wf; a second
/// call, or a call after wf started with the defaults, returns an error and
/// changes nothing.
pub fn init(settings: Settings) -> Result<(), AlreadyInitialized> {
    let mut settings = settings;
    settings.poller_threads = settings.poller_threads.max(1);
    settings.compute_threads = settings.compute_threads.max(1);
    settings.dns_threads = settings.dns_threads.max(1);
    crate::global::settings().set(settings).map_err(|_| AlreadyInitialized)
}

/// The settings in force (the defaults once wf started without [`init`]).
pub fn settings() -> &'static Settings {
    crate::global::settings().get_or_init(Settings::default)
}

/// The pollers' tokio runtime, started on first use: with one event loop
/// per poller (the default), the first loop's, so that what is spawned or
/// blocked on through it runs there; with
/// [`work_stealing`](Settings::work_stealing), the one runtime.
pub fn handle() -> &'static tokio::runtime::Handle {
    match pollers() {
        Pollers::Stealing(rt) => rt.handle(),
        Pollers::Loops { handles, .. } => &handles[0],
    }
}

/// With one loop per poller: the next poller's runtime, round robin.
pub(crate) fn next_loop() -> Option<&'static tokio::runtime::Handle> {
    match pollers() {
        Pollers::Stealing(_) => None,
        Pollers::Loops { handles, next } => Some(&handles[next.fetch_add(1, Ordering::Relaxed) % handles.len()]),
    }
}

/// Runs `f` on the pollers: with one loop per poller, on the calling
/// poller's own loop (what a connection or a client pipe hands on stays
/// where its socket is), from elsewhere on the next loop in turn.
#[cfg_attr(not(feature = "net"), allow(dead_code))] // connections and pipes use it
pub(crate) fn spawn<F: Future<Output = ()> + Send + 'static>(f: F) {
    match pollers() {
        Pollers::Stealing(rt) => drop(rt.handle().spawn(f)),
        Pollers::Loops { handles, next } => match tokio::runtime::Handle::try_current() {
            Ok(h) if handles.iter().any(|p| p.id() == h.id()) => drop(h.spawn(f)),
            _ => drop(handles[next.fetch_add(1, Ordering::Relaxed) % handles.len()].spawn(f)),
        },
    }
}

/// Runs `f`, a new series, on the pollers: with one loop per poller, on
/// the next loop in turn wherever it is called from, so that the series
/// of a parallel (or many series started from one callback) run on every
/// poller thread; a work-stealing runtime balances by itself.
fn spread<F: Future<Output = ()> + Send + 'static>(f: F) {
    match pollers() {
        Pollers::Stealing(rt) => drop(rt.handle().spawn(f)),
        Pollers::Loops { handles, next } => {
            drop(handles[next.fetch_add(1, Ordering::Relaxed) % handles.len()].spawn(f))
        }
    }
}

/// The handler threads, when `handler_threads` is not 0: wf's own pool
/// (see [`crate::handlers`]); what their futures create (sockets, timers,
/// spawned tasks) registers with the pollers, see [`OnPollers`].
fn handlers() -> Option<&'static Pool> {
    *crate::global::handlers().get_or_init(|| {
        let n = settings().handler_threads;
        (n > 0).then(|| {
            let pool = Pool::start(n);
            // Each loop wakes the handler threads once a turn (with a
            // work-stealing runtime, each hand-over wakes at once).
            if let Pollers::Loops { handles, .. } = pollers() {
                for h in handles {
                    drop(h.spawn(crate::handlers::on_poller(pool)));
                }
            }
            pool
        })
    })
}

/// True when series run on handler threads (`handler_threads` > 0).
#[cfg_attr(not(feature = "net"), allow(dead_code))] // servers use it
pub(crate) fn has_handlers() -> bool {
    handlers().is_some()
}

/// Runs a series' future: on the handler threads when there are some,
/// else on the pollers, spread over the loops (see [`spread`]).
pub(crate) fn spawn_series<F: Future<Output = ()> + Send + Unpin + 'static>(f: F) {
    match handlers() {
        None => spread(f),
        Some(h) => {
            let pollers = next_loop().unwrap_or_else(handle);
            h.spawn(OnPollers { pollers, f });
        }
    }
}

/// A future polled on a handler thread with a poller runtime entered: the
/// sockets and timers it creates, and what it spawns, belong to the
/// pollers, so IO stays on them.
struct OnPollers<F> {
    pollers: &'static tokio::runtime::Handle,
    f: F,
}

impl<F: Future + Unpin> Future for OnPollers<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _rt = self.pollers.enter();
        Pin::new(&mut self.f).poll(cx)
    }
}

pub(crate) fn series_started() {
    let (live, _, _) = crate::global::live_series();
    live.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn series_ended() {
    let (live, live_lock, zero) = crate::global::live_series();
    if live.fetch_sub(1, Ordering::AcqRel) == 1 {
        let _g = lock(live_lock);
        zero.notify_all();
    }
}

/// Blocks until every started series has finished (its callback included).
///
/// Series that servers create for requests are not counted: stop servers
/// with their `stop()`. Never call this from a callback: it would block a
/// thread the series you wait for may need.
pub fn wait_finish() {
    let (live, live_lock, zero) = crate::global::live_series();
    let mut g = lock(live_lock);
    while live.load(Ordering::Acquire) != 0 {
        g = wait(zero, g);
    }
}

/// Like [`wait_finish`], but gives up after `timeout`; true when every
/// series finished.
pub fn wait_finish_timeout(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let (live, live_lock, zero) = crate::global::live_series();
    let mut g = lock(live_lock);
    while live.load(Ordering::Acquire) != 0 {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        g = wait_timeout(zero, g, deadline - now).0;
    }
    true
}
