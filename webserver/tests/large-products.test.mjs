// The main app with products up to the coordinator's limits, driven like a person,
// with two worker tabs of one browser doing the computing:
// - generating 4096 x 4096 matrices keeps the page responsive: no frame gap or long
//   task on the page thread beyond a bound while the generator works (measured with
//   requestAnimationFrame and the Long Tasks API, not with sleeps);
// - n = 2048 generated on the page and multiplied with the coordinator's default
//   settings is split, the page follows it part by part and names the workers of the
//   parts, and the product downloaded from the page (and the corner it shows) equals
//   the native kernel's product of the matrices downloaded from the page;
// - Cancel stops a split task and its parts: the part being computed stops, and no
//   worker is handed the others afterwards.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  downloadText,
  generateOnPage,
  getResult,
  getStats,
  launchBrowser,
  nativeProducts,
  openWorker,
  screenshot,
  startCoordinator,
  submitTask,
  waitFor,
  waitForFinished,
} from './helpers.mjs';

/** Longest gap between two frames of the main app while it generates, ms. */
const MAX_FRAME_GAP_MS = 250;
/** Longest task on the main app's thread while it generates, ms. */
const MAX_LONG_TASK_MS = 200;

let coordinator;
let browser;
let workersContext;
let context;
let page;
const tabs = [];
const pageErrors = [];

before(async () => {
  // Equal parts: the Cancel test needs one part computing while the other waits,
  // which parts sized by measured speed do not promise (a small part can be done,
  // and the other taken, before Cancel is pressed); stragglers.test.mjs tests those.
  coordinator = await startCoordinator('large-products', ['--equal-parts']);
  browser = await launchBrowser();
  workersContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  for (let i = 0; i < 2; i += 1) tabs.push(await openWorker(browser, coordinator.url, null, { slots: 1, context: workersContext }));
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1000 } });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(coordinator.url, { timeout: 30000 });
});

after(async () => {
  await browser?.close().catch(() => {});
  await coordinator?.stop();
});

