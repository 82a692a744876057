// The main app (served at /) driven like a person: type two matrices, click Submit,
// read the product on the page; bad input shows an error and sends nothing; a large
// random product is summarised and downloadable; a product the coordinator splits
// into parts shows progress by parts done. One worker page does the computing.
//
// The coordinator splits products from SPLIT_MIN_FLOPS (2 m k n) on, far below its
// default, so that products of a few hundred rows are split.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import {
  generateOnPage,
  getResult,
  getStats,
  launchBrowser,
  nativeProducts,
  openWorker,
  screenshot,
  startCoordinator,
  waitFor,
} from './helpers.mjs';

/** Products of at least this many flops are split into parts in this file. */
const SPLIT_MIN_FLOPS = 1_000_000;

let coordinator;
let browser;
let worker;
let context;
let page;
const pageErrors = [];
/** The Content-Type of every task the main app submitted. */
const submissions = [];
/** The Content-Type of every `GET result/N` answer the page got. */
const reports = [];

before(async () => {
  coordinator = await startCoordinator('main-app', ['--split-min-flops', String(SPLIT_MIN_FLOPS)]);
  browser = await launchBrowser();
  worker = await openWorker(browser, coordinator.url, 'e2e-main-worker', { slots: 2 });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/task') submissions.push(request.headers()['content-type']);
  });
  page.on('response', (response) => {
    if (/^\/result\/\d+$/.test(new URL(response.url()).pathname)) reports.push(response.headers()['content-type']);
  });
  await page.goto(coordinator.url, { timeout: 30000 });
});

after(async () => {
  await browser?.close().catch(() => {});
  await coordinator?.stop();
});

/** Clears a textarea and types into it key by key, as a person would. */
async function typeInto(selector, text) {
  await page.click(selector);
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(text, { delay: 5 });
}

/** Clicks Submit and waits for the task view to say completed; returns the product text shown. */
async function submitAndReadProduct() {
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /completed/.test(document.getElementById('task-status').textContent), null, {
    timeout: 60000,
  });
  return page.textContent('#product');
}

test('the pre-filled seed example gives [[19,22],[43,50]]', { timeout: 90000 }, async () => {
  assert.equal(await page.inputValue('#matrix-a'), '[[1,2],[3,4]]');
  assert.equal(await page.inputValue('#matrix-b'), '[[5,6],[7,8]]');
  const shown = await submitAndReadProduct();
  assert.equal(shown.replace(/\s+/g, ''), '[[19,22],[43,50]]');
  const status = await page.textContent('#task-status');
  assert.match(status, /by worker e2e-main-worker/);
  assert.match(await page.textContent('#result-summary'), /2×2 product/);
});

test('typed matrices give the native kernel product', { timeout: 90000 }, async () => {
  const a = '[[1, 2, 3], [4, 5, 6]]';
  const b = '[[7,8],[9,10],[-11,12]]';
  await typeInto('#matrix-a', a);
  await typeInto('#matrix-b', b);
  await page.waitForFunction(() => document.getElementById('shape-a').textContent === '2×3', null, { timeout: 5000 });
  const [expected] = await nativeProducts([{ A: a, B: b }]);
  submissions.length = 0;
  reports.length = 0;
  const shown = await submitAndReadProduct();
  assert.equal(shown.replace(/\s+/g, ''), expected);
  // Integer operands go packed, spaces and all; the coordinator stored their text.
  assert.deepEqual(submissions, ['application/x-packed-int-matrix']);
  // The product came back packed (the answers before it, JSON).
  assert.equal(reports.at(-1), 'application/x-packed-int-matrix', reports.join(', '));
  await screenshot(page, 'main-app-desktop');

  // The keyboard way: Ctrl+Enter in a matrix submits too.
  await typeInto('#matrix-b', '[[1,0],[0,1],[0,0]]');
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction(
    () => /completed/.test(document.getElementById('task-status').textContent) &&
      document.getElementById('product').textContent.replace(/\s+/g, '') === '[[1,2],[4,5]]',
    null,
    { timeout: 30000 },
  );
});

test('bad input shows an error and sends nothing', { timeout: 60000 }, async () => {
  const before = (await getStats(coordinator.url)).totalTasks;

  await typeInto('#matrix-a', '[[1,2],[3]]');
  await typeInto('#matrix-b', '[[1],[2]]');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForSelector('#input-error:not(:empty)', { timeout: 5000 });
  assert.match(await page.textContent('#input-error'), /Matrix A is ragged: row 2 has 1 values but row 1 has 2/);
  assert.equal(await page.textContent('#submit-note'), '', 'no note of an earlier submission next to the error');
  assert.equal(await page.getAttribute('#matrix-a', 'aria-invalid'), 'true');

  await typeInto('#matrix-a', '[[1,2,3],[4,5,6]]');
  await typeInto('#matrix-b', '[[1,2],[3,4]]');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /Shapes do not fit/.test(document.getElementById('input-error').textContent), null, {
    timeout: 5000,
  });

  await typeInto('#matrix-b', '[[1,2],[3,four]]');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /not a number/.test(document.getElementById('input-error').textContent), null, {
    timeout: 5000,
  });
  await screenshot(page, 'main-app-error');

  assert.equal((await getStats(coordinator.url)).totalTasks, before, 'no task was submitted');
});

