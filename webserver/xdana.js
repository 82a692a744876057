// The main app (xdana.html, served at /).
//
// Checks the two matrices in the browser (shape, numbers, A's columns = B's rows)
// before anything is sent, submits `{"A":"<Dana text>","B":"<Dana text>"}` to
// `POST task`, then polls `GET result/N` and shows the task's progress (pending,
// processing by which worker, completed or failed) and the product: in full when
// small, as a corner plus a download when large. Computing is left to the workers.
//
// A coordinator that splits large products into row-block parts keeps one task id
// and adds `partsDone` / `partsTotal` to `GET result/N`: the page then shows
// progress by parts done.

import { MatrixTextError, formatMatrix, randomMatrixText, readMatrix } from './matrix-text.js';

/** Products with at most this many cells (and characters) are shown in full. */
const SMALL_RESULT_CELLS = 256;
const SMALL_RESULT_CHARS = 6000;
/** Size of the corner shown for large products. */
const CORNER = 8;
/** Largest generated dimension (the text of a 512x512 matrix is about 1 MB). */
const MAX_GENERATED = 512;
/** Result polling: fast at first, slower for long-running tasks. */
const POLL_FAST_MS = 100;
const POLL_SLOW_MS = 1000;
const POLL_FAST_FOR_MS = 3000;
/**
 * Seconds the coordinator may hold a result request until the task is no longer as
 * this page last showed it (long poll, `GET result/N?wait=S&status=T&partsDone=D`). An answer that took longer than RESULT_HELD_MS was
 * held, and the next request goes out at once; a coordinator that answers at once
 * is polled on the schedule above.
 */
const RESULT_WAIT_SECS = 20;
const RESULT_HELD_MS = 50;
/** Pause after typing before the shape hint is recomputed (large matrices take a while). */
const SHAPE_HINT_DELAY_MS = 150;
/** Coordinator statistics refresh. */
const STATS_EVERY_MS = 3000;

const $ = (id) => document.getElementById(id);
const STEPS = ['submitted', 'pending', 'processing', 'completed'];

let job = null;
let downloadUrl = null;

// ---------------------------------------------------------------- input

function compact(matrix) {
  return `[${matrix.cells.map((row) => `[${row.join(',')}]`).join(',')}]`;
}

function showInputError(message, field) {
  $('input-error').textContent = message;
  for (const id of ['matrix-a', 'matrix-b']) {
    $(id).setAttribute('aria-invalid', String(id === field));
  }
  if (field) $(field).focus();
}

/** Reads and checks both matrices; returns the task body or null after showing why not. */
function readInput() {
  let a;
  let b;
  try {
    a = readMatrix($('matrix-a').value, 'Matrix A');
  } catch (err) {
    if (!(err instanceof MatrixTextError)) throw err;
    showInputError(err.message, 'matrix-a');
    return null;
  }
  try {
    b = readMatrix($('matrix-b').value, 'Matrix B');
  } catch (err) {
    if (!(err instanceof MatrixTextError)) throw err;
    showInputError(err.message, 'matrix-b');
    return null;
  }
  if (a.cols !== b.rows) {
    showInputError(
      `Shapes do not fit: A is ${a.rows}×${a.cols} and B is ${b.rows}×${b.cols}; ` +
        `A needs as many columns (${a.cols}) as B has rows (${b.rows}).`,
      'matrix-b',
    );
    return null;
  }
  showInputError('', null);
  return { a, b, body: JSON.stringify({ A: compact(a), B: compact(b) }) };
}

function showShape(textareaId, hintId) {
  try {
    const m = readMatrix($(textareaId).value);
    $(hintId).textContent = `${m.rows}×${m.cols}`;
  } catch {
    $(hintId).textContent = '';
  }
}

