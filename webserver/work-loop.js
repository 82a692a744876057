// The worker page's work loop: claims a task whenever a compute slot is free,
// hands it to that slot, posts the product back (or `{"error":"..."}` for data the
// kernel refuses), and gives tasks back when it stops or the tab goes away.
//
// Claims ask where a part belongs (`describe=1`), so a part of a split task is
// named by its client's task ("part 2/4 of task 14"). A task computed for more than
// HELD_CHECK_MS is looked up now and then: one its client cancelled (or that ended
// elsewhere) is no longer computed. Each delivered product adds its compute time,
// busy time and bytes to the slot's rates (throughput.js).
//
// While this tab holds tasks it claims without waiting (`wait=0`): a long poll left
// open when the tab closes could be handed the very task the tab is giving back.
// A result is posted again after a network error or a 5xx (back-off, at most
// RESULT_POST_TRIES times), and no new task is claimed meanwhile. A coordinator
// that checks results answers 422 to a wrong one: the loop counts it as rejected
// (the coordinator requeued the task) and reads this worker id's record from
// `GET stats` (`resultsRejected`, `benchedSecs`). Talking HTTP is left to
// coordinator-client.js, the claim rhythm to pacer.js, the slots to slot-pool.js.

import { Cancelled } from './compute-slot.js';
import { CoordinatorError } from './coordinator-client.js';
import { formatSecs, formatSize, formatTask } from './format.js';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, Pacer } from './pacer.js';
import { Throughput } from './throughput.js';

/** Seconds a long poll may wait on the coordinator (it caps the value itself). */
const LONG_POLL_SECS = 25;
/** How many times a finished result is posted before the task is given back. */
const RESULT_POST_TRIES = 6;
/**
 * A task computed for longer than this is looked up (`GET result/N`) every as long,
 * one request at a time: computing stops when it was cancelled or ended elsewhere.
 */
const HELD_CHECK_MS = 1000;
/** Bytes of a result body around the product: `{"result":"` and `"}`. */
const RESULT_WRAPPER_BYTES = 13;
/** Shared operands (a split task's B) a tab keeps, the ones used last. */
const OPERANDS_KEPT = 2;

/** Takes tasks, has them computed, delivers their results. */
export class WorkLoop {
  /**
   * @param {{client: import('./coordinator-client.js').CoordinatorClient,
   *   pool: import('./slot-pool.js').SlotPool,
   *   log: (text: string, kind?: string, data?: object) => void, changed: () => void}} parts
   *   `log` writes the activity log, `changed` asks for a redraw
   */
  constructor({ client, pool, log, changed }) {
    this.client = client;
    this.pool = pool;
    this.log = log;
    this.changed = changed;
    this.pacer = new Pacer({ log, changed });
    this.throughput = new Throughput();
    this.workerId = '';
    /** The timer of {@link checkHeld}, while running. */
    this.heldTimer = 0;
    this.checkingHeld = false;
    this.running = false;
    /** Counts runs, so that a loop of an earlier run ends. */
    this.generation = 0;
    this.claimAbort = null;
    /** Resolvers of the dispatcher waiting for a free slot. */
    this.waiters = [];
    /** Tasks this tab holds (computing or delivering), by id. */
    this.held = new Map();
    /** Results being posted again; no claims meanwhile. */
    this.redelivering = 0;
    this.done = 0;
    this.failed = 0;
    this.rejected = 0;
    /** This worker id's line of `GET stats` (null until read, or without the extension). */
    this.record = null;
    /** Shared operands by content address: the promise of their bytes, the one used last at the end. */
    this.operands = new Map();
  }

  /**
   * The bytes of the shared operand at `address`, fetched once by this tab (and, the URL
   * being immutable, once by the browser for all its tabs); `fetched` tells whether this
   * call downloaded it.
   */
  async operand(address) {
    let entry = this.operands.get(address);
    const fetched = !entry;
    if (entry) {
      this.operands.delete(address);
    } else {
      entry = this.client.operand(address);
      entry.catch(() => this.operands.delete(address));
    }
    this.operands.set(address, entry);
    while (this.operands.size > OPERANDS_KEPT) this.operands.delete(this.operands.keys().next().value);
    return { bytes: await entry, fetched };
  }

  /** Works under another worker id from now on. */
  setWorkerId(id) {
    if (id !== this.workerId) this.record = null;
    this.workerId = id;
  }

