//! etcd's v3 JSON gateway, one request at a time, with wf's HTTP tasks:
//! range, put, lease grant, keep-alive and revoke. Every call has the
//! endpoint's deadline and reply size limit.
//!
//! proto3 JSON: 64-bit integers are strings (`"revision":"42"`), a field
//! at its default value (0, false, empty) is left out, and keys and values
//! are base64.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wf_core::{Error, State};

use crate::code;
use crate::config::Etcd;

/// Sends `body` to `path` (`/v3/kv/range`…) and returns the reply's JSON
/// object.
pub(crate) async fn call(etcd: &Etcd, path: &str, body: &Value) -> Result<Value, Error> {
    let mut t = wf_http::create_http_task(&format!("{}{path}", etcd.url()), 0, 0, |_| {});
    t.req_mut().set_method("POST");
    t.req_mut().set_header("Content-Type", "application/json");
    t.req_mut().append_body(body.to_string());
    t.set_deadline(etcd.request_timeout());
    t.set_response_size_limit(Some(etcd.max_message()));
    let t = t.await;
    if t.state() != State::Success {
        return Err(t.error().cloned().unwrap_or_else(|| Error::new(t.state(), t.error_code())));
    }
    let status = t.resp().status_code();
    let body = t.resp().body();
    let reply: Option<Value> = serde_json::from_slice(&body).ok();
    if status != 200 {
        return Err(match reply.as_ref().and_then(|r| r.get("message")).and_then(Value::as_str) {
            Some(m) => code::error(code::ETCD_ERROR, format!("etcd {path}: {m} (HTTP {status})")),
            None => code::error(code::ETCD_ERROR, format!("etcd {path}: HTTP {status}")),
        });
    }
    match reply {
        Some(v @ Value::Object(_)) => Ok(v),
        _ => Err(code::error(code::BAD_REPLY, format!("etcd {path}: the reply is not a JSON object"))),
    }
}

/// Reads every key of `[key, end)`: the store's revision and the pairs.
pub(crate) async fn range(etcd: &Etcd, key: &[u8], end: &[u8]) -> Result<(i64, Vec<(Vec<u8>, Vec<u8>)>), Error> {
    let reply = call(etcd, "/v3/kv/range", &json!({"key": b64(key), "range_end": b64(end)})).await?;
    let revision = revision(&reply)?;
    let mut pairs = Vec::new();
    if let Some(kvs) = reply.get("kvs") {
        let kvs = kvs.as_array().ok_or_else(|| bad("/v3/kv/range", "kvs is not an array"))?;
        for kv in kvs {
            pairs.push((unb64(kv.get("key"))?, unb64(kv.get("value"))?));
        }
    }
    Ok((revision, pairs))
}

/// Puts `key` = `value`, attached to `lease` (0: none).
pub(crate) async fn put(etcd: &Etcd, key: &[u8], value: &[u8], lease: i64) -> Result<(), Error> {
    let body = json!({"key": b64(key), "value": b64(value), "lease": lease.to_string()});
    call(etcd, "/v3/kv/put", &body).await.map(drop)
}

/// Grants a lease of `ttl_secs` seconds; returns its id.
pub(crate) async fn grant(etcd: &Etcd, ttl_secs: i64) -> Result<i64, Error> {
    let reply = call(etcd, "/v3/lease/grant", &json!({"TTL": ttl_secs.to_string()})).await?;
    if let Some(e) = reply.get("error").and_then(Value::as_str).filter(|e| !e.is_empty()) {
        return Err(code::error(code::ETCD_ERROR, format!("etcd /v3/lease/grant: {e}")));
    }
    match int(reply.get("ID")) {
        Some(id) if id != 0 => Ok(id),
        _ => Err(bad("/v3/lease/grant", "no lease ID")),
    }
}

/// Refreshes `lease`; returns its new TTL in seconds, 0 when the lease is
/// gone (expired or revoked).
pub(crate) async fn keep_alive(etcd: &Etcd, lease: i64) -> Result<i64, Error> {
    let reply = call(etcd, "/v3/lease/keepalive", &json!({"ID": lease.to_string()})).await?;
    if let Some(e) = reply.get("error") {
        let m = e.get("message").and_then(Value::as_str).unwrap_or("error");
        return Err(code::error(code::ETCD_ERROR, format!("etcd /v3/lease/keepalive: {m}")));
    }
    let result = reply.get("result").ok_or_else(|| bad("/v3/lease/keepalive", "no result"))?;
    int_or_zero(result.get("TTL")).ok_or_else(|| bad("/v3/lease/keepalive", "TTL is not an integer"))
}

/// Revokes `lease`: its keys are deleted at once. A lease already gone is
/// not an error.
pub(crate) async fn revoke(etcd: &Etcd, lease: i64) -> Result<(), Error> {
    match call(etcd, "/v3/lease/revoke", &json!({"ID": lease.to_string()})).await {
        Err(e) if e.code() == code::ETCD_ERROR && e.to_string().contains("lease not found") => Ok(()),
        r => r.map(drop),
    }
}

/// The `header.revision` of a reply.
pub(crate) fn revision(reply: &Value) -> Result<i64, Error> {
    int(reply.get("header").and_then(|h| h.get("revision"))).ok_or_else(|| bad("reply", "no header.revision"))
}

/// The first key after every key that starts with `prefix` (etcd's
/// `range_end` for a prefix); empty (to the end) when there is none.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

pub(crate) fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes a base64 field; absent is empty (proto3).
pub(crate) fn unb64(v: Option<&Value>) -> Result<Vec<u8>, Error> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => STANDARD.decode(s).map_err(|e| bad("reply", &format!("bad base64: {e}"))),
        Some(_) => Err(bad("reply", "a key or value is not a string")),
    }
}

/// An int64 field, as proto3 JSON writes it (a string) or as a number.
pub(crate) fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Like [`int`], an absent field being 0.
pub(crate) fn int_or_zero(v: Option<&Value>) -> Option<i64> {
    if v.is_none() { Some(0) } else { int(v) }
}

pub(crate) fn bad(what: &str, why: &str) -> Error {
    code::error(code::BAD_REPLY, format!("etcd {what}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/wf/services/a/"), b"/wf/services/a0");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), b"\0");
    }

    #[test]
    fn proto3_integers() {
        assert_eq!(int(Some(&json!("42"))), Some(42));
        assert_eq!(int(Some(&json!(7))), Some(7));
        assert_eq!(int(Some(&json!("x"))), None);
        assert_eq!(int(None), None);
        assert_eq!(int_or_zero(None), Some(0));
        assert_eq!(int_or_zero(Some(&json!([]))), None);
    }

    #[test]
    fn base64_fields() {
        assert_eq!(unb64(Some(&json!(b64(b"/k")))).unwrap(), b"/k");
        assert!(unb64(None).unwrap().is_empty());
        assert_eq!(unb64(Some(&json!("!!"))).unwrap_err().code(), code::BAD_REPLY);
        assert!(unb64(Some(&json!(1))).is_err());
    }
}
