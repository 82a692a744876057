//! The compressed forms of the operands fetched last, each made once: the
//! pages of every worker host fetch a split task's `B` at about the same
//! time, and compressing the 12 MB of an n = 2048 operand's text per
//! request (about 70 ms of a core for zstd, 100 ms for gzip) is what they
//! would otherwise wait for together, and what would pace their download.
//!
//! A copy is made in the coding the client prefers among zstd and gzip
//! ([`Coding::accepted`]): browsers offer zstd only over HTTPS, so a page
//! served over plain HTTP gets gzip. The lease that refers to an operand
//! starts making the copy in that lease's coding ([`CompressedOperands::prepare`]),
//! so that it is ready, or nearly, when the page asks for it.
//!
//! At most [`COMPRESSED_COPIES`] copies are kept, each about 40% of its
//! operand's text; requests that ask while a copy is being made wait for
//! it rather than make another.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use tokio::sync::OnceCell;

use super::Address;
use crate::api::body::header_lists;

/// How many compressed copies are kept: of the operands fetched last, in
/// one coding or both.
pub(super) const COMPRESSED_COPIES: usize = 4;

/// zstd's level: its default, as for every compressed answer.
const ZSTD_LEVEL: i32 = zstd::DEFAULT_COMPRESSION_LEVEL;

/// gzip's level, for these copies and for every gzip answer: level 3
/// writes the 12 MB of an n = 2048 operand's text in about 0.1 s, to 38%;
/// level 4 takes twice as long for 37%, level 2 gives 41%, level 1 62%.
pub(crate) const GZIP_LEVEL: u32 = 3;

/// A content coding the copies are made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// zstd, at its default level.
    Zstd,
    /// gzip, at [`GZIP_LEVEL`].
    Gzip,
}

impl Coding {
    /// The coding `Accept-Encoding` lists that a copy is made in: zstd when
    /// listed, else gzip; `None` for neither (the operand goes as it is).
    pub(crate) fn accepted(headers: &HeaderMap) -> Option<Self> {
        [Self::Zstd, Self::Gzip]
            .into_iter()
            .find(|coding| header_lists(headers, &header::ACCEPT_ENCODING, coding.token()))
    }

    /// Its name in `Accept-Encoding` and `Content-Encoding`.
    pub(super) fn token(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }

    /// Its `Content-Encoding` value.
    pub(super) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.token())
    }

    fn compress(self, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Zstd => zstd::bulk::compress(bytes, ZSTD_LEVEL),
            Self::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(bytes.len() / 2),
                    flate2::Compression::new(GZIP_LEVEL),
                );
                encoder.write_all(bytes)?;
                encoder.finish()
            }
        }
    }
}

/// One copy: an operand in one coding, made once.
type CopyCell = Arc<OnceCell<Bytes>>;

/// The compressed copies, the one asked for last at the back.
#[derive(Debug, Default)]
pub(super) struct CompressedOperands {
    copies: Mutex<VecDeque<((Address, Coding), CopyCell)>>,
}

impl CompressedOperands {
    /// `operand` (held at `address`) in `coding`: made on the blocking pool
    /// by the first request that asks, shared with the others. `None` if
    /// compressing failed (the operand then goes as it is).
    pub(super) async fn get(
        &self,
        address: Address,
        coding: Coding,
        operand: Bytes,
    ) -> Option<Bytes> {
        make(&self.copy_of(address, coding), coding, operand).await
    }

    /// Starts making `operand` in `coding` in the background, unless it is
    /// made already: a lease referring to it was just handed out, and its
    /// page asks for it next.
    pub(super) fn prepare(&self, address: Address, coding: Coding, operand: Bytes) {
        let copy = self.copy_of(address, coding);
        if !copy.initialized() {
            tokio::spawn(async move { make(&copy, coding, operand).await });
        }
    }

