// The worker page adapts to the coordinator: it falls back to short polling when
// the coordinator answers at once (no long poll), and when the coordinator dies it
// backs off, shows it, and picks up work again once the coordinator is back. A
// result the coordinator's check rejects (422) is counted on the page, next to the
// coordinator's own count for the worker id, and the task is computed again.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStats, launchBrowser, openWorker, screenshot, startCoordinator, submitTask, waitForFinished } from './helpers.mjs';

let browser;
const coordinators = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const c of coordinators) await c.kill();
});

test('without long poll the worker page polls and still computes', { timeout: 60000 }, async () => {
  const coordinator = await startCoordinator('short-poll', ['--max-wait-secs', '0']);
  coordinators.push(coordinator);
  const w = await openWorker(browser, coordinator.url, 'e2e-short-poller');
  await w.page.waitForFunction(() => /polling every/.test(document.getElementById('poll-mode').textContent), null, {
    timeout: 10000,
  });
  const taskId = await submitTask(coordinator.url, { A: '[[2,0],[0,2]]', B: '[[1,2],[3,4]]' });
  const r = await waitForFinished(coordinator.url, taskId, 20000);
  assert.equal(r.status, 'completed');
  assert.equal(r.result, '[[2,4],[6,8]]');
  assert.deepEqual(w.errors, []);
  await w.context.close();
});

test('the worker page recovers when the coordinator comes back', { timeout: 90000 }, async () => {
  const first = await startCoordinator('recovery', []);
  coordinators.push(first);
  // The page is waiting in a long poll when the coordinator dies.
  const w = await openWorker(browser, first.url, 'e2e-survivor');

  await first.kill();
  await w.page.waitForFunction(() => document.getElementById('status').textContent === 'coordinator unreachable', null, {
    timeout: 40000,
  });

  const second = await startCoordinator('recovery', [], { port: first.port });
  coordinators.push(second);
  const taskId = await submitTask(second.url, { A: [[1, 2, 3]], B: [[1], [1], [1]] });
  const r = await waitForFinished(second.url, taskId, 40000);
  assert.equal(r.status, 'completed');
  assert.equal(r.result, '[[6]]');
  assert.match(await w.page.textContent('#log'), /coordinator reachable again/);
  // The only errors allowed are the browser's own reports of the refused connections.
  assert.deepEqual(w.errors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|Failed to load resource|Failed to fetch/.test(e)), []);
  await w.context.close();
});

test('the number of compute slots can be changed while running', { timeout: 60000 }, async () => {
  const coordinator = await startCoordinator('slots', []);
  coordinators.push(coordinator);
  const w = await openWorker(browser, coordinator.url, 'e2e-slots', { slots: 1 });
  const idleRows = (n) =>
    w.page.waitForFunction(
      (count) => {
        const cells = [...document.querySelectorAll('#slot-rows td:nth-child(2)')];
        return cells.length === count && cells.every((td) => td.textContent === 'idle');
      },
      n,
      { timeout: 20000 },
    );
  await w.page.fill('#slots', '3');
  await w.page.press('#slots', 'Enter');
  await w.page.locator('#slots').blur();
  await idleRows(3);
  assert.equal(await w.page.textContent('#busy'), '0 / 3');

  const ids = [];
  for (let i = 1; i <= 6; i += 1) ids.push(await submitTask(coordinator.url, { A: `[[${i}]]`, B: '[[2]]' }));
  for (const [i, id] of ids.entries()) {
    const r = await waitForFinished(coordinator.url, id, 20000);
    assert.equal(r.result, `[[${2 * (i + 1)}]]`);
  }

  await w.page.fill('#slots', '1');
  await w.page.locator('#slots').blur();
  await idleRows(1);
  assert.deepEqual(w.errors, []);
  await w.context.close();
});

