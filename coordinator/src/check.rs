//! How a task's results are checked before they are accepted.
//!
//! A [`TaskCheck`] travels with a task through the queue. There are two
//! kinds:
//!
//! - [`TaskCheck::Product`]: Freivalds' check of a matrix product (or of
//!   the row block of it that a part of a split task computes), prepared
//!   once per submitted product by the kernel with a secret seed. The use
//!   case that takes a result asks the check whether the result is right
//!   ([`TaskCheck::verify`]) outside the queue's lock, then tells the queue
//!   to complete or reject. It also bounds a result's size by the product's
//!   shape ([`TaskCheck::max_result_bytes`]). A check restored from a store
//!   is prepared again from the task's data and seed the first time a
//!   result needs it (outside the queue's lock, like every check), not at
//!   start.
//! - [`TaskCheck::Quorum`]: replication for results nothing can check
//!   (BOINC's answer): the task is handed to several workers on distinct
//!   addresses and completes when enough of their answers are identical.
//!   A single answer cannot be verified, so [`TaskCheck::verify`] passes
//!   it; the queue counts the votes ([`Quorum`] says how many).
//!
//! The queue looks inside a check only for what its rules need: whether a
//! result was verified, and the quorum's numbers.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use kernel::verify::ProductCheck;

use crate::shared_text::SharedText;

/// Why a result is refused when its task's check could not be prepared
/// again (the kept data no longer reads as the matrices it was).
const UNPREPARED: &str = "the task's check could not be prepared from its data";

/// Prepares a product check again, when it is first needed.
pub(crate) type Prepare = Box<dyn Fn() -> Option<ProductCheck> + Send + Sync>;

/// What every result for one task is checked against.
#[derive(Debug, Clone)]
pub enum TaskCheck {
    /// Freivalds' check of rows of a matrix product.
    Product(ProductRows),
    /// Agreement of several workers' answers.
    Quorum(Quorum),
}

/// Freivalds' check of some rows of a product.
#[derive(Debug, Clone)]
pub struct ProductRows {
    /// The check of the whole product `A·B`, shared by its parts.
    product: SharedProduct,
    /// The rows of the product this task computes.
    rows: Range<usize>,
    /// The seed the product check was prepared with: with the task's data
    /// it rebuilds the check (a store keeps it instead of the check).
    seed: u64,
}

/// A product check, prepared now or when first needed, and the product's
/// shape (known before the check is prepared).
struct Product {
    prepared: OnceLock<Option<ProductCheck>>,
    prepare: Option<Prepare>,
    /// The inner dimension: columns of `A`, rows of `B`.
    inner: usize,
    /// Columns of `B` (and of the product).
    cols: usize,
}

impl Product {
    /// The check; `None` when it could not be prepared again.
    fn get(&self) -> Option<&ProductCheck> {
        self.prepared
            .get_or_init(|| self.prepare.as_ref().and_then(|prepare| prepare()))
            .as_ref()
    }
}

impl fmt::Debug for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Product")
            .field("prepared", &self.prepared.get().is_some())
            .field("inner", &self.inner)
            .field("cols", &self.cols)
            .finish()
    }
}

/// A product check shared by the tasks that check rows of it (the parts of
/// a split task share one).
#[derive(Debug, Clone)]
pub(crate) struct SharedProduct(Arc<Product>);

impl SharedProduct {
    /// A check prepared already, of a product whose inner dimension is
    /// `inner`.
    pub(crate) fn prepared(check: ProductCheck, inner: usize) -> Self {
        let cols = check.cols();
        Self(Arc::new(Product {
            prepared: OnceLock::from(Some(check)),
            prepare: None,
            inner,
            cols,
        }))
    }

    /// A check that `prepare` prepares when a result first needs it, of a
    /// product of `inner` by `cols`.
    pub(crate) fn lazy(prepare: Prepare, inner: usize, cols: usize) -> Self {
        Self(Arc::new(Product {
            prepared: OnceLock::new(),
            prepare: Some(prepare),
            inner,
            cols,
        }))
    }

    /// The check of rows `rows` of this product, which was prepared with
    /// `seed`.
    pub(crate) fn rows(&self, rows: Range<usize>, seed: u64) -> TaskCheck {
        TaskCheck::Product(ProductRows {
            product: self.clone(),
            rows,
            seed,
        })
    }
}

