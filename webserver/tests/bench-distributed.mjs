// End-to-end benchmark of split, verified multiplication: the real coordinator,
// headless Chromium worker pages (1 slot each), and one n x n integer product
// submitted as the main app does (`{"A":"<Dana text>","B":"<Dana text>"}`, then
// polling `GET result/N`), with 1 and then 2 worker pages.
//
//   node webserver/tests/bench-distributed.mjs [SIZES] [CAP_SECS] [REPEATS]
//       SIZES     comma-separated n (default 512,1024,2048)
//       CAP_SECS  longest wait for one product (default 600); a run that takes
//                 longer is reported as such and the sizes after it are skipped
//       REPEATS   runs per size and page count (default 3, at most 9); the table
//                 shows the run with the median total
//
// The coordinator splits every product measured here (`--split-min-flops`
// SPLIT_MIN_FLOPS, env BENCH_SPLIT_MIN_FLOPS; its default of 2e9 would leave
// n = 512 whole). It splits into as many parts as workers seen, at least 2, so both
// runs of a size do the same splitting, checking and assembling.
//
// Where each figure comes from (per run, summed over the parts):
//   total     POST task sent -> GET result/N says completed (the client's view)
//   submit    POST task round trip: upload, reading A and B, preparing the check,
//             splitting (the coordinator's whole "split" step, plus a localhost upload)
//   receive   worker pages: downloading each part's task body (page-side timing)
//   compute   worker pages: time inside the wasm kernel (multiplyTextToBytes: read the
//             text, multiply, write the text) -- "kernel" in the page's log
//   slot      worker pages: handing the part to the compute worker and back
//             (bytes transferred both ways + task JSON reading + kernel)
//   deliver   worker pages: result POST round trip = upload + the coordinator's
//             verification + recording
//   split     coordinator log, `read_cpu_ms` + `plan_cpu_ms` of "task submitted":
//             the CPU time of reading the body as JSON (which finds A and B),
//             then reading A and B, preparing the check and splitting
//   verify    coordinator log, `read_cpu_ms` + `verify_cpu_ms` of every part's
//             "task completed": reading the result body as JSON, then
//             checking its rows
//   assemble  coordinator log, `assemble_cpu_ms` of "split task completed"
// overhead  = (split + verify + assemble) / compute: the coordinator's own work
//             (CPU time of the threads doing it, so time lost to other
//             processes on a shared machine is not counted) against the compute
//             it organises, both measured in this run
// Every product is checked against the native kernel's (exact text).

import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  danaText,
  getResult,
  getStats,
  launchBrowser,
  nativeProducts,
  openWorker,
  randomIntMatrix,
  seededRandom,
  startCoordinator,
  waitFor,
} from './helpers.mjs';

const SIZES = (process.argv[2] ?? '512,1024,2048').split(',').map(Number).filter((n) => n > 0);
const CAP_SECS = Number(process.argv[3] ?? 600);
const SPLIT_MIN_FLOPS = Number(process.env.BENCH_SPLIT_MIN_FLOPS ?? 100_000_000);
const REPEATS = Math.max(1, Math.min(9, Number(process.argv[4] ?? 3)));
const WORKER_COUNTS = [1, 2];

const ms = (x) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x >= 10000 ? `${(x / 1000).toFixed(1)}s` : `${Math.round(x)}ms`);

/**
 * The coordinator's log lines (`2026-11-26T19:29:49.645174Z  INFO target: message`)
 * as {at, text}, `at` in milliseconds with the log's microseconds.
 */
function logLines(output) {
  return output
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((line) => {
      const m = line.match(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z\s+\w+\s+(.*)$/);
      return m ? { at: Date.parse(`${m[1]}Z`) + Number(m[2] ?? 0) * 1000, text: m[3] } : null;
    })
    .filter(Boolean);
}

/** The number logged as `field=<ms>` on the first line matching `pattern`, or null. */
function loggedMs(lines, pattern, field) {
  const line = lines.find((l) => pattern.test(l.text));
  const m = line?.text.match(new RegExp(`\\b${field}=([0-9.]+)`));
  return m ? Number(m[1]) : null;
}