function generate() {
  const read = (id) => {
    const v = Number.parseInt($(id).value, 10);
    const ok = Number.isInteger(v) && v >= 1 && v <= MAX_GENERATED;
    $(id).setAttribute('aria-invalid', String(!ok));
    return ok ? v : null;
  };
  const m = read('rows-a');
  const k = read('inner');
  const n = read('cols-b');
  if (m === null || k === null || n === null) {
    showInputError(`Sizes must be whole numbers from 1 to ${MAX_GENERATED}.`, null);
    return;
  }
  $('matrix-a').value = randomMatrixText(m, k);
  $('matrix-b').value = randomMatrixText(k, n);
  showInputError('', null);
  showShape('matrix-a', 'shape-a');
  showShape('matrix-b', 'shape-b');
}

// ---------------------------------------------------------------- task view

function elapsed(j) {
  const ms = (j.finishedAt ?? performance.now()) - j.startedAt;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Marks the steps up to `step`; a failed task ends on a "Failed" last step. */
function showStep(step, failed = false) {
  const last = STEPS.length - 1;
  const index = failed ? last : STEPS.indexOf(step);
  for (const li of $('steps').children) {
    const i = STEPS.indexOf(li.dataset.step);
    if (i === last) li.textContent = failed ? 'Failed' : 'Completed';
    if (failed) li.className = i === last ? 'failed' : 'done';
    else li.className = i < index || (i === index && step === 'completed') ? 'done' : i === index ? 'current' : '';
  }
  $('progress').value = failed || step === 'completed' ? last : Math.max(index, 0) + 0.5;
  $('progress').classList.toggle('failed', failed);
}

function renderStatus() {
  if (!job) return;
  const who = job.workerId ? ` by worker ${job.workerId}` : '';
  const tries = job.attempts > 1 ? ` (attempt ${job.attempts})` : '';
  let text;
  switch (job.status) {
    case 'submitting':
      text = 'Sending the task…';
      break;
    case 'pending':
      text = `Task ${job.taskId} is waiting for a worker · ${elapsed(job)}`;
      break;
    case 'processing':
      text = job.parts
        ? `Task ${job.taskId} is being computed in ${job.parts.total} parts: ${job.parts.done} of ${job.parts.total} done · ${elapsed(job)}`
        : `Task ${job.taskId} is being computed${who}${tries} · ${elapsed(job)}`;
      break;
    case 'completed':
      text = job.parts
        ? `Task ${job.taskId} completed in ${job.parts.total} parts in ${elapsed(job)}`
        : `Task ${job.taskId} completed${who} in ${elapsed(job)}`;
      break;
    case 'failed':
      text = `Task ${job.taskId} was refused${who} after ${elapsed(job)}`;
      break;
    default:
      text = job.status;
  }
  $('task-status').textContent = text;
  const step = job.status === 'submitting' ? 'submitted' : job.status === 'failed' ? job.lastStep : job.status;
  showStep(step, job.status === 'failed');
  renderParts();
}

/** Progress by parts done, for a task the coordinator split. */
function renderParts() {
  const parts = job?.parts;
  $('parts-view').hidden = !parts;
  if (!parts) return;
  const done = job.status === 'completed' ? parts.total : parts.done;
  $('parts-progress').max = parts.total;
  $('parts-progress').value = done;
  $('parts-text').textContent = `${done} of ${parts.total} parts done`;
  // The processing step fills up with the parts.
  if (job.status === 'processing') $('progress').value = STEPS.indexOf('processing') + done / parts.total;
}

function clearResult() {
  $('result-view').hidden = true;
  $('no-result').hidden = false;
  $('result-error').textContent = '';
  $('product').hidden = true;
  $('corner-wrap').hidden = true;
  $('download').hidden = true;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
}

function showProduct(j, text) {
  $('no-result').hidden = true;
  $('result-view').hidden = false;
  let shape = null;
  try {
    shape = readMatrix(text, 'The product');
  } catch {
    shape = null;
  }
  const dims = shape ? `${shape.rows}×${shape.cols}` : 'unreadable';
  const who = j.parts
    ? `assembled from ${j.parts.total} parts computed by the workers`
    : `computed by ${j.workerId ? `worker ${j.workerId}` : 'a worker'}`;
  $('result-summary').textContent = `${dims} product of task ${j.taskId}, ${who}, ${elapsed(j)} after submitting.`;

  const small = shape && shape.rows * shape.cols <= SMALL_RESULT_CELLS && text.length <= SMALL_RESULT_CHARS;
  if (small || !shape) {
    $('product').textContent = formatMatrix(text);
    $('product').hidden = false;
  } else {
    const r = Math.min(CORNER, shape.rows);
    const c = Math.min(CORNER, shape.cols);
    const table = $('corner');
    const caption = document.createElement('caption');
    caption.className = 'hint';
    caption.textContent = `Top-left ${r}×${c} corner of ${dims}`;
    const head = document.createElement('tr');
    head.append(document.createElement('th'));
    for (let j2 = 0; j2 < c; j2 += 1) head.append(cell('th', String(j2 + 1)));
    if (c < shape.cols) head.append(cell('th', '…', 'more'));
    const rows = [head];
    for (let i = 0; i < r; i += 1) {
      const tr = document.createElement('tr');
      tr.append(cell('th', String(i + 1)));
      for (let j2 = 0; j2 < c; j2 += 1) tr.append(cell('td', shape.cells[i][j2]));
      if (c < shape.cols) tr.append(cell('td', '…', 'more'));
      rows.push(tr);
    }
    if (r < shape.rows) {
      const tr = document.createElement('tr');
      tr.append(cell('td', '⋮', 'more'));
      rows.push(tr);
    }
    table.replaceChildren(caption, ...rows);
    $('corner-wrap').hidden = false;
  }
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const link = $('download');
  link.href = downloadUrl;
  link.download = `product-task-${j.taskId}.txt`;
  const size = text.length < 1024 ? `${text.length} bytes` : `${(text.length / 1024).toFixed(text.length < 10240 ? 1 : 0)} KB`;
  link.textContent = `Download the product (${size} of Dana text)`;
  link.hidden = false;
}

function cell(tag, text, cls) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (cls) el.className = cls;
  return el;
}

