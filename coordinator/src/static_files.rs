//! Static files from the `webserver/` folder, for every `GET` that is not an
//! API route.
//!
//! `/` serves `xdana.html`, a folder serves its `index.html`. The request path
//! is percent-decoded once and resolved here, component by component: `..`,
//! absolute paths, backslashes and NUL bytes are refused, and the resolved
//! file is canonicalised and must lie inside the canonical folder, so a
//! symlink pointing out of the folder is not followed. The file itself is
//! then sent by tower-http's `ServeFile` (ranges, `HEAD`, conditional
//! requests), and its `Content-Type` is set from the contract's table.
//! Anything refused or missing answers the API's JSON 404.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::api::ApiError;

/// The page served for `/`.
pub(crate) const ROOT_PAGE: &str = "xdana.html";
/// The page served for a folder.
pub(crate) const INDEX_PAGE: &str = "index.html";

/// The folder static files come from.
#[derive(Debug, Clone)]
pub(crate) struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    /// Serves files from `root`.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }
}

/// The contract's MIME type for a file name's extension, when it fixes one.
pub(crate) fn contract_mime(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" | "htm" => "text/html",
        "js" | "mjs" => "text/javascript",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "css" => "text/css",
        "data" => "application/octet-stream",
        _ => return None,
    })
}

/// Decodes `%XX` escapes once. `None` when the result is not UTF-8.
pub(crate) fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The path under `root` that a request path names, or `None` when it tries
/// to leave `root` (`..`, absolute, backslash, NUL) or is not valid UTF-8
/// once decoded. Does not touch the file system.
pub(crate) fn resolve(root: &Path, request_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(request_path)?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            s if s.contains(['\\', '\0']) || Path::new(s).is_absolute() => return None,
            s => path.push(s),
        }
    }
    Some(path)
}

/// Serves a `GET` or `HEAD` for a static file; every other method, and every
/// refused or missing file, answers 404.
pub(crate) async fn serve(files: Arc<StaticFiles>, request: Request) -> Response {
    match serve_checked(&files, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve_checked(files: &StaticFiles, request: Request) -> Result<Response, ApiError> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Err(ApiError::NotFound);
    }
    let uri_path = request.uri().path();
    let request_path = if uri_path == "/" { ROOT_PAGE } else { uri_path };
    let candidate = resolve(&files.root, request_path).ok_or(ApiError::NotFound)?;
    let root = tokio::fs::canonicalize(&files.root)
        .await
        .map_err(|_| ApiError::NotFound)?;
    let mut file = inside(&root, &candidate).await?;
    if tokio::fs::metadata(&file)
        .await
        .map_err(|_| ApiError::NotFound)?
        .is_dir()
    {
        if !uri_path.ends_with('/') {
            let target = match request.uri().query() {
                Some(query) => format!("{uri_path}/?{query}"),
                None => format!("{uri_path}/"),
            };
            return Ok(Redirect::temporary(&target).into_response());
        }
        file = inside(&root, &file.join(INDEX_PAGE)).await?;
    }
    let mime = contract_mime(&file);
    let response = ServeFile::new(&file)
        .oneshot(request)
        .await
        .map_err(|e| ApiError::Internal(format!("serving {}: {e}", file.display())))?;
    if response.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::NotFound);
    }
    let mut response = response.map(Body::new);
    if let Some(mime) = mime
        && response.headers().contains_key(header::CONTENT_TYPE)
    {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    }
    Ok(response)
}

/// Canonicalises `path` and checks that it lies inside the canonical `root`.
async fn inside(root: &Path, path: &Path) -> Result<PathBuf, ApiError> {
    let real = tokio::fs::canonicalize(path)
        .await
        .map_err(|_| ApiError::NotFound)?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        tracing::warn!(path = %path.display(), "refused a static path that leaves the folder");
        Err(ApiError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn decoding_is_done_once() {
        assert_eq!(percent_decode("%2e%2E/a%2fb").unwrap(), "../a/b");
        assert_eq!(percent_decode("%252e").unwrap(), "%2e");
        assert_eq!(percent_decode("100%").unwrap(), "100%");
        assert_eq!(percent_decode("%zz%4").unwrap(), "%zz%4");
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn paths_leaving_the_root_are_refused() {
        let root = Path::new("/srv/web");
        for bad in [
            "/../etc/passwd",
            "/%2e%2e/x",
            "/a/..%2f..%2fx",
            "/a\\..\\x",
            "/%00",
        ] {
            assert_eq!(resolve(root, bad), None, "{bad} was resolved");
        }
        assert_eq!(
            resolve(root, "/%252e%252e/x").unwrap(),
            root.join("%2e%2e/x")
        );
        assert_eq!(
            resolve(root, "//etc/passwd").unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            resolve(root, "/pkg/./kernel.js").unwrap(),
            root.join("pkg/kernel.js")
        );
    }

    #[test]
    fn contract_mime_types() {
        assert_eq!(contract_mime(Path::new("a.js")), Some("text/javascript"));
        assert_eq!(contract_mime(Path::new("a.wasm")), Some("application/wasm"));
        assert_eq!(
            contract_mime(Path::new("a.data")),
            Some("application/octet-stream")
        );
        assert_eq!(contract_mime(Path::new("a.HTML")), Some("text/html"));
        assert_eq!(contract_mime(Path::new("a.png")), None);
    }
}
