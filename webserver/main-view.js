// The main app's view (xdana.html): the matrix fields and their hints (a generated
// matrix too large for a text field stands in as a summary with a download), the
// task's steps and status, its progress by parts and the workers of its parts, the
// Cancel button, the product (in full when small, as a corner plus a download when
// large: read from its bytes, never one string) and the coordinator's figures. DOM
// only: it shows what it is given and passes the person's actions on (xdana.js
// decides).

import { formatElapsed, formatSize } from './format.js';
import { cornerOf, readMatrix, shapeOf } from './task-reader.js';

/** Products with at most this many cells (and characters) are shown in full. */
const SMALL_RESULT_CELLS = 256;
const SMALL_RESULT_CHARS = 6000;
/** Size of the corner shown for large products. */
const CORNER = 8;
/** Pause after typing before the shape hint is recomputed (large matrices take a while). */
const SHAPE_HINT_DELAY_MS = 150;

const STEPS = ['submitted', 'pending', 'processing', 'completed'];
/** The hint next to each matrix field, and where a generated matrix is summed up. */
const HINTS = { 'matrix-a': 'shape-a', 'matrix-b': 'shape-b' };
const GENERATED = { 'matrix-a': 'generated-a', 'matrix-b': 'generated-b' };
const NAMES = { 'matrix-a': 'A', 'matrix-b': 'B' };
const decoder = new TextDecoder();

/**
 * The matrix text laid out one row per line, for display.
 *
 * @param {string} text compact matrix text
 * @returns {string}
 */
export function formatMatrix(text) {
  return String(text).replace(/\]\s*,\s*\[/g, '],\n [');
}

const elapsed = (job) => formatElapsed((job.finishedAt ?? performance.now()) - job.startedAt);

/** Who computed a split task's parts: "the workers (w1, w2)", or "the workers" when unknown. */
function workersOf(partList) {
  const ids = [...new Set((partList ?? []).map((p) => p.workerId).filter(Boolean))];
  return ids.length ? `the workers (${ids.join(', ')})` : 'the workers';
}

/** What the status line says of `job`. */
function statusText(job) {
  const who = job.workerId ? ` by worker ${job.workerId}` : '';
  const tries = job.attempts > 1 ? ` (attempt ${job.attempts})` : '';
  const { parts } = job;
  switch (job.status) {
    case 'submitting':
      return 'Sending the task…';
    case 'pending':
      return `Task ${job.taskId} is waiting for a worker · ${elapsed(job)}`;
    case 'processing':
      return parts
        ? `Task ${job.taskId} is being computed in ${parts.total} parts: ${parts.done} of ${parts.total} done · ${elapsed(job)}`
        : `Task ${job.taskId} is being computed${who}${tries} · ${elapsed(job)}`;
    case 'completed':
      return parts ? `Task ${job.taskId} completed in ${parts.total} parts in ${elapsed(job)}` : `Task ${job.taskId} completed${who} in ${elapsed(job)}`;
    case 'failed':
      if (job.cancelled) return `Task ${job.taskId} was cancelled after ${elapsed(job)}`;
      return `Task ${job.taskId} was refused${who} after ${elapsed(job)}`;
    default:
      return job.status;
  }
}

/** The main app's DOM. */
export class MainView {
  constructor(doc = document) {
    this.doc = doc;
    this.downloadUrl = null;
    /** Download links of generated matrices, by field. */
    this.generatedUrls = {};
  }

  $(id) {
    return this.doc.getElementById(id);
  }

