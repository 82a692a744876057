// The worker page's rates: tasks per second and GFLOP/s over a sliding window of
// the products delivered lately.

/** Window over which tasks/s and GFLOP/s are measured. */
export const RATE_WINDOW_MS = 10000;

/** Products delivered in the last RATE_WINDOW_MS, and when the run started. */
export class Throughput {
  constructor() {
    /** @type {{at: number, flops: number}[]} */
    this.recent = [];
    this.startedAt = 0;
  }

  /** Starts a new run: nothing delivered yet. */
  restart(now = performance.now()) {
    this.recent = [];
    this.startedAt = now;
  }

  /** Counts one delivered product of `flops` floating-point operations. */
  add(flops, now = performance.now()) {
    this.recent.push({ at: now, flops });
  }

  /**
   * Rates over the window (over the run so far when it is shorter, at least 1 s).
   *
   * @param {boolean} running whether the worker is taking tasks (a stopped one with
   *   nothing in the window shows 0)
   * @returns {{tasksPerSec: number, gflops: number}}
   */
  rates(running, now = performance.now()) {
    this.recent = this.recent.filter((r) => now - r.at <= RATE_WINDOW_MS);
    const span = Math.max(1000, Math.min(RATE_WINDOW_MS, now - this.startedAt));
    const tasksPerSec = running || this.recent.length ? (this.recent.length * 1000) / span : 0;
    const gflops = this.recent.reduce((sum, r) => sum + r.flops, 0) / span / 1e6;
    return { tasksPerSec, gflops };
  }
}
