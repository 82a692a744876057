// Every product the main app receives is correct even when a worker lies.
//
// Next to two honest worker pages, a dishonest worker (a small HTTP client in this
// test, not a mode of the product's page) claims tasks and posts corrupted products:
// one element off by one, a row missing, a column too many, one element off in the
// JSON-array form, rows swapped, all zeros. Main-app submissions (Dana text,
// `{"A":"..","B":".."}`, some large enough to be split into parts, with awkward
// shapes) must all come back equal to the native kernel's product, and `/stats` must
// name the dishonest worker with its rejected results. Then, on coordinators of their
// own: repeated rejections bench a worker (and its page says so), and a false error
// report for a part is rejected instead of failing the task.
//
// The coordinator runs with a low split threshold (products of a few hundred rows
// are split) and a reject limit of REJECT_LIMIT, so the dishonest client gets to try
// every kind of corruption before it is benched; attempts per task are raised above
// that limit so its rejections alone can never use up a task's attempts.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  danaText,
  generateOnPage,
  getResult,
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
} from './helpers.mjs';

const SPLIT_MIN_FLOPS = 2_000_000;
const REJECT_LIMIT = 6;
const MAX_ATTEMPTS = REJECT_LIMIT + 2;
const DISHONEST = 'e2e-dishonest';
const HONEST = ['e2e-honest-1', 'e2e-honest-2'];
/** The dishonest worker's pause after each post, so that it meets many tasks. */
const DISHONEST_PAUSE_MS = 200;

/** Shapes [m, k, n] of the submissions; the first few are split (2 m k n >= SPLIT_MIN_FLOPS). */
const SHAPES = [
  [97, 131, 89], // rows not divisible by the part count
  [150, 150, 150],
  [400, 20, 400],
  [1, 3000, 700], // one row: never split
  [2000, 1, 1], // one column out
  [2, 2, 2],
  [60, 40, 50],
  [1, 300, 1],
];

/**
 * Corruptions of an honest product (an array of rows), each giving the body the
 * dishonest worker posts.
 */
const CORRUPTIONS = [
  ['one element off by one', (m, rand) => ({ result: danaText(offByOne(m, rand)) })],
  ['a row missing', (m) => ({ result: danaText(m.length > 1 ? m.slice(0, -1) : [...m, m[0]]) })],
  ['a column too many', (m) => ({ result: danaText(m.map((row) => [...row, 0])) })],
  ['one element off, as a JSON array', (m, rand) => ({ result: offByOne(m, rand) })],
  ['rows swapped', (m, rand) => ({ result: danaText(m.length > 1 && !sameRows(m) ? [m[1], m[0], ...m.slice(2)] : offByOne(m, rand)) })],
  ['all zeros', (m, rand) => ({ result: danaText(m.flat().some((x) => x !== 0) ? m.map((row) => row.map(() => 0)) : offByOne(m, rand)) })],
];

function offByOne(m, rand) {
  const copy = m.map((row) => [...row]);
  const i = Math.floor(rand() * copy.length);
  const j = Math.floor(rand() * copy[i].length);
  copy[i][j] += rand() < 0.5 ? 1 : -1;
  return copy;
}

function sameRows(m) {
  return m.length > 1 && m[0].every((x, j) => x === m[1][j]);
}

let coordinator;
let browser;
const honest = [];

before(async () => {
  // Equal parts, so no backup copies: a wrong product for a part that a backup
  // copy already completed comes from a former holder, and is refused without
  // counting against it (a stranger's answer never does), which would make the
  // count of rejections below depend on timing.
  coordinator = await startCoordinator('adversarial', [
    '--equal-parts',
    '--split-min-flops', String(SPLIT_MIN_FLOPS),
    '--reject-limit', String(REJECT_LIMIT),
    '--max-attempts', String(MAX_ATTEMPTS),
  ]);
  browser = await launchBrowser();
  for (const id of HONEST) honest.push(await openWorker(browser, coordinator.url, id, { slots: 1, start: false }));
});

after(async () => {
  await browser?.close().catch(() => {});
  await coordinator?.stop();
});

/**
 * The dishonest worker: claims tasks in a plain fetch loop and posts a corrupted
 * product for each (kinds taken in turn). Runs until `stop()`; `posts` records
 * every answer it got.
 */
