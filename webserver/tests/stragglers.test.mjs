// A slow worker page next to a fast one, with the coordinator's default settings:
// n = 2048 integer products, split, computed by a fast page and by a page whose
// renderers get a quarter of the CPU time (`launchSlowBrowser(4)`; Chromium's own
// `Emulation.setCPUThrottlingRate` 4 on its page as well). Behaviour, not timing:
// - the first product finds no speed measured: equal parts; the fast page, done with
//   its part, gets a backup copy of the slow page's part; the product is exact, each
//   part counted once; the losing copy's page stops computing it (or, when it sends
//   it, it is counted late);
// - the coordinator has measured both pages (`/stats`, the dashboard's workers table,
//   and each page shows its own speed), the fast one faster;
// - the second product is cut by those speeds: the slow page is credited with less
//   of it than the fast page, and the product is exact.
// Timing targets are measured by bench-stragglers.mjs, not asserted here.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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
  submitTask,
  throttlePage,
  waitFor,
  waitForFinished,
} from './helpers.mjs';

const N = 2048;

let coordinator;
let browser;
let slowBrowser;
let fast;
let slow;
let data;
let expected;

before(async () => {
  coordinator = await startCoordinator('stragglers');
  browser = await launchBrowser();
  slowBrowser = await launchSlowBrowser(4);
  fast = await openWorker(browser, coordinator.url, 'straggle-fast', { slots: 1 });
  slow = await openWorker(slowBrowser.browser, coordinator.url, 'straggle-slow', { slots: 1 });
  await throttlePage(slow.page, 4);
  const rand = seededRandom(18);
  data = JSON.stringify({
    A: danaText(randomIntMatrix(rand, N, N, -99, 99)),
    B: danaText(randomIntMatrix(rand, N, N, -99, 99)),
  });
  [expected] = await nativeProducts([data]);
  await waitFor(async () => (await getStats(coordinator.url)).workersSeen >= 2, { what: 'both pages to be seen' });
});

after(async () => {
  await slowBrowser?.close();
  await browser?.close();
  await coordinator?.stop();
});

/** `GET result/N?parts=1`: the split task's parts with the worker credited with each. */
async function partsOf(taskId) {
  const res = await fetch(new URL(`result/${taskId}?parts=1`, coordinator.url), { signal: AbortSignal.timeout(10000) });
  return (await res.json()).parts;
}

/** The flops of the parts of `taskId` credited to `page`, from its log. */
async function creditedFlops(page, workerId, parts) {
  const mine = new Set(parts.filter((p) => p.workerId === workerId).map((p) => p.taskId));
  const rows = await page.$$eval('#log li[data-flops]', (lis) => lis.map((li) => ({ ...li.dataset })));
  return rows.filter((r) => mine.has(Number(r.taskId))).reduce((sum, r) => sum + Number(r.flops), 0);
}

function workerLine(stats, id) {
  return stats.workers.find((w) => w.workerId === id);
}

test('with no speed measured, the fast page gets a backup copy of the slow page\'s part', { timeout: 180000 }, async () => {
  const statsBefore = await getStats(coordinator.url);
  const taskId = await submitTask(coordinator.url, data);
  const done = await waitForFinished(coordinator.url, taskId, 150000);
  assert.equal(done.status, 'completed', done.error);
  assert.equal(done.partsTotal, 2, 'one part per page');
  assert.ok(done.result === expected, 'the product equals the native kernel\'s');
  const stats = await getStats(coordinator.url);
  assert.ok(stats.backups - statsBefore.backups >= 1, `a backup copy was handed out (${JSON.stringify(stats)})`);
  assert.equal(stats.completedTasks - statsBefore.completedTasks, 3, 'the split task and its two parts, each once');
  const parts = await partsOf(taskId);
  assert.ok(
    parts.some((p) => p.workerId === 'straggle-fast'),
    `the fast page is credited with a part: ${JSON.stringify(parts)}`,
  );
  // The copy that lost is not used: its page stops computing it when it finds the
  // part completed elsewhere, or, when it finishes first, its result is taken late,
  // ignored and counted. The product is unchanged either way.
  const stoppedOn = (page) =>
    page.$$eval('#log li', (lis) => lis.some((li) => li.textContent.includes('stopped computing, another worker completed it')));
  const ended = await waitFor(
    async () => {
      if ((await getStats(coordinator.url)).lateResults > statsBefore.lateResults) return 'late result counted';
      if ((await stoppedOn(slow.page)) || (await stoppedOn(fast.page))) return 'stopped computing';
      return null;
    },
    { timeoutMs: 90000, intervalMs: 250, what: 'the losing copy to stop or be sent' },
  );
  assert.ok(ended);
  assert.ok((await getResult(coordinator.url, taskId)).result === expected);
});

