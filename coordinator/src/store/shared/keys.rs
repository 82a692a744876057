//! Key names, and the two scripts: one that reads the head of the queue of
//! pending ids with its task, one that compares versions and writes.
//!
//! Neither script knows a rule of the queue: the reading one returns
//! fields, the writing one compares each task's version with the one the
//! coordinator read, each counter it is told to bound with its bound and
//! each place in a list it is told to check, and, when all hold, runs the
//! commands it is handed. It then publishes what someone waits for: the tasks it made pending when a coordinator
//! has a worker waiting for one, and the changed tasks a client waits on.

use redis::ScriptInvocation;

use crate::queue::TaskId;

/// Every key starts with this.
const PREFIX: &str = "coordinator:";

/// The names of the shared keys.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    /// The queue of pending ids (a list, the next to lease first).
    pub(super) pending: String,
    /// Live leases by deadline (a sorted set of `id:number`).
    pub(super) leases: String,
    /// Finished tasks by eviction time (a sorted set of ids).
    pub(super) finished: String,
    /// The cluster's counters (a hash).
    pub(super) stats: String,
    /// The last client id reserved by a coordinator ([`super::ids`]).
    pub(super) next_id: String,
    /// Part ids reserved by coordinators.
    pub(super) parts_used: String,
    /// The ids given to tasks so far (a sorted set: member `ids` scores
    /// the highest client id, member `parts` how many part ids, counted
    /// down from the first, the lowest part id used).
    pub(super) issued: String,
    /// The lease tokens' secret.
    pub(super) secret: String,
    /// The channel changes are published on.
    pub(super) channel: String,
    /// Tasks a client waits on somewhere, by the time the wait ends (a
    /// sorted set of ids).
    pub(super) watched: String,
    /// Coordinators with a worker waiting for a task, by the time the wait
    /// ends (a sorted set of coordinator tags).
    pub(super) idle: String,
}

impl Keys {
    /// The keys on database `db` (channels are shared by every database
    /// of a Redis, so the channel's name says the database).
    pub(super) fn on_db(db: i64) -> Self {
        let name = |suffix: &str| format!("{PREFIX}{suffix}");
        Self {
            pending: name("pending"),
            leases: name("leases"),
            finished: name("finished"),
            stats: name("stats"),
            next_id: name("next_id"),
            parts_used: name("parts_used"),
            issued: name("issued"),
            secret: name("secret"),
            channel: name(&format!("changes:{db}")),
            watched: name("watched"),
            idle: name("idle"),
        }
    }

    /// The hash of task `id`.
    pub(super) fn task(&self, id: TaskId) -> String {
        format!("{PREFIX}task:{id}")
    }

    /// What a task's key starts with, before its id.
    pub(super) fn task_prefix(&self) -> String {
        format!("{PREFIX}task:")
    }
}

/// Lua that reads the id at place `place` of the queue of pending ids and
/// its task's fields, with the id counters and the bytes held: what
/// [`head_script`] returns, and the write script when a place it was to
/// check was not as required.
const READ_HEAD: &str = r"
local function read_head(pending, issued_key, stats, prefix, place)
  local issued = redis.call('ZMSCORE', issued_key, 'ids', 'parts')
  local meta = {
    tonumber(issued[1] or '0'),
    tonumber(issued[2] or '0'),
    tonumber(redis.call('HGET', stats, 'held_bytes') or '0'),
  }
  local id = redis.call('LINDEX', pending, place)
  if not id then return {meta, false, {}} end
  return {meta, tonumber(id), redis.call('HMGET', prefix .. id, 'v', 's', 'd', 'r', 'q')}
end
";

/// Reads the id at place `ARGV[2]` of the queue of pending ids and its
/// task's fields, with the id counters and the bytes held.
///
/// KEYS: pending list, ids given, counters hash.
/// ARGV: task key prefix, place.
pub(super) fn head_script() -> String {
    format!(
        "{READ_HEAD}\nreturn read_head(KEYS[1], KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2]))\n"
    )
}

