//! HTTP/1.1 for wf: a codec, `HttpTask` and `HttpServer`.
//!
//! ```no_run
//! use wf_http::{create_http_task, HttpServer};
//!
//! let server = HttpServer::new(|task| task.resp_mut().append_body("<html>Hello World!</html>"));
//! server.start(8888).unwrap();
//!
//! create_http_task("http://127.0.0.1:8888/", 4, 2, |t| {
//!     println!("{} {:?}", t.resp().status_code(), t.resp().body());
//! })
//! .start();
//! wf_core::wait_finish();
//! server.stop();
//! ```

#![forbid(unsafe_code)]

mod auth;
mod client;
pub mod code;
pub mod codec;
mod date;
mod headers;
mod message;
mod protocol;
mod proxy;
mod server;
mod stream;
mod task;

pub use headers::{GetAll, Headers, Iter};
pub use message::{HttpRequest, HttpResponse};
pub use protocol::Http;
pub use proxy::Tunnel;
pub use server::{HttpServer, HttpServerTask};
pub use stream::HttpStream;
pub use task::{HttpClient, HttpTask, create_http_chunked_task, create_http_task, create_http_task_with_proxy};
