// Matrix text helpers shared by the pages.
//
// Reads the Dana matrix text form `[[1,2],[3,4]]` (spaces allowed after commas and
// around numbers) far enough to check its shape and show it, without turning the
// numbers into JavaScript numbers, so 64-bit integers are never rounded. The product
// itself is always computed by the wasm kernel (pkg/kernel.js), never here.

/** A number as Dana text or JSON writes it: integer or decimal, optional exponent. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Thrown by {@link readMatrix} with a message meant for the person who typed the text. */
export class MatrixTextError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MatrixTextError';
  }
}

/**
 * Reads matrix text and returns its shape and its cells as the strings written.
 *
 * @param {string} text matrix text such as `[[1,2],[3,4]]`
 * @param {string} name what to call the matrix in error messages ("A", "B", ...)
 * @returns {{rows: number, cols: number, cells: string[][]}}
 * @throws {MatrixTextError} when the text is not a non-empty rectangular matrix of numbers
 */
export function readMatrix(text, name = 'The matrix') {
  const src = String(text ?? '').trim();
  if (src === '') throw new MatrixTextError(`${name} is empty: write it as [[1,2],[3,4]].`);
  if (src[0] !== '[' || src[src.length - 1] !== ']') {
    throw new MatrixTextError(`${name} must start with "[[" and end with "]]", as in [[1,2],[3,4]].`);
  }
  const body = src.slice(1, -1);
  const cells = [];
  let i = 0;
  const skipSpace = () => {
    while (i < body.length && /\s/.test(body[i])) i += 1;
  };
  skipSpace();
  if (i === body.length) throw new MatrixTextError(`${name} has no rows.`);
  while (i < body.length) {
    const rowNumber = cells.length + 1;
    if (body[i] !== '[') {
      throw new MatrixTextError(`${name}: row ${rowNumber} must be in brackets, as in [1,2].`);
    }
    const close = body.indexOf(']', i + 1);
    if (close < 0) throw new MatrixTextError(`${name}: row ${rowNumber} has no closing "]".`);
    const inner = body.slice(i + 1, close);
    if (inner.includes('[')) {
      throw new MatrixTextError(`${name}: row ${rowNumber} has brackets inside it; a matrix has two levels.`);
    }
    if (inner.trim() === '') throw new MatrixTextError(`${name}: row ${rowNumber} is empty.`);
    const row = inner.split(',').map((cell) => cell.trim());
    row.forEach((cell, c) => {
      if (!NUMBER.test(cell)) {
        const shown = cell === '' ? 'an empty value' : `"${cell.slice(0, 20)}"`;
        throw new MatrixTextError(`${name}: row ${rowNumber}, column ${c + 1} is ${shown}, not a number.`);
      }
    });
    if (cells.length > 0 && row.length !== cells[0].length) {
      throw new MatrixTextError(
        `${name} is ragged: row ${rowNumber} has ${row.length} values but row 1 has ${cells[0].length}.`,
      );
    }
    cells.push(row);
    i = close + 1;
    skipSpace();
    if (i === body.length) break;
    if (body[i] !== ',') throw new MatrixTextError(`${name}: expected "," after row ${rowNumber}.`);
    i += 1;
    skipSpace();
    if (i === body.length) throw new MatrixTextError(`${name}: a row is missing after the last ",".`);
  }
  return { rows: cells.length, cols: cells[0].length, cells };
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
  // Bytes and strings alike: codes at indices, native searches for one code.
  const codes = matrix instanceof Uint8Array ? matrix : String(matrix);
  const at = (i) => (typeof codes === 'string' ? codes.charCodeAt(i) : codes[i]);
  const find = (code, from) => codes.indexOf(typeof codes === 'string' ? String.fromCharCode(code) : code, from);
  let open = 0;
  for (let i = find(91, 0); i >= 0; i = find(91, i + 1)) open += 1; // '['
  const first = find(91, find(91, 0) + 1);
  const end = find(93, first); // ']'
  let commas = 0;
  for (let i = first + 1; i < end; i += 1) if (at(i) === 44) commas += 1; // ','
  return { rows: Math.max(open - 1, 0), cols: first < 0 ? 0 : commas + 1 };
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
  const span = hi - lo + 1;
  const out = new Array(rows);
  for (let r = 0; r < rows; r += 1) {
    const row = new Array(cols);
    for (let c = 0; c < cols; c += 1) row[c] = lo + Math.floor(Math.random() * span);
    out[r] = `[${row.join(',')}]`;
  }
  return `[${out.join(',')}]`;
}

/**
 * The matrix text laid out one row per line, for display.
 *
 * @param {string} text compact matrix text
 * @returns {string}
 */
export function formatMatrix(text) {
  return String(text).replace(/\]\s*,\s*\[/g, '],\n [');
}
