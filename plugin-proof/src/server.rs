//! A tiny in-memory KV-line server on `wf_core::net::Server`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use wf_core::lock::lock;
use wf_core::net::{Server, ServerKind, ServerParams, ServerProtocol, ServerTask};
use wf_core::{Error, create_go_task, series_of};

use crate::message::{Request, Response};
use crate::protocol::KvLine;

/// The compute queue `GET` reads the store on.
const QUEUE: &str = "kvline";

/// The per-connection state, kept in the connection's context.
struct Session {
    authenticated: bool,
}

struct Store {
    passwords: Vec<String>,
    data: Mutex<HashMap<String, String>>,
    journal: Mutex<Vec<(u64, &'static str)>>,
}

/// An in-memory key-value server speaking KV-line, built on
/// [`Server::new`]`(KvLine::new(), process)`.
///
/// - With passwords configured, a connection must send `AUTH` with one of
///   them before `GET`, `SET` or `DEL` (answered `-ERR NOAUTH ...`
///   otherwise); `PING` and `QUIT` need none. Whether a connection is
///   authenticated lives in its context
///   ([`ServerConnection`](wf_core::net::ServerConnection)).
/// - `GET` uses the delayed-reply model: `process` pushes a go task that
///   reads the store and fills the reply, found as the series' last task.
/// - Every request is noted in a journal (connection id, command word) so
///   that tests can see what reached the server.
///
/// Pipelined requests on one connection are processed concurrently (as in
/// Workflow; only their replies are ordered), so a `GET` pipelined right
/// behind its `AUTH` may be refused. Client tasks never pipeline: they
/// send `AUTH` and wait for its answer in `on_connect`.
///
/// ```no_run
/// use wf_plugin_proof::KvServer;
///
/// let server = KvServer::new(["secret"]);
/// let addr = server.start_on("127.0.0.1", 0).unwrap();
/// println!("kvline://:secret@{addr}");
/// server.stop();
/// ```
pub struct KvServer {
    server: Server<KvLine>,
    store: Arc<Store>,
}

impl std::fmt::Debug for KvServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvServer").field("server", &self.server).finish_non_exhaustive()
    }
}

impl KvServer {
    /// A server accepting any of `passwords` (none: no `AUTH` needed), with
    /// KV-line's default parameters.
    pub fn new<S: Into<String>>(passwords: impl IntoIterator<Item = S>) -> KvServer {
        KvServer::with_params(passwords, KvLine::new().server_params())
    }

    /// Like [`new`](KvServer::new), with `params` (e.g. another
    /// `request_size_limit`).
    pub fn with_params<S: Into<String>>(passwords: impl IntoIterator<Item = S>, params: ServerParams) -> KvServer {
        let store = Arc::new(Store {
            passwords: passwords.into_iter().map(Into::into).collect(),
            data: Mutex::new(HashMap::new()),
            journal: Mutex::new(Vec::new()),
        });
        let s = store.clone();
        let server = Server::with_params(KvLine::new(), params, move |task| process(&s, task));
        KvServer { server, store }
    }

    /// Listens on `host:port` (port 0 picks a free one) and returns the
    /// address.
    pub fn start_on(&self, host: &str, port: u16) -> Result<SocketAddr, Error> {
        self.server.start_on(host, port)?;
        Ok(self.server.listen_addr().expect("a TCP server has an address"))
    }

    /// The underlying wf server.
    pub fn server(&self) -> &Server<KvLine> {
        &self.server
    }

    /// Every request received so far, in order: the connection's id and
    /// the command word.
    pub fn journal(&self) -> Vec<(u64, &'static str)> {
        lock(&self.store.journal).clone()
    }

    /// The command words received on connection `id`, in order.
    pub fn commands_on(&self, id: u64) -> Vec<&'static str> {
        lock(&self.store.journal).iter().filter(|(c, _)| *c == id).map(|(_, w)| *w).collect()
    }

    /// Ids of the connections that sent a request, in order of their
    /// first request.
    pub fn connections(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for (id, _) in lock(&self.store.journal).iter() {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        ids
    }

    /// How many requests with this command word arrived.
    pub fn count(&self, command: &str) -> usize {
        lock(&self.store.journal).iter().filter(|(_, w)| *w == command).count()
    }

    /// Stops the server and waits for its connections to close.
    pub fn stop(&self) {
        self.server.stop();
    }
}

fn process(store: &Arc<Store>, task: &mut ServerTask<KvLine>) {
    let conn = task.connection().clone();
    let req = task.req().clone();
    lock(&store.journal).push((conn.id(), req.command()));
    let authenticated =
        store.passwords.is_empty() || conn.with_context(|s: &mut Session| s.authenticated).unwrap_or(false);
    let resp = match req {
        Request::Ping => Response::Value("PONG".to_owned()),
        Request::Quit => Response::Ok,
        Request::Auth(secret) => {
            if store.passwords.contains(&secret) {
                conn.set_context(Session { authenticated: true });
                Response::Ok
            } else {
                Response::Error("invalid password".to_owned())
            }
        }
        _ if !authenticated => Response::Error("NOAUTH authentication required".to_owned()),
        Request::Set(key, value) => {
            lock(&store.data).insert(key, value);
            Response::Ok
        }
        Request::Del(key) => Response::Integer(lock(&store.data).remove(&key).is_some().into()),
        Request::Get(key) => {
            // The delayed reply: the store is read by a go task after
            // `process` returns, and the reply goes out when the series
            // (this go task included) ends.
            let s = store.clone();
            let lookup = create_go_task(QUEUE, move || lock(&s.data).get(&key).cloned()).with_callback(|t| {
                let resp = match t.take_result() {
                    Some(Some(value)) => Response::Value(value),
                    Some(None) => Response::Error("no such key".to_owned()),
                    None => Response::Error("internal error".to_owned()),
                };
                if let Some(reply) = series_of(t).last_task_mut::<ServerKind<KvLine>>() {
                    *reply.resp_mut() = resp;
                }
            });
            series_of(task).push_back(lookup);
            return;
        }
    };
    *task.resp_mut() = resp;
}
