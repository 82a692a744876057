//! Who asks and who answers: the address a request came from, as a key a
//! client cannot mint for free, and what a poster says of itself.
//!
//! Worker ids are whatever a client sends, so nothing that must hold
//! against a hostile client (how many leases it holds, how many of its
//! results were wrong, which replicas of a task it computed) is keyed on
//! them alone. The key is the client's address instead: an IPv4 address,
//! or the /64 network of an IPv6 one (a host is usually given a whole /64,
//! so its single addresses are free to mint). Finding the address, behind a
//! proxy or not, is the HTTP edge's job.

use std::net::IpAddr;

use super::workers::WorkerId;

/// The key of a client's address. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientKey {
    /// The address is not known (in-process calls, tests).
    Unknown,
    /// An IPv4 address (IPv4-mapped IPv6 addresses included).
    V4([u8; 4]),
    /// The /64 network of an IPv6 address.
    V6([u8; 8]),
}

impl ClientKey {
    /// The key of `ip`.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let mut net = [0; 8];
                    net.copy_from_slice(&v6.octets()[..8]);
                    Self::V6(net)
                }
            },
        }
    }
}

/// Who posts an answer or a release, as the use case established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Poster {
    /// The client's address key.
    pub client: ClientKey,
    /// The worker id it gave, if any.
    pub worker: Option<WorkerId>,
    /// The lease its token names (the token's authenticity was checked
    /// before the queue sees it); `None` when it sent no token.
    pub lease: Option<u64>,
}

impl Poster {
    /// A poster from `client` that says it is `worker` and sent no token.
    #[cfg(test)]
    pub(crate) fn tokenless(client: ClientKey, worker: Option<WorkerId>) -> Self {
        Self {
            client,
            worker,
            lease: None,
        }
    }
}

/// Who asks for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// The client's address key.
    pub client: ClientKey,
    /// The worker id it gave (`"unknown"` when none).
    pub worker: WorkerId,
    /// Whether it will be handed a lease token (it asked for one, or
    /// tokens are required): then only that token proves it holds the
    /// lease, not its address and worker id.
    pub tokened: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_of_one_network_share_a_key() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:ffff::9"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(ClientKey::from_ip(a), ClientKey::from_ip(b));
        assert_ne!(ClientKey::from_ip(a), ClientKey::from_ip(other));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(ClientKey::from_ip(mapped), ClientKey::V4([127, 0, 0, 2]));
        assert_ne!(
            ClientKey::from_ip(IpAddr::from([127, 0, 0, 1])),
            ClientKey::V4([127, 0, 0, 2])
        );
    }
}
