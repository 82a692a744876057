//! Builds the kernel for `wasm32-unknown-unknown` (release, C ABI only:
//! `--no-default-features --features baseline`, so the module has no imports)
//! with a nested cargo into this build's `OUT_DIR`, twice: with `simd128`
//! (`KERNEL_WASM_PATH`) and with `simd128` + `relaxed-simd`
//! (`KERNEL_RELAXED_WASM_PATH`), the two builds the browser gets. Installs
//! the wasm32 target with rustup when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let kernel_dir = manifest_dir
        .parent()
        .expect("kernel/wasm-check has a parent")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target_dir = out_dir.join("wasm-target");
    for watched in ["src", "Cargo.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            kernel_dir.join(watched).display()
        );
    }
    println!("cargo:rerun-if-changed=build.rs");

    for (variant, features, env_name) in [
        ("simd128", "+simd128", "KERNEL_WASM_PATH"),
        (
            "relaxed",
            "+simd128,+relaxed-simd",
            "KERNEL_RELAXED_WASM_PATH",
        ),
    ] {
        let target_dir = target_dir.join(variant);
        if !build(&kernel_dir, &target_dir, features) {
            // Maybe only the target is missing: add it and try once more.
            let _ = Command::new("rustup")
                .args(["target", "add", WASM_TARGET])
                .status();
            assert!(
                build(&kernel_dir, &target_dir, features),
                "building the kernel for {WASM_TARGET} failed; run `rustup target add {WASM_TARGET}` \
                 and see the cargo output above"
            );
        }
        let wasm = target_dir
            .join(WASM_TARGET)
            .join("release")
            .join("kernel.wasm");
        assert!(wasm.exists(), "{} was not produced", wasm.display());
        println!("cargo:rustc-env={env_name}={}", wasm.display());
    }
}

/// Runs the nested cargo build; true on success.
fn build(kernel_dir: &Path, target_dir: &Path, target_features: &str) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(kernel_dir)
        .args([
            "build",
            "--release",
            "--lib",
            "-p",
            "kernel",
            "--target",
            WASM_TARGET,
        ])
        .args(["--no-default-features", "--features", "baseline"])
        .arg("--target-dir")
        .arg(target_dir)
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            format!("-C target-feature={target_features}"),
        )
        // A small module without debug sections compiles faster under wasmtime.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    // Flags meant for this host build must not leak into the wasm build.
    for name in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(name);
    }
    command.status().is_ok_and(|status| status.success())
}
