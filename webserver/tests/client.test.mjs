// Unit tests of the pages' coordinator client and result watch (no browser): a
// small scripted HTTP server on 127.0.0.1 plays the coordinator, so every request
// the pages send and every kind of answer they read is checked to the byte.
// Cancel, a part's place in a lease, and a split task's parts too.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { gunzipSync } from 'node:zlib';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { CoordinatorClient, CoordinatorError } from '../coordinator-client.js';
import { watchResult } from '../result-watch.js';

/** Requests the server got: {method, url, body}. */
const requests = [];
/** The Content-Type and bytes of every request body the server got. */
const bodies = [];
/** The Content-Encoding and size of every compressed request body the server got. */
const wire = [];
/** The Accept header of every request the server got. */
const accepts = [];
/** Answers the server gives, in order: {status, headers?, body?}. */
let script = [];
let server;
let client;

before(async () => {
  server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const encoding = req.headers['content-encoding'];
    const raw = encoding === 'gzip' ? gunzipSync(body) : body;
    requests.push({ method: req.method, url: req.url, body: raw.toString() });
    accepts.push(req.headers.accept);
    bodies.push({ type: req.headers['content-type'], raw });
    if (encoding) wire.push({ encoding, bytes: body.length });
    const answer = script.shift() ?? { status: 500, body: '{"error":"no answer scripted"}' };
    res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
    res.end(answer.body ?? '');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  client = new CoordinatorClient(`http://127.0.0.1:${server.address().port}/`);
});

after(() => server.close());

/** Scripts the next answers and forgets the requests so far. */
function answers(...list) {
  script = list;
  requests.length = 0;
  accepts.length = 0;
  bodies.length = 0;
  wire.length = 0;
}

test('an error answer becomes a CoordinatorError with the coordinator\'s reason and Retry-After', async () => {
  answers({ status: 503, headers: { 'Retry-After': '7' }, body: '{"error":"Queue full"}' });
  const err = await client.submitTask('{"A":"[[1]]","B":"[[2]]"}').catch((e) => e);
  assert.ok(err instanceof CoordinatorError);
  assert.equal(err.status, 503);
  assert.equal(err.reason, 'Queue full');
  assert.equal(err.retryAfterSecs, 7);
  assert.equal(err.message, 'HTTP 503: Queue full');
  assert.equal(err.unreachable, false);

  answers({ status: 404, body: 'not JSON at all' });
  const plain = await client.stats().catch((e) => e);
  assert.equal(plain.status, 404);
  assert.equal(plain.reason, 'not JSON at all', 'the start of a body that is not JSON');
  assert.equal(plain.retryAfterSecs, null);
});

test('submitTask posts integer operands packed, anything else as it is, and reads the task id', async () => {
  const data = '{"A":"[[1,2]]","B":"[[3],[4]]"}';
  answers({ status: 200, body: '{"taskId":12}' });
  assert.equal(await client.submitTask(data), 12);
  assert.equal(bodies[0].type, 'application/x-packed-int-matrix');
  // A then B: XIM1, rows, cols, zigzag values.
  const packed = [0x58, 0x49, 0x4d, 0x31, 1, 2, 2, 4, 0x58, 0x49, 0x4d, 0x31, 2, 1, 6, 8];
  assert.deepEqual([...bodies[0].raw], packed);

  const floats = '{"A":"[[1.5]]","B":"[[2]]"}';
  answers({ status: 200, body: '{"taskId":13}' });
  assert.equal(await client.submitTask(floats), 13);
  assert.deepEqual(requests, [{ method: 'POST', url: '/task', body: floats }]);
  assert.equal(bodies[0].type, 'application/json');

  // A coordinator that refuses the packed form gets the data as it is, from then on.
  const own = new CoordinatorClient(`http://127.0.0.1:${server.address().port}/`);
  answers({ status: 415, body: '{"error":"no"}' }, { status: 200, body: '{"taskId":14}' }, { status: 200, body: '{"taskId":15}' });
  assert.equal(await own.submitTask(data), 14);
  assert.equal(await own.submitTask(data), 15);
  assert.deepEqual(requests.slice(1), [
    { method: 'POST', url: '/task', body: data },
    { method: 'POST', url: '/task', body: data },
  ]);

  const plain = new CoordinatorClient(`http://127.0.0.1:${server.address().port}/`, { wire: 'plain' });
  answers({ status: 200, body: '{"taskId":16}' });
  assert.equal(await plain.submitTask(data), 16);
  assert.deepEqual(requests, [{ method: 'POST', url: '/task', body: data }]);

  answers({ status: 200, body: '{"id":12}' });
  const err = await client.submitTask(data).catch((e) => e);
  assert.ok(err instanceof CoordinatorError && err.malformed, 'an answer without a task id');
});

