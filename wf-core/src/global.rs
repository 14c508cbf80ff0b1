//! Every piece of process-wide state wf-core keeps, in one place.
//!
//! wf is a process-wide engine, as Workflow is: one runtime, one set of
//! connection pools, one DNS cache. Each registry below lives here and
//! nowhere else; the module that owns the concept reaches it through its
//! function here and keeps the logic. Nothing here is public: what a user
//! may change goes through the API of the owning module (`init`,
//! `register_scheme_port`, `register_task_error`, `register_route`,
//! `count_by_name`…).
//!
//! | registry | what it holds | owner |
//! |---|---|---|
//! | [`settings`] | the [`Settings`](crate::Settings), set once by `init` or defaulted on first use | `runtime` |
//! | [`pollers`] | the tokio runtime(s) the poller threads run | `runtime` |
//! | [`handlers`] | the handler threads' pool, if `handler_threads` asks for one | `runtime`, `handlers` |
//! | [`live_series`] | series started and not finished, and the condvar `wait_finish` sleeps on | `runtime` |
//! | [`executor`] | the compute pool: its threads and named queues (executors a program creates are its own) | `compute` |
//! | [`task_error_texts`] | names of task error codes registered by protocol crates | `error` |
//! | [`named_counters`], [`named_mailboxes`], [`named_conditionals`], [`named_guards`] | the named sync tasks `count_by_name`, `send_by_name`, `signal_by_name` and guards reach | `sync` |
//! | [`scheme_ports`] | default ports of URL schemes | `net::uri` |
//! | [`dns_cache`], [`dns_lookup_limit`] | resolved names with their age, lookups in flight; the cap on concurrent `getaddrinfo` calls | `net::resolve` |
//! | [`dns_resolver`], [`dns_server_limit`] | the hosts file and `resolv.conf` client of the asynchronous resolver, read at its first lookup; the cap on its lookups in flight (the cache reaches its lookup through [`dns_async_lookup`]) | `net::dns::resolver` |
//! | [`routes`], [`dns_route`] | routes registered under a host name and the default route if set; the DNS route with the addresses that failed to connect lately | `net::route` |
//! | [`upstreams`] | upstreams by name (each also registered as a route) | `upstream` |
//! | [`pools`] | idle and open client connections per target | `net::client::pool` |
//! | [`pipes`] | shared (pipelined) client connections per target | `net::client::pipe` |
//! | [`tls_provider`], [`tls_verified`], [`tls_insecure`], [`tls_next_id`] | the rustls crypto provider, the two shared client configurations, and the id counter that keys pooled connections by TLS configuration | `net::tls` |
//! | [`shutdown_watchers`] | whether `shutdown()` was called, and the wakers of waiting tasks it must wake | `shutdown` |
//! | [`shutdown_pipe`] | the self-pipe of the SIGINT/SIGTERM (and SIGHUP) handler: its read end (set once the handler is installed) and its write end (read by the handler) | `signal` |
//! | [`handoff_taken`] | whether the listening socket and the readiness socket a predecessor handed over were taken (each may be owned once) | `net::handoff` |
//!
//! Per-thread state, by design not shared: the series a callback runs in
//! (`series::CURRENT`, for `series_of`), each thread's cache of parsed
//! URLs (`Uri::parse_cached`), each thread's spare buffers for server
//! connections waiting idle (`net::spare`, at most 64 pairs), on
//! poller threads the handler pool's end-of-turn waker and mailbox (and
//! on handler threads the running job's poller; `handlers`), and
//! wf-http's per-second `Date` header.
//! Other crates' registries: wf-timer's named timers (for
//! `cancel_by_name`), wf-fileio's settings and IO backend, wf-mysql's fixed
//! connections, each in one documented `static` of its crate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicUsize};
use std::sync::{Condvar, Mutex, OnceLock, RwLock};

use crate::runtime::{Pollers, Settings};
use crate::sync::Registry;

/// The settings, set once (see `runtime::init`).
pub(crate) fn settings() -> &'static OnceLock<Settings> {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    &SETTINGS
}

/// The poller threads' runtime(s), started on first use.
pub(crate) fn pollers() -> &'static OnceLock<Pollers> {
    static POLLERS: OnceLock<Pollers> = OnceLock::new();
    &POLLERS
}

/// The handler threads' pool (`None` with `handler_threads` 0), started
/// on first use.
pub(crate) fn handlers() -> &'static OnceLock<Option<&'static crate::handlers::Pool>> {
    static HANDLERS: OnceLock<Option<&'static crate::handlers::Pool>> = OnceLock::new();
    &HANDLERS
}

