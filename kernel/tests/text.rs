//! Reading and writing Dana matrix text: round trips, the JSON array form,
//! whitespace, and every error kind.

use kernel::text::{IntRows, parse, parse_f64, parse_i64, write_f64, write_i64};
use kernel::{AnyMatrix, Matrix, MatrixError, multiply_text};
use proptest::prelude::*;

fn ints() -> impl Strategy<Value = Matrix<i64>> {
    (1usize..12, 1usize..12).prop_flat_map(|(r, c)| {
        proptest::collection::vec(any::<i64>(), r * c)
            .prop_map(move |d| Matrix::new(r, c, d).expect("shape"))
    })
}

/// Integers of every length from 1 to 19 digits, so each value length of
/// the reader's fast paths (one or two 8-byte chunks) and its fallback is met.
fn ints_of_every_length() -> impl Strategy<Value = Matrix<i64>> {
    let value = (0u32..19, any::<i64>(), any::<bool>()).prop_map(|(digits, raw, negative)| {
        let magnitude = raw.unsigned_abs() % 10u64.pow(digits + 1);
        let value = i64::try_from(magnitude).expect("below 10^19");
        if negative { -value } else { value }
    });
    (1usize..6, 1usize..40).prop_flat_map(move |(r, c)| {
        proptest::collection::vec(value.clone(), r * c)
            .prop_map(move |d| Matrix::new(r, c, d).expect("shape"))
    })
}

/// Every row `IntRows` yields for `text`, or its error.
fn rows_of(text: &str) -> Result<Vec<Vec<i64>>, MatrixError> {
    let mut reader = IntRows::new(text)?;
    let mut rows = Vec::new();
    while let Some(row) = reader.next_row()? {
        rows.push(row.to_vec());
    }
    Ok(rows)
}

fn floats() -> impl Strategy<Value = Matrix<f64>> {
    let value = prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        -1e6f64..1e6,
        (-1000i64..1000).prop_map(|v| v as f64 / 8.0),
    ];
    (1usize..8, 1usize..8).prop_flat_map(move |(r, c)| {
        proptest::collection::vec(value.clone(), r * c)
            .prop_map(move |d| Matrix::new(r, c, d).expect("shape"))
    })
}

