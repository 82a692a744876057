// Unit tests of the pages' pure modules (no browser): the task reader (task/next
// answers as bytes, matrix text as typed) used by the worker and the main app, and
// the main app's matrix generator and display form.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMatrix } from '../main-view.js';
import { randomMatrixText } from '../random-matrix.js';
import { MatrixTextError, TaskJsonError, fieldsOf, leaseTokenOf, readMatrix, shapeOf, taskIdOf, taskOperands } from '../task-reader.js';

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
