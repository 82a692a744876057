// Unit tests of the pages' pure modules (no browser): the task reader (task/next
// answers as bytes, a part's place, task reports with the product as bytes, matrix
// text as typed, a product's corner) used by the worker and the main app, the main
// app's matrix generator and display form, the worker page's rates over busy time,
// and its per-tab worker id.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSize, formatTask } from '../format.js';
import { formatMatrix } from '../main-view.js';
import { randomMatrixBytes, randomMatrixText } from '../random-matrix.js';
import {
  MatrixTextError,
  TaskJsonError,
  cornerOf,
  fieldsOf,
  leaseTokenOf,
  operandRefOf,
  partOf,
  readMatrix,
  readReport,
  shapeOf,
  taskIdOf,
  taskOperands,
} from '../task-reader.js';
import { RATE_WINDOW_MS, Throughput } from '../throughput.js';
import { TabIdentity } from '../worker-identity.js';

test('readMatrix reads shape and cells, spaces allowed', () => {
  const m = readMatrix(' [[1, 2 ,3],\n [ -4,5.5,6e3 ]] ', 'A');
  assert.equal(m.rows, 2);
  assert.equal(m.cols, 3);
  assert.deepEqual(m.cells, [['1', '2', '3'], ['-4', '5.5', '6e3']]);
});

test('readMatrix keeps 64-bit integers exactly as written', () => {
  assert.deepEqual(readMatrix('[[9223372036854775807]]').cells, [['9223372036854775807']]);
});

test('ragged matrix is rejected with the rows named', () => {
  assert.throws(() => readMatrix('[[1,2],[3]]', 'Matrix A'), {
    name: 'MatrixTextError',
    message: 'Matrix A is ragged: row 2 has 1 values but row 1 has 2.',
  });
});

test('non-numbers, empty input and bad brackets are rejected', () => {
  const bad = ['', '   ', '[]', '[[]]', '[[1,x]]', '[[1,,2]]', '[1,2]', '[[1,2]', '[[1],[2],]', '[[1][2]]', '[[[1]]]', '[["1"]]'];
  for (const text of bad) {
    assert.throws(() => readMatrix(text, 'M'), MatrixTextError, `accepted ${JSON.stringify(text)}`);
  }
});

test('shapeOf counts rows and columns of accepted text and arrays', () => {
  assert.deepEqual(shapeOf('[[1,2,3],[4,5,6]]'), { rows: 2, cols: 3 });
  assert.deepEqual(shapeOf('[[7]]'), { rows: 1, cols: 1 });
  assert.deepEqual(shapeOf([[1, 2], [3, 4], [5, 6]]), { rows: 3, cols: 2 });
  const bytes = new TextEncoder().encode(' [ [1, 2, 3] , [4,5,6] ] ');
  assert.deepEqual(shapeOf(bytes), { rows: 2, cols: 3 });
  assert.deepEqual(shapeOf(new TextEncoder().encode('[[7]]')), { rows: 1, cols: 1 });
});

test('randomMatrixText has the asked shape and range', () => {
  const m = readMatrix(randomMatrixText(5, 7, -3, 3));
  assert.equal(m.rows, 5);
  assert.equal(m.cols, 7);
  for (const v of m.cells.flat()) assert.ok(Number(v) >= -3 && Number(v) <= 3);
});

test('formatMatrix puts one row per line', () => {
  assert.equal(formatMatrix('[[1,2],[3,4]]'), '[[1,2],\n [3,4]]');
});

const utf8 = (text) => new TextEncoder().encode(text);
const textOf = (bytes) => new TextDecoder().decode(bytes);

/** The value texts of `fieldsOf(text)`, by name. */
function rawFields(text) {
  const bytes = utf8(text);
  return new Map([...fieldsOf(bytes)].map(([key, { start, end }]) => [key, textOf(bytes.subarray(start, end))]));
}

/** A `GET task/next` answer carrying `data` (raw JSON). */
const answerOf = (data) => `{"taskId":1,"data":${data}}`;

/** The operands of an answer as text. */
function operandTexts(answer) {
  const ops = taskOperands(answer);
  return { a: textOf(ops.a), b: textOf(ops.b) };
}

