// Page side of the browser worker (worker.html).
//
// Claims tasks from the coordinator one at a time whenever a compute slot is free,
// hands each task to that slot (compute-slot.js: a dedicated Web Worker running
// compute-worker.js, which owns the wasm kernel), and posts the product back as
// `{"result":"<Dana text>"}`, or `{"error":"..."}` for data the kernel refuses.
// The page thread only does I/O and UI.
//
// Pulling: asks `task/next?workerId=W&wait=S`; a coordinator with the long-poll
// extension holds the request until a task arrives, one without it answers 204 at
// once and the page falls back to short polling. Network errors back off
// exponentially and the page recovers by itself when the coordinator comes back.
// Tasks held when the tab goes away are given back with `task/N/release` (an
// extension; 404/405 are ignored) and, failing that, come back through the lease.
//
// Results are posted with `?workerId=W` (an optional extension the coordinator
// uses to credit work and to count rejections). A coordinator that checks results
// answers 422 to a wrong one: the page counts it as rejected (the task goes back
// to the queue on the coordinator's side), and shows the coordinator's own count
// for this worker id from `GET stats` (`workers[].resultsRejected`), and whether
// the coordinator currently gives this id no tasks (`benchedSecs`).
//
// URL parameters (optional): workerId=ID, slots=N, start=1 (start at once).

import { Cancelled, ComputeSlot } from './compute-slot.js';
import { taskIdOf } from './task-reader.js';

/** Seconds a long poll may wait on the coordinator (it caps the value itself). */
const LONG_POLL_SECS = 25;
/** A 204 faster than this means the coordinator has no long poll. */
const LONG_POLL_DETECT_MS = 1000;
/** Short-poll interval bounds when the coordinator answers at once. */
const SHORT_POLL_MIN_MS = 250;
const SHORT_POLL_MAX_MS = 2000;
/** Longest pause between claims of free slots while other slots hold tasks. */
const HOLDING_POLL_MAX_MS = 500;
/** Back-off bounds after a network error or a 5xx answer. */
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
/** How many times a finished result is posted before the task is given back. */
const RESULT_POST_TRIES = 6;
/** Window over which tasks/s and GFLOP/s are measured. */
const RATE_WINDOW_MS = 10000;
/** Log lines kept on screen. */
const LOG_LIMIT = 200;
/** Upper bound of the slot count input. */
const MAX_SLOTS = 32;
/**
 * How often the coordinator's record of this worker (`GET stats`, which lists every
 * worker) is read while running; it is also read after each rejected result.
 */
const STATS_EVERY_MS = 30000;

const ID_KEY = 'xdana.workerId';
const SLOTS_KEY = 'xdana.slots';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = {
  running: false,
  generation: 0,
  workerId: '',
  slots: [],
  wantedSlots: 1,
  pollMode: 'unknown',
  shortPollMs: SHORT_POLL_MIN_MS,
  backoffMs: 0,
  connection: 'idle',
  claimAbort: null,
  sleepers: new Set(),
  waiters: [],
  held: new Map(),
  redelivering: 0,
  done: 0,
  failed: 0,
  rejected: 0,
  /** This worker id's line of `GET stats` (null until read, or without the extension). */
  record: null,
  totalFlops: 0,
  recent: [],
  runStartedAt: 0,
  kernelInfo: '',
  lastError: '',
};

// ---------------------------------------------------------------- small helpers

