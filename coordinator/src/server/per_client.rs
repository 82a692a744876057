//! Connections open per client address, so one address cannot take every
//! connection slot. Counted by the TCP peer (IPv6 by its /64); trusted
//! proxies are not counted, since many clients come through them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// The open connections of every address. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct PerClient {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    /// At most `cap` connections per address; 0 is no cap.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn open(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one more connection from `client` (a key from
    /// [`crate::ClientAddr::key`]), or `None` when it already has its cap.
    pub(crate) fn admit(&self, client: IpAddr) -> Option<Admitted> {
        if self.cap == 0 {
            return Some(Admitted(None));
        }
        let mut open = self.open();
        let count = open.entry(client).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Admitted(Some((self.clone(), client))))
    }

    /// A connection that is not counted (from a trusted proxy).
    pub(crate) fn exempt(&self) -> Admitted {
        Admitted(None)
    }

    /// Connections open from `client`.
    #[cfg(test)]
    fn count(&self, client: IpAddr) -> usize {
        self.open().get(&client).copied().unwrap_or(0)
    }
}

/// One admitted connection; uncounted when dropped.
#[derive(Debug)]
pub(crate) struct Admitted(Option<(PerClient, IpAddr)>);

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((per_client, client)) = self.0.take() {
            let mut open = per_client.open();
            if let Some(count) = open.get_mut(&client) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&client);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_cap_and_no_more() {
        let per_client = PerClient::new(2);
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        let first = per_client.admit(a);
        let second = per_client.admit(a);
        assert!(first.is_some() && second.is_some());
        assert!(per_client.admit(a).is_none());
        assert!(per_client.admit(b).is_some(), "others are not held back");
        drop(first);
        assert_eq!(per_client.count(a), 1);
        assert!(per_client.admit(a).is_some());
    }

    #[test]
    fn no_cap_admits_everyone() {
        let per_client = PerClient::new(0);
        let a = IpAddr::from([192, 0, 2, 1]);
        let all: Vec<_> = (0..1000).map(|_| per_client.admit(a)).collect();
        assert!(all.iter().all(Option::is_some));
    }
}