/// How many workers compute a task that cannot be checked, and how many
/// identical answers complete it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quorum {
    /// Workers (on distinct addresses) handed the task at first.
    pub replicas: u32,
    /// Identical answers that complete it (at most `replicas`).
    pub agree: u32,
}

impl Quorum {
    /// `replicas` workers, `agree` of which must agree; `None` when that is
    /// no replication at all (one worker, whose answer stands alone).
    pub fn new(replicas: u32, agree: u32) -> Option<Self> {
        let agree = agree.clamp(1, replicas.max(1));
        (replicas > 1 && agree > 1).then_some(Self { replicas, agree })
    }
}

/// Why a result or an error report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

/// Most bytes one element of a product takes in matrix text, its comma and
/// a space or two included: an `i64` is at most 20 characters, an `f64` in
/// its shortest form at most 24.
pub const MAX_ELEMENT_TEXT_BYTES: usize = 32;

impl TaskCheck {
    /// The prepared product check as bytes (`ProductCheck::to_bytes`), to
    /// keep with the task; `None` for a check that is not a product check
    /// or is not prepared (it is not prepared for this).
    pub(crate) fn prepared_bytes(&self) -> Option<Vec<u8>> {
        let rows = self.product()?;
        let check = rows.product.0.prepared.get()?.as_ref()?;
        Some(check.to_bytes())
    }

    /// The product check, for a task that has one.
    pub fn product(&self) -> Option<&ProductRows> {
        match self {
            Self::Product(rows) => Some(rows),
            Self::Quorum(_) => None,
        }
    }

    /// The quorum, for a replicated task.
    pub fn quorum(&self) -> Option<Quorum> {
        match self {
            Self::Product(_) => None,
            Self::Quorum(quorum) => Some(*quorum),
        }
    }

    /// Whether a result that passed [`TaskCheck::verify`] is known right
    /// (a product check), not merely accepted.
    pub fn verifies(&self) -> bool {
        matches!(self, Self::Product(_))
    }

    /// Floating point operations of the rows the task computes
    /// (`2 m k n` for its `m` rows), saturating; 0 when the check knows no
    /// product.
    pub fn flops(&self) -> u64 {
        self.product().map_or(0, ProductRows::flops)
    }

    /// The most bytes a right result can take, when the check knows the
    /// product's shape: [`MAX_ELEMENT_TEXT_BYTES`] per element, a few per row.
    pub fn max_result_bytes(&self) -> Option<usize> {
        let rows = self.product()?;
        let per_row = rows
            .cols()
            .saturating_mul(MAX_ELEMENT_TEXT_BYTES)
            .saturating_add(8);
        Some(rows.rows.len().saturating_mul(per_row).saturating_add(64))
    }

    /// Checks a worker's result text (a quorum passes every single one).
    ///
    /// # Errors
    ///
    /// [`CheckFailed`] saying why the result is wrong (a row that does not
    /// pass, a text that is not a matrix of the right shape, a check that
    /// could not be prepared again).
    pub fn verify(&self, result: &SharedText) -> Result<(), CheckFailed> {
        match self {
            Self::Product(rows) => {
                let Some(product) = rows.product.0.get() else {
                    return Err(CheckFailed(UNPREPARED.to_owned()));
                };
                product
                    .check_rows_text(rows.rows(), &result.to_text())
                    .map_err(|e| CheckFailed(e.to_string()))
            }
            Self::Quorum(_) => Ok(()),
        }
    }

    /// Checks a worker's error report: a product whose operands are valid
    /// and cannot overflow cannot fail, so a report that it did is false.
    ///
    /// # Errors
    ///
    /// [`CheckFailed`] when the report is false.
    pub fn verify_error_report(&self, report: &str) -> Result<(), CheckFailed> {
        match self {
            Self::Product(rows)
                if rows
                    .product
                    .0
                    .get()
                    .is_some_and(|check| !check.product_may_fail()) =>
            {
                Err(CheckFailed(format!(
                    "the task's matrices multiply without overflow, so the error report is false: {report}"
                )))
            }
            Self::Product(_) | Self::Quorum(_) => Ok(()),
        }
    }
}

impl ProductRows {
    /// The rows of the product the task computes.
    pub fn rows(&self) -> Range<usize> {
        self.rows.clone()
    }

    /// The seed the product check was prepared with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The product's inner dimension (columns of `A`, rows of `B`).
    pub fn inner(&self) -> usize {
        self.product.0.inner
    }