test('a product the workers cannot compute shows their error', { timeout: 60000 }, async () => {
  await typeInto('#matrix-a', '[[9223372036854775807]]');
  await typeInto('#matrix-b', '[[2]]');
  const [expected] = await nativeProducts([{ A: '[[9223372036854775807]]', B: '[[2]]' }]);
  assert.match(expected, /^error: .*overflow/);
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /refused/.test(document.getElementById('task-status').textContent), null, {
    timeout: 30000,
  });
  assert.match(await page.textContent('#result-error'), /could not compute this product: .*overflow/);
  assert.equal(await page.isVisible('#product'), false);
  await screenshot(page, 'main-app-failed');
});

test('a large random product is summarised and downloads exactly', { timeout: 120000 }, async () => {
  await generateOnPage(page, 120, 75, 90);
  const a = await page.inputValue('#matrix-a');
  const b = await page.inputValue('#matrix-b');
  assert.equal(await page.textContent('#shape-a'), '120×75');
  const [expected] = await nativeProducts([{ A: a, B: b }]);

  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /completed/.test(document.getElementById('task-status').textContent), null, {
    timeout: 60000,
  });
  assert.match(await page.textContent('#result-summary'), /120×90 product/);
  assert.equal(await page.isVisible('#corner'), true, 'a large product shows its corner');
  assert.equal(await page.isVisible('#product'), false, 'a large product is not printed in full');
  const firstCell = expected.slice(2, expected.indexOf(','));
  assert.equal((await page.textContent('#corner tr:nth-of-type(2) td')).trim(), firstCell);

  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click('#download')]);
  const text = await readFile(await download.path(), 'utf8');
  assert.equal(text, expected);
  await screenshot(page, 'main-app-large');
});

test('a split product shows progress by parts done and is assembled exactly', { timeout: 120000 }, async () => {
  // The worker page waits, so that the test can finish one part by hand and see the
  // page count it before the worker does the rest.
  await worker.page.getByRole('button', { name: 'Stop' }).click();
  await worker.page.waitForFunction(() => document.getElementById('status').textContent === 'stopped', null, {
    timeout: 10000,
  });
  await generateOnPage(page, 150, 101, 130);
  const a = await page.inputValue('#matrix-a');
  const b = await page.inputValue('#matrix-b');
  const [expected] = await nativeProducts([{ A: a, B: b }]);
  assert.ok(2 * 150 * 101 * 130 >= SPLIT_MIN_FLOPS);

  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /^Submitted as task \d+/.test(document.getElementById('submit-note').textContent), null, {
    timeout: 30000,
  });
  const taskId = Number((await page.textContent('#submit-note')).match(/task (\d+)/)[1]);
  const first = await getResult(coordinator.url, taskId);
  assert.equal(first.status, 'processing');
  assert.ok(first.partsTotal >= 2, `task split into parts: ${JSON.stringify(first)}`);
  const total = first.partsTotal;
  await page.waitForFunction(
    (n) => document.getElementById('parts-text').textContent === `0 of ${n} parts done` &&
      document.getElementById('task-status').textContent.includes(`computed in ${n} parts: 0 of ${n} done`),
    total,
    { timeout: 10000 },
  );

  // One part done by hand, with the native kernel, as an outside worker would.
  const claim = await fetch(new URL('task/next?workerId=e2e-part-by-hand&wait=5', coordinator.url), {
    signal: AbortSignal.timeout(10000),
  });
  assert.equal(claim.status, 200);
  const part = JSON.parse(await claim.text());
  assert.notEqual(part.taskId, taskId, 'a part has an id of its own');
  const [partProduct] = await nativeProducts([part.data]);
  const posted = await fetch(new URL(`task/${part.taskId}/result?workerId=e2e-part-by-hand`, coordinator.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ result: partProduct }),
    signal: AbortSignal.timeout(10000),
  });
  assert.equal(posted.status, 200, await posted.text());
  await page.waitForFunction(
    (n) => document.getElementById('parts-text').textContent === `1 of ${n} parts done` &&
      document.getElementById('progress').value > 2 && document.getElementById('progress').value < 3,
    total,
    { timeout: 10000 },
  );
  await screenshot(page, 'main-app-parts');

  await worker.page.getByRole('button', { name: 'Start' }).click();
  await page.waitForFunction(() => /completed in \d+ parts/.test(document.getElementById('task-status').textContent), null, {
    timeout: 60000,
  });
  assert.equal(await page.textContent('#parts-text'), `${total} of ${total} parts done`);
  assert.match(await page.textContent('#result-summary'), new RegExp(`150×130 product of task ${taskId}, assembled from ${total} parts computed by the workers`));
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click('#download')]);
  assert.equal(await readFile(await download.path(), 'utf8'), expected);
  const done = await waitFor(async () => {
    const r = await getResult(coordinator.url, taskId);
    return r.status === 'completed' ? r : null;
  }, { timeoutMs: 5000, what: 'the split task to read completed' });
  assert.equal(done.result, expected);
  assert.equal(done.partsDone, total);

  // A small product is not split: no parts shown.
  await typeInto('#matrix-a', '[[1,2],[3,4]]');
  await typeInto('#matrix-b', '[[5,6],[7,8]]');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /completed by worker/.test(document.getElementById('task-status').textContent), null, {
    timeout: 30000,
  });
  assert.equal(await page.isVisible('#parts-view'), false);
});

test('the main app fits a phone screen and works under another host name', { timeout: 60000 }, async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  const url = new URL(coordinator.url);
  url.hostname = 'localhost';
  await p.goto(url.href, { timeout: 30000 });
  await p.getByRole('button', { name: 'Submit' }).tap();
  await p.waitForFunction(() => /completed/.test(document.getElementById('task-status').textContent), null, {
    timeout: 60000,
  });
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `main app scrolls sideways on a phone by ${overflow}px`);
  await screenshot(p, 'main-app-phone');
  await phone.close();
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(worker.errors, []);
});
