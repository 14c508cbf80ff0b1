//! The subscriber: a long-lived task that receives published messages.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::mpsc;
use tokio_util::codec::Encoder;
use wf_core::net::{Client, ClientKind, ClientOptions, ClientProtocol, Connection, Mode, Protocol, Uri};
use wf_core::{Error, RunContext, Task, TaskKind, TimeoutReason};

use crate::codec::ClientCodec;
use crate::login::RedisLogin;
use crate::message::{RedisArg, RedisRequest, RedisResponse};
use crate::protocol::Redis;
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
        let mut client = Client::new(RedisSubscription::default(), &self.url, self.opts.retry_max());
        *client.client_options() = self.opts.clone();
        *client.req_mut() = Subscription {
            first: Some(first),
            handle: Some(SubscribeHandle { tx }),
            commands: Some(rx),
            extract: Mutex::new(Some(extract)),
            watch: None,
        };
        Task::new(Subscriber { client }).with_callback(callback)
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

/// The kind of a [`RedisSubscribeTask`]: wf-core's [`Client`] of
/// [`RedisSubscription`] (its `uri()`, `peer_addr()` through `Deref`).
#[derive(Debug)]
pub struct Subscriber {
    client: Client<RedisSubscription>,
}

impl Deref for Subscriber {
    type Target = Client<RedisSubscription>;
    fn deref(&self) -> &Client<RedisSubscription> {
        &self.client
    }
}

impl DerefMut for Subscriber {
    fn deref_mut(&mut self) -> &mut Client<RedisSubscription> {
        &mut self.client
    }
}

impl Subscriber {
    /// A handle to change the subscription while the task runs.
    pub fn handle(&self) -> SubscribeHandle {
        match &self.client.req().handle {
            Some(h) => h.clone(),
            // Only a default-made request has none: a handle to nothing.
            None => SubscribeHandle { tx: mpsc::unbounded_channel().0 },
        }
    }

    /// Limit on the wait for each message: with none for this long, the
    /// task fails with `SYS_ERROR`/`ETIMEDOUT` (default: wait forever).
    pub fn set_watch_timeout(&mut self, t: Duration) {
        self.client.req_mut().watch = Some(t);
    }

    /// Connect and TLS options of this task.
    pub fn options_mut(&mut self) -> &mut ClientOptions {
        self.client.client_options()
    }
}

impl TaskKind for Subscriber {
    fn poll_run(&mut self, cx: &mut Context<'_>, run: &mut RunContext<'_>) -> Poll<()> {
        self.client.poll_run(cx, run)
    }
}

/// A subscription's request: the first command, the handle's commands,
/// and where messages go.
#[derive(Default)]
pub struct Subscription {
    first: Option<RedisRequest>,
    handle: Option<SubscribeHandle>,
    commands: Option<mpsc::UnboundedReceiver<RedisRequest>>,
    extract: Mutex<Option<Extract>>,
    watch: Option<Duration>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("first", &self.first).field("watch", &self.watch).finish_non_exhaustive()
    }
}

/// A subscription is sent as its first command.
impl Encoder<&Subscription> for ClientCodec {
    type Error = Error;

    fn encode(&mut self, sub: &Subscription, buf: &mut BytesMut) -> Result<(), Error> {
        match &sub.first {
            Some(first) => self.encode(first, buf),
            None => Err(Error::sys(libc::EINVAL)),
        }
    }
}

/// Redis subscriptions as a wf protocol: the Redis codec and login on a
/// dedicated connection, whose exchange lasts as long as the subscription.
/// [`RedisSubscriber`] makes its tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RedisSubscription {
    redis: Redis,
}

impl Protocol for RedisSubscription {
    type Request = Subscription;
    type Response = RedisResponse;

    fn schemes(&self) -> &'static [&'static str] {
        self.redis.schemes()
    }

    fn tls_schemes(&self) -> &'static [&'static str] {
        self.redis.tls_schemes()
    }
}

impl ClientProtocol for RedisSubscription {
    type ClientCodec = ClientCodec;
    type Handshake = RedisLogin;

    fn client_codec(&self) -> ClientCodec {
        self.redis.client_codec()
    }

    // The login is plain Redis's.
    fn handshake(&self, uri: &Uri, opts: &ClientOptions) -> Result<RedisLogin, Error> {
        self.redis.handshake(uri, opts)
    }

    fn on_connect(
        &self,
        c: &mut Connection<ClientCodec>,
        l: &RedisLogin,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        self.redis.on_connect(c, l)
    }

    fn mode(&self, _req: &Subscription) -> Mode {
        Mode::Dedicated
    }

    fn exchange(
        &self,
        conn: &mut Connection<ClientCodec>,
        req: &mut Subscription,
    ) -> impl Future<Output = Result<RedisResponse, Error>> + Send {
        let parts = (
            req.first.clone(),
            req.commands.take(),
            req.extract.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take(),
            req.handle.clone(),
        );
        let watch = req.watch;
        async move {
            let (Some(first), Some(commands), Some(extract), Some(handle)) = parts else {
                return Err(Error::sys(libc::EINVAL));
            };
            subscribe(conn, first, commands, extract, handle, watch).await?;
            Ok(RedisResponse::default())
        }
    }
}

/// `subscribe`-family confirmations carry the count of subscriptions
/// left: `["unsubscribe", channel, 0]`.
fn subscriptions_left(v: &RedisValue) -> Option<i64> {
    let kind = v.get(0)?.as_bytes()?.to_ascii_lowercase();
    let confirms = [&b"subscribe"[..], b"psubscribe", b"ssubscribe", b"unsubscribe", b"punsubscribe", b"sunsubscribe"];
    if confirms.contains(&kind.as_slice()) { v.get(2)?.as_int() } else { None }
}

/// Runs a subscription on `conn` until nothing is subscribed, or `QUIT`.
async fn subscribe(
    conn: &mut Connection<ClientCodec>,
    first: RedisRequest,
    mut commands: mpsc::UnboundedReceiver<RedisRequest>,
    mut extract: Extract,
    handle: SubscribeHandle,
    watch: Option<Duration>,
) -> Result<(), Error> {
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