    /// Columns of the product.
    pub fn cols(&self) -> usize {
        self.product.0.cols
    }

    /// Floating point operations of these rows (`2 m k n` for `m` rows),
    /// saturating.
    pub fn flops(&self) -> u64 {
        let flops = 2 * self.rows.len() as u128 * self.inner() as u128 * self.cols() as u128;
        u64::try_from(flops).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
impl TaskCheck {
    /// The check of the whole product of matrix texts `a` and `b`, prepared
    /// with `seed` (for tests elsewhere in the crate, which need not know
    /// the kernel).
    pub(crate) fn of_texts(a: &str, b: &str, seed: u64) -> Self {
        let product = ProductCheck::from_text(a, b, seed).expect("matrices that multiply");
        let rows = product.rows();
        let inner = kernel::text::parse(b).map_or(0, |b| b.rows());
        SharedProduct::prepared(product, inner).rows(0..rows, seed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn check(rows: Range<usize>) -> TaskCheck {
        let product = ProductCheck::from_text("[[1,2],[3,4],[5,6]]", "[[1,0],[0,1]]", 7).unwrap();
        SharedProduct::prepared(product, 2).rows(rows, 7)
    }

    #[test]
    fn right_rows_pass_and_wrong_ones_do_not() {
        assert_eq!(check(0..3).verify(&"[[1,2],[3,4],[5,6]]".into()), Ok(()));
        assert!(check(0..3).verify(&"[[1,2],[3,4],[5,7]]".into()).is_err());
        assert_eq!(check(2..3).verify(&"[[5,6]]".into()), Ok(()));
        assert!(check(2..3).verify(&"[[1,2]]".into()).is_err());
        assert!(check(2..3).verify(&"not a matrix".into()).is_err());
    }

    #[test]
    fn flops_count_the_rows_the_task_computes() {
        assert_eq!(check(0..3).flops(), 2 * 3 * 2 * 2);
        assert_eq!(check(1..2).flops(), 2 * 2 * 2);
        assert_eq!(TaskCheck::Quorum(Quorum::new(3, 2).unwrap()).flops(), 0);
    }

    #[test]
    fn a_check_that_cannot_be_prepared_again_refuses_results() {
        let lost = SharedProduct::lazy(Box::new(|| None), 2, 2).rows(0..3, 7);
        let refused = lost.verify(&"[[1,2],[3,4],[5,6]]".into()).unwrap_err();
        assert_eq!(refused.0, UNPREPARED);
        assert_eq!(lost.flops(), 2 * 3 * 2 * 2, "the shape is known without it");
    }

    #[test]
    fn error_reports_for_products_that_cannot_fail_are_false() {
        let refused = check(0..3).verify_error_report("overflow").unwrap_err();
        assert!(refused.0.contains("error report is false: overflow"));
        let huge = ProductCheck::from_text("[[9223372036854775807]]", "[[9223372036854775807]]", 7)
            .unwrap();
        let may_fail = SharedProduct::prepared(huge, 1).rows(0..1, 7);
        assert_eq!(may_fail.verify_error_report("overflow"), Ok(()));
    }

    #[test]
    fn a_results_size_is_bounded_by_the_products_shape() {
        let whole = check(0..3).max_result_bytes().unwrap();
        let one_row = check(2..3).max_result_bytes().unwrap();
        assert!(one_row < whole);
        // The widest right answer fits: every element the longest i64.
        let widest = format!(
            "[{}]",
            ["[-9223372036854775808, -9223372036854775808]"; 3].join(", ")
        );
        assert!(widest.len() <= whole, "{} > {whole}", widest.len());
        assert!(whole < 1024, "a 3x2 product is small: {whole}");
    }

    #[test]
    fn a_quorum_passes_single_answers_and_needs_replication() {
        let quorum = TaskCheck::Quorum(Quorum::new(3, 2).unwrap());
        assert_eq!(quorum.verify(&"anything".into()), Ok(()));
        assert_eq!(quorum.verify_error_report("no"), Ok(()));
        assert!(!quorum.verifies() && quorum.max_result_bytes().is_none());
        assert_eq!(Quorum::new(1, 1), None, "one worker is no replication");
        assert_eq!(Quorum::new(3, 1), None, "one answer alone decides");
        assert_eq!(
            Quorum::new(2, 5),
            Some(Quorum {
                replicas: 2,
                agree: 2
            })
        );
    }
}
