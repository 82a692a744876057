//! Reading and writing Dana matrix text: round trips, the JSON array form,
//! whitespace, and every error kind.

use kernel::text::{parse, parse_f64, parse_i64, write_f64, write_i64};
use kernel::{AnyMatrix, Matrix, MatrixError, multiply_text};
use proptest::prelude::*;

fn ints() -> impl Strategy<Value = Matrix<i64>> {
    (1usize..12, 1usize..12).prop_flat_map(|(r, c)| {
        proptest::collection::vec(any::<i64>(), r * c)
            .prop_map(move |d| Matrix::new(r, c, d).expect("shape"))
    })
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
