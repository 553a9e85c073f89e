//! Which address a request comes from: the connection's peer, unless the peer is a trusted
//! proxy (`PAYLEDGER_TRUSTED_PROXIES`); then the nearest `X-Forwarded-For` entry that is not
//! one of the trusted proxies (entries further left were written by the client itself and
//! prove nothing).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Most `X-Forwarded-For` entries read.
const FORWARDED_MAX_ENTRIES: usize = 32;

/// The client's address, or None when it cannot be told (no peer, or a trusted proxy sent
/// an entry that is not an address).
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = canonical(peer?.ip());
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut nearest = peer;
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for entry in entries.iter().rev().take(FORWARDED_MAX_ENTRIES) {
        let ip = canonical(entry.trim().parse::<IpAddr>().ok()?);
        nearest = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(nearest)
}

/// An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40_000))
    }

    #[test]
    fn an_untrusted_peers_forwarded_for_is_ignored() {
        let got = client_ip(peer("127.0.0.1"), &headers(&["203.0.113.7"]), &[]);
        assert_eq!(got, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_entry_counts() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()];
        // The client wrote the first entry itself; the proxies appended the rest.
        let forwarded = headers(&["198.51.100.1, 203.0.113.7", "10.1.2.3"]);
        assert_eq!(client_ip(peer("127.0.0.1"), &forwarded, &trusted), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(client_ip(peer("127.0.0.1"), &headers(&[]), &trusted), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(client_ip(peer("127.0.0.1"), &headers(&["10.0.0.9"]), &trusted), Some("10.0.0.9".parse().unwrap()));
        assert_eq!(client_ip(peer("127.0.0.1"), &headers(&["not-an-ip"]), &trusted), None);
        assert_eq!(client_ip(None, &headers(&[]), &trusted), None);
    }

    #[test]
    fn an_ipv4_mapped_peer_is_its_ipv4_address() {
        assert_eq!(client_ip(peer("::ffff:192.0.2.1"), &headers(&[]), &[]), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(client_ip(peer("::1"), &headers(&[]), &[]), Some("::1".parse().unwrap()));
    }
}