/// Series started and not yet finished, the lock `wait_finish` sleeps
/// under, and the condvar it sleeps on.
pub(crate) fn live_series() -> (&'static AtomicUsize, &'static Mutex<()>, &'static Condvar) {
    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static LOCK: Mutex<()> = Mutex::new(());
    static ZERO: Condvar = Condvar::new();
    (&LIVE, &LOCK, &ZERO)
}

/// The compute pool (wf's own executor), started on first use.
pub(crate) fn executor() -> &'static OnceLock<crate::compute::Executor> {
    static EXEC: OnceLock<crate::compute::Executor> = OnceLock::new();
    &EXEC
}

/// Task error codes registered with [`register_task_error`](crate::register_task_error), and their text.
pub(crate) fn task_error_texts() -> &'static RwLock<HashMap<i32, &'static str>> {
    static TEXTS: OnceLock<RwLock<HashMap<i32, &'static str>>> = OnceLock::new();
    TEXTS.get_or_init(Default::default)
}

/// Named counters, for `count_by_name`.
pub(crate) fn named_counters() -> &'static Registry<std::sync::Arc<crate::sync::CounterShared>> {
    static NAMED: OnceLock<Registry<std::sync::Arc<crate::sync::CounterShared>>> = OnceLock::new();
    NAMED.get_or_init(Registry::new)
}

/// Named mailboxes, for `send_by_name`.
pub(crate) fn named_mailboxes() -> &'static Registry<crate::sync::MailboxEntry> {
    static NAMED: OnceLock<Registry<crate::sync::MailboxEntry>> = OnceLock::new();
    NAMED.get_or_init(Registry::new)
}

/// Named conditionals, for `signal_by_name`.
pub(crate) fn named_conditionals() -> &'static Registry<std::sync::Arc<crate::sync::CondShared>> {
    static NAMED: OnceLock<Registry<std::sync::Arc<crate::sync::CondShared>>> = OnceLock::new();
    NAMED.get_or_init(Registry::new)
}

/// Named guards (resources), held or not, with their waiters.
pub(crate) fn named_guards() -> &'static Mutex<HashMap<String, crate::sync::Guard>> {
    static GUARDS: OnceLock<Mutex<HashMap<String, crate::sync::Guard>>> = OnceLock::new();
    GUARDS.get_or_init(Default::default)
}

/// Default ports of URL schemes, the built-ins first.
#[cfg(feature = "net")]
pub(crate) fn scheme_ports() -> &'static RwLock<rustc_hash::FxHashMap<String, u16>> {
    static PORTS: OnceLock<RwLock<rustc_hash::FxHashMap<String, u16>>> = OnceLock::new();
    PORTS.get_or_init(crate::net::uri::builtin_ports)
}

/// The DNS cache.
#[cfg(feature = "net")]
pub(crate) fn dns_cache() -> &'static Mutex<crate::net::resolve::Cache> {
    static CACHE: OnceLock<Mutex<crate::net::resolve::Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The cap on concurrent `getaddrinfo` calls (`Settings::dns_threads`).
#[cfg(feature = "net")]
pub(crate) fn dns_lookup_limit() -> &'static tokio::sync::Semaphore {
    static LIMIT: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    LIMIT.get_or_init(|| tokio::sync::Semaphore::new(crate::settings().dns_threads.max(1)))
}

/// The asynchronous resolver: the hosts file and the name servers, read
/// from the files the settings name at the first lookup.
#[cfg(feature = "net")]
pub(crate) fn dns_resolver() -> &'static crate::net::dns::resolver::Resolver {
    static RESOLVER: OnceLock<crate::net::dns::resolver::Resolver> = OnceLock::new();
    RESOLVER.get_or_init(crate::net::dns::resolver::Resolver::from_settings)
}

/// A lookup of the asynchronous resolver: host, port → addresses.
#[cfg(feature = "net")]
pub(crate) type DnsLookup = fn(
    String,
    u16,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<std::net::SocketAddr>, crate::Error>> + Send>,
>;

/// The asynchronous resolver's lookup, for the cache of `net::resolve`.
/// The cache sits under the route layer and the DNS client on top of it
/// (its queries are client tasks, which route): the cache reaches the
/// resolver through this function, so that the layers do not depend on
/// each other both ways.
#[cfg(feature = "net")]
pub(crate) fn dns_async_lookup() -> DnsLookup {
    |host, port| Box::pin(async move { crate::net::dns::resolver::lookup(&host, port).await })
}

/// The cap on lookups of the asynchronous resolver in flight
/// (`Settings::dns_server_params.max_connections`).
#[cfg(feature = "net")]
pub(crate) fn dns_server_limit() -> &'static tokio::sync::Semaphore {
    static LIMIT: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    LIMIT.get_or_init(|| tokio::sync::Semaphore::new(crate::settings().dns_server_params.max_connections.max(1)))
}