test('fieldsOf returns values as written, strings with brackets included', () => {
  const text = '{ "taskId" : 5 , "data" : {"A":"[[1,2]]","B":[[3],[4]]}, "x": "a\\"]}" }';
  const f = rawFields(text);
  assert.equal(f.get('taskId'), '5');
  assert.equal(f.get('data'), '{"A":"[[1,2]]","B":[[3],[4]]}');
  assert.equal(f.get('x'), '"a\\"]}"');
});

test('fieldsOf handles escaped quotes and backslashes and nested values', () => {
  const text = JSON.stringify({ a: 'end\\', b: 'say "]" ok', c: { d: [1, [2, '}']] }, e: -1.5e3 });
  const f = rawFields(text);
  assert.equal(JSON.parse(f.get('a')), 'end\\');
  assert.equal(JSON.parse(f.get('b')), 'say "]" ok');
  assert.deepEqual(JSON.parse(f.get('c')), { d: [1, [2, '}']] });
  assert.equal(f.get('e'), '-1500');
  assert.throws(() => fieldsOf(utf8('{"a":[1,2}')), TaskJsonError);
  assert.throws(() => fieldsOf(utf8('{"a":"open}')), TaskJsonError);
});

test('leaseTokenOf finds the token written before the data, or none', () => {
  assert.equal(leaseTokenOf('{"taskId":4,"leaseToken":"1-0f","data":{"A":"[[1]]","B":"[[2]]"}}'), '1-0f');
  assert.equal(leaseTokenOf(new TextEncoder().encode('{"taskId":4,"leaseToken":"2-aa","data":"x"}')), '2-aa');
  assert.equal(leaseTokenOf('{"taskId":4,"data":{"leaseToken":"not this"}}'), null);
  assert.equal(leaseTokenOf('{"taskId":4,"leaseToken":5,"data":1}'), null);
  assert.equal(leaseTokenOf('not json'), null);
});

test('taskIdOf finds the id at the start or anywhere, in text or bytes', () => {
  assert.equal(taskIdOf('{"taskId":42,"data":{}}'), 42);
  assert.equal(taskIdOf('{"data":{"A":"]"},"taskId":7}'), 7);
  assert.ok(Number.isNaN(taskIdOf('{"data":1}')));
  assert.equal(taskIdOf(utf8('{"taskId":42,"data":{}}')), 42);
  const late = `{"data":{"A":"${'1'.repeat(100)}"},"taskId":7}`;
  assert.equal(taskIdOf(utf8(late)), 7);
  assert.ok(Number.isNaN(taskIdOf(utf8('{"data":1}'))));
});

test('taskIdOf reads no further than the id (the data after it is the compute worker\'s)', () => {
  assert.equal(taskIdOf(utf8('{"taskId":5,"data":{"A":[[1,')), 5);
  assert.ok(Number.isNaN(taskIdOf(utf8('[5]'))));
  assert.ok(Number.isNaN(taskIdOf(utf8(''))));
});

test('taskOperands passes JSON arrays on untouched, big integers included', () => {
  const ops = operandTexts(answerOf('{"A":[[9007199254740993, 1]],"B":"[[1],[2]]"}'));
  assert.deepEqual(ops, { a: '[[9007199254740993, 1]]', b: '[[1],[2]]' });
});

test('taskOperands reads an object that was submitted as a JSON string', () => {
  assert.deepEqual(operandTexts(answerOf(JSON.stringify('{"A":"[[1]]","B":"[[2]]"}'))), { a: '[[1]]', b: '[[2]]' });
});

test('a part whose B is a reference is computed with the operand fetched for it', () => {
  const address = '0f'.repeat(32);
  const answer = answerOf(`{"A":"[[1,2]]","B":{"operand":"${address}","bytes":11}}`);
  assert.deepEqual(operandRefOf(answer), { address, bytes: 11 });
  const text = (bytes) => new TextDecoder().decode(bytes);
  for (const [operand, b] of [['"[[3],[4]]"', '[[3],[4]]'], ['[[3],[4]]', '[[3],[4]]'], ['"[[3],\\n[4]]"', '[[3],\n[4]]']]) {
    const ops = taskOperands(answer, utf8(operand));
    assert.deepEqual({ a: text(ops.a), b: text(ops.b) }, { a: '[[1,2]]', b }, operand);
  }
  assert.throws(() => taskOperands(answer), TaskJsonError, 'a reference whose operand was not fetched');
  assert.equal(operandRefOf(answerOf('{"A":"[[1]]","B":"[[2]]"}')), null);
  assert.throws(() => operandRefOf(answerOf('{"A":"[[1]]","B":{"operand":"../x"}}')), TaskJsonError);
});

