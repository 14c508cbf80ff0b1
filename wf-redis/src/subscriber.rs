//! The subscriber: a long-lived task that receives published messages.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc;
use wf_core::net::{ClientOptions, Uri, connect};
use wf_core::{Error, RunContext, Task, TaskKind, TimeoutReason};

use crate::message::{RedisArg, RedisRequest};
use crate::protocol::{Redis, Target};
use crate::value::RedisValue;

/// Creates subscribe tasks for one server (Workflow's
/// `WFRedisSubscriber`).
///
/// ```no_run
/// use wf_redis::RedisSubscriber;
///
/// let subscriber = RedisSubscriber::new("redis://127.0.0.1/");
/// let task = subscriber.create_subscribe_task(
///     ["news"],
///     |_handle, msg| println!("{msg}"),
///     |t| println!("subscription over: {:?}", t.state()),
/// );
/// let handle = task.handle();
/// task.start();
/// // later, from anywhere:
/// handle.unsubscribe(["news"]).unwrap(); // the last one: the task ends
/// wf_core::wait_finish();
/// ```
#[derive(Clone, Debug)]
pub struct RedisSubscriber {
    url: String,
    opts: ClientOptions,
}

impl RedisSubscriber {
    /// A subscriber for `url` (`redis[s]://[user][:password]@host[:port]`,
    /// `?protocol=3` for RESP3 pushes).
    pub fn new(url: &str) -> RedisSubscriber {
        RedisSubscriber { url: url.to_owned(), opts: ClientOptions::default() }
    }

    /// Connect and TLS options for its connections (`rediss://`).
    pub fn options_mut(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }

    /// A task subscribed to `channels`; `extract` sees every message the
    /// server pushes (published messages, and the confirmations of
    /// (un)subscribe and ping) with a handle to change the subscription.
    pub fn create_subscribe_task<I>(
        &self,
        channels: I,
        extract: impl FnMut(&SubscribeHandle, RedisValue) + Send + 'static,
        callback: impl FnOnce(&mut RedisSubscribeTask) + Send + 'static,
    ) -> RedisSubscribeTask
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        self.create("SUBSCRIBE", channels, Box::new(extract), callback)
    }

    /// A task subscribed to channel `patterns` (`news.*`).
    pub fn create_psubscribe_task<I>(
        &self,
        patterns: I,
        extract: impl FnMut(&SubscribeHandle, RedisValue) + Send + 'static,
        callback: impl FnOnce(&mut RedisSubscribeTask) + Send + 'static,
    ) -> RedisSubscribeTask
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        self.create("PSUBSCRIBE", patterns, Box::new(extract), callback)
    }

    fn create<I>(
        &self,
        command: &str,
        names: I,
        extract: Extract,
        callback: impl FnOnce(&mut RedisSubscribeTask) + Send + 'static,
    ) -> RedisSubscribeTask
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut first = RedisRequest::default();
        first.set_request(command, names);
        Task::new(Subscriber {
            uri: Uri::parse(&self.url),
            opts: self.opts.clone(),
            first: Some(first),
            handle: SubscribeHandle { tx },
            commands: Some(rx),
            extract: Some(extract),
            watch: None,
            running: None,
        })
        .with_callback(callback)
    }
}

type Extract = Box<dyn FnMut(&SubscribeHandle, RedisValue) + Send>;

/// Changes a running subscription: the commands go out on its
/// connection. Clone it freely; it outlives the task harmlessly (then
/// every call fails with `ENOTCONN`).
#[derive(Clone, Debug)]
pub struct SubscribeHandle {
    tx: mpsc::UnboundedSender<RedisRequest>,
}

impl SubscribeHandle {
    fn send<I>(&self, command: &str, names: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: RedisArg,
    {
        let mut req = RedisRequest::default();
        req.set_request(command, names);
        self.tx.send(req).map_err(|_| Error::sys(libc::ENOTCONN))
    }

    /// Subscribes to more channels.
    pub fn subscribe<I: IntoIterator<Item: RedisArg>>(&self, channels: I) -> Result<(), Error> {
        self.send("SUBSCRIBE", channels)
    }

    /// Unsubscribes from `channels` (none: from all). The task ends when
    /// nothing is subscribed any more.
    pub fn unsubscribe<I: IntoIterator<Item: RedisArg>>(&self, channels: I) -> Result<(), Error> {
        self.send("UNSUBSCRIBE", channels)
    }

    /// Subscribes to more patterns.
    pub fn psubscribe<I: IntoIterator<Item: RedisArg>>(&self, patterns: I) -> Result<(), Error> {
        self.send("PSUBSCRIBE", patterns)
    }

    /// Unsubscribes from `patterns` (none: from all).
    pub fn punsubscribe<I: IntoIterator<Item: RedisArg>>(&self, patterns: I) -> Result<(), Error> {
        self.send("PUNSUBSCRIBE", patterns)
    }

    /// Pings the server; the answer reaches `extract` (`["pong", msg]`).
    pub fn ping(&self, message: Option<&str>) -> Result<(), Error> {
        self.send("PING", message)
    }

    /// Ends the subscription and the connection; the task succeeds.
    pub fn quit(&self) -> Result<(), Error> {
        self.send("QUIT", None::<&str>)
    }
}

/// A subscription (Workflow's `WFRedisSubscribeTask`).
pub type RedisSubscribeTask = Task<Subscriber>;

type Running = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// The kind of a [`RedisSubscribeTask`].
pub struct Subscriber {
    uri: Result<Uri, Error>,
    opts: ClientOptions,
    first: Option<RedisRequest>,
    handle: SubscribeHandle,
    commands: Option<mpsc::UnboundedReceiver<RedisRequest>>,
    extract: Option<Extract>,
    watch: Option<Duration>,
    running: Option<Running>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("uri", &self.uri).finish_non_exhaustive()
    }
}

