// Benchmark of slow workers: one n x n integer product computed by worker pages in
// headless Chromium, some of them slowed down 4x, with the coordinator's equal split
// (`--equal-parts`, the behaviour before parts were sized by measured speed) as the
// baseline and the split by measured speed with backup copies, in the same run.
//
//   node webserver/tests/bench-stragglers.mjs [N] [REPEATS] [CAP_SECS]
//       N         the product's size (default 2048)
//       REPEATS   measured products per line (default 3, at most 9), after a first
//                 product on the same coordinator and pages that finds no speed
//                 measured (shown apart: "first")
//       CAP_SECS  longest wait for one product (default 300); every other wait is
//                 bounded too
//
// Lines: fast alone, fast + slow, fast + fast, fast + fast + slow. A fast page is a
// worker page (1 slot) in a Chromium of its own context; a slow page runs in a second
// Chromium whose renderer processes get a quarter of the CPU time
// (`launchSlowBrowser(4)` in helpers.mjs: Chromium's DevTools CPU throttling,
// `Emulation.setCPUThrottlingRate`, slows a page's main thread but not the Web
// Worker where the kernel computes, so it cannot slow the compute).
//
// Each product is timed twice:
// - "workers": the coordinator's own time for it, from its log line "task submitted,
//   split into parts" (the body read and planned) to "split task completed": what the
//   pages take, the part a slow page can slow down;
// - "total": from `POST task` to `GET result/N` saying completed, as the client sees it
//   (the same upload of A and B and download of the product on every line, on the
//   machine's shared cores).
// Every product is checked against the native kernel's product (exact text). Lines
// are measured in two groups, each line with the one it is compared with (fast and
// fast + slow; fast + fast and fast + fast + slow), both modes of both lines open at
// once (a coordinator and pages each; idle pages only hold a long poll), taking turns
// product by product, so that a change in the machine's load hits every figure of a
// comparison alike. Before each product every page of the group is idle (a losing
// backup copy ends first). The table shows medians of the REPEATS measured products,
// every figure, the first product apart, and for the speed split the share of the
// product's rows the slow page was credited with and the backup copies handed out.

import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  danaText,
  getResult,
  getStats,
  launchBrowser,
  launchSlowBrowser,
  nativeProducts,
  openWorker,
  randomIntMatrix,
  seededRandom,
  startCoordinator,
  waitFor,
} from './helpers.mjs';

const N = Number(process.argv[2] ?? 2048);
const REPEATS = Math.max(1, Math.min(9, Number(process.argv[3] ?? 3)));
const CAP_SECS = Number(process.argv[4] ?? 300);
const SLOW_RATE = 4;
const LINES = [['fast'], ['fast', 'slow'], ['fast', 'fast'], ['fast', 'fast', 'slow']];
const MODES = [
  { name: 'equal', args: ['--equal-parts'] },
  { name: 'speed', args: [] },
];

