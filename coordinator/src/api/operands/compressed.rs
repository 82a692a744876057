//! The zstd form of the operands fetched last, made once: the pages of
//! every worker host fetch a split task's `B` at about the same time, and
//! compressing 14 MB of text per request (about 90 ms of a core each) is
//! what they would otherwise wait for together.
//!
//! At most [`COMPRESSED_COPIES`] copies are kept, each about 40% of its
//! operand's text; requests that ask while a copy is being made wait for
//! it rather than make another.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::OnceCell;

use super::Address;

/// How many compressed copies are kept: of the operands fetched last.
pub(super) const COMPRESSED_COPIES: usize = 2;

/// zstd's level for them: its default, as for every compressed answer.
const LEVEL: i32 = zstd::DEFAULT_COMPRESSION_LEVEL;

/// The compressed copies, the one fetched last at the back.
#[derive(Debug, Default)]
pub(super) struct CompressedOperands {
    copies: Mutex<VecDeque<(Address, Arc<OnceCell<Bytes>>)>>,
}

impl CompressedOperands {
    /// `operand` (held at `address`) compressed with zstd: made on the
    /// blocking pool by the first request that asks, shared with the
    /// others. `None` if compressing failed (the operand then goes as it
    /// is).
    pub(super) async fn zstd(&self, address: Address, operand: Bytes) -> Option<Bytes> {
        let copy = self.copy_of(address);
        let made = copy
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || zstd::bulk::compress(&operand, LEVEL))
                    .await
                    .map_err(std::io::Error::other)?
                    .map(Bytes::from)
            })
            .await;
        made.ok().cloned()
    }

    /// The cell of `address`'s copy, made empty when there is none; the
    /// copy fetched longest ago goes when there are too many.
    fn copy_of(&self, address: Address) -> Arc<OnceCell<Bytes>> {
        let mut copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
        let cell = match copies.iter().position(|(a, _)| *a == address) {
            Some(at) => copies.remove(at).map(|(_, cell)| cell),
            None => None,
        }
        .unwrap_or_default();
        copies.push_back((address, Arc::clone(&cell)));
        while copies.len() > COMPRESSED_COPIES {
            copies.pop_front();
        }
        cell
    }

    /// How many copies are held or being made.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.copies.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn requests_at_once_share_one_copy_and_only_the_last_are_kept() {
        let copies = CompressedOperands::default();
        let operand = Bytes::from("[[1,2,3],[4,5,6]]".repeat(1000));
        let address = [7u8; 32];
        let (one, two) = tokio::join!(
            copies.zstd(address, operand.clone()),
            copies.zstd(address, operand.clone())
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_eq!(one.as_ptr(), two.as_ptr(), "one copy, made once");
        assert!(one.len() * 10 < operand.len());
        assert_eq!(zstd::decode_all(&one[..]).unwrap(), operand);
        for other in 0..COMPRESSED_COPIES as u8 {
            copies.zstd([other; 32], operand.clone()).await.unwrap();
        }
        assert_eq!(copies.len(), COMPRESSED_COPIES);
        // The first one was dropped: asked again, it is made anew.
        let again = copies.zstd(address, operand.clone()).await.unwrap();
        assert_ne!(again.as_ptr(), one.as_ptr());
        assert_eq!(again, one);
    }
}
