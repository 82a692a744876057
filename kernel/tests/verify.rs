//! Freivalds' check: honest products always pass (integers of every size,
//! floats computed by every kernel), a single element off by one is rejected
//! in every one of 1,000 trials, wrong shapes and wrong row blocks are
//! rejected.

use kernel::testdata::Xorshift;
use kernel::verify::{Operand, ProductCheck, VerifyError, verify_product};
use kernel::{AnyMatrix, Matrix, MatrixError, multiply, multiply_exact, naive, text};
use proptest::prelude::*;

/// Test matrices drawn from the kernel's test data generator.
struct Data(Xorshift);

impl Data {
    fn new(seed: u64) -> Self {
        Self(Xorshift::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn int(&mut self, bound: i64) -> i64 {
        let span = u64::try_from(bound).expect("positive bound") * 2 + 1;
        i64::try_from(self.next() % span).expect("in range") - bound
    }

    fn ints(&mut self, rows: usize, cols: usize, bound: i64) -> Matrix<i64> {
        let data = (0..rows * cols).map(|_| self.int(bound)).collect();
        Matrix::new(rows, cols, data).expect("shape")
    }

    #[allow(clippy::cast_precision_loss)]
    fn floats(&mut self, rows: usize, cols: usize, scale: f64) -> Matrix<f64> {
        let data = (0..rows * cols)
            .map(|_| ((self.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * scale)
            .collect();
        Matrix::new(rows, cols, data).expect("shape")
    }
}

fn int(m: &Matrix<i64>) -> AnyMatrix {
    AnyMatrix::Int(m.clone())
}

fn float(m: &Matrix<f64>) -> AnyMatrix {
    AnyMatrix::Float(m.clone())
}

/// Shapes that cross the kernels' block edges and the degenerate ones.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 7, 1),
    (1, 33, 9),
    (9, 1, 5),
    (17, 63, 65),
    (65, 17, 1),
    (2, 130, 3),
    (127, 40, 33),
    (64, 257, 16),
];

#[test]
fn honest_integer_products_pass_for_every_shape_and_magnitude() {
    let mut data = Data::new(1);
    for &(m, k, n) in SHAPES {
        for bound in [1, 1000, 1 << 20, 1 << 27] {
            let a = data.ints(m, k, bound);
            let b = data.ints(k, n, bound);
            let c = multiply_exact(&a, &b).expect("fits");
            for seed in 0..4 {
                assert_eq!(
                    verify_product(&int(&a), &int(&b), &int(&c), seed),
                    Ok(()),
                    "{m}x{k}x{n}, |values| <= {bound}, seed {seed}"
                );
            }
        }
    }
}

#[test]
fn honest_products_of_extreme_integers_pass_with_more_primes() {
    // Elements at the ends of the i64 range whose products still fit.
    let a = Matrix::from_rows(vec![vec![i64::MAX, 0], vec![i64::MIN, 1]]).expect("rows");
    let b = Matrix::from_rows(vec![vec![1, 0], vec![0, i64::MIN]]).expect("rows");
    let c = naive::multiply_i64(&a, &b).expect("fits");
    let check = ProductCheck::new(&int(&a), &int(&b), 5).expect("shapes");
    assert!(check.rounds() > 1, "huge values need more than one prime");
    assert_eq!(check.check(&int(&c)), Ok(()));
    // And the same product with one element moved by 2^61 - 1 (a multiple
    // of the first prime) is still caught.
    let mut wrong = c.clone().into_data();
    wrong[1] = wrong[1].wrapping_sub((1 << 61) - 1);
    let wrong = Matrix::new(2, 2, wrong).expect("shape");
    assert!(check.check(&int(&wrong)).is_err());
}

#[test]
fn an_element_off_by_a_multiple_of_each_prime_is_rejected() {
    // Operands large enough that an element off by about 2^61 is within
    // the a-priori bound, so only the modular check can catch it.
    let a = Matrix::from_rows(vec![vec![1 << 40, 1 << 40], vec![3, -7]]).expect("rows");
    let b = Matrix::from_rows(vec![vec![1 << 21, 5], vec![-(1 << 21), 9]]).expect("rows");
    let c = multiply_exact(&a, &b).expect("fits");
    for q in kernel::verify::PRIMES {
        let mut wrong = c.clone().into_data();
        wrong[0] += i64::try_from(q).expect("below 2^61");
        let wrong = Matrix::new(2, 2, wrong).expect("shape");
        for seed in 0..20 {
            assert!(
                verify_product(&int(&a), &int(&b), &int(&wrong), seed).is_err(),
                "off by {q} passed with seed {seed}"
            );
        }
    }
}

#[test]
fn an_element_off_by_a_high_power_of_two_is_rejected_modulo_2_64() {
    // Small enough for the wrapping check (2 * 2^21 * 2^20 < 2^44), and the
    // error 2^41 keeps the element inside the a-priori bound, so only the
    // check modulo 2^64 can catch it: each trial passes with probability
    // at most 2^-23.
    let a = Matrix::from_rows(vec![vec![1 << 20, 1 << 20], vec![1, 2]]).expect("rows");
    let b = Matrix::from_rows(vec![vec![-(1 << 20), 3], vec![-(1 << 20), 4]]).expect("rows");
    let c = multiply_exact(&a, &b).expect("fits");
    let mut wrong = c.clone().into_data();
    wrong[0] += 1 << 41;
    let wrong = int(&Matrix::new(2, 2, wrong).expect("shape"));
    for seed in 0..1000 {
        let check = ProductCheck::new(&int(&a), &int(&b), seed).expect("shapes");
        assert_eq!(check.check(&int(&c)), Ok(()));
        assert_eq!(
            check.check(&wrong),
            Err(VerifyError::Mismatch { row: 0 }),
            "seed {seed}"
        );
    }
}

#[test]
fn one_integer_element_off_by_one_is_rejected_in_1000_of_1000_trials() {
    let mut data = Data::new(3);
    let (m, k, n) = (24, 31, 17);
    let a = data.ints(m, k, 1000);
    let b = data.ints(k, n, 1000);
    let c = multiply_exact(&a, &b).expect("fits");
    let mut rejected = 0;
    for trial in 0..1000u64 {
        let index = usize::try_from(data.next() % (m * n) as u64).expect("small");
        let mut wrong = c.clone().into_data();
        wrong[index] += if trial % 2 == 0 { 1 } else { -1 };
        let wrong = int(&Matrix::new(m, n, wrong).expect("shape"));
        match verify_product(&int(&a), &int(&b), &wrong, data.next()) {
            Err(VerifyError::Mismatch { row }) => {
                assert_eq!(row, index / n, "the wrong row is named");
                rejected += 1;
            }
            other => panic!("trial {trial}: element {index} off by one gave {other:?}"),
        }
    }
    assert_eq!(rejected, 1000);
}

#[test]
fn one_float_element_off_by_one_is_rejected_in_1000_of_1000_trials() {
    let mut data = Data::new(4);
    let (m, k, n) = (20, 40, 30);
    let a = data.floats(m, k, 200.0);
    let b = data.floats(k, n, 200.0);
    let c = multiply(&a, &b).expect("shapes");
    let mut rejected = 0;
    for trial in 0..1000u64 {
        let index = usize::try_from(data.next() % (m * n) as u64).expect("small");
        let mut wrong = c.clone().into_data();
        wrong[index] += if trial % 2 == 0 { 1.0 } else { -1.0 };
        let wrong = float(&Matrix::new(m, n, wrong).expect("shape"));
        match verify_product(&float(&a), &float(&b), &wrong, data.next()) {
            Err(VerifyError::Mismatch { row }) => {
                assert_eq!(row, index / n);
                rejected += 1;
            }
            other => panic!("trial {trial}: element {index} off by one gave {other:?}"),
        }
    }
    assert_eq!(rejected, 1000);
}

#[test]
fn honest_float_products_pass_from_the_blocked_and_the_naive_kernel() {
    let mut data = Data::new(5);
    for &(m, k, n) in SHAPES {
        for scale in [1e-300, 1e-3, 1.0, 1e6, 1e150] {
            let a = data.floats(m, k, scale);
            let b = data.floats(k, n, scale);
            let blocked = multiply(&a, &b).expect("shapes");
            let textbook = naive::multiply_f64(&a, &b).expect("shapes");
            for (name, c) in [("blocked", blocked), ("naive", textbook)] {
                for seed in 0..3 {
                    assert_eq!(
                        verify_product(&float(&a), &float(&b), &float(&c), seed),
                        Ok(()),
                        "{name} {m}x{k}x{n} scale {scale:e} seed {seed}"
                    );
                }
            }
        }
    }
}

#[test]
fn honest_float_products_with_heavy_cancellation_pass() {
    // Rows that sum to nearly zero: the relative error of the result is
    // large, yet within the a-priori bound |A||B|.
    let k = 1000;
    let a_row: Vec<f64> = (0..k)
        .map(|p| {
            if p % 2 == 0 {
                1.0 + 1e-9 * p as f64
            } else {
                -1.0
            }
        })
        .collect();
    let a = Matrix::new(1, k, a_row).expect("shape");
    let b = Matrix::new(k, 1, (0..k).map(|p| 1e8 + p as f64 / 3.0).collect()).expect("shape");
    for c in [
        multiply(&a, &b).expect("shapes"),
        naive::multiply_f64(&a, &b).expect("shapes"),
    ] {
        assert_eq!(
            verify_product(&float(&a), &float(&b), &float(&c), 9),
            Ok(())
        );
    }
}

#[test]
fn floats_survive_the_round_trip_through_text() {
    let mut data = Data::new(6);
    let a = data.floats(33, 21, 10.0);
    let b = data.floats(21, 12, 10.0);
    let c = multiply(&a, &b).expect("shapes");
    let read = |m: &Matrix<f64>| text::parse(&text::write_f64(m).expect("finite")).expect("text");
    assert_eq!(verify_product(&read(&a), &read(&b), &read(&c), 1), Ok(()));
}

#[test]
fn integer_valued_float_results_are_read_as_floats() {
    // 1.5 * 2 = 3: a worker writes "3", which reads back as an integer.
    let a = text::parse("[[1.5,0.5]]").expect("text");
    let b = text::parse("[[2],[2]]").expect("text");
    let c = text::parse("[[4]]").expect("text");
    assert_eq!(verify_product(&a, &b, &c, 1), Ok(()));
    let wrong = text::parse("[[5]]").expect("text");
    assert!(verify_product(&a, &b, &wrong, 1).is_err());
}

#[test]
fn a_float_claim_for_an_integer_product_is_rejected() {
    let a = text::parse("[[1,2]]").expect("text");
    let b = text::parse("[[3],[4]]").expect("text");
    let c = text::parse("[[11.0]]").expect("text");
    assert_eq!(
        verify_product(&a, &b, &c, 1),
        Err(VerifyError::FloatForIntegers)
    );
}

#[test]
fn wrong_shapes_are_rejected() {
    let a = text::parse("[[1,2],[3,4]]").expect("text");
    let b = text::parse("[[5,6],[7,8]]").expect("text");
    for claim in [
        "[[19,22]]",
        "[[19],[43]]",
        "[[19,22,0],[43,50,0]]",
        "[[19,22],[43,50],[0,0]]",
    ] {
        let c = text::parse(claim).expect("text");
        assert!(
            matches!(
                verify_product(&a, &b, &c, 1),
                Err(VerifyError::WrongShape {
                    rows: 2,
                    cols: 2,
                    ..
                })
            ),
            "{claim} was not rejected as a wrong shape"
        );
    }
    let c = text::parse("[[19,22],[43,50]]").expect("text");
    assert_eq!(verify_product(&a, &b, &c, 1), Ok(()));
    let three = text::parse("[[1],[2],[3]]").expect("text");
    assert!(matches!(
        verify_product(&a, &three, &c, 1),
        Err(VerifyError::Operands(_))
    ));
}

#[test]
fn an_impossibly_large_element_is_rejected_before_the_check() {
    let a = text::parse("[[1,2]]").expect("text");
    let b = text::parse("[[3],[4]]").expect("text");
    // 11 is the product; |1|*4 + |2|*4 = 12 bounds any element; 13 cannot be.
    let c = text::parse("[[13]]").expect("text");
    assert_eq!(
        verify_product(&a, &b, &c, 1),
        Err(VerifyError::OutOfBound { row: 0, col: 0 })
    );
}

#[test]
fn row_blocks_are_checked_against_their_rows_of_a() {
    let mut data = Data::new(7);
    let (m, k, n) = (10, 6, 4);
    let a = data.ints(m, k, 50);
    let b = data.ints(k, n, 50);
    let c = multiply_exact(&a, &b).expect("fits");
    let check = ProductCheck::new(&int(&a), &int(&b), 3).expect("shapes");
    let block = |rows: std::ops::Range<usize>| {
        int(&Matrix::new(
            rows.len(),
            n,
            c.data()[rows.start * n..rows.end * n].to_vec(),
        )
        .expect("shape"))
    };
    assert_eq!(check.check_rows(3..7, &block(3..7)), Ok(()));
    assert_eq!(check.check_rows(0..1, &block(0..1)), Ok(()));
    assert_eq!(check.check_rows(9..10, &block(9..10)), Ok(()));
    // The right rows' product claimed for other rows of A.
    assert!(check.check_rows(4..8, &block(3..7)).is_err());
    assert!(matches!(
        check.check_rows(8..12, &block(3..7)),
        Err(VerifyError::RowsOutOfRange { .. })
    ));
}

fn operands(bound: i64) -> impl Strategy<Value = (Matrix<i64>, Matrix<i64>)> {
    (1usize..20, 1usize..20, 1usize..20).prop_flat_map(move |(m, k, n)| {
        (
            proptest::collection::vec(-bound..=bound, m * k)
                .prop_map(move |v| Matrix::new(m, k, v).expect("shape")),
            proptest::collection::vec(-bound..=bound, k * n)
                .prop_map(move |v| Matrix::new(k, n, v).expect("shape")),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_wrong_integer_element_is_rejected(
        (a, b) in operands(1 << 28),
        seed in any::<u64>(),
        at in any::<usize>(),
        delta in prop_oneof![Just(1i64), Just(-1), any::<i32>().prop_map(i64::from)],
    ) {
        prop_assume!(delta != 0);
        let c = multiply_exact(&a, &b).expect("fits");
        prop_assert_eq!(verify_product(&int(&a), &int(&b), &int(&c), seed), Ok(()));
        let mut wrong = c.into_data();
        let index = at % wrong.len();
        wrong[index] += delta;
        let wrong = Matrix::new(a.rows(), b.cols(), wrong).expect("shape");
        prop_assert!(verify_product(&int(&a), &int(&b), &int(&wrong), seed).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Small integers are prepared and checked row by row from text, large
    /// ones from whole matrices: both give the same answer, error included.
    #[test]
    fn checks_read_row_by_row_answer_as_checks_on_whole_matrices(
        (a, b) in prop_oneof![operands(1000), operands(1 << 28)],
        seed in any::<u64>(),
        at in any::<usize>(),
        split in any::<usize>(),
    ) {
        let c = multiply_exact(&a, &b).expect("fits");
        let from_text = ProductCheck::from_text(&text::write_i64(&a), &text::write_i64(&b), seed)
            .expect("operands");
        let whole = ProductCheck::new(&int(&a), &int(&b), seed).expect("operands");
        prop_assert_eq!(from_text.product_may_fail(), whole.product_may_fail());
        prop_assert_eq!(from_text.rounds(), whole.rounds());
        let mut wrong = c.clone().into_data();
        let index = at % wrong.len();
        wrong[index] += 1;
        let wrong = Matrix::new(c.rows(), c.cols(), wrong).expect("shape");
        let top_rows = split % c.rows() + 1;
        let top = |m: &Matrix<i64>| {
            Matrix::new(top_rows, m.cols(), m.data()[..top_rows * m.cols()].to_vec()).expect("shape")
        };
        let claims = [
            (0..c.rows(), text::write_i64(&c), int(&c)),
            (0..c.rows(), text::write_i64(&wrong), int(&wrong)),
            (0..top_rows, text::write_i64(&top(&c)), int(&top(&c))),
            (0..top_rows, text::write_i64(&top(&wrong)), int(&top(&wrong))),
            (0..c.rows(), text::write_i64(&top(&c)), int(&top(&c))),
        ];
        for (rows, claim_text, claim) in claims {
            let expected = whole.check_rows(rows.clone(), &claim);
            prop_assert_eq!(from_text.check_rows_text(rows.clone(), &claim_text), expected.clone());
            prop_assert_eq!(whole.check_rows_text(rows, &claim_text), expected);
        }
        prop_assert_eq!(from_text.check_text(&text::write_i64(&c)), Ok(()));
        prop_assert!(from_text.check_text(&text::write_i64(&wrong)).is_err());
    }
}

/// `m` with its element `at` (modulo its length) increased by `delta`.
fn one_element_off<T: Clone + std::ops::AddAssign>(
    m: &Matrix<T>,
    at: usize,
    delta: T,
) -> Matrix<T> {
    let mut data = m.clone().into_data();
    let index = at % data.len();
    data[index] += delta;
    Matrix::new(m.rows(), m.cols(), data).expect("shape")
}

/// A `from_text_with_rows` error as `from_text` reports it.
fn as_from_text(error: VerifyError) -> VerifyError {
    match error {
        VerifyError::OperandUnreadable { error, .. } => VerifyError::Operands(error),
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Preparing with rows gives the check `from_text` gives (the same
    /// answer to honest and wrong claims) and `A`'s rows as `row_spans`
    /// finds them: small integers (read row by row), large ones and floats
    /// (read whole), compact and spaced.
    #[test]
    fn checks_prepared_with_rows_are_the_checks_from_text_with_the_rows_of_a(
        (a, b) in prop_oneof![operands(1000), operands(1 << 28)],
        seed in any::<u64>(),
        at in any::<usize>(),
        float in any::<bool>(),
        spaced in any::<bool>(),
    ) {
        // Never integral, so the texts read as floats.
        #[allow(clippy::cast_precision_loss)]
        let halves = |m: &Matrix<i64>| m.map(|&v| v as f64 * 0.5 + 0.25);
        let (a_text, b_text, c_text, wrong_text) = if float {
            let c = multiply(&halves(&a), &halves(&b)).expect("shapes");
            let wrong = one_element_off(&c, at, 1.0);
            let write = |m: &Matrix<f64>| text::write_f64(m).expect("finite");
            (write(&halves(&a)), write(&halves(&b)), write(&c), write(&wrong))
        } else {
            let c = multiply_exact(&a, &b).expect("fits");
            let wrong = one_element_off(&c, at, 1);
            let write = text::write_i64;
            (write(&a), write(&b), write(&c), write(&wrong))
        };
        let a_text = if spaced {
            a_text.replace(',', " , ").replace("] , [", "],\n\t[")
        } else {
            a_text
        };
        let from_text = ProductCheck::from_text(&a_text, &b_text, seed).expect("operands");
        let (check, spans) =
            ProductCheck::from_text_with_rows(&a_text, &b_text, seed).expect("operands");
        prop_assert_eq!(&spans, &text::row_spans(&a_text).expect("A scans"));
        prop_assert_eq!(spans.rows.len(), a.rows());
        prop_assert_eq!(spans.cols, a.cols());
        prop_assert_eq!(check.rows(), from_text.rows());
        prop_assert_eq!(check.cols(), from_text.cols());
        prop_assert_eq!(check.rounds(), from_text.rounds());
        prop_assert_eq!(check.product_may_fail(), from_text.product_may_fail());
        prop_assert_eq!(check.check_text(&c_text), Ok(()));
        prop_assert_eq!(check.check_text(&c_text), from_text.check_text(&c_text));
        prop_assert_eq!(check.check_text(&wrong_text), from_text.check_text(&wrong_text));
    }
}

#[test]
fn operand_errors_name_the_operand_and_say_what_is_wrong() {
    let error = |a: &str, b: &str| {
        let with_rows = ProductCheck::from_text_with_rows(a, b, 1).expect_err("rejected");
        let from_text = ProductCheck::from_text(a, b, 1).expect_err("rejected");
        assert_eq!(as_from_text(with_rows.clone()), from_text, "{a} x {b}");
        with_rows
    };
    let shapes = error("[[1,2],[3,4]]", "[[1,2,3]]");
    assert_eq!(
        shapes,
        VerifyError::Operands(MatrixError::ShapeMismatch {
            left_rows: 2,
            left_cols: 2,
            right_rows: 1,
            right_cols: 3
        })
    );
    assert_eq!(
        shapes.to_string(),
        "shape mismatch: cannot multiply a 2x2 matrix by a 1x3 matrix (2 columns vs 1 rows)"
    );
    let ragged = error("[[1,2],[3]]", "[[1],[2]]");
    assert_eq!(
        ragged,
        VerifyError::OperandUnreadable {
            operand: Operand::A,
            error: MatrixError::RaggedRows {
                row: 1,
                expected: 2,
                found: 1
            }
        }
    );
    assert_eq!(
        ragged.to_string(),
        "matrix A: ragged rows: row 1 has 1 values but row 0 has 2"
    );
    let not_a_number = error("[[1,2]]", "[[1],[x]]");
    assert!(matches!(
        &not_a_number,
        VerifyError::OperandUnreadable {
            operand: Operand::B,
            error: MatrixError::NotANumber { offset: 6, .. }
        }
    ));
    assert_eq!(
        not_a_number.to_string(),
        "matrix B: not a number at byte 6: found \"x]]\""
    );
    // Floats and large integers take the other path, with the same errors.
    for (a, b) in [
        ("[[1.5,2],[3]]", "[[1],[2]]"),
        ("[[1.5,2]]", "[[1],[2],[3]]"),
        ("[[4611686018427387904]]", "[[1,2]] x"),
        ("[]", "[[1]]"),
        ("[[1]]", "[[[1]]]"),
    ] {
        assert!(matches!(
            error(a, b),
            VerifyError::OperandUnreadable { .. } | VerifyError::Operands(_)
        ));
    }
}

#[test]
fn checks_from_text_agree_with_checks_on_matrices() {
    let mut data = Data::new(8);
    let a = data.ints(13, 9, 1000);
    let b = data.ints(9, 11, 1000);
    let c = multiply_exact(&a, &b).expect("fits");
    let check =
        ProductCheck::from_text(&text::write_i64(&a), &text::write_i64(&b), 4).expect("operands");
    assert_eq!(check.check_text(&text::write_i64(&c)), Ok(()));
    // Spaced text, as a JavaScript worker's pretty-printed array.
    let spaced =
        serde_json::to_string_pretty(&(0..13).map(|i| c.row(i).to_vec()).collect::<Vec<_>>())
            .expect("json");
    assert_eq!(check.check_text(&spaced), Ok(()));
    let mut wrong = c.clone().into_data();
    wrong[40] -= 1;
    let wrong = Matrix::new(13, 11, wrong).expect("shape");
    assert_eq!(
        check.check_text(&text::write_i64(&wrong)),
        Err(VerifyError::Mismatch { row: 40 / 11 })
    );
    assert_eq!(
        check.check_rows_text(
            2..4,
            &text::write_i64(&Matrix::new(2, 11, c.data()[22..44].to_vec()).expect("shape"))
        ),
        Ok(())
    );
    assert!(matches!(
        check.check_text("[[1,2],[3]]"),
        Err(VerifyError::Unreadable(_))
    ));
    assert!(matches!(
        check.check_text("not a matrix"),
        Err(VerifyError::Unreadable(_))
    ));
}

#[test]
fn float_texts_are_checked_through_the_reference_reader() {
    let check = ProductCheck::from_text("[[1.5, 2]]", "[[2],[0.25]]", 1).expect("operands");
    assert_eq!(check.check_text("[[3.5]]"), Ok(()));
    assert_eq!(
        check.check_text("[[3.5000001]]"),
        Err(VerifyError::Mismatch { row: 0 })
    );
    assert!(matches!(
        ProductCheck::from_text("[[1,2]]", "[[1,2]]", 1),
        Err(VerifyError::Operands(_))
    ));
    assert!(matches!(
        ProductCheck::from_text("[[1,x]]", "[[1]]", 1),
        Err(VerifyError::Operands(_))
    ));
}

/// `product_may_fail` is `false` only where the kernel surely computes the
/// product, and `true` for the products the kernel refuses (overflow).
#[test]
fn product_may_fail_agrees_with_the_kernel() {
    let cases: [(&str, &str, bool); 7] = [
        ("[[1,2],[3,4]]", "[[5,6],[7,8]]", false),
        ("[[1.5,-2],[3,4e10]]", "[[5,6],[7,8]]", false),
        ("[[3037000499,3037000499]]", "[[1],[1]]", false),
        (
            "[[4611686018427387904,4611686018427387904]]",
            "[[1],[1]]",
            true,
        ),
        ("[[9223372036854775807]]", "[[2]]", true),
        ("[[1e308,1e308]]", "[[10],[10]]", true),
        // The bound is conservative: 3e308 overflows although 1e308+2 does not.
        ("[[1,2]]", "[[1e308],[1]]", true),
    ];
    for (a, b, may_fail) in cases {
        let check = ProductCheck::from_text(a, b, 7).expect("valid operands");
        assert_eq!(check.product_may_fail(), may_fail, "{a} x {b}");
        if !may_fail {
            assert!(kernel::multiply_text(a, b).is_ok(), "{a} x {b} computes");
        }
    }
    assert!(kernel::multiply_text("[[9223372036854775807]]", "[[2]]").is_err());
}
