//! Tunnels through an HTTP proxy with `CONNECT`, as Workflow does for every
//! proxied task (http and https targets alike).

use http::Method;
use http::header::HeaderValue;
use wf_core::Error;
use wf_core::net::{Connection, Uri};

use crate::code;

use crate::codec::ClientCodec;
use crate::message::{HttpRequest, Text};

/// Where a proxied task's `CONNECT` tunnel leads, and how to open it: the
/// [`Http`](crate::Http) protocol's handshake, which separates pooled
/// tunnels by target, credentials and TLS configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// `host:port` of the target.
    pub(crate) authority: String,
    /// The target's host name (TLS inside the tunnel verifies it).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) host: String,
    pub(crate) https: bool,
    pub(crate) proxy_auth: Option<HeaderValue>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<wf_core::net::tls::TlsClient>,
}

impl Tunnel {
    pub(crate) fn new(target: &Uri, proxy: &Uri) -> Tunnel {
        let auth = proxy.password().map(|p| (proxy.user().unwrap_or(""), p)).or(proxy.user().map(|u| (u, "")));
        Tunnel {
            authority: format!("{}:{}", bracketed(target.host_str()), target.port()),
            host: target.host_str().to_string(),
            https: target.scheme() == "https",
            proxy_auth: auth.and_then(|(u, p)| HeaderValue::from_str(&crate::auth::basic_auth(u, p)).ok()),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') { format!("[{host}]") } else { host.to_string() }
}

/// On a fresh connection to the proxy: `CONNECT`, then TLS to the target
/// for https. A refusal is `TASK_ERROR`/`HTTP_PROXY_CONNECT_FAILED`.
pub(crate) async fn open_tunnel(t: &Tunnel, conn: &mut Connection<ClientCodec>) -> Result<(), Error> {
    let mut req =
        HttpRequest { method: Method::CONNECT, uri: Text::from(t.authority.clone()), ..HttpRequest::default() };
    if let Ok(v) = HeaderValue::from_str(&t.authority) {
        req.headers.set_static("Host", v);
    }
    if let Some(auth) = &t.proxy_auth {
        req.headers.set_static("Proxy-Authorization", auth.clone());
    }
    conn.send(&req).await?;
    let resp = conn.receive().await?;
    if !(200..300).contains(&resp.status_code()) {
        return Err(Error::task(code::PROXY_CONNECT_FAILED));
    }
    if t.https {
        #[cfg(feature = "tls")]
        {
            let tls = t.tls.clone().unwrap_or_else(wf_core::net::tls::TlsClient::verified);
            conn.upgrade_tls(&tls, &t.host).await?;
        }
        #[cfg(not(feature = "tls"))]
        return Err(Error::new(wf_core::State::SslError, 1));
    }
    Ok(())
}
