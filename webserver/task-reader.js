// Reads what the pages get and what people type, without turning numbers into
// JavaScript numbers: the task id, the lease token, the operands A and B and the
// part's place of a `GET task/next` answer, found in its UTF-8 bytes; a task report
// (`GET result/N`) whose product stays bytes; and Dana matrix text `[[1,2],[3,4]]`
// (its shape, its top-left corner, and its cells as written, checked for the person
// who typed it).
//
// `JSON.parse` rounds integers beyond 2^53, so a matrix is never parsed as JSON
// here: one scanner finds where each JSON value starts and ends, and an operand's
// bytes reach the wasm kernel as they are (the kernel checks them fully). Only a
// string with escapes is decoded, by `JSON.parse`, which is exact for strings.
// Computing products is left to the kernel (compute-worker.js).

/** Thrown when task JSON does not have the expected shape. */
export class TaskJsonError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TaskJsonError';
  }
}

/** Thrown by {@link readMatrix} with a message meant for the person who typed the text. */
export class MatrixTextError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MatrixTextError';
  }
}

/** Bytes of JSON and matrix text, shared with packed-product.js. */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
export const COMMA = 0x2c;

/** A number as Dana text or JSON writes it: integer or decimal, optional exponent. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Text as UTF-8 bytes; bytes as they are. */
const bytesOf = (input) => (input instanceof Uint8Array ? input : encoder.encode(String(input ?? '')));

function isSpace(c) {
  return c === 32 || (c >= 9 && c <= 13);
}

function skipSpace(bytes, i) {
  while (i < bytes.length && isSpace(bytes[i])) i += 1;
  return i;
}

// ---------------------------------------------------------------- the JSON scanner

