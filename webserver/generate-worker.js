// Dedicated module Web Worker of the main app: generates the two random matrices of
// the Generate button off the page thread, so that the page stays responsive while
// tens of megabytes of text are written (random-matrix.js does the writing).
//
// Message in:  {id, m, k, n, lo, hi}   A is m x k, B is k x n, values in [lo, hi]
// Message out: {id, a, b, ms}          a, b: the matrices' Dana text as UTF-8 bytes
//                                      (Uint8Array, transferred); ms: time taken
//              {id, error}             when they could not be made (out of memory)

import { randomMatrixBytes } from './random-matrix.js';

self.onmessage = (event) => {
  const { id, m, k, n, lo, hi } = event.data;
  const started = performance.now();
  try {
    const a = randomMatrixBytes(m, k, lo, hi);
    const b = randomMatrixBytes(k, n, lo, hi);
    self.postMessage({ id, a, b, ms: performance.now() - started }, [a.buffer, b.buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err?.message ?? err) });
  }
};
