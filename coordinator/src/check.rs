//! How a task's results are checked before they are accepted.
//!
//! A [`TaskCheck`] travels with a task through the queue, which never looks
//! inside it: the use case that takes a result asks the check whether the
//! result is right ([`TaskCheck::verify`]) outside the queue's lock, then
//! tells the queue to complete or reject. Today the one kind of check is
//! Freivalds' check of a matrix product (or of the row block of it that a
//! part of a split task computes), prepared once per submitted product by
//! the kernel with a secret seed. A check restored from a store is prepared
//! again from the task's data and seed the first time a result needs it
//! (outside the queue's lock, like every check), not at start.

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
            .finish()
    }
}

/// What every result for one task is checked against.
#[derive(Debug, Clone)]
pub struct TaskCheck {
    /// The check of the whole product `A·B`, shared by its parts.
    product: Arc<Product>,
    /// The rows of the product this task computes.
    rows: Range<usize>,
    /// The seed the product check was prepared with: with the task's data
    /// it rebuilds the check (a store keeps it instead of the check).
    seed: u64,
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
        TaskCheck {
            product: Arc::clone(&self.0),
            rows,
            seed,
        }
    }
}

/// Why a result or an error report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

impl TaskCheck {
    /// Floating point operations of the rows the task computes
    /// (`2 m k n` for its `m` rows), saturating.
    pub fn flops(&self) -> u64 {
        let flops =
            2 * self.rows.len() as u128 * self.product.inner as u128 * self.product.cols as u128;
        u64::try_from(flops).unwrap_or(u64::MAX)
    }

    /// The product's inner dimension (columns of `A`, rows of `B`).
    pub fn inner(&self) -> usize {
        self.product.inner
    }

    /// Columns of the product.
    pub fn cols(&self) -> usize {
        self.product.cols
    }

    /// The rows of the product the task computes.
    pub fn rows(&self) -> Range<usize> {
        self.rows.clone()
    }

    /// The seed the product check was prepared with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Checks a worker's result text.
    ///
    /// # Errors
    ///
    /// [`CheckFailed`] saying why the result is wrong (a row that does not
    /// pass, a text that is not a matrix of the right shape).
    pub fn verify(&self, result: &SharedText) -> Result<(), CheckFailed> {
        let Some(product) = self.product.get() else {
            return Err(CheckFailed(UNPREPARED.to_owned()));
        };
        product
            .check_rows_text(self.rows(), &result.to_text())
            .map_err(|e| CheckFailed(e.to_string()))
    }

    /// Checks a worker's error report: a product whose operands are valid
    /// and cannot overflow cannot fail, so a report that it did is false.
    ///
    /// # Errors
    ///
    /// [`CheckFailed`] when the report is false.
    pub fn verify_error_report(&self, report: &str) -> Result<(), CheckFailed> {
        if self
            .product
            .get()
            .is_none_or(ProductCheck::product_may_fail)
        {
            return Ok(());
        }
        Err(CheckFailed(format!(
            "the task's matrices multiply without overflow, so the error report is false: {report}"
        )))
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
}