function startDishonestWorker(base) {
  const rand = seededRandom(666);
  const posts = [];
  let running = true;
  let claims = 0;
  let emptyClaims = 0;
  const loop = (async () => {
    while (running) {
      let res;
      try {
        res = await fetch(new URL(`task/next?workerId=${DISHONEST}&wait=1`, base), { signal: AbortSignal.timeout(10000) });
      } catch {
        continue;
      }
      if (res.status === 204) {
        emptyClaims += 1;
        continue;
      }
      assert.equal(res.status, 200, `dishonest claim answered ${res.status}`);
      claims += 1;
      const { taskId, data } = JSON.parse(await res.text());
      const [honestText] = await nativeProducts([data]);
      const [kind, corrupt] = CORRUPTIONS[posts.length % CORRUPTIONS.length];
      const body = corrupt(JSON.parse(honestText), rand);
      const answer = await fetch(new URL(`task/${taskId}/result?workerId=${DISHONEST}`, base), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30000),
      });
      posts.push({ taskId, kind, status: answer.status, answer: await answer.json() });
      // As if it had computed: the task it gave back goes to someone else meanwhile.
      await new Promise((resolve) => setTimeout(resolve, DISHONEST_PAUSE_MS));
    }
  })();
  return {
    posts,
    claims: () => claims,
    emptyClaims: () => emptyClaims,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

test('a dishonest worker cannot get a wrong product to the main app', { timeout: 240000 }, async (t) => {
  const rand = seededRandom(20261126);
  const tasks = SHAPES.map(([m, k, n]) => ({
    label: `${m}x${k} * ${k}x${n}`,
    split: 2 * m * k * n >= SPLIT_MIN_FLOPS && m >= 2,
    data: { A: danaText(randomIntMatrix(rand, m, k)), B: danaText(randomIntMatrix(rand, k, n)) },
  }));
  const expected = await nativeProducts(tasks.map((x) => x.data));
  expected.forEach((text, i) => assert.ok(!text.startsWith('error'), `${tasks[i].label}: ${text.slice(0, 80)}`));

  const dishonest = startDishonestWorker(coordinator.url);
  try {
    // The dishonest worker is the only one running when the first submission
    // arrives, so it is sure to post at least once; then the honest pages join.
    const ids = [await submitTask(coordinator.url, tasks[0].data)];
    await waitFor(() => dishonest.posts.length >= 1, { timeoutMs: 30000, what: 'the first corrupted post' });
    await Promise.all(honest.map((w) => w.page.getByRole('button', { name: 'Start' }).click()));
    for (const task of tasks.slice(1)) ids.push(await submitTask(coordinator.url, task.data));

    // One more through the main app page, read back from the page itself.
    const app = await browser.newContext({ acceptDownloads: true });
    const page = await app.newPage();
    await page.goto(coordinator.url, { timeout: 30000 });
    await generateOnPage(page, 130, 90, 110);
    const [pageExpected] = await nativeProducts([{ A: await page.inputValue('#matrix-a'), B: await page.inputValue('#matrix-b') }]);
    await page.getByRole('button', { name: 'Submit' }).click();

    const results = [];
    for (const id of ids) results.push(await waitForFinished(coordinator.url, id, 120000));
    results.forEach((r, i) => {
      assert.equal(r.status, 'completed', `${tasks[i].label}: ${r.error ?? ''}`);
      assert.ok(r.result === expected[i], `${tasks[i].label}: the product differs from the native kernel`);
      if (tasks[i].split) assert.ok(r.partsTotal >= 2, `${tasks[i].label} was split into parts`);
      else assert.equal(r.partsTotal, undefined, `${tasks[i].label} was not split`);
    });

    await page.waitForFunction(() => /completed/.test(document.getElementById('task-status').textContent), null, {
      timeout: 120000,
    });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), page.click('#download')]);
    const { readFile } = await import('node:fs/promises');
    assert.equal(await readFile(await download.path(), 'utf8'), pageExpected, 'the main app page shows the exact product');
    await app.close();
  } finally {
    await dishonest.stop();
  }

  // Every corrupted product was rejected with a 422 and its reason.
  const { posts } = dishonest;
  t.diagnostic(`dishonest worker: ${dishonest.claims()} task(s) claimed, posts: ${posts.map((p) => `${p.taskId}:${p.kind}:${p.status}`).join(', ')}`);
  assert.ok(posts.length >= 1);
  t.diagnostic(`corrupted products posted for ${new Set(posts.map((p) => p.taskId)).size} distinct task(s)`);
  for (const p of posts) {
    assert.equal(p.status, 422, `${p.kind} for task ${p.taskId} answered ${p.status}: ${JSON.stringify(p.answer)}`);
    assert.match(p.answer.error, /rejected/i);
  }

  // The stats name the dishonest worker, with exactly its rejected results, and
  // no honest worker has any.
  const stats = await getStats(coordinator.url);
  const line = stats.workers.find((w) => w.workerId === DISHONEST);
  assert.ok(line, `stats name ${DISHONEST}: ${JSON.stringify(stats.workers)}`);
  assert.equal(line.resultsRejected, posts.length);
  assert.ok(line.resultsRejected > 0);
  assert.equal(line.tasksCompleted, 0);
  assert.ok(stats.rejectedResults >= posts.length);
  for (const id of HONEST) {
    const w = stats.workers.find((x) => x.workerId === id);
    assert.ok(w, `stats name ${id}`);
    assert.equal(w.resultsRejected, 0, `${id} had no result rejected`);
  }
  t.diagnostic(`stats: ${JSON.stringify(stats.workers)}`);
  for (const w of honest) assert.deepEqual(w.errors, [], 'no script errors on the honest pages');
});

