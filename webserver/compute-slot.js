// One compute slot of the worker page: a dedicated module Web Worker
// (compute-worker.js) with its own wasm kernel, computing one task at a time.
//
// The slot only runs computations and reports on its worker; which task it gets,
// and what happens to the outcome, is decided by the work loop (work-loop.js).

/** Rejects a computation that was cancelled (Stop pressed, tab closed). */
export class Cancelled extends Error {}

/** A dedicated Web Worker with its own wasm kernel. */
export class ComputeSlot {
  /**
   * @param {number} index position shown to the person (0-based)
   * @param {{ready: (info: string) => void, broken: (slot: ComputeSlot) => void}} events
   *   `ready` once the kernel is loaded, `broken` when the worker cannot compute
   */
  constructor(index, events) {
    this.index = index;
    this.events = events;
    /** The ticket being computed, or null. */
    this.task = null;
    this.ready = false;
    /** Why the slot cannot compute ('' when it can). */
    this.broken = '';
    /** Set when the slot is to close after its current task. */
    this.retiring = false;
    this.lastMs = null;
    this.lastFlops = 0;
    /** Bytes the last delivered task received and sent, {in, out}, or null. */
    this.lastBytes = null;
    this.spawn();
  }

  /** Starts a fresh worker (and wasm instance) for this slot. */
  spawn() {
    this.ready = false;
    this.broken = '';
    this.pending = null;
    this.worker = new Worker(new URL('./compute-worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event) => this.onMessage(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fail(`compute worker could not start: ${event.message || 'script or kernel failed to load'}`);
    };
  }

  /** Replaces the worker, e.g. after its kernel trapped. */
  respawn() {
    this.worker.terminate();
    this.spawn();
  }

  fail(reason) {
    this.broken = reason;
    this.ready = false;
    if (this.pending) this.pending.resolve({ fatal: true, error: reason });
    this.pending = null;
    this.events.broken(this);
  }

  onMessage(msg) {
    if (msg.type === 'ready') {
      this.ready = true;
      this.events.ready(msg.info);
    } else if (msg.type === 'fatal') {
      this.fail(msg.error);
    } else if (msg.type === 'done' && this.pending) {
      const { resolve } = this.pending;
      this.pending = null;
      resolve(msg);
    }
  }

  /**
   * Computes one task.
   *
   * @param {{taskId: number, answer: Uint8Array | string, operandB?: Uint8Array | null, packed?: boolean}} ticket
   *   the task as claimed, with B fetched by its address when the answer refers to it
   *   (`packed`: an integer product comes back packed);
   *   the answer's bytes are transferred to the compute worker (unusable here afterwards)
   * @returns {Promise<object>} the compute worker's `done` message
   * @throws {Cancelled} when {@link cancel} is called meanwhile
   */
  compute(ticket) {
    this.task = ticket;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const { answer, operandB = null } = ticket;
      const transfer = answer instanceof Uint8Array ? [answer.buffer] : [];
      // A shared operand is copied, not transferred: other parts use it too.
      const packed = ticket.packed === true;
      this.worker.postMessage({ type: 'compute', taskId: ticket.taskId, answer, operandB, packed }, transfer);
    });
  }

  /** Stops the current computation at once (the worker is replaced by a fresh one). */
  cancel() {
    if (!this.task) return;
    const pending = this.pending;
    this.pending = null;
    this.task = null;
    this.worker.terminate();
    if (pending) pending.reject(new Cancelled('cancelled'));
    if (!this.retiring) this.spawn();
  }

  close() {
    this.worker.terminate();
  }

  /** Ready for a task. */
  get free() {
    return this.ready && !this.task && !this.retiring && !this.broken;
  }
}
