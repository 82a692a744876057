// The browser worker page (worker.html): puts its parts together and follows the
// tab's life.
//
// The coordinator client (coordinator-client.js), the compute slots (slot-pool.js,
// each a Web Worker that owns the wasm kernel), the work loop that claims tasks,
// has them computed and posts the products back (work-loop.js), and the view
// (worker-view.js). This module picks the slot count (URL, then what this browser
// kept, then a default) and the worker id (URL, else this tab's own: one worker per
// tab, worker-identity.js), and gives held tasks back when the tab is closed, left
// or frozen (`task/N/release`, sent with keepalive; without the extension they come
// back through their lease).
//
// URL parameters (optional): workerId=ID, slots=N, start=1 (start at once), wire=plain
// (ask for no compression and no shared operands: the bytes the pages sent before),
// upload=gzip (post results gzip-compressed: worth it only on slow uplinks, since the
// browser compresses at a few MB/s).

import { CoordinatorClient } from './coordinator-client.js';
import { SlotPool } from './slot-pool.js';
import { WorkLoop } from './work-loop.js';
import { TabIdentity } from './worker-identity.js';
import { WorkerView } from './worker-view.js';

/** Upper bound of the slot count. */
const MAX_SLOTS = 32;
/**
 * How often the coordinator's record of this worker (`GET stats`, which lists every
 * worker) is read while running; it is also read after each rejected result.
 */
const STATS_EVERY_MS = 30000;
/** How often the figures are redrawn without a change (rates, times in the slot rows). */
const REDRAW_EVERY_MS = 500;

const SLOTS_KEY = 'xdana.slots';

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

function init() {
  const params = new URLSearchParams(location.search);
  const view = new WorkerView(document);
  // The slots' events come once they are spawned (setSlotCount below), when the
  // loop exists.
  const pool = new SlotPool({
    ready() {
      loop.wake();
      view.render();
    },
    broken(slot) {
      view.log(`slot ${slot.index + 1}: ${slot.broken}`, 'error');
      loop.wake();
      view.render();
    },
  });
  const loop = new WorkLoop({ client: new CoordinatorClient('', { wire: params.get('wire') === 'plain' ? 'plain' : 'lean', compressUploads: params.get('upload') === 'gzip' }), pool, log: view.log, changed: view.render });
  view.follow(loop, pool);

  const showWorkerId = (id) => {
    loop.setWorkerId(id);
    view.showWorkerId(id);
  };
  const identity = new TabIdentity({
    fromUrl: params.get('workerId'),
    changed(id, why) {
      showWorkerId(id);
      view.log(`worker id is now "${id}": ${why}`, 'warn');
    },
  });
  const setSlotCount = (n) => {
    storageSet(SLOTS_KEY, String(n));
    pool.resize(n);
    loop.wake();
    view.render();
  };
  const start = () => {
    if (loop.running) return;
    view.clearLastError();
    loop.start();
  };

  const slots = clampSlots(params.get('slots') ?? storageGet(SLOTS_KEY) ?? defaultSlots());
  view.showSettings({ slots, maxSlots: MAX_SLOTS, cores: navigator.hardwareConcurrency });
  showWorkerId(identity.id);
  setSlotCount(slots);

  view.bind({
    workerId(text) {
      showWorkerId(identity.use(text));
      view.log(`worker id is now "${loop.workerId}"`);
    },
    newId() {
      showWorkerId(identity.use('', false));
      view.log(`worker id is now "${loop.workerId}"`);
    },
    slots(text) {
      const n = clampSlots(text);
      setSlotCount(n);
      view.log(`${n} compute slot(s)`);
      return n;
    },
    start,
    stop: () => loop.stop(),
  });

  // Closing or leaving the tab: give held tasks back at once (keepalive requests
  // outlive the page); without the release extension they return via the lease.
  let resumeOnShow = false;
  window.addEventListener('pagehide', () => {
    resumeOnShow = loop.running;
    loop.stop(true);
  });
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && resumeOnShow) start();
  });
  // A frozen tab (mobile, background) computes nothing: give its tasks back too.
  document.addEventListener('freeze', () => {
    resumeOnShow = resumeOnShow || loop.running;
    loop.stop(true);
  });
  document.addEventListener('resume', () => {
    if (resumeOnShow) start();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden && loop.running) view.log('tab hidden: still working, though the browser may slow it down');
  });

  setInterval(() => view.renderNow(), REDRAW_EVERY_MS);
  setInterval(() => {
    if (loop.running) loop.refreshRecord();
  }, STATS_EVERY_MS);
  loop.refreshRecord();
  view.renderNow();
  if (params.get('start') === '1') start();
}

init();
