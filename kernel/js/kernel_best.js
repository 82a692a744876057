// Loads the fastest build of the matrix kernel that this engine accepts and
// re-exports its API (multiplyText, multiplyTextBytes, multiplyTextToBytes,
// multiplyTextToWire, multiplyF64, kernelInfo):
//   import initBest, { multiplyText } from "./pkg/kernel_best.js";
//   await initBest();
// kernel_relaxed_bg.wasm (simd128 + relaxed-simd: fused multiply-adds, about
// twice the f64 throughput) is used when WebAssembly.validate accepts it,
// kernel_bg.wasm (plain simd128) otherwise. Both come from compile-wasm.sh and
// share kernel.js, which compile-wasm.sh checks.
import init from "./kernel.js";

export * from "./kernel.js";

export default async function initBest() {
  try {
    const response = await fetch(new URL("kernel_relaxed_bg.wasm", import.meta.url));
    if (response.ok) {
      const bytes = await response.arrayBuffer();
      if (WebAssembly.validate(bytes)) {
        return await init({ module_or_path: bytes });
      }
    }
  } catch {
    // No relaxed build here, or the engine refused it: use the plain one.
  }
  return init({ module_or_path: new URL("kernel_bg.wasm", import.meta.url) });
}
