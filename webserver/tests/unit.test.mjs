// Unit tests of the pages' pure modules (no browser): matrix text checks used by
// the main app, and the task JSON reader used by the worker.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MatrixTextError, formatMatrix, randomMatrixText, readMatrix, shapeOf } from '../matrix-text.js';
import { TaskJsonError, rawFields, taskIdOf, taskOperands } from '../task-json.js';

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
