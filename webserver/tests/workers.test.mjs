// Three worker pages in headless Chromium compute 31 tasks in both data forms (Dana
// strings and JSON arrays, 1x1 up to 256x256, 64-bit integers) plus one whose data is
// not a matrix pair; every product must equal the native kernel's text exactly, the
// one the pages cannot read must end `failed` with an error, and each of the three
// workers must have done work. Matrix pairs that cannot be multiplied never reach a
// worker: the coordinator refuses them at submission with 400 and the reason.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  danaText,
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
} from './helpers.mjs';

/** Shapes (rows of A, columns of A = rows of B, columns of B) of the integer tasks. */
const INT_SHAPES = [
  [1, 1, 1], [1, 1, 1], [1, 4, 1], [2, 3, 4], [3, 1, 3], [4, 4, 4], [5, 7, 3], [7, 5, 9],
  [8, 8, 8], [1, 16, 16], [16, 16, 1], [13, 17, 11], [17, 17, 17], [31, 33, 29], [32, 32, 32],
  [33, 1, 33], [50, 10, 60], [63, 64, 65], [64, 64, 64], [1, 256, 1], [256, 1, 256],
  [100, 3, 100], [127, 65, 63], [128, 128, 128], [129, 127, 131], [200, 17, 256],
  [256, 256, 256], [256, 256, 256],
];

/** Float tasks use multiples of 1/4 so that every summation order gives the same f64. */
const FLOAT_SHAPES = [
  [9, 8, 7],
  [6, 5, 4],
];

/** Data that cannot be multiplied, in both forms: refused at submission. */
const INVALID = [
  { why: 'ragged A', data: { A: '[[1,2],[3]]', B: '[[1],[2]]' } },
  { why: 'shape mismatch', data: { A: [[1, 2, 3], [4, 5, 6]], B: [[1, 2], [3, 4]] } },
  { why: 'not a number', data: { A: '[[1,x],[3,4]]', B: '[[1,0],[0,1]]' } },
  { why: 'empty matrix', data: { A: [], B: [[1]] } },
  { why: 'ragged B', data: { A: [[1, 2]], B: [[1, 2], [3]] } },
];

/** Data the coordinator takes (not a matrix pair to it) and the workers refuse. */
const UNREADABLE = [{ why: 'A is not a matrix', data: { A: 5, B: [[1]] } }];

const WORKERS = ['e2e-worker-1', 'e2e-worker-2', 'e2e-worker-3'];

let coordinator;
let browser;
const workers = [];

before(async () => {
  coordinator = await startCoordinator('workers');
  browser = await launchBrowser();
  for (const id of WORKERS) workers.push(await openWorker(browser, coordinator.url, id, { slots: 1 }));
  // The Content-Type of every result the pages post.
  for (const w of workers) {
    w.posted = [];
    w.page.on('request', (request) => {
      if (request.method() === 'POST' && /\/task\/\d+\/result/.test(request.url())) w.posted.push(request.headers()['content-type']);
    });
  }
});

after(async () => {
  await browser?.close().catch(() => {});
  await coordinator?.stop();
});

function buildTasks() {
  const rand = seededRandom(20260401);
  const tasks = [];
  INT_SHAPES.forEach(([m, k, n], i) => {
    const a = randomIntMatrix(rand, m, k);
    const b = randomIntMatrix(rand, k, n);
    const asText = i % 2 === 0;
    tasks.push({
      label: `${m}x${k} * ${k}x${n} int as ${asText ? 'Dana text' : 'JSON arrays'}`,
      data: asText ? { A: danaText(a), B: danaText(b) } : { A: a, B: b },
      valid: true,
    });
  });
  FLOAT_SHAPES.forEach(([m, k, n], i) => {
    const quarter = () => (Math.floor(rand() * 81) - 40) / 4;
    const a = Array.from({ length: m }, () => Array.from({ length: k }, quarter));
    const b = Array.from({ length: k }, () => Array.from({ length: n }, quarter));
    const asText = i % 2 === 0;
    tasks.push({
      label: `${m}x${k} * ${k}x${n} float as ${asText ? 'Dana text' : 'JSON arrays'}`,
      data: asText ? { A: danaText(a), B: danaText(b) } : { A: a, B: b },
      valid: true,
    });
  });
  // 64-bit integers beyond 2^53 in JSON arrays: exact only if nobody parses them as doubles.
  tasks.push({
    label: '64-bit integers as JSON arrays',
    data: '{"A":[[9007199254740993,1],[-9007199254740993,2]],"B":[[1],[3]]}',
    valid: true,
  });
  for (const bad of UNREADABLE) tasks.push({ label: `unreadable: ${bad.why}`, data: bad.data, valid: false });
  // The seed's example, as the Dana main app sends it.
  tasks[2] = { label: 'seed example [[1,2],[3,4]] x [[5,6],[7,8]]', data: { A: '[[1,2],[3,4]]', B: '[[5,6],[7,8]]' }, valid: true };
  return tasks;
}

