//! Shared text: task data and results held as pieces of shared bytes.
//!
//! A submitted task's data is the request body itself, never copied; the
//! parts of a split task are slices of that body (rows of `A`, all of `B`)
//! between a few literal pieces; a worker's result is the string its JSON
//! answer decoded to; a split task's product is its parts' results joined
//! between literal brackets and commas. All of them are a [`SharedText`]: a
//! list of [`Bytes`] pieces whose concatenation is UTF-8 text, so cloning,
//! slicing and joining move no text. Writing a text into an answer is the
//! HTTP edge's job.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Serialize, Serializer};

/// UTF-8 text in one or more shared pieces; cheap to clone.
///
/// Each piece is cut at character boundaries, so every piece is UTF-8 on
/// its own.
#[derive(Clone, Default)]
pub struct SharedText {
    pieces: Arc<[Bytes]>,
    len: usize,
    /// Bytes of the pieces that are slices of another task's text, which
    /// that task holds (and counts).
    borrowed: usize,
}

impl SharedText {
    /// Text from pieces that are each UTF-8 (cut at character boundaries).
    #[must_use]
    pub fn from_pieces(pieces: Vec<Bytes>) -> Self {
        let len = pieces.iter().map(Bytes::len).sum();
        Self {
            pieces: pieces.into_iter().filter(|p| !p.is_empty()).collect(),
            len,
            borrowed: 0,
        }
    }

    /// Text of the bytes `body`, which the caller has checked are UTF-8.
    #[must_use]
    pub fn from_utf8_bytes(body: Bytes) -> Self {
        Self::from_pieces(vec![body])
    }

    /// The same text, with `bytes` of it marked as slices of another task's
    /// text (held, and counted, by that task).
    #[must_use]
    pub fn borrowing(mut self, bytes: usize) -> Self {
        self.borrowed = bytes.min(self.len);
        self
    }

    /// Bytes this text holds on its own: its length less what it borrows.
    #[must_use]
    pub fn own_len(&self) -> usize {
        self.len - self.borrowed
    }

    /// Bytes of text.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the text is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces, in order (none of them empty).
    #[must_use]
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    /// The text, when it is held in one piece (as submitted data and a
    /// worker's result are).
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &*self.pieces {
            [] => Some(""),
            [one] => std::str::from_utf8(one).ok(),
            _ => None,
        }
    }

    /// The whole text (joined when in several pieces).
    #[must_use]
    pub fn to_text(&self) -> Cow<'_, str> {
        if let Some(text) = self.as_str() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(String::from_utf8_lossy(&self.pieces.concat()).into_owned())
    }

    /// Whether the text can stand between quotes in JSON as it is: no
    /// control characters, quotes or backslashes (true of every matrix text
    /// without line breaks or tabs).
    #[must_use]
    pub fn is_plain_json_string(&self) -> bool {
        self.pieces.iter().all(|piece| {
            // Blocks of bytes folded without early exit, so it vectorises.
            piece.chunks(256).all(|block| {
                block.iter().fold(true, |plain, &b| {
                    plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
                })
            })
        })
    }

    /// The slice `cut(text)` of this text, sharing its bytes; `None` when
    /// `cut` gives `None` or the text is held in several pieces.
    #[must_use]
    pub fn slice(&self, cut: impl FnOnce(&str) -> Option<&str>) -> Option<Self> {
        let [piece] = &*self.pieces else {
            return None;
        };
        let whole = std::str::from_utf8(piece).ok()?;
        let part = cut(whole)?;
        Some(Self::from_pieces(vec![piece.slice_ref(part.as_bytes())]))
    }

    /// `open`, the texts with `separator` between them, and `close`, sharing
    /// the texts' bytes.
    #[must_use]
    pub fn join(
        texts: &[SharedText],
        open: &'static str,
        separator: &'static str,
        close: &'static str,
    ) -> Self {
        let literal = |text: &'static str| Bytes::from_static(text.as_bytes());
        let mut pieces = vec![literal(open)];
        for (index, text) in texts.iter().enumerate() {
            if index > 0 {
                pieces.push(literal(separator));
            }
            pieces.extend(text.pieces.iter().cloned());
        }
        pieces.push(literal(close));
        Self::from_pieces(pieces)
    }

    /// The bytes, piece after piece.
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.pieces.iter().flat_map(|piece| piece.iter().copied())
    }
}

