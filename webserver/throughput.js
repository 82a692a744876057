// The worker page's rates, per compute slot and in total, measured over busy time:
// GFLOP/s over the time the kernel computed, tasks/s over the time a slot held its
// tasks (receiving, computing, delivering), and bytes received and sent per task.
// Time a slot waits for work counts for nothing, so a figure does not sink while the
// page waits or rise when work comes back: it says how fast this page works when
// it works. Each slot's figures cover its latest tasks, up to RATE_WINDOW_MS of busy
// time; the total adds up the slots, which compute side by side.

/** Busy time over which a slot's rates are measured (at least its latest task). */
export const RATE_WINDOW_MS = 10000;

/**
 * One delivered product.
 *
 * @typedef {{flops: number, computeMs: number, busyMs: number, bytesIn: number, bytesOut: number,
 *   transferMs?: number}} TaskFigures
 *   `computeMs`: time in the kernel; `busyMs`: time the slot held the task, from its
 *   download to its delivery; `bytesIn`: the task as received; `bytesOut`: the result
 *   as sent
 */

/**
 * Rates of one slot, or of all slots together.
 *
 * @typedef {{tasks: number, gflops: number, tasksPerSec: number, bytesInPerTask: number,
 *   bytesOutPerTask: number, transferMsPerTask: number, computeMsPerTask: number}} Rates
 */

/** What each slot delivered lately. */
export class Throughput {
  constructor() {
    /** @type {WeakMap<object, TaskFigures[]>} a slot's latest tasks, oldest first */
    this.bySlot = new WeakMap();
  }

  /** Counts one product delivered by `slot`. */
  add(slot, figures) {
    const recent = this.bySlot.get(slot) ?? [];
    recent.push(figures);
    // Keep the latest tasks that fit in the window (always the last one).
    let busy = recent.reduce((sum, t) => sum + t.busyMs, 0);
    while (recent.length > 1 && busy - recent[0].busyMs >= RATE_WINDOW_MS) busy -= recent.shift().busyMs;
    this.bySlot.set(slot, recent);
  }

  /**
   * The rates of one slot over its latest tasks; null before its first.
   *
   * @returns {Rates | null}
   */
  slotRates(slot) {
    const recent = this.bySlot.get(slot);
    if (!recent?.length) return null;
    const sum = (key) => recent.reduce((s, t) => s + (t[key] ?? 0), 0);
    const tasks = recent.length;
    return {
      tasks,
      gflops: sum('flops') / Math.max(sum('computeMs'), 0.001) / 1e6,
      tasksPerSec: (tasks * 1000) / Math.max(sum('busyMs'), 0.001),
      bytesInPerTask: sum('bytesIn') / tasks,
      bytesOutPerTask: sum('bytesOut') / tasks,
      transferMsPerTask: sum('transferMs') / tasks,
      computeMsPerTask: sum('computeMs') / tasks,
    };
  }

  /**
   * The rates of `slots` together: GFLOP/s and tasks/s added up over the slots (they
   * compute side by side), bytes per task averaged over their tasks; null before any
   * slot's first task.
   *
   * @param {object[]} slots
   * @returns {Rates | null}
   */
  totalRates(slots) {
    const each = slots.map((slot) => this.slotRates(slot)).filter(Boolean);
    if (!each.length) return null;
    const tasks = each.reduce((s, r) => s + r.tasks, 0);
    const perTask = (key) => each.reduce((s, r) => s + r[key] * r.tasks, 0) / tasks;
    return {
      tasks,
      gflops: each.reduce((s, r) => s + r.gflops, 0),
      tasksPerSec: each.reduce((s, r) => s + r.tasksPerSec, 0),
      bytesInPerTask: perTask('bytesInPerTask'),
      bytesOutPerTask: perTask('bytesOutPerTask'),
      transferMsPerTask: perTask('transferMsPerTask'),
      computeMsPerTask: perTask('computeMsPerTask'),
    };
  }
}
