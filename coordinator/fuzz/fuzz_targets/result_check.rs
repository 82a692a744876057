//! The result checker: a small matrix task made from the input's first
//! bytes, its check prepared as `POST /task` prepares it, and the rest of
//! the input posted as a worker's answer body, as `POST /task/N/result`
//! checks it.
//!
//! - Nothing panics, whatever the answer body.
//! - The right product passes, as a string and as a JSON array, and fits
//!   the size bound the check derives from the product's shape.
//! - A claim with exactly one element off is always refused (Freivalds'
//!   check rejects any single wrong element).
//! - An error report is refused (the small operands cannot overflow).

#![no_main]

use coordinator::fuzzing::ResultCheck;
use kernel::text::{parse, write_i64};
use kernel::{AnyMatrix, Matrix};
use libfuzzer_sys::fuzz_target;

/// A matrix of `rows` x `cols` small integers from `bytes`.
fn matrix(rows: usize, cols: usize, bytes: &mut impl Iterator<Item = u8>) -> Matrix<i64> {
    let data = (0..rows * cols)
        .map(|_| i64::from(bytes.next().unwrap_or(1) as i8))
        .collect();
    Matrix::new(rows, cols, data).expect("shape")
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let (m, k, n) = (
        1 + usize::from(input[0] % 4),
        1 + usize::from(input[1] % 4),
        1 + usize::from(input[2] % 4),
    );
    let mut values = input[3..].iter().copied();
    let (a, b) = (matrix(m, k, &mut values), matrix(k, n, &mut values));
    let used = 3 + (m * k + k * n).min(input.len() - 3);
    let (a_text, b_text) = (write_i64(&a), write_i64(&b));
    let task = serde_json::json!({ "A": a_text, "B": b_text }).to_string();
    let check = ResultCheck::for_task(&task).expect("a valid product is checked");
    let product = kernel::multiply_text(&a_text, &b_text).expect("small products do not overflow");

    // The right answer passes, in both forms, within the size bound.
    let as_string = serde_json::json!({ "result": product }).to_string();
    assert_eq!(check.verify_answer(as_string.as_bytes()), Ok(()), "{task}");
    let array = format!("{{\"result\":{product}}}");
    assert_eq!(check.verify_answer(array.as_bytes()), Ok(()), "{task}");
    assert!(product.len() <= check.max_result_bytes().unwrap_or(0), "{task}");
    assert!(check.verify_answer(br#"{"error":"overflow"}"#).is_err(), "{task}");

    // The rest of the input as an answer body: never a panic; when it is a
    // claim with one element off, refused.
    let body = &input[used..];
    let verdict = check.verify_answer(body);
    let claimed = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| match v.get("result")? {
            serde_json::Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        })
        .and_then(|text| parse(&text).ok());
    if let (Some(AnyMatrix::Int(claim)), Ok(AnyMatrix::Int(right))) = (claimed, parse(&product)) {
        let off = claim.rows() == right.rows()
            && claim.cols() == right.cols()
            && claim.data().iter().zip(right.data()).filter(|(x, y)| x != y).count() == 1;
        if off {
            assert!(verdict.is_err(), "{task}: one wrong element passed: {body:?}");
        }
    }
});