  cell(tag, text, cls) {
    const el = this.doc.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  // ---------------------------------------------------------------- input

  /** The text of a matrix field ('matrix-a' or 'matrix-b'). */
  matrixText(field) {
    return this.$(field).value;
  }

  /** Puts matrix text into a field ('matrix-a' or 'matrix-b'). */
  setMatrix(field, text) {
    this.$(field).value = text;
  }

  /**
   * A generated matrix stands in for a field's text: the field is emptied and says so,
   * and a link downloads the matrix (its Blob: the page never holds it as a string).
   *
   * @param {string} field 'matrix-a' or 'matrix-b'
   * @param {{blob: Blob, size: number, rows: number, cols: number}} matrix
   */
  showGenerated(field, { blob, size: bytes, rows, cols }) {
    const name = NAMES[field];
    const size = formatSize(bytes);
    this.clearGenerated(field);
    this.$(field).value = '';
    this.$(field).placeholder = `${rows}×${cols} random integers (${size} of text), generated. Type here to replace it.`;
    this.$(HINTS[field]).textContent = `${rows}×${cols} (generated)`;
    const url = URL.createObjectURL(blob);
    this.generatedUrls[field] = url;
    const link = this.cell('a', `Download ${name} (${size})`);
    Object.assign(link, { href: url, download: `matrix-${name}-${rows}x${cols}.txt`, id: `download-${name.toLowerCase()}` });
    this.$(GENERATED[field]).replaceChildren(`${name} is ${rows}×${cols}, generated: too large to show here. `, link);
    this.$(GENERATED[field]).hidden = false;
  }

  /** The field's generated matrix is gone (replaced by typing or by text). */
  clearGenerated(field) {
    if (this.generatedUrls[field]) URL.revokeObjectURL(this.generatedUrls[field]);
    delete this.generatedUrls[field];
    this.$(field).placeholder = '';
    this.$(GENERATED[field]).hidden = true;
    this.$(GENERATED[field]).replaceChildren();
  }

  /** The generator is at work (`note` says what), or done ('' and not busy). */
  showGenerating(busy, note) {
    this.$('generate').disabled = busy;
    this.$('generate-note').textContent = note;
  }

  /** Shows why the input cannot be sent ('' for nothing), marking `field` (or none). */
  showInputError(message, field) {
    // A note about an earlier submission does not belong next to a new problem.
    if (message) this.$('submit-note').textContent = '';
    this.$('input-error').textContent = message;
    for (const id of Object.keys(HINTS)) this.$(id).setAttribute('aria-invalid', String(id === field));
    if (field) this.$(field).focus();
  }

  /** Shows a matrix field's shape, e.g. "2×3" ('' when unreadable). */
  showShape(field, shape) {
    this.$(HINTS[field]).textContent = shape;
  }

  /**
   * The generator's sizes (rows of A, inner, columns of B), each marked invalid unless
   * a whole number from 1 to `max`; null when one is not.
   */
  readSizes(max) {
    const read = (id) => {
      const v = Number.parseInt(this.$(id).value, 10);
      const ok = Number.isInteger(v) && v >= 1 && v <= max;
      this.$(id).setAttribute('aria-invalid', String(!ok));
      return ok ? v : null;
    };
    const sizes = { m: read('rows-a'), k: read('inner'), n: read('cols-b') };
    return Object.values(sizes).includes(null) ? null : sizes;
  }

  /**
   * Passes the person's actions on: `submit` (the form, or Ctrl+Enter in a matrix),
   * `generate`, `cancel`, `typed(field)` as soon as a matrix is typed into, and
   * `edited(field)` a moment after.
   */
  bind(on) {
    this.$('task-form').addEventListener('submit', (event) => {
      event.preventDefault();
      on.submit();
    });
    this.$('generate').addEventListener('click', () => on.generate());
    this.$('cancel').addEventListener('click', () => on.cancel());
    for (const field of Object.keys(HINTS)) {
      let timer = 0;
      this.$(field).addEventListener('keydown', (event) => {
        // Ctrl+Enter (Cmd+Enter on a Mac) submits from inside a matrix.
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          this.$('task-form').requestSubmit();
        }
      });
      this.$(field).addEventListener('input', () => {
        this.$(field).removeAttribute('aria-invalid');
        on.typed(field);
        clearTimeout(timer);
        timer = setTimeout(() => on.edited(field), SHAPE_HINT_DELAY_MS);
      });
    }
  }

  // ---------------------------------------------------------------- the task

  /** A task is being sent: the task view replaces the previous one. */
  taskStarted(job) {
    this.clearResult();
    this.$('no-task').hidden = true;
    this.$('task-view').hidden = false;
    this.showWarning('');
    this.$('submit').disabled = true;
    this.$('submit-note').textContent = `Sending ${formatSize(job.bytes)}…`;
    this.renderStatus(job);
  }

  /** The submission is over, whichever way. */
  submitSettled() {
    this.$('submit').disabled = false;
  }

  taskSubmitted(job) {
    this.$('submit-note').textContent = `Submitted as task ${job.taskId} (${formatSize(job.bytes)}).`;
    this.renderStatus(job);
  }

