//! Compressed request bodies: a client that asks may send its body with
//! `Content-Encoding: gzip` (the worker page compresses its products with
//! the browser's `CompressionStream`). The body is inflated as its frames
//! arrive, and what it inflates to counts against `--max-body-bytes`: a
//! small body that would inflate past the limit is answered 413 as soon as
//! the limit is passed, and no more than the limit (plus one output buffer)
//! is ever held for it.
//!
//! This layer sits inside `request_body` (which meters and times the bytes
//! as they arrive on the wire) and outside the handlers (which see the
//! inflated bytes, as if they had been sent plain). Any other coding, or
//! any coding at all with `--plain-wire`, answers 415 with the codings
//! taken in `Accept-Encoding` (RFC 7694), so a page can fall back to plain
//! bodies. Clients that send no `Content-Encoding` (Dana's among them) are
//! not touched.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::write::MultiGzDecoder;
use http_body::{Frame, SizeHint};

use crate::api::ApiError;

/// Most bytes one decoded frame holds: a compressed frame that inflates to
/// more is handed on in pieces of this size.
pub(crate) const DECODED_FRAME_BYTES: usize = 256 * 1024;

/// Compressed bytes fed to the decoder at a time. Deflate inflates a byte
/// to at most about 1,032, so what one step inflates to stays near 1 MiB
/// however the client frames its body.
const INPUT_STEP_BYTES: usize = 1024;

/// The middleware's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoding {
    /// Largest body accepted, after inflating.
    pub(crate) max_body_bytes: usize,
    /// Whether compressed bodies are taken at all (`false` with
    /// `--plain-wire`).
    pub(crate) enabled: bool,
}

/// The coding a request body was sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Coding {
    /// None, or `identity`.
    Plain,
    /// `gzip` (or its old name `x-gzip`).
    Gzip,
    /// Anything else (the header as sent).
    Other(String),
}

fn coding_of(headers: &HeaderMap) -> Coding {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Coding::Plain;
    };
    let text = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Coding::Plain,
        "gzip" | "x-gzip" => Coding::Gzip,
        _ => Coding::Other(text),
    }
}

/// Middleware: see the module docs.
pub(crate) async fn decode_bodies(
    State(decoding): State<Decoding>,
    request: Request,
    next: Next,
) -> Response {
    match coding_of(request.headers()) {
        Coding::Plain => next.run(request).await,
        Coding::Gzip if decoding.enabled => {
            let over = Arc::new(OnceLock::new());
            let (mut parts, body) = request.into_parts();
            // The handler sees the body as if it had been sent plain.
            parts.headers.remove(header::CONTENT_ENCODING);
            parts.headers.remove(header::CONTENT_LENGTH);
            let body = GunzipBody::new(body, decoding.max_body_bytes, Arc::clone(&over));
            let response = next.run(Request::from_parts(parts, Body::new(body))).await;
            match over.get() {
                Some(stop) => stop.to_api_error(decoding.max_body_bytes).into_response(),
                None => response,
            }
        }
        Coding::Gzip => unsupported("gzip".to_owned(), false).into_response(),
        Coding::Other(sent) => unsupported(sent, decoding.enabled).into_response(),
    }
}

fn unsupported(sent: String, enabled: bool) -> ApiError {
    ApiError::UnsupportedEncoding {
        sent,
        accepted: if enabled { "gzip" } else { "identity" },
    }
}

/// Why a compressed body was not read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum DecodeStop {
    /// It inflates past the body limit.
    #[error("the body inflates past the limit")]
    TooLarge,
    /// It is not valid gzip.
    #[error("the body is not valid gzip")]
    Corrupt,
}

impl DecodeStop {
    fn to_api_error(self, limit: usize) -> ApiError {
        match self {
            Self::TooLarge => ApiError::PayloadTooLarge(limit),
            Self::Corrupt => ApiError::BadRequest(
                "Could not read the request body: Content-Encoding is gzip but the body is not valid gzip".to_owned(),
            ),
        }
    }
}

/// The stop an error of the decoder stands for: the limit, when the sink
/// refused more, else a body that is not gzip.
fn stop_of(error: &std::io::Error) -> DecodeStop {
    match error.get_ref().and_then(|e| e.downcast_ref::<DecodeStop>()) {
        Some(stop) => *stop,
        None => DecodeStop::Corrupt,
    }
}

/// Where the decoder writes: bytes inflated and not yet handed on, and how
/// many were inflated in all; refuses to go past the limit.
struct Inflated {
    pending: Vec<u8>,
    total: usize,
    limit: usize,
}