/** Claims one task as `workerId`; resolves with {taskId, data} or null on 204. */
async function claimAs(base, workerId, wait = 2) {
  const res = await fetch(new URL(`task/next?workerId=${workerId}&wait=${wait}`, base), { signal: AbortSignal.timeout(15000) });
  if (res.status === 204) return null;
  assert.equal(res.status, 200, `claim as ${workerId} answered ${res.status}`);
  return JSON.parse(await res.text());
}

/** Posts `body` as `workerId`'s answer for task `taskId`; resolves with the response. */
function postAs(base, workerId, taskId, body) {
  return fetch(new URL(`task/${taskId}/result?workerId=${workerId}`, base), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
}

/** An honest worker in the test: computes every pending task with the native kernel. */
async function finishAll(base, workerId) {
  for (let task = await claimAs(base, workerId, 0); task; task = await claimAs(base, workerId, 0)) {
    const [product] = await nativeProducts([task.data]);
    const res = await postAs(base, workerId, task.taskId, { result: product });
    assert.equal(res.status, 200, await res.text());
  }
}

// The next tests run on a coordinator of their own with the shipped defaults
// (reject limit, bench time, attempts), and no pages: the test is every worker.

test('a worker with repeated rejected results is benched, and its page says so', { timeout: 60000 }, async () => {
  const solo = await startCoordinator('adversarial-bench', []);
  try {
    const rand = seededRandom(13);
    const data = { A: danaText(randomIntMatrix(rand, 4, 3)), B: danaText(randomIntMatrix(rand, 3, 5)) };
    const [expected] = await nativeProducts([data]);
    const id = await submitTask(solo.url, data);
    const honestProduct = JSON.parse(expected);
    // The default reject limit is 3: three wrong results in a row bench the worker.
    for (let i = 0; i < 3; i += 1) {
      const task = await claimAs(solo.url, DISHONEST);
      assert.equal(task?.taskId, id, `rejected task ${id} is handed out again at once`);
      const res = await postAs(solo.url, DISHONEST, id, CORRUPTIONS[i][1](honestProduct, rand));
      assert.equal(res.status, 422, `${CORRUPTIONS[i][0]} rejected`);
    }
    const line = (await getStats(solo.url)).workers.find((w) => w.workerId === DISHONEST);
    assert.equal(line.resultsRejected, 3);
    assert.ok(line.benchedSecs > 0, `benched: ${JSON.stringify(line)}`);
    // Benched: no task for it, even while one is pending.
    assert.equal(await claimAs(solo.url, DISHONEST, 1), null, 'a benched worker gets no task');
    assert.equal((await getResult(solo.url, id)).status, 'pending');

    // A worker page under the benched id shows it.
    const page = await openWorker(browser, solo.url, DISHONEST, { start: false });
    await page.page.waitForFunction(() => /no tasks for about/.test(document.getElementById('benched').textContent), null, {
      timeout: 15000,
    });
    assert.equal(await page.page.textContent('#rejected-total'), '3');
    await screenshot(page.page, 'worker-benched');
    await page.context.close();

    await finishAll(solo.url, 'e2e-native-worker');
    const r = await getResult(solo.url, id);
    assert.equal(r.status, 'completed');
    assert.equal(r.result, expected);
    // Each rejected result gave its attempt back: only the honest one counts.
    assert.equal(r.attempts, 1);
  } finally {
    await solo.stop();
  }
});

test(
  "a dishonest worker's false error report does not fail a task",
  // A checked product whose matrices multiply without overflow cannot fail: an
  // `{"error":"..."}` for one of its parts is rejected like a wrong result, and
  // the split task still completes.
  { timeout: 60000 },
  async () => {
    const solo = await startCoordinator('adversarial-error', ['--split-min-flops', String(SPLIT_MIN_FLOPS)]);
    try {
      const rand = seededRandom(99);
      const data = { A: danaText(randomIntMatrix(rand, 120, 100)), B: danaText(randomIntMatrix(rand, 100, 110)) };
      const [expected] = await nativeProducts([data]);
      const id = await submitTask(solo.url, data);
      const liar = 'e2e-false-reporter';
      const part = await claimAs(solo.url, liar);
      assert.ok(part, 'the liar got a part');
      const lie = await postAs(solo.url, liar, part.taskId, { error: 'Matrix A is ragged' });
      assert.equal(lie.status, 422, 'the false error report is rejected');
      const line = (await getStats(solo.url)).workers.find((w) => w.workerId === liar);
      assert.equal(line.resultsRejected, 1);
      assert.equal(line.tasksFailed, 0);
      await finishAll(solo.url, 'e2e-native-worker');
      // The split task completes once its parts are assembled, just after the
      // last part's result was taken: wait for it rather than read it at once.
      const r = await waitForFinished(solo.url, id, 30000);
      assert.equal(r.status, 'completed', `the task ended ${r.status}: ${r.error ?? ''}`);
      assert.equal(r.result, expected);
    } finally {
      await solo.stop();
    }
  },
);
