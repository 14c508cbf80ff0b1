//! TEMPORARY: the shared upstream contract, until helper U1's
//! `wf_core::upstream` is merged. Not part of the crate.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wf_core::EndpointParams;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerType {
    #[default]
    Main,
    Backup,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AddressParams {
    pub endpoint: Option<EndpointParams>,
    pub dns_ttl_default: Duration,
    pub dns_ttl_min: Duration,
    pub max_fails: u32,
    pub weight: u16,
    pub server_type: ServerType,
    pub group: Option<i32>,
}

impl Default for AddressParams {
    fn default() -> Self {
        AddressParams {
            endpoint: None,
            dns_ttl_default: Duration::from_secs(12 * 3600),
            dns_ttl_min: Duration::from_secs(180),
            max_fails: 200,
            weight: 1,
            server_type: ServerType::Main,
            group: None,
        }
    }
}

#[non_exhaustive]
pub enum Policy {
    WeightedRandom { try_another: bool },
}

#[derive(Clone, Debug)]
pub struct Upstream {
    name: String,
    servers: Arc<Mutex<Vec<(String, AddressParams)>>>,
}

fn registry() -> &'static Mutex<HashMap<String, Upstream>> {
    static R: std::sync::OnceLock<Mutex<HashMap<String, Upstream>>> = std::sync::OnceLock::new();
    R.get_or_init(Default::default)
}

impl Upstream {
    pub fn create(name: &str, _policy: Policy) -> Upstream {
        let u = Upstream { name: name.into(), servers: Default::default() };
        registry().lock().unwrap().insert(name.into(), u.clone());
        u
    }
    pub fn get(name: &str) -> Option<Upstream> {
        registry().lock().unwrap().get(name).cloned()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn servers(&self) -> Vec<(String, AddressParams)> {
        self.servers.lock().unwrap().clone()
    }
    pub fn main_addresses(&self) -> Vec<String> {
        self.servers().into_iter().filter(|s| s.1.server_type == ServerType::Main).map(|s| s.0).collect()
    }
    pub fn set_servers(&self, servers: Vec<(String, AddressParams)>) -> Result<(), wf_core::Error> {
        *self.servers.lock().unwrap() = servers;
        Ok(())
    }
}
