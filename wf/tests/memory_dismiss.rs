//! C++ memory_unittest: a parallel holding a series of every task kind, dropped without being
//! started, runs no callback and releases everything exactly once, named registries included.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wf::timer::{cancel_by_name, create_named_timer_task, create_timer_task};
use wf::{
    AnyTask, MessageQueue, ResourcePool, SelectorTask, SeriesWork, Task, TaskKind, count_by_name, create_conditional,
    create_counter_task, create_dynamic_task, create_empty_task, create_go_task, create_graph_task, create_guard,
    create_mailbox_task, create_module_task, create_named_conditional, create_named_counter_task,
    create_named_mailbox_task, create_parallel_work, create_repeater_task, create_selector_task, create_series_work,
    create_thread_task, create_timedgo_task, send_by_name, signal_by_name,
};

/// Hands out tokens, each counting its own drops.
#[derive(Clone)]
struct Trackers {
    drops: Arc<Vec<AtomicUsize>>,
    next: Arc<AtomicUsize>,
    ran: Arc<AtomicUsize>,
}

struct Tracker {
    id: usize,
    drops: Arc<Vec<AtomicUsize>>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

impl Trackers {
    fn new() -> Trackers {
        Trackers {
            drops: Arc::new((0..1024).map(|_| AtomicUsize::new(0)).collect()),
            next: Arc::new(AtomicUsize::new(0)),
            ran: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn make(&self) -> Tracker {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        Tracker { id, drops: self.drops.clone() }
    }

    fn created(&self) -> usize {
        self.next.load(Ordering::SeqCst)
    }

    /// Ids not dropped exactly once.
    fn not_dropped_once(&self) -> Vec<(usize, usize)> {
        (0..self.created()).map(|i| (i, self.drops[i].load(Ordering::SeqCst))).filter(|&(_, n)| n != 1).collect()
    }

    /// A callback that records that it ran and holds a tracker.
    fn cb<K: TaskKind>(&self) -> impl FnOnce(&mut Task<K>) + Send + 'static {
        let (tok, ran) = (self.make(), self.ran.clone());
        move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
            drop(tok);
        }
    }

    /// A closure for go and thread tasks that records that it ran and holds a tracker.
    fn work(&self) -> impl FnOnce() + Send + 'static {
        let (tok, ran) = (self.make(), self.ran.clone());
        move || {
            ran.fetch_add(1, Ordering::SeqCst);
            drop(tok);
        }
    }

    /// `task` with a tracker in its user data.
    fn tracked<K: TaskKind>(&self, mut task: Task<K>) -> Task<K> {
        task.set_user_data(self.make());
        task
    }

    /// A task of its own kind (empty), tracked, for wrappers.
    fn inner(&self) -> AnyTask {
        self.tracked(create_empty_task().with_callback(self.cb())).into()
    }

    /// A series around `task` with a tracked callback and context.
    fn series(&self, task: impl Into<AnyTask>) -> SeriesWork {
        let (tok, ran) = (self.make(), self.ran.clone());
        let mut s = create_series_work(task, move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
            drop(tok);
        });
        s.set_context(self.make());
        s
    }
}

const TIMER: &str = "memory_dismiss::timer";
const MAILBOX: &str = "memory_dismiss::mailbox";
const CONDITIONAL: &str = "memory_dismiss::conditional";
const GUARD: &str = "memory_dismiss::guard";

