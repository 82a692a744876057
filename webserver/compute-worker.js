// Dedicated module Web Worker that owns one instance of the wasm kernel and computes
// one task at a time, so the page thread never blocks.
//
// Messages in:  {type: 'compute', taskId, answer, operandB, packed}
//                                                  answer = the `GET task/next` body as UTF-8
//                                                  bytes (Uint8Array) or as text,
//                                                  {"taskId":N,"data":{"A":..,"B":..}}, A and B
//                                                  each Dana text or a JSON array;
//                                                  packed: an integer product is wanted packed
// Messages out: {type: 'ready', info}             kernel loaded (info: kernelInfo() text)
//               {type: 'fatal', error}            kernel could not be loaded
//               {type: 'done', taskId, result, packed, ms, flops}  result = the product
//                                                 text as UTF-8 bytes, or packed
//                                                 (packed-product.js) when asked and it is
//                                                 an integer product (Uint8Array, transferred)
//               {type: 'done', taskId, error, ms} data the kernel refuses (ragged, mismatch...)
//               {type: 'done', taskId, error, crashed: true}  the kernel trapped
//
// Claiming tasks and talking to the coordinator is left to the page (work-loop.js).

import initBest, { multiplyTextToBytes, multiplyTextToWire, kernelInfo } from './pkg/kernel_best.js';
import { isPacked } from './packed-product.js';
import { shapeOf, taskOperands } from './task-reader.js';

const encoder = new TextEncoder();

/**
 * Runs small products before the first task. Engines first run wasm from a quick
 * baseline compile and move a function to optimised code only after it has run for a
 * while; one long call never moves, so a worker's first large task ran about 4x slower
 * than the next (3.4 s against 0.7 s for 1024 x 2048 by 2048 x 2048 in V8). A few
 * small calls get the hot code optimised first.
 */
async function warmUp() {
  const square = (n, value) =>
    `[${Array.from({ length: n }, (_, i) => `[${Array.from({ length: n }, (_, j) => value(i, j)).join(',')}]`).join(',')}]`;
  const ints = encoder.encode(square(128, (i, j) => ((i * 31 + j * 17) % 199) - 99));
  const floats = encoder.encode(square(64, (i, j) => ((i * 7 + j) % 50) / 8 - 3));
  try {
    for (let i = 0; i < 30; i += 1) multiplyTextToBytes(ints, ints);
    for (let i = 0; i < 10; i += 1) multiplyTextToBytes(floats, floats);
  } catch {
    // A kernel that cannot multiply says so on its first task.
  }
  // Optimised code is compiled on background threads: give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 100));
}

// kernel_best.js loads the relaxed-SIMD build (fused multiply-adds) where the engine
// accepts it and the plain simd128 build otherwise, each by its URL next to the glue.
const ready = initBest().then(
  async () => {
    await warmUp();
    let info = '';
    try {
      info = String(kernelInfo());
    } catch {
      info = '';
    }
    self.postMessage({ type: 'ready', info });
    return true;
  },
  (err) => {
    self.postMessage({ type: 'fatal', error: `kernel failed to load: ${err?.message ?? err}` });
    return false;
  },
);

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg?.type !== 'compute') return;
  const { taskId, answer, operandB, packed } = msg;
  if (!(await ready)) {
    self.postMessage({ type: 'done', taskId, error: 'kernel failed to load', ms: 0, fatal: true });
    return;
  }
  let ops;
  try {
    ops = taskOperands(answer, operandB);
  } catch (err) {
    self.postMessage({ type: 'done', taskId, error: `unreadable task data: ${err.message}`, ms: 0 });
    return;
  }
  const start = performance.now();
  try {
    // UTF-8 bytes go into wasm memory in one copy (strings would be copied a
    // character at a time by the generated glue), and the product comes back
    // as bytes, sent on to the coordinator without becoming a string (packed, when
    // asked, for an integer product: writing it costs no more than the text).
    const result = packed ? multiplyTextToWire(ops.a, ops.b) : multiplyTextToBytes(ops.a, ops.b);
    const ms = performance.now() - start;
    const aShape = shapeOf(ops.a);
    const bShape = shapeOf(ops.b);
    const flops = 2 * aShape.rows * aShape.cols * bShape.cols;
    self.postMessage(
      {
        type: 'done',
        taskId,
        result,
        packed: isPacked(result),
        ms,
        flops,
        shape: `${aShape.rows}x${aShape.cols} * ${bShape.rows}x${bShape.cols}`,
      },
      [result.buffer],
    );
  } catch (err) {
    const ms = performance.now() - start;
    // A trap (out of memory, a bug) says nothing about the data: the page gives the
    // task back and replaces this worker, whose wasm instance may be unusable now.
    const crashed = err instanceof WebAssembly.RuntimeError || err instanceof RangeError;
    self.postMessage({ type: 'done', taskId, error: String(err?.message ?? err), ms, crashed });
  }
};
