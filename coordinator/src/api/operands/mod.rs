//! Shared operands by content address, for this project's worker pages.
//!
//! Every part of a split task carries all of `B`; a worker that takes
//! several parts of one task would download it once a part. A worker that
//! asks (`GET /task/next?operands=ref`) gets a part's `B` as a reference
//! instead, `"B":{"operand":"HASH","bytes":N}`, and fetches it from
//! `GET /operand/HASH`: `B`'s JSON value exactly as the client submitted
//! it, under a URL named by the SHA-256 of those bytes, so it never
//! changes and browsers cache it (`Cache-Control: immutable`) for every
//! page of the same origin. Workers that do not ask, Dana's among them, get
//! the part's data inline, byte for byte as before; `--plain-wire` gives
//! every worker the inline form.
//!
//! This is an encoding of the lease answer, so it lives at the HTTP edge:
//! the queue and its parts are not touched. The cache holds the operand's
//! bytes as the shared slice of the submitted body the part already holds
//! (no copy), for the [`OPERAND_CACHE_ENTRIES`] operands leased last: a
//! worker fetches its operand right after its lease. An address no longer
//! held answers 404, and the worker gives the part back. A client that
//! accepts zstd or gzip gets the operand compressed once for all who ask
//! ([`compressed`]), not once per request; the lease that refers to it
//! starts that compression ([`OperandCache::prepare`]).

mod compressed;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use compressed::CompressedOperands;
pub(crate) use compressed::{Coding, GZIP_LEVEL};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::openapi::ErrorBody;
use crate::shared_text::SharedText;

/// How many operands the cache holds (the ones leased last).
pub const OPERAND_CACHE_ENTRIES: usize = 8;

/// Operands hashed below this size are hashed on the async thread; larger
/// ones on the blocking pool (SHA-256 runs at a few hundred MB/s).
const HASH_INLINE_BYTES: usize = 256 * 1024;

/// A content address: the SHA-256 of an operand's bytes.
type Address = [u8; 32];

/// The operands leased last, by content address (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct OperandCache {
    inner: Mutex<Entries>,
    compressed: CompressedOperands,
}

#[derive(Debug, Default)]
struct Entries {
    /// The address of an operand, by where its bytes are (start, length):
    /// a slice kept alive by `by_address`, so the place cannot be reused
    /// by other bytes while it is listed.
    by_place: HashMap<(usize, usize), Address>,
    by_address: HashMap<Address, Bytes>,
    /// Addresses, the one used last at the back.
    order: VecDeque<Address>,
}

fn place(bytes: &Bytes) -> (usize, usize) {
    (bytes.as_ptr() as usize, bytes.len())
}