#[test]
fn dismissing_a_parallel_of_every_kind_releases_everything() {
    let tr = Trackers::new();
    let pool = ResourcePool::new([String::from("resource")]);
    let queue = MessageQueue::<u32>::new();
    queue.post(1);

    let mut tasks: Vec<AnyTask> = Vec::new();
    tasks.push(tr.tracked(create_timer_task(Duration::from_millis(1), tr.cb())).into());
    tasks.push(tr.tracked(create_named_timer_task(TIMER, Some(Duration::from_secs(1)), tr.cb())).into());
    tasks.push(tr.tracked(create_named_timer_task(TIMER, None, tr.cb())).into());
    let counter = create_counter_task(2, tr.cb());
    counter.count();
    tasks.push(tr.tracked(counter).into());
    tasks.push(tr.tracked(create_named_counter_task("", 1, tr.cb())).into());
    let mailbox = create_mailbox_task(tr.cb::<wf::Mailbox<Tracker>>());
    mailbox.handle().send(tr.make()).ok().unwrap();
    tasks.push(tr.tracked(mailbox).into());
    tasks.push(tr.tracked(create_named_mailbox_task(MAILBOX, tr.cb::<wf::Mailbox<u8>>())).into());
    let selector: SelectorTask<Tracker> = create_selector_task(2, tr.cb());
    assert!(selector.handle().submit(Some(tr.make())));
    tasks.push(tr.tracked(selector).into());
    let conditional = create_conditional(tr.inner());
    conditional.handle().signal(tr.make());
    tasks.push(tr.tracked(conditional.with_callback(tr.cb())).into());
    tasks.push(tr.tracked(create_named_conditional(CONDITIONAL, tr.inner()).with_callback(tr.cb())).into());
    tasks.push(tr.tracked(create_guard(GUARD, tr.inner())).into());
    tasks.push(tr.tracked(pool.get(tr.inner())).into());
    tasks.push(tr.tracked(queue.get(tr.inner())).into());
    tasks.push(tr.tracked(create_go_task("memory_dismiss", tr.work()).with_callback(tr.cb())).into());
    tasks.push(
        tr.tracked(create_timedgo_task(Duration::from_secs(1), "memory_dismiss", tr.work()).with_callback(tr.cb()))
            .into(),
    );
    let work = tr.work();
    tasks.push(
        tr.tracked(create_thread_task("memory_dismiss", tr.make(), move |_: &mut Tracker| work(), tr.cb())).into(),
    );
    tasks.push(tr.tracked(create_empty_task().with_callback(tr.cb())).into());
    // Network tasks: HTTP, Redis (a command and a subscription) and file IO
    // tasks hold requests and buffers; none is sent.
    tasks.push(tr.tracked(wf::http::create_http_task("http://127.0.0.1:1/", 0, 0, tr.cb())).into());
    let mut redis = wf::redis::create_redis_task("redis://127.0.0.1:1/", 0, tr.cb());
    redis.set_request("SET", ["k", "v"]);
    tasks.push(tr.tracked(redis).into());
    let subscriber = wf::redis::RedisSubscriber::new("redis://127.0.0.1:1/");
    let (tok, ran) = (tr.make(), tr.ran.clone());
    tasks.push(
        tr.tracked(subscriber.create_subscribe_task(
            ["ch"],
            move |_, _| {
                ran.fetch_add(1, Ordering::SeqCst);
                let _ = &tok;
            },
            tr.cb(),
        ))
        .into(),
    );
    tasks.push(tr.tracked(wf::fileio::create_pwrite_task(-1, vec![0u8; 64], 0, tr.cb())).into());
    let (tok, ran, inner) = (tr.make(), tr.ran.clone(), tr.inner());
    tasks.push(
        tr.tracked(
            create_dynamic_task(move || {
                ran.fetch_add(1, Ordering::SeqCst);
                drop(tok);
                inner
            })
            .with_callback(tr.cb()),
        )
        .into(),
    );
    let mut module = create_module_task(tr.inner(), tr.cb());
    module.sub_series().set_context(tr.make());
    module.sub_series().push_back(tr.inner());
    tasks.push(tr.tracked(module).into());
    let (tok, ran, mut inner) = (tr.make(), tr.ran.clone(), Some(tr.inner()));
    tasks.push(
        tr.tracked(create_repeater_task(
            move || {
                ran.fetch_add(1, Ordering::SeqCst);
                let _ = &tok;
                inner.take()
            },
            tr.cb(),
        ))
        .into(),
    );
    let mut graph = create_graph_task(tr.cb());
    let a = graph.create_graph_node(tr.inner());
    let b = graph.create_graph_node(tr.inner());
    graph.precede(a, b);
    tasks.push(tr.tracked(graph).into());
    let mut nested = create_parallel_work(tr.cb());
    nested.add_series(tr.series(tr.inner()));
    nested.add_series(tr.series(tr.inner()));
    nested.set_context(tr.make());
    tasks.push(tr.tracked(nested).into());

    let kinds = tasks.len();
    assert_eq!(kinds, 26);
    let mut p = create_parallel_work(tr.cb());
    p.set_context(tr.make());
    for t in tasks {
        p.add_series(tr.series(t));
    }
    // A series holding several kinds at once, with a last task.
    let mut mixed = tr.series(tr.inner());
    mixed.push_back(tr.tracked(create_go_task("memory_dismiss", tr.work()).with_callback(tr.cb())));
    mixed.push_front(tr.tracked(create_timer_task(Duration::ZERO, tr.cb())));
    mixed.set_last_task(tr.inner());
    p.add_series(mixed);
    let p = tr.tracked(p);
    assert_eq!(p.size(), kinds + 1);

    let created = tr.created();
    assert!(created > 80, "{created} trackers");
    assert!(tr.drops.iter().all(|d| d.load(Ordering::SeqCst) == 0), "nothing dropped before the dismiss");
    drop(p);

    assert_eq!(tr.ran.load(Ordering::SeqCst), 0, "no callback, closure, create or repeat ran");
    assert_eq!(tr.not_dropped_once(), [], "every tracker dropped exactly once ((id, drops) listed)");

    // Named registries forgot the dismissed tasks.
    assert_eq!(count_by_name("", 1), 0);
    assert_eq!(send_by_name(MAILBOX, 1u8, 10), 0);
    assert_eq!(signal_by_name(CONDITIONAL, (), 10), 0);
    assert_eq!(cancel_by_name(TIMER, 10), 0);
    // Nothing was taken from the pool or the queue, and the guard was never taken.
    assert_eq!(pool.available(), 1);
    assert_eq!(queue.len(), 1);
    assert!(!wf::release_guard(GUARD, ()));
}

/// The same kinds, dismissed one by one without a series around them.
#[test]
fn dismissing_single_tasks() {
    let tr = Trackers::new();
    drop(tr.tracked(create_timer_task(Duration::from_secs(1), tr.cb())));
    drop(tr.tracked(create_named_counter_task("memory_dismiss::single", 3, tr.cb())));
    drop(tr.tracked(create_go_task("memory_dismiss", tr.work()).with_callback(tr.cb())));
    drop(tr.series(tr.inner()));
    let mut p = create_parallel_work(tr.cb());
    p.add_series(tr.series(tr.inner()));
    drop(p);
    assert_eq!(tr.ran.load(Ordering::SeqCst), 0);
    assert_eq!(tr.not_dropped_once(), []);
    assert_eq!(count_by_name("memory_dismiss::single", 3), 0);
}
