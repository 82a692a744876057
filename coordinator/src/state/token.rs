//! Lease tokens: proof that a poster holds (or held) a lease.
//!
//! A token names one lease of one task (its number among the task's
//! leases) and carries a 128-bit tag over the task id and that number,
//! keyed by a secret drawn when the process starts. Nothing is stored per
//! token: a token is checked by computing its tag again, so a lease that
//! has ended is still recognised for what it was (a late answer comes from
//! a former holder), and a token of another task, another lease or an
//! earlier run of the process is refused. Deciding what a holder may do is
//! the queue's job; this module only says which lease a token names.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use crate::queue::TaskId;

/// The secret keys tokens are made with: two keyed SipHash instances from
/// the process's random hasher keys, or from a secret that several
/// coordinators share (on one Redis), so that each reads the others'
/// tokens.
#[derive(Debug)]
pub(super) enum LeaseTokens {
    /// This process's own keys.
    Own {
        /// Keys of the tag's high half.
        high: RandomState,
        /// Keys of the tag's low half.
        low: RandomState,
    },
    /// A shared secret.
    Shared(u64, u64),
}

/// A token that is not one this process made for the task it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ForeignToken;

impl LeaseTokens {
    /// Tokens under fresh secret keys.
    pub(super) fn new() -> Self {
        Self::Own {
            high: RandomState::new(),
            low: RandomState::new(),
        }
    }

    /// Tokens under the shared secret `(high, low)`.
    pub(super) fn with_secret(high: u64, low: u64) -> Self {
        Self::Shared(high, low)
    }

    fn tag(&self, id: TaskId, lease: u64) -> u128 {
        fn half(mut hasher: impl Hasher, id: TaskId, lease: u64) -> u64 {
            hasher.write_u64(id.0);
            hasher.write_u64(lease);
            hasher.finish()
        }
        let (high, low) = match self {
            Self::Own { high, low } => (
                half(high.build_hasher(), id, lease),
                half(low.build_hasher(), id, lease),
            ),
            #[allow(deprecated)] // std's SipHash-1-3 with explicit keys; only keyed use here
            Self::Shared(k0, k1) => (
                half(std::hash::SipHasher::new_with_keys(*k0, *k1), id, lease),
                half(std::hash::SipHasher::new_with_keys(*k1, !*k0), id, lease),
            ),
        };
        (u128::from(high) << 64) | u128::from(low)
    }

    /// The token of lease `lease` of task `id`: `LEASE-TAG` in hex.
    pub(super) fn issue(&self, id: TaskId, lease: u64) -> String {
        format!("{lease:x}-{:032x}", self.tag(id, lease))
    }

    /// The lease of task `id` that `token` names.
    ///
    /// # Errors
    ///
    /// [`ForeignToken`] when it is not a token this process made for task
    /// `id`.
    pub(super) fn read(&self, id: TaskId, token: &str) -> Result<u64, ForeignToken> {
        let (lease, tag) = token.split_once('-').ok_or(ForeignToken)?;
        let hex = |text: &str, max: usize| {
            (!text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_hexdigit()))
                .then_some(())
                .ok_or(ForeignToken)
        };
        hex(lease, 16)?;
        hex(tag, 32)?;
        let lease = u64::from_str_radix(lease, 16).map_err(|_| ForeignToken)?;
        let tag = u128::from_str_radix(tag, 16).map_err(|_| ForeignToken)?;
        (tag == self.tag(id, lease))
            .then_some(lease)
            .ok_or(ForeignToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_lease_of_its_task_only() {
        let tokens = LeaseTokens::new();
        let token = tokens.issue(TaskId(7), 3);
        assert_eq!(tokens.read(TaskId(7), &token), Ok(3));
        assert_eq!(tokens.read(TaskId(8), &token), Err(ForeignToken));
        let other_lease = tokens.issue(TaskId(7), 4);
        assert_ne!(token, other_lease);
        assert_eq!(tokens.read(TaskId(7), &other_lease), Ok(4));
    }

    #[test]
    fn forged_and_malformed_tokens_are_foreign() {
        let tokens = LeaseTokens::new();
        let token = tokens.issue(TaskId(1), 1);
        let (lease, tag) = token.split_once('-').unwrap_or_default();
        let mut flipped = tag.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = format!("{lease}-{}", String::from_utf8_lossy(&flipped));
        let renumbered = format!("2-{tag}");
        let other_run = LeaseTokens::new().issue(TaskId(1), 1);
        for bad in [
            "",
            "-",
            "1",
            "1-",
            "-00",
            "zz-00",
            "1-xyz",
            &flipped,
            &renumbered,
            &other_run,
            &format!("{token}0"),
            "10000000000000000-0",
        ] {
            assert_eq!(tokens.read(TaskId(1), bad), Err(ForeignToken), "{bad:?}");
        }
    }
}
