// A worker page that goes away mid-task does not lose the task: another worker
// completes it. Closing the tab gives the task back at once (pagehide release);
// a crashed tab, which runs no handler at all, loses it to the short lease.
//
// The closing worker's result requests are answered 503 by the test, so that worker
// keeps the task (computing, then retrying delivery) until it goes away, whatever
// the timing: the page is always closed while it holds the task.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  danaText,
  getResult,
  launchBrowser,
  nativeProducts,
  openWorker,
  randomIntMatrix,
  seededRandom,
  startCoordinator,
  submitTask,
  waitFor,
  waitForFinished,
} from './helpers.mjs';

/** Size of the task that is interrupted (big enough to take a visible while in wasm). */
const SIZE = 900;
/** Lease of the coordinator in the crash test, seconds. */
const SHORT_LEASE_SECS = 2;
/** Lease in the close test: longer than the test waits, so only a release can explain success. */
const LONG_LEASE_SECS = 120;

let browser;
const coordinators = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const c of coordinators) await c.stop();
});

function bigTask(seed) {
  const rand = seededRandom(seed);
  return { A: danaText(randomIntMatrix(rand, SIZE, SIZE, -9, 9)), B: danaText(randomIntMatrix(rand, SIZE, SIZE, -9, 9)) };
}

/** Opens a worker whose result requests never reach the coordinator (503, so it retries). */
async function openStuckWorker(base, id) {
  const w = await openWorker(browser, base, id, { slots: 1 });
  w.id = id;
  w.refusedResults = 0;
  await w.page.route('**/task/*/result*', (route) => {
    w.refusedResults += 1;
    return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"held by the test"}' });
  });
  return w;
}

/** Waits until `first` holds the task; says whether it is still computing it. */
async function handOverTo(base, first, taskId) {
  await waitFor(
    async () => {
      const r = await getResult(base, taskId);
      return r.status === 'processing' && (!('workerId' in r) || r.workerId === first.id);
    },
    { timeoutMs: 20000, intervalMs: 20, what: `task ${taskId} to be leased to ${first.id}` },
  );
  const computing = await first.page.$(`#slot-rows tr[data-task-id="${taskId}"]`);
  if (computing) return 'computing';
  // Past computing: wait until the test's route has refused a result, so the tab is
  // between retries when it goes away. (Closing while Playwright's route is still
  // taking a multi-megabyte result body can drop the page's keepalive release in
  // Chromium; that moment belongs to the test's interception, not to the page.)
  await waitFor(() => first.refusedResults >= 1, { timeoutMs: 10000, intervalMs: 10, what: 'a refused result' });
  return `delivering the result (${first.refusedResults} refused so far)`;
}

test('a worker tab closed mid-task gives the task back and another worker completes it', { timeout: 120000 }, async (t) => {
  const coordinator = await startCoordinator('lease-close', ['--lease-secs', String(LONG_LEASE_SECS)]);
  coordinators.push(coordinator);
  const data = bigTask(1);
  const [expected] = await nativeProducts([data]);

  const second = await openWorker(browser, coordinator.url, 'e2e-rescue-worker', { slots: 1, start: false });
  const first = await openStuckWorker(coordinator.url, 'e2e-closing-worker');
  const taskId = await submitTask(coordinator.url, data);
  const stage = await handOverTo(coordinator.url, first, taskId);
  t.diagnostic(`closing the first worker while it holds task ${taskId}: ${stage}`);

  const closedAt = Date.now();
  await first.page.close({ runBeforeUnload: true });
  await second.page.getByRole('button', { name: 'Start' }).click();
  const r = await waitForFinished(coordinator.url, taskId, 30000);
  await first.context.close();
  t.diagnostic(`task ${taskId} (${SIZE}x${SIZE}) completed ${Date.now() - closedAt} ms after the tab closed; lease ${LONG_LEASE_SECS} s`);
  assert.equal(r.status, 'completed');
  assert.ok(r.result === expected, 'product equals the native kernel');
  if ('workerId' in r) assert.equal(r.workerId, 'e2e-rescue-worker');
  await waitFor(async () => Number(await second.page.textContent('#done')) === 1, { timeoutMs: 5000, what: 'rescue counter' });
  assert.deepEqual(second.errors, []);
  await second.context.close();
});

