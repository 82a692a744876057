// Dedicated module Web Worker of the main app: generates the two random matrices of
// the Generate button off the page thread, so that the page stays responsive while
// tens of megabytes of text are written (random-matrix.js does the writing). Each
// matrix comes back as a Blob, made here: the page builds the task's body and the
// download links from Blobs without touching the bytes on its thread.
//
// Message in:  {id, m, k, n, lo, hi, textMaxBytes}  A is m x k, B is k x n, values
//                                                   in [lo, hi]
// Message out: {id, a, b, ms}   a, b: {blob, size, text}: the matrix's Dana text as a
//                               Blob of `size` bytes, and as a string too when it is
//                               at most textMaxBytes (else null); ms: time taken
//              {id, error}      when they could not be made (out of memory)

import { randomMatrixBytes } from './random-matrix.js';

const decoder = new TextDecoder();

self.onmessage = (event) => {
  const { id, m, k, n, lo, hi, textMaxBytes } = event.data;
  const started = performance.now();
  const matrix = (rows, cols) => {
    const bytes = randomMatrixBytes(rows, cols, lo, hi);
    return {
      blob: new Blob([bytes], { type: 'text/plain' }),
      size: bytes.length,
      text: bytes.length <= textMaxBytes ? decoder.decode(bytes) : null,
    };
  };
  try {
    const a = matrix(m, k);
    const b = matrix(k, n);
    self.postMessage({ id, a, b, ms: performance.now() - started });
  } catch (err) {
    self.postMessage({ id, error: String(err?.message ?? err) });
  }
};