function randomId() {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  return `browser-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function storageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage may be disabled; the value then lasts for this page only.
  }
}

function defaultSlots() {
  const cores = navigator.hardwareConcurrency || 2;
  return Math.max(1, Math.min(8, Math.floor(cores / 2)));
}

function clampSlots(n) {
  const v = Number.parseInt(n, 10);
  return Number.isFinite(v) ? Math.max(1, Math.min(MAX_SLOTS, v)) : defaultSlots();
}

/** Sleeps `ms`, ending early when the worker is stopped. */
function sleep(ms) {
  return new Promise((resolve) => {
    const entry = { resolve, timer: setTimeout(() => finish(), ms) };
    function finish() {
      clearTimeout(entry.timer);
      state.sleepers.delete(entry);
      resolve();
    }
    entry.resolve = finish;
    state.sleepers.add(entry);
  });
}

/** Wakes the dispatcher when a slot frees up, becomes ready, or the worker stops. */
function wake() {
  const waiters = state.waiters;
  state.waiters = [];
  waiters.forEach((resolve) => resolve());
}

function waitForChange() {
  return new Promise((resolve) => state.waiters.push(resolve));
}

const live = () => state.running;

function formatSecs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

// ---------------------------------------------------------------- log and UI

function log(text, kind = '') {
  const list = $('log');
  const li = document.createElement('li');
  if (kind) li.className = kind;
  const time = document.createElement('time');
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString([], { hour12: false });
  li.append(time, document.createTextNode(text));
  list.prepend(li);
  while (list.childElementCount > LOG_LIMIT) list.lastElementChild.remove();
  if (kind === 'error') {
    state.lastError = text;
    render();
  }
  return li;
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  const now = performance.now();
  state.recent = state.recent.filter((r) => now - r.at <= RATE_WINDOW_MS);
  const span = Math.max(1000, Math.min(RATE_WINDOW_MS, now - state.runStartedAt));
  const rateTasks = state.running || state.recent.length ? (state.recent.length * 1000) / span : 0;
  const rateFlops = state.recent.reduce((sum, r) => sum + r.flops, 0) / span / 1e6;

  $('done').textContent = String(state.done);
  $('failed').textContent = String(state.failed);
  $('rejected').textContent = String(state.rejected);
  const record = state.record;
  $('rejected-total').textContent = record ? String(record.resultsRejected ?? 0) : '—';
  $('benched').textContent = record?.benchedSecs
    ? `The coordinator gives this worker id no tasks for about ${formatSecs(record.benchedSecs * 1000)} ` +
      `after ${record.resultsRejected} rejected result(s).`
    : '';
  $('tasks-per-sec').textContent = rateTasks.toFixed(rateTasks >= 10 ? 0 : 2);
  $('gflops').textContent = rateFlops.toFixed(rateFlops >= 10 ? 1 : 3);
  const busy = state.slots.filter((s) => s.task).length;
  $('busy').textContent = `${busy} / ${state.slots.filter((s) => !s.retiring).length}`;
  $('kernel').textContent = state.kernelInfo || (state.slots.some((s) => s.ready) ? 'loaded' : 'loading…');

  const badge = $('status');
  let label = 'stopped';
  let cls = 'stopped';
  if (state.running) {
    if (state.connection === 'offline') {
      label = 'coordinator unreachable';
      cls = 'offline';
    } else if (busy > 0) {
      label = 'computing';
      cls = 'running';
    } else {
      label = 'waiting for tasks';
      cls = 'processing';
    }
  }
  badge.textContent = label;
  badge.className = `badge ${cls}`;
  if (state.running && record?.benchedSecs) {
    badge.textContent = 'benched by the coordinator';
    badge.className = 'badge failed';
  }
  $('poll-mode').textContent =
    state.pollMode === 'long'
      ? 'long poll'
      : state.pollMode === 'short'
        ? `polling every ${formatSecs(state.shortPollMs)}`
        : '';

  $('start').disabled = state.running;
  $('stop').disabled = !state.running;
  $('last-error').textContent = state.lastError;

  const rows = state.slots.map((slot) => {
    const tr = document.createElement('tr');
    let what = 'idle';
    if (slot.broken) what = slot.broken;
    else if (!slot.ready) what = 'loading kernel…';
    else if (slot.task) what = `task ${slot.task.taskId}, ${formatSecs(now - slot.task.startedAt)}`;
    else if (slot.retiring) what = 'closing';
    const last =
      slot.lastMs === null
        ? '—'
        : `${formatSecs(slot.lastMs)}${slot.lastFlops ? `, ${(slot.lastFlops / Math.max(slot.lastMs, 0.001) / 1e6).toFixed(2)} GFLOP/s` : ''}`;
    for (const text of [String(slot.index + 1), what, last]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    if (slot.task) tr.dataset.taskId = String(slot.task.taskId);
    return tr;
  });
  $('slot-rows').replaceChildren(...rows);
}

// ---------------------------------------------------------------- talking to the coordinator

function markOnline() {
  if (state.connection === 'offline') log('coordinator reachable again', 'ok');
  state.connection = 'online';
  state.backoffMs = 0;
}

async function backOff(reason) {
  state.backoffMs = state.backoffMs ? Math.min(state.backoffMs * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
  if (state.connection !== 'offline') log(`coordinator unreachable (${reason}); retrying with back-off`, 'warn');
  state.connection = 'offline';
  render();
  await sleep(state.backoffMs);
}

/**
 * Asks for one task; resolves with a ticket, or null when there was none.
 *
 * While this tab holds tasks it asks without waiting (`wait=0`): a long poll left
 * open when the tab closes could be handed the very task the tab is giving back.
 */
async function claimTask() {
  const workerId = state.workerId;
  const controller = new AbortController();
  state.claimAbort = controller;
  const wait = state.held.size > 0 ? 0 : LONG_POLL_SECS;
  const url = `task/next?workerId=${encodeURIComponent(workerId)}&wait=${wait}`;
  const started = performance.now();
  let response;
  try {
    response = await fetch(url, { signal: controller.signal, cache: 'no-store' });
  } catch (err) {
    if (controller.signal.aborted) return null;
    await backOff(err?.message || 'network error');
    return null;
  } finally {
    if (state.claimAbort === controller) state.claimAbort = null;
  }
  if (response.status === 204) {
    markOnline();
    const fast = performance.now() - started < LONG_POLL_DETECT_MS;
    const mode = fast ? 'short' : 'long';
    if (wait > 0 && mode !== state.pollMode) {
      log(mode === 'long' ? 'coordinator holds requests until a task arrives (long poll)' : 'coordinator answers at once: short polling');
      state.pollMode = mode;
    }
    if (fast) {
      render();
      // While holding tasks (wait=0) free slots keep asking often, like a long poll would.
      await sleep(wait > 0 ? state.shortPollMs : Math.min(state.shortPollMs, HOLDING_POLL_MAX_MS));
      state.shortPollMs = Math.min(SHORT_POLL_MAX_MS, Math.round(state.shortPollMs * 1.5));
    }
    return null;
  }
  if (response.status === 200) {
    // Kept as bytes: JSON.parse would round 64-bit integers in JSON-array matrices,
    // and reading a large answer is left to the compute worker (task-reader.js), which
    // gets the bytes themselves (transferred, not copied).
    let bytes;
    const headersAt = performance.now();
    try {
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      await backOff(err?.message || 'network error');
      return null;
    }
    markOnline();
    state.shortPollMs = SHORT_POLL_MIN_MS;
    const taskId = taskIdOf(bytes);
    if (!Number.isSafeInteger(taskId) || taskId <= 0) {
      log('task/next answered without a valid taskId', 'error');
      await backOff('bad answer');
      return null;
    }
    const startedAt = performance.now();
    return { taskId, answer: bytes, workerId, startedAt, receiveMs: startedAt - headersAt };
  }
  await backOff(`HTTP ${response.status}`);
  return null;
}

/** Gives a held task back to the coordinator at once (extension; failures are harmless). */
function releaseTask(ticket) {
  const url = `task/${ticket.taskId}/release?workerId=${encodeURIComponent(ticket.workerId)}`;
  return fetch(url, { method: 'POST', keepalive: true }).then(
    (res) => res.ok,
    () => false,
  );
}

/**
 * The JSON body of a delivery as a Blob, which Chromium uploads about 20% faster
 * than the same text as a string (20 MB: ~360 ms against ~450 ms). A product given
 * as UTF-8 bytes goes in as it is, between `{"result":"` and `"}`, when it holds no
 * quote or backslash (the kernel writes only digits, signs, dots, exponents, commas
 * and brackets), so it never becomes a string.
 *
 * @param {{result: Uint8Array | string} | {error: string}} body
 * @returns {Blob}
 */
function resultBlob(body) {
  const bytes = body.result;
  if (bytes instanceof Uint8Array) {
    // Native searches: a quote or a backslash would need escaping (the kernel
    // writes no control characters).
    const plain = bytes.indexOf(0x22) < 0 && bytes.indexOf(0x5c) < 0;
    if (plain) return new Blob(['{"result":"', bytes, '"}']);
    return new Blob([JSON.stringify({ result: new TextDecoder().decode(bytes) })]);
  }
  return new Blob([JSON.stringify(body)]);
}

/**
 * Delivers a result or an error body, retrying network errors and 5xx answers
 * (RESULT_POST_TRIES times, with back-off). While a delivery is retried the tab
 * claims no new task. A delivery that is given up, or abandoned by Stop, gives the
 * task back so that another worker can take it at once.
 *
 * @returns {Promise<boolean>} whether the coordinator took it
 */
async function deliver(ticket, body) {
  const { taskId } = ticket;
  let delay = BACKOFF_MIN_MS;
  try {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const posted = performance.now();
        // `return=minimal`: the coordinator need not echo the (large) result back.
        const res = await fetch(`task/${taskId}/result?workerId=${encodeURIComponent(ticket.workerId)}&return=minimal`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: resultBlob(body),
        });
        if (res.ok) {
          markOnline();
          ticket.deliverMs = performance.now() - posted;
          return true;
        }
        if (res.status === 422) {
          // The coordinator's check found the result wrong; it requeued the task.
          const reason = (await errorOf(res)).replace(/^Result rejected:\s*/, '');
          state.rejected += 1;
          log(`task ${taskId}: result rejected by the coordinator's check${reason ? ` (${reason})` : ''}; the task went back to the queue`, 'error');
          refreshRecord();
          return false;
        }
        if (res.status < 500) {
          const text = await res.text().catch(() => '');
          log(`task ${taskId}: coordinator refused the result (HTTP ${res.status} ${text.slice(0, 120)})`, 'error');
          return false;
        }
      } catch {
        // Network error: retried below.
      }
      if (!state.running) ticket.abandoned = true; // stopped: retry no more
      if (ticket.abandoned) {
        if (!ticket.released) releaseTask(ticket);
        return false;
      }
      if (attempt >= RESULT_POST_TRIES) {
        log(`task ${taskId}: result could not be delivered; gave the task back`, 'error');
        releaseTask(ticket);
        return false;
      }
      if (!ticket.retrying) {
        ticket.retrying = true;
        state.redelivering += 1;
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        ticket.stopRetrying = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (ticket.abandoned) {
        if (!ticket.released) releaseTask(ticket);
        return false;
      }
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
  } finally {
    if (ticket.retrying) {
      ticket.retrying = false;
      state.redelivering -= 1;
      wake();
    }
  }
}

