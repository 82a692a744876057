// Random integer matrices as Dana text, for the main app's Generate button.
//
// A module of its own, with no DOM, so that it runs in the generator's Web Worker
// (generate-worker.js) as well as in the unit tests. The text is written straight
// into UTF-8 bytes: a 4096 x 4096 matrix is about 40 MB of text, which as bytes can
// be handed to the page without a copy and uploaded without becoming a string.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const OPEN = 0x5b;
const CLOSE = 0x5d;
const COMMA = 0x2c;

/**
 * Matrix text of `rows` x `cols` random integers in `[lo, hi]`, as UTF-8 bytes.
 *
 * @param {number} rows
 * @param {number} cols
 * @param {number} lo smallest value
 * @param {number} hi largest value
 * @param {() => number} random uniform numbers in [0, 1)
 * @returns {Uint8Array} exactly the text's bytes (`[[1,-2],[3,4]]`)
 */
export function randomMatrixBytes(rows, cols, lo = -9, hi = 9, random = Math.random) {
  const span = hi - lo + 1;
  // Every value's bytes, written once.
  const values = Array.from({ length: span }, (_, i) => encoder.encode(String(lo + i)));
  const widest = Math.max(...values.map((v) => v.length));
  const out = new Uint8Array(2 + rows * (2 + cols * (widest + 1)));
  let at = 0;
  out[at++] = OPEN;
  for (let r = 0; r < rows; r += 1) {
    if (r > 0) out[at++] = COMMA;
    out[at++] = OPEN;
    for (let c = 0; c < cols; c += 1) {
      if (c > 0) out[at++] = COMMA;
      const value = values[Math.floor(random() * span)];
      if (value.length === 1) out[at++] = value[0];
      else {
        out.set(value, at);
        at += value.length;
      }
    }
    out[at++] = CLOSE;
  }
  out[at++] = CLOSE;
  return out.slice(0, at);
}

/**
 * Matrix text of `rows` x `cols` random integers in `[lo, hi]`.
 *
 * @param {number} rows
 * @param {number} cols
 * @param {number} lo smallest value
 * @param {number} hi largest value
 * @returns {string}
 */
export function randomMatrixText(rows, cols, lo = -9, hi = 9) {
  return decoder.decode(randomMatrixBytes(rows, cols, lo, hi));
}
