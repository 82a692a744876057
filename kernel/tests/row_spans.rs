//! `text::row_spans`, the structure-only row scan: it agrees with the
//! readers (the same rows for every text the whole-matrix reader or the
//! row-by-row reader accepts, the reader's error for structural problems,
//! and no text it rejects that a reader accepts) and with a plain reference scan on awkward texts: spaces,
//! newlines, tabs, 1xN and Nx1, ragged, nested, empty, trailing bytes.

use std::ops::Range;

use kernel::testdata::digit_ints;
use kernel::text::{IntRows, RowSpans, parse, parse_i64, row_spans, write_i64};
use kernel::{Matrix, MatrixError};
use proptest::prelude::*;

/// The plain reference: the same structure rules, one byte at a time, with
/// no error detail (`None` for any text it rejects).
fn reference(text: &str) -> Option<RowSpans> {
    let bytes = text.as_bytes();
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let skip_ws = |mut pos: usize| {
        while pos < bytes.len() && is_ws(bytes[pos]) {
            pos += 1;
        }
        pos
    };
    let mut pos = skip_ws(0);
    if bytes.get(pos) != Some(&b'[') {
        return None;
    }
    pos = skip_ws(pos + 1);
    let mut rows = Vec::new();
    let mut cols = None;
    loop {
        if bytes.get(pos) != Some(&b'[') {
            return None;
        }
        let start = pos;
        let end = pos
            + 1
            + bytes[pos + 1..]
                .iter()
                .position(|&b| b == b'[' || b == b']')?;
        let inner = &bytes[pos + 1..end];
        if bytes[end] == b'[' || inner.iter().all(|&b| is_ws(b)) {
            return None;
        }
        let values = 1 + inner.iter().filter(|&&b| b == b',').count();
        if *cols.get_or_insert(values) != values {
            return None;
        }
        pos = end + 1;
        rows.push(start..pos);
        pos = skip_ws(pos);
        match bytes.get(pos)? {
            b',' => pos = skip_ws(pos + 1),
            b']' => break,
            _ => return None,
        }
    }
    (skip_ws(pos + 1) == bytes.len()).then(|| RowSpans {
        rows,
        cols: cols.unwrap_or(0),
    })
}

/// The reader's errors that come from the structure alone, which the scan
/// must report exactly as the reader does.
fn is_structural(error: &MatrixError) -> bool {
    match error {
        MatrixError::RaggedRows { .. } | MatrixError::Empty => true,
        MatrixError::Syntax { expected, .. } => [
            "'[' opening the matrix",
            "'[' opening a row",
            "',' or ']' after a row",
            "the end of the text",
        ]
        .contains(expected),
        _ => false,
    }
}

/// Checks `text` against the reader and the reference.
fn agrees(text: &str) -> Result<(), TestCaseError> {
    let spans = row_spans(text);
    let expected = reference(text);
    prop_assert_eq!(spans.as_ref().ok(), expected.as_ref(), "{:?}", text);
    match parse(text) {
        Ok(matrix) => {
            let spans = spans.as_ref().expect("the reader accepts it");
            prop_assert_eq!(spans.rows.len(), matrix.rows());
            prop_assert_eq!(spans.cols, matrix.cols());
            let matrix = matrix.into_f64();
            for (i, span) in spans.rows.iter().enumerate() {
                // Each span alone reads as that row.
                let row = parse(&format!("[{}]", &text[span.clone()])).expect("a row");
                let row = row.into_f64();
                prop_assert_eq!(row.data(), matrix.row(i));
            }
        }
        Err(error) if is_structural(&error) => prop_assert_eq!(&spans, &Err(error)),
        Err(_) => {}
    }
    // The row-by-row reader: every row it yields is the text in its span.
    if let Ok(rows) = int_rows(text) {
        let spans = spans.expect("the row reader accepts it");
        prop_assert_eq!(rows.len(), spans.rows.len());
        for (row, span) in rows.iter().zip(&spans.rows) {
            let alone = parse_i64(&format!("[{}]", &text[span.clone()])).expect("a row");
            prop_assert_eq!(alone.data(), row.as_slice());
        }
    }
    Ok(())
}