/** The `error` text of a JSON error answer, or ''. */
async function errorOf(response) {
  try {
    const body = await response.json();
    return typeof body?.error === 'string' ? body.error.slice(0, 200) : '';
  } catch {
    return '';
  }
}

/**
 * Reads this worker id's line of `GET stats` (tasks, rejected results, bench time).
 * Coordinators without the `workers` extension leave it unknown; failures are quiet
 * (the claim loop reports an unreachable coordinator).
 */
async function refreshRecord() {
  const workerId = state.workerId;
  let stats;
  try {
    const res = await fetch('stats', { cache: 'no-store' });
    if (!res.ok) return;
    stats = await res.json();
  } catch {
    return;
  }
  if (workerId !== state.workerId || !Array.isArray(stats?.workers)) return;
  const line = stats.workers.find((w) => w?.workerId === workerId) ?? null;
  const benchedBefore = Boolean(state.record?.benchedSecs);
  state.record = line ?? { workerId, tasksCompleted: 0, resultsRejected: 0 };
  if (line?.benchedSecs && !benchedBefore) {
    log(`the coordinator gives this worker id no tasks for ${formatSecs(line.benchedSecs * 1000)} after repeated rejected results`, 'warn');
  }
  render();
}

// ---------------------------------------------------------------- the work loop

