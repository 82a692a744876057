// The dashboard (dashboard.html) while three worker pages compute tasks in headless
// Chromium: its plots keep updating from the one event stream, its workers table
// lists the three workers, a dishonest worker's rejected result shows up among the
// recent problems with its error, and no page logs a console error. The screenshot
// goes to SCREENSHOT_DIR/dashboard.png (webserver/docs/dashboard.png is a copy).
// Also: the history's rates, unit-tested without a browser.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { History } from '../dashboard-history.js';
import { formatBytes, formatGflops, formatUptime, limitRows } from '../dashboard-view.js';
import {
  danaText,
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
} from './helpers.mjs';

const WORKERS = ['e2e-dash-1', 'e2e-dash-2', 'e2e-dash-3'];
const LIAR = 'e2e-dash-liar';
/** Tasks the pages compute while the dashboard watches. */
const TASKS = 36;

test('the history works out rates from consecutive snapshots and keeps 15 minutes', () => {
  const history = new History(900);
  const snap = (secs, completed, flops) => ({
    unixMs: secs * 1000,
    pendingTasks: 2,
    processingTasks: 1,
    heldTasks: 3,
    completedTasks: completed,
    flopsCompleted: flops,
    latencyP50Ms: 12,
    latencyP99Ms: null,
  });
  assert.equal(history.add(snap(1000, 5, 0)).tasksPerSec, null, 'no rate without a snapshot before');
  const second = history.add(snap(1002, 9, 4e9));
  assert.equal(second.tasksPerSec, 2);
  assert.equal(second.gflops, 2);
  assert.equal(history.add(snap(1003, 1, 0)).tasksPerSec, null, 'a restarted coordinator starts over');
  history.add(snap(1000 + 901, 1, 0));
  assert.equal(history.length, 3, 'points older than the window are dropped');
  assert.deepEqual(history.data(['p50Ms', 'p99Ms'])[2], [null, null, null]);
  assert.deepEqual(history.data(['pending'])[1], [2, 2, 2]);
});

test('the view writes sizes, uptimes and limits for people', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(3.5 * 1024 * 1024), '3.5 MB');
  assert.equal(formatUptime(42), '42 s');
  assert.equal(formatGflops(0), '0');
  assert.equal(formatGflops(0.000734), '0.000734');
  assert.equal(formatGflops(12.345), '12.3');
  assert.equal(formatUptime(3600), '60 min');
  const rows = limitRows({
    leaseSecs: 60, maxAttempts: 5, maxBodyBytes: 64 * 1024 * 1024, maxTasks: 10, maxHeldBytes: 2 ** 31,
    keepFinishedSecs: 3600, maxWaitSecs: 30, maxConnections: 100, verify: true, splitMinFlops: null,
    maxParts: 16, rejectLimit: 3, benchSecs: 300,
  });
  assert.deepEqual(rows[2], ['largest body', '64 MB']);
  assert.deepEqual(rows[9], ['split from', 'never']);
});

let coordinator;
let browser;

before(async () => {
  coordinator = await startCoordinator('dashboard');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await coordinator?.stop();
});

/** Opens a page that records its script errors and console errors. */
async function openPage(path, viewport) {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  await page.goto(new URL(path, coordinator.url).href, { timeout: 30000 });
  return { context, page, errors };
}

/** Claims one task as the liar and posts its product with one element off by one. */
async function postWrongProduct(base) {
  const res = await fetch(new URL(`task/next?workerId=${LIAR}&wait=5`, base), { signal: AbortSignal.timeout(15000) });
  assert.equal(res.status, 200, 'the liar got a task');
  const { taskId, data } = JSON.parse(await res.text());
  const [product] = await nativeProducts([data]);
  const wrong = JSON.parse(product);
  wrong[0][0] += 1;
  const answer = await fetch(new URL(`task/${taskId}/result?workerId=${LIAR}`, base), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ result: danaText(wrong) }),
    signal: AbortSignal.timeout(15000),
  });
  assert.equal(answer.status, 422, 'the wrong product is rejected');
  return taskId;
}

