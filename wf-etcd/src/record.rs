//! What a server's key and value hold.
//!
//! Key: `PREFIX SERVICE / ADDRESS`, e.g. `/wf/services/search/10.0.0.7:8080`.
//! Value, JSON:
//!
//! ```json
//! {"address": "10.0.0.7:8080", "weight": 2, "backup": false, "group": 1}
//! ```
//!
//! Only `address` is needed (when it is missing, the key's part after the
//! service's prefix is the address); `weight` is 1–65535 (default 1),
//! `backup` makes a backup server (default false: a main one), `group` is
//! a server group number (default: none). Other fields are ignored, so a
//! newer writer can add some.

use crate::upstream::{AddressParams, ServerType};
use serde_json::{Map, Value, json};

/// The most bytes of an address.
pub(crate) const MAX_ADDRESS: usize = 4096;

/// The value that publishes `address` with `params` (its weight, type and
/// group; other parameters stay local to each client).
pub(crate) fn encode(address: &str, params: &AddressParams) -> String {
    let mut v = Map::new();
    v.insert("address".into(), json!(address));
    v.insert("weight".into(), json!(params.weight.max(1)));
    v.insert("backup".into(), json!(matches!(params.server_type, ServerType::Backup)));
    if let Some(g) = params.group {
        v.insert("group".into(), json!(g));
    }
    Value::Object(v).to_string()
}

/// The server a value describes; `key_address` is the key's last part.
/// An error says what is wrong with the value.
pub(crate) fn decode(key_address: &[u8], value: &[u8]) -> Result<(String, AddressParams), String> {
    let v: Value = serde_json::from_slice(value).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(v) = v else { return Err("not a JSON object".into()) };
    let address = match v.get("address") {
        Some(Value::String(a)) => a.clone(),
        Some(_) => return Err("address is not a string".into()),
        None => String::from_utf8(key_address.to_vec()).map_err(|_| "the key's address is not UTF-8")?,
    };
    if address.is_empty() || address.len() > MAX_ADDRESS {
        return Err(format!("the address is empty or over {MAX_ADDRESS} bytes"));
    }
    let mut params = AddressParams::default();
    if let Some(w) = v.get("weight") {
        params.weight = w
            .as_u64()
            .and_then(|w| u16::try_from(w).ok())
            .filter(|&w| w >= 1)
            .ok_or_else(|| format!("weight {w} is not in 1..=65535"))?;
    }
    match v.get("backup") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => params.server_type = ServerType::Backup,
        Some(b) => return Err(format!("backup {b} is not a boolean")),
    }
    match v.get("group") {
        None | Some(Value::Null) => {}
        Some(g) => {
            params.group =
                Some(g.as_i64().and_then(|g| i32::try_from(g).ok()).ok_or_else(|| format!("group {g} is not an i32"))?)
        }
    }
    Ok((address, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut p = AddressParams::default();
        p.weight = 7;
        p.server_type = ServerType::Backup;
        p.group = Some(-3);
        let (a, q) = decode(b"ignored", encode("10.0.0.1:80", &p).as_bytes()).unwrap();
        assert_eq!(a, "10.0.0.1:80");
        assert_eq!((q.weight, matches!(q.server_type, ServerType::Backup), q.group), (7, true, Some(-3)));
    }

    #[test]
    fn defaults_and_the_key_address() {
        let (a, q) = decode(b"/tmp/s.sock", b"{}").unwrap();
        assert_eq!(a, "/tmp/s.sock");
        assert_eq!((q.weight, matches!(q.server_type, ServerType::Main), q.group), (1, true, None));
        let (a, _) = decode(b"k", br#"{"address":"h:1","future":[1,2]}"#).unwrap();
        assert_eq!(a, "h:1");
    }

    #[test]
    fn bad_values_say_why() {
        for (value, why) in [
            (&b"nope"[..], "not JSON"),
            (b"[1]", "not a JSON object"),
            (br#"{"address":5}"#, "address is not a string"),
            (br#"{"address":""}"#, "empty"),
            (br#"{"weight":0}"#, "weight 0"),
            (br#"{"weight":65536}"#, "weight 65536"),
            (br#"{"weight":"2"}"#, "weight \"2\""),
            (br#"{"backup":"yes"}"#, "backup"),
            (br#"{"group":4294967296}"#, "group"),
        ] {
            let e = decode(b"k", value).unwrap_err();
            assert!(e.contains(why), "{}: {e}", String::from_utf8_lossy(value));
        }
        assert!(decode(b"\xff", b"{}").is_err());
    }
}