/**
 * The coordinator's own timings of one split task (each run has a coordinator
 * of its own: every other completed task is one of its parts).
 */
function coordinatorMs(output, parentId) {
  const lines = logLines(output);
  const field = (text, name) => Number(text.match(new RegExp(`\\b${name}=([0-9.]+)`))?.[1] ?? NaN);
  const verify = lines
    .filter((l) => /(?:^|: )task completed task=\d+ /.test(l.text) && !l.text.includes(`task=${parentId} `))
    .map((l) => field(l.text, 'read_cpu_ms') + field(l.text, 'verify_cpu_ms'));
  const submitted = new RegExp(`task submitted.* task=${parentId} `);
  const read = loggedMs(lines, submitted, 'read_cpu_ms');
  const plan = loggedMs(lines, submitted, 'plan_cpu_ms');
  return {
    splitMs: read === null || plan === null ? null : read + plan,
    verifyMs: verify.length && verify.every((x) => !Number.isNaN(x)) ? verify.reduce((a, b) => a + b, 0) : null,
    assembleMs: loggedMs(lines, new RegExp(`split task completed task=${parentId} `), 'assemble_cpu_ms'),
  };
}

async function pageTimings(pages) {
  const all = [];
  for (const [i, p] of pages.entries()) {
    const rows = await p.page.$$eval('#log li[data-kernel-ms]', (lis) => lis.map((li) => ({ ...li.dataset })));
    for (const r of rows) {
      all.push({
        page: i,
        taskId: Number(r.taskId),
        kernel: Number(r.kernelMs),
        slot: Number(r.slotMs),
        receive: Number(r.receiveMs),
        deliver: Number(r.deliverMs),
      });
    }
  }
  return all;
}

async function runOnce(browser, n, workers, data, expected) {
  const coordinator = await startCoordinator(`bench-distributed-${n}-${workers}`, ['--split-min-flops', String(SPLIT_MIN_FLOPS)]);
  const pages = [];
  try {
    for (let i = 0; i < workers; i += 1) {
      pages.push(await openWorker(browser, coordinator.url, `bench-dist-${i + 1}`, { slots: 1 }));
    }
    await waitFor(async () => (await getStats(coordinator.url)).workersSeen >= workers, {
      timeoutMs: 20000,
      what: 'the pages to be seen',
    });
    const started = performance.now();
    const res = await fetch(new URL('task', coordinator.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: data,
      signal: AbortSignal.timeout(120000),
    });
    const submitMs = performance.now() - started;
    if (res.status !== 200) throw new Error(`POST task answered ${res.status}: ${await res.text()}`);
    const { taskId } = await res.json();
    let r;
    const deadline = started + CAP_SECS * 1000;
    for (;;) {
      // Long poll: the coordinator answers as soon as the task changes.
      r = await getResult(coordinator.url, taskId, { waitSecs: 10 });
      if (r.status === 'completed' || r.status === 'failed') break;
      if (performance.now() > deadline) return { timedOut: true, workers };
    }
    const totalMs = performance.now() - started;
    if (r.status !== 'completed') throw new Error(`task failed: ${r.error}`);
    if (r.result !== expected) throw new Error(`n=${n}, ${workers} worker(s): the product differs from the native kernel`);
    const parts = r.partsTotal ?? 0;
    // The pages count a part a moment after the coordinator stored it. This
    // coordinator had no other task: everything the pages did is this product.
    const timings = await waitFor(
      async () => {
        const t = await pageTimings(pages);
        return t.length >= Math.max(parts, 1) ? t : null;
      },
      { timeoutMs: 10000, what: 'the pages to log every part' },
    );
    const sum = (key) => timings.reduce((s, x) => s + x[key], 0);
    const perPage = (key) => Math.max(...pages.map((_, i) => timings.filter((x) => x.page === i).reduce((s, x) => s + x[key], 0)));
    const stats = await getStats(coordinator.url);
    const deliverMs = sum('deliver');
    return {
      workers,
      parts,
      totalMs,
      submitMs,
      receiveMs: sum('receive'),
      computeMs: sum('kernel'),
      computeCriticalMs: perPage('kernel'),
      slotMs: sum('slot'),
      deliverMs,
      ...coordinatorMs(coordinator.output(), taskId),
      rejected: stats.rejectedResults ?? 0,
      byPage: pages.map((_, i) => timings.filter((x) => x.page === i).length),
    };
  } finally {
    for (const p of pages) await p.context.close().catch(() => {});
    await coordinator.stop();
  }
}

