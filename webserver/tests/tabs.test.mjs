// Two worker tabs of one browser are two workers: each has its own id (one browser
// prefix, a tab part of its own, kept across a reload), the coordinator's `/stats`
// and the main app count two workers, and both compute parts of one split task,
// each tab naming its part by the client's task ("part 1/2 of task 1"). The
// figures are honest: GFLOP/s is above zero while a slot computes (read in the same
// frame as the slot row that shows the computation), it equals the products' flops
// over their compute time as the page logged them, and the kernel shown is the
// build the engine loaded.
//
// The coordinator splits products from SPLIT_MIN_FLOPS on, so that products of a few
// hundred rows are split, into as many parts as workers seen (two tabs: two parts),
// in equal parts (`--equal-parts`): parts sized by measured speed are another file's
// subject, and a tab measured much slower than the other would be left out.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  danaText,
  getStats,
  launchBrowser,
  nativeProducts,
  openWorker,
  randomIntMatrix,
  screenshot,
  seededRandom,
  startCoordinator,
  submitTask,
  waitFor,
  waitForFinished,
  waitForTaskPolls,
} from './helpers.mjs';

const SPLIT_MIN_FLOPS = 100_000_000;
/** Busy time over which the page measures (throughput.js RATE_WINDOW_MS). */
const RATE_WINDOW_MS = 10000;

let coordinator;
let browser;
let context;
const tabs = [];

before(async () => {
  coordinator = await startCoordinator('tabs', ['--split-min-flops', String(SPLIT_MIN_FLOPS), '--equal-parts']);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  for (let i = 0; i < 2; i += 1) tabs.push(await openWorker(browser, coordinator.url, null, { slots: 1, context }));
});

after(async () => {
  await browser?.close().catch(() => {});
  await coordinator?.stop();
});

const idOf = (tab) => tab.page.inputValue('#worker-id');

/** A product of `n` x `n` integer matrices, split into two parts by this coordinator. */
function squareTask(seed, n) {
  const rand = seededRandom(seed);
  return { A: danaText(randomIntMatrix(rand, n, n, -9, 9)), B: danaText(randomIntMatrix(rand, n, n, -9, 9)) };
}

test('two tabs of one browser are two workers, and a reload keeps a tab\'s id', { timeout: 60000 }, async () => {
  const ids = await Promise.all(tabs.map(idOf));
  assert.notEqual(ids[0], ids[1], 'each tab works under an id of its own');
  for (const id of ids) assert.match(id, /^browser-[0-9a-f]{8}-[0-9a-f]{4}$/);
  assert.equal(ids[0].slice(0, 16), ids[1].slice(0, 16), 'one prefix for the browser');
  assert.equal(await tabs[0].page.textContent('#worker-label'), ids[0], 'the page shows its id');

  // Both tabs wait in a long poll, so the coordinator has seen both.
  const stats = await waitFor(async () => {
    const s = await getStats(coordinator.url);
    return ids.every((id) => s.workers?.some((w) => w.workerId === id)) ? s : null;
  }, { timeoutMs: 10000, what: 'both tabs in /stats' });
  assert.equal(stats.workersSeen, 2);

  // The main app of the same browser counts two workers.
  const main = await context.newPage();
  await main.goto(coordinator.url, { timeout: 30000 });
  await main.waitForFunction(() => /2 worker\(s\) seen in the last minute/.test(document.getElementById('coord-stats').textContent), null, {
    timeout: 10000,
  });
  await main.close();

  // A reload keeps the tab's id (and the tab starts again, as its URL says).
  await tabs[1].page.reload({ timeout: 30000 });
  await tabs[1].page.waitForFunction(() => document.getElementById('status')?.textContent === 'waiting for tasks', null, { timeout: 30000 });
  assert.equal(await idOf(tabs[1]), ids[1]);
});

test('both tabs compute parts of one split task, each naming the client\'s task', { timeout: 90000 }, async (t) => {
  const ids = await Promise.all(tabs.map(idOf));
  const data = squareTask(7, 600);
  const [expected] = await nativeProducts([data]);
  // Both tabs wait for a task (the second was just reloaded): each is offered a part.
  await waitForTaskPolls(coordinator.url, 2);
  const taskId = await submitTask(coordinator.url, data);
  const done = await waitForFinished(coordinator.url, taskId, 60000);
  assert.equal(done.status, 'completed');
  assert.ok(done.result === expected, 'the product equals the native kernel\'s');
  assert.equal(done.partsTotal, 2);

  const listed = await (await fetch(new URL(`result/${taskId}?parts=1`, coordinator.url))).json();
  const workers = listed.parts.map((p) => p.workerId).sort();
  t.diagnostic(`parts of task ${taskId}: ${JSON.stringify(listed.parts)}`);
  assert.deepEqual(workers, [...ids].sort(), 'one part on each tab');

  // Each tab's log names its part by the client's task.
  for (const [i, tab] of tabs.entries()) {
    const part = listed.parts.find((p) => p.workerId === ids[i]);
    const number = listed.parts.indexOf(part) + 1;
    const line = await waitFor(
      () => tab.page.$$eval('#log li', (lis, id) => lis.map((li) => li.textContent).find((text) => text.includes(`task ${id} (`) && /done in/.test(text)), part.taskId),
      { timeoutMs: 5000, what: `tab ${i + 1} to log its part` },
    );
    assert.match(line, new RegExp(`task ${part.taskId} \\(part ${number}/2 of task ${taskId}\\): 300x600 \\* 600x600 done in`));
    assert.match(line, /received [\d.]+ (KB|MB) .*sent [\d.]+ (KB|MB)/, 'bytes in and out of the task');
  }
});

