// The worker page's compute slots (compute-slot.js): how many there are, which is
// free, and growing or shrinking their number while they compute (a busy slot
// finishes its task before it closes).
//
// Which task a slot gets, and what happens to its outcome, is the work loop's
// business (work-loop.js).

import { ComputeSlot } from './compute-slot.js';

/** Compute slots, each a Web Worker with its own wasm kernel. */
export class SlotPool {
  /**
   * @param {{ready: () => void, broken: (slot: ComputeSlot) => void}} events `ready` when
   *   a slot's kernel has loaded, `broken` when a slot cannot compute
   */
  constructor(events) {
    /** @type {ComputeSlot[]} in the order shown, retiring ones included */
    this.slots = [];
    /** What the kernel says of itself (`kernelInfo()`), once a slot has loaded it. */
    this.kernelInfo = '';
    this.slotEvents = {
      ready: (info) => {
        if (info) this.kernelInfo = info;
        events.ready();
      },
      broken: (slot) => events.broken(slot),
    };
  }

  /** Slots that are not closing. */
  get active() {
    return this.slots.filter((s) => !s.retiring);
  }

  /** How many slots are computing a task. */
  get busy() {
    return this.slots.filter((s) => s.task).length;
  }

  /** A slot ready for a task, or undefined. */
  freeSlot() {
    return this.slots.find((s) => s.free);
  }

  /** No slot can ever take a task (every one is broken or closing). */
  unusable() {
    return this.slots.length > 0 && this.slots.every((s) => s.broken || s.retiring);
  }

  /** Whether a slot is computing `ticket`. */
  computing(ticket) {
    return this.slots.some((s) => s.task === ticket);
  }

  /** Grows or shrinks the pool to `n` slots; busy slots finish their task first. */
  resize(n) {
    while (this.active.length < n) {
      const reuse = this.slots.find((s) => s.retiring);
      if (reuse) reuse.retiring = false;
      else this.slots.push(new ComputeSlot(this.slots.length, this.slotEvents));
    }
    for (let i = this.slots.length - 1; i >= 0 && this.active.length > n; i -= 1) {
      const slot = this.slots[i];
      if (slot.retiring) continue;
      slot.retiring = true;
      if (!slot.task) this.retire(slot);
    }
  }

  /** A slot's task is over: it is free again, or closes if it was to. */
  finished(slot) {
    slot.task = null;
    if (slot.retiring) this.retire(slot);
  }

  /**
   * Stops computing `ticket` at once (its task was cancelled or finished elsewhere):
   * its slot gets a fresh worker, or closes if it was to.
   *
   * @returns {boolean} whether a slot was computing it
   */
  cancel(ticket) {
    const slot = this.slots.find((s) => s.task === ticket);
    if (!slot) return false;
    slot.cancel();
    if (slot.retiring) this.retire(slot);
    return true;
  }

  /** Cancels every computation; returns the tickets that were being computed. */
  cancelAll() {
    const cancelled = [];
    for (const slot of this.slots) {
      if (slot.task) {
        cancelled.push(slot.task);
        slot.cancel();
      }
    }
    this.slots.filter((s) => s.retiring && !s.task).forEach((s) => this.retire(s));
    return cancelled;
  }

  /** Gives broken slots a fresh worker and kernel (on Start). */
  respawnBroken() {
    this.slots.filter((s) => s.broken).forEach((s) => s.respawn());
  }

  retire(slot) {
    slot.close();
    this.slots = this.slots.filter((s) => s !== slot);
    this.slots.forEach((s, i) => {
      s.index = i;
    });
  }
}