async function dispatch(generation) {
  const current = () => live() && generation === state.generation;
  while (current()) {
    const slot = state.slots.find((s) => s.free);
    if (!slot || state.redelivering > 0) {
      // No free slot, or the coordinator is refusing results: take nothing more.
      if (state.slots.length > 0 && state.slots.every((s) => s.broken || s.retiring)) {
        log('no compute slot can run: the kernel did not load (is webserver/pkg built?)', 'error');
        stop();
        return;
      }
      await waitForChange();
      continue;
    }
    const ticket = await claimTask();
    if (!ticket) continue;
    if (!current() || !slot.free) {
      // Stopped (or the slot went away) while the request was in flight: give it back.
      releaseTask(ticket);
      if (current()) continue;
      return;
    }
    run(slot, ticket);
    render();
  }
}

async function run(slot, ticket) {
  const { taskId } = ticket;
  state.held.set(taskId, ticket);
  log(`task ${taskId}: computing on slot ${slot.index + 1}`);
  let outcome;
  const computeFrom = performance.now();
  try {
    outcome = await slot.compute(ticket);
  } catch (err) {
    if (!(err instanceof Cancelled)) throw err;
    state.held.delete(taskId);
    return;
  }
  const slotMs = performance.now() - computeFrom;
  slot.task = null;
  if (slot.retiring) retire(slot);
  wake();
  if (outcome.fatal || outcome.crashed) {
    state.held.delete(taskId);
    releaseTask(ticket);
    if (outcome.crashed) {
      // Not the data's fault: a fresh wasm instance for this slot, the task for another try.
      if (!slot.retiring) slot.respawn();
      log(`task ${taskId}: given back, the kernel crashed (${outcome.error})`, 'error');
    } else {
      log(`task ${taskId}: given back, this slot cannot compute (${outcome.error})`, 'error');
    }
    render();
    return;
  }
  slot.lastMs = outcome.ms;
  slot.lastFlops = outcome.flops || 0;
  if ('result' in outcome) {
    const ok = await deliver(ticket, { result: outcome.result });
    if (ok) {
      state.done += 1;
      state.totalFlops += outcome.flops;
      state.recent.push({ at: performance.now(), flops: outcome.flops });
      const line = log(
        `task ${taskId}: ${outcome.shape} done in ${formatSecs(outcome.ms)} ` +
          `(received in ${formatSecs(ticket.receiveMs)}, delivered in ${formatSecs(ticket.deliverMs)})`,
        'ok',
      );
      // Exact figures for measuring tools; the text above is rounded for people.
      Object.assign(line.dataset, {
        taskId: String(taskId),
        kernelMs: outcome.ms.toFixed(3),
        slotMs: slotMs.toFixed(3),
        receiveMs: ticket.receiveMs.toFixed(3),
        deliverMs: ticket.deliverMs.toFixed(3),
      });
    }
  } else {
    const ok = await deliver(ticket, { error: outcome.error });
    if (ok) {
      state.failed += 1;
      log(`task ${taskId}: refused, ${outcome.error}`, 'warn');
    }
  }
  state.held.delete(taskId);
  render();
}

