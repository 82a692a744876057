// GFLOP/s of the kernel's wasm32 simd128 build in V8 (node), the engine
// Chromium runs, against matrixmultiply compiled to the same wasm32 target,
// measured in the same run.
//
//   ./compile-wasm.sh && node kernel/bench/wasm-node.mjs [sizes...]
//
// Reads webserver/pkg/kernel.js + kernel_bg.wasm (the browser build, through
// its JS API multiplyF64, copies included) and webserver/pkg/kernel_ffi.wasm
// (the same kernel through its C ABI, plus matrixmultiply's dgemm as the
// baseline, both on buffers already in wasm memory).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "webserver", "pkg");
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (sizes.length === 0) sizes.push(64, 256, 512, 1024);

const bindgen = await import(join(pkg, "kernel.js"));
await bindgen.default({ module_or_path: readFileSync(join(pkg, "kernel_bg.wasm")) });
const { instance } = await WebAssembly.instantiate(readFileSync(join(pkg, "kernel_ffi.wasm")), {});
const ffi = instance.exports;

function randomMatrix(len, seed) {
  const out = new Float64Array(len);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

// Runs `fn` until about `budgetMs` has passed (at least 3 times) and returns
// the best and the median GFLOP/s.
function measure(n, fn, budgetMs = 1500) {
  fn(); // warm-up (and tier-up)
  const times = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < budgetMs && times.length < 200)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  const gflops = (ms) => (2 * n ** 3) / (ms * 1e6);
  return { best: gflops(times[0]), median: gflops(times[times.length >> 1]), runs: times.length };
}

function ffiCall(name, n, a, b) {
  const bytes = n * n * 8;
  const [pa, pb, pc] = [ffi.kernel_alloc(bytes), ffi.kernel_alloc(bytes), ffi.kernel_alloc(bytes)];
  new Float64Array(ffi.memory.buffer, pa, n * n).set(a);
  new Float64Array(ffi.memory.buffer, pb, n * n).set(b);
  const run = () => {
    const status = ffi[name](pa, n, n, pb, n, pc);
    if (status !== 0) throw new Error(`${name} returned ${status}`);
  };
  const result = () => new Float64Array(ffi.memory.buffer, pc, n * n).slice();
  return { run, result, free: () => [pa, pb, pc].forEach((p) => ffi.kernel_free(p, bytes)) };
}

console.log(`kernel: ${bindgen.kernelInfo()} (node ${process.version})`);
console.log("n      multiplyF64  kernel C-ABI  matrixmultiply  ratio   (GFLOP/s, best / median)");
for (const n of sizes) {
  const a = randomMatrix(n * n, n), b = randomMatrix(n * n, n + 1);
  const js = measure(n, () => bindgen.multiplyF64(a, n, n, b, n, n));
  const kernel = ffiCall("kernel_multiply_f64", n, a, b);
  const base = ffiCall("kernel_baseline_dgemm", n, a, b);
  const k = measure(n, kernel.run);
  const m = measure(n, base.run);
  // Same product from both, within rounding.
  const [x, y] = [kernel.result(), base.result()];
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  if (worst > 1e-9 * n) throw new Error(`results differ by ${worst} at n=${n}`);
  kernel.free(); base.free();
  const f = (r) => `${r.best.toFixed(1)}/${r.median.toFixed(1)}`.padEnd(14);
  console.log(`${String(n).padEnd(6)} ${f(js)} ${f(k)} ${f(m)}  ${(k.median / m.median).toFixed(2)}x`);
}