/** Index just past the JSON string opening at `i` (escaped quotes skipped). */
function stringEnd(bytes, i) {
  let from = i + 1;
  for (;;) {
    // A native search: megabytes of matrix text are skipped quickly.
    const quote = bytes.indexOf(QUOTE, from);
    if (quote < 0) throw new TaskJsonError('unterminated string');
    let slashes = 0;
    while (bytes[quote - 1 - slashes] === BACKSLASH) slashes += 1;
    if (slashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past the JSON value that starts at `i`. */
function valueEnd(bytes, i) {
  const first = bytes[i];
  if (first === QUOTE) return stringEnd(bytes, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < bytes.length; j += 1) {
      const c = bytes[j];
      if (c === QUOTE) {
        j = stringEnd(bytes, j) - 1; // brackets inside a string do not count
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        depth += 1;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth -= 1;
        if (depth === 0) return j + 1;
      }
    }
    throw new TaskJsonError('unbalanced brackets');
  }
  let j = i;
  while (j < bytes.length && !isSpace(bytes[j]) && bytes[j] !== COMMA && bytes[j] !== CLOSE_BRACE && bytes[j] !== CLOSE_BRACKET) j += 1;
  if (j === i) throw new TaskJsonError(`unexpected "${i < bytes.length ? String.fromCharCode(first) : 'end of text'}"`);
  return j;
}

/** The members of the JSON object at `i`, in order, as `{key, start, end}` byte ranges. */
function* members(bytes, i) {
  i = skipSpace(bytes, i);
  if (bytes[i] !== OPEN_BRACE) throw new TaskJsonError('expected a JSON object');
  i = skipSpace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return;
  for (;;) {
    if (bytes[i] !== QUOTE) throw new TaskJsonError('expected a field name');
    const keyEnd = stringEnd(bytes, i);
    const key = JSON.parse(decoder.decode(bytes.subarray(i, keyEnd)));
    i = skipSpace(bytes, keyEnd);
    if (bytes[i] !== COLON) throw new TaskJsonError(`expected ":" after "${key}"`);
    const start = skipSpace(bytes, i + 1);
    const end = valueEnd(bytes, start);
    yield { key, start, end };
    i = skipSpace(bytes, end);
    if (bytes[i] === CLOSE_BRACE) return;
    if (bytes[i] !== COMMA) throw new TaskJsonError('expected "," or "}"');
    i = skipSpace(bytes, i + 1);
  }
}

/**
 * The fields of the JSON object starting at byte `start`, as byte ranges of their
 * values exactly as written (the first of two fields with one name wins).
 *
 * @param {Uint8Array | string} input a JSON object, e.g. `{"taskId":3,"data":{"A":[[1]],"B":"[[2]]"}}`
 * @param {number} start where the object starts (spaces before it are skipped)
 * @returns {Map<string, {start: number, end: number}>}
 * @throws {TaskJsonError} when there is no well-formed JSON object there
 */
export function fieldsOf(input, start = 0) {
  const bytes = bytesOf(input);
  const fields = new Map();
  for (const member of members(bytes, start)) {
    if (!fields.has(member.key)) fields.set(member.key, { start: member.start, end: member.end });
  }
  return fields;
}

/**
 * The task id of a `GET task/next` answer. Cheap when the id comes first, as the
 * coordinator writes it: the scan stops there, before the task data.
 *
 * @param {Uint8Array | string} answer the answer body
 * @returns {number} the id, or NaN when there is none
 */
export function taskIdOf(answer) {
  const bytes = bytesOf(answer);
  try {
    for (const { key, start, end } of members(bytes, 0)) {
      if (key === 'taskId') return Number(decoder.decode(bytes.subarray(start, end)));
    }
  } catch {
    // Not an object: no id.
  }
  return Number.NaN;
}

/**
 * The lease token of a `GET task/next?token=1` answer, which the coordinator writes
 * before the task data (so the scan stops there), or null when there is none.
 *
 * @param {Uint8Array | string} answer the answer body
 * @returns {string | null}
 */
export function leaseTokenOf(answer) {
  const bytes = bytesOf(answer);
  try {
    for (const { key, start, end } of members(bytes, 0)) {
      if (key === 'data') return null;
      if (key === 'leaseToken' && bytes[start] === QUOTE) return JSON.parse(decoder.decode(bytes.subarray(start, end)));
    }
  } catch {
    // Not an object: no token.
  }
  return null;
}

/**
 * Where a part of a split task belongs, from a `GET task/next?describe=1` answer:
 * the coordinator writes `"part":{"of":S,"number":K,"total":T}` last (part K of T of
 * the client's task S), so it is read from the end, without scanning the task data.
 *
 * @param {Uint8Array | string} answer the answer body
 * @returns {{of: number, number: number, total: number} | null} null for a task that
 *   is not a part (or an answer without the field)
 */
export function partOf(answer) {
  const bytes = bytesOf(answer);
  let end = bytes.length;
  while (end > 0 && isSpace(bytes[end - 1])) end -= 1;
  if (end < 2 || bytes[end - 1] !== CLOSE_BRACE) return null;
  let close = end - 2;
  while (close > 0 && isSpace(bytes[close])) close -= 1;
  if (bytes[close] !== CLOSE_BRACE) return null;
  // The place holds numbers only: its opening brace is the last one before its end.
  const open = bytes.lastIndexOf(OPEN_BRACE, close);
  if (open < 0) return null;
  let i = open - 1;
  while (i > 0 && isSpace(bytes[i])) i -= 1;
  if (bytes[i] !== COLON) return null;
  i -= 1;
  while (i > 0 && isSpace(bytes[i])) i -= 1;
  const key = '"part"';
  if (i + 1 < key.length || decoder.decode(bytes.subarray(i + 1 - key.length, i + 1)) !== key) return null;
  let place;
  try {
    place = JSON.parse(decoder.decode(bytes.subarray(open, close + 1)));
  } catch {
    return null;
  }
  const whole = (v) => Number.isSafeInteger(v) && v > 0;
  if (!whole(place?.of) || !whole(place.number) || !whole(place.total) || place.number > place.total) return null;
  return { of: place.of, number: place.number, total: place.total };
}

/**
 * A task report (`GET result/N`, `POST task/N/cancel`) read from its bytes: every
 * field but `result` as JSON reads it, and the result as UTF-8 bytes (a view into
 * `bytes` unless escaped), so that a product of tens of megabytes never becomes one
 * JavaScript string.
 *
 * @param {Uint8Array | string} input the answer body
 * @returns {{resultBytes: Uint8Array | null} & Record<string, unknown>} the fields,
 *   with `resultBytes` in place of `result` (null when there is none)
 * @throws {TaskJsonError} when the body is not a JSON object
 */
export function readReport(input) {
  const bytes = bytesOf(input);
  const report = { resultBytes: null };
  for (const [key, { start, end }] of fieldsOf(bytes)) {
    if (key === 'result') {
      report.resultBytes = bytes[start] === QUOTE ? stringBytes(bytes, start, end) : bytes.subarray(start, end);
      continue;
    }
    try {
      report[key] = JSON.parse(decoder.decode(bytes.subarray(start, end)));
    } catch {
      throw new TaskJsonError(`field "${key}" is not JSON`);
    }
  }
  return report;
}

/** The characters of the JSON string at [start, end) as UTF-8: a view unless it has escapes. */
function stringBytes(bytes, start, end) {
  const inner = bytes.subarray(start + 1, end - 1);
  if (!inner.includes(BACKSLASH)) return inner;
  return encoder.encode(JSON.parse(decoder.decode(bytes.subarray(start, end))));
}

/**
 * The two operands of a `GET task/next` answer as UTF-8 matrix text for the kernel.
 * An operand written as a string without escapes, or as a JSON array, is a view into
 * the answer's bytes (no copy, so megabytes of text are neither decoded nor encoded
 * again); a string with escapes is decoded. Task data that was submitted as a JSON
 * string holding the object is read inside that string. `a` and `b` are accepted
 * for `A` and `B`.
 *
 * @param {Uint8Array | string} answer the answer body, `{"taskId":N,"data":{"A":..,"B":..}}`
 * @returns {{a: Uint8Array, b: Uint8Array}}
 * @throws {TaskJsonError} when the answer is not JSON or its data has no matrices A and B
 */
export function taskOperands(answer, operandB = null) {
  const bytes = bytesOf(answer);
  const data = fieldsOf(bytes).get('data');
  if (!data) throw new TaskJsonError('the answer has no task data');
  if (bytes[data.start] !== QUOTE) return operandsOf(bytes, data.start, operandB);
  // The body was not JSON when submitted; it may still hold the object as text.
  const inner = stringBytes(bytes, data.start, data.end);
  return operandsOf(inner, skipSpace(inner, 0), operandB);
}

/** A matrix operand's JSON value at [start, end) of `bytes` as matrix text bytes. */
function matrixValue(bytes, start, end, name) {
  if (bytes[start] === QUOTE) return stringBytes(bytes, start, end);
  if (bytes[start] === OPEN_BRACKET) return bytes.subarray(start, end);
  throw new TaskJsonError(`matrix "${name}" is neither Dana text nor a JSON array`);
}

function operandsOf(bytes, start, operandB) {
  if (bytes[start] !== OPEN_BRACE) throw new TaskJsonError('task data is not an object with matrices "A" and "B"');
  const fields = fieldsOf(bytes, start);
  const operand = (name) => {
    const field = fields.get(name) ?? fields.get(name.toLowerCase());
    if (!field) throw new TaskJsonError(`task data lacks matrix "${name}"`);
    if (bytes[field.start] === OPEN_BRACE) {
      // A reference to a shared operand (`operands=ref`): its bytes were fetched.
      if (!operandB) throw new TaskJsonError(`matrix "${name}" is a reference, and its operand was not fetched`);
      const value = skipSpace(operandB, 0);
      return matrixValue(operandB, value, valueEnd(operandB, value), name);
    }
    return matrixValue(bytes, field.start, field.end, name);
  };
  return { a: operand('A'), b: operand('B') };
}

/**
 * The shared operand a `GET task/next?operands=ref` answer refers to in place of a
 * part's B, `"B":{"operand":"HASH","bytes":N}`, or null when B is inline.
 *
 * @param {Uint8Array | string} answer the answer body
 * @returns {{address: string, bytes: number} | null}
 */
export function operandRefOf(answer) {
  const bytes = bytesOf(answer);
  const data = fieldsOf(bytes).get('data');
  if (!data || bytes[data.start] !== OPEN_BRACE) return null;
  const b = fieldsOf(bytes, data.start).get('B');
  if (!b || bytes[b.start] !== OPEN_BRACE) return null;
  let ref;
  try {
    ref = JSON.parse(decoder.decode(bytes.subarray(b.start, b.end)));
  } catch {
    throw new TaskJsonError('matrix "B" is an object that is not a reference');
  }
  if (typeof ref?.operand !== 'string' || !/^[0-9a-f]{64}$/.test(ref.operand)) {
    throw new TaskJsonError('matrix "B" is an object that is not a reference');
  }
  return { address: ref.operand, bytes: Number(ref.bytes) || 0 };
}

// ---------------------------------------------------------------- matrix text

/**
 * Reads matrix text and returns its shape and its cells as the strings written.
 *
 * @param {string} text matrix text such as `[[1,2],[3,4]]` (spaces allowed after
 *   commas and around numbers)
 * @param {string} name what to call the matrix in error messages ("Matrix A", ...)
 * @returns {{rows: number, cols: number, cells: string[][]}}
 * @throws {MatrixTextError} when the text is not a non-empty rectangular matrix of numbers
 */
export function readMatrix(text, name = 'The matrix') {
  const src = encoder.encode(String(text ?? '').trim());
  if (src.length === 0) throw new MatrixTextError(`${name} is empty: write it as [[1,2],[3,4]].`);
  if (src[0] !== OPEN_BRACKET || src[src.length - 1] !== CLOSE_BRACKET) {
    throw new MatrixTextError(`${name} must start with "[[" and end with "]]", as in [[1,2],[3,4]].`);
  }
  const body = src.subarray(1, src.length - 1);
  const cells = [];
  let i = skipSpace(body, 0);
  if (i === body.length) throw new MatrixTextError(`${name} has no rows.`);
  while (i < body.length) {
    const rowNumber = cells.length + 1;
    if (body[i] !== OPEN_BRACKET) {
      throw new MatrixTextError(`${name}: row ${rowNumber} must be in brackets, as in [1,2].`);
    }
    const close = body.indexOf(CLOSE_BRACKET, i + 1);
    if (close < 0) throw new MatrixTextError(`${name}: row ${rowNumber} has no closing "]".`);
    const inner = body.subarray(i + 1, close);
    if (inner.includes(OPEN_BRACKET)) {
      throw new MatrixTextError(`${name}: row ${rowNumber} has brackets inside it; a matrix has two levels.`);
    }
    const row = rowCells(decoder.decode(inner), name, rowNumber);
    if (cells.length > 0 && row.length !== cells[0].length) {
      throw new MatrixTextError(
        `${name} is ragged: row ${rowNumber} has ${row.length} values but row 1 has ${cells[0].length}.`,
      );
    }
    cells.push(row);
    i = skipSpace(body, close + 1);
    if (i === body.length) break;
    if (body[i] !== COMMA) throw new MatrixTextError(`${name}: expected "," after row ${rowNumber}.`);
    i = skipSpace(body, i + 1);
    if (i === body.length) throw new MatrixTextError(`${name}: a row is missing after the last ",".`);
  }
  return { rows: cells.length, cols: cells[0].length, cells };
}

/** The values of one row's text (between its brackets), each checked to be a number. */
function rowCells(inner, name, rowNumber) {
  if (inner.trim() === '') throw new MatrixTextError(`${name}: row ${rowNumber} is empty.`);
  const row = inner.split(',').map((cell) => cell.trim());
  row.forEach((cell, c) => {
    if (!NUMBER.test(cell)) {
      const shown = cell === '' ? 'an empty value' : `"${cell.slice(0, 20)}"`;
      throw new MatrixTextError(`${name}: row ${rowNumber}, column ${c + 1} is ${shown}, not a number.`);
    }
  });
  return row;
}

/**
 * Shape of a matrix the kernel has already accepted, found by counting brackets and
 * commas (cheap: used for FLOP counts, not for checking).
 *
 * @param {string|Uint8Array|number[][]} matrix matrix text (or its UTF-8 bytes) or a
 *   JSON array of rows
 * @returns {{rows: number, cols: number}}
 */
export function shapeOf(matrix) {
  if (Array.isArray(matrix)) {
    return { rows: matrix.length, cols: Array.isArray(matrix[0]) ? matrix[0].length : 0 };
  }
  const bytes = bytesOf(matrix);
  let open = 0;
  for (let i = bytes.indexOf(OPEN_BRACKET); i >= 0; i = bytes.indexOf(OPEN_BRACKET, i + 1)) open += 1;
  const first = bytes.indexOf(OPEN_BRACKET, bytes.indexOf(OPEN_BRACKET) + 1);
  const end = bytes.indexOf(CLOSE_BRACKET, first);
  let commas = 0;
  for (let i = first + 1; i < end; i += 1) if (bytes[i] === COMMA) commas += 1;
  return { rows: Math.max(open - 1, 0), cols: first < 0 ? 0 : commas + 1 };
}

/** Longest text of one cell read for a corner (a number is much shorter). */
const CELL_CHARS = 64;

/**
 * The top-left `rows` x `cols` cells of a matrix the coordinator accepted, read from
 * its first rows only: a product of tens of megabytes is not decoded for a corner.
 *
 * @param {Uint8Array} bytes compact matrix text as UTF-8, `[[1,2],[3,4]]`
 * @param {number} rows at most this many rows
 * @param {number} cols at most this many cells of each row
 * @returns {string[][]} the cells as written
 */
export function cornerOf(bytes, rows, cols) {
  const cells = [];
  let at = bytes.indexOf(OPEN_BRACKET, bytes.indexOf(OPEN_BRACKET) + 1);
  while (at >= 0 && cells.length < rows) {
    const close = bytes.indexOf(CLOSE_BRACKET, at);
    if (close < 0) break;
    const head = decoder.decode(bytes.subarray(at + 1, Math.min(close, at + 1 + cols * CELL_CHARS)));
    cells.push(head.split(',').slice(0, cols).map((cell) => cell.trim()));
    at = bytes.indexOf(OPEN_BRACKET, close);
  }
  return cells;
}