/// Routes registered under a host name (upstreams, name-service
/// policies), and the default route if one was set.
#[cfg(feature = "net")]
pub(crate) fn routes() -> &'static RwLock<crate::net::route::Registry> {
    static ROUTES: OnceLock<RwLock<crate::net::route::Registry>> = OnceLock::new();
    ROUTES.get_or_init(Default::default)
}

/// Upstreams by (lower-case) name, for `Upstream::get` and `delete`.
#[cfg(feature = "net")]
pub(crate) fn upstreams() -> &'static Mutex<HashMap<String, crate::upstream::Upstream>> {
    static UPSTREAMS: OnceLock<Mutex<HashMap<String, crate::upstream::Upstream>>> = OnceLock::new();
    UPSTREAMS.get_or_init(Default::default)
}

/// The default route, with the addresses that failed to connect lately.
#[cfg(feature = "net")]
pub(crate) fn dns_route() -> &'static std::sync::Arc<crate::net::route::DnsRoute> {
    static DNS: OnceLock<std::sync::Arc<crate::net::route::DnsRoute>> = OnceLock::new();
    DNS.get_or_init(|| std::sync::Arc::new(crate::net::route::DnsRoute::new()))
}

/// Client connection pools, one entry per target.
#[cfg(feature = "net")]
pub(crate) fn pools() -> &'static Mutex<crate::net::client::pool::Entries> {
    static POOLS: OnceLock<Mutex<crate::net::client::pool::Entries>> = OnceLock::new();
    POOLS.get_or_init(Default::default)
}

/// Shared (pipelined) client connections, one entry per target.
#[cfg(feature = "net")]
pub(crate) fn pipes() -> &'static Mutex<crate::net::client::pipe::Registry> {
    static PIPES: OnceLock<Mutex<crate::net::client::pipe::Registry>> = OnceLock::new();
    PIPES.get_or_init(Default::default)
}

/// The rustls crypto provider wf's configurations use.
#[cfg(feature = "tls")]
pub(crate) fn tls_provider() -> &'static OnceLock<std::sync::Arc<rustls::crypto::CryptoProvider>> {
    static PROVIDER: OnceLock<std::sync::Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    &PROVIDER
}

/// The shared client configuration that verifies certificates.
#[cfg(feature = "tls")]
pub(crate) fn tls_verified() -> &'static OnceLock<crate::net::tls::TlsClient> {
    static VERIFIED: OnceLock<crate::net::tls::TlsClient> = OnceLock::new();
    &VERIFIED
}

/// The shared client configuration that accepts any certificate.
#[cfg(feature = "tls")]
pub(crate) fn tls_insecure() -> &'static OnceLock<crate::net::tls::TlsClient> {
    static INSECURE: OnceLock<crate::net::tls::TlsClient> = OnceLock::new();
    &INSECURE
}

/// The next TLS client configuration's id.
#[cfg(feature = "tls")]
pub(crate) fn tls_next_id() -> &'static AtomicUsize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    &NEXT
}

/// Whether [`shutdown`](crate::shutdown) was called (never reset), and the
/// wakers of the tasks waiting to hear it.
pub(crate) fn shutdown_watchers() -> (&'static std::sync::atomic::AtomicBool, &'static Mutex<crate::shutdown::Watchers>)
{
    static DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    static WATCHERS: Mutex<crate::shutdown::Watchers> = Mutex::new(crate::shutdown::Watchers::new());
    (&DOWN, &WATCHERS)
}

/// The shutdown handler's self-pipe: the read end under the lock the
/// installation holds (`None` until installed), and the write end for
/// the signal handler (-1 until installed; an atomic, as a handler may
/// read nothing else). Both stay open for the life of the process.
pub(crate) fn shutdown_pipe() -> (&'static Mutex<Option<std::os::fd::RawFd>>, &'static AtomicI32) {
    static READ: Mutex<Option<std::os::fd::RawFd>> = Mutex::new(None);
    static WRITE: AtomicI32 = AtomicI32::new(-1);
    (&READ, &WRITE)
}

/// Whether this process took the descriptors its predecessor handed over
/// in a graceful restart: the listening socket, the readiness socket.
/// Each descriptor may be owned once.
#[cfg(feature = "net")]
pub(crate) fn handoff_taken() -> (&'static std::sync::atomic::AtomicBool, &'static std::sync::atomic::AtomicBool) {
    static LISTENER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    static READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    (&LISTENER, &READY)
}
