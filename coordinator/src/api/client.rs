//! The address a request came from, as the queue's [`ClientKey`].
//!
//! Limits that must hold against a client that mints worker ids (leases
//! held at once, rejected results, distinct replicas) key on this. The
//! HTTP edge records each request's [`ClientAddr`] (the peer, or behind a
//! trusted proxy the address it forwarded); a request without one
//! (in-process calls) comes from [`ClientKey::Unknown`].

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::client_addr::ClientAddr;
use crate::queue::ClientKey;

/// The key of the address a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Client(pub(super) ClientKey);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let addr = ClientAddr::of(&parts.extensions);
        Ok(Self(if addr == ClientAddr::UNKNOWN {
            ClientKey::Unknown
        } else {
            ClientKey::from_ip(addr.ip())
        }))
    }
}