test('the dashboard follows three computing workers and shows a rejection', { timeout: 240000 }, async () => {
  const dashboard = await openPage('dashboard.html', { width: 1280, height: 900 });
  const { page } = dashboard;
  await page.waitForFunction(() => document.getElementById('connection').textContent === 'live', null, { timeout: 15000 });

  const rand = seededRandom(1414);
  const data = () => {
    const n = 160 + Math.floor(rand() * 128);
    return { A: danaText(randomIntMatrix(rand, n, n)), B: danaText(randomIntMatrix(rand, n, n)) };
  };
  // The liar takes the first task before any page works, and gets it wrong.
  const first = await submitTask(coordinator.url, data());
  const lied = await postWrongProduct(coordinator.url);
  assert.equal(lied, first);

  const workers = [];
  for (const id of WORKERS) workers.push(await openWorker(browser, coordinator.url, id, { slots: 1 }));
  const ids = [first];
  const drawsBefore = await page.evaluate(() => window.dashboard.plots.draws);
  // Tasks arrive over a few seconds, so the plots see them move.
  for (let i = 1; i < TASKS; i += 1) {
    ids.push(await submitTask(coordinator.url, data()));
    if (i % 6 === 0) await new Promise((resolve) => setTimeout(resolve, 700));
  }
  for (const id of ids) {
    const result = await waitForFinished(coordinator.url, id, 120000);
    assert.equal(result.status, 'completed', `task ${id}: ${result.error ?? ''}`);
  }

  // The workers table lists the three pages (and the liar, seen lately), with
  // every task done by one of the pages once the next snapshot has come.
  await page.waitForFunction(
    ({ names, tasks }) => {
      const rows = [...document.querySelectorAll('#worker-rows tr')].map((tr) => [...tr.cells].map((td) => td.textContent));
      const done = names.map((name) => rows.find((row) => row[0] === name));
      return done.every(Boolean) && done.reduce((sum, row) => sum + Number(row[1]), 0) === tasks;
    },
    { names: WORKERS, tasks: TASKS },
    { timeout: 15000 },
  );
  const table = await page.$$eval('#worker-rows tr', (rows) =>
    rows.map((tr) => [...tr.cells].map((td) => td.textContent)),
  );
  for (const id of WORKERS) {
    const row = table.find((r) => r[0] === id);
    assert.ok(Number(row[1]) > 0, `${id} did tasks: ${JSON.stringify(row)}`);
    assert.ok(Number(row[2]) > 0, `${id} delivered GFLOP/s lately: ${JSON.stringify(row)}`);
  }
  const liarRow = table.find((row) => row[0] === LIAR);
  assert.ok(liarRow, 'the liar is listed');
  assert.equal(liarRow[4], '1', 'with its one rejected result');

  // The rejection is among the recent problems, with its error.
  const problems = await page.$$eval('#problem-rows tr', (rows) =>
    rows.map((tr) => [...tr.cells].map((td) => td.textContent)),
  );
  const rejection = problems.find((row) => row[1] === 'rejected' && row[2] === String(lied));
  assert.ok(rejection, `the rejection is shown: ${JSON.stringify(problems)}`);
  assert.equal(rejection[3], LIAR);
  assert.match(rejection[4], /row|element|product|check/i);

  // The plots were redrawn as snapshots came, and saw the work.
  await waitFor(
    () =>
      page.evaluate(() => {
        const h = window.dashboard.history;
        const positive = (name) => h.columns[name].some((v) => v !== null && v > 0);
        return h.length >= 5 && positive('tasksPerSec') && positive('gflops') && positive('p50Ms');
      }),
    { timeout: 15000, what: 'plots with completed tasks, GFLOP/s and latencies' },
  );
  const draws = await page.evaluate(() => window.dashboard.plots.draws);
  assert.ok(draws >= drawsBefore + 3, `plots redrawn while the tasks ran (${drawsBefore} -> ${draws})`);
  assert.equal(await page.locator('.uplot canvas').count(), 4, 'four plots drawn');
  assert.equal(await page.textContent('#completed'), String(TASKS));
  assert.equal(await page.textContent('#rejected'), '1');

  // Let the rate plots fall back to idle for a moment, then take the picture.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await screenshot(page, 'dashboard');
  assert.deepEqual(dashboard.errors, [], 'no script or console errors on the dashboard');
  for (const w of workers) assert.deepEqual(w.errors, [], 'no script errors on the worker pages');
  await dashboard.context.close();
  for (const w of workers) await w.context.close();
});

test('the main app links to the dashboard', { timeout: 60000 }, async () => {
  const app = await openPage('./');
  await app.page.getByRole('link', { name: 'Dashboard' }).click();
  await app.page.waitForURL(/dashboard\.html$/, { timeout: 15000 });
  await app.page.waitForFunction(() => window.dashboard?.snapshots > 0, null, { timeout: 15000 });
  assert.deepEqual(app.errors, []);
  await app.context.close();
});
