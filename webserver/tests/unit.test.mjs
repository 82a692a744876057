// Unit tests of the pages' pure modules (no browser): matrix text checks used by
// the main app, and the task JSON reader used by the worker.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MatrixTextError, formatMatrix, randomMatrixText, readMatrix, shapeOf } from '../matrix-text.js';
import { TaskJsonError, operandBytes, rawFields, taskIdOf, taskIdOfBytes, taskOperands } from '../task-json.js';

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

test('rawFields returns values as written, strings with brackets included', () => {
  const text = '{ "taskId" : 5 , "data" : {"A":"[[1,2]]","B":[[3],[4]]}, "x": "a\\"]}" }';
  const f = rawFields(text);
  assert.equal(f.get('taskId'), '5');
  assert.equal(f.get('data'), '{"A":"[[1,2]]","B":[[3],[4]]}');
  assert.equal(f.get('x'), '"a\\"]}"');
});

test('rawFields handles escaped quotes and backslashes and nested values', () => {
  const text = JSON.stringify({ a: 'end\\', b: 'say "]" ok', c: { d: [1, [2, '}']] }, e: -1.5e3 });
  const f = rawFields(text);
  assert.equal(JSON.parse(f.get('a')), 'end\\');
  assert.equal(JSON.parse(f.get('b')), 'say "]" ok');
  assert.deepEqual(JSON.parse(f.get('c')), { d: [1, [2, '}']] });
  assert.equal(f.get('e'), '-1500');
  assert.throws(() => rawFields('{"a":[1,2}'), TaskJsonError);
  assert.throws(() => rawFields('{"a":"open}'), TaskJsonError);
});

test('taskIdOf finds the id at the start or anywhere', () => {
  assert.equal(taskIdOf('{"taskId":42,"data":{}}'), 42);
  assert.equal(taskIdOf('{"data":{"A":"]"},"taskId":7}'), 7);
  assert.ok(Number.isNaN(taskIdOf('{"data":1}')));
});

test('taskOperands passes JSON arrays on untouched, big integers included', () => {
  const ops = taskOperands('{"A":[[9007199254740993, 1]],"B":"[[1],[2]]"}');
  assert.deepEqual(ops, { a: '[[9007199254740993, 1]]', b: '[[1],[2]]' });
});

test('taskOperands reads an object that was submitted as a JSON string', () => {
  assert.deepEqual(taskOperands(JSON.stringify('{"A":"[[1]]","B":"[[2]]"}')), { a: '[[1]]', b: '[[2]]' });
});

test('task data without matrices is an error, not a guess', () => {
  for (const data of ['null', '5', '"text"', '[[1]]', '{"A":"[[1]]"}', '{"A":5,"B":"[[1]]"}']) {
    assert.throws(() => taskOperands(data), TaskJsonError, data);
  }
});

const utf8 = (text) => new TextEncoder().encode(text);
const textOf = (bytes) => new TextDecoder().decode(bytes);

test('operandBytes finds plain operands as views into the answer bytes', () => {
  const answers = [
    ['{"taskId":3,"data":{"A":"[[1,2],[3,4]]","B":"[[5],[6]]"}}', '[[1,2],[3,4]]', '[[5],[6]]'],
    [' { "taskId" : 3 ,\n "data" : { "B" : [[5], [6]], "A" : "[[1, 2]]", "x": null } } ', '[[1, 2]]', '[[5], [6]]'],
    ['{"data":{"a":"[[7]]","b":"[[8]]","n":-1.5e3},"taskId":4,"note":"é"}', '[[7]]', '[[8]]'],
  ];
  for (const [answer, a, b] of answers) {
    const bytes = utf8(answer);
    const ops = operandBytes(bytes);
    assert.ok(ops, answer);
    assert.equal(textOf(ops.a), a);
    assert.equal(textOf(ops.b), b);
    assert.equal(ops.a.buffer, bytes.buffer, 'a view, not a copy');
    // The same operands as the text path reads.
    const fromText = taskOperands(rawFields(answer).get('data'));
    assert.deepEqual({ a: textOf(ops.a), b: textOf(ops.b) }, fromText);
  }
});

test('operandBytes leaves every other form to the text path', () => {
  for (const answer of [
    '{"taskId":3,"data":{"A":"[[1,\\u0032]]","B":"[[5]]"}}',
    '{"taskId":3,"data":"{\\"A\\":\\"[[1]]\\",\\"B\\":\\"[[2]]\\"}"}',
    '{"taskId":3,"data":{"A":"[[1]]"}}',
    '{"taskId":3,"data":{"A":5,"B":"[[1]]"}}',
    '{"taskId":3,"data":{"A":["1"],"B":"[[1]]"}}',
    '{"taskId":3,"data":{"A":"[[1]]","B":"[[2]]"}',
    '{"taskId":3,"data":{"A":"[[1]]","B":"[[2]]}}',
    '[1]',
    '',
  ]) {
    assert.equal(operandBytes(utf8(answer)), null, answer);
  }
});

test('taskIdOfBytes reads the id from the start or, failing that, anywhere', () => {
  assert.equal(taskIdOfBytes(utf8('{"taskId":42,"data":{}}')), 42);
  const late = `{"data":{"A":"${'1'.repeat(100)}"},"taskId":7}`;
  assert.equal(taskIdOfBytes(utf8(late)), 7);
  assert.ok(Number.isNaN(taskIdOfBytes(utf8('{"data":1}'))));
});
