// GFLOP/s of the kernel's wasm32 builds in V8 (node), the engine Chromium
// runs, against matrixmultiply compiled to the same wasm32 target, measured in
// the same run.
//
//   ./compile-wasm.sh
//   node --experimental-wasm-relaxed-simd kernel/bench/wasm-node.mjs [sizes...]
//
// Columns (GFLOP/s, best / median of repeated runs):
// - relaxed: webserver/pkg/kernel_relaxed_bg.wasm (simd128 + relaxed-simd,
//   fused multiply-adds) through the JS API multiplyF64, copies included.
//   Chromium accepts relaxed SIMD by default; node 20 needs the flag above
//   (without it this column says "n/a").
// - simd128: webserver/pkg/kernel_bg.wasm (plain simd128), same API.
// - C-ABI: kernel_ffi.wasm, this kernel's plain simd128 build through its C
//   ABI on buffers already in wasm memory;
// - matrixmultiply: kernel_ffi.wasm's matrixmultiply dgemm, same conditions.
// The ratio is the best kernel column over matrixmultiply (medians). Times
// are CPU time of this process, so other load on the machine matters less.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "webserver", "pkg");
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (sizes.length === 0) sizes.push(64, 256, 512, 1024);

const glue = pathToFileURL(join(pkg, "kernel.js")).href;
const bindgen = await import(glue);
await bindgen.default({ module_or_path: readFileSync(join(pkg, "kernel_bg.wasm")) });
// A second instance of the same glue (a distinct module URL) for the relaxed build.
let relaxed = null;
const relaxedBytes = readFileSync(join(pkg, "kernel_relaxed_bg.wasm"));
if (WebAssembly.validate(relaxedBytes)) {
  relaxed = await import(`${glue}?relaxed`);
  await relaxed.default({ module_or_path: relaxedBytes });
}
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

// CPU time of this process in milliseconds. The machine is shared, so wall
// time would also count time slices given to other processes; CPU time
// counts only this process's work (all its threads, so warm-up first).
function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

// Runs `fn` in batches of at least ~5 ms of CPU time until about `budgetMs`
// of CPU time has passed (at least 5 batches) and returns the best and the
// median GFLOP/s.
function measure(n, fn, budgetMs = 1500) {
  fn(); // warm-up (and tier-up)
  fn();
  let batch = 1;
  for (let t = cpuMs(); cpuMs() - t < 5; batch *= 2) {
    for (let i = 0; i < batch; i++) fn();
  }
  const times = [];
  const start = cpuMs();
  while (times.length < 5 || (cpuMs() - start < budgetMs && times.length < 100)) {
    const t0 = cpuMs();
    for (let i = 0; i < batch; i++) fn();
    times.push((cpuMs() - t0) / batch);
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

console.log(`kernels: ${relaxed ? relaxed.kernelInfo() : "relaxed-simd not accepted"}, ${bindgen.kernelInfo()} (node ${process.version})`);
console.log("n      relaxed        simd128        C-ABI          matrixmultiply  ratio  (GFLOP/s, best/median)");
for (const n of sizes) {
  const a = randomMatrix(n * n, n), b = randomMatrix(n * n, n + 1);
  const fast = relaxed ? measure(n, () => relaxed.multiplyF64(a, n, n, b, n, n)) : null;
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
  if (relaxed) {
    const z = relaxed.multiplyF64(a, n, n, b, n, n);
    for (let i = 0; i < z.length; i++) worst = Math.max(worst, Math.abs(z[i] - y[i]));
    if (worst > 1e-9 * n) throw new Error(`relaxed results differ by ${worst} at n=${n}`);
  }
  kernel.free(); base.free();
  const f = (r) => `${r.best.toFixed(1)}/${r.median.toFixed(1)}`.padEnd(14);
  const best = Math.max(k.median, js.median, fast ? fast.median : 0);
  console.log(`${String(n).padEnd(6)} ${fast ? f(fast) : "n/a".padEnd(14)} ${f(js)} ${f(k)} ${f(m)}  ${(best / m.median).toFixed(2)}x`);
}
