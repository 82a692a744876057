// The worker page's view (worker.html): draws the figures, the status badge, the
// compute slots (what each computes, its last task, its rates) and the activity log
// from the work loop and its slots, and passes the person's clicks and edits on.
// DOM only: what they mean is decided elsewhere (rates in throughput.js).

import { formatSecs, formatSize, formatTask } from './format.js';

/** Log lines kept on screen. */
const LOG_LIMIT = 200;

/** What the status badge says, and its class. */
function badgeOf(loop, busy) {
  if (!loop.running) return ['stopped', 'stopped'];
  if (loop.record?.benchedSecs) return ['benched by the coordinator', 'failed'];
  if (loop.pacer.connection === 'offline') return ['coordinator unreachable', 'offline'];
  if (busy > 0) return ['computing', 'running'];
  return ['waiting for tasks', 'processing'];
}

/** What a slot's row says it is doing. */
function slotDoing(slot, now) {
  if (slot.broken) return slot.broken;
  if (!slot.ready) return 'loading kernel…';
  if (slot.task) return `${formatTask(slot.task)}, ${formatSecs(now - slot.task.startedAt)}`;
  if (slot.retiring) return 'closing';
  return 'idle';
}

/** GFLOP/s as shown: more digits for small figures. */
const gflopsText = (gflops) => gflops.toFixed(gflops >= 10 ? 1 : gflops >= 1 ? 2 : 3);

/** How long a slot's last task took in the kernel, at what rate, and the bytes it moved. */
function slotLast(slot) {
  if (slot.lastMs === null) return '—';
  const rate = slot.lastFlops ? `, ${gflopsText(slot.lastFlops / Math.max(slot.lastMs, 0.001) / 1e6)} GFLOP/s` : '';
  const bytes = slot.lastBytes ? ` · in ${formatSize(slot.lastBytes.in)}, out ${formatSize(slot.lastBytes.out)}` : '';
  return `${formatSecs(slot.lastMs)}${rate}${bytes}`;
}

/** A slot's rates over its latest tasks (busy time only). */
function slotRate(rates) {
  if (!rates) return '—';
  return `${gflopsText(rates.gflops)} GFLOP/s · ${rates.tasksPerSec.toFixed(rates.tasksPerSec >= 10 ? 0 : 2)} tasks/s`;
}

/** The worker page's DOM. */
export class WorkerView {
  constructor(doc = document) {
    this.doc = doc;
    this.loop = null;
    this.pool = null;
    /** The last error logged since Start, shown under the buttons. */
    this.lastError = '';
    this.renderQueued = false;
    this.log = this.log.bind(this);
    this.render = this.render.bind(this);
  }

  $(id) {
    return this.doc.getElementById(id);
  }

  /** Draws `loop` and `pool` from now on. */
  follow(loop, pool) {
    this.loop = loop;
    this.pool = pool;
  }

  /**
   * Adds a line to the activity log.
   *
   * @param {string} text
   * @param {string} kind '', 'ok', 'warn' or 'error' (an error is also shown under the buttons)
   * @param {Record<string, string>} [data] exact figures for measuring tools (`data-*`)
   */
  log(text, kind = '', data = undefined) {
    const list = this.$('log');
    const li = this.doc.createElement('li');
    if (kind) li.className = kind;
    const time = this.doc.createElement('time');
    const now = new Date();
    time.dateTime = now.toISOString();
    time.textContent = now.toLocaleTimeString([], { hour12: false });
    li.append(time, this.doc.createTextNode(text));
    if (data) Object.assign(li.dataset, data);
    list.prepend(li);
    while (list.childElementCount > LOG_LIMIT) list.lastElementChild.remove();
    if (kind === 'error') {
      this.lastError = text;
      this.render();
    }
  }

  clearLastError() {
    this.lastError = '';
  }

