// The packed form of an integer product (kernel/src/packed/): the four bytes `XIM1`,
// the row and column counts as LEB128 varints, then each value in row order as a
// zigzag LEB128 varint. The wasm kernel writes it (multiplyTextToWire) and the worker
// page posts it as `Content-Type: application/x-packed-int-matrix`, about 3 bytes a
// value where the text takes 7. This module reads it back into the Dana text, for a
// coordinator that refuses the packed form, and packs a task's integer operands for
// `POST task` (packTask). A coordinator answers a completed integer product packed to a
// client that asks (`Accept`), which reads it back into the text here too.

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
 * UTF-8 bytes. Values of up to four varint bytes (below 2^27 in size) are read in 32-bit
 * operations; larger ones exactly, through BigInt.
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
  // Each value takes a byte or more: a count the bytes cannot hold ends early.
  if (rows * cols > bytes.length - at) throw new Error('the packed matrix ends early');
  const end = bytes.length;
  // A value of b varint bytes has at most 2.5 b digits, a sign and a comma.
  let text = new Uint8Array(Math.ceil((end - at) * 3.5) + 2 * rows + 16);
  let out = 0;
  text[out++] = OPEN_BRACKET;
  for (let i = 0; i < rows; i += 1) {
    if (i > 0) text[out++] = COMMA;
    text[out++] = OPEN_BRACKET;
    for (let j = 0; j < cols; j += 1) {
      if (j > 0) text[out++] = COMMA;
      if (text.length - out < 24) {
        const grown = new Uint8Array(text.length * 2);
        grown.set(text);
        text = grown;
      }
      // Up to four varint bytes: 28 bits, in 32-bit operations.
      const from = at;
      let byte = at < end ? bytes[at++] : -1;
      let zigzag = byte & 0x7f;
      for (let shift = 7; byte & 0x80 && shift < 28; shift += 7) {
        byte = at < end ? bytes[at++] : -1;
        zigzag |= (byte & 0x7f) << shift;
      }
      if (byte < 0) throw new Error('the packed matrix ends early');
      if (byte & 0x80) {
        at = from;
        const wide = varint();
        out = writeDigits(text, out, String((wide >> 1n) ^ -(wide & 1n)));
        continue;
      }
      let value = zigzag >>> 1;
      if (zigzag & 1) {
        text[out++] = MINUS;
        value += 1;
      }
      let digits = 1;
      for (let bound = 10; value >= bound && digits < 9; bound *= 10) digits += 1;
      out += digits;
      let put = out;
      do {
        const tenth = (value / 10) | 0;
        text[--put] = ZERO + (value - tenth * 10);
        value = tenth;
      } while (value > 0);
    }
    text[out++] = CLOSE_BRACKET;
  }
  text[out++] = CLOSE_BRACKET;
  if (at !== end) throw new Error('bytes follow the packed matrix');
  return text.subarray(0, out);
}

/** Writes the ASCII `digits` into `into` at `at`, and returns where they end. */
function writeDigits(into, at, digits) {
  for (let k = 0; k < digits.length; k += 1) into[at++] = digits.charCodeAt(k);
  return at;
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
