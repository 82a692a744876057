//! The Dana matrix text reader (`kernel::text::parse`), differential
//! against `serde_json` on the same bytes.
//!
//! Matrix text is a subset of JSON (rows of numbers) that the reader also
//! widens a little, as JavaScript's `Number` reads numbers: leading zeros,
//! `.5`, `5.`, `+` exponents. So:
//! - where `serde_json` reads a non-empty rectangular array of integers,
//!   the reader gives the same integer matrix;
//! - where it reads one with floats, the reader gives the same values (to
//!   a few ulps: `serde_json`'s default float reader is not correctly
//!   rounded), unless an integer literal is beyond 64 bits, which the
//!   reader refuses;
//! - where `serde_json` refuses the text, the reader refuses it too unless
//!   the text uses one of those widenings;
//! - nothing panics, and `row_spans` (which scans the structure without
//!   reading numbers) finds the shape of every text the reader takes.

#![no_main]

use kernel::text::{parse, row_spans};
use kernel::{AnyMatrix, MatrixError};
use libfuzzer_sys::fuzz_target;
use serde_json::Number;

/// Whether `text` uses a number form JSON refuses but the reader takes.
fn widened(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.contains('.')
        || text.contains('+')
        || text.contains("-0")
        || bytes.windows(2).enumerate().any(|(i, w)| {
            w[0] == b'0'
                && w[1].is_ascii_digit()
                && (i == 0 || !bytes[i - 1].is_ascii_digit())
        })
}

/// The numbers `serde_json` reads, when they form a non-empty rectangle.
fn json_rows(text: &str) -> Option<Vec<Vec<Number>>> {
    let rows: Vec<Vec<Number>> = serde_json::from_str(text).ok()?;
    let cols = rows.first()?.len();
    (cols > 0 && rows.iter().all(|r| r.len() == cols)).then_some(rows)
}

fn close(x: f64, y: f64) -> bool {
    x == y || (x - y).abs() <= y.abs().max(x.abs()) * 8.0 * f64::EPSILON + f64::MIN_POSITIVE
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let ours = parse(text);
    // The structure scan finds the shape of every matrix the reader takes.
    if let Ok(m) = &ours {
        let spans = row_spans(text).unwrap_or_else(|e| panic!("{text:?} parses but spans fail: {e}"));
        assert_eq!((spans.rows.len(), spans.cols), (m.rows(), m.cols()), "{text:?}");
    }
    match (json_rows(text), &ours) {
        (Some(rows), Ok(AnyMatrix::Int(m))) => {
            assert_eq!((m.rows(), m.cols()), (rows.len(), rows[0].len()), "{text:?}");
            for (n, &ours) in rows.iter().flatten().zip(m.data()) {
                match n.as_i64() {
                    Some(json) => assert_eq!(ours, json, "{text:?}"),
                    // `-0` is a float to JSON, the integer 0 here.
                    None => assert!(
                        widened(text) && n.as_f64() == Some(ours as f64),
                        "{text:?}: {n} read as the integer {ours}"
                    ),
                }
            }
        }
        (Some(rows), Ok(AnyMatrix::Float(m))) => {
            assert_eq!((m.rows(), m.cols()), (rows.len(), rows[0].len()), "{text:?}");
            for (n, &ours) in rows.iter().flatten().zip(m.data()) {
                let json = n.as_f64().unwrap_or(f64::NAN);
                assert!(close(ours, json), "{text:?}: {ours} against JSON's {json}");
            }
        }
        (Some(rows), Err(error)) => {
            // JSON reads integers beyond 64 bits as floats; the reader
            // keeps integers exact and refuses them.
            let big = rows.iter().flatten().any(|n| n.is_f64()) || rows.iter().flatten().any(|n| n.is_u64() && n.as_i64().is_none());
            assert!(
                big && matches!(error, MatrixError::IntegerOutOfRange { .. } | MatrixError::NotANumber { .. }),
                "{text:?}: JSON reads it, the reader says {error}"
            );
        }
        (None, Ok(m)) => assert!(
            widened(text),
            "{text:?}: read as a {}x{} matrix, which JSON refuses",
            m.rows(),
            m.cols()
        ),
        (None, Err(_)) => {}
    }
});