test('task data without matrices is an error, not a guess', () => {
  for (const data of ['null', '5', '"text"', '[[1]]', '{"A":"[[1]]"}', '{"A":5,"B":"[[1]]"}']) {
    assert.throws(() => taskOperands(answerOf(data)), TaskJsonError, data);
  }
});

test('taskOperands finds plain operands as views into the answer bytes', () => {
  const answers = [
    ['{"taskId":3,"data":{"A":"[[1,2],[3,4]]","B":"[[5],[6]]"}}', '[[1,2],[3,4]]', '[[5],[6]]'],
    [' { "taskId" : 3 ,\n "data" : { "B" : [[5], [6]], "A" : "[[1, 2]]", "x": null } } ', '[[1, 2]]', '[[5], [6]]'],
    ['{"data":{"a":"[[7]]","b":"[[8]]","n":-1.5e3},"taskId":4,"note":"é"}', '[[7]]', '[[8]]'],
  ];
  for (const [answer, a, b] of answers) {
    const bytes = utf8(answer);
    const ops = taskOperands(bytes);
    assert.equal(textOf(ops.a), a, answer);
    assert.equal(textOf(ops.b), b, answer);
    assert.equal(ops.a.buffer, bytes.buffer, 'a view, not a copy');
    assert.equal(ops.b.buffer, bytes.buffer, 'a view, not a copy');
    // The same operands when the answer is given as text.
    assert.deepEqual(operandTexts(answer), { a, b });
  }
});

test('taskOperands decodes escaped strings and reads every other form, or says why not', () => {
  const escaped = utf8('{"taskId":3,"data":{"A":"[[1,\\u0032]]","B":"[[5]]"}}');
  const ops = taskOperands(escaped);
  assert.deepEqual({ a: textOf(ops.a), b: textOf(ops.b) }, { a: '[[1,2]]', b: '[[5]]' });
  assert.notEqual(ops.a.buffer, escaped.buffer, 'an escaped string is decoded');
  assert.deepEqual(operandTexts('{"taskId":3,"data":"{\\"A\\":\\"[[1]]\\",\\"B\\":\\"[[2]]\\"}"}'), { a: '[[1]]', b: '[[2]]' });
  // An array is passed on as written: the kernel refuses strings in it.
  assert.deepEqual(operandTexts('{"taskId":3,"data":{"A":["1"],"B":"[[1]]"}}'), { a: '["1"]', b: '[[1]]' });
  for (const answer of [
    '{"taskId":3,"data":{"A":"[[1]]"}}',
    '{"taskId":3,"data":{"A":5,"B":"[[1]]"}}',
    '{"taskId":3,"data":{"A":"[[1]]","B":"[[2]]"}',
    '{"taskId":3,"data":{"A":"[[1]]","B":"[[2]]}}',
    '{"taskId":3}',
    '[1]',
    '',
  ]) {
    assert.throws(() => taskOperands(utf8(answer)), TaskJsonError, answer);
  }
});

test('randomMatrixBytes writes compact Dana text of the asked shape and range', () => {
  const bytes = randomMatrixBytes(40, 33, -9, 9);
  assert.ok(bytes instanceof Uint8Array);
  const m = readMatrix(new TextDecoder().decode(bytes));
  assert.equal(m.rows, 40);
  assert.equal(m.cols, 33);
  const values = m.cells.flat().map(Number);
  assert.ok(values.every((v) => Number.isInteger(v) && v >= -9 && v <= 9));
  assert.ok(new Set(values).size > 10, 'values spread over the range');
  assert.deepEqual(shapeOf(bytes), { rows: 40, cols: 33 });
  // Wide values and a fixed draw: every byte as String() writes it.
  let i = 0;
  const draws = [0, 0.5, 0.9999999];
  const text = new TextDecoder().decode(randomMatrixBytes(1, 3, -1000, 1000, () => draws[i++]));
  assert.equal(text, '[[-1000,0,1000]]');
});

