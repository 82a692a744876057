//! A budget for request bodies being received at once, in total and per
//! client address, so memory stays bounded however many clients upload at
//! the same time and one address cannot take the whole budget.
//!
//! Bytes are taken as they arrive, not up front: a request that declares
//! 64 MiB and sends one byte holds one byte. What a request has taken is
//! recorded in its [`Claim`], which gives it all back when the last of its
//! holders (the body being read, the middleware waiting for the answer)
//! lets go. Waiting for room, timing out, and answering are the job of
//! [`crate::request_body`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The shared budget: cheap to clone.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    inner: Arc<Ledger>,
}

#[derive(Debug)]
struct Ledger {
    total: usize,
    per_client: usize,
    used: Mutex<Used>,
    /// Signalled whenever bytes are given back.
    freed: Notify,
}

#[derive(Debug, Default)]
struct Used {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

impl BodyBudget {
    /// A budget of `total` bytes, of which one client address may hold
    /// `per_client` (at most `total`; at least one byte each).
    pub fn new(total: usize, per_client: usize) -> Self {
        let total = total.max(1);
        Self {
            inner: Arc::new(Ledger {
                total,
                per_client: per_client.clamp(1, total),
                used: Mutex::new(Used::default()),
                freed: Notify::new(),
            }),
        }
    }

    /// The whole budget.
    pub fn total(&self) -> usize {
        self.inner.total
    }

    /// What one client address may hold.
    pub fn per_client(&self) -> usize {
        self.inner.per_client
    }

    /// Bytes not taken right now.
    pub fn available(&self) -> usize {
        self.inner.total - self.used().total
    }

    /// Bytes `client` holds right now.
    pub fn held_by(&self, client: IpAddr) -> usize {
        self.used().by_client.get(&client).copied().unwrap_or(0)
    }

    /// A new claim, holding nothing yet, for a body from `client` (a key
    /// from [`crate::ClientAddr::key`]).
    pub fn claim(&self, client: IpAddr) -> Claim {
        Claim {
            budget: self.clone(),
            client,
            taken: AtomicUsize::new(0),
        }
    }

    /// Resolves the next time bytes are given back. Create it before
    /// trying to take bytes, so that a release in between is not missed.
    pub(crate) fn freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.freed.notified()
    }

    fn used(&self) -> MutexGuard<'_, Used> {
        self.inner
            .used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes `bytes` for `client` when both the total and the client's
    /// share have room. A client that holds nothing may always take one
    /// frame of up to the whole budget when the total has room, so that no
    /// frame size can wait forever.
    fn try_take(&self, client: IpAddr, bytes: usize) -> bool {
        let mut used = self.used();
        let held = used.by_client.get(&client).copied().unwrap_or(0);
        let total_room = used.total + bytes <= self.inner.total || used.total == 0;
        let client_room = held + bytes <= self.inner.per_client || held == 0;
        if !(total_room && client_room) {
            return false;
        }
        used.total += bytes;
        *used.by_client.entry(client).or_insert(0) += bytes;
        true
    }

    fn give_back(&self, client: IpAddr, bytes: usize) {
        if bytes == 0 {
            return;
        }
        {
            let mut used = self.used();
            used.total = used.total.saturating_sub(bytes);
            if let Some(held) = used.by_client.get_mut(&client) {
                *held = held.saturating_sub(bytes);
                if *held == 0 {
                    used.by_client.remove(&client);
                }
            }
        }
        self.inner.freed.notify_waiters();
    }
}

/// What one request body holds of the budget; given back when dropped.
#[derive(Debug)]
pub struct Claim {
    budget: BodyBudget,
    client: IpAddr,
    taken: AtomicUsize,
}

impl Claim {
    /// Takes `bytes` more when there is room; `false` leaves nothing taken.
    pub fn try_take(&self, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let ok = self.budget.try_take(self.client, bytes);
        if ok {
            self.taken.fetch_add(bytes, Ordering::Relaxed);
        }
        ok
    }

    /// Bytes this claim holds.
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// The budget this claim takes from.
    pub fn budget(&self) -> &BodyBudget {
        &self.budget
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.budget.give_back(self.client, *self.taken.get_mut());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn claims_hold_what_they_took_until_dropped() {
        let budget = BodyBudget::new(100, 100);
        let claim = budget.claim(ip(1));
        assert!(claim.try_take(30));
        assert!(claim.try_take(30));
        assert_eq!(claim.taken(), 60);
        assert_eq!(budget.available(), 40);
        assert_eq!(budget.held_by(ip(1)), 60);
        drop(claim);
        assert_eq!(budget.available(), 100);
        assert_eq!(budget.held_by(ip(1)), 0);
    }

    #[test]
    fn one_client_cannot_take_more_than_its_share() {
        let budget = BodyBudget::new(100, 40);
        let first = budget.claim(ip(1));
        let second = budget.claim(ip(1));
        assert!(first.try_take(30));
        assert!(!second.try_take(20), "over the client's share");
        assert!(second.try_take(10));
        let other = budget.claim(ip(2));
        assert!(other.try_take(40), "another client still has room");
        assert!(!other.try_take(1));
        assert_eq!(budget.available(), 20);
    }

    #[test]
    fn the_total_is_shared() {
        let budget = BodyBudget::new(100, 60);
        let a = budget.claim(ip(1));
        let b = budget.claim(ip(2));
        assert!(a.try_take(60));
        assert!(!b.try_take(50));
        assert!(b.try_take(40));
        drop(a);
        assert!(b.try_take(20));
        assert_eq!(budget.available(), 40);
    }

    #[test]
    fn a_client_holding_nothing_may_take_one_oversized_frame() {
        let budget = BodyBudget::new(100, 10);
        let claim = budget.claim(ip(1));
        assert!(claim.try_take(50));
        assert!(!claim.try_take(1));
    }
}
