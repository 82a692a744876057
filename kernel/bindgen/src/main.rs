//! Build helper for `compile-wasm.sh`: generates the `--target web` JavaScript
//! glue for the kernel's wasm32 build with `wasm-bindgen-cli-support` pinned
//! to the same version as the `wasm-bindgen` crate the kernel links, so no
//! separately installed `wasm-bindgen` CLI (which must match exactly) is
//! needed.
//!
//! Usage: `kernel-bindgen <input.wasm> <out-dir>` writes `<out-dir>/kernel.js`,
//! `kernel_bg.wasm` and the TypeScript declarations.

use std::path::PathBuf;

use anyhow::{Context, bail};
use wasm_bindgen_cli_support::Bindgen;

/// Base name of the generated files (`kernel.js`, `kernel_bg.wasm`).
const OUT_NAME: &str = "kernel";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(out_dir), None) = (args.next(), args.next(), args.next()) else {
        bail!("usage: kernel-bindgen <input.wasm> <out-dir>");
    };
    let (input, out_dir) = (PathBuf::from(input), PathBuf::from(out_dir));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    Bindgen::new()
        .input_path(&input)
        .out_name(OUT_NAME)
        .web(true)?
        .typescript(true)
        .generate(&out_dir)
        .with_context(|| format!("running wasm-bindgen on {}", input.display()))?;
    println!(
        "wrote {}/{OUT_NAME}.js and {OUT_NAME}_bg.wasm",
        out_dir.display()
    );
    Ok(())
}