proptest! {
    #[test]
    fn integers_round_trip_exactly(m in ints()) {
        let text = write_i64(&m);
        prop_assert_eq!(parse(&text), Ok(AnyMatrix::Int(m)));
    }

    #[test]
    fn integers_of_every_length_round_trip_exactly(m in ints_of_every_length()) {
        let text = write_i64(&m);
        prop_assert_eq!(parse(&text), Ok(AnyMatrix::Int(m)));
    }

    #[test]
    fn integer_rows_read_one_at_a_time_are_the_parsed_rows(m in ints_of_every_length()) {
        let text = write_i64(&m);
        let rows = rows_of(&text).expect("reads");
        let expected: Vec<Vec<i64>> = (0..m.rows()).map(|i| m.row(i).to_vec()).collect();
        prop_assert_eq!(rows, expected);
    }

    /// Valid texts with a few bytes replaced by digits, signs, commas,
    /// brackets, spaces or dots: whatever JSON reads as a rectangular
    /// integer matrix reads the same here, and what JSON rejects is rejected
    /// here too (leading zeros and loose floats aside, which this reader
    /// accepts).
    #[test]
    fn corrupted_texts_read_as_json_reads_them(
        m in ints_of_every_length(),
        edits in proptest::collection::vec((any::<usize>(), 0usize..16), 0..4),
    ) {
        let mut bytes = write_i64(&m).into_bytes();
        for (at, pick) in edits {
            let len = bytes.len();
            bytes[at % len] = b"0123456789-,[] ."[pick];
        }
        let text = String::from_utf8(bytes).expect("ascii");
        let ours = parse(&text);
        // Leading zeros, `-0` (a float to serde_json) and floats JSON does
        // not allow (`.5`, `5.`) are read here, as JavaScript's `Number`
        // reads them.
        let lenient = text.contains('.') || text.contains("-0") || text.as_bytes().windows(3).any(|w| {
            !w[0].is_ascii_digit() && w[1] == b'0' && w[2].is_ascii_digit()
        });
        match serde_json::from_str::<Vec<Vec<i64>>>(&text) {
            Ok(rows) if !rows.is_empty() && !rows[0].is_empty()
                && rows.iter().all(|r| r.len() == rows[0].len()) => {
                let data = rows.concat();
                let expected = Matrix::new(rows.len(), rows[0].len(), data).expect("shape");
                prop_assert_eq!(ours, Ok(AnyMatrix::Int(expected)));
            }
            Ok(_) => prop_assert!(ours.is_err(), "{} read as {:?}", text, ours),
            Err(_) if !lenient => {
                prop_assert!(ours.is_err(), "{} read as {:?}", text, ours);
            }
            Err(_) => {}
        }
    }

    #[test]
    fn floats_round_trip_to_the_same_f64(m in floats()) {
        let text = write_f64(&m).expect("finite");
        let back = parse_f64(&text).expect("parses");
        prop_assert_eq!(back.rows(), m.rows());
        for (x, y) in back.data().iter().zip(m.data()) {
            prop_assert!(x == y, "{} read back as {} from {}", y, x, text);
        }
    }

    #[test]
    fn floats_are_written_as_json_reads_them(m in floats()) {
        let text = write_f64(&m).expect("finite");
        let json: Vec<Vec<f64>> = serde_json::from_str(&text).expect("valid JSON");
        // serde_json's default float reader is not correctly rounded for
        // extreme exponents and subnormals, so allow it a few ulps.
        for (x, y) in json.iter().flatten().zip(m.data()) {
            let tolerance = y.abs() * 4.0 * f64::EPSILON + f64::MIN_POSITIVE;
            prop_assert!((x - y).abs() <= tolerance, "{} vs {}", x, y);
        }
    }

    #[test]
    fn integers_with_any_spacing_read_the_same(m in ints(), gaps in proptest::collection::vec(0usize..3, 1..64)) {
        // Put 0-2 spaces (or a newline) between every two tokens.
        let mut text = String::new();
        let mut gap = gaps.iter().cycle();
        let mut space = |text: &mut String| {
            match gap.next() {
                Some(1) => text.push(' '),
                Some(2) => text.push_str(" \n"),
                _ => {}
            }
        };
        text.push('[');
        for i in 0..m.rows() {
            space(&mut text);
            text.push_str(if i == 0 { "[" } else { ",[" });
            for (j, v) in m.row(i).iter().enumerate() {
                space(&mut text);
                if j > 0 {
                    text.push(',');
                    space(&mut text);
                }
                text.push_str(&v.to_string());
            }
            space(&mut text);
            text.push(']');
        }
        space(&mut text);
        text.push(']');
        prop_assert_eq!(parse(&text), Ok(AnyMatrix::Int(m)), "{}", text);
    }

    #[test]
    fn json_array_text_of_integers_reads_like_dana_text(m in ints()) {
        let rows: Vec<Vec<i64>> = (0..m.rows()).map(|i| m.row(i).to_vec()).collect();
        let json = serde_json::to_string_pretty(&rows).expect("json");
        prop_assert_eq!(parse_i64(&json), Ok(m));
    }
}

#[test]
fn product_of_dana_text_is_dana_text() {
    assert_eq!(
        multiply_text("[[1,2],[3,4]]", "[[5,6],[7,8]]").as_deref(),
        Ok("[[19,22],[43,50]]")
    );
}

#[test]
fn spaces_around_numbers_and_brackets_are_accepted() {
    let m = parse_i64(" [ [ 1 , -2 ] ,\n [3,\t4 ] ] ").expect("parses");
    assert_eq!(m, Matrix::new(2, 2, vec![1, -2, 3, 4]).expect("m"));
    let m = parse_i64("[[-1, 0 ,7],[ 8,-9,10 ],[12345678,1,2]]").expect("parses");
    assert_eq!(
        m,
        Matrix::new(3, 3, vec![-1, 0, 7, 8, -9, 10, 12_345_678, 1, 2]).expect("m")
    );
}

#[test]
fn javascript_float_forms_are_read() {
    let m = parse_f64("[[1.5,-2e-3,1e+21,1E5,0.1]]").expect("parses");
    assert_eq!(m.data(), &[1.5, -2e-3, 1e21, 1e5, 0.1]);
    assert!(matches!(parse("[[1,2.5]]"), Ok(AnyMatrix::Float(_))));
}

#[test]
fn floats_are_written_like_javascript() {
    let m = Matrix::new(
        1,
        8,
        vec![3.0, 0.1 + 0.2, 1e21, -2e-3, 1.5e-7, 123.456, 1e20, -0.0],
    )
    .expect("m");
    assert_eq!(
        write_f64(&m).as_deref(),
        Ok("[[3,0.30000000000000004,1e+21,-0.002,1.5e-7,123.456,1e+20,-0]]")
    );
}