test('a crashed worker tab loses its task to the lease and another worker completes it', { timeout: 120000 }, async (t) => {
  const coordinator = await startCoordinator('lease-crash', ['--lease-secs', String(SHORT_LEASE_SECS)]);
  coordinators.push(coordinator);
  const data = bigTask(2);
  const [expected] = await nativeProducts([data]);

  const second = await openWorker(browser, coordinator.url, 'e2e-rescue-worker', { slots: 1, start: false });
  const first = await openStuckWorker(coordinator.url, 'e2e-crashing-worker');
  const taskId = await submitTask(coordinator.url, data);
  const stage = await handOverTo(coordinator.url, first, taskId);
  t.diagnostic(`crashing the first worker while it holds task ${taskId}: ${stage}`);

  const cdp = await first.context.newCDPSession(first.page);
  const crashed = first.page.waitForEvent('crash', { timeout: 15000 });
  cdp.send('Page.crash').catch(() => {});
  await crashed;
  await second.page.getByRole('button', { name: 'Start' }).click();
  const crashedAt = Date.now();
  const r = await waitForFinished(coordinator.url, taskId, 45000);
  t.diagnostic(`task ${taskId} completed ${Date.now() - crashedAt} ms after the crash; lease ${SHORT_LEASE_SECS} s`);
  assert.equal(r.status, 'completed');
  assert.ok(r.result === expected, 'product equals the native kernel');
  if ('workerId' in r) assert.equal(r.workerId, 'e2e-rescue-worker');
  if ('attempts' in r) assert.ok(r.attempts >= 2, `attempts = ${r.attempts}`);
  await waitFor(async () => Number(await second.page.textContent('#done')) === 1, { timeoutMs: 5000, what: 'rescue counter' });
  assert.deepEqual(second.errors, []);
  await first.context.close().catch(() => {});
  await second.context.close();
});

test('pressing Stop gives a held task back at once', { timeout: 120000 }, async (t) => {
  const coordinator = await startCoordinator('lease-stop', ['--lease-secs', String(LONG_LEASE_SECS)]);
  coordinators.push(coordinator);
  const data = bigTask(3);
  const [expected] = await nativeProducts([data]);

  const second = await openWorker(browser, coordinator.url, 'e2e-rescue-worker', { slots: 1, start: false });
  const first = await openStuckWorker(coordinator.url, 'e2e-stopping-worker');
  const taskId = await submitTask(coordinator.url, data);
  const stage = await handOverTo(coordinator.url, first, taskId);
  t.diagnostic(`stopping the first worker while it holds task ${taskId}: ${stage}`);

  await first.page.getByRole('button', { name: 'Stop' }).click();
  await waitFor(async () => (await getResult(coordinator.url, taskId)).status === 'pending', {
    timeoutMs: 10000,
    what: 'the stopped worker to give the task back',
  });
  // The page gives the task back at once and redraws on its next frame.
  await waitFor(async () => /stopped/.test(await first.page.textContent('#status')), {
    timeoutMs: 5000,
    what: 'the stopped page to show it',
  });
  assert.match(await first.page.textContent('#status'), /stopped/);
  await second.page.getByRole('button', { name: 'Start' }).click();
  const r = await waitForFinished(coordinator.url, taskId, 30000);
  assert.equal(r.status, 'completed');
  assert.ok(r.result === expected, 'product equals the native kernel');
  if ('workerId' in r) assert.equal(r.workerId, 'e2e-rescue-worker');
  await first.context.close();
  await second.context.close();
});
