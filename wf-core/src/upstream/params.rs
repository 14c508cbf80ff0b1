//! Per-server parameters (Workflow's `AddressParams`).

use std::time::Duration;

use crate::runtime::EndpointParams;

/// Whether a server takes requests normally or only when the mains of its
/// group are down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ServerType {
    /// Picked by the upstream's policy.
    #[default]
    Main,
    /// Used when the main servers of its group (or, for a backup without a
    /// group, the picked main) cannot serve.
    Backup,
}

/// How one server of an upstream is used (Workflow's `AddressParams`;
/// the defaults are Workflow's).
///
/// ```
/// use wf_core::upstream::{AddressParams, ServerType};
///
/// let mut p = AddressParams::default();
/// p.weight = 5;
/// p.server_type = ServerType::Backup;
/// p.group = Some(1);
/// assert_eq!(p.max_fails, 200);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddressParams {
    /// Endpoint parameters for connections to this server (max
    /// connections, connect and response timeouts…), instead of the
    /// task's or the global ones. `None`: the task's or the global ones.
    pub endpoint: Option<EndpointParams>,
    /// How long a host name's addresses are cached for a first attempt
    /// (12 h).
    pub dns_ttl_default: Duration,
    /// How long cached addresses are trusted by a retry (180 s).
    pub dns_ttl_min: Duration,
    /// Consecutive failures that fuse the server for the upstream's MTTR
    /// (200; 0 is taken as 1).
    pub max_fails: u32,
    /// The share of requests a main server gets, relative to the others'
    /// (1; 0 is taken as 1; backups ignore it).
    pub weight: u16,
    /// Main or backup.
    pub server_type: ServerType,
    /// The group of the server (`None`, or a negative id: no group).
    pub group: Option<i32>,
}

impl Default for AddressParams {
    fn default() -> AddressParams {
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

impl AddressParams {
    /// `max_fails` as used: at least 1.
    pub(crate) fn max_fails_used(&self) -> u32 {
        self.max_fails.max(1)
    }

    /// `weight` as used: at least 1.
    pub(crate) fn weight_used(&self) -> u32 {
        u32::from(self.weight.max(1))
    }

    /// `group` as used: negative ids are no group.
    pub(crate) fn group_used(&self) -> Option<i32> {
        self.group.filter(|g| *g >= 0)
    }
}
