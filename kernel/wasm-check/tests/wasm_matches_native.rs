//! The kernel's wasm32 build, run under wasmtime, gives the same results as
//! the native build: integer products identical (overflow reported the same
//! way), `f64` products bit-identical to the native portable kernel (same
//! blocking and summation order, no FMA) and within rounding of the native
//! best kernel, text products identical. The `relaxed-simd` build (fused
//! multiply-adds) gives identical integers and floats within rounding.

use kernel::gemm::{Isa, gemm_f64_with};
use kernel::testdata::Xorshift;
use kernel::{Matrix, multiply_exact, multiply_text};
use kernel_wasm_check::{Entry, WasmKernel};
use proptest::prelude::*;

/// Index of `Isa::Simd128` in `Isa::ALL`, as `kernel_isa` reports it.
const SIMD128_CODE: u32 = 2;

fn wasm() -> WasmKernel {
    WasmKernel::load().expect("the kernel's wasm32 module loads under wasmtime")
}

fn native_f64(isa: Isa, a: &[f64], m: usize, k: usize, b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![f64::NAN; m * n];
    gemm_f64_with(isa, m, k, n, a, b, &mut c);
    c
}

fn check_f64(
    kernel: &mut WasmKernel,
    a: &[f64],
    m: usize,
    k: usize,
    b: &[f64],
    n: usize,
) -> Result<(), TestCaseError> {
    let got = kernel
        .multiply(Entry::KernelF64, a, m, k, b, n)
        .expect("wasm call")
        .expect("status ok");
    let portable = native_f64(Isa::Portable, a, m, k, b, n);
    let best = native_f64(Isa::best(), a, m, k, b, n);
    for (i, ((&x, &y), &z)) in got.iter().zip(&portable).zip(&best).enumerate() {
        prop_assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "element {} of {}x{}x{}",
            i,
            m,
            k,
            n
        );
        prop_assert!(
            (x - z).abs() <= 1e-12 * (k as f64 + 1.0),
            "element {}: {} vs {}",
            i,
            x,
            z
        );
    }
    Ok(())
}

fn check_i64(
    kernel: &mut WasmKernel,
    a: &[i64],
    m: usize,
    k: usize,
    b: &[i64],
    n: usize,
) -> Result<(), TestCaseError> {
    let got = kernel
        .multiply(Entry::KernelI64, a, m, k, b, n)
        .expect("wasm call");
    let native = multiply_exact(
        &Matrix::new(m, k, a.to_vec()).expect("a"),
        &Matrix::new(k, n, b.to_vec()).expect("b"),
    );
    match native {
        Ok(product) => prop_assert_eq!(got, Ok(product.into_data())),
        Err(kernel::MatrixError::Overflow { .. }) => {
            prop_assert_eq!(got, Err(kernel::ffi::KERNEL_OVERFLOW))
        }
        Err(other) => prop_assert!(false, "unexpected native error {}", other),
    }
    Ok(())
}

fn shapes() -> impl Strategy<Value = (usize, usize, usize)> {
    (0usize..40, 0usize..40, 0usize..40)
}

#[test]
fn small_integer_products_at_the_edges_match_native() {
    // The 16-bit dot-product path wasm takes: values at ±32767 with sums
    // near the limit of i32, odd k, more columns than one packed block
    // (256), and rows and columns that fill no whole tile.
    let mut kernel = wasm();
    for &(m, k, n, value) in &[
        (5, 2, 9, 32_767i64),
        (9, 7, 300, 99),
        (13, 2_001, 3, 1_000),
        (3, 3, 5, 32_767),
        (6, 4, 10, -32_768),
    ] {
        let a: Vec<i64> = (0..m * k)
            .map(|i| if i % 3 == 0 { value } else { -value / 2 })
            .collect();
        let b: Vec<i64> = (0..k * n)
            .map(|i| if i % 5 == 0 { -value } else { value })
            .collect();
        check_i64(&mut kernel, &a, m, k, &b, n).expect("identical");
    }
}

#[test]
fn module_loads_without_imports_and_uses_simd128() {
    assert_eq!(wasm().isa().expect("kernel_isa"), SIMD128_CODE);
}

#[test]
fn relaxed_simd_build_matches_native() {
    let mut relaxed =
        WasmKernel::load_relaxed().expect("the relaxed-simd module loads under wasmtime");
    assert_eq!(relaxed.isa().expect("kernel_isa"), SIMD128_CODE);
    for (i, &(m, k, n)) in [(257, 257, 257), (1, 1, 1), (17, 63, 65), (40, 300, 5)]
        .iter()
        .enumerate()
    {
        let a: Vec<f64> = (0..m * k)
            .map(|j| (((j + i) * 7919) % 2001) as f64 / 1000.0 - 1.0)
            .collect();
        let b: Vec<f64> = (0..k * n)
            .map(|j| (((j + i) * 104_729) % 2001) as f64 / 1000.0 - 1.0)
            .collect();
        let got = relaxed
            .multiply(Entry::KernelF64, &a, m, k, &b, n)
            .expect("wasm call")
            .expect("status ok");
        let native = native_f64(Isa::best(), &a, m, k, &b, n);
        for (x, y) in got.iter().zip(&native) {
            assert!(
                (x - y).abs() <= 1e-12 * (k as f64 + 1.0),
                "{m}x{k}x{n}: {x} vs {y}"
            );
        }
        let a: Vec<i64> = (0..m * k)
            .map(|j| ((j + i) as i64 * 7919) % 2_000_001 - 1_000_000)
            .collect();
        let b: Vec<i64> = (0..k * n)
            .map(|j| ((j + i) as i64 * 104_729) % 2_000_001 - 1_000_000)
            .collect();
        check_i64(&mut relaxed, &a, m, k, &b, n).expect("i64 identical");
    }
}