/// Compares versions, then writes, then publishes what is waited for.
///
/// KEYS: task hashes; `ARGV[i]` for each: the version it must have (`0`: it
/// must not exist). Then ARGV[#KEYS + 1]: how many bounds follow, each a
/// hash, a field and the most that field may hold now (a counter the
/// write is about to raise: it was read lower, and must still be low
/// enough). Then how many places follow, each a list, a member, a count
/// `n`, a count `k`, `k` members, and the ids-given key, the counters key
/// and the task key prefix: the member must be among the list's first
/// `n`, and the list's first element one of the `k` (a task decided on a
/// copy is still near the head of the queue, behind none but the ones
/// named). Then how many commands follow, each as its argument count and
/// its arguments. Then the message: the channel, the watched tasks' and
/// the idle coordinators' sorted sets, the writer's clock (ms), its tag,
/// how many tasks it made pending, how many changed ids follow, and the
/// ids. The message (`tag woken id...`) names only the ids some client
/// waits on, and says `0` pending unless a coordinator has a worker
/// waiting; it is not sent when it would say nothing. Returns 1 when it
/// wrote, 0 when a version differed or a bound was passed, and, when a
/// place was not as required, the head of that list as [`head_script`]
/// reads it (nothing was written either way).
const WRITE: &str = r"
for i = 1, #KEYS do
  local v = redis.call('HGET', KEYS[i], 'v')
  if (v or '0') ~= ARGV[i] then return 0 end
end
local p = #KEYS + 1
local bounds = tonumber(ARGV[p])
p = p + 1
for _ = 1, bounds do
  local now = tonumber(redis.call('HGET', ARGV[p], ARGV[p + 1]) or '0')
  if now > tonumber(ARGV[p + 2]) then return 0 end
  p = p + 3
end
local places = tonumber(ARGV[p])
p = p + 1
for _ = 1, places do
  local head = redis.call('LINDEX', ARGV[p], 0)
  local heads = tonumber(ARGV[p + 3])
  local found = false
  for i = p + 4, p + 3 + heads do
    if ARGV[i] == head then found = true end
  end
  local near = redis.call('LPOS', ARGV[p], ARGV[p + 1], 'MAXLEN', ARGV[p + 2])
  if not found or not near then
    local q = p + 4 + heads
    return read_head(ARGV[p], ARGV[q], ARGV[q + 1], ARGV[q + 2], 0)
  end
  p = p + 7 + heads
end
local n = tonumber(ARGV[p])
p = p + 1
for _ = 1, n do
  local argc = tonumber(ARGV[p])
  redis.call(unpack(ARGV, p + 1, p + argc))
  p = p + argc + 1
end
local now = tonumber(ARGV[p + 3])
local woken = tonumber(ARGV[p + 5])
if woken > 0 and redis.call('ZCOUNT', ARGV[p + 2], now, '+inf') == 0 then
  woken = 0
end
local message = {ARGV[p + 4], woken}
local ids = tonumber(ARGV[p + 6])
for i = p + 7, p + 6 + ids do
  local deadline = redis.call('ZSCORE', ARGV[p + 1], ARGV[i])
  if deadline and tonumber(deadline) >= now then
    message[#message + 1] = ARGV[i]
  end
end
if woken > 0 or #message > 2 then
  redis.call('PUBLISH', ARGV[p], table.concat(message, ' '))
end
return 1
";

/// [`WRITE`], with the head reading it answers with.
pub(super) fn write_script() -> String {
    format!("{READ_HEAD}\n{WRITE}")
}

/// The commands a write runs once the versions match.
#[derive(Debug, Default)]
pub(super) struct WritePlan {
    commands: Vec<Vec<Vec<u8>>>,
    /// The tasks whose prepared check the plan keeps.
    checks: Vec<String>,
}

impl WritePlan {
    /// Adds a command of text arguments.
    pub(super) fn command<const N: usize>(&mut self, args: [&str; N]) {
        self.commands
            .push(args.iter().map(|a| a.as_bytes().to_vec()).collect());
    }

    /// Adds one `HSET key field value ...` with binary values.
    pub(super) fn hset(&mut self, key: &str, fields: Vec<(&[u8], Vec<u8>)>) {
        let mut command = vec![b"HSET".to_vec(), key.as_bytes().to_vec()];
        for (field, value) in fields {
            command.push(field.to_vec());
            command.push(value);
        }
        self.commands.push(command);
    }

    /// Keeps a prepared product check under task `key`'s `c` field.
    pub(super) fn keep_check(&mut self, key: String, bytes: Vec<u8>) {
        self.hset(&key, vec![(b"c", bytes)]);
        self.checks.push(key);
    }

    /// Whether the plan keeps task `key`'s prepared check already.
    pub(super) fn keeps_check(&self, key: &str) -> bool {
        self.checks.iter().any(|k| k == key)
    }

    /// Whether there is nothing to write.
    pub(super) fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Passes the commands to the write script's `invocation`, after the
    /// versions and bounds.
    pub(super) fn add_to(self, invocation: &mut ScriptInvocation<'_>) {
        invocation.arg(self.commands.len());
        for command in self.commands {
            invocation.arg(command.len());
            for arg in command {
                invocation.arg(arg);
            }
        }
    }
}