test('nextTask long-polls, reads 204 as no task and keeps a task as bytes, with its lease token', async () => {
  const tokened = '{"taskId":6,"leaseToken":"1-ab","data":{"A":"[[1]]","B":"[[1]]"}}';
  answers({ status: 204 }, { status: 200, body: '{"taskId":5,"data":{"A":[[9007199254740993]],"B":"[[1]]"}}' }, { status: 200, body: tokened });
  assert.equal(await client.nextTask('w 1', { waitSecs: 25 }), null);
  const task = await client.nextTask('w 1', { waitSecs: 0 });
  assert.equal(task.taskId, 5);
  assert.equal(task.leaseToken, null, 'a coordinator without tokens');
  assert.ok(task.answer instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(task.answer), '{"taskId":5,"data":{"A":[[9007199254740993]],"B":"[[1]]"}}');
  assert.ok(task.receiveMs >= 0);
  const withToken = await client.nextTask('w 1', { waitSecs: 0 });
  assert.deepEqual([withToken.taskId, withToken.leaseToken], [6, '1-ab']);
  assert.deepEqual(requests.map((r) => r.url), [
    '/task/next?workerId=w%201&wait=25&token=1&operands=ref',
    '/task/next?workerId=w%201&wait=0&token=1&operands=ref',
    '/task/next?workerId=w%201&wait=0&token=1&operands=ref',
  ]);

  answers({ status: 200, body: '{"data":{}}' });
  const err = await client.nextTask('w', {}).catch((e) => e);
  assert.ok(err.malformed, 'an answer without a valid taskId');
});

test('postResult uploads the product bytes between the JSON braces, with return=minimal', async () => {
  answers({ status: 200, body: '{"taskId":5,"status":"completed"}' }, { status: 200 }, { status: 422, body: '{"error":"Result rejected: row 1 differs"}' });
  await client.postResult(5, { result: new TextEncoder().encode('[[19,22],[43,50]]') }, 'w1', '1-ab');
  await client.postResult(6, { error: 'Matrix A is ragged' }, 'w1');
  const err = await client.postResult(7, { result: '[[1]]' }, 'w1').catch((e) => e);
  assert.deepEqual(requests, [
    { method: 'POST', url: '/task/5/result?workerId=w1&leaseToken=1-ab&return=minimal', body: '{"result":"[[19,22],[43,50]]"}' },
    { method: 'POST', url: '/task/6/result?workerId=w1&return=minimal', body: '{"error":"Matrix A is ragged"}' },
    { method: 'POST', url: '/task/7/result?workerId=w1&return=minimal', body: '{"result":"[[1]]"}' },
  ]);
  assert.equal(err.status, 422);
  assert.equal(err.reason, 'Result rejected: row 1 differs');
});

test('result asks at once, or long-polls for a change from what the caller saw', async () => {
  answers({ status: 200, body: '{"taskId":3,"status":"pending","result":""}' }, { status: 204 });
  assert.deepEqual(await client.result(3), { taskId: 3, status: 'pending', result: '' });
  assert.equal(await client.result(3, { waitSecs: 20, status: 'processing', partsDone: 2 }), null);
  assert.deepEqual(requests.map((r) => r.url), ['/result/3', '/result/3?wait=20&status=processing&partsDone=2']);
});

test('nextTask with describe asks where a part belongs and reads it from the answer', async () => {
  answers(
    { status: 200, body: '{"taskId":2147483646,"leaseToken":"1-0f3a","data":{"A":"[[3,4]]","B":"[[1],[2]]"},"part":{"of":14,"number":2,"total":4}}' },
    { status: 200, body: '{"taskId":15,"data":{"A":"[[1]]","B":"[[2]]"}}' },
  );
  const part = await client.nextTask('w1', { waitSecs: 0, describe: true });
  assert.equal(part.taskId, 2147483646);
  assert.deepEqual(part.part, { of: 14, number: 2, total: 4 });
  assert.equal(part.leaseToken, '1-0f3a', 'the token before the data, the place after it');
  const whole = await client.nextTask('w1', { waitSecs: 0, describe: true });
  assert.equal(whole.part, null, 'a task that is not a part');
  assert.equal(whole.leaseToken, null, 'a coordinator that sent no token');
  assert.deepEqual(requests.map((r) => r.url), [
    '/task/next?workerId=w1&wait=0&token=1&describe=1&operands=ref',
    '/task/next?workerId=w1&wait=0&token=1&describe=1&operands=ref',
  ]);
});