test('matrix pairs that cannot be multiplied are refused at submission with the reason', async () => {
  const expected = await nativeProducts(INVALID.map((x) => x.data));
  for (const [i, bad] of INVALID.entries()) {
    assert.ok(expected[i].startsWith('error:'), `native reference refuses ${bad.why}`);
    const res = await fetch(new URL('task', coordinator.url), { method: 'POST', body: JSON.stringify(bad.data) });
    assert.equal(res.status, 400, bad.why);
    const { error } = await res.json();
    assert.match(error, /^Invalid matrix task: /, bad.why);
  }
  assert.equal((await getStats(coordinator.url)).totalTasks, 0, 'nothing was queued');
});

test('three worker pages compute every task exactly and refuse what they cannot read', { timeout: 180000 }, async (t) => {
  const tasks = buildTasks();
  const validCount = tasks.filter((x) => x.valid).length;
  assert.ok(validCount >= 30);
  const expected = await nativeProducts(tasks.map((x) => x.data));
  tasks.forEach((task, i) => {
    assert.equal(expected[i].startsWith('error:'), !task.valid, `native reference for ${task.label}: ${expected[i].slice(0, 80)}`);
  });
  assert.equal(expected[2], '[[19,22],[43,50]]');
  assert.equal(expected[validCount - 1], '[[9007199254740996],[-9007199254740987]]');

  const started = Date.now();
  const ids = [];
  for (const task of tasks) ids.push(await submitTask(coordinator.url, task.data));

  const results = await waitFor(
    async () => {
      const all = await Promise.all(ids.map((id) => getResult(coordinator.url, id)));
      return all.every((r) => r.status === 'completed' || r.status === 'failed') ? all : null;
    },
    { timeoutMs: 120000, intervalMs: 250, what: 'all tasks to finish' },
  );
  const seconds = (Date.now() - started) / 1000;

  results.forEach((r, i) => {
    const task = tasks[i];
    if (task.valid) {
      assert.equal(r.status, 'completed', `${task.label}: ${r.error ?? ''}`);
      assert.equal(typeof r.result, 'string');
      assert.ok(r.result === expected[i], `${task.label}: product differs from the native kernel`);
    } else {
      assert.equal(r.status, 'failed', `${task.label} should fail`);
      assert.ok(typeof r.error === 'string' && r.error.length > 0, `${task.label} has an error message`);
    }
  });

  // Every worker did work: by the coordinator's record and by each page's own counters.
  const byWorker = new Map(WORKERS.map((id) => [id, 0]));
  for (const r of results) if (byWorker.has(r.workerId)) byWorker.set(r.workerId, byWorker.get(r.workerId) + 1);
  // A page counts a task once its result request has returned, a moment after the
  // coordinator stored it: wait (bounded) for the counters to settle.
  const readCounters = async () => {
    const all = [];
    for (const w of workers) {
      all.push({ done: Number(await w.page.textContent('#done')), refused: Number(await w.page.textContent('#failed')) });
    }
    return all;
  };
  let counters = await readCounters();
  await waitFor(
    async () => {
      counters = await readCounters();
      return counters.reduce((s, c) => s + c.done + c.refused, 0) >= tasks.length;
    },
    { timeoutMs: 10000, what: 'the pages to count every task' },
  ).catch(() => {});
  t.diagnostic(`${tasks.length} tasks in ${seconds.toFixed(1)} s; per worker (done/refused): ${counters.map((c) => `${c.done}/${c.refused}`).join(', ')}`);
  t.diagnostic(`tasks per worker by result.workerId: ${[...byWorker].map(([k, v]) => `${k}=${v}`).join(', ')}`);
  counters.forEach((c, i) => assert.ok(c.done + c.refused > 0, `${WORKERS[i]} did no work`));
  assert.equal(counters.reduce((s, c) => s + c.done, 0), validCount, 'each valid task computed exactly once');
  assert.equal(counters.reduce((s, c) => s + c.refused, 0), UNREADABLE.length, 'each unreadable task refused once');
  if (results.some((r) => 'workerId' in r)) {
    for (const [id, count] of byWorker) assert.ok(count > 0, `coordinator records no task by ${id}`);
  }

  const stats = await getStats(coordinator.url);
  assert.equal(stats.totalTasks, tasks.length);
  assert.equal(stats.completedTasks, validCount);
  if (Array.isArray(stats.workers)) {
    for (const id of WORKERS) {
      const w = stats.workers.find((x) => x.workerId === id);
      assert.ok(w && w.tasksCompleted + (w.tasksFailed ?? 0) > 0, `stats show work by ${id}`);
    }
  }

  for (const w of workers) assert.deepEqual(w.errors, [], 'no script errors on the worker pages');
  // Integer products went out packed and were read as their text (checked above);
  // float products and error reports as JSON.
  const posted = workers.flatMap((w) => w.posted);
  const packed = posted.filter((type) => type === 'application/x-packed-int-matrix').length;
  t.diagnostic(`result bodies: ${packed} packed, ${posted.length - packed} JSON`);
  assert.ok(packed > 0, 'no product was posted packed');
  assert.ok(posted.length - packed > 0, 'no result was posted as JSON');

  // What a person sees: the busy worker page on a desktop and on a phone.
  const shot = await screenshot(workers[0].page, 'worker-desktop');
  await workers[0].page.setViewportSize({ width: 390, height: 844 });
  const overflow = await workers[0].page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `worker page scrolls sideways on a phone by ${overflow}px`);
  const phone = await screenshot(workers[0].page, 'worker-phone');
  t.diagnostic(`screenshots: ${shot}, ${phone}`);
});
