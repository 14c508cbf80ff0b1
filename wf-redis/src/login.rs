//! A Redis connection's login: `AUTH` (or `HELLO 3 AUTH`), `SELECT` and
//! `READONLY` from the URL, before the first task's command.

use wf_core::net::{Connection, Uri};
use wf_core::{Error, code};

use crate::codec::{ClientCodec, Resp};
use crate::message::{RedisRequest, RedisResponse};
use crate::value::RedisValue;

/// What a Redis connection's handshake needs from the URL: credentials,
/// database and RESP version (the [`Redis`](crate::Redis) protocol's
/// handshake). Pooled connections are separated by it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RedisLogin {
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: u32,
    pub(crate) resp3: bool,
    /// `READONLY` (a cluster replica may answer reads of its slots).
    pub(crate) readonly: bool,
}

impl RedisLogin {
    /// The URL's database number (`/6`; none is 0).
    pub(crate) fn check_db(uri: &Uri) -> Result<u32, Error> {
        let db = uri.path().trim_start_matches('/');
        if db.is_empty() { Ok(0) } else { db.parse().map_err(|_| Error::task(code::URI_PARSE_FAILED)) }
    }

    /// Reads `redis[s]://[user][:password]@host[:port][/db][?protocol=3]
    /// [&readonly=1]`; a database that is not a number is
    /// `URI_PARSE_FAILED`. `readonly=1` makes each connection send
    /// `READONLY` once, after its login (a Redis Cluster replica then
    /// answers reads of its master's slots); such connections are pooled
    /// apart from the others.
    pub(crate) fn from_uri(uri: &Uri) -> Result<RedisLogin, Error> {
        let db = RedisLogin::check_db(uri)?;
        let (mut resp3, mut readonly) = (false, false);
        for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("protocol", "3")) | Some(("resp", "3")) => resp3 = true,
                Some(("protocol", "2")) | Some(("resp", "2")) => resp3 = false,
                Some(("readonly", "1")) => readonly = true,
                Some(("readonly", "0")) => readonly = false,
                _ => {}
            }
        }
        Ok(RedisLogin {
            user: uri.user().filter(|u| !u.is_empty()).map(str::to_owned),
            password: uri.password().map(str::to_owned),
            db,
            resp3,
            readonly,
        })
    }
}

/// `uri` without `readonly=` in its query (a redirect from a replica
/// names a master).
pub(crate) fn writable_uri(uri: &Uri) -> Option<Uri> {
    let Some(q) = uri.query() else { return Some(uri.clone()) };
    let kept: Vec<&str> = q.split('&').filter(|p| !p.starts_with("readonly=")).collect();
    let base = uri.as_str().split_once('?').map_or(uri.as_str(), |(b, _)| b);
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Uri::parse(&url).ok()
}

/// `uri` with `readonly=1` added to its query.
pub(crate) fn readonly_uri(uri: &Uri) -> Option<Uri> {
    let sep = if uri.query().is_some_and(|q| !q.is_empty()) {
        "&"
    } else if uri.query().is_some() {
        ""
    } else {
        "?"
    };
    Uri::parse(&format!("{}{sep}readonly=1", uri.as_str())).ok()
}

/// Whether a reply to a connection's own `AUTH`, `HELLO` or `SELECT`
/// went wrong: access denied (`TASK_ERROR` 3001), as in Workflow.
fn check_setup(resp: RedisResponse) -> Result<(), Error> {
    match resp.result() {
        RedisValue::Error(e) if e.starts_with(b"NOPROTO") => Err(Error::sys(libc::EPROTONOSUPPORT)),
        RedisValue::Error(_) => Err(Error::task(crate::code::ACCESS_DENIED)),
        _ => Ok(()),
    }
}

/// Logs a fresh connection in as `login` says.
pub(crate) async fn log_in(conn: &mut Connection<ClientCodec>, t: &RedisLogin) -> Result<(), Error> {
    let mut req = RedisRequest::default();
    if t.resp3 {
        let mut params = vec!["3".to_owned()];
        if let Some(p) = &t.password {
            params.extend(["AUTH".into(), t.user.clone().unwrap_or_else(|| "default".into()), p.clone()]);
        }
        req.set_request("HELLO", params);
        conn.codec_mut().set_resp(Resp::V3);
        conn.send(&req).await?;
        check_setup(conn.receive().await?)?;
    } else if let Some(p) = &t.password {
        match &t.user {
            Some(u) => req.set_request("AUTH", [u, p]),
            None => req.set_request("AUTH", [p]),
        }
        conn.send(&req).await?;
        check_setup(conn.receive().await?)?;
    }
    if t.db > 0 {
        req.set_request("SELECT", [t.db.to_string()]);
        conn.send(&req).await?;
        check_setup(conn.receive().await?)?;
    }
    if t.readonly {
        req.set_request("READONLY", [""; 0]);
        conn.send(&req).await?;
        check_setup(conn.receive().await?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_login() {
        let t = RedisLogin::from_uri(&Uri::parse("redis://u:p%40ss@h:1/6?protocol=3").unwrap()).unwrap();
        assert_eq!(
            t,
            RedisLogin { user: Some("u".into()), password: Some("p@ss".into()), db: 6, resp3: true, readonly: false }
        );
        let t = RedisLogin::from_uri(&Uri::parse("redis://h:1/?readonly=1").unwrap()).unwrap();
        assert!(t.readonly);
        for (from, to) in [
            ("redis://h:1", "redis://h:1?readonly=1"),
            ("redis://:p@h:1/2?protocol=3", "redis://:p@h:1/2?protocol=3&readonly=1"),
        ] {
            let u = readonly_uri(&Uri::parse(from).unwrap()).unwrap();
            assert_eq!(u.as_str(), to);
            assert!(RedisLogin::from_uri(&u).unwrap().readonly);
            assert_eq!(writable_uri(&u).unwrap().as_str(), Uri::parse(from).unwrap().as_str());
        }
        let t = RedisLogin::from_uri(&Uri::parse("redis://:pw@h").unwrap()).unwrap();
        assert_eq!((t.user, t.password.as_deref(), t.db), (None, Some("pw"), 0));
        let e = RedisLogin::from_uri(&Uri::parse("redis://h/x").unwrap()).unwrap_err();
        assert_eq!(e.code(), code::URI_PARSE_FAILED);
    }
}