  /** Wakes the dispatcher: a slot freed up or became ready, or the worker stopped. */
  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((resolve) => resolve());
  }

  waitForChange() {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.generation += 1;
    this.pool.respawnBroken();
    this.heldTimer = setInterval(() => this.checkHeld(), HELD_CHECK_MS);
    this.log(`started as "${this.workerId}" with ${this.pool.active.length} slot(s)`);
    this.dispatch(this.generation);
    this.changed();
  }

  /**
   * Stops taking tasks and gives back every task still being computed, and those
   * whose result is waiting to be delivered again. When the page is going away
   * (`leaving`), results being posted right now are given back too, since their
   * requests die with the page; a result that lands anyway still counts.
   */
  stop(leaving = false) {
    // Close the pending claim first, so the coordinator does not hand a given-back
    // task straight to it.
    this.claimAbort?.abort();
    const given = [];
    for (const ticket of this.held.values()) {
      if (this.pool.computing(ticket) || !(ticket.retrying || leaving)) continue;
      ticket.abandoned = true;
      if (leaving) {
        // Now, while the page still runs: deliver() would only get to it later.
        ticket.released = true;
        this.release(ticket);
      }
      ticket.stopRetrying?.();
      given.push(ticket);
    }
    if (!this.running) return;
    this.running = false;
    this.generation += 1;
    clearInterval(this.heldTimer);
    this.pacer.interrupt();
    for (const ticket of this.pool.cancelAll()) {
      given.push(ticket);
      this.held.delete(ticket.taskId);
      this.release(ticket);
    }
    if (given.length) this.log(`stopped; gave back task(s) ${given.map((t) => t.taskId).join(', ')}`, 'warn');
    else this.log('stopped');
    this.wake();
    this.changed();
  }

  release(ticket) {
    return this.client.releaseTask(ticket.taskId, ticket.workerId, ticket.leaseToken);
  }

  async dispatch(generation) {
    const current = () => this.running && generation === this.generation;
    while (current()) {
      const slot = this.pool.freeSlot();
      if (!slot || this.redelivering > 0) {
        // No free slot, or the coordinator is refusing results: take nothing more.
        if (this.pool.unusable()) {
          this.log('no compute slot can run: the kernel did not load (is webserver/pkg built?)', 'error');
          this.stop();
          return;
        }
        await this.waitForChange();
        continue;
      }
      const ticket = await this.claim();
      if (!ticket) continue;
      if (!current() || !slot.free) {
        // Stopped (or the slot went away) while the request was in flight: give it back.
        this.release(ticket);
        if (current()) continue;
        return;
      }
      this.run(slot, ticket);
      this.changed();
    }
  }

  /** Asks for one task; resolves with a ticket, or null when there was none. */
  async claim() {
    const { workerId } = this;
    const controller = new AbortController();
    this.claimAbort = controller;
    const waitSecs = this.held.size > 0 ? 0 : LONG_POLL_SECS;
    const asked = performance.now();
    let task;
    try {
      task = await this.client.nextTask(workerId, { waitSecs, signal: controller.signal, describe: true });
    } catch (err) {
      if (controller.signal.aborted) return null;
      if (!(err instanceof CoordinatorError)) throw err;
      if (err.malformed) this.log(`task/next: ${err.reason}`, 'error');
      await this.pacer.backOff(err.unreachable ? err.message : err.malformed ? 'bad answer' : `HTTP ${err.status}`, err.retryAfterSecs);
      return null;
    } finally {
      if (this.claimAbort === controller) this.claimAbort = null;
    }
    if (!task) {
      await this.pacer.nothingYet(waitSecs, performance.now() - asked);
      return null;
    }
    this.pacer.gotTask();
    // An integer product is computed packed when the coordinator may be sent it.
    const packed = this.client.packedBodies === true;
    const ticket = { ...task, workerId, startedAt: performance.now(), bytesIn: task.answer.byteLength, operandB: null, packed };
    if (task.operandRef) {
      const from = performance.now();
      try {
        const { bytes, fetched } = await this.operand(task.operandRef.address);
        ticket.operandB = bytes;
        if (fetched) ticket.bytesIn += bytes.byteLength;
      } catch (err) {
        if (!(err instanceof CoordinatorError)) throw err;
        this.log(`${formatTask(ticket)}: its shared operand could not be fetched (${err.message}); gave it back`, 'error');
        this.release(ticket);
        return null;
      }
      ticket.receiveMs += performance.now() - from;
    }
    return ticket;
  }

  async run(slot, ticket) {
    const { taskId } = ticket;
    const name = formatTask(ticket);
    this.held.set(taskId, ticket);
    this.log(`${name}: computing on slot ${slot.index + 1}`);
    let outcome;
    const computeFrom = performance.now();
    try {
      outcome = await slot.compute(ticket);
    } catch (err) {
      if (!(err instanceof Cancelled)) throw err;
      this.held.delete(taskId);
      if (ticket.endedBecause) {
        this.log(`${name}: stopped computing, ${ticket.endedBecause}`, 'warn');
        this.changed();
      }
      return;
    }
    const slotMs = performance.now() - computeFrom;
    this.pool.finished(slot);
    this.wake();
    if (outcome.fatal || outcome.crashed) {
      this.held.delete(taskId);
      this.release(ticket);
      if (outcome.crashed) {
        // Not the data's fault: a fresh wasm instance for this slot, the task for another try.
        if (!slot.retiring) slot.respawn();
        this.log(`${name}: given back, the kernel crashed (${outcome.error})`, 'error');
      } else {
        this.log(`${name}: given back, this slot cannot compute (${outcome.error})`, 'error');
      }
      this.changed();
      return;
    }
    slot.lastMs = outcome.ms;
    slot.lastFlops = outcome.flops || 0;
    slot.lastBytes = null;
    if ('result' in outcome) {
      const productBytes = outcome.result.byteLength + (outcome.packed ? 0 : RESULT_WRAPPER_BYTES);
      const sent = {};
      const report = await this.deliver(ticket, { result: outcome.result }, sent);
      const bytesOut = sent.bytes ?? productBytes;
      const gzipped = bytesOut < productBytes ? `gzip of ${formatSize(productBytes)}` : '';
      const squeezed = [outcome.packed ? 'packed' : '', gzipped].filter(Boolean).join(', ');
      const how = squeezed ? `, ${squeezed}` : '';
      if (report?.status === 'failed') {
        // Cancelled by its client (or failed) while it was computed here.
        const why = report.error === 'Task cancelled' ? 'its client cancelled it' : `it failed (${report.error ?? 'no reason given'})`;
        this.log(`${name}: the product was not used, ${why}`, 'warn');
      } else if (report) {
        this.done += 1;
        // Until the coordinator has measured this worker, read its line after each
        // part (then every STATS_EVERY_MS).
        if (typeof this.record?.gflops !== 'number' && ticket.part) this.refreshRecord();
        const busyMs = ticket.receiveMs + (performance.now() - ticket.startedAt);
        slot.lastBytes = { in: ticket.bytesIn, out: bytesOut };
        const transferMs = ticket.receiveMs + ticket.deliverMs;
        this.throughput.add(slot, { flops: outcome.flops || 0, computeMs: outcome.ms, busyMs, bytesIn: ticket.bytesIn, bytesOut, transferMs });
        const text =
          `${name}: ${outcome.shape} done in ${formatSecs(outcome.ms)} ` +
          `(received ${formatSize(ticket.bytesIn)} in ${formatSecs(ticket.receiveMs)}, ` +
          `sent ${formatSize(bytesOut)}${how} in ${formatSecs(ticket.deliverMs)})`;
        // Exact figures for measuring tools; the text is rounded for people.
        this.log(text, 'ok', {
          taskId: String(taskId),
          kernelMs: outcome.ms.toFixed(3),
          slotMs: slotMs.toFixed(3),
          receiveMs: ticket.receiveMs.toFixed(3),
          deliverMs: ticket.deliverMs.toFixed(3),
          busyMs: busyMs.toFixed(3),
          flops: String(outcome.flops || 0),
          bytesIn: String(ticket.bytesIn),
          bytesOut: String(bytesOut),
        });
      }
    } else if (await this.deliver(ticket, { error: outcome.error })) {
      this.failed += 1;
      this.log(`${name}: refused, ${outcome.error}`, 'warn');
    }
    this.held.delete(taskId);
    this.changed();
  }

  /**
   * Delivers a result or an error body, retrying network errors and 5xx answers.
   * A delivery that is given up, or abandoned by Stop, gives the task back so that
   * another worker can take it at once.
   *
   * @returns {Promise<object | null>} the coordinator's report of the task when it took the
   *   answer (`{}` when that report is not JSON), null when it did not
   */
  async deliver(ticket, body, sent = {}) {
    const { taskId } = ticket;
    let delay = BACKOFF_MIN_MS;
    try {
      for (let attempt = 1; ; attempt += 1) {
        const posted = performance.now();
        try {
          const report = await this.client.postResult(taskId, body, ticket.workerId, ticket.leaseToken, sent);
          this.pacer.online();
          ticket.deliverMs = performance.now() - posted;
          return report ?? {};
        } catch (err) {
          if (!(err instanceof CoordinatorError)) throw err;
          if (err.status === 422) {
            // The coordinator's check found the result wrong; it requeued the task.
            const reason = err.reason.replace(/^Result rejected:\s*/, '');
            this.rejected += 1;
            this.log(`${formatTask(ticket)}: result rejected by the coordinator's check${reason ? ` (${reason})` : ''}; the task went back to the queue`, 'error');
            this.refreshRecord();
            return null;
          }
          if (!err.unreachable && err.status < 500) {
            this.log(`${formatTask(ticket)}: coordinator refused the result (${err.message})`, 'error');
            return null;
          }
          // Unreachable or 5xx: tried again below, not before the coordinator asked.
          if (err.retryAfterSecs) delay = Math.max(delay, Math.min(err.retryAfterSecs * 1000, BACKOFF_MAX_MS));
        }
        if (!this.running) ticket.abandoned = true; // stopped: retry no more
        if (ticket.abandoned) return this.abandon(ticket);
        if (attempt >= RESULT_POST_TRIES) {
          this.log(`${formatTask(ticket)}: result could not be delivered; gave the task back`, 'error');
          this.release(ticket);
          return null;
        }
        if (!ticket.retrying) {
          ticket.retrying = true;
          this.redelivering += 1;
        }
        await this.retryPause(ticket, delay);
        if (ticket.abandoned) return this.abandon(ticket);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      }
    } finally {
      if (ticket.retrying) {
        ticket.retrying = false;
        this.redelivering -= 1;
        this.wake();
      }
    }
  }

  /** Gives back a task whose delivery was abandoned (unless already given back); null. */
  abandon(ticket) {
    if (!ticket.released) this.release(ticket);
    return null;
  }

  /**
   * Looks up each task computed here for more than HELD_CHECK_MS, one request at a
   * time, and stops computing one that was cancelled, failed, or completed elsewhere
   * (or that the coordinator no longer has): its product would not be used.
   */
  async checkHeld() {
    if (this.checkingHeld) return;
    this.checkingHeld = true;
    try {
      for (const ticket of [...this.held.values()]) {
        if (!this.pool.computing(ticket) || performance.now() - ticket.startedAt < HELD_CHECK_MS) continue;
        let why = '';
        try {
          const report = await this.client.report(ticket.taskId);
          if (report?.status === 'failed') {
            why = report.error === 'Task cancelled' ? 'its client cancelled it' : `it failed (${report.error ?? 'no reason given'})`;
          } else if (report?.status === 'completed') {
            why = 'another worker completed it';
          }
        } catch (err) {
          if (!(err instanceof CoordinatorError)) throw err;
          if (err.status === 404) why = `the coordinator no longer has it (${err.reason})`;
        }
        if (why && this.pool.computing(ticket)) {
          ticket.endedBecause = why;
          this.pool.cancel(ticket);
        }
      }
    } finally {
      this.checkingHeld = false;
    }
  }

  /** Waits `ms` before posting `ticket`'s result again; Stop ends the wait. */
  retryPause(ticket, ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      ticket.stopRetrying = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Reads this worker id's line of `GET stats` (tasks, rejected results, bench time,
   * the speed the coordinator measured).
   * Coordinators without the `workers` extension leave it unknown; failures are quiet
   * (the claim loop reports an unreachable coordinator).
   */
  async refreshRecord() {
    const { workerId } = this;
    let stats;
    try {
      stats = await this.client.stats();
    } catch (err) {
      if (err instanceof CoordinatorError) return;
      throw err;
    }
    if (workerId !== this.workerId || !Array.isArray(stats?.workers)) return;
    const line = stats.workers.find((w) => w?.workerId === workerId) ?? null;
    const benchedBefore = Boolean(this.record?.benchedSecs);
    this.record = line ?? { workerId, tasksCompleted: 0, resultsRejected: 0 };
    if (line?.benchedSecs && !benchedBefore) {
      this.log(`the coordinator gives this worker id no tasks for ${formatSecs(line.benchedSecs * 1000)} after repeated rejected results`, 'warn');
    }
    this.changed();
  }
}