// ---------------------------------------------------------------- talking to the coordinator

async function submit(event) {
  event.preventDefault();
  const input = readInput();
  if (!input) return;
  clearResult();
  job = { status: 'submitting', lastStep: 'submitted', startedAt: performance.now(), taskId: null };
  const mine = job;
  $('no-task').hidden = true;
  $('task-view').hidden = false;
  $('task-warning').textContent = '';
  $('submit').disabled = true;
  renderStatus();
  let response;
  try {
    response = await fetch('task', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      // A Blob uploads faster than a string in Chromium (about 20% for 20 MB).
      body: new Blob([input.body]),
    });
  } catch (err) {
    failBeforeSubmit(mine, `Could not reach the coordinator (${err.message}). Nothing was submitted.`);
    return;
  } finally {
    $('submit').disabled = false;
  }
  if (!response.ok) {
    const reason =
      response.status === 413
        ? 'The matrices are larger than the coordinator accepts.'
        : response.status === 503
          ? 'The coordinator queue is full; try again shortly.'
          : `The coordinator refused the task (HTTP ${response.status}${await errorText(response)}).`;
    failBeforeSubmit(mine, reason);
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (!Number.isInteger(body.taskId)) {
    failBeforeSubmit(mine, 'The coordinator answered without a task id.');
    return;
  }
  mine.taskId = body.taskId;
  mine.status = 'pending';
  mine.lastStep = 'pending';
  $('submit-note').textContent = `Submitted as task ${mine.taskId}.`;
  renderStatus();
  poll(mine);
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body?.error ? `: ${body.error}` : '';
  } catch {
    return '';
  }
}

function failBeforeSubmit(j, message) {
  if (job !== j) return;
  job = null;
  $('task-view').hidden = true;
  $('no-task').hidden = false;
  showInputError(message, null);
}