test('postResult returns the task\'s report: a cancelled task says so', async () => {
  answers({ status: 200, body: '{"taskId":5,"status":"failed","error":"Task cancelled","attempts":1}' });
  const report = await client.postResult(5, { result: '[[1]]' }, 'w1');
  assert.equal(report.status, 'failed');
  assert.equal(report.error, 'Task cancelled');
});

test('cancelTask posts to task/N/cancel and reads the report, or says why not', async () => {
  answers(
    { status: 200, body: '{"taskId":8,"status":"failed","result":"","error":"Task cancelled","attempts":0}' },
    { status: 409, body: '{"error":"Task 8 is completed"}' },
  );
  const report = await client.cancelTask(8);
  assert.equal(report.status, 'failed');
  assert.equal(report.error, 'Task cancelled');
  const err = await client.cancelTask(8).catch((e) => e);
  assert.ok(err instanceof CoordinatorError);
  assert.equal(err.status, 409);
  assert.deepEqual(requests.map((r) => `${r.method} ${r.url} ${r.body}`), ['POST /task/8/cancel ', 'POST /task/8/cancel ']);
});

test('report asks for parts, keeps the product as bytes and reads every other field', async () => {
  const product = '[[19,22],[43,50]]';
  answers(
    {
      status: 200,
      body: `{"taskId":14,"status":"completed","result":"${product}","attempts":0,"partsDone":2,"partsTotal":2,` +
        '"parts":[{"taskId":2147483647,"status":"completed","workerId":"w1"},{"taskId":2147483646,"status":"completed","workerId":"w2"}]}',
    },
    { status: 200, body: '{"taskId":14,"status":"processing","result":"","partsDone":1,"partsTotal":2}' },
    { status: 200, body: '[1,2]' },
  );
  const report = await client.report(14, { parts: true });
  assert.ok(report.resultBytes instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(report.resultBytes), product);
  assert.equal(report.result, undefined);
  assert.equal(report.status, 'completed');
  assert.deepEqual(report.parts.map((p) => p.workerId), ['w1', 'w2']);
  const waiting = await client.report(14, { waitSecs: 20, status: 'processing', partsDone: 1, parts: true });
  assert.equal(waiting.resultBytes.length, 0);
  const err = await client.report(14).catch((e) => e);
  assert.ok(err instanceof CoordinatorError && err.malformed, 'an answer that is not an object');
  assert.deepEqual(requests.map((r) => r.url), [
    '/result/14?parts=1',
    '/result/14?wait=20&status=processing&partsDone=1&parts=1',
    '/result/14',
  ]);
});

test('report takes a completed product packed, with the rest of the report from its header', async () => {
  // [[19,22],[43,-50]] packed: XIM1, 2, 2, then zigzag varints 38, 44, 86, 99.
  const packed = Buffer.from([0x58, 0x49, 0x4d, 0x31, 2, 2, 38, 44, 86, 99]);
  const head = (report) => ({ 'Content-Type': 'application/x-packed-int-matrix', 'X-Task-Report': report });
  answers(
    { status: 200, headers: head('{"taskId":14,"status":"completed","attempts":1,"partsDone":2,"partsTotal":2}'), body: packed },
    { status: 200, body: '{"taskId":14,"status":"completed","result":"[[1]]","attempts":1}' },
    // Tried: a packed answer without its header, with a header that is not an object,
    // and with bytes that are not a packed product.
    { status: 200, headers: { 'Content-Type': 'application/x-packed-int-matrix' }, body: packed },
    { status: 200, headers: head('[1]'), body: packed },
    { status: 200, headers: head('{"taskId":14}'), body: '[[1]]' },
  );
  const report = await client.report(14, { waitSecs: 20, status: 'processing', partsDone: 1 });
  assert.equal(new TextDecoder().decode(report.resultBytes), '[[19,22],[43,-50]]');
  assert.equal(report.status, 'completed');
  assert.equal(report.partsTotal, 2);
  assert.equal(report.attempts, 1);
  // With parts=1 too (the coordinator lists them in the header, or answers JSON).
  const listed = await client.report(14, { parts: true });
  assert.equal(new TextDecoder().decode(listed.resultBytes), '[[1]]');
  assert.deepEqual(accepts, Array(2).fill('application/x-packed-int-matrix, application/json'));
  for (const reason of [/X-Task-Report/, /X-Task-Report/, /not a packed product/]) {
    const err = await client.report(14).catch((e) => e);
    assert.ok(err instanceof CoordinatorError && err.malformed, String(err));
    assert.match(err.reason, reason);
  }
  // A plain client never asks for it.
  const plain = new CoordinatorClient(client.base, { wire: 'plain' });
  answers({ status: 200, body: '{"taskId":14,"status":"completed","result":"[[1]]"}' });
  await plain.report(14);
  assert.deepEqual(accepts, ['*/*']);
});

