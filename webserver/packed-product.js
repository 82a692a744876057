// The packed form of an integer product (kernel/src/packed.rs): the four bytes `XIM1`,
// the row and column counts as LEB128 varints, then each value in row order as a
// zigzag LEB128 varint. The wasm kernel writes it (multiplyTextToWire) and the worker
// page posts it as `Content-Type: application/x-packed-int-matrix`, about 3 bytes a
// value where the text takes 7. This module reads it back into the Dana text, for a
// coordinator that refuses the packed form, and packs a task's integer operands for
// `POST task` (packTask).

import { BACKSLASH, CLOSE_BRACKET, COMMA, OPEN_BRACKET, QUOTE, fieldsOf } from './task-reader.js';

/** The media type a packed product is posted with. */
export const PACKED_TYPE = 'application/x-packed-int-matrix';

const MAGIC = [0x58, 0x49, 0x4d, 0x31];

/** Whether `bytes` (a Uint8Array) hold a packed product rather than a text. */
export function isPacked(bytes) {
  return bytes.length >= MAGIC.length && MAGIC.every((byte, i) => bytes[i] === byte);
}

/**
 * The Dana text of a packed product, as the kernel writes it (`[[19,22],[43,50]]`), as
 * UTF-8 bytes.
 *
 * @param {Uint8Array} bytes
 * @returns {Uint8Array}
 * @throws {Error} bytes that are not one whole packed matrix
 */
export function packedToText(bytes) {
  if (!isPacked(bytes)) throw new Error('not a packed matrix');
  let at = MAGIC.length;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= bytes.length) throw new Error('the packed matrix ends early');
      const byte = bytes[at++];
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error('a packed value does not fit in 64 bits');
  };
  const rows = Number(varint());
  const cols = Number(varint());
  if (rows === 0 || cols === 0) throw new Error('a packed matrix has a row and a column');
  const parts = [];
  for (let i = 0; i < rows; i += 1) {
    const row = new Array(cols);
    for (let j = 0; j < cols; j += 1) {
      const zigzag = varint();
      row[j] = (zigzag >> 1n) ^ -(zigzag & 1n);
    }
    parts.push(`[${row.join(',')}]`);
  }
  if (at !== bytes.length) throw new Error('bytes follow the packed matrix');
  return new TextEncoder().encode(`[${parts.join(',')}]`);
}

const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const isSpace = (byte) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
/** Digits a value may have here: below 2^52, so its zigzag form is exact in a double. */
const MAX_DIGITS = 15;

/**
 * One integer matrix in Dana text (`bytes` from `start` to `end`) packed, or null when
 * it is not one this packs: floats, more than 15 digits, ragged rows, anything else
 * (those go as text, and the coordinator judges them).
 *
 * @returns {Uint8Array | null}
 */
function packText(bytes, start, end) {
  // Each value packs into no more bytes than its digits and the comma after it.
  const values = new Uint8Array(end - start + 8);
  let out = 0;
  let i = start;
  // Reads past `end` see the closing quote or nothing, neither a digit nor a bracket.
  let c = bytes[i];
  const skipSpace = () => {
    while (isSpace(c)) c = bytes[++i];
  };
  skipSpace();
  if (c !== OPEN_BRACKET) return null;
  c = bytes[++i];
  let rows = 0;
  let cols = -1;
  for (;;) {
    skipSpace();
    if (c !== OPEN_BRACKET) return null;
    c = bytes[++i];
    let count = 0;
    for (;;) {
      if (isSpace(c)) skipSpace();
      const negative = c === MINUS;
      if (negative) c = bytes[++i];
      let value = 0;
      const first = i;
      while (c >= ZERO && c <= NINE) {
        value = value * 10 + (c - ZERO);
        c = bytes[++i];
      }
      if (i === first || i - first > MAX_DIGITS) return null;
      let zigzag = negative && value !== 0 ? value * 2 - 1 : value * 2;
      if (zigzag < 0x80000000) {
        // The common case, in 32-bit operations.
        while (zigzag >= 0x80) {
          values[out++] = (zigzag & 0x7f) | 0x80;
          zigzag >>>= 7;
        }
        values[out++] = zigzag;
      } else {
        out = writeVarint(values, out, zigzag);
      }
      count += 1;
      if (isSpace(c)) skipSpace();
      if (c === COMMA) {
        c = bytes[++i];
        continue;
      }
      if (c !== CLOSE_BRACKET) return null;
      c = bytes[++i];
      break;
    }
    if (cols >= 0 && count !== cols) return null;
    cols = count;
    rows += 1;
    skipSpace();
    if (c === COMMA) {
      c = bytes[++i];
      continue;
    }
    if (c !== CLOSE_BRACKET) return null;
    c = bytes[++i];
    break;
  }
  skipSpace();
  if (i !== end) return null;
  const head = new Uint8Array(MAGIC.length + 16);
  head.set(MAGIC);
  const headEnd = writeVarint(head, writeVarint(head, MAGIC.length, rows), cols);
  const packed = new Uint8Array(headEnd + out);
  packed.set(head.subarray(0, headEnd));
  packed.set(values.subarray(0, out), headEnd);
  return packed;
}

/**
 * Writes `value`, an integer from 0 to 2^53, as a LEB128 varint into `into` at `at`.
 *
 * @returns {number} where it ended
 */
function writeVarint(into, at, value) {
  while (value >= 0x80) {
    into[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  into[at++] = value;
  return at;
}

/**
 * A task body `{"A":"<Dana text>","B":"<Dana text>"}` with its two matrices packed back
 * to back (A then B), for `POST task` with the packed media type; null when the body is
 * anything else (other fields, arrays, escapes, floats...), which then goes as it is.
 * The coordinator stores the task as `{"A":"TEXT","B":"TEXT"}` in its own compact text.
 *
 * @param {Uint8Array} bytes the task body
 * @returns {Uint8Array | null}
 */
export function packTask(bytes) {
  let fields;
  try {
    fields = fieldsOf(bytes);
  } catch {
    return null;
  }
  if (fields.size !== 2) return null;
  const matrix = (name) => {
    const field = fields.get(name);
    if (!field || bytes[field.start] !== QUOTE || bytes[field.end - 1] !== QUOTE) return null;
    const inner = bytes.subarray(field.start + 1, field.end - 1);
    if (inner.includes(BACKSLASH)) return null;
    return packText(bytes, field.start + 1, field.end - 1);
  };
  const a = matrix('A');
  const b = a && matrix('B');
  if (!b) return null;
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}