#[test]
fn extreme_integers_are_written_exactly() {
    let m = Matrix::new(1, 3, vec![i64::MIN, i64::MAX, 0]).expect("m");
    assert_eq!(
        write_i64(&m),
        "[[-9223372036854775808,9223372036854775807,0]]"
    );
}

#[test]
fn float_product_is_written_with_shortest_text() {
    assert_eq!(
        multiply_text("[[0.1]]", "[[3]]").as_deref(),
        Ok("[[0.30000000000000004]]")
    );
}

#[test]
fn integer_rows_reader_rejects_what_parse_rejects() {
    assert_eq!(
        rows_of(" [ [1, 2] ,[3,4] ] "),
        Ok(vec![vec![1, 2], vec![3, 4]])
    );
    for bad in [
        "",
        "[]",
        "[[]]",
        "[[1,2],[3]]",
        "[[1,2],[3,4]] x",
        "[[1,2],[3,4]",
        "[[1,2];[3,4]]",
        "[[1,x]]",
        "[[99999999999999999999]]",
    ] {
        let expected = parse_i64(bad).expect_err(bad);
        assert_eq!(rows_of(bad), Err(expected), "{bad:?}");
    }
    assert!(
        matches!(
            rows_of("[[1,2],[3.5,4]]"),
            Err(MatrixError::NotANumber { .. })
        ),
        "a float is not an integer"
    );
}

#[test]
fn ragged_matrix_is_rejected() {
    assert_eq!(
        parse("[[1,2],[3]]"),
        Err(MatrixError::RaggedRows {
            row: 1,
            expected: 2,
            found: 1
        })
    );
}

#[test]
fn empty_matrix_is_rejected() {
    for text in ["[]", "[[]]", " [ [ ] , [ ] ] "] {
        assert_eq!(parse(text), Err(MatrixError::Empty), "{text}");
    }
}

#[test]
fn non_numbers_are_rejected() {
    for text in [
        "[[1,\"2\"]]",
        "[[true]]",
        "[[null]]",
        "[[[1]]]",
        "[[-]]",
        "[[1e]]",
        "[[NaN]]",
    ] {
        assert!(
            matches!(parse(text), Err(MatrixError::NotANumber { .. })),
            "{text}: {:?}",
            parse(text)
        );
    }
}

#[test]
fn malformed_text_is_a_syntax_error() {
    for text in [
        "",
        "[[1,2]",
        "[[1 2]]",
        "[1,2]",
        "[[1]],",
        "[[1]] x",
        "{\"a\":1}",
        "[[1],]",
    ] {
        assert!(
            matches!(parse(text), Err(MatrixError::Syntax { .. })),
            "{text}: {:?}",
            parse(text)
        );
    }
}

#[test]
fn integer_literal_beyond_64_bits_is_an_overflow_error() {
    assert_eq!(
        parse("[[9223372036854775808]]"),
        Err(MatrixError::IntegerOutOfRange { offset: 2 })
    );
    assert!(parse("[[-9223372036854775808]]").is_ok());
    let message = parse("[[99999999999999999999]]")
        .expect_err("too big")
        .to_string();
    assert!(message.contains("integer overflow"), "{message}");
}

#[test]
fn integer_product_overflow_is_an_error() {
    let message = multiply_text("[[9223372036854775807]]", "[[2]]")
        .expect_err("overflows")
        .to_string();
    assert!(message.contains("integer overflow"), "{message}");
}

#[test]
fn mismatched_text_shapes_are_rejected() {
    assert!(matches!(
        multiply_text("[[1,2]]", "[[1,2]]"),
        Err(MatrixError::ShapeMismatch { .. })
    ));
}

#[test]
fn non_finite_float_product_is_an_error() {
    assert_eq!(
        multiply_text("[[1e300]]", "[[1e300]]"),
        Err(MatrixError::NonFinite { row: 0, col: 0 })
    );
}

#[test]
fn wrong_buffer_length_is_rejected() {
    assert_eq!(
        Matrix::new(2, 2, vec![1]),
        Err(MatrixError::DataLength {
            rows: 2,
            cols: 2,
            len: 1
        })
    );
    assert!(matches!(
        Matrix::from_rows(vec![vec![1], vec![2, 3]]),
        Err(MatrixError::RaggedRows { row: 1, .. })
    ));
}