test('generating 4096 x 4096 matrices keeps the page responsive', { timeout: 180000 }, async (t) => {
  await page.evaluate(() => {
    window.frameTimes = [];
    window.longTasks = [];
    window.measuring = true;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.longTasks.push(entry.duration);
    }).observe({ type: 'longtask' });
    const step = (time) => {
      window.frameTimes.push(time);
      if (window.measuring) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  const started = Date.now();
  await generateOnPage(page, 4096, 4096, 4096);
  const took = Date.now() - started;
  const { gaps, longTasks } = await page.evaluate(() => {
    window.measuring = false;
    const f = window.frameTimes;
    return { gaps: f.slice(1).map((time, i) => time - f[i]), longTasks: window.longTasks };
  });
  const maxGap = Math.max(...gaps);
  const longest = Math.max(0, ...longTasks);
  t.diagnostic(`generated in ${took} ms (${await page.textContent('#generate-note')}); ${gaps.length} frames, longest gap ${maxGap.toFixed(1)} ms; ` +
    `${longTasks.length} long task(s), longest ${longest.toFixed(1)} ms`);
  assert.ok(gaps.length >= 5, `frames kept coming while generating: ${gaps.length}`);
  assert.ok(maxGap <= MAX_FRAME_GAP_MS, `a frame gap of ${maxGap.toFixed(1)} ms while generating`);
  assert.ok(longest <= MAX_LONG_TASK_MS, `a long task of ${longest.toFixed(1)} ms on the page thread while generating`);

  // The matrices stand in for the text fields, with their shape and a download.
  assert.equal(await page.textContent('#shape-a'), '4096×4096 (generated)');
  assert.equal(await page.inputValue('#matrix-a'), '', 'not copied into the text field');
  assert.match(await page.getAttribute('#matrix-a', 'placeholder'), /^4096×4096 random integers \(\d+\.\d MB of text\), generated/);
  assert.match(await page.textContent('#generated-b'), /B is 4096×4096, generated/);
  assert.match(await page.textContent('#download-a'), /^Download A \(\d+\.\d MB\)$/);
});

test('n = 2048 from the page is split, followed by parts and their workers, and exact', { timeout: 240000 }, async (t) => {
  await generateOnPage(page, 2048, 2048, 2048);
  const a = await downloadText(page, '#download-a');
  const b = await downloadText(page, '#download-b');
  for (const matrix of [a, b]) assert.equal(matrix.split('],[').length, 2048, 'a downloaded matrix has 2048 rows');
  const [expected] = await nativeProducts([{ A: a, B: b }]);

  // Every state the parts line shows, in order.
  await page.evaluate(() => {
    window.partsSeen = [];
    const note = () => {
      const text = document.getElementById('parts-text').textContent;
      if (text && window.partsSeen.at(-1) !== text) window.partsSeen.push(text);
    };
    new MutationObserver(note).observe(document.getElementById('parts-text'), { childList: true, characterData: true, subtree: true });
  });
  const started = Date.now();
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForFunction(() => /^Submitted as task \d+ \(\d+\.\d MB\)/.test(document.getElementById('submit-note').textContent), null, { timeout: 60000 });
  const taskId = Number((await page.textContent('#submit-note')).match(/task (\d+)/)[1]);
  // Both tabs compute a part: a screenshot of one while it does. Its log is
  // read from here: a part can take half a second, and a tab in the
  // background runs no animation frames and throttles its timers, so a
  // check polled inside the tab could miss it.
  await waitFor(
    () => tabs[0].page.$$eval('#log li', (lis, id) => lis.some((li) => li.textContent.includes(`of task ${id}): computing`)), taskId),
    { timeoutMs: 60000, intervalMs: 20, what: 'the first tab to compute a part' },
  );
  await screenshot(tabs[0].page, 'worker-computing-part');
  await page.waitForFunction(() => /completed in \d+ parts/.test(document.getElementById('task-status').textContent), null, { timeout: 180000 });
  t.diagnostic(`2048 x 2048 product of task ${taskId} in ${Date.now() - started} ms: ${await page.textContent('#task-status')}`);
  await screenshot(page, 'main-app-2048');

  const ids = await Promise.all(tabs.map((tab) => tab.page.inputValue('#worker-id')));
  const r = await getResult(coordinator.url, taskId);
  assert.equal(r.partsTotal, 2, 'split into one part per worker tab');
  const seen = await page.evaluate(() => window.partsSeen);
  t.diagnostic(`parts line: ${seen.join(' → ')}`);
  assert.equal(seen[0], '0 of 2 parts done');
  assert.equal(seen.at(-1), '2 of 2 parts done');
  const counts = seen.map((text) => Number(text.split(' ')[0]));
  assert.deepEqual(counts, [...counts].sort((x, y) => x - y), 'parts done only grow');

  // Which workers computed which parts.
  const rows = await page.$$eval('#part-rows tr', (trs) => trs.map((tr) => ({ ...tr.dataset, cells: [...tr.cells].map((td) => td.textContent) })));
  assert.equal(rows.length, 2);
  for (const [i, row] of rows.entries()) {
    assert.equal(row.status, 'completed');
    assert.equal(row.cells[0], `${i + 1}/2`);
    assert.ok(ids.includes(row.workerId), `part ${i + 1} by a worker tab: ${row.workerId}`);
  }
  assert.deepEqual(rows.map((row) => row.workerId).sort(), [...ids].sort(), 'one part on each tab');
  assert.match(await page.textContent('#result-summary'), new RegExp(`2048×2048 product of task ${taskId}, assembled from 2 parts computed by the workers \\(`));

  // Sampled entries: the corner shown against the native product.
  const nativeRows = expected.slice(2, -2).split('],[', 8);
  const corner = await page.$$eval('#corner tr', (trs) => trs.slice(1, 9).map((tr) => [...tr.querySelectorAll('td')].slice(0, 8).map((td) => td.textContent)));
  assert.equal(corner.length, 8);
  corner.forEach((cells, i) => assert.deepEqual(cells, nativeRows[i].split(',').slice(0, 8), `row ${i + 1} of the corner`));
  // And the whole product, downloaded from the page.
  const product = await downloadText(page, '#download');
  assert.ok(product === expected, `the downloaded product (${product.length} bytes) equals the native kernel's (${expected.length} bytes)`);
});

test('Cancel stops a split task and its parts: no worker computes them afterwards', { timeout: 240000 }, async (t) => {
  // One tab computes, the other waits: one part is computed when Cancel is pressed,
  // the other is still queued.
  await tabs[1].page.getByRole('button', { name: 'Stop' }).click();
  await tabs[1].page.waitForFunction(() => document.getElementById('status').textContent === 'stopped', null, { timeout: 10000 });
  // The cancel must reach the coordinator while the first part computes
  // (a quarter to half a second here); when the part was done first, the tab
  // took the other one too, and the case is tried again with a new submission.
  let taskId;
  let computing;
  let queued;
  for (let attempt = 1; ; attempt += 1) {
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.waitForFunction((before) => {
      const match = document.getElementById('submit-note').textContent.match(/^Submitted as task (\d+)/);
      return match && Number(match[1]) !== before;
    }, taskId ?? null, { timeout: 60000 });
    taskId = Number((await page.textContent('#submit-note')).match(/task (\d+)/)[1]);
    computing = await waitFor(
      async () => {
        const part = await tabs[0].page.$$eval('#slot-rows tr[data-task-id]', (rows, id) => {
          const row = rows.find((r) => r.textContent.includes(`of task ${id})`));
          return row ? Number(row.dataset.taskId) : null;
        }, taskId);
        if (part !== null) return part;
        // Both parts were computed, one after the other, before a look
        // found one computing: too late as well.
        const done = /completed in \d+ parts/.test(await page.textContent('#task-status'));
        return done ? 'done' : null;
      },
      { timeoutMs: 60000, intervalMs: 20, what: 'the first tab to compute a part' },
    );
    if (computing === 'done') {
      t.diagnostic(`try ${attempt}: task ${taskId} was completed before a part was seen computing`);
      assert.ok(attempt < 5, 'a part is seen computing within five tries');
      continue;
    }

    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.waitForFunction(() => /was cancelled after/.test(document.getElementById('task-status').textContent), null, { timeout: 30000 });
    assert.match(await page.textContent('#result-error'), /was cancelled: no worker computes it or its parts any more/);
    assert.equal(await page.isVisible('#cancel'), false, 'nothing left to cancel');

    // The part being computed stops (or, if it was just done, its product is not used).
    const line = await waitFor(
      () => tabs[0].page.$$eval('#log li', (lis, id) => lis.map((li) => li.textContent).find((text) => text.includes(`of task ${id})`) && /its client cancelled it/.test(text)), taskId),
      { timeoutMs: 30000, what: 'the tab to stop computing the cancelled part' },
    );
    await tabs[0].page.waitForFunction(() => !document.querySelector('#slot-rows tr[data-task-id]'), null, { timeout: 10000 });

    // Every part failed; the queued one was never handed out.
    const listed = await (await fetch(new URL(`result/${taskId}?parts=1`, coordinator.url))).json();
    t.diagnostic(`try ${attempt}: tab 1: ${line}; parts after cancel: ${JSON.stringify(listed.parts)}`);
    assert.equal(listed.status, 'failed');
    assert.equal(listed.error, 'Task cancelled');
    queued = listed.parts.find((p) => p.taskId !== computing);
    const computed = listed.parts.find((p) => p.taskId === computing);
    // Too late: the first part was done, or the tab had already taken the other.
    const tooLate = computed.status === 'completed' || queued.workerId !== undefined;
    if (tooLate && attempt < 5) continue;
    for (const part of listed.parts) assert.equal(part.status, 'failed');
    assert.equal((await getResult(coordinator.url, queued.taskId)).attempts, 0, 'the queued part was never handed out');
    break;
  }

  // Both tabs working again take new work, never the cancelled parts.
  await tabs[1].page.getByRole('button', { name: 'Start' }).click();
  const control = await submitTask(coordinator.url, { A: '[[1,2],[3,4]]', B: '[[5,6],[7,8]]' });
  assert.equal((await waitForFinished(coordinator.url, control, 30000)).result, '[[19,22],[43,50]]');
  for (const tab of tabs) {
    const lines = await tab.page.$$eval('#log li', (lis) => lis.map((li) => li.textContent));
    assert.ok(!lines.some((text) => text.includes(`task ${queued.taskId} `)), 'the queued part was computed nowhere');
    assert.equal(lines.filter((text) => text.includes(`task ${computing} (`) && /computing on slot/.test(text)).length, tab === tabs[0] ? 1 : 0);
  }
  const stats = await getStats(coordinator.url);
  assert.equal(stats.activeTasks, 0);
  assert.equal(stats.queueSize, 0);
  assert.deepEqual(pageErrors, []);
  for (const tab of tabs) assert.deepEqual(tab.errors, []);
});
