// The dashboard's DOM apart from the plots: the connection badge, the figures, the
// workers table, the latest failures and rejections, and the limits.

import { formatSecs } from './format.js';

/** `secs` as "42 s", "12 min" or "3.5 h". */
export function formatUptime(secs) {
  if (secs < 120) return `${secs} s`;
  if (secs < 7200) return `${Math.round(secs / 60)} min`;
  return `${(secs / 3600).toFixed(1)} h`;
}

/** `bytes` as "512 B", "3.5 MB"... */
export function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** GFLOP/s with three significant digits ("12.3", "0.000734"), "0" for none. */
export function formatGflops(gflops) {
  return gflops === 0 ? '0' : String(Number(gflops.toPrecision(3)));
}

/** The rows of the limits table: label and value of each of the coordinator's limits. */
export function limitRows(limits) {
  return [
    ['lease', `${limits.leaseSecs} s`],
    ['attempts per task', String(limits.maxAttempts)],
    ['largest body', formatBytes(limits.maxBodyBytes)],
    ['tasks held at most', String(limits.maxTasks)],
    ['bytes held at most', formatBytes(limits.maxHeldBytes)],
    ['finished tasks kept', `${limits.keepFinishedSecs} s`],
    ['longest long poll', `${limits.maxWaitSecs} s`],
    ['connections at most', String(limits.maxConnections)],
    ['results checked', limits.verify ? 'yes' : 'no'],
    ['split from', limits.splitMinFlops === null ? 'never' : `${(limits.splitMinFlops / 1e9).toFixed(2)} GFLOP`],
    ['parts at most', String(limits.maxParts)],
    ['rejections that bench', String(limits.rejectLimit)],
    ['bench time', `${limits.benchSecs} s`],
  ];
}

/** Replaces the children of `el` with one row per item, each of `cells(item)`. */
function fillRows(doc, el, items, cells, empty) {
  const rows = items.map((item) => {
    const tr = doc.createElement('tr');
    for (const value of cells(item)) {
      const td = doc.createElement('td');
      td.textContent = value;
      tr.append(td);
    }
    return tr;
  });
  if (rows.length === 0) {
    const tr = doc.createElement('tr');
    const td = doc.createElement('td');
    td.colSpan = 99;
    td.className = 'more';
    td.textContent = empty;
    tr.append(td);
    rows.push(tr);
  }
  el.replaceChildren(...rows);
}

/** The dashboard's DOM. */
export class DashboardView {
  constructor(doc = document) {
    this.doc = doc;
    this.$ = (id) => doc.getElementById(id);
  }

  /** The connection badge: `live`, `connecting` or a reason it is not. */
  connection(state, note = '') {
    const badge = this.$('connection');
    badge.textContent = note ? `${state}: ${note}` : state;
    badge.className = `badge ${state === 'live' ? 'running' : state === 'connecting' ? 'processing' : 'offline'}`;
  }

  /** Draws one snapshot (and the last point of the history). */
  show(s, point) {
    const set = (id, text) => {
      this.$(id).textContent = text;
    };
    set('uptime', formatUptime(s.uptimeSecs));
    set('pending', String(s.pendingTasks));
    set('processing', String(s.processingTasks));
    set('completed', String(s.completedTasks));
    set('failed', String(s.failedTasks));
    set('rejected', String(s.rejectedResults));
    set('requeued', String(s.requeuedTasks));
    set('held', `${s.heldTasks} / ${formatBytes(s.heldBytes)}`);
    set('long-polls', String(s.longPolls));
    set('rate', point.tasksPerSec === null ? '—' : point.tasksPerSec.toFixed(1));
    set('gflops', point.gflops === null ? '—' : formatGflops(point.gflops));
    set('p50', s.latencyP50Ms === null ? '—' : formatSecs(s.latencyP50Ms));
    set('p99', s.latencyP99Ms === null ? '—' : formatSecs(s.latencyP99Ms));
    set('updated', new Date(s.unixMs).toLocaleTimeString());

    fillRows(
      this.doc,
      this.$('worker-rows'),
      s.workers,
      (w) => [
        w.workerId,
        String(w.tasksCompleted),
        formatGflops(w.gflops),
        w.speedGflops == null ? '—' : formatGflops(w.speedGflops),
        String(w.resultsRejected),
        String(w.tasksFailed),
        w.benchedSecs ? `${w.benchedSecs} s` : '—',
        `${w.lastSeenSecsAgo} s ago`,
      ],
      'no worker seen in the last minute',
    );
    fillRows(
      this.doc,
      this.$('problem-rows'),
      s.problems,
      (p) => [new Date(p.unixMs).toLocaleTimeString(), p.kind, String(p.taskId), p.workerId ?? '—', p.error],
      'no failure or rejection lately',
    );
    fillRows(this.doc, this.$('limit-rows'), limitRows(s.limits), (row) => row, '');
  }
}
