//! The table of tasks by id, in shards so that it never grows in one step.
//!
//! A `HashMap` that outgrows its capacity moves every entry into a table
//! twice as large, in one call: under the queue's lock that stalled every
//! client for half a second at a quarter of a million tasks, and twice as
//! long at each doubling after. Here the tasks are spread over [`SHARDS`]
//! maps by id (ids are consecutive, so the shards fill evenly), and a
//! growing shard moves only its own entries: one `SHARDS`-th of the table.

use std::collections::HashMap;

use super::task::{Task, TaskId};

/// How many maps the tasks are spread over.
pub(super) const SHARDS: usize = 64;

/// Tasks by id. See the module docs.
#[derive(Debug)]
pub(super) struct TaskTable {
    shards: Box<[HashMap<TaskId, Task>]>,
    len: usize,
}

impl Default for TaskTable {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| HashMap::new()).collect(),
            len: 0,
        }
    }
}

impl TaskTable {
    fn shard(&self, id: TaskId) -> &HashMap<TaskId, Task> {
        &self.shards[(id.0 % SHARDS as u64) as usize]
    }

    fn shard_mut(&mut self, id: TaskId) -> &mut HashMap<TaskId, Task> {
        &mut self.shards[(id.0 % SHARDS as u64) as usize]
    }

    /// Task `id`.
    pub(super) fn get(&self, id: &TaskId) -> Option<&Task> {
        self.shard(*id).get(id)
    }

    /// Task `id`, to change.
    pub(super) fn get_mut(&mut self, id: &TaskId) -> Option<&mut Task> {
        self.shard_mut(*id).get_mut(id)
    }

    /// Adds (or replaces) task `id`.
    pub(super) fn insert(&mut self, id: TaskId, task: Task) {
        if self.shard_mut(id).insert(id, task).is_none() {
            self.len += 1;
        }
    }

    /// Removes task `id`.
    pub(super) fn remove(&mut self, id: &TaskId) -> Option<Task> {
        let task = self.shard_mut(*id).remove(id)?;
        self.len -= 1;
        Some(task)
    }

    /// Makes room for `additional` more tasks with consecutive ids, spread
    /// over the shards as their ids will be.
    pub(super) fn reserve(&mut self, additional: usize) {
        let per_shard = additional.div_ceil(SHARDS);
        for shard in &mut self.shards {
            shard.reserve(per_shard);
        }
    }

    /// Tasks held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The largest number of entries one shard has room for (what its next
    /// growth would move, at most).
    #[cfg(test)]
    pub(super) fn largest_shard_capacity(&self) -> usize {
        self.shards.iter().map(HashMap::capacity).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_text::SharedText;

    #[test]
    fn consecutive_ids_spread_over_every_shard() {
        let mut table = TaskTable::default();
        let count = 100_000;
        for id in 1..=count {
            table.insert(TaskId(id), Task::new(SharedText::default(), None));
        }
        assert_eq!(table.len(), count as usize);
        // No shard holds (or will move) more than a few times its share.
        let share = count as usize / SHARDS;
        assert!(
            table.largest_shard_capacity() <= 4 * share,
            "{} for a share of {share}",
            table.largest_shard_capacity()
        );
        assert!(table.remove(&TaskId(7)).is_some());
        assert!(table.remove(&TaskId(7)).is_none());
        assert!(table.get(&TaskId(7)).is_none());
        assert!(table.get(&TaskId(8)).is_some());
        assert_eq!(table.len(), count as usize - 1);
    }
}