test('partOf reads a part\'s place from the end of a lease, and nothing else', () => {
  const utf8 = (t) => new TextEncoder().encode(t);
  const data = `{"A":"${'[1,2],'.repeat(100)}[3,4]]","B":"[[1],[2]]"}`;
  assert.deepEqual(partOf(utf8(`{"taskId":2147483646,"data":${data},"part":{"of":14,"number":2,"total":4}}`)), { of: 14, number: 2, total: 4 });
  assert.deepEqual(partOf(`{"taskId":5,"data":{"A":"[[1]]","B":"[[2]]"} , "part" : { "of":3 ,"number":1,"total":2 } }\n`), { of: 3, number: 1, total: 2 });
  for (const answer of [
    `{"taskId":5,"data":${data}}`,
    '{"taskId":5,"data":{"A":"[[1]]","B":"[[2]]","part":{"of":3,"number":1,"total":2}}}',
    '{"taskId":5,"data":"x","part":{"of":3,"number":3,"total":2}}',
    '{"taskId":5,"data":"x","part":{"of":0,"number":1,"total":2}}',
    '{"taskId":5,"data":"x","party":{"of":3,"number":1,"total":2}}',
    '{"taskId":5,"data":"x","part":{"of":3,"number":1}}',
    '',
    '}',
  ]) {
    assert.equal(partOf(answer), null, answer);
  }
});

test('readReport keeps the result as bytes and reads the other fields', () => {
  const utf8 = (t) => new TextEncoder().encode(t);
  const bytes = utf8('{"taskId":3,"status":"completed","result":"[[1,2],[3,4]]","workerId":"w \\"1\\"","parts":[{"taskId":9}]}');
  const report = readReport(bytes);
  assert.equal(new TextDecoder().decode(report.resultBytes), '[[1,2],[3,4]]');
  assert.equal(report.resultBytes.buffer, bytes.buffer, 'a view, not a copy');
  assert.equal(report.workerId, 'w "1"');
  assert.deepEqual(report.parts, [{ taskId: 9 }]);
  assert.equal(report.result, undefined);
  const escaped = readReport('{"taskId":3,"status":"completed","result":"[[\\u0031]]"}');
  assert.equal(new TextDecoder().decode(escaped.resultBytes), '[[1]]');
  assert.equal(readReport('{"taskId":3,"status":"pending"}').resultBytes, null);
  assert.throws(() => readReport('[1]'), TaskJsonError);
});

test('cornerOf reads the top-left cells from the first rows only', () => {
  const utf8 = (t) => new TextEncoder().encode(t);
  assert.deepEqual(cornerOf(utf8('[[1,2,3],[4,5,6],[7,8,9]]'), 2, 2), [['1', '2'], ['4', '5']]);
  assert.deepEqual(cornerOf(utf8('[[1, -2],[3,4]]'), 8, 8), [['1', '-2'], ['3', '4']]);
  const wide = `[[${Array.from({ length: 5000 }, (_, i) => i).join(',')}]]`;
  assert.deepEqual(cornerOf(utf8(wide), 8, 3), [['0', '1', '2']]);
});

test('format names parts by their client\'s task and sizes by their unit', () => {
  assert.equal(formatTask({ taskId: 7, part: null }), 'task 7');
  assert.equal(formatTask({ taskId: 2147483646, part: { of: 14, number: 2, total: 4 } }), 'task 2147483646 (part 2/4 of task 14)');
  assert.equal(formatSize(512), '512 bytes');
  assert.equal(formatSize(3584), '3.5 KB');
  assert.equal(formatSize(10.4 * 1024 * 1024), '10.4 MB');
});

