//! [`Etcd`]: where the servers of wf's services live, and the limits of
//! every exchange with it.

use std::time::Duration;

use wf_core::Error;

use crate::code;

/// An etcd endpoint and the key prefix under which services register,
/// with the bounds of every exchange. Cheap to clone; it opens nothing by
/// itself: [`discover`](Etcd::discover) and [`register`](Etcd::register)
/// do the work.
///
/// ```
/// use std::time::Duration;
///
/// let etcd = wf_etcd::Etcd::new("http://127.0.0.1:2379").with_prefix("/prod/services/");
/// assert_eq!(etcd.key("search", "10.0.0.7:8080").unwrap(), "/prod/services/search/10.0.0.7:8080");
/// assert_eq!(etcd.request_timeout(), Duration::from_secs(5));
/// ```
#[derive(Clone, Debug)]
pub struct Etcd {
    url: String,
    prefix: String,
    max_message: usize,
    request_timeout: Duration,
    watch_idle_timeout: Duration,
}

impl Etcd {
    /// The etcd client URL, `http://host:port` (or `https://`), without
    /// a path; its host may be a wf upstream name (several etcd members).
    /// Keys go under `/wf/services/`.
    pub fn new(url: &str) -> Etcd {
        Etcd {
            url: url.trim_end_matches('/').to_owned(),
            prefix: "/wf/services/".to_owned(),
            max_message: 4 << 20,
            request_timeout: Duration::from_secs(5),
            watch_idle_timeout: Duration::from_secs(15 * 60),
        }
    }

    /// The prefix of every service's keys (default `/wf/services/`); a
    /// `/` is added at the end when missing.
    pub fn with_prefix(mut self, prefix: &str) -> Etcd {
        self.prefix = prefix.to_owned();
        if !self.prefix.ends_with('/') {
            self.prefix.push('/');
        }
        self
    }

    /// The largest reply accepted, in bytes: a whole range reply, or one
    /// message of a watch stream (default 4 MiB). Over it, the exchange
    /// fails with `SYS_ERROR`/`EMSGSIZE` and nothing more is buffered.
    pub fn with_max_message(mut self, bytes: usize) -> Etcd {
        self.max_message = bytes;
        self
    }

    /// The deadline of each request (range, put, lease calls), and the
    /// wait for a watch stream's first byte (default 5 s).
    pub fn with_request_timeout(mut self, t: Duration) -> Etcd {
        self.request_timeout = t;
        self
    }

    /// How long a watch stream may stay silent before the watcher takes
    /// the connection for dead and reconnects (default 15 min; etcd sends
    /// a progress notice on an idle watch every 10 min).
    pub fn with_watch_idle_timeout(mut self, t: Duration) -> Etcd {
        self.watch_idle_timeout = t;
        self
    }

    /// The etcd URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix of services.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The reply size limit (see [`with_max_message`](Etcd::with_max_message)).
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// The request deadline (see [`with_request_timeout`](Etcd::with_request_timeout)).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The watch idle limit (see
    /// [`with_watch_idle_timeout`](Etcd::with_watch_idle_timeout)).
    pub fn watch_idle_timeout(&self) -> Duration {
        self.watch_idle_timeout
    }

    /// The key that registers `address` for `service`: `PREFIX SERVICE/ADDRESS`.
    /// A service name must be non-empty and without `/`; an address
    /// non-empty (`TASK_ERROR`/[`BAD_NAME`](code::BAD_NAME) otherwise).
    pub fn key(&self, service: &str, address: &str) -> Result<String, Error> {
        if address.is_empty() {
            return Err(code::error(code::BAD_NAME, "an empty address"));
        }
        Ok(self.service_prefix(service)? + address)
    }

    /// `PREFIX SERVICE/`: where the keys of `service` live.
    pub(crate) fn service_prefix(&self, service: &str) -> Result<String, Error> {
        if service.is_empty() || service.contains('/') {
            return Err(code::error(code::BAD_NAME, format!("service name {service:?}: empty or with a '/'")));
        }
        Ok(format!("{}{service}/", self.prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_bad_names() {
        let e = Etcd::new("http://h:1/").with_prefix("/p");
        assert_eq!(e.url(), "http://h:1");
        assert_eq!(e.key("s", "/tmp/x.sock").unwrap(), "/p/s//tmp/x.sock");
        for (service, address) in [("", "a"), ("a/b", "a"), ("s", "")] {
            assert_eq!(e.key(service, address).unwrap_err().code(), code::BAD_NAME, "{service:?} {address:?}");
        }
    }
}
