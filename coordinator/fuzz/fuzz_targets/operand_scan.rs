//! The body scan that finds `A` and `B` while checking a submitted body as
//! JSON, and the plan made from it, against `serde_json` on the same bytes.
//!
//! - The scan accepts exactly the texts `serde_json` reads as JSON.
//! - When it finds operands, the body is an object whose `A` and `B` (each
//!   once) are the JSON values at the spans found.
//! - Planning the body (read, check prepared, split into parts) never
//!   panics; a matrix task's task data and every part's are JSON objects
//!   whose `B` is the body's `B`, and the parts' rows of `A` are the body's
//!   rows, in order.

#![no_main]

use coordinator::fuzzing::{operand_spans, plan_body};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A matrix operand's rows as JSON values: an array's elements, or a
/// string's matrix text read as JSON.
fn rows(operand: &Value) -> Option<Vec<Value>> {
    match operand {
        Value::Array(rows) => Some(rows.clone()),
        Value::String(text) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let _ = plan_body(bytes, 3);
        return;
    };
    let json = serde_json::from_str::<serde::de::IgnoredAny>(text);
    let spans = operand_spans(text);
    assert_eq!(spans.is_ok(), json.is_ok(), "{text:?}: scan {spans:?}, JSON {json:?}");
    if let Ok(Some((a, b))) = &spans {
        // Values as serde_json reads them (for numbers too large for f64
        // it refuses the whole document; the scan does not).
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) {
            for (name, span) in [("A", a), ("B", b)] {
                let at: Value = serde_json::from_str(&text[span.clone()])
                    .unwrap_or_else(|e| panic!("{text:?}: {name} span is not JSON: {e}"));
                assert_eq!(fields.get(name), Some(&at), "{text:?}: {name}");
            }
        }
    }
    let Ok(planned) = plan_body(bytes, 3) else {
        return;
    };
    let original: Value = match serde_json::from_str(&planned.data) {
        Ok(value) => value,
        Err(e) => {
            // JSON whose numbers do not fit an f64 has no `Value`; it is
            // still JSON, and task data keeps it as it was written.
            let syntax = serde_json::from_str::<serde::de::IgnoredAny>(&planned.data);
            assert!(syntax.is_ok(), "{text:?}: task data is not JSON: {e}");
            return;
        }
    };
    if planned.parts.is_empty() {
        return;
    }
    let (Some(a), Some(b)) = (original.get("A"), original.get("B")) else {
        panic!("{text:?}: split, but not a matrix pair");
    };
    let mut joined = Vec::new();
    for part in &planned.parts {
        let part: Value = serde_json::from_str(part)
            .unwrap_or_else(|e| panic!("{text:?}: part {part:?} is not JSON: {e}"));
        assert_eq!(part.get("B"), Some(b), "{text:?}: a part's B");
        joined.extend(rows(&part["A"]).unwrap_or_default());
    }
    if let Some(expected) = rows(a) {
        assert_eq!(joined, expected, "{text:?}: the parts' rows of A");
    }
});