  /** Redraws on the next frame (many changes, one redraw). */
  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.renderNow();
    });
  }

  renderNow() {
    const { loop, pool } = this;
    if (!loop) return;
    const now = performance.now();
    const total = loop.throughput.totalRates(pool.slots);
    const text = (id, value) => {
      this.$(id).textContent = value;
    };
    text('done', String(loop.done));
    text('failed', String(loop.failed));
    text('rejected', String(loop.rejected));
    const { record } = loop;
    text('rejected-total', record ? String(record.resultsRejected ?? 0) : '—');
    text('measured-speed', typeof record?.gflops === 'number' ? gflopsText(record.gflops) : '—');
    text(
      'benched',
      record?.benchedSecs
        ? `The coordinator gives this worker id no tasks for about ${formatSecs(record.benchedSecs * 1000)} ` +
            `after ${record.resultsRejected} rejected result(s).`
        : '',
    );
    text('tasks-per-sec', total ? total.tasksPerSec.toFixed(total.tasksPerSec >= 10 ? 0 : 2) : '—');
    text('gflops', total ? gflopsText(total.gflops) : '—');
    text('bytes-in', total ? formatSize(total.bytesInPerTask) : '—');
    text('bytes-out', total ? formatSize(total.bytesOutPerTask) : '—');
    text('transfer', total ? `${formatSecs(total.transferMsPerTask)} / ${formatSecs(total.computeMsPerTask)}` : '—');
    const busy = pool.busy;
    text('busy', `${busy} / ${pool.active.length}`);
    text('kernel', pool.kernelInfo || (pool.slots.some((s) => s.ready) ? 'loaded' : 'loading…'));

    const [label, cls] = badgeOf(loop, busy);
    text('status', label);
    this.$('status').className = `badge ${cls}`;
    const { pollMode, shortPollMs } = loop.pacer;
    text('poll-mode', pollMode === 'long' ? 'long poll' : pollMode === 'short' ? `polling every ${formatSecs(shortPollMs)}` : '');

    this.$('start').disabled = loop.running;
    this.$('stop').disabled = !loop.running;
    text('last-error', this.lastError);
    this.renderSlots(now);
  }

  renderSlots(now) {
    const rows = this.pool.slots.map((slot) => {
      const tr = this.doc.createElement('tr');
      const rates = this.loop.throughput.slotRates(slot);
      for (const value of [String(slot.index + 1), slotDoing(slot, now), slotLast(slot), slotRate(rates)]) {
        const td = this.doc.createElement('td');
        td.textContent = value;
        tr.append(td);
      }
      if (slot.task) tr.dataset.taskId = String(slot.task.taskId);
      // Exact figures for tests and measuring tools; the cells are rounded for people.
      if (rates) tr.dataset.gflops = String(rates.gflops);
      return tr;
    });
    this.$('slot-rows').replaceChildren(...rows);
  }

  /** Shows the settings the page starts with. */
  showSettings({ slots, maxSlots, cores }) {
    this.$('slots').value = String(slots);
    this.$('slots').max = String(maxSlots);
    this.$('cores').textContent = String(cores || '?');
  }

  /** Shows the worker id this tab works under. */
  showWorkerId(id) {
    this.$('worker-id').value = id;
    this.$('worker-label').textContent = id;
  }

  /**
   * Passes the person's actions on.
   *
   * @param {{workerId: (text: string) => void, newId: () => void,
   *   slots: (text: string) => number, start: () => void, stop: () => void}} on
   *   `slots` returns the count taken, which the field then shows
   */
  bind(on) {
    this.$('worker-id').addEventListener('change', (e) => on.workerId(e.target.value));
    this.$('new-id').addEventListener('click', () => on.newId());
    this.$('slots').addEventListener('change', (e) => {
      e.target.value = String(on.slots(e.target.value));
    });
    this.$('start').addEventListener('click', () => on.start());
    this.$('stop').addEventListener('click', () => on.stop());
  }
}
