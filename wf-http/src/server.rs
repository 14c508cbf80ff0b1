//! `HttpServer`: wf's generic server speaking HTTP/1.1.

use std::ops::Deref;

use wf_core::net::{Server, ServerParams, ServerTask};

use crate::protocol::Http;

/// A request an [`HttpServer`] is answering: `req()`, `resp_mut()`,
/// `task_seq()`, `noreply()`, and `series_of(task)` to delay the reply.
pub type HttpServerTask = ServerTask<Http>;

/// An HTTP/1.1 server (Workflow's `WFHttpServer`).
///
/// Keep-alive (honouring `Keep-Alive: timeout, max`), pipelining with
/// replies in order (those ready together go out in one write), and
/// status, version, `Content-Length`, `Connection` and a per-second cached
/// `Date` filled in; the reply is sent when the request's series ends.
///
/// ```no_run
/// let server = wf_http::HttpServer::new(|task| task.resp_mut().append_body("<html>Hello World!</html>"));
/// server.start(8888).unwrap();
/// # server.stop();
/// ```
pub struct HttpServer {
    server: Server<Http>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.fmt(f)
    }
}

impl HttpServer {
    /// A server with Workflow's defaults (2000 connections, 60 s
    /// keep-alive, 10 s peer response timeout).
    pub fn new(process: impl Fn(&mut HttpServerTask) + Send + Sync + 'static) -> HttpServer {
        HttpServer { server: Server::new(Http::default(), process) }
    }

    /// A server with `params` (`request_size_limit` answers 413/417).
    pub fn with_params(
        params: ServerParams,
        process: impl Fn(&mut HttpServerTask) + Send + Sync + 'static,
    ) -> HttpServer {
        HttpServer { server: Server::with_params(Http::default(), params, process) }
    }
}

impl Deref for HttpServer {
    type Target = Server<Http>;
    fn deref(&self) -> &Server<Http> {
        &self.server
    }
}
