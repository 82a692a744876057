//! Who a request comes from: the client's IP address as a request
//! extension, for limits that must key on something a client cannot mint
//! for free (worker ids can be made up; addresses cannot, over TCP).
//!
//! The accept loop records each connection's peer; the HTTP edge turns it
//! into a [`ClientAddr`] before routing: the peer itself, or, when the peer
//! is a trusted proxy (`--trusted-proxy`), the address that proxy put in
//! `X-Forwarded-For`. Handlers and use cases read it with the extractor
//! below or with [`ClientAddr::of`]; limits group addresses with
//! [`ClientAddr::key`] so that one IPv6 host cannot pose as many clients.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::extract::FromRequestParts;
use axum::http::Extensions;
use axum::http::request::Parts;

/// The address of the client a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The address of a request that came from no socket (a router called
    /// in-process, as the tests do): `0.0.0.0`.
    pub const UNKNOWN: Self = Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    /// The client address recorded in a request's extensions, or
    /// [`ClientAddr::UNKNOWN`] when none was.
    pub fn of(extensions: &Extensions) -> Self {
        extensions.get::<Self>().copied().unwrap_or(Self::UNKNOWN)
    }

    /// The address itself.
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// What per-client limits count against: an IPv4 address as it is
    /// (IPv4-mapped IPv6 addresses too), an IPv6 address by its /64
    /// prefix, the block one site or host is usually given.
    pub fn key(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(Ipv6Addr::from(bits))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.extensions))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn addr(text: &str) -> ClientAddr {
        ClientAddr(text.parse().unwrap())
    }

    #[test]
    fn ipv4_keys_are_the_address_itself() {
        assert_eq!(
            addr("192.0.2.7").key(),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            addr("::ffff:192.0.2.7").key(),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_key() {
        let a = addr("2001:db8:1:2:aaaa::1");
        let b = addr("2001:db8:1:2:ffff:ffff:ffff:ffff");
        let other = addr("2001:db8:1:3::1");
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), other.key());
        assert_eq!(a.key(), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn requests_without_an_address_come_from_unknown() {
        let mut extensions = Extensions::new();
        assert_eq!(ClientAddr::of(&extensions), ClientAddr::UNKNOWN);
        extensions.insert(addr("192.0.2.1"));
        assert_eq!(ClientAddr::of(&extensions), addr("192.0.2.1"));
    }
}
