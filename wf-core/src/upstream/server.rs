//! One server entry of an upstream: its address, parameters, breaker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::address::{self, Dest};
use super::breaker::Breaker;
use super::params::{AddressParams, ServerType};
use crate::error::Error;

/// A server entry. The same address added twice is two entries, with a
/// breaker each.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) address: Arc<str>,
    pub(crate) dest: Dest,
    pub(crate) params: AddressParams,
    pub(crate) breaker: Breaker,
    disabled: AtomicBool,
}

impl Server {
    pub(crate) fn new(address: &str, params: AddressParams) -> Result<Server, Error> {
        Ok(Server {
            dest: address::parse(address)?,
            address: Arc::from(address),
            params,
            breaker: Breaker::default(),
            disabled: AtomicBool::new(false),
        })
    }

    pub(crate) fn is_main(&self) -> bool {
        self.params.server_type == ServerType::Main
    }

    pub(crate) fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }

    pub(crate) fn set_disabled(&self, disabled: bool) {
        self.disabled.store(disabled, Ordering::Relaxed);
        if !disabled {
            self.breaker.reset();
        }
    }

    /// Up at `now`: neither disabled nor fused (half-open is up).
    pub(crate) fn is_up(&self, now: u64) -> bool {
        !self.is_disabled() && !self.breaker.is_fused(now)
    }
}