    /// The cell of `address`'s copy in `coding`, made empty when there is
    /// none; the copy asked for longest ago goes when there are too many.
    fn copy_of(&self, address: Address, coding: Coding) -> CopyCell {
        let key = (address, coding);
        let mut copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
        let cell = match copies.iter().position(|(k, _)| *k == key) {
            Some(at) => copies.remove(at).map(|(_, cell)| cell),
            None => None,
        }
        .unwrap_or_default();
        copies.push_back((key, Arc::clone(&cell)));
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

/// The copy in `cell`, made from `operand` unless another request made it.
async fn make(cell: &CopyCell, coding: Coding, operand: Bytes) -> Option<Bytes> {
    cell.get_or_try_init(|| async move {
        tokio::task::spawn_blocking(move || coding.compress(&operand))
            .await
            .map_err(std::io::Error::other)?
            .map(Bytes::from)
    })
    .await
    .ok()
    .cloned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Read;

    use super::*;

    fn operand() -> Bytes {
        Bytes::from("[[1,2,3],[4,5,6]]".repeat(1000))
    }

    fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        match coding {
            Coding::Zstd => zstd::decode_all(bytes).unwrap(),
            Coding::Gzip => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
        }
    }

    #[tokio::test]
    async fn requests_at_once_share_one_copy_and_only_the_last_are_kept() {
        for coding in [Coding::Zstd, Coding::Gzip] {
            let copies = CompressedOperands::default();
            let operand = operand();
            let address = [7u8; 32];
            let (one, two) = tokio::join!(
                copies.get(address, coding, operand.clone()),
                copies.get(address, coding, operand.clone())
            );
            let (one, two) = (one.unwrap(), two.unwrap());
            assert_eq!(one.as_ptr(), two.as_ptr(), "one copy, made once");
            assert!(one.len() * 10 < operand.len());
            assert_eq!(decode(coding, &one), operand);
            for other in 0..COMPRESSED_COPIES as u8 {
                copies
                    .get([other; 32], coding, operand.clone())
                    .await
                    .unwrap();
            }
            assert_eq!(copies.len(), COMPRESSED_COPIES);
            // The first one was dropped: asked again, it is made anew.
            let again = copies.get(address, coding, operand.clone()).await.unwrap();
            assert_ne!(again.as_ptr(), one.as_ptr());
            assert_eq!(again, one);
        }
    }

    #[tokio::test]
    async fn each_coding_has_a_copy_of_its_own() {
        let copies = CompressedOperands::default();
        let address = [1u8; 32];
        let zstd = copies.get(address, Coding::Zstd, operand()).await.unwrap();
        let gzip = copies.get(address, Coding::Gzip, operand()).await.unwrap();
        assert_eq!(copies.len(), 2);
        assert_eq!(decode(Coding::Zstd, &zstd), operand());
        assert_eq!(decode(Coding::Gzip, &gzip), operand());
        assert_ne!(zstd, gzip);
    }

    #[tokio::test]
    async fn a_prepared_copy_is_made_without_a_request_and_then_served() {
        let copies = CompressedOperands::default();
        let address = [2u8; 32];
        copies.prepare(address, Coding::Gzip, operand());
        let cell = copies.copy_of(address, Coding::Gzip);
        for _ in 0..500 {
            if cell.initialized() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let made = cell.get().cloned().expect("made in the background");
        let served = copies.get(address, Coding::Gzip, operand()).await.unwrap();
        assert_eq!(
            made.as_ptr(),
            served.as_ptr(),
            "the prepared copy is the one served"
        );
        // Preparing what is made already makes nothing new.
        copies.prepare(address, Coding::Gzip, operand());
        assert_eq!(
            copies
                .get(address, Coding::Gzip, operand())
                .await
                .unwrap()
                .as_ptr(),
            made.as_ptr()
        );
    }

    #[test]
    fn the_coding_is_read_from_accept_encoding_zstd_first() {
        let mut headers = HeaderMap::new();
        assert_eq!(Coding::accepted(&headers), None);
        for (value, coding) in [
            ("gzip, deflate, br, zstd", Some(Coding::Zstd)),
            ("ZSTD;q=0.5", Some(Coding::Zstd)),
            ("zstd;q=0, gzip", Some(Coding::Gzip)),
            ("gzip, deflate", Some(Coding::Gzip)),
            ("gzip;q=0, deflate", None),
            ("br", None),
            ("*", None),
        ] {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            assert_eq!(Coding::accepted(&headers), coding, "{value}");
        }
    }
}
