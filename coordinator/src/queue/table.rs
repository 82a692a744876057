//! The table of tasks by id: an [`IdMap`] of boxed tasks, so that a shard's
//! growth moves ids and pointers (16 bytes an entry), not tasks.

use crate::id_map::IdMap;

use super::task::{Task, TaskId};

/// Tasks by id.
#[derive(Debug, Default)]
pub(super) struct TaskTable {
    tasks: IdMap<Box<Task>>,
}

impl TaskTable {
    /// Task `id`.
    pub(super) fn get(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.get(id).map(Box::as_ref)
    }

    /// Task `id`, to change.
    pub(super) fn get_mut(&mut self, id: &TaskId) -> Option<&mut Task> {
        self.tasks.get_mut(id).map(Box::as_mut)
    }

    /// Adds (or replaces) task `id`.
    pub(super) fn insert(&mut self, id: TaskId, task: Task) {
        self.tasks.insert(id, Box::new(task));
    }

    /// Removes task `id`.
    pub(super) fn remove(&mut self, id: &TaskId) -> Option<Task> {
        self.tasks.remove(id).map(|task| *task)
    }

    /// Makes room for `additional` more tasks with consecutive ids.
    pub(super) fn reserve(&mut self, additional: usize) {
        self.tasks.reserve(additional);
    }

    /// Tasks held.
    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }
}
