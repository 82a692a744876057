//! Reading a request head before hyper does, with the same parser
//! (`httparse`) and the same checks hyper makes, so that every head hyper
//! would refuse with a bare, empty answer is refused here first with the
//! contract's JSON error, and so that the guard knows how the body that
//! follows is framed.

use std::mem::MaybeUninit;

use axum::http::{HeaderName, Method, Uri};

use crate::api::ApiError;

/// Most bytes of a request head (request line and header lines); beyond it
/// the answer is 431.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header lines in one request, as hyper (431 beyond it).
const MAX_HEADERS: usize = 100;
/// Longest request target taken (414 beyond it): well below hyper's own
/// limit (65,534) and the head's, so that a long target is told apart from
/// a large head; the API's longest targets are a few hundred bytes.
const MAX_URI_LEN: usize = 16 * 1024;
/// Longest body length hyper takes.
const MAX_BODY_LEN: u64 = u64::MAX - 2;

/// How the body after a head is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A complete head that hyper will take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Its length in bytes, leading empty lines included.
    pub(crate) len: usize,
    /// How its body is framed.
    pub(crate) framing: Framing,
}

fn bad(reason: &str) -> ApiError {
    ApiError::BadRequest(format!("Malformed request: {reason}"))
}

/// Reads the head at the start of `bytes`: `Ok(None)` while it is
/// incomplete, the [`Head`] once it is complete and hyper would take it,
/// else the error to answer with.
///
/// # Errors
///
/// The [`ApiError`] (400, 405, 414 or 431) for a head hyper would refuse,
/// or one this server does not serve (`CONNECT`).
pub(crate) fn check(bytes: &[u8]) -> Result<Option<Head>, ApiError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut request,
        bytes,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD_BYTES => {
            return Err(ApiError::HeadersTooLarge);
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ApiError::HeadersTooLarge),
        Err(httparse::Error::Token) if request.method.is_none() => {
            return Err(bad("invalid method"));
        }
        Err(httparse::Error::Token) => return Err(bad("invalid request target")),
        Err(httparse::Error::Version) => {
            return Err(bad("not an HTTP/1.0 or HTTP/1.1 request line"));
        }
        Err(error) => return Err(bad(&error.to_string())),
    };
    let (Some(method), Some(path), Some(version)) = (request.method, request.path, request.version)
    else {
        return Err(bad("incomplete request line"));
    };
    if path.len() > MAX_URI_LEN {
        return Err(ApiError::UriTooLong);
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| bad("invalid method"))?;
    if method == Method::CONNECT {
        return Err(ApiError::MethodNotAllowed);
    }
    Uri::try_from(path.as_bytes()).map_err(|_| bad("invalid request target"))?;
    let http_11 = version == 1;
    let framing = framing(request.headers, http_11)?;
    Ok(Some(Head { len, framing }))
}

/// The body's framing from the header lines, by hyper's rules (RFC 9112
/// section 6.3): chunked must be the last transfer coding, and
/// `Transfer-Encoding` wins over `Content-Length`; differing or malformed
/// lengths are refused.
fn framing(headers: &[httparse::Header<'_>], http_11: bool) -> Result<Framing, ApiError> {
    let mut length: Option<u64> = None;
    let mut saw_length = false;
    let mut encoding: Option<bool> = None;
    for header in headers {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| bad("invalid header name"))?;
        if name == axum::http::header::TRANSFER_ENCODING {
            if !http_11 {
                return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
            }
            if saw_length {
                length = None;
            }
            encoding = Some(ends_in_chunked(header.value));
        } else if name == axum::http::header::CONTENT_LENGTH {
            saw_length = true;
            if encoding.is_some() {
                continue;
            }
            let value = digits(header.value).ok_or_else(|| bad("invalid Content-Length"))?;
            if length.is_some_and(|previous| previous != value) {
                return Err(bad("differing Content-Length values"));
            }
            if value > MAX_BODY_LEN {
                return Err(ApiError::HeadersTooLarge);
            }
            length = Some(value);
        }
    }
    match (encoding, length) {
        (Some(true), _) => Ok(Framing::Chunked),
        (Some(false), _) => Err(bad("Transfer-Encoding must end in chunked")),
        (None, Some(0) | None) => Ok(Framing::Empty),
        (None, Some(length)) => Ok(Framing::Length(length)),
    }
}

/// A non-empty run of ASCII digits as a number (no sign, no spaces).
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Whether the last transfer coding listed is `chunked`.
fn ends_in_chunked(value: &[u8]) -> bool {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn status(head: &[u8]) -> StatusCode {
        match check(head) {
            Err(error) => error.status(),
            Ok(result) => panic!("{head:?} was taken: {result:?}"),
        }
    }

    #[test]
    fn well_formed_heads_are_taken_with_their_framing() {
        let get = b"GET /health HTTP/1.1\r\nhost:x\r\n\r\n";
        assert_eq!(
            check(get).ok().flatten(),
            Some(Head {
                len: get.len(),
                framing: Framing::Empty
            })
        );
        let post = b"\r\nPOST /task HTTP/1.1\r\ncontent-length:12\r\n\r\n{\"A\":";
        assert_eq!(
            check(post).ok().flatten().map(|h| h.framing),
            Some(Framing::Length(12))
        );
        let chunked =
            b"POST /task HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(
            check(chunked).ok().flatten().map(|h| h.framing),
            Some(Framing::Chunked)
        );
        assert!(matches!(check(b"GET / HTTP/1.1\r\nhost"), Ok(None)));
    }

    #[test]
    fn heads_hyper_refuses_are_refused() {
        assert_eq!(status(b"\xff\xfe garbage\r\n\r\n"), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(b"GET /\xff HTTP/1.1\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status(b"GET /\r\n\r\n"), StatusCode::BAD_REQUEST);
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\ncontent-length: -1\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(b"POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(b"CONNECT example.org:443 HTTP/1.1\r\n\r\n"),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_LEN));
        assert_eq!(status(long.as_bytes()), StatusCode::URI_TOO_LONG);
    }
}
