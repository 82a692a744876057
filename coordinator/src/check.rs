//! How a task's results are checked before they are accepted.
//!
//! A [`TaskCheck`] travels with a task through the queue, which never looks
//! inside it: the use case that takes a result asks the check whether the
//! result is right ([`TaskCheck::verify`]) outside the queue's lock, then
//! tells the queue to complete or reject. Today the one kind of check is
//! Freivalds' check of a matrix product (or of the row block of it that a
//! part of a split task computes), prepared once per submitted product by
//! the kernel with a secret seed.

use std::ops::Range;
use std::sync::Arc;

use kernel::verify::ProductCheck;

use crate::shared_text::SharedText;

/// What every result for one task is checked against.
#[derive(Debug, Clone)]
pub struct TaskCheck {
    /// The prepared check of the whole product `A·B`, shared by its parts.
    product: Arc<ProductCheck>,
    /// The rows of the product this task computes.
    rows: Range<usize>,
    /// The seed the product check was prepared with: with the task's data
    /// it rebuilds the check (a store keeps it instead of the check).
    seed: u64,
}

/// Why a result or an error report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

impl TaskCheck {
    /// The check of rows `rows` of the product `product` prepares, which
    /// was prepared with `seed`.
    pub fn product_rows(product: Arc<ProductCheck>, rows: Range<usize>, seed: u64) -> Self {
        Self {
            product,
            rows,
            seed,
        }
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
        self.product
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
        if self.product.product_may_fail() {
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
        TaskCheck::product_rows(Arc::new(product), rows, 7)
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
    fn error_reports_for_products_that_cannot_fail_are_false() {
        let refused = check(0..3).verify_error_report("overflow").unwrap_err();
        assert!(refused.0.contains("error report is false: overflow"));
        let huge = ProductCheck::from_text("[[9223372036854775807]]", "[[9223372036854775807]]", 7)
            .unwrap();
        let may_fail = TaskCheck::product_rows(Arc::new(huge), 0..1, 7);
        assert_eq!(may_fail.verify_error_report("overflow"), Ok(()));
    }
}