impl Write for Inflated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.total + buf.len() > self.limit {
            return Err(std::io::Error::other(DecodeStop::TooLarge));
        }
        self.total += buf.len();
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A gzip request body inflated as it arrives (see the module docs).
struct GunzipBody {
    inner: Body,
    decoder: MultiGzDecoder<Inflated>,
    /// Compressed bytes received and not yet fed to the decoder.
    input: Bytes,
    /// Set when the body was stopped: the middleware answers for it.
    stopped: Arc<OnceLock<DecodeStop>>,
    ended: bool,
}

impl GunzipBody {
    fn new(inner: Body, limit: usize, stopped: Arc<OnceLock<DecodeStop>>) -> Self {
        let sink = Inflated {
            pending: Vec::new(),
            total: 0,
            limit,
        };
        Self {
            inner,
            decoder: MultiGzDecoder::new(sink),
            input: Bytes::new(),
            stopped,
            ended: false,
        }
    }

    fn stop(&mut self, stop: DecodeStop) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let _ = self.stopped.set(stop);
        self.ended = true;
        self.decoder.get_mut().pending = Vec::new();
        self.input = Bytes::new();
        Poll::Ready(Some(Err(axum::Error::new(stop))))
    }

    /// Feeds `input` to the decoder, a piece at a time, so that what it
    /// inflates to is handed on before more is inflated.
    fn feed(&mut self, input: &[u8]) -> Result<(), DecodeStop> {
        self.decoder
            .write_all(input)
            .map_err(|error| stop_of(&error))
    }

    /// Up to [`DECODED_FRAME_BYTES`] of what has been inflated.
    fn take_pending(&mut self) -> Option<Bytes> {
        let pending = &mut self.decoder.get_mut().pending;
        if pending.is_empty() {
            return None;
        }
        if pending.len() <= DECODED_FRAME_BYTES {
            return Some(Bytes::from(std::mem::take(pending)));
        }
        let rest = pending.split_off(DECODED_FRAME_BYTES);
        Some(Bytes::from(std::mem::replace(pending, rest)))
    }
}

impl http_body::Body for GunzipBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(data) = this.take_pending() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            if !this.input.is_empty() {
                let step = this.input.split_to(this.input.len().min(INPUT_STEP_BYTES));
                if let Err(stop) = this.feed(&step) {
                    return this.stop(stop);
                }
                continue;
            }
            match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.input = data;
                    }
                }
                Some(Err(error)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    // The end of the input: whatever the decoder still
                    // holds, and a stream cut short is an error.
                    if let Err(error) = this.decoder.try_finish() {
                        return this.stop(stop_of(&error));
                    }
                    this.ended = true;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.input.is_empty() && self.decoder.get_ref().pending.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use http_body_util::BodyExt;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    async fn inflate(compressed: Vec<u8>, limit: usize) -> (Result<Bytes, String>, usize) {
        let stopped = Arc::new(OnceLock::new());
        let body = GunzipBody::new(Body::from(compressed), limit, Arc::clone(&stopped));
        let mut body = Box::pin(body);
        let (mut out, mut largest) = (Vec::new(), 0);
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    let data = frame.into_data().unwrap();
                    largest = largest.max(data.len());
                    out.extend_from_slice(&data);
                }
                Err(error) => return (Err(error.to_string()), largest),
            }
        }
        (Ok(Bytes::from(out)), largest)
    }

    #[tokio::test]
    async fn a_gzip_body_reads_as_it_was_before_compression() {
        let text: Vec<u8> = (0..200_000)
            .flat_map(|i: u32| format!("{},", i % 199).into_bytes())
            .collect();
        let (out, largest) = inflate(gzip(&text), text.len()).await;
        assert_eq!(out.unwrap(), Bytes::from(text));
        assert!(largest <= DECODED_FRAME_BYTES);
    }

    #[tokio::test]
    async fn a_body_inflating_past_the_limit_is_stopped_at_the_limit() {
        // 64 MiB of zeros is about 64 KiB of gzip.
        let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024);
        let (out, largest) = inflate(bomb, 1024 * 1024).await;
        assert!(out.is_err());
        assert!(largest <= DECODED_FRAME_BYTES);
    }

    #[tokio::test]
    async fn a_body_that_is_not_gzip_is_an_error() {
        let (out, _) = inflate(b"{\"result\":\"[[1]]\"}".to_vec(), 1024).await;
        assert!(out.is_err());
        let mut cut = gzip(b"[[1,2],[3,4]]");
        cut.truncate(cut.len() - 4);
        assert!(inflate(cut, 1024).await.0.is_err());
    }

    #[test]
    fn codings_are_read_from_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(coding_of(&headers), Coding::Plain);
        headers.insert(header::CONTENT_ENCODING, "GZip ".parse().unwrap());
        assert_eq!(coding_of(&headers), Coding::Gzip);
        headers.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(coding_of(&headers), Coding::Other("br".to_owned()));
    }
}
