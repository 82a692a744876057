//! Which client a request comes from when the coordinator runs behind a
//! reverse proxy: the TCP peer, unless that peer is a trusted proxy, in
//! which case the address it put in `X-Forwarded-For`.
//!
//! Only proxies named with `--trusted-proxy` are believed: anyone else can
//! write any `X-Forwarded-For` they like. The header is read from the
//! right (the entry the nearest proxy added) and the first address that is
//! not itself a trusted proxy is the client, as nginx's `real_ip_recursive`
//! does. The connection puts the answer in each request as a
//! [`crate::ClientAddr`], which the per-client limits key on.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// One address block: an address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrBlock {
    addr: IpAddr,
    prefix: u8,
}

impl AddrBlock {
    /// Whether `ip` is in this block (IPv4-mapped IPv6 addresses count as
    /// their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(block), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(block)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(block), IpAddr::V6(ip)) => {
                masked(u128::from(block), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit number.
fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    let keep = u32::from(prefix.min(width));
    if keep == 0 {
        return 0;
    }
    let shift = u32::from(width) - keep;
    (bits >> shift) << shift
}

impl FromStr for AddrBlock {
    type Err = String;

    /// `ADDR` (one address) or `ADDR/PREFIX`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr.trim())
            .map_err(|e| format!("{text:?} is not an address or ADDR/PREFIX: {e}"))?
            .to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= width => p,
                _ => return Err(format!("{text:?}: the prefix must be 0 to {width}")),
            },
        };
        Ok(Self { addr, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<AddrBlock>);

impl TrustedProxies {
    /// Trusts the proxies in `blocks`.
    pub fn new(blocks: Vec<AddrBlock>) -> Self {
        Self(blocks)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted
    /// proxy, else the rightmost `X-Forwarded-For` entry that is not a
    /// trusted proxy (the leftmost entry when all of them are; `peer` when
    /// the header is missing or holds no address).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let mut leftmost = None;
        let entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                // Anything past an entry that is not an address was
                // written by someone no proxy vouches for.
                break;
            };
            if !self.contains(ip) {
                return ip;
            }
            leftmost = Some(ip);
        }
        leftmost.unwrap_or(peer)
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    IpAddr::from_str(entry)
        .ok()
        .or_else(|| SocketAddr::from_str(entry).ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(blocks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(blocks.iter().map(|b| b.parse().unwrap()).collect())
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn blocks_match_their_prefix() {
        let block: AddrBlock = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")));
        let one: AddrBlock = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let v6: AddrBlock = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let everything: AddrBlock = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "nonsense", "::/129", "1.2.3.4/x"] {
            assert!(bad.parse::<AddrBlock>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.1"]);
        let headers = forwarded(&["198.51.100.7"]);
        assert_eq!(
            trusted.client(ip("203.0.113.5"), &headers),
            ip("203.0.113.5")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &headers),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        assert_eq!(
            trusted.client(peer, &forwarded(&["1.1.1.1, 198.51.100.7, 10.0.0.2"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            trusted.client(peer, &forwarded(&["1.1.1.1", "198.51.100.7:4711"])),
            ip("198.51.100.7")
        );
        assert_eq!(trusted.client(peer, &forwarded(&[])), peer);
        assert_eq!(trusted.client(peer, &forwarded(&["garbage"])), peer);
        assert_eq!(
            trusted.client(peer, &forwarded(&["10.0.0.9, 10.0.0.8"])),
            ip("10.0.0.9")
        );
        assert_eq!(
            trusted.client(peer, &forwarded(&["198.51.100.7, junk, 10.0.0.3"])),
            ip("10.0.0.3"),
            "an entry that is not an address stops the walk"
        );
    }
}