  /** Nothing was submitted after all: says why, in place of the task view. */
  taskNotSubmitted(message) {
    this.$('submit-note').textContent = '';
    this.$('task-view').hidden = true;
    this.$('no-task').hidden = false;
    this.showInputError(message, null);
  }

  showWarning(text) {
    this.$('task-warning').textContent = text;
  }

  renderStatus(job) {
    this.$('task-status').textContent = statusText(job);
    const step = job.status === 'submitting' ? 'submitted' : job.status === 'failed' ? job.lastStep : job.status;
    this.showStep(step, job.status === 'failed');
    this.renderParts(job);
    const open = job.taskId !== null && (job.status === 'pending' || job.status === 'processing');
    this.$('cancel').hidden = !open;
    this.$('cancel').disabled = Boolean(job.cancelling);
  }

  /** Marks the steps up to `step`; a failed task ends on a "Failed" last step. */
  showStep(step, failed) {
    const last = STEPS.length - 1;
    const index = failed ? last : STEPS.indexOf(step);
    for (const li of this.$('steps').children) {
      const i = STEPS.indexOf(li.dataset.step);
      if (i === last) li.textContent = failed ? 'Failed' : 'Completed';
      if (failed) li.className = i === last ? 'failed' : 'done';
      else li.className = i < index || (i === index && step === 'completed') ? 'done' : i === index ? 'current' : '';
    }
    this.$('progress').value = failed || step === 'completed' ? last : Math.max(index, 0) + 0.5;
    this.$('progress').classList.toggle('failed', failed);
  }

  /** Progress by parts done, for a task the coordinator split. */
  renderParts(job) {
    const { parts } = job;
    this.$('parts-view').hidden = !parts;
    if (!parts) return;
    const done = job.status === 'completed' ? parts.total : parts.done;
    this.$('parts-progress').max = parts.total;
    this.$('parts-progress').value = done;
    this.$('parts-text').textContent = `${done} of ${parts.total} parts done`;
    // The processing step fills up with the parts.
    if (job.status === 'processing') this.$('progress').value = STEPS.indexOf('processing') + done / parts.total;
    this.renderPartList(job.partList);
  }

  /** Each part of a split task: its task id, status and the worker that holds or computed it. */
  renderPartList(list) {
    this.$('parts-wrap').hidden = !list?.length;
    if (!list?.length) return;
    const rows = list.map((part, i) => {
      const tr = this.doc.createElement('tr');
      tr.dataset.taskId = String(part.taskId);
      tr.dataset.status = part.status;
      if (part.workerId) tr.dataset.workerId = part.workerId;
      for (const value of [`${i + 1}/${list.length}`, String(part.taskId), part.status, part.workerId ?? '—']) {
        tr.append(this.cell('td', value));
      }
      return tr;
    });
    this.$('part-rows').replaceChildren(...rows);
  }

  // ---------------------------------------------------------------- the product

  clearResult() {
    this.$('parts-wrap').hidden = true;
    this.$('part-rows').replaceChildren();
    this.$('result-view').hidden = true;
    this.$('no-result').hidden = false;
    this.$('result-error').textContent = '';
    this.$('product').hidden = true;
    this.$('corner-wrap').hidden = true;
    this.$('download').hidden = true;
    if (this.downloadUrl) URL.revokeObjectURL(this.downloadUrl);
    this.downloadUrl = null;
  }

  /**
   * Shows a product: in full when small (or unreadable), else its top-left corner;
   * a download of the whole text either way. Only a small product is decoded into a
   * string; a large one is counted and its corner read from its first rows.
   *
   * @param {object} job the task
   * @param {Uint8Array} bytes the product's matrix text as UTF-8
   */
  showProduct(job, bytes) {
    this.$('no-result').hidden = true;
    this.$('result-view').hidden = false;
    let shape = null;
    let text = null;
    if (bytes.length <= SMALL_RESULT_CHARS) {
      text = decoder.decode(bytes);
      try {
        shape = readMatrix(text, 'The product');
      } catch {
        shape = null;
      }
    } else {
      // The coordinator checked the product: brackets and commas give its shape.
      shape = shapeOf(bytes);
    }
    const dims = shape ? `${shape.rows}×${shape.cols}` : 'unreadable';
    const who = job.parts
      ? `assembled from ${job.parts.total} parts computed by ${workersOf(job.partList)}`
      : `computed by ${job.workerId ? `worker ${job.workerId}` : 'a worker'}`;
    this.$('result-summary').textContent = `${dims} product of task ${job.taskId}, ${who}, ${elapsed(job)} after submitting.`;
    const small = text !== null && (!shape || shape.rows * shape.cols <= SMALL_RESULT_CELLS);
    if (small) {
      this.$('product').textContent = formatMatrix(text);
      this.$('product').hidden = false;
    } else {
      this.showCorner(shape, dims, shape.cells ?? cornerOf(bytes, CORNER, CORNER));
    }
    if (this.downloadUrl) URL.revokeObjectURL(this.downloadUrl);
    this.downloadUrl = URL.createObjectURL(new Blob([bytes], { type: 'text/plain' }));
    const link = this.$('download');
    link.href = this.downloadUrl;
    link.download = `product-task-${job.taskId}.txt`;
    link.textContent = `Download the product (${formatSize(bytes.length)} of Dana text)`;
    link.hidden = false;
  }

