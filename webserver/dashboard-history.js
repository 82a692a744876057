// The dashboard's history: one point per snapshot from `GET /events`, kept for the
// last 15 minutes, with the rates worked out from consecutive snapshots (tasks
// completed per second, GFLOP/s delivered). Plain data, no DOM: the plots read its
// columns.

/** How much history the plots show, in seconds. */
export const HISTORY_SECS = 15 * 60;

/** The columns kept per point, in the order the plots read them. */
export const COLUMNS = ['time', 'pending', 'processing', 'held', 'tasksPerSec', 'p50Ms', 'p99Ms', 'gflops'];

/** Points over a time window, as columns. */
export class History {
  /** @param {number} windowSecs how far back points are kept */
  constructor(windowSecs = HISTORY_SECS) {
    this.windowSecs = windowSecs;
    /** @type {Record<string, (number|null)[]>} */
    this.columns = Object.fromEntries(COLUMNS.map((name) => [name, []]));
    this.last = null;
  }

  /** How many points are kept. */
  get length() {
    return this.columns.time.length;
  }

  /**
   * Adds the point of one snapshot and drops the points older than the window.
   * Rates need the snapshot before: the first point has none, and a snapshot
   * whose counters went back (the coordinator restarted) starts over.
   *
   * @param {{unixMs: number, pendingTasks: number, processingTasks: number, heldTasks: number,
   *   completedTasks: number, flopsCompleted: number, latencyP50Ms: number|null, latencyP99Ms: number|null}} s
   * @returns {Record<string, number|null>} the point added
   */
  add(s) {
    const time = s.unixMs / 1000;
    let tasksPerSec = null;
    let gflops = null;
    const last = this.last;
    if (last && time > last.unixMs / 1000 && s.completedTasks >= last.completedTasks && s.flopsCompleted >= last.flopsCompleted) {
      const secs = time - last.unixMs / 1000;
      tasksPerSec = (s.completedTasks - last.completedTasks) / secs;
      gflops = (s.flopsCompleted - last.flopsCompleted) / secs / 1e9;
    }
    const point = {
      time,
      pending: s.pendingTasks,
      processing: s.processingTasks,
      held: s.heldTasks,
      tasksPerSec,
      p50Ms: s.latencyP50Ms ?? null,
      p99Ms: s.latencyP99Ms ?? null,
      gflops,
    };
    for (const name of COLUMNS) this.columns[name].push(point[name]);
    this.last = s;
    const oldest = time - this.windowSecs;
    let drop = 0;
    while (drop < this.length && this.columns.time[drop] < oldest) drop += 1;
    if (drop > 0) for (const name of COLUMNS) this.columns[name].splice(0, drop);
    return point;
  }

  /** uPlot's data for `names`: the time column, then theirs. */
  data(names) {
    return [this.columns.time, ...names.map((name) => this.columns[name])];
  }
}
