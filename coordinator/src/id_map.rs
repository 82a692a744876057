//! A map keyed by task id that never stalls its owner to grow.
//!
//! A `HashMap` that outgrows its capacity moves every entry into a table
//! twice as large, in one call. The queue's task table and the metrics'
//! per-task times are each held under a lock and grow to a million entries
//! and more, so one such move stalled every client: half a second at a
//! quarter of a million tasks, 80-150 ms at 917,504 entries once tasks were
//! boxed. Here the entries are spread over [`SHARDS`] maps by id, and a
//! growing shard moves only its own entries. Ids are given out in order, so
//! the shards fill evenly and would all outgrow their capacity within a few
//! dozen inserts of each other; each shard therefore grows early, at its own
//! fill level ([`grows_at`]: from half of its capacity for the first shard
//! to nearly all of it for the last), which spreads the growths over
//! hundreds of thousands of inserts, one shard at a time.
//!
//! Ids are chosen by the coordinator, not by clients, so they are hashed by
//! a multiply ([`IdHasher`]) rather than by the default hasher, which
//! guards against keys chosen by an attacker.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::queue::TaskId;

/// How many maps the entries are spread over.
pub(crate) const SHARDS: usize = 64;

/// The fill level, in 128ths of its capacity, at which shard `index` grows:
/// from 64 (half) to 127, a different one for each shard.
fn grows_at(index: usize) -> usize {
    64 + index * 64 / SHARDS
}

/// Hashes task ids (one `u64` each, given out in order) by a multiply,
/// which spreads consecutive ids over a shard's buckets.
#[derive(Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One shard: a map with the id hasher.
type Shard<V> = HashMap<TaskId, V, BuildHasherDefault<IdHasher>>;

/// Values by task id. See the module docs.
#[derive(Debug)]
pub(crate) struct IdMap<V> {
    shards: Box<[Shard<V>]>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            len: 0,
        }
    }
}

/// The shard that holds `id`.
fn shard_of(id: TaskId) -> usize {
    (id.0 % SHARDS as u64) as usize
}

impl<V> IdMap<V> {
    /// The value of `id`.
    pub(crate) fn get(&self, id: &TaskId) -> Option<&V> {
        self.shards[shard_of(*id)].get(id)
    }

    /// The value of `id`, to change.
    pub(crate) fn get_mut(&mut self, id: &TaskId) -> Option<&mut V> {
        self.shards[shard_of(*id)].get_mut(id)
    }

    /// Sets the value of `id`, growing its shard first when the shard has
    /// reached its own fill level; returns the value it replaces.
    pub(crate) fn insert(&mut self, id: TaskId, value: V) -> Option<V> {
        let index = shard_of(id);
        let shard = &mut self.shards[index];
        let capacity = shard.capacity();
        if capacity > 0 && shard.len() * 128 >= capacity * grows_at(index) {
            shard.reserve(capacity);
        }
        let old = shard.insert(id, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes `id` and returns its value.
    pub(crate) fn remove(&mut self, id: &TaskId) -> Option<V> {
        let value = self.shards[shard_of(*id)].remove(id)?;
        self.len -= 1;
        Some(value)
    }

    /// Makes room for `additional` more entries with consecutive ids,
    /// spread over the shards as their ids will be.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let per_shard = additional.div_ceil(SHARDS);
        for shard in &mut self.shards {
            shard.reserve(per_shard);
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Each shard's capacity.
    #[cfg(test)]
    fn capacities(&self) -> Vec<usize> {
        self.shards.iter().map(HashMap::capacity).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_ids_spread_over_every_shard_and_come_back() {
        let mut map = IdMap::default();
        let count = 100_000u64;
        for id in 1..=count {
            assert_eq!(map.insert(TaskId(id), id * 2), None);
        }
        assert_eq!(map.len(), count as usize);
        assert_eq!(map.insert(TaskId(9), 1), Some(18));
        assert_eq!(
            map.len(),
            count as usize,
            "a replaced value is not counted twice"
        );
        // No shard holds (or will move) more than a few times its share.
        let share = count as usize / SHARDS;
        let capacities = map.capacities();
        let largest = capacities.iter().copied().max().unwrap_or(0);
        assert!(largest <= 4 * share, "{largest} for a share of {share}");
        assert_eq!(map.remove(&TaskId(7)), Some(14));
        assert_eq!(map.remove(&TaskId(7)), None);
        assert_eq!(map.get(&TaskId(7)), None);
        assert_eq!(map.get(&TaskId(8)), Some(&16));
        *map.get_mut(&TaskId(8)).unwrap_or(&mut 0) = 3;
        assert_eq!(map.get(&TaskId(8)), Some(&3));
        assert_eq!(map.len(), count as usize - 1);
    }

    #[test]
    fn shards_grow_at_different_fill_levels_so_never_all_at_once() {
        let mut map = IdMap::default();
        let mut growths_at = Vec::new();
        let mut before = map.capacities();
        for id in 1..=200_000u64 {
            map.insert(TaskId(id), ());
            let after = map.capacities();
            let grown = before.iter().zip(&after).filter(|(b, a)| a > b).count();
            if grown > 0 && id > 10_000 {
                growths_at.push(id);
            }
            before = after;
        }
        // Past the first small growths, no two shards grow on nearby inserts.
        let closest = growths_at
            .windows(2)
            .map(|w| w[1] - w[0])
            .min()
            .unwrap_or(u64::MAX);
        assert!(closest >= 16, "growths at {growths_at:?}");
    }
}