impl From<String> for SharedText {
    /// The string itself, not a copy.
    fn from(text: String) -> Self {
        Self::from_pieces(vec![Bytes::from(text)])
    }
}

impl From<&str> for SharedText {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

impl From<Arc<str>> for SharedText {
    fn from(text: Arc<str>) -> Self {
        Self::from(text.as_ref())
    }
}

impl fmt::Display for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pieces
            .iter()
            .try_for_each(|piece| f.write_str(&String::from_utf8_lossy(piece)))
    }
}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 64;
        let head: String = self.to_text().chars().take(SHOWN).collect();
        f.debug_struct("SharedText")
            .field("len", &self.len)
            .field("pieces", &self.pieces.len())
            .field("head", &head)
            .finish()
    }
}

impl Serialize for SharedText {
    /// A JSON string, escaped piece by piece.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

impl PartialEq for SharedText {
    /// Equal texts, however they are cut into pieces.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.bytes().eq(other.bytes())
    }
}

impl Eq for SharedText {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn text_is_the_pieces_joined() {
        let data = SharedText::from_pieces(vec![
            Bytes::from_static(b"{\"A\":"),
            Bytes::from_static(b"[[1]]"),
            Bytes::new(),
            Bytes::from_static(b"}"),
        ]);
        assert_eq!(data.len(), 11);
        assert_eq!(data.pieces().len(), 3, "empty pieces are dropped");
        assert_eq!(data.as_str(), None);
        assert_eq!(data.to_text(), "{\"A\":[[1]]}");
        assert_eq!(data, SharedText::from("{\"A\":[[1]]}"));
        assert_ne!(data, SharedText::from("{\"A\":[[2]]}"));
        assert_eq!(SharedText::from("x").as_str(), Some("x"));
        assert_eq!((data.own_len(), data.borrowing(5).own_len()), (11, 6));
    }

    #[test]
    fn bytes_and_plainness_follow_the_pieces() {
        let joined = SharedText::join(
            &[SharedText::from("[[1,2]]"), SharedText::from("[[3]]")],
            "[",
            ",",
            "]",
        );
        assert_eq!(joined.pieces().concat(), b"[[[1,2]],[[3]]]");
        assert!(joined.is_plain_json_string());
        let long = "7,".repeat(1000);
        assert!(SharedText::from(long.clone()).is_plain_json_string());
        for odd in ["\n", "\t", "\"", "\\", "\u{1f}"] {
            let text = SharedText::from(format!("{long}{odd}{long}"));
            assert!(!text.is_plain_json_string(), "{odd:?}");
        }
        assert!(SharedText::from("é ✓ \u{7f}").is_plain_json_string());
    }

    #[test]
    fn slices_share_the_text_of_one_piece() {
        let text = SharedText::from(" [[1,2]] ");
        let inner = text.slice(|t| t.trim().strip_prefix('[')).unwrap();
        assert_eq!(inner.as_str(), Some("[1,2]]"));
        assert_eq!(
            inner.pieces()[0].as_ptr(),
            text.pieces()[0][2..].as_ptr(),
            "a slice, not a copy"
        );
        assert_eq!(text.slice(|t| t.strip_prefix('x')), None);
        let joined = SharedText::join(&[text.clone(), text], "<", "|", ">");
        assert_eq!(
            joined.slice(|t| t.get(..)),
            None,
            "several pieces are not cut"
        );
    }

    #[test]
    fn joined_text_shares_the_parts_and_writes_as_one_json_string() {
        let first = SharedText::from("[[1,\"2\"]]".to_owned());
        let second = SharedText::from("[[3,\t4]]".to_owned());
        let joined = SharedText::join(&[first.clone(), second], "", ",", "");
        assert_eq!(joined.as_str(), None, "held in pieces");
        assert_eq!(joined.len(), "[[1,\"2\"]],[[3,\t4]]".len());
        assert_eq!(joined.to_text(), "[[1,\"2\"]],[[3,\t4]]");
        assert_eq!(
            serde_json::to_string(&joined).unwrap(),
            serde_json::to_string("[[1,\"2\"]],[[3,\t4]]").unwrap()
        );
        assert_eq!(joined, SharedText::from("[[1,\"2\"]],[[3,\t4]]"));
        assert_eq!(
            joined.pieces()[0].as_ptr(),
            first.pieces()[0].as_ptr(),
            "the part's text, not a copy"
        );
    }
}