const secs = (ms) => (ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Whether every page shows every slot idle. */
async function allIdle(pages) {
  for (const p of pages) {
    const idle = await p.page.evaluate(() =>
      [...document.querySelectorAll('#slot-rows td:nth-child(2)')].every((td) => td.textContent === 'idle'),
    );
    if (!idle) return false;
  }
  return true;
}

/** When the coordinator logged `event` for task `taskId` (ms since the epoch), once it has. */
async function loggedAt(coordinator, event, taskId) {
  const line = new RegExp(`^(\\S+)\\s+INFO [^\\n]*${event} task=${taskId} `, 'm');
  let at = null;
  await waitFor(
    () => {
      const found = coordinator.output().replace(/\x1b\[[0-9;]*m/g, '').match(line);
      at = found ? Date.parse(found[1]) : null;
      return at !== null && !Number.isNaN(at);
    },
    { timeoutMs: 10000, intervalMs: 20, what: `the log line "${event}" of task ${taskId}` },
  );
  return at;
}

/** One product on `coordinator`; returns its times, parts and who computed them. */
async function oneProduct(coordinator, pages, data, expected) {
  const before = await getStats(coordinator.url);
  const started = performance.now();
  const res = await fetch(new URL('task', coordinator.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: data,
    signal: AbortSignal.timeout(120000),
  });
  if (res.status !== 200) throw new Error(`POST task answered ${res.status}: ${await res.text()}`);
  const { taskId } = await res.json();
  const deadline = started + CAP_SECS * 1000;
  let r;
  for (;;) {
    r = await getResult(coordinator.url, taskId, { waitSecs: 10 });
    if (r.status === 'completed' || r.status === 'failed') break;
    if (performance.now() > deadline) return { timedOut: true };
  }
  const totalMs = performance.now() - started;
  if (r.status !== 'completed') throw new Error(`task failed: ${r.error}`);
  if (r.result !== expected) throw new Error(`n=${N}: the product differs from the native kernel's`);
  const partsRes = await fetch(new URL(`result/${taskId}?parts=1`, coordinator.url), { signal: AbortSignal.timeout(10000) });
  const report = await partsRes.json();
  const credited = new Map((report.parts ?? []).map((p) => [p.taskId, p.workerId]));
  // The flops of each credited part, from the log of the page that computed it.
  const flopsBy = new Map();
  await waitFor(
    async () => {
      flopsBy.clear();
      let found = 0;
      for (const p of pages) {
        const rows = await p.page.$$eval('#log li[data-flops]', (lis) => lis.map((li) => ({ ...li.dataset })));
        for (const row of rows) {
          if (credited.get(Number(row.taskId)) === p.id) {
            flopsBy.set(p.id, (flopsBy.get(p.id) ?? 0) + Number(row.flops));
            found += 1;
          }
        }
      }
      return found >= credited.size;
    },
    { timeoutMs: 20000, what: 'the pages to log their parts' },
  );
  const after = await getStats(coordinator.url);
  const workersMs =
    (await loggedAt(coordinator, 'split task completed', taskId)) -
    (await loggedAt(coordinator, 'task submitted, split into parts', taskId));
  const all = [...flopsBy.values()].reduce((a, b) => a + b, 0);
  const slowShare = pages.filter((p) => p.slow).reduce((s, p) => s + (flopsBy.get(p.id) ?? 0), 0) / (all || 1);
  return {
    totalMs,
    workersMs,
    parts: report.partsTotal ?? 0,
    slowShare,
    backups: (after.backups ?? 0) - (before.backups ?? 0),
    speeds: (after.workers ?? []).map((w) => `${w.workerId}=${w.gflops ?? '—'}`).join(' '),
  };
}

/** A coordinator of `mode` with the pages of `line` waiting for work. */
async function setUp(browsers, mode, line) {
  const name = `bench-stragglers-${mode.name}-${line.join('-')}`;
  const coordinator = await startCoordinator(name, ['--split-min-flops', '100000000', ...mode.args]);
  const pages = [];
  const close = async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await coordinator.stop();
  };
  try {
    for (const [i, kind] of line.entries()) {
      const id = `${kind}-${i + 1}`;
      const browser = kind === 'slow' ? browsers.slow.browser : browsers.fast;
      const page = await openWorker(browser, coordinator.url, id, { slots: 1 });
      pages.push({ ...page, id, slow: kind === 'slow' });
    }
    await waitFor(async () => (await getStats(coordinator.url)).workersSeen >= line.length, {
      timeoutMs: 20000,
      what: 'the pages to be seen',
    });
  } catch (err) {
    await close();
    throw err;
  }
  return { mode, line, coordinator, pages, close, first: null, runs: [] };
}

/**
 * Runs a first product and then REPEATS measured ones on each set-up of `group`
 * (lines x modes), taking turns product by product (in a rotated order), so that
 * every figure compared in the table was measured in the same minutes; every page
 * of the group is idle before each product.
 */
async function runGroup(browsers, group, data, expected) {
  const setups = [];
  try {
    for (const line of group) {
      for (const mode of MODES) setups.push(await setUp(browsers, mode, line));
    }
    const allPages = setups.flatMap((x) => x.pages);
    for (let i = 0; i <= REPEATS; i += 1) {
      const order = setups.map((_, k) => setups[(k + i) % setups.length]);
      for (const setup of order) {
        if (setup.first?.timedOut || setup.runs.some((x) => x.timedOut)) continue;
        await waitFor(() => allIdle(allPages), { timeoutMs: CAP_SECS * 1000, intervalMs: 100, what: 'every page to be idle' });
        const run = await oneProduct(setup.coordinator, setup.pages, data, expected);
        if (i === 0) setup.first = run;
        else setup.runs.push(run);
        if (run.timedOut) continue;
        console.log(
          `${setup.mode.name.padEnd(5)} ${setup.line.join('+').padEnd(14)} ${i === 0 ? 'first' : `run ${i}`}: ` +
            `workers ${secs(run.workersMs)}, total ${secs(run.totalMs)}, ${run.parts} parts, ` +
            `slow share ${(run.slowShare * 100).toFixed(0)}%, backups ${run.backups}; speeds ${run.speeds}`,
        );
      }
    }
    return setups.map(({ line, mode, first, runs }) => ({ line, mode: mode.name, first, runs }));
  } finally {
    for (const setup of setups) await setup.close();
  }
}

const rand = seededRandom(2048);
const data = JSON.stringify({
  A: danaText(randomIntMatrix(rand, N, N, -99, 99)),
  B: danaText(randomIntMatrix(rand, N, N, -99, 99)),
});
const [expected] = await nativeProducts([data]);
const loadBefore = loadavg()[0];
const browsers = { fast: await launchBrowser(), slow: await launchSlowBrowser(SLOW_RATE) };
const results = [];
try {
  // Each line with the line it is compared with: fast + slow against fast alone,
  // fast + fast + slow against fast + fast.
  for (const group of [LINES.slice(0, 2), LINES.slice(2, 4)]) {
    results.push(...(await runGroup(browsers, group, data, expected)));
  }
} finally {
  await browsers.slow.close();
  await browsers.fast.close();
}

console.log('');
console.log(`${cpus().length} logical cores; 1-minute load average ${loadBefore.toFixed(2)} before the runs, ${loadavg()[0].toFixed(2)} after`);
console.log(`n = ${N} integer product (values -99..99), every product exact; slow page = ${SLOW_RATE}x less CPU time; median of ${REPEATS}`);
const resultOf = (line, mode) => results.find((x) => x.line.join('+') === line && x.mode === mode);
/** The median of `field` over the measured products of a line in a mode (null when one timed out). */
const medianOf = (line, mode, field) => {
  const r = resultOf(line, mode);
  return r && !r.runs.some((x) => x.timedOut) ? median(r.runs.map((x) => x[field])) : null;
};
const listOf = (runs, field) => runs.map((x) => (x.timedOut ? `>${CAP_SECS}s` : (x[field] / 1000).toFixed(2))).join(', ');
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '—');
const header = [
  'pages',
  'workers, equal split',
  'runs',
  'workers, by speed',
  'runs',
  'speed / equal',
  'by speed vs baseline line',
  'total, by speed',
  'runs',
  'total vs baseline line',
  'first product, workers: equal, speed',
  'slow share',
  'backups',
];
const rows = LINES.map((line) => {
  const key = line.join('+');
  const [equal, speed] = [resultOf(key, 'equal'), resultOf(key, 'speed')];
  const baseline = key === 'fast+fast+slow' ? 'fast+fast' : 'fast';
  const of = `(of ${baseline})`;
  const [e, s] = [medianOf(key, 'equal', 'workersMs'), medianOf(key, 'speed', 'workersMs')];
  const total = medianOf(key, 'speed', 'totalMs');
  const firsts = [equal.first, speed.first].map((x) => (x && !x.timedOut ? (x.workersMs / 1000).toFixed(2) : '—'));
  return [
    key,
    secs(e),
    listOf(equal.runs, 'workersMs'),
    secs(s),
    listOf(speed.runs, 'workersMs'),
    ratio(s, e),
    `${ratio(s, medianOf(baseline, 'speed', 'workersMs'))} ${of}`,
    secs(total),
    listOf(speed.runs, 'totalMs'),
    `${ratio(total, medianOf(baseline, 'speed', 'totalMs'))} ${of}`,
    firsts.join(', '),
    line.includes('slow') ? speed.runs.map((x) => `${((x.slowShare ?? 0) * 100).toFixed(0)}%`).join(', ') : '',
    speed.runs.map((x) => x.backups ?? 0).join(', '),
  ];
});
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