test('releaseTask says whether the task was taken back, and never throws', async () => {
  answers({ status: 200, body: '{"taskId":4,"status":"pending"}' }, { status: 404, body: '{"error":"Task not found"}' });
  assert.equal(await client.releaseTask(4, 'w1', '2-cd'), true);
  assert.equal(await client.releaseTask(4, 'w1'), false);
  assert.deepEqual(requests.map((r) => `${r.method} ${r.url}`), ['POST /task/4/release?workerId=w1&leaseToken=2-cd', 'POST /task/4/release?workerId=w1']);
  const nowhere = new CoordinatorClient('http://127.0.0.1:1/');
  assert.equal(await nowhere.releaseTask(4, 'w1'), false);
});

test('an unreachable coordinator is a CoordinatorError with status 0', async () => {
  const nowhere = new CoordinatorClient('http://127.0.0.1:1/');
  const err = await nowhere.stats().catch((e) => e);
  assert.ok(err instanceof CoordinatorError);
  assert.equal(err.status, 0);
  assert.ok(err.unreachable);
});

test('watchResult follows a task to the end, waiting for changes from what it saw', async () => {
  answers(
    { status: 404, body: '{"error":"Task not found"}' },
    { status: 200, body: '{"taskId":9,"status":"processing","result":"","partsDone":0,"partsTotal":2}' },
    { status: 500, body: '{"error":"busy"}' },
    { status: 200, body: '{"taskId":9,"status":"processing","result":"","partsDone":1,"partsTotal":2}' },
    { status: 200, body: '{"taskId":9,"status":"completed","result":"[[1]]","partsDone":2,"partsTotal":2}' },
  );
  const seen = [];
  const troubles = [];
  const final = await watchResult(client, 9, {
    signal: new AbortController().signal,
    startedAt: performance.now(),
    onAnswer: (answer) => seen.push(`${answer.status} ${answer.partsDone}`),
    onTrouble: (trouble) => troubles.push(trouble instanceof CoordinatorError ? trouble.status : trouble),
  });
  assert.equal(new TextDecoder().decode(final.resultBytes), '[[1]]', 'the product, kept as bytes');
  assert.equal(final.result, undefined, 'no product string');
  assert.deepEqual(seen, ['processing 0', 'processing 1', 'completed 2']);
  assert.deepEqual(troubles, [500], 'a 404 is "not yet"; another error answer is told');
  assert.deepEqual(requests.map((r) => r.url), [
    '/result/9',
    '/result/9',
    '/result/9?wait=20&status=processing&partsDone=0',
    '/result/9?wait=20&status=processing&partsDone=0',
    '/result/9?wait=20&status=processing&partsDone=1',
  ]);
});

test('watchResult ends when aborted', async () => {
  answers();
  const stop = new AbortController();
  stop.abort();
  const final = await watchResult(client, 9, { signal: stop.signal, startedAt: 0, onAnswer() {}, onTrouble() {} });
  assert.equal(final, null);
  assert.equal(requests.length, 0);
});