/** What the compute slots tell the page. */
const slotEvents = {
  ready(info) {
    if (info) state.kernelInfo = info;
    wake();
    render();
  },
  broken(slot) {
    log(`slot ${slot.index + 1}: ${slot.broken}`, 'error');
    wake();
    render();
  },
};

function retire(slot) {
  slot.close();
  state.slots = state.slots.filter((s) => s !== slot);
  state.slots.forEach((s, i) => {
    s.index = i;
  });
}

/** Grows or shrinks the pool of compute slots; busy slots finish their task first. */
function setSlotCount(n) {
  state.wantedSlots = n;
  storageSet(SLOTS_KEY, String(n));
  let active = state.slots.filter((s) => !s.retiring);
  while (active.length < n) {
    const reuse = state.slots.find((s) => s.retiring);
    if (reuse) reuse.retiring = false;
    else state.slots.push(new ComputeSlot(state.slots.length, slotEvents));
    active = state.slots.filter((s) => !s.retiring);
  }
  for (let i = state.slots.length - 1; i >= 0 && active.length > n; i -= 1) {
    const slot = state.slots[i];
    if (slot.retiring) continue;
    slot.retiring = true;
    if (!slot.task) retire(slot);
    active = state.slots.filter((s) => !s.retiring);
  }
  wake();
  render();
}