test('a task whose computation traps is given back, not failed', { timeout: 60000 }, async () => {
  const coordinator = await startCoordinator('trap', ['--lease-secs', '120']);
  coordinators.push(coordinator);
  const rescuer = await openWorker(browser, coordinator.url, 'e2e-trap-rescuer', { start: false });
  // A worker whose kernel always traps, as wasm does on running out of memory.
  const context = await browser.newContext();
  await context.route('**/pkg/kernel.js', (route) =>
    route.fulfill({
      contentType: 'text/javascript',
      body: `export default async function init() {}
             export function kernelInfo() { return 'trapping test kernel'; }
             export function multiplyText() { throw new WebAssembly.RuntimeError('unreachable'); }
             export function multiplyTextToBytes() { throw new WebAssembly.RuntimeError('unreachable'); }
             export function multiplyTextToWire() { throw new WebAssembly.RuntimeError('unreachable'); }`,
    }),
  );
  const page = await context.newPage();
  await page.goto(new URL('worker.html?workerId=e2e-trapper&slots=1&start=1', coordinator.url).href);
  await page.waitForFunction(() => document.getElementById('kernel').textContent === 'trapping test kernel', null, {
    timeout: 20000,
  });

  const taskId = await submitTask(coordinator.url, { A: '[[1,2],[3,4]]', B: '[[5,6],[7,8]]' });
  await page.waitForFunction(() => /the kernel crashed/.test(document.getElementById('log').textContent), null, {
    timeout: 20000,
  });
  await page.getByRole('button', { name: 'Stop' }).click();
  await rescuer.page.getByRole('button', { name: 'Start' }).click();
  const r = await waitForFinished(coordinator.url, taskId, 30000);
  assert.equal(r.status, 'completed');
  assert.equal(r.result, '[[19,22],[43,50]]');
  if ('workerId' in r) assert.equal(r.workerId, 'e2e-trap-rescuer');
  await context.close();
  await rescuer.context.close();
});

test('a rejected result is counted on the worker page and the task is computed again', { timeout: 60000 }, async () => {
  const coordinator = await startCoordinator('rejected', []);
  coordinators.push(coordinator);
  const w = await openWorker(browser, coordinator.url, 'e2e-rejected');
  assert.equal(await w.page.textContent('#rejected'), '0');
  // The first result leaves the page with one element off by one, as a faulty
  // device would send it; the coordinator gets it as is and must reject it.
  let corrupted = 0;
  await w.page.route('**/task/*/result*', (route) => {
    if (corrupted > 0) return route.continue();
    corrupted += 1;
    if (route.request().headers()['content-type'] === 'application/x-packed-int-matrix') {
      // Packed: XIM1, rows, cols, then 19 as the zigzag byte 38; 40 is 20.
      const body = Buffer.from(route.request().postDataBuffer());
      assert.equal(body[6], 38);
      body[6] = 40;
      return route.continue({ postData: body });
    }
    const body = JSON.parse(route.request().postData());
    const wrong = body.result.replace(/-?\d+/, (n) => String(BigInt(n) + 1n));
    return route.continue({ postData: JSON.stringify({ result: wrong }) });
  });
  const taskId = await submitTask(coordinator.url, { A: '[[1,2],[3,4]]', B: '[[5,6],[7,8]]' });
  const r = await waitForFinished(coordinator.url, taskId, 30000);
  assert.equal(corrupted, 1);
  assert.equal(r.status, 'completed');
  assert.equal(r.result, '[[19,22],[43,50]]');
  // A rejected result is the worker's fault, not the task's: its attempt is given back.
  assert.equal(r.attempts, 1, 'the rejected result cost the task no attempt');

  await w.page.waitForFunction(
    () => document.getElementById('rejected').textContent === '1' && document.getElementById('rejected-total').textContent === '1',
    null,
    { timeout: 15000 },
  );
  assert.match(await w.page.textContent('#log'), new RegExp(`task ${taskId}: result rejected by the coordinator's check`));
  const stats = await getStats(coordinator.url);
  const line = stats.workers.find((x) => x.workerId === 'e2e-rejected');
  assert.equal(line.resultsRejected, 1);
  assert.equal(stats.rejectedResults, 1);
  await screenshot(w.page, 'worker-rejected');
  // The 422 is the browser's own console report; nothing else went wrong.
  assert.deepEqual(w.errors.filter((e) => !/422|Failed to load resource/.test(e)), []);
  await w.context.close();
});