const rand = seededRandom(2048);
const rows = [];
const loadBefore = loadavg()[0];
const browser = await launchBrowser();
try {
  sizes: for (const n of SIZES) {
    const data = JSON.stringify({
      A: danaText(randomIntMatrix(rand, n, n, -99, 99)),
      B: danaText(randomIntMatrix(rand, n, n, -99, 99)),
    });
    const nativeStart = performance.now();
    const [expected] = await nativeProducts([data]);
    const nativeMs = performance.now() - nativeStart;
    const runs = [];
    for (const workers of WORKER_COUNTS) {
      const tries = [];
      for (let i = 0; i < REPEATS; i += 1) {
        const one = await runOnce(browser, n, workers, data, expected);
        tries.push(one);
        if (one.timedOut) break;
      }
      const run = tries.some((x) => x.timedOut)
        ? tries.find((x) => x.timedOut)
        : tries.sort((x, y) => x.totalMs - y.totalMs)[Math.floor(tries.length / 2)];
      run.totals = tries.filter((x) => !x.timedOut).map((x) => x.totalMs);
      runs.push(run);
      if (run.timedOut) {
        rows.push({ n, nativeMs, ...run });
        console.log(`n=${n}, ${workers} worker page(s): no product within ${CAP_SECS} s; larger sizes skipped`);
        break sizes;
      }
      rows.push({ n, nativeMs, ...run, speedup: workers > 1 ? runs[0].totalMs / run.totalMs : null });
      console.log(`n=${n}, ${workers} worker page(s): totals ${run.totals.map(ms).join(', ')} (every product exact)`);
    }
  }
} finally {
  await browser.close();
}

console.log('');
console.log(`${cpus().length} logical cores; 1-minute load average ${loadBefore.toFixed(2)} before the runs, ${loadavg()[0].toFixed(2)} after`);
console.log(`one n x n integer product (values -99..99), Dana text, every result verified; parts = max(workers seen, 2)`);
console.log(`columns are sums over the parts (two pages work at once: sums can exceed the total); see the header of this file`);
const header = ['n', 'pages', 'parts', 'total', 'submit', 'receive', 'compute', 'slot', 'deliver', 'split', 'verify', 'assemble', 'overhead', 'speedup', 'native'];
const table = rows.map((r) =>
  r.timedOut
    ? [r.n, r.workers, '', `>${CAP_SECS}s`, '', '', '', '', '', '', '', '', '', '', ms(r.nativeMs)]
    : [
        r.n,
        r.workers,
        r.parts,
        ms(r.totalMs),
        ms(r.submitMs),
        ms(r.receiveMs),
        ms(r.computeMs),
        ms(r.slotMs),
        ms(r.deliverMs),
        ms(r.splitMs),
        ms(r.verifyMs),
        ms(r.assembleMs),
        `${((100 * (r.splitMs + r.verifyMs + r.assembleMs)) / r.computeMs).toFixed(1)}%`,
        r.speedup ? `${r.speedup.toFixed(2)}x` : '',
        ms(r.nativeMs),
      ],
);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
console.log(line(header));
for (const row of table) console.log(line(row));
console.log(`median of ${REPEATS} run(s) by total; overhead = (split + verify + assemble) / compute, in CPU time as the coordinator measured it;`);
console.log('speedup = total(1 page) / total(2 pages)');
console.log('native = the native kernel example on the same task, one process, text in and out (baseline of this run)');
