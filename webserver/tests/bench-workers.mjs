// Throughput of browser workers, measured end to end (submit, claim, compute in
// wasm, deliver) against the real coordinator in headless Chromium, with the
// native kernel on the same tasks as the baseline of the same run.
//
//   node webserver/tests/bench-workers.mjs [SIZE] [TASKS]     (defaults 256 and 24)
//
// Prints, for 1 page x 1 slot, 1 page x 2 slots and 2 pages x 1 slot: seconds from
// Start to the last product (tasks queued beforehand), tasks/s, GFLOP/s and the
// ratio to the native kernel. Bounded: at most TASKS tasks
// per setup, and every wait has a time limit. Needs the same builds as run-e2e.sh.

import { performance } from 'node:perf_hooks';
import {
  danaText,
  launchBrowser,
  nativeProducts,
  openWorker,
  randomIntMatrix,
  seededRandom,
  startCoordinator,
  submitTask,
  waitForFinished,
} from './helpers.mjs';

const SIZE = Number(process.argv[2] ?? 256);
const TASKS = Math.min(Number(process.argv[3] ?? 24), 200);
const SETUPS = [
  { pages: 1, slots: 1 },
  { pages: 1, slots: 2 },
  { pages: 2, slots: 1 },
];

const rand = seededRandom(7);
const tasks = Array.from({ length: TASKS }, () => ({
  A: danaText(randomIntMatrix(rand, SIZE, SIZE, -99, 99)),
  B: danaText(randomIntMatrix(rand, SIZE, SIZE, -99, 99)),
}));
const flops = 2 * SIZE ** 3 * TASKS;

const nativeStart = performance.now();
const expected = await nativeProducts(tasks);
const nativeSecs = (performance.now() - nativeStart) / 1000;
console.log(`${TASKS} tasks of ${SIZE}x${SIZE} integers (${(flops / 1e9).toFixed(2)} GFLOP in all)`);
console.log(`native kernel (one process, text in and out): ${nativeSecs.toFixed(2)} s, ${(flops / nativeSecs / 1e9).toFixed(2)} GFLOP/s`);

const browser = await launchBrowser();
try {
  for (const setup of SETUPS) {
    const coordinator = await startCoordinator('bench');
    const pages = [];
    try {
      for (let p = 0; p < setup.pages; p += 1) {
        pages.push(await openWorker(browser, coordinator.url, `bench-${p + 1}`, { slots: setup.slots, start: false }));
      }
      // Queue everything first, then start every page: this measures claiming,
      // computing and delivering, not how fast this script uploads.
      const ids = [];
      for (const task of tasks) ids.push(await submitTask(coordinator.url, task));
      const start = performance.now();
      await Promise.all(pages.map((p) => p.page.getByRole('button', { name: 'Start' }).click()));
      const results = [];
      for (const id of ids) results.push(await waitForFinished(coordinator.url, id, 300000));
      const secs = (performance.now() - start) / 1000;
      const wrong = results.filter((r, i) => r.result !== expected[i]).length;
      if (wrong) throw new Error(`${wrong} products differ from the native kernel`);
      // Time inside the wasm kernel, from the pages' activity logs ("done in 12 ms").
      let kernelSecs = 0;
      for (const p of pages) {
        const log = await p.page.textContent('#log');
        for (const m of log.matchAll(/done in ([\d.]+) (ms|s)/g)) kernelSecs += Number(m[1]) / (m[2] === 'ms' ? 1000 : 1);
      }
      console.log(
        `${setup.pages} page(s) x ${setup.slots} slot(s): ${secs.toFixed(2)} s, ` +
          `${(TASKS / secs).toFixed(2)} tasks/s, ${(flops / secs / 1e9).toFixed(2)} GFLOP/s, ` +
          `${(secs / nativeSecs).toFixed(2)}x the native time; ` +
          `inside the wasm kernel ${kernelSecs.toFixed(2)} s (${(flops / kernelSecs / 1e9).toFixed(2)} GFLOP/s per slot)`,
      );
    } finally {
      for (const p of pages) await p.context.close();
      await coordinator.stop();
    }
  }
} finally {
  await browser.close();
}