test('rates count busy time only: idle time neither lowers nor raises them', () => {
  const t = new Throughput();
  const slot1 = {};
  const slot2 = {};
  assert.equal(t.totalRates([slot1, slot2]), null, 'nothing before the first task');
  // 2 GFLOP in 1 s of compute, the slot held the task 2 s; 1 MB in, 0.5 MB out.
  t.add(slot1, { flops: 2e9, computeMs: 1000, busyMs: 2000, bytesIn: 1e6, bytesOut: 5e5 });
  t.add(slot1, { flops: 6e9, computeMs: 1000, busyMs: 2000, bytesIn: 3e6, bytesOut: 5e5 });
  const one = t.slotRates(slot1);
  assert.equal(one.gflops, 4);
  assert.equal(one.tasksPerSec, 0.5);
  assert.equal(one.bytesInPerTask, 2e6);
  // A second slot computing side by side adds its rates.
  t.add(slot2, { flops: 1e9, computeMs: 1000, busyMs: 1000, bytesIn: 1e6, bytesOut: 1e6 });
  const total = t.totalRates([slot1, slot2]);
  assert.equal(total.gflops, 5);
  assert.equal(total.tasksPerSec, 1.5);
  assert.equal(total.tasks, 3);
  assert.equal(total.bytesInPerTask, 5e6 / 3);
  assert.deepEqual(t.totalRates([slot1, slot2]), total, 'time passing changes nothing');
  // Old tasks leave the window once newer ones fill its busy time.
  for (let i = 0; i < RATE_WINDOW_MS / 1000; i += 1) t.add(slot2, { flops: 3e9, computeMs: 1000, busyMs: 1000, bytesIn: 0, bytesOut: 0 });
  assert.equal(t.slotRates(slot2).gflops, 3);
  assert.equal(t.slotRates(slot2).tasks, RATE_WINDOW_MS / 1000);
  // One task longer than the window is still measured.
  t.add(slot1, { flops: 1e11, computeMs: 20000, busyMs: 25000, bytesIn: 0, bytesOut: 0 });
  assert.equal(t.slotRates(slot1).tasks, 1);
  assert.equal(t.slotRates(slot1).gflops, 5);
});

/** A Storage kept in a Map. */
function memoryStorage(entries = []) {
  const map = new Map(entries);
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, String(v)), map };
}

/** Resolves once `identity` has taken an id other than `was`. */
function renamed(identity, was) {
  return new Promise((resolve) => {
    const check = () => (identity.id !== was ? resolve(identity.id) : setTimeout(check, 5));
    check();
  });
}

test('each tab is its own worker: a browser prefix and a tab part, kept across reloads', () => {
  const channel = `test-ids-${Math.random()}`;
  const local = memoryStorage();
  const tabA = memoryStorage();
  const first = new TabIdentity({ local, session: tabA, channel });
  assert.match(first.id, /^browser-[0-9a-f]{8}-[0-9a-f]{4}$/);
  const second = new TabIdentity({ local, session: memoryStorage(), channel });
  assert.notEqual(second.id, first.id, 'another tab is another worker');
  assert.equal(second.id.slice(0, 16), first.id.slice(0, 16), 'of the same browser');
  first.close();
  const reloaded = new TabIdentity({ local, session: tabA, channel });
  assert.equal(reloaded.id, first.id, 'a reload keeps the id');
  const fromUrl = new TabIdentity({ local, session: memoryStorage(), fromUrl: 'e2e-1', channel });
  assert.equal(fromUrl.id, 'e2e-1');
  for (const identity of [second, reloaded, fromUrl]) identity.close();
});

test('a duplicated tab (same sessionStorage) is told its id is taken and takes another', async () => {
  const channel = `test-ids-${Math.random()}`;
  const local = memoryStorage();
  const original = new TabIdentity({ local, session: memoryStorage(), channel });
  const copied = memoryStorage(original.session.map);
  const heard = [];
  const duplicate = new TabIdentity({ local, session: copied, channel, changed: (id, why) => heard.push(why) });
  assert.equal(duplicate.id, original.id, 'starts with the copied id');
  const id = await renamed(duplicate, original.id);
  assert.notEqual(id, original.id);
  assert.equal(copied.getItem('xdana.tabWorkerId'), id, 'the new id is kept for the tab');
  assert.match(heard[0], /another tab of this browser uses/);
  // An id the person typed is kept even when another tab says it uses it.
  duplicate.use(original.id);
  duplicate.heard({ type: 'taken', id: original.id, tab: original.tab, to: duplicate.tab });
  assert.equal(duplicate.id, original.id);
  original.close();
  duplicate.close();
});

test('a packed product reads back as the text the kernel writes', async () => {
  const { isPacked, packedToText } = await import('../packed-product.js');
  const text = (bytes) => new TextDecoder().decode(packedToText(new Uint8Array(bytes)));
  const magic = [0x58, 0x49, 0x4d, 0x31];
  // 1 x 3: 0, -1, 64 (the kernel's own test bytes).
  assert.equal(text([...magic, 1, 3, 0, 1, 0x80, 1]), '[[0,-1,64]]');
  // 2 x 1: i64::MAX and i64::MIN (zigzag 2^64 - 2 and 2^64 - 1).
  const max = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  const min = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  assert.equal(text([...magic, 2, 1, ...max, ...min]), '[[9223372036854775807],[-9223372036854775808]]');
  assert.ok(isPacked(new Uint8Array(magic)));
  assert.ok(!isPacked(new TextEncoder().encode('[[1]]')));
  assert.throws(() => text([...magic, 1, 2, 0]), /ends early/);
  assert.throws(() => text([...magic, 1, 1, 0, 0]), /bytes follow/);
  assert.throws(() => text([...magic, 0, 1]), /a row and a column/);
  assert.throws(() => text([0x5b, 0x5b, 0x31, 0x5d, 0x5d]), /not a packed matrix/);
  // A varint cut inside its continuation bytes, and a count the bytes cannot hold.
  assert.throws(() => text([...magic, 1, 1, 0x80, 0x80]), /ends early/);
  assert.throws(() => text([...magic, 0x80, 0x80, 0x01, 0x80, 0x80, 0x01, 0]), /ends early/);
});