/// Every row `IntRows` yields for `text`, or its error.
fn int_rows(text: &str) -> Result<Vec<Vec<i64>>, MatrixError> {
    let mut reader = IntRows::new(text)?;
    let mut rows = Vec::new();
    while let Some(row) = reader.next_row()? {
        rows.push(row.to_vec());
    }
    Ok(rows)
}

/// Whitespace the reader accepts, in runs of every kind.
fn ws() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(String::new()),
        1 => Just(" ".to_owned()),
        1 => Just("\n".to_owned()),
        1 => Just("\t".to_owned()),
        1 => Just("\r\n  ".to_owned()),
    ]
}

/// A value as a client may write it: integers of both signs, floats.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-99_999i64..99_999).prop_map(|v| v.to_string()),
        1 => Just("1.5".to_owned()),
        1 => Just("-2e3".to_owned()),
    ]
}

/// A matrix text with rows of 0 to 4 values (so ragged and empty rows
/// occur), whitespace between any two tokens, and sometimes one byte
/// inserted, replaced or removed.
fn awkward_text() -> impl Strategy<Value = String> {
    let rows = proptest::collection::vec(proptest::collection::vec(value(), 0..5), 0..5);
    let same_length = any::<bool>();
    let spaces = proptest::collection::vec(ws(), 64);
    let edit = proptest::option::weighted(
        0.4,
        (
            any::<usize>(),
            0..3u8,
            prop::sample::select(b"[],x -\n0".to_vec()),
        ),
    );
    (rows, same_length, spaces, edit).prop_map(|(mut rows, same_length, spaces, edit)| {
        if same_length && let Some(len) = rows.first().map(Vec::len) {
            for row in &mut rows {
                row.resize(len, "7".to_owned());
            }
        }
        let mut space = spaces.iter().cycle();
        let mut text = String::new();
        let mut push = |token: &str, text: &mut String| {
            text.push_str(space.next().expect("cycles"));
            text.push_str(token);
        };
        push("[", &mut text);
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                push(",", &mut text);
            }
            push("[", &mut text);
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    push(",", &mut text);
                }
                push(v, &mut text);
            }
            push("]", &mut text);
        }
        push("]", &mut text);
        push("", &mut text);
        if let Some((at, kind, byte)) = edit {
            let mut bytes = text.into_bytes();
            let at = at % (bytes.len() + 1);
            match kind {
                0 => bytes.insert(at, byte),
                1 if at < bytes.len() => bytes[at] = byte,
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.push(byte),
            }
            text = String::from_utf8(bytes).expect("ASCII");
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn awkward_texts_scan_as_the_reader_and_the_reference_read_them(text in awkward_text()) {
        agrees(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Long rows, compact and spaced, so the vector searches run over
    /// many whole blocks.
    #[test]
    fn long_rows_scan_to_their_rows(rows in 1usize..6, cols in 1usize..300, seed in any::<u64>(), spaced in any::<bool>()) {
        let matrix = Matrix::new(rows, cols, digit_ints(rows * cols, seed)).expect("shape");
        let mut text = write_i64(&matrix);
        if spaced {
            text = text.replace(',', " , ").replace("],[", "],\n\t[");
        }
        let spans = row_spans(&text).expect("a matrix");
        prop_assert_eq!(spans.rows.len(), rows);
        prop_assert_eq!(spans.cols, cols);
        agrees(&text)?;
    }
}

#[test]
fn spans_bracket_each_row() {
    let text = " [ [1, 2] ,\n\t[3,4]\r\n] ";
    let spans = row_spans(text).expect("a matrix");
    assert_eq!(spans.cols, 2);
    let rows: Vec<&str> = spans.rows.iter().map(|r| &text[r.clone()]).collect();
    assert_eq!(rows, ["[1, 2]", "[3,4]"]);
    assert_eq!(
        spans.rows,
        [3..9, 13..18].into_iter().collect::<Vec<Range<usize>>>()
    );
}

#[test]
fn one_row_and_one_column_matrices_scan() {
    let wide = row_spans("[[1,2,3,4,5]]").expect("1x5");
    assert_eq!((wide.rows.len(), wide.cols), (1, 5));
    let tall = row_spans("[[1],[2],[3]]").expect("3x1");
    assert_eq!((tall.rows.len(), tall.cols), (3, 1));
    assert_eq!(tall.rows, [1..4, 5..8, 9..12]);
}

#[test]
fn ragged_matrix_is_rejected_naming_the_row() {
    assert_eq!(
        row_spans("[[1,2],[3,4],[5]]"),
        Err(MatrixError::RaggedRows {
            row: 2,
            expected: 2,
            found: 1
        })
    );
    // An empty row among others is a ragged one, as the reader says.
    for text in ["[[1,2],[]]", "[[],[1]]", "[[1],[ ]]"] {
        let error = row_spans(text).expect_err(text);
        assert!(matches!(error, MatrixError::RaggedRows { .. }), "{text}");
        assert_eq!(parse(text).expect_err(text), error, "{text}");
    }
}

#[test]
fn empty_matrix_is_rejected() {
    for text in ["[]", " [ ] ", "[[]]", "[[],[ ]]", "[[ \n ]]"] {
        assert_eq!(row_spans(text), Err(MatrixError::Empty), "{text}");
        assert_eq!(parse(text).expect_err(text), MatrixError::Empty, "{text}");
    }
}

#[test]
fn nested_rows_are_not_numbers() {
    assert!(matches!(
        row_spans("[[1,[2]]]"),
        Err(MatrixError::NotANumber { offset: 4, .. })
    ));
    assert!(matches!(
        row_spans("[[[1]]]"),
        Err(MatrixError::NotANumber { offset: 2, .. })
    ));
    assert!(parse("[[1,[2]]]").is_err() && parse("[[[1]]]").is_err());
}

#[test]
fn trailing_bytes_and_missing_brackets_are_syntax_errors() {
    for (text, offset, expected) in [
        ("[[1]] x", 6, "the end of the text"),
        ("[[1]]]", 5, "the end of the text"),
        ("[[1],[2]", 8, "',' or ']' after a row"),
        ("[[1] [2]]", 5, "',' or ']' after a row"),
        ("[1,2]", 1, "'[' opening a row"),
        ("[[1],2]", 5, "'[' opening a row"),
        ("", 0, "'[' opening the matrix"),
        ("x[[1]]", 0, "'[' opening the matrix"),
    ] {
        let error = row_spans(text).expect_err(text);
        assert!(
            matches!(&error, MatrixError::Syntax { offset: o, expected: e, .. } if *o == offset && *e == expected),
            "{text}: {error}"
        );
        assert_eq!(parse(text).expect_err(text), error, "{text}");
    }
    // A row that never closes.
    assert!(matches!(
        row_spans("[[1,2"),
        Err(MatrixError::Syntax {
            offset: 5,
            expected: "']' closing a row",
            ..
        })
    ));
}

#[test]
fn escaped_text_is_left_to_the_caller() {
    // A JSON string holding a matrix is not a matrix text until decoded.
    assert!(matches!(
        row_spans("\"[[1,2]]\""),
        Err(MatrixError::Syntax { offset: 0, .. })
    ));
}

#[test]
fn values_are_not_read() {
    // Structure only: the reader rejects these, the scan counts commas.
    assert_eq!(row_spans("[[1,x]]").map(|s| s.cols), Ok(2));
    assert_eq!(row_spans("[[1,,2]]").map(|s| s.cols), Ok(3));
    assert!(parse("[[1,x]]").is_err() && parse("[[1,,2]]").is_err());
}
