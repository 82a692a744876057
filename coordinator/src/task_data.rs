//! Task data: the JSON text of a task, held as pieces of shared bytes.
//!
//! A submitted task's data is the request body itself, never copied. The
//! parts of a split task are made of slices of that body (the rows of `A`
//! and all of `B`) between a few literal pieces, so splitting copies no
//! operand and every part shares the one body. A worker's answer writes the
//! pieces out one after another ([`TaskData::pieces`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body::{Body, Frame, SizeHint};

/// JSON text in one or more pieces; their concatenation is valid UTF-8.
#[derive(Debug, Clone, Default)]
pub struct TaskData {
    pieces: Vec<Bytes>,
    /// Bytes of the pieces that are slices of another task's data, which
    /// that task holds (and counts).
    borrowed: usize,
}

impl TaskData {
    /// Data from pieces whose concatenation is UTF-8 JSON text (each piece
    /// cut at character boundaries).
    #[must_use]
    pub fn from_pieces(pieces: Vec<Bytes>) -> Self {
        Self {
            pieces,
            borrowed: 0,
        }
    }

    /// The same data, with `bytes` of it marked as slices of another task's
    /// data (held, and counted, by that task).
    #[must_use]
    pub fn borrowing(mut self, bytes: usize) -> Self {
        self.borrowed = bytes.min(self.len());
        self
    }

    /// Bytes this data holds on its own: its length less what it borrows.
    #[must_use]
    pub fn own_len(&self) -> usize {
        self.len() - self.borrowed
    }

    /// Bytes of text.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    /// Whether the text is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pieces.iter().all(Bytes::is_empty)
    }

    /// The pieces, in order.
    #[must_use]
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    /// The text, when it is held in one piece (as submitted data is).
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self.pieces.as_slice() {
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
        let joined = self.pieces.concat();
        Cow::Owned(String::from_utf8_lossy(&joined).into_owned())
    }
}

impl PartialEq for TaskData {
    /// Equal texts, however they are cut into pieces.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .pieces
                .iter()
                .flat_map(|p| p.iter())
                .eq(other.pieces.iter().flat_map(|p| p.iter()))
    }
}

impl Eq for TaskData {}

impl From<String> for TaskData {
    fn from(text: String) -> Self {
        Self::from_pieces(vec![Bytes::from(text)])
    }
}

impl From<&str> for TaskData {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

impl From<Arc<str>> for TaskData {
    fn from(text: Arc<str>) -> Self {
        Self::from(text.as_ref())
    }
}

/// A response body that sends chunks of shared bytes one after another,
/// with its exact length known up front (so the answer carries a
/// `Content-Length`, as the contract's clients expect, not chunked
/// encoding).
#[derive(Debug)]
pub struct PiecesBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl PiecesBody {
    /// A body of `chunks`, in order.
    #[must_use]
    pub fn new(chunks: Vec<Bytes>) -> Self {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Self {
            chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(),
            remaining,
        }
    }
}

impl PiecesBody {
    /// A `200` answer of JSON text given as `chunks`.
    #[must_use]
    pub fn json_response(chunks: Vec<Bytes>) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            axum::body::Body::new(Self::new(chunks)),
        )
            .into_response()
    }
}

impl Body for PiecesBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.chunks.pop_front().map(|chunk| {
            this.remaining -= chunk.len() as u64;
            Ok(Frame::data(chunk))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_the_pieces_joined() {
        let data = TaskData::from_pieces(vec![
            Bytes::from_static(b"{\"A\":"),
            Bytes::from_static(b"[[1]]"),
            Bytes::from_static(b"}"),
        ]);
        assert_eq!(data.len(), 11);
        assert_eq!(data.as_str(), None);
        assert_eq!(data.to_text(), "{\"A\":[[1]]}");
        assert_eq!(data, TaskData::from("{\"A\":[[1]]}"));
        assert_ne!(data, TaskData::from("{\"A\":[[2]]}"));
        assert_eq!(TaskData::from("x").as_str(), Some("x"));
        assert_eq!((data.own_len(), data.borrowing(5).own_len()), (11, 6));
    }

    #[test]
    fn pieces_body_sends_every_chunk_in_order_with_its_exact_length() {
        use http_body_util::BodyExt;
        let chunks = vec![
            Bytes::from_static(b"{\"taskId\":1,"),
            Bytes::new(),
            Bytes::from_static(b"\"data\":5}"),
        ];
        let body = PiecesBody::new(chunks);
        assert_eq!(body.size_hint().exact(), Some(21));
        let collected = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
            .block_on(body.collect())
            .unwrap_or_else(|e| match e {})
            .to_bytes();
        assert_eq!(&collected[..], b"{\"taskId\":1,\"data\":5}");
    }
}