impl Subscriber {
    /// A handle to change the subscription while the task runs.
    pub fn handle(&self) -> SubscribeHandle {
        self.handle.clone()
    }

    /// Limit on the wait for each message: with none for this long, the
    /// task fails with `SYS_ERROR`/`ETIMEDOUT` (default: wait forever).
    pub fn set_watch_timeout(&mut self, t: Duration) {
        self.watch = Some(t);
    }

    /// Connect and TLS options of this task.
    pub fn options_mut(&mut self) -> &mut ClientOptions {
        &mut self.opts
    }
}

/// `subscribe`-family confirmations carry the count of subscriptions
/// left: `["unsubscribe", channel, 0]`.
fn subscriptions_left(v: &RedisValue) -> Option<i64> {
    let kind = v.get(0)?.as_bytes()?.to_ascii_lowercase();
    let confirms = [&b"subscribe"[..], b"psubscribe", b"ssubscribe", b"unsubscribe", b"punsubscribe", b"sunsubscribe"];
    if confirms.contains(&kind.as_slice()) { v.get(2)?.as_int() } else { None }
}

async fn run(
    uri: Uri,
    opts: ClientOptions,
    first: RedisRequest,
    mut commands: mpsc::UnboundedReceiver<RedisRequest>,
    mut extract: Extract,
    handle: SubscribeHandle,
    watch: Option<Duration>,
) -> Result<(), Error> {
    let mut conn = connect(&Redis::default(), &uri, &opts).await?;
    conn.codec_mut().set_raw(true);
    conn.set_response_timeout(None);
    conn.send(&first).await?;
    let mut open = true;
    let mut quitting = false;
    enum Event {
        Command(Option<RedisRequest>),
        Reply(Result<crate::RedisResponse, Error>),
    }
    loop {
        let event = {
            let next = async {
                match watch {
                    Some(t) => tokio::time::timeout(t, conn.receive())
                        .await
                        .unwrap_or(Err(Error::timeout(TimeoutReason::Transmit))),
                    None => conn.receive().await,
                }
            };
            tokio::select! {
                cmd = commands.recv(), if open => Event::Command(cmd),
                reply = next => Event::Reply(reply),
            }
        };
        match event {
            Event::Command(Some(req)) => {
                quitting |= req.command().is_some_and(|c| c.eq_ignore_ascii_case("QUIT"));
                conn.send(&req).await?;
            }
            Event::Command(None) => open = false,
            Event::Reply(reply) => {
                let v = match reply {
                    Ok(mut r) => r.take_result(),
                    Err(e) if quitting => return if e.code() == libc::ECONNRESET { Ok(()) } else { Err(e) },
                    Err(e) => return Err(e),
                };
                if quitting && v.is_status() {
                    return Ok(());
                }
                let left = subscriptions_left(&v);
                extract(&handle, v);
                if left == Some(0) {
                    return Ok(());
                }
            }
        }
    }
}

impl TaskKind for Subscriber {
    fn poll_run(&mut self, cx: &mut Context<'_>, run_cx: &mut RunContext<'_>) -> Poll<()> {
        let fut = match &mut self.running {
            Some(f) => f,
            None => {
                let uri = match self.uri.clone().and_then(|u| Target::from_uri(&u).map(|_| u)) {
                    Ok(u) => u,
                    Err(e) => {
                        run_cx.set_error(e);
                        return Poll::Ready(());
                    }
                };
                let (Some(first), Some(commands), Some(extract)) =
                    (self.first.take(), self.commands.take(), self.extract.take())
                else {
                    run_cx.set_error(Error::sys(libc::EINVAL));
                    return Poll::Ready(());
                };
                let fut = run(uri, self.opts.clone(), first, commands, extract, self.handle.clone(), self.watch);
                self.running.insert(Box::pin(fut))
            }
        };
        let result = match fut.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.running = None;
        if let Err(e) = result {
            run_cx.set_error(e);
        }
        Poll::Ready(())
    }
}