function start() {
  if (state.running) return;
  state.running = true;
  state.generation += 1;
  state.runStartedAt = performance.now();
  state.recent = [];
  state.lastError = '';
  state.slots.filter((s) => s.broken).forEach((s) => s.respawn());
  log(`started as "${state.workerId}" with ${state.wantedSlots} slot(s)`);
  dispatch(state.generation);
  render();
}

/**
 * Stops taking tasks and gives back every task still being computed, and those
 * whose result is waiting to be delivered again. When the page is going away
 * (`leaving`), results being posted right now are given back too, since their
 * requests die with the page; a result that lands anyway still counts.
 */
function stop(leaving = false) {
  // Close the pending claim first, so the coordinator does not hand a given-back
  // task straight to it.
  state.claimAbort?.abort();
  const given = [];
  for (const ticket of state.held.values()) {
    if (state.slots.some((s) => s.task === ticket)) continue;
    if (ticket.retrying || leaving) {
      ticket.abandoned = true;
      if (leaving) {
        // Now, while the page still runs: deliver() would only get to it later.
        ticket.released = true;
        releaseTask(ticket);
      }
      ticket.stopRetrying?.();
      given.push(ticket);
    }
  }
  if (!state.running) return;
  state.running = false;
  state.generation += 1;
  state.sleepers.forEach((s) => s.resolve());
  for (const slot of state.slots) {
    if (slot.task) {
      given.push(slot.task);
      slot.cancel();
    }
  }
  given.forEach((ticket) => {
    if (ticket.abandoned) return; // deliver() gives it back
    state.held.delete(ticket.taskId);
    releaseTask(ticket);
  });
  if (given.length) log(`stopped; gave back task(s) ${given.map((t) => t.taskId).join(', ')}`, 'warn');
  else log('stopped');
  state.slots.filter((s) => s.retiring && !s.task).forEach(retire);
  wake();
  render();
}

// ---------------------------------------------------------------- wiring

function setWorkerId(raw, persist) {
  const id = String(raw).trim() || randomId();
  if (id !== state.workerId) state.record = null;
  state.workerId = id;
  $('worker-id').value = id;
  if (persist) storageSet(ID_KEY, id);
}

function init() {
  const fromUrl = params.get('workerId');
  setWorkerId(fromUrl || storageGet(ID_KEY) || randomId(), !fromUrl);
  const slots = clampSlots(params.get('slots') ?? storageGet(SLOTS_KEY) ?? defaultSlots());
  $('slots').value = String(slots);
  $('slots').max = String(MAX_SLOTS);
  $('cores').textContent = String(navigator.hardwareConcurrency || '?');
  setSlotCount(slots);

  $('worker-id').addEventListener('change', (e) => {
    setWorkerId(e.target.value, true);
    log(`worker id is now "${state.workerId}"`);
  });
  $('new-id').addEventListener('click', () => {
    setWorkerId(randomId(), true);
    log(`worker id is now "${state.workerId}"`);
  });
  $('slots').addEventListener('change', (e) => {
    const n = clampSlots(e.target.value);
    e.target.value = String(n);
    setSlotCount(n);
    log(`${n} compute slot(s)`);
  });
  $('start').addEventListener('click', start);
  $('stop').addEventListener('click', () => stop());

  // Closing or leaving the tab: give held tasks back at once (keepalive requests
  // outlive the page); without the release extension they return via the lease.
  let resumeOnShow = false;
  window.addEventListener('pagehide', () => {
    resumeOnShow = state.running;
    stop(true);
  });
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && resumeOnShow) start();
  });
  // A frozen tab (mobile, background) computes nothing: give its tasks back too.
  document.addEventListener('freeze', () => {
    resumeOnShow = resumeOnShow || state.running;
    stop(true);
  });
  document.addEventListener('resume', () => {
    if (resumeOnShow) start();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden && state.running) log('tab hidden: still working, though the browser may slow it down');
  });

  setInterval(renderNow, 500);
  setInterval(() => {
    if (state.running) refreshRecord();
  }, STATS_EVERY_MS);
  refreshRecord();
  renderNow();
  if (params.get('start') === '1') start();
}

init();
