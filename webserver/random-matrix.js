// Random integer matrices as Dana text, for the main app's Generate button.
//
// A module of its own, with no DOM, so that generating large matrices can move
// into a Web Worker without changing it.

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
  const span = hi - lo + 1;
  const out = new Array(rows);
  for (let r = 0; r < rows; r += 1) {
    const row = new Array(cols);
    for (let c = 0; c < cols; c += 1) row[c] = lo + Math.floor(Math.random() * span);
    out[r] = `[${row.join(',')}]`;
  }
  return `[${out.join(',')}]`;
}