  /**
   * The top-left CORNER × CORNER cells of a large product, with row and column numbers.
   *
   * @param {{rows: number, cols: number}} shape
   * @param {string} dims the shape as shown
   * @param {string[][]} cells at least the corner's cells, by row
   */
  showCorner(shape, dims, cells) {
    const r = Math.min(CORNER, shape.rows, cells.length);
    const c = Math.min(CORNER, shape.cols);
    const caption = this.cell('caption', `Top-left ${r}×${c} corner of ${dims}`, 'hint');
    const head = this.doc.createElement('tr');
    head.append(this.doc.createElement('th'));
    for (let j = 0; j < c; j += 1) head.append(this.cell('th', String(j + 1)));
    if (c < shape.cols) head.append(this.cell('th', '…', 'more'));
    const rows = [head];
    for (let i = 0; i < r; i += 1) {
      const tr = this.doc.createElement('tr');
      tr.append(this.cell('th', String(i + 1)));
      for (let j = 0; j < c; j += 1) tr.append(this.cell('td', cells[i][j] ?? ''));
      if (c < shape.cols) tr.append(this.cell('td', '…', 'more'));
      rows.push(tr);
    }
    if (r < shape.rows) {
      const tr = this.doc.createElement('tr');
      tr.append(this.cell('td', '⋮', 'more'));
      rows.push(tr);
    }
    this.$('corner').replaceChildren(caption, ...rows);
    this.$('corner-wrap').hidden = false;
  }

  /** The task failed: says why in place of a product. */
  showFailure(error) {
    this.$('no-result').hidden = true;
    this.$('result-error').textContent = `The workers could not compute this product: ${error || 'no reason given'}`;
  }

  /** The task was cancelled: no product will come. */
  showCancelled(job) {
    this.$('no-result').hidden = true;
    this.$('result-error').textContent = `Task ${job.taskId} was cancelled: no worker computes it or its parts any more.`;
  }

  // ---------------------------------------------------------------- the coordinator

  /** The coordinator's figures (`GET stats`), and a link to a worker when none is seen. */
  showStats(stats) {
    const parts = [`${stats.queueSize ?? '?'} pending`, `${stats.activeTasks ?? '?'} processing`, `${stats.completedTasks ?? '?'} completed`];
    if (Number.isInteger(stats.failedTasks)) parts.push(`${stats.failedTasks} failed`);
    if (Number.isInteger(stats.rejectedResults) && stats.rejectedResults > 0) {
      parts.push(`${stats.rejectedResults} wrong result(s) rejected`);
    }
    parts.push(`${stats.totalTasks ?? '?'} submitted in all`);
    let warning = '';
    if (Array.isArray(stats.workers)) {
      const active = stats.workers.filter((w) => (w.lastSeenSecsAgo ?? Infinity) < 60).length;
      parts.push(`${active} worker(s) seen in the last minute`);
      if (active === 0) warning = 'No worker is connected: open the Worker page on this or any other device.';
    }
    this.$('coord-stats').textContent = `Tasks: ${parts.join(' · ')}.`;
    this.$('coord-warning').replaceChildren();
    if (warning) {
      const link = this.cell('a', 'Open a worker');
      Object.assign(link, { href: 'worker.html', target: '_blank', rel: 'noopener' });
      this.$('coord-warning').append(`${warning} `, link);
    }
  }

  showStatsUnreachable(reason) {
    this.$('coord-stats').textContent = `Coordinator unreachable (${reason}).`;
  }
}