test('a large result goes out gzip-compressed, and plain from the first 415 on', async () => {
  const product = `[${Array.from({ length: 300 }, (_, i) => `[${i},${-i},${i * 1000}]`).join(',')}]`;
  const expected = `{"result":"${product}"}`;
  answers(
    { status: 200, body: '{"taskId":5,"status":"completed"}' },
    { status: 415, headers: { 'Accept-Encoding': 'identity' }, body: '{"error":"Content-Encoding \\"gzip\\" is not accepted"}' },
    { status: 200, body: '{"taskId":6,"status":"completed"}' },
    { status: 200, body: '{"taskId":7,"status":"completed"}' },
  );
  const lean = new CoordinatorClient(`http://127.0.0.1:${server.address().port}/`, { compressUploads: true });
  const sent = {};
  await lean.postResult(5, { result: new TextEncoder().encode(product) }, 'w1', null, sent);
  assert.equal(wire.length, 1);
  assert.equal(sent.bytes, wire[0].bytes);
  assert.ok(sent.bytes < expected.length / 2, `${sent.bytes} bytes sent for ${expected.length}`);
  await lean.postResult(6, { result: product }, 'w1');
  await lean.postResult(7, { result: product }, 'w1');
  assert.deepEqual(
    requests.map((r) => [r.url.split('?')[0], r.body === expected]),
    [['/task/5/result', true], ['/task/6/result', true], ['/task/6/result', true], ['/task/7/result', true]],
  );
  assert.equal(wire.length, 2, 'after the 415, nothing more is compressed');

  answers({ status: 200, body: '{"taskId":8,"status":"completed"}' }, { status: 204 });
  const plain = new CoordinatorClient(`http://127.0.0.1:${server.address().port}/`, { wire: 'plain' });
  await plain.postResult(8, { result: product }, 'w1');
  await plain.nextTask('w1', { waitSecs: 0 });
  assert.equal(wire.length, 0, 'a plain client compresses nothing');
  assert.equal(requests[1].url, '/task/next?workerId=w1&wait=0&token=1', 'and asks for no references');
});

test('a part whose B is a reference names the operand to fetch', async () => {
  const address = 'ab'.repeat(32);
  answers(
    { status: 200, body: `{"taskId":9,"data":{"A":"[[1,2]]","B":{"operand":"${address}","bytes":13}}}` },
    { status: 200, body: '"[[5],[6]]"' },
  );
  const task = await client.nextTask('w1', { waitSecs: 0 });
  assert.deepEqual(task.operandRef, { address, bytes: 13 });
  const b = await client.operand(address);
  assert.equal(new TextDecoder().decode(b), '"[[5],[6]]"');
  assert.equal(requests[1].url, `/operand/${address}`);
});

test('a packed product goes out as it is, and as its text from the first refusal on', async () => {
  // [[19,22],[43,-50]] packed: XIM1, 2, 2, then zigzag varints 38, 44, 86, 99.
  const packed = new Uint8Array([0x58, 0x49, 0x4d, 0x31, 2, 2, 38, 44, 86, 99]);
  const own = new CoordinatorClient(`http://127.0.0.1:${server.address().port}/`);
  answers({ status: 200, body: '{"taskId":5,"status":"completed"}' });
  await own.postResult(5, { result: packed }, 'w1');
  assert.equal(bodies[0].type, 'application/x-packed-int-matrix');
  assert.deepEqual(new Uint8Array(bodies[0].raw), packed);

  // A coordinator that does not read the packed form (400): the same result again as
  // text, and every product after it as text.
  answers(
    { status: 400, body: '{"error":"Result body is not valid JSON"}' },
    { status: 200, body: '{"taskId":6,"status":"completed"}' },
    { status: 200, body: '{"taskId":7,"status":"completed"}' },
  );
  const report = await own.postResult(6, { result: packed }, 'w1');
  assert.equal(report.status, 'completed');
  assert.equal(requests.length, 2);
  assert.equal(bodies[1].type, 'application/json');
  assert.equal(requests[1].body, '{"result":"[[19,22],[43,-50]]"}');
  assert.equal(own.packedBodies, false);
  await own.postResult(7, { result: packed }, 'w1');
  assert.equal(bodies[2].type, 'application/json');

  // A plain client never sends the packed form.
  const plain = new CoordinatorClient(`http://127.0.0.1:${server.address().port}/`, { wire: 'plain' });
  assert.equal(plain.packedBodies, false);
  answers({ status: 200, body: '{"taskId":8,"status":"completed"}' });
  await plain.postResult(8, { result: packed }, 'w1');
  assert.equal(requests[0].body, '{"result":"[[19,22],[43,-50]]"}');
});
