//! The address a request came from, as the queue's [`ClientKey`].
//!
//! Limits that must hold against a client that mints worker ids (leases
//! held at once, rejected results, distinct replicas) key on this. The
//! accept loop records each connection's peer address; a request without
//! one (in-process calls) comes from [`ClientKey::Unknown`].

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::queue::ClientKey;

/// The key of the address a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Client(pub(super) ClientKey);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Self(peer.map_or(ClientKey::Unknown, ClientKey::from_ip)))
    }
}