fn hex(address: &Address) -> String {
    address.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(text: &str) -> Option<Address> {
    if text.len() != 64 {
        return None;
    }
    let mut address = [0u8; 32];
    for (i, byte) in address.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(address)
}

impl OperandCache {
    /// The content address of `operand`, which is then held for
    /// `GET /operand/HASH` (the entry used longest ago is dropped).
    pub(crate) async fn address(&self, operand: &Bytes) -> String {
        if let Some(address) = self.known(operand) {
            return hex(&address);
        }
        let address = if operand.len() < HASH_INLINE_BYTES {
            Sha256::digest(operand).into()
        } else {
            let bytes = operand.clone();
            match tokio::task::spawn_blocking(move || Sha256::digest(&bytes).into()).await {
                Ok(address) => address,
                Err(_) => Sha256::digest(operand).into(),
            }
        };
        self.insert(operand, address);
        hex(&address)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The address of an operand already held, marked as used last.
    fn known(&self, operand: &Bytes) -> Option<Address> {
        let mut entries = self.lock();
        let address = *entries.by_place.get(&place(operand))?;
        entries.touch(address);
        Some(address)
    }

    fn insert(&self, operand: &Bytes, address: Address) {
        let mut entries = self.lock();
        if entries.by_address.contains_key(&address) {
            entries.touch(address);
            return;
        }
        while entries.order.len() >= OPERAND_CACHE_ENTRIES {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(bytes) = entries.by_address.remove(&oldest) {
                entries.by_place.remove(&place(&bytes));
            }
        }
        entries.by_place.insert(place(operand), address);
        entries.by_address.insert(address, operand.clone());
        entries.order.push_back(address);
    }

    /// Starts compressing the operand at `address` (held, with `operand`
    /// its bytes) in `coding`, for the page a lease referring to it was
    /// just handed to (see [`compressed`]).
    pub(crate) fn prepare(&self, address: &str, coding: Coding, operand: &Bytes) {
        if let Some(address) = parse_hex(address) {
            self.compressed.prepare(address, coding, operand.clone());
        }
    }

    /// The operand at `address` (64 hex digits), when held.
    #[cfg(test)]
    fn get(&self, address: &str) -> Option<Bytes> {
        self.find(address).map(|(_, bytes)| bytes)
    }

    /// The operand at `address` (64 hex digits) and its address, when held.
    fn find(&self, address: &str) -> Option<(Address, Bytes)> {
        let address = parse_hex(&address.to_ascii_lowercase())?;
        let mut entries = self.lock();
        let bytes = entries.by_address.get(&address)?.clone();
        entries.touch(address);
        Some((address, bytes))
    }
}

impl Entries {
    fn touch(&mut self, address: Address) {
        if let Some(at) = self.order.iter().position(|a| *a == address) {
            self.order.remove(at);
        }
        self.order.push_back(address);
    }
}

/// `B`'s JSON value in a part's data, as the planner writes it: the
/// pieces `{"A":..`, `,"B":`, B's value, `}`. `None` for any other data
/// (a whole task, or data restored in another shape), which then goes out
/// inline.
pub(crate) fn part_b_operand(data: &SharedText) -> Option<(usize, &Bytes)> {
    let pieces = data.pieces();
    let at = pieces.iter().position(|p| p.as_ref() == b",\"B\":")?;
    let (operand, close) = (pieces.get(at + 1)?, pieces.get(at + 2)?);
    (at + 3 == pieces.len() && close.as_ref() == b"}").then_some((at + 1, operand))
}

/// The reference written in place of an operand.
pub(crate) fn reference(address: &str, bytes: usize) -> Bytes {
    Bytes::from(format!("{{\"operand\":\"{address}\",\"bytes\":{bytes}}}"))
}

#[utoipa::path(
    get,
    path = "/operand/{hash}",
    tag = "tasks",
    params(("hash" = String, Path, description = "The operand's content address: the SHA-256 of its bytes, 64 hex digits, from a lease asked with `operands=ref`")),
    responses(
        (status = 200, description = "The operand's JSON value as submitted (a matrix text string or an array); immutable", body = serde_json::Value, content_type = "application/json"),
        (status = 404, description = "No operand with that address is held (any more)", body = ErrorBody)
    )
)]
/// `GET /operand/HASH`: an operand a lease referred to, cacheable for good;
/// compressed once (zstd, else gzip) for every client that accepts either,
/// else as it is. With `--plain-wire` no lease refers to an operand, so
/// there is none to fetch.
pub(super) async fn operand_get(
    Extension(cache): Extension<std::sync::Arc<OperandCache>>,
    hash: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(hash) = hash.map_err(|_| ApiError::NotFound)?;
    let (address, bytes) = cache.find(&hash).ok_or(ApiError::OperandNotFound)?;
    let head = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
    ];
    if let Some(coding) = Coding::accepted(&headers)
        && let Some(compressed) = cache.compressed.get(address, coding, bytes.clone()).await
    {
        let coded = [
            (header::CONTENT_ENCODING, coding.header_value()),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ];
        return Ok((head, coded, compressed).into_response());
    }
    Ok((head, bytes).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn an_operand_is_found_by_the_hash_of_its_bytes() {
        let cache = OperandCache::default();
        let operand = Bytes::from_static(b"\"[[1,2],[3,4]]\"");
        let address = cache.address(&operand).await;
        assert_eq!(address, hex(&Sha256::digest(&operand).into()));
        assert_eq!(cache.get(&address).unwrap(), operand);
        assert_eq!(cache.get(&address.to_uppercase()).unwrap(), operand);
        assert!(cache.get("00").is_none());
        assert!(cache.get(&"0".repeat(64)).is_none());
    }

    #[tokio::test]
    async fn the_operand_used_longest_ago_is_dropped() {
        let cache = OperandCache::default();
        let operands: Vec<Bytes> = (0..=OPERAND_CACHE_ENTRIES)
            .map(|i| Bytes::from(format!("[[{i}]]")))
            .collect();
        let mut addresses = Vec::new();
        for operand in &operands {
            addresses.push(cache.address(operand).await);
        }
        assert!(cache.get(&addresses[0]).is_none());
        for (address, operand) in addresses.iter().zip(&operands).skip(1) {
            assert_eq!(&cache.get(address).unwrap(), operand);
        }
    }

    #[test]
    fn only_a_parts_b_is_found() {
        let part = SharedText::from_pieces(vec![
            Bytes::from_static(b"{\"A\":\"["),
            Bytes::from_static(b"[1,2]"),
            Bytes::from_static(b"]\""),
            Bytes::from_static(b",\"B\":"),
            Bytes::from_static(b"\"[[1],[2]]\""),
            Bytes::from_static(b"}"),
        ]);
        let (at, operand) = part_b_operand(&part).unwrap();
        assert_eq!((at, operand.as_ref()), (4, &b"\"[[1],[2]]\""[..]));
        let whole =
            SharedText::from_utf8_bytes(Bytes::from_static(b"{\"A\":\"[[1]]\",\"B\":\"[[2]]\"}"));
        assert!(part_b_operand(&whole).is_none());
    }
}
