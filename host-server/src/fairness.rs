//! Per-address shares of the server's connection and WebSocket slots, so
//! one client cannot take every slot and starve the others.
//!
//! A slot is counted from accept to close: it is a value the connection
//! (or the WebSocket stream) owns, and dropping it gives the share back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Open slots per client address, at most `limit` each.
#[derive(Debug)]
pub struct PerAddress {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One slot of one address; dropping it frees the slot.
#[derive(Debug)]
pub struct AddressSlot {
    owner: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// A counter allowing `limit` open slots per address (at least one).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `ip`, or `None` when the address holds `limit` already.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: self.clone(),
            ip,
        })
    }

    /// Slots `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Forget idle addresses: the map only holds open connections.
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection's slots (global and per address). Requests carry a clone,
/// so a WebSocket stream keeps its connection's slots after the upgrade,
/// when hyper has already let go of the connection.
#[derive(Debug, Clone)]
pub struct ConnectionSlot {
    _held: Arc<(OwnedSemaphorePermit, AddressSlot)>,
}

impl ConnectionSlot {
    /// Holds `global` and `address` until the last clone is dropped.
    pub fn new(global: OwnedSemaphorePermit, address: AddressSlot) -> Self {
        Self {
            _held: Arc::new((global, address)),
        }
    }
}

/// Caps on open WebSocket streams: in all and per address.
#[derive(Debug)]
pub struct WsLimits {
    global: Arc<Semaphore>,
    per_address: Arc<PerAddress>,
}

/// One open WebSocket stream's slots.
#[derive(Debug)]
pub struct WsSlot {
    _global: OwnedSemaphorePermit,
    _address: AddressSlot,
}

/// Why a WebSocket stream was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsRefusal {
    /// The server's streams are all taken.
    Full,
    /// This address has its share already.
    AddressFull,
}

impl WsLimits {
    /// At most `global` streams, `per_address` of them from one address.
    pub fn new(global: usize, per_address: usize) -> Self {
        Self {
            global: Arc::new(Semaphore::new(global.max(1))),
            per_address: PerAddress::new(per_address),
        }
    }

    /// Slots for a new stream from `ip`.
    ///
    /// # Errors
    /// Which cap is reached.
    pub fn try_open(&self, ip: IpAddr) -> Result<WsSlot, WsRefusal> {
        let address = self
            .per_address
            .try_acquire(ip)
            .ok_or(WsRefusal::AddressFull)?;
        let global = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| WsRefusal::Full)?;
        Ok(WsSlot {
            _global: global,
            _address: address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_share_and_gives_it_back() {
        let slots = PerAddress::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let one = slots.try_acquire(a).unwrap();
        let two = slots.try_acquire(a).unwrap();
        assert!(slots.try_acquire(a).is_none());
        assert!(
            slots.try_acquire(b).is_some(),
            "another address is not starved"
        );
        drop(one);
        assert_eq!(slots.held(a), 1);
        assert!(slots.try_acquire(a).is_some());
        drop(two);
    }
}
