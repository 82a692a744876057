//! The per-row sums of the integer check: `max |v|`, `sum |v|` and the
//! wrapping dot product, written so the compiler vectorises them, and run
//! with AVX2 (or AVX-512) when the CPU has it, chosen at run time: the
//! default x86-64 build has only SSE2, which lacks 64-bit compares.

/// Defines `$name` as `$body` compiled three ways on x86-64 (AVX-512,
/// AVX2, baseline) and picks the widest this CPU runs.
macro_rules! dispatched {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $body:ident;) => {
        $(#[$doc])*
        pub(super) fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
                fn avx512($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if is_x86_feature_detected!("avx512dq") && is_x86_feature_detected!("avx512vl") {
                    // SAFETY: the CPU has the features `avx512` is compiled for.
                    #[allow(unsafe_code)]
                    return unsafe { avx512($($arg),*) };
                }
                if is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has the feature `avx2` is compiled for.
                    #[allow(unsafe_code)]
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

dispatched! {
    /// `max |row[p]|` (0 when empty).
    fn max_magnitude(row: &[i64]) -> u64 = max_magnitude_any;
}

dispatched! {
    /// `sum |row[p]|` (exact: fewer than 2^64 terms below 2^64 each).
    fn abs_sum(row: &[i64]) -> u128 = abs_sum_any;
}

dispatched! {
    /// `sum xs[j] * ys[j]` modulo `2^64`.
    fn dot_wrapping(xs: &[i64], ys: &[i64]) -> i64 = dot_wrapping_any;
}

#[inline(always)]
fn max_magnitude_any(row: &[i64]) -> u64 {
    // max |v| = max(max v, -min v), as signed compares vectorise.
    let (mut high, mut low) = (0i64, 0i64);
    for &v in row {
        high = high.max(v);
        low = low.min(v);
    }
    high.unsigned_abs().max(low.unsigned_abs())
}

#[inline(always)]
fn abs_sum_any(row: &[i64]) -> u128 {
    // The low and high 32 bits of each |v| are summed apart, in u64 lanes
    // that cannot overflow for fewer than 2^32 terms.
    row.chunks(1 << 31)
        .map(|chunk| {
            let (mut low, mut high) = (0u64, 0u64);
            for &v in chunk {
                let magnitude = v.unsigned_abs();
                low += magnitude & 0xFFFF_FFFF;
                high += magnitude >> 32;
            }
            (u128::from(high) << 32) + u128::from(low)
        })
        .sum()
}

#[inline(always)]
fn dot_wrapping_any(xs: &[i64], ys: &[i64]) -> i64 {
    xs.iter()
        .zip(ys)
        .fold(0i64, |acc, (&x, &y)| acc.wrapping_add(x.wrapping_mul(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_versions_agree_with_plain_sums_at_the_extremes() {
        let values = [
            0,
            1,
            -1,
            7,
            -1000,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            1 << 32,
            -(1 << 40),
        ];
        for len in 0..40 {
            let row: Vec<i64> = (0..len)
                .map(|i| values[(i * 7 + len) % values.len()])
                .collect();
            let other: Vec<i64> = (0..len)
                .map(|i| values[(i * 3 + 1) % values.len()])
                .collect();
            let magnitudes = row.iter().map(|v| v.unsigned_abs());
            assert_eq!(max_magnitude(&row), magnitudes.clone().max().unwrap_or(0));
            assert_eq!(abs_sum(&row), magnitudes.map(u128::from).sum::<u128>());
            let dot = row
                .iter()
                .zip(&other)
                .fold(0i64, |acc, (&x, &y)| acc.wrapping_add(x.wrapping_mul(y)));
            assert_eq!(dot_wrapping(&row, &other), dot);
        }
    }
}