#[test]
fn block_boundary_sizes_match_native() {
    let mut kernel = wasm();
    for &(m, k, n) in &[(257, 257, 257), (17, 300, 65), (63, 1, 127)] {
        let a: Vec<f64> = (0..m * k)
            .map(|i| ((i * 7919) % 2001) as f64 / 1000.0 - 1.0)
            .collect();
        let b: Vec<f64> = (0..k * n)
            .map(|i| ((i * 104_729) % 2001) as f64 / 1000.0 - 1.0)
            .collect();
        check_f64(&mut kernel, &a, m, k, &b, n).expect("f64 matches");
        let a: Vec<i64> = (0..m * k)
            .map(|i| (i as i64 * 7919) % 2_000_001 - 1_000_000)
            .collect();
        let b: Vec<i64> = (0..k * n)
            .map(|i| (i as i64 * 104_729) % 2_000_001 - 1_000_000)
            .collect();
        check_i64(&mut kernel, &a, m, k, &b, n).expect("i64 matches");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_f64_products_match_native((m, k, n) in shapes(), seed in any::<u64>()) {
        let mut rng = Xorshift::new(seed);
        let a: Vec<f64> = (0..m * k).map(|_| rng.next_signed_unit()).collect();
        let b: Vec<f64> = (0..k * n).map(|_| rng.next_signed_unit()).collect();
        check_f64(&mut wasm(), &a, m, k, &b, n)?;
    }

    #[test]
    fn random_integer_products_are_identical(
        (m, k, n) in shapes(),
        scale in prop_oneof![Just(1_000i64), Just(1 << 30), Just(i64::MAX)],
        seed in any::<u64>(),
    ) {
        let mut rng = Xorshift::new(seed);
        let mut next = move || (rng.next_u64() as i64) % scale;
        let a: Vec<i64> = (0..m * k).map(|_| next()).collect();
        let b: Vec<i64> = (0..k * n).map(|_| next()).collect();
        check_i64(&mut wasm(), &a, m, k, &b, n)?;
    }

    #[test]
    fn text_products_are_identical(
        rows in 1usize..6,
        inner in 1usize..6,
        cols in 1usize..6,
        values in proptest::collection::vec(-1000i64..1000, 72),
        float in any::<bool>(),
    ) {
        let text = |r: usize, c: usize, offset: usize| {
            let rows: Vec<String> = (0..r)
                .map(|i| {
                    let row: Vec<String> = (0..c)
                        .map(|j| {
                            let v = values[(offset + i * c + j) % values.len()];
                            if float { format!("{}", v as f64 / 8.0) } else { v.to_string() }
                        })
                        .collect();
                    format!("[{}]", row.join(", "))
                })
                .collect();
            format!("[{}]", rows.join(","))
        };
        let (a, b) = (text(rows, inner, 0), text(inner, cols, 36));
        let got = wasm().multiply_text(&a, &b).expect("wasm call");
        match multiply_text(&a, &b) {
            Ok(product) => prop_assert_eq!(got, Ok(product)),
            Err(error) => prop_assert_eq!(got.map_err(|(_, message)| message), Err(error.to_string())),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Compact texts with long rows, so the reader's windowed fast path
    /// (vector compares in the wasm build) reads most values.
    #[test]
    fn long_compact_text_products_are_identical(
        (m, k, n) in (1usize..8, 20usize..90, 1usize..8),
        // Values of up to 7 digits, either sign.
        values in proptest::collection::vec(
            (1u32..8, any::<i64>()).prop_map(|(digits, v)| v % 10i64.pow(digits)),
            2 * 8 * 90,
        ),
    ) {
        let (a_values, b_values) = values.split_at(m * k);
        let text = |rows: usize, cols: usize, data: &[i64]| {
            let matrix = Matrix::new(rows, cols, data[..rows * cols].to_vec()).expect("shape");
            kernel::text::write_i64(&matrix)
        };
        let (a, b) = (text(m, k, a_values), text(k, n, b_values));
        let got = wasm().multiply_text(&a, &b).expect("wasm call");
        prop_assert_eq!(got, Ok(multiply_text(&a, &b).expect("native product")));
    }
}

#[test]
fn text_errors_are_reported_like_native() {
    let mut kernel = wasm();
    for (a, b) in [
        ("[[1,2]]", "[[1,2]]"),
        ("[[1,2],[3]]", "[[1]]"),
        ("[]", "[[1]]"),
        ("[[\"x\"]]", "[[1]]"),
        ("[[9223372036854775807]]", "[[2]]"),
    ] {
        let (status, message) = kernel
            .multiply_text(a, b)
            .expect("wasm call")
            .expect_err("an error");
        assert_ne!(status, kernel::ffi::KERNEL_OK);
        assert_eq!(
            message,
            multiply_text(a, b).expect_err("native error").to_string()
        );
    }
}
