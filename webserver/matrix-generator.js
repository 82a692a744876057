// The page side of generate-worker.js: asks the generator's Web Worker for random
// matrices, one request at a time, and hands back their bytes (and their text when
// small enough for a text field), so that the main app's page thread never builds
// a matrix of tens of megabytes.

/** Largest generated dimension (a 4096x4096 matrix is about 40 MB of text). */
export const MAX_GENERATED = 4096;
/** Values of generated matrices. */
const GENERATED_RANGE = { lo: -9, hi: 9 };
/**
 * Generated matrices up to this many bytes of text go into the text fields; larger
 * ones stand in for them as a summary (a text field of megabytes slows the page).
 */
const TEXT_FIELD_MAX_BYTES = 256 * 1024;

/** The generator's Web Worker: one request at a time, answered with the matrices' bytes. */
export class Generator {
  constructor() {
    this.worker = null;
    this.next = 1;
    this.waiting = new Map();
  }

  /**
   * Random A (m x k) and B (k x n) as Dana text: each a Blob, and a string too when
   * at most TEXT_FIELD_MAX_BYTES.
   *
   * @returns {Promise<{a: {blob: Blob, size: number, text: string | null},
   *   b: {blob: Blob, size: number, text: string | null}, ms: number}>}
   */
  generate(m, k, n) {
    if (!this.worker) {
      this.worker = new Worker(new URL('./generate-worker.js', import.meta.url), { type: 'module' });
      this.worker.onmessage = ({ data }) => {
        const pending = this.waiting.get(data.id);
        this.waiting.delete(data.id);
        if (data.error) pending?.reject(new Error(data.error));
        else pending?.resolve(data);
      };
      this.worker.onerror = (event) => {
        event.preventDefault();
        for (const pending of this.waiting.values()) pending.reject(new Error(event.message || 'the generator failed'));
        this.waiting.clear();
        this.worker = null;
      };
    }
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, m, k, n, ...GENERATED_RANGE, textMaxBytes: TEXT_FIELD_MAX_BYTES });
    });
  }
}