test('GFLOP/s is above zero while a slot computes, and is the logged flops over compute time', { timeout: 90000 }, async (t) => {
  // Large enough that each part is held for more than a second: a tab in the
  // background updates its page at most once a second.
  const data = squareTask(8, 2400);
  const [expected] = await nativeProducts([data]);
  await waitForTaskPolls(coordinator.url, 2);
  const taskId = await submitTask(coordinator.url, data);
  // Read from here every 20 ms: a tab in the background runs no animation
  // frames and throttles its timers, so a check polled inside it can miss a
  // part that computes in half a second. The slot row says it computes a
  // part, and the figures, in one read.
  const seen = await Promise.all(
    tabs.map((tab, i) =>
      waitFor(
        () => tab.page.evaluate((split) => {
          const row = document.querySelector('#slot-rows tr[data-task-id]');
          if (!row || !row.cells[1].textContent.includes(`of task ${split})`)) return null;
          return { now: row.cells[1].textContent, gflops: document.getElementById('gflops').textContent, tasksPerSec: document.getElementById('tasks-per-sec').textContent };
        }, taskId),
        { timeoutMs: 30000, intervalMs: 20, what: `tab ${i + 1} to compute a part` },
      ),
    ),
  );
  for (const reading of seen) {
    t.diagnostic(`while computing "${reading.now}": ${reading.gflops} GFLOP/s, ${reading.tasksPerSec} tasks/s`);
    assert.match(reading.now, new RegExp(`\\(part [12]/2 of task ${taskId}\\)`));
    assert.ok(Number(reading.gflops) > 0, `GFLOP/s while computing: ${reading.gflops}`);
    assert.ok(Number(reading.tasksPerSec) > 0, `tasks/s while computing: ${reading.tasksPerSec}`);
  }
  await screenshot(tabs[0].page, 'worker-tab');
  const done = await waitForFinished(coordinator.url, taskId, 60000);
  assert.ok(done.result === expected, 'the product equals the native kernel\'s');

  for (const tab of tabs) {
    // The figure is the logged products' flops over their compute time, over the
    // latest RATE_WINDOW_MS of busy time: waiting for work does not count.
    await tab.page.waitForFunction(() => !document.querySelector('#slot-rows tr[data-task-id]'), null, { timeout: 10000 });
    for (const id of ['#bytes-in', '#bytes-out']) assert.match(await tab.page.textContent(id), /^[\d.]+ (KB|MB)$/, `${id} per task`);
    const { logged, shown } = await tab.page.evaluate(() => ({
      logged: [...document.querySelectorAll('#log li[data-flops]')].map((li) => ({ ...li.dataset })),
      shown: Number(document.querySelector('#slot-rows tr').dataset.gflops),
    }));
    let flops = 0;
    let computeMs = 0;
    let busyMs = 0;
    for (const line of logged) {
      // Newest first: the page keeps the latest tasks that fit in the window.
      if (busyMs > 0 && busyMs + Number(line.busyMs) > RATE_WINDOW_MS) break;
      flops += Number(line.flops);
      computeMs += Number(line.kernelMs);
      busyMs += Number(line.busyMs);
    }
    const expectedGflops = flops / computeMs / 1e6;
    t.diagnostic(`${logged.length} task(s) logged: ${expectedGflops.toFixed(3)} GFLOP/s by the log, ${shown.toFixed(3)} shown`);
    assert.ok(Math.abs(shown - expectedGflops) <= 0.01 * expectedGflops, `shown ${shown}, logged ${expectedGflops}`);
    assert.equal(await tab.page.textContent('#gflops'), (shown >= 10 ? shown.toFixed(1) : shown >= 1 ? shown.toFixed(2) : shown.toFixed(3)));
  }
});

test('the kernel shown is the build the engine loaded', { timeout: 30000 }, async () => {
  const page = tabs[0].page;
  const relaxed = await page.evaluate(async () => {
    const response = await fetch('pkg/kernel_relaxed_bg.wasm');
    return response.ok && WebAssembly.validate(await response.arrayBuffer());
  });
  const shown = await page.textContent('#kernel');
  assert.equal(shown, relaxed ? 'wasm32 simd128+relaxed-simd' : 'wasm32 simd128');
  for (const tab of tabs) assert.deepEqual(tab.errors, [], 'no script errors on the worker tabs');
});