async function poll(j) {
  let misses = 0;
  let offline = false;
  let held = false;
  let seen = false;
  while (job === j) {
    const waited = performance.now() - j.startedAt;
    if (!held) await new Promise((resolve) => setTimeout(resolve, waited < POLL_FAST_FOR_MS ? POLL_FAST_MS : POLL_SLOW_MS));
    held = false;
    if (job !== j) return;
    let response;
    const asked = performance.now();
    try {
      // The first answer shows the task as it is; later ones wait for a change
      // from what this page last showed.
      const parts = j.parts ? `&partsDone=${j.parts.done}` : '';
      const wait = seen ? `?wait=${RESULT_WAIT_SECS}&status=${j.status}${parts}` : '';
      response = await fetch(`result/${j.taskId}${wait}`, { cache: 'no-store' });
    } catch {
      if (!offline) $('task-warning').textContent = 'The coordinator is unreachable; still trying…';
      offline = true;
      renderStatus();
      continue;
    }
    if (offline) $('task-warning').textContent = '';
    offline = false;
    if (response.status === 204 || response.status === 404) {
      // Dana clients treat both as "not ready yet"; a long run of 404 means the task is gone.
      misses += 1;
      if (response.status === 404 && misses === 20) {
        $('task-warning').textContent = 'The coordinator does not know this task (was it restarted?). Still checking…';
      }
      renderStatus();
      continue;
    }
    if (!response.ok) {
      $('task-warning').textContent = `Checking the task failed (HTTP ${response.status}); retrying…`;
      continue;
    }
    held = performance.now() - asked >= RESULT_HELD_MS;
    const body = await response.json().catch(() => null);
    if (!body || job !== j) continue;
    seen = true;
    misses = 0;
    if (body.workerId) j.workerId = body.workerId;
    if (Number.isInteger(body.attempts)) j.attempts = body.attempts;
    if (Number.isInteger(body.partsTotal) && body.partsTotal > 0) {
      j.parts = { done: Number.isInteger(body.partsDone) ? body.partsDone : 0, total: body.partsTotal };
    }
    if (body.status === 'pending' || body.status === 'processing') {
      j.status = body.status;
      j.lastStep = body.status;
      renderStatus();
    } else if (body.status === 'completed') {
      j.finishedAt = performance.now();
      j.status = 'completed';
      renderStatus();
      showProduct(j, typeof body.result === 'string' ? body.result : JSON.stringify(body.result));
      refreshStats();
      return;
    } else if (body.status === 'failed') {
      j.finishedAt = performance.now();
      j.status = 'failed';
      renderStatus();
      $('no-result').hidden = true;
      $('result-error').textContent = `The workers could not compute this product: ${body.error || 'no reason given'}`;
      refreshStats();
      return;
    }
  }
}

async function refreshStats() {
  let stats;
  try {
    const response = await fetch('stats', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    stats = await response.json();
  } catch (err) {
    $('coord-stats').textContent = `Coordinator unreachable (${err.message}).`;
    return;
  }
  const parts = [
    `${stats.queueSize ?? '?'} pending`,
    `${stats.activeTasks ?? '?'} processing`,
    `${stats.completedTasks ?? '?'} completed`,
  ];
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
  $('coord-stats').textContent = `Tasks: ${parts.join(' · ')}.`;
  $('coord-warning').replaceChildren();
  if (warning) {
    const link = document.createElement('a');
    link.href = 'worker.html';
    link.target = '_blank';
    link.rel = 'noopener';
    link.textContent = 'Open a worker';
    $('coord-warning').append(`${warning} `, link);
  }
}

// ---------------------------------------------------------------- wiring

function init() {
  $('task-form').addEventListener('submit', submit);
  $('generate').addEventListener('click', generate);
  for (const [area, hint] of [
    ['matrix-a', 'shape-a'],
    ['matrix-b', 'shape-b'],
  ]) {
    let timer = 0;
    $(area).addEventListener('keydown', (event) => {
      // Ctrl+Enter (Cmd+Enter on a Mac) submits from inside a matrix.
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $('task-form').requestSubmit();
      }
    });
    $(area).addEventListener('input', () => {
      $(area).removeAttribute('aria-invalid');
      clearTimeout(timer);
      timer = setTimeout(() => showShape(area, hint), SHAPE_HINT_DELAY_MS);
    });
    showShape(area, hint);
  }
  setInterval(() => {
    if (job && (job.status === 'pending' || job.status === 'processing')) renderStatus();
  }, 250);
  refreshStats();
  setInterval(refreshStats, STATS_EVERY_MS);
}

init();
