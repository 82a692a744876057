//! A response body written from shared pieces of bytes, so a task's data or
//! a large result goes out as it is held, never copied into the answer.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body::{Body, Frame, SizeHint};

/// A response body that sends chunks of shared bytes one after another,
/// with its exact length known up front (so the answer carries a
/// `Content-Length`, as the contract's clients expect, not chunked
/// encoding).
#[derive(Debug)]
pub(crate) struct PiecesBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl PiecesBody {
    /// A body of `chunks`, in order.
    pub(crate) fn new(chunks: Vec<Bytes>) -> Self {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Self {
            chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(),
            remaining,
        }
    }

    /// A `200` answer of JSON text given as `chunks`.
    pub(crate) fn json_response(chunks: Vec<Bytes>) -> Response {
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