test('the coordinator measures each page, and each page shows its own speed', { timeout: 60000 }, async () => {
  const stats = await getStats(coordinator.url);
  const [f, s] = [workerLine(stats, 'straggle-fast'), workerLine(stats, 'straggle-slow')];
  assert.ok(f?.gflops > 0 && s?.gflops > 0, `both measured: ${JSON.stringify(stats.workers)}`);
  assert.ok(f.gflops > s.gflops, `the fast page measured faster: ${f.gflops} vs ${s.gflops} GFLOP/s`);
  await fast.page.waitForFunction(() => /^\d/.test(document.getElementById('measured-speed').textContent), null, {
    timeout: 40000,
  });
  // The dashboard's workers table shows both speeds, the fast page's higher.
  const dashboard = await browser.newPage();
  try {
    await dashboard.goto(new URL('dashboard.html', coordinator.url).href);
    const shown = await dashboard.waitForFunction(
      (ids) => {
        const rows = [...document.querySelectorAll('#worker-rows tr')].map((tr) => [...tr.cells].map((td) => td.textContent));
        const speeds = ids.map((id) => Number(rows.find((row) => row[0] === id)?.[3]));
        return speeds.every((speed) => speed > 0) && speeds;
      },
      ['straggle-fast', 'straggle-slow'],
      { timeout: 20000 },
    );
    const [fastShown, slowShown] = await shown.jsonValue();
    assert.ok(fastShown > slowShown, `the dashboard shows the fast page faster: ${fastShown} vs ${slowShown}`);
  } finally {
    await dashboard.close();
  }
});

test('the next product is cut by the measured speeds: the slow page gets less of it', { timeout: 180000 }, async () => {
  const statsBefore = await getStats(coordinator.url);
  // Both pages idle first (the slow page may still be finishing its late copy).
  await waitFor(
    async () => {
      for (const p of [fast, slow]) {
        const idle = await p.page.evaluate(() =>
          [...document.querySelectorAll('#slot-rows td:nth-child(2)')].every((td) => td.textContent === 'idle'),
        );
        if (!idle) return false;
      }
      return true;
    },
    { timeoutMs: 90000, what: 'both pages to be idle' },
  );
  const taskId = await submitTask(coordinator.url, data);
  const done = await waitForFinished(coordinator.url, taskId, 150000);
  assert.equal(done.status, 'completed', done.error);
  assert.ok(done.result === expected, 'the product equals the native kernel\'s');
  const parts = await partsOf(taskId);
  assert.equal(parts.length, 2);
  const fastFlops = await waitFor(async () => (await creditedFlops(fast.page, 'straggle-fast', parts)) || null, {
    what: 'the fast page to log its part',
  });
  const slowFlops = await creditedFlops(slow.page, 'straggle-slow', parts);
  assert.ok(slowFlops < fastFlops, `the slow page did less: ${slowFlops} vs ${fastFlops} flops`);
  const statsAfter = await getStats(coordinator.url);
  assert.equal(statsAfter.completedTasks - statsBefore.completedTasks, 3, 'the split task and its two parts, each once');
});
