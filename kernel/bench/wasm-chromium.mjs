// GFLOP/s of the kernel's browser builds in headless Chromium (the engine
// the browser workers run in), against matrixmultiply compiled to the same
// wasm32 target, in the same page and run.
//
//   ./compile-wasm.sh && node kernel/bench/wasm-chromium.mjs [sizes...]
//
// Serves a small page and webserver/pkg/ on 127.0.0.1 (a free port), opens
// it in `chromium --headless` (CHROMIUM overrides /usr/bin/chromium), and
// prints what the page measured: multiplyF64 through the JS API of
// kernel_relaxed_bg.wasm (simd128 + relaxed-simd, when Chromium accepts it)
// and of kernel_bg.wasm (plain simd128), and matrixmultiply's dgemm through
// kernel_ffi.wasm's C ABI. Times are wall-clock (performance.now, in
// batches of at least 5 ms), so other load on the machine lowers them; the
// node script measures CPU time instead. Bounded: each size runs for about
// 1.5 s per column, and the whole run gives up after 5 minutes.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "webserver", "pkg");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (sizes.length === 0) sizes.push(64, 256, 512, 1024);
const TIME_LIMIT_MS = 5 * 60 * 1000;

const page = `<!doctype html><meta charset="utf-8"><script type="module">
const sizes = ${JSON.stringify(sizes)};
function randomMatrix(len) { const m = new Float64Array(len); for (let i = 0; i < len; i++) m[i] = Math.random() * 2 - 1; return m; }
function measure(n, fn, budgetMs = 1500) {
  fn(); fn();
  let batch = 1;
  for (let t = performance.now(); performance.now() - t < 5; batch *= 2) for (let i = 0; i < batch; i++) fn();
  const times = []; const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budgetMs && times.length < 100)) {
    const t0 = performance.now(); for (let i = 0; i < batch; i++) fn(); times.push((performance.now() - t0) / batch);
  }
  times.sort((x, y) => x - y);
  const g = (ms) => (2 * n ** 3) / (ms * 1e6);
  return { best: g(times[0]), median: g(times[times.length >> 1]) };
}
const lines = [];
try {
  const plain = await import("/pkg/kernel.js");
  await plain.default({ module_or_path: "/pkg/kernel_bg.wasm" });
  const relaxedBytes = await (await fetch("/pkg/kernel_relaxed_bg.wasm")).arrayBuffer();
  let relaxed = null;
  if (WebAssembly.validate(relaxedBytes)) {
    relaxed = await import("/pkg/kernel.js?relaxed");
    await relaxed.default({ module_or_path: relaxedBytes });
  }
  const ffiBytes = await (await fetch("/pkg/kernel_ffi.wasm")).arrayBuffer();
  const ffi = (await WebAssembly.instantiate(ffiBytes, {})).instance.exports;
  lines.push("kernels: " + (relaxed ? relaxed.kernelInfo() : "relaxed-simd not accepted") + ", " + plain.kernelInfo() + " (" + navigator.userAgent.match(/Chrom[^ ]+/)?.[0] + ")");
  lines.push("n      relaxed        simd128        matrixmultiply  ratio  (GFLOP/s, best/median)");
  for (const n of sizes) {
    const a = randomMatrix(n * n), b = randomMatrix(n * n);
    const fast = relaxed ? measure(n, () => relaxed.multiplyF64(a, n, n, b, n, n)) : null;
    const js = measure(n, () => plain.multiplyF64(a, n, n, b, n, n));
    const bytes = n * n * 8;
    const [pa, pb, pc] = [ffi.kernel_alloc(bytes), ffi.kernel_alloc(bytes), ffi.kernel_alloc(bytes)];
    new Float64Array(ffi.memory.buffer, pa, n * n).set(a);
    new Float64Array(ffi.memory.buffer, pb, n * n).set(b);
    const base = measure(n, () => ffi.kernel_baseline_dgemm(pa, n, n, pb, n, pc));
    const want = new Float64Array(ffi.memory.buffer, pc, n * n).slice();
    [pa, pb, pc].forEach((p) => ffi.kernel_free(p, bytes));
    const got = (relaxed ?? plain).multiplyF64(a, n, n, b, n, n);
    let worst = 0; for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    if (worst > 1e-9 * n) throw new Error("results differ by " + worst + " at n=" + n);
    const f = (r) => (r.best.toFixed(1) + "/" + r.median.toFixed(1)).padEnd(14);
    const best = Math.max(js.median, fast ? fast.median : 0);
    lines.push(String(n).padEnd(6) + " " + (fast ? f(fast) : "n/a".padEnd(14)) + " " + f(js) + " " + f(base) + "  " + (best / base.median).toFixed(2) + "x");
  }
} catch (e) { lines.push("error: " + (e?.stack ?? e)); }
await fetch("/result", { method: "POST", body: lines.join("\\n") });
</script>`;

const types = { ".js": "text/javascript", ".wasm": "application/wasm" };
// Cross-origin isolation gives the page fine-grained timers.
const isolation = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };
let finish;
const finished = new Promise((resolve) => (finish = resolve));
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (req.method === "POST" && url.pathname === "/result") {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => { res.end("ok"); finish(body); });
    return;
  }
  if (url.pathname === "/") {
    res.writeHead(200, { "content-type": "text/html", ...isolation }).end(page);
    return;
  }
  const file = normalize(join(pkg, url.pathname.replace(/^\/pkg\//, "")));
  if (!url.pathname.startsWith("/pkg/") || !file.startsWith(pkg) || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  const ext = file.slice(file.lastIndexOf("."));
  res.writeHead(200, { "content-type": types[ext] ?? "application/octet-stream", ...isolation }).end(readFileSync(file));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const profile = mkdtempSync(join(tmpdir(), "kernel-bench-"));
const browser = spawn(chromiumPath, [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  `--user-data-dir=${profile}`, `http://127.0.0.1:${server.address().port}/`,
], { stdio: "ignore" });
const timer = setTimeout(() => finish("error: timed out"), TIME_LIMIT_MS);
const output = await finished;
clearTimeout(timer);
console.log(output);
const exited = once(browser, "exit");
browser.kill();
await exited;
server.close();
rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
if (output.includes("error:")) process.exitCode = 1;
