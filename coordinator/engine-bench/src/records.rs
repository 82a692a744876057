//! The records the coordinator will write: a small task's JSON data when it
//! is submitted, the same data with its status and a short result when it
//! completes, and its deletion when retention evicts it.

use std::collections::VecDeque;

use crate::engine::Op;

/// A small, fast, deterministic generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.next_u64() % (high - low + 1) as u64) as usize
    }
}

/// The JSON of a small submitted task: 60 to 200 bytes.
pub fn submitted(id: u64, rng: &mut Rng) -> Vec<u8> {
    let mut data = format!("{{\"taskId\":{id},\"state\":\"pending\",\"data\":{{\"A\":\"");
    let target = rng.between(60, 200);
    while data.len() + 3 < target {
        data.push(char::from(b'0' + (rng.next_u64() % 10) as u8));
        if rng.next_u64().is_multiple_of(4) {
            data.push(',');
        }
    }
    data.push_str("\"}}");
    data.into_bytes()
}

/// The record of the same task once completed: its data, status and a
/// ~30-byte result.
pub fn completed(id: u64, rng: &mut Rng) -> Vec<u8> {
    let mut record = submitted(id, rng);
    record.truncate(record.len() - 1);
    record.extend_from_slice(
        b",\"state\":\"completed\",\"result\":\"[[19,22],[43,50]] 0123456789\"}",
    );
    record
}

/// The stream of writes of a queue that holds `live` tasks: each step
/// submits a task, completes the task submitted [`COMPLETION_LAG`] steps
/// earlier, and, once `live` tasks are held, evicts the oldest.
#[derive(Debug)]
pub struct TaskStream {
    rng: Rng,
    next_id: u64,
    live: usize,
    held: VecDeque<u64>,
    pending: VecDeque<Op>,
    /// Value bytes of every put produced so far.
    pub put_bytes: u64,
}

/// How many submissions later a task completes.
pub const COMPLETION_LAG: u64 = 4;

impl TaskStream {
    /// A stream over a store that already holds ids `0..live` (see
    /// [`TaskStream::preload`]).
    ///
    /// # Panics
    /// If `live` is not larger than [`COMPLETION_LAG`].
    pub fn new(live: usize, seed: u64) -> TaskStream {
        assert!(
            live as u64 > COMPLETION_LAG,
            "hold more tasks than the completion lag"
        );
        TaskStream {
            rng: Rng::new(seed),
            next_id: live as u64,
            live,
            held: (0..live as u64).collect(),
            pending: VecDeque::new(),
            put_bytes: 0,
        }
    }

    /// The ops that fill an empty store with `live` completed tasks, in
    /// batches of `batch`.
    pub fn preload(live: usize, batch: usize, seed: u64) -> impl Iterator<Item = Vec<Op>> {
        let mut rng = Rng::new(seed ^ 0xA5A5);
        (0..live as u64).step_by(batch).map(move |first| {
            (first..(first + batch as u64).min(live as u64))
                .map(|id| Op::Put(id, completed(id, &mut rng)))
                .collect()
        })
    }

    /// The next `n` ops of the stream.
    pub fn take(&mut self, n: usize, out: &mut Vec<Op>) {
        out.clear();
        while out.len() < n {
            if let Some(op) = self.pending.pop_front() {
                if let Op::Put(_, value) = &op {
                    self.put_bytes += value.len() as u64;
                }
                out.push(op);
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.pending
                .push_back(Op::Put(id, submitted(id, &mut self.rng)));
            self.held.push_back(id);
            // Held, since `live` is larger than the lag.
            let done = id - COMPLETION_LAG;
            self.pending
                .push_back(Op::Put(done, completed(done, &mut self.rng)));
            if self.held.len() > self.live
                && let Some(oldest) = self.held.pop_front()
            {
                self.pending.push_back(Op::Delete(oldest));
            }
        }
    }
}

/// About 29 MB of text shaped like an n = 2048 matrix pair: rows of
/// comma-separated integers of 1 to 3 digits. `tag` makes each task's text
/// differ.
pub fn large_task(tag: u64, bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(tag);
    let mut text = Vec::with_capacity(bytes + 16);
    text.extend_from_slice(format!("{{\"task\":{tag},\"A\":\"[[").as_bytes());
    let mut in_row = 0;
    while text.len() < bytes - 4 {
        let value = rng.next_u64() % 1000;
        text.extend_from_slice(value.to_string().as_bytes());
        in_row += 1;
        if in_row == 2048 {
            text.extend_from_slice(b"],[");
            in_row = 0;
        } else {
            text.push(b',');
        }
    }
    text.truncate(bytes - 4);
    text.extend_from_slice(b"]]\"}");
    text
}