test('packed values of every width read back exactly, the fast and the wide ones', async () => {
  const { packedToText } = await import('../packed-product.js');
  const zigzag = (v) => (v < 0n ? -2n * v - 1n : 2n * v);
  const varint = (v) => {
    const out = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  };
  // Around each varint width (1 to 10 bytes), both signs, and a seeded spread.
  const values = [0n, 9n, 10n, -64n, 63n, 64n, -65n, 99999n, -100000n, 134217727n, -134217728n, 134217728n];
  for (let bits = 6n; bits < 63n; bits += 7n) values.push(2n ** bits - 1n, 2n ** bits, -(2n ** bits), -(2n ** bits) - 1n);
  values.push(2n ** 63n - 1n, -(2n ** 63n));
  let seed = 7;
  for (let k = 0; k < 500; k += 1) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    values.push(BigInt(seed % 600001) - 300000n);
  }
  const cols = 4;
  while (values.length % cols) values.push(-1n);
  const rows = values.length / cols;
  const bytes = [0x58, 0x49, 0x4d, 0x31, ...varint(BigInt(rows)), ...varint(BigInt(cols))];
  for (const v of values) bytes.push(...varint(zigzag(v)));
  const rowsText = [];
  for (let i = 0; i < rows; i += 1) rowsText.push(`[${values.slice(i * cols, (i + 1) * cols).join(',')}]`);
  assert.equal(new TextDecoder().decode(packedToText(new Uint8Array(bytes))), `[${rowsText.join(',')}]`);
  // One-byte negatives take four characters a byte: the text grows past its first guess.
  const small = [0x58, 0x49, 0x4d, 0x31, 1, ...varint(200n), ...Array(200).fill(127)];
  assert.equal(new TextDecoder().decode(packedToText(new Uint8Array(small))), `[[${Array(200).fill(-64).join(',')}]]`);
});

test('packTask packs two integer matrices and leaves anything else alone', async () => {
  const { packTask, packedToText } = await import('../packed-product.js');
  const enc = new TextEncoder();
  const pack = (body) => packTask(enc.encode(body));
  const both = pack('{ "A" : " [ [1, -2] ,\n[-0,40] ] ", "B":"[[123456789012345]]"}');
  assert.ok(both);
  // Two packed matrices back to back: the second starts at the second XIM1.
  const second = both.indexOf(0x58, 4);
  const text = (bytes) => new TextDecoder().decode(packedToText(bytes));
  assert.equal(text(both.subarray(0, second)), '[[1,-2],[0,40]]');
  assert.equal(text(both.subarray(second)), '[[123456789012345]]');
  // 130 rows: a count of two varint bytes.
  const tall = `[${Array.from({ length: 130 }, (_, i) => `[${i - 65}]`).join(',')}]`;
  const tallBoth = pack(`{"A":"${tall}","B":"[[1]]"}`);
  assert.equal(text(tallBoth.subarray(0, tallBoth.length - 7)), tall);
  for (const body of [
    '{"A":"[[1.5]]","B":"[[1]]"}', // a float
    '{"A":"[[1234567890123456]]","B":"[[1]]"}', // 16 digits
    '{"A":"[[1,2],[3]]","B":"[[1]]"}', // ragged
    '{"A":[[1]],"B":"[[1]]"}', // a JSON array, not text
    '{"A":"[[1]]","B":"[[1]]","C":1}', // another field
    '{"A":"[[1]]"}', // no B
    '{"A":"[[1]] x","B":"[[1]]"}', // something after the matrix
    'not JSON',
  ]) {
    assert.equal(pack(body), null, body);
  }
});
