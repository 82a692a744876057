//! Result texts: a worker's matrix text as it was read, or a split task's
//! product joined from its parts' texts without copying them.
//!
//! A [`ResultText`] is a list of pieces, each a slice of a shared `String`
//! (or a literal such as `,`), so cloning it, cutting it and joining texts
//! (as the parts of a split task are, [`ResultText::join`]) move no text. It is written out piece
//! by piece: as a JSON string with [`serde::Serialize`], as plain text with
//! [`std::fmt::Display`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use axum::body::Bytes;
use serde::{Serialize, Serializer};

/// One piece: a slice of a shared text, or a literal.
#[derive(Debug, Clone)]
enum Piece {
    /// `text[range]`, `range` on character boundaries.
    Slice(Arc<String>, Range<usize>),
    /// A fixed text.
    Literal(&'static str),
}

impl Piece {
    fn as_str(&self) -> &str {
        match self {
            Piece::Slice(text, range) => &text[range.clone()],
            Piece::Literal(text) => text,
        }
    }
}

/// A result text in one or more shared pieces; cheap to clone.
#[derive(Debug, Clone)]
pub struct ResultText {
    pieces: Arc<[Piece]>,
    len: usize,
}

impl ResultText {
    fn from_pieces(pieces: Vec<Piece>) -> Self {
        let len = pieces.iter().map(|p| p.as_str().len()).sum();
        Self {
            pieces: pieces.into(),
            len,
        }
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

    /// The text, when it is held in one piece (as a worker's result is).
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &*self.pieces {
            [] => Some(""),
            [one] => Some(one.as_str()),
            _ => None,
        }
    }

    /// The whole text (joined when in several pieces).
    #[must_use]
    pub fn to_text(&self) -> Cow<'_, str> {
        match self.as_str() {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(self.to_string()),
        }
    }

    /// The pieces as shared bytes, in order (literals are static, slices
    /// share the text they were cut from).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<Bytes> {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Slice(text, range) => {
                    Bytes::from_owner(SharedText(Arc::clone(text))).slice(range.clone())
                }
                Piece::Literal(text) => Bytes::from_static(text.as_bytes()),
            })
            .collect()
    }

    /// Whether the text can stand between quotes in JSON as it is: no
    /// control characters, quotes or backslashes (true of every matrix text
    /// without line breaks or tabs).
    #[must_use]
    pub fn is_plain_json_string(&self) -> bool {
        self.pieces.iter().all(|piece| {
            // Blocks of bytes folded without early exit, so it vectorises.
            piece.as_str().as_bytes().chunks(256).all(|block| {
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
        let [Piece::Slice(text, range)] = &*self.pieces else {
            return None;
        };
        let whole = &text[range.clone()];
        let part = cut(whole)?;
        let start = range.start + (part.as_ptr() as usize - whole.as_ptr() as usize);
        Some(Self::from_pieces(vec![Piece::Slice(
            Arc::clone(text),
            start..start + part.len(),
        )]))
    }

    /// `open`, the texts with `separator` between them, and `close`, sharing
    /// the texts' bytes.
    #[must_use]
    pub fn join(
        texts: &[ResultText],
        open: &'static str,
        separator: &'static str,
        close: &'static str,
    ) -> Self {
        let mut pieces = vec![Piece::Literal(open)];
        for (index, text) in texts.iter().enumerate() {
            if index > 0 {
                pieces.push(Piece::Literal(separator));
            }
            pieces.extend(text.pieces.iter().cloned());
        }
        pieces.push(Piece::Literal(close));
        Self::from_pieces(pieces)
    }
}

/// A shared text as the owner of [`Bytes`].
struct SharedText(Arc<String>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<String> for ResultText {
    /// The string itself, not a copy.
    fn from(text: String) -> Self {
        let range = 0..text.len();
        Self::from_pieces(vec![Piece::Slice(Arc::new(text), range)])
    }
}

impl From<&str> for ResultText {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

impl fmt::Display for ResultText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pieces.iter().try_for_each(|p| f.write_str(p.as_str()))
    }
}

impl Serialize for ResultText {
    /// A JSON string, escaped piece by piece.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

impl PartialEq for ResultText {
    /// Equal texts, however they are cut into pieces.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .pieces
                .iter()
                .flat_map(|p| p.as_str().bytes())
                .eq(other.pieces.iter().flat_map(|p| p.as_str().bytes()))
    }
}

impl Eq for ResultText {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bytes_and_plainness_follow_the_pieces() {
        let joined = ResultText::join(
            &[ResultText::from("[[1,2]]"), ResultText::from("[[3]]")],
            "[",
            ",",
            "]",
        );
        assert_eq!(joined.to_bytes().concat(), b"[[[1,2]],[[3]]]");
        assert!(joined.is_plain_json_string());
        let long = "7,".repeat(1000);
        assert!(ResultText::from(long.clone()).is_plain_json_string());
        for odd in ["\n", "\t", "\"", "\\", "\u{1f}"] {
            let text = ResultText::from(format!("{long}{odd}{long}"));
            assert!(!text.is_plain_json_string(), "{odd:?}");
        }
        assert!(ResultText::from("é ✓ \u{7f}").is_plain_json_string());
    }

    #[test]
    fn slices_share_the_text_of_one_piece() {
        let text = ResultText::from(" [[1,2]] ");
        let inner = text.slice(|t| t.trim().strip_prefix('[')).unwrap();
        assert_eq!(inner.as_str(), Some("[1,2]]"));
        assert_eq!(text.slice(|t| t.strip_prefix('x')), None);
        let joined = ResultText::join(&[text.clone(), text], "<", "|", ">");
        assert_eq!(
            joined.slice(|t| t.get(..)),
            None,
            "several pieces are not cut"
        );
    }

    #[test]
    fn joined_text_shares_the_parts_and_writes_as_one_json_string() {
        let first = ResultText::from("[[1,\"2\"]]".to_owned());
        let second = ResultText::from("[[3,\t4]]".to_owned());
        let joined = ResultText::join(&[first.clone(), second], "", ",", "");
        assert_eq!(joined.as_str(), None, "held in pieces");
        assert_eq!(joined.len(), "[[1,\"2\"]],[[3,\t4]]".len());
        assert_eq!(joined.to_text(), "[[1,\"2\"]],[[3,\t4]]");
        assert_eq!(
            serde_json::to_string(&joined).unwrap(),
            serde_json::to_string("[[1,\"2\"]],[[3,\t4]]").unwrap()
        );
        assert_eq!(joined, ResultText::from("[[1,\"2\"]],[[3,\t4]]"));
        let [_, Piece::Slice(shared, _), ..] = &*joined.pieces else {
            panic!("not a slice");
        };
        let [Piece::Slice(original, _)] = &*first.pieces else {
            panic!("not one slice");
        };
        assert!(Arc::ptr_eq(shared, original), "the part's text, not a copy");
    }
}
