//! Who the client is behind trusted proxies: CIDR ranges (`--trustedProxy`)
//! and the `X-Forwarded-For` walk.
//!
//! `X-Forwarded-For` is a list each proxy appends the address it received
//! the request from to; anyone can write its left part. So it is read only
//! when the TCP peer is a trusted proxy, and from the right: entries inside
//! trusted ranges are proxies of ours and are skipped, the first one that is
//! not is the client (what a client wrote further left is never looked at).
//! An entry that is not a plain IP address stops the walk, and the peer
//! stays the client: a proxy of ours writes addresses, so anything else was
//! written by someone else, and guessing past it would let them choose the
//! address. When every entry is trusted, the left-most one is the client.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a socket bound to
//! `::` reports for an IPv4 peer) are compared as the IPv4 address.

use std::fmt;
use std::net::IpAddr;

/// An IP range: an address and a prefix length, host bits zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Canonical (IPv4-mapped IPv6 as IPv4), host bits zero.
    network: IpAddr,
    /// 0..=32 for IPv4, 0..=128 for IPv6.
    prefix: u8,
}

/// Why a CIDR did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CidrError {
    /// Not an IPv4 or IPv6 address (before the `/`).
    Address,
    /// The prefix length is not 0..=32 (IPv4) or 0..=128 (IPv6) in digits.
    Prefix,
    /// Bits are set past the prefix (`10.0.0.1/8`): which range was meant?
    HostBits,
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Address => "not an IPv4 or IPv6 address",
            Self::Prefix => "the prefix length must be 0 to 32 (IPv4) or 0 to 128 (IPv6)",
            Self::HostBits => "bits are set past the prefix length (write the network address)",
        })
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// Parses `ADDRESS/PREFIX` or a bare address (`/32` or `/128`).
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use supergateway_proto::http::Cidr;
    ///
    /// let range = Cidr::parse("10.0.0.0/8").unwrap();
    /// assert!(range.contains("10.1.2.3".parse::<IpAddr>().unwrap()));
    /// assert!(!range.contains("11.0.0.1".parse::<IpAddr>().unwrap()));
    /// assert!(Cidr::parse("10.0.0.1/8").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, CidrError> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address = canonical(address.parse::<IpAddr>().map_err(|_| CidrError::Address)?);
        let max = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => max,
            Some(digits) => parse_prefix(digits, max)?,
        };
        let network = mask(address, prefix);
        if network != address {
            return Err(CidrError::HostBits);
        }
        Ok(Self { network, prefix })
    }

    /// Whether `address` is inside the range (an IPv4 range holds the
    /// IPv4-mapped IPv6 form of its addresses too).
    #[must_use]
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        let same_family = matches!(
            (address, self.network),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        same_family && mask(address, self.prefix) == self.network
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The client's address: `peer` itself unless it is inside `trusted`, else
/// the result of the walk over the `X-Forwarded-For` header values (all of
/// them, in order; each a comma-separated list) described in the module
/// documentation.
///
/// ```
/// use std::net::IpAddr;
/// use supergateway_proto::http::{client_address, Cidr};
///
/// let trusted = [Cidr::parse("127.0.0.1").unwrap()];
/// let peer: IpAddr = "127.0.0.1".parse().unwrap();
/// let forwarded: [&[u8]; 1] = [b"203.0.113.9, 198.51.100.7"];
/// let client = client_address(peer, &trusted, forwarded.iter().copied());
/// assert_eq!(client, "198.51.100.7".parse::<IpAddr>().unwrap());
/// ```
#[must_use]
pub fn client_address<'a>(
    peer: IpAddr,
    trusted: &[Cidr],
    x_forwarded_for: impl IntoIterator<Item = &'a [u8]>,
) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |address: IpAddr| trusted.iter().any(|range| range.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    // The right-most entry is the last header's last element. (Header
    // values are bounded by the head's size limit.)
    let values: Vec<&[u8]> = x_forwarded_for.into_iter().collect();
    let mut client = peer;
    for value in values.into_iter().rev() {
        for entry in value.rsplit(|&b| b == b',') {
            let Some(address) = parse_entry(entry) else {
                return peer;
            };
            client = address;
            if !is_trusted(address) {
                return address;
            }
        }
    }
    client
}

/// One list element: an IP address between optional spaces and tabs
/// (RFC 9110 §5.6.1 OWS). Nothing else: no port, no brackets, no zone,
/// no empty element.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    let text = text.trim_matches([' ', '\t']);
    text.parse::<IpAddr>().ok().map(canonical)
}

/// `0` to `max` in ASCII digits, without a sign or leading zeros.
fn parse_prefix(digits: &str, max: u8) -> Result<u8, CidrError> {
    let plain = !digits.is_empty()
        && digits.len() <= 3
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !plain {
        return Err(CidrError::Prefix);
    }
    match digits.parse::<u8>() {
        Ok(prefix) if prefix <= max => Ok(prefix),
        _ => Err(CidrError::Prefix),
    }
}

/// IPv4-mapped IPv6 as IPv4; everything else as it is.
fn canonical(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

/// `address` with the bits past `prefix` cleared (`prefix` at most the
/// family's width, as the callers ensure; a larger one keeps every bit).
fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX
                .checked_shl(32u32.saturating_sub(u32::from(prefix)))
                .unwrap_or(0);
            IpAddr::V4((bits & kept).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX
                .checked_shl(128u32.saturating_sub(u32::from(prefix)))
                .unwrap_or(0);
            IpAddr::V6((bits & kept).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn accept_cidrs() {
        for (text, shown) in [
            ("127.0.0.1", "127.0.0.1/32"),
            ("127.0.0.1/32", "127.0.0.1/32"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("192.168.0.0/16", "192.168.0.0/16"),
            ("::1", "::1/128"),
            ("::/0", "::/0"),
            ("fd00::/8", "fd00::/8"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:DB8::/32", "2001:db8::/32"),
            // IPv4-mapped IPv6 is the IPv4 address.
            ("::ffff:10.1.2.3", "10.1.2.3/32"),
        ] {
            assert_eq!(Cidr::parse(text).unwrap().to_string(), shown, "{text}");
        }
    }

    #[test]
    fn reject_cidrs() {
        for (text, error) in [
            ("", CidrError::Address),
            ("/8", CidrError::Address),
            ("localhost", CidrError::Address),
            ("10.0.0", CidrError::Address),
            ("010.0.0.1", CidrError::Address),
            ("10.0.0.256", CidrError::Address),
            (" 10.0.0.1", CidrError::Address),
            ("[::1]", CidrError::Address),
            ("fe80::1%eth0", CidrError::Address),
            ("10.0.0.0/", CidrError::Prefix),
            ("10.0.0.0/33", CidrError::Prefix),
            ("10.0.0.0/+8", CidrError::Prefix),
            ("10.0.0.0/08", CidrError::Prefix),
            ("10.0.0.0/8 ", CidrError::Prefix),
            ("10.0.0.0/8/8", CidrError::Prefix),
            ("10.0.0.0/0x8", CidrError::Prefix),
            ("::/129", CidrError::Prefix),
            ("::/1000", CidrError::Prefix),
            ("10.0.0.1/8", CidrError::HostBits),
            ("192.168.1.10/24", CidrError::HostBits),
            ("2001:db8::1/32", CidrError::HostBits),
        ] {
            assert_eq!(Cidr::parse(text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn membership() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.0.0.0")));
        assert!(net.contains(ip("10.255.255.255")));
        assert!(net.contains(ip("::ffff:10.2.3.4")));
        assert!(!net.contains(ip("11.0.0.0")));
        assert!(
            !net.contains(ip("::a00:1")),
            "IPv4-compatible is not mapped"
        );
        let all4 = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all4.contains(ip("1.2.3.4")));
        assert!(!all4.contains(ip("::1")), "families do not mix");
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let one = Cidr::parse("::1").unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
    }

    fn walk(peer: &str, trusted: &[&str], headers: &[&str]) -> IpAddr {
        let trusted: Vec<Cidr> = trusted.iter().map(|t| Cidr::parse(t).unwrap()).collect();
        client_address(
            ip(peer),
            &trusted,
            headers.iter().map(|value| value.as_bytes()),
        )
    }

    #[test]
    fn forwarded_for_walks() {
        let proxy = &["127.0.0.1", "10.0.0.0/8"][..];
        for (peer, trusted, headers, client) in [
            // Not from a trusted proxy: the header is never read.
            ("198.51.100.1", proxy, &["203.0.113.9"][..], "198.51.100.1"),
            ("127.0.0.1", &[][..], &["203.0.113.9"][..], "127.0.0.1"),
            // From a trusted proxy without the header: the proxy.
            ("127.0.0.1", proxy, &[][..], "127.0.0.1"),
            ("127.0.0.1", proxy, &["203.0.113.9"][..], "203.0.113.9"),
            // Right to left, trusted entries skipped, the first other wins
            // (what the client wrote on the left never counts).
            (
                "127.0.0.1",
                proxy,
                &["1.1.1.1, 203.0.113.9, 10.0.0.5"][..],
                "203.0.113.9",
            ),
            // Several headers are one list, in order.
            (
                "127.0.0.1",
                proxy,
                &["1.1.1.1", "203.0.113.9,10.0.0.5", "10.9.9.9"][..],
                "203.0.113.9",
            ),
            // OWS around elements.
            (
                "127.0.0.1",
                proxy,
                &["\t203.0.113.9 ,  10.0.0.5\t"][..],
                "203.0.113.9",
            ),
            // IPv6 and mapped forms.
            ("127.0.0.1", proxy, &["2001:db8::7"][..], "2001:db8::7"),
            (
                "::ffff:127.0.0.1",
                proxy,
                &["203.0.113.9"][..],
                "203.0.113.9",
            ),
            (
                "127.0.0.1",
                proxy,
                &["::ffff:203.0.113.9"][..],
                "203.0.113.9",
            ),
            // Every entry trusted: the left-most.
            ("127.0.0.1", proxy, &["10.0.0.7, 10.0.0.5"][..], "10.0.0.7"),
            // Malformed entries stop the walk: the peer stays the client.
            ("127.0.0.1", proxy, &["203.0.113.9:4711"][..], "127.0.0.1"),
            ("127.0.0.1", proxy, &["[2001:db8::7]"][..], "127.0.0.1"),
            ("127.0.0.1", proxy, &["unknown"][..], "127.0.0.1"),
            ("127.0.0.1", proxy, &[""][..], "127.0.0.1"),
            ("127.0.0.1", proxy, &["203.0.113.9,"][..], "127.0.0.1"),
            (
                "127.0.0.1",
                proxy,
                &["203.0.113.9, , 10.0.0.5"][..],
                "127.0.0.1",
            ),
            ("127.0.0.1", proxy, &["_hidden, 10.0.0.5"][..], "127.0.0.1"),
            ("127.0.0.1", proxy, &["fe80::1%eth0"][..], "127.0.0.1"),
            ("127.0.0.1", proxy, &["1.2.3.4\u{b}"][..], "127.0.0.1"),
            // A malformed entry left of the client is never reached.
            (
                "127.0.0.1",
                proxy,
                &["garbage, 203.0.113.9"][..],
                "203.0.113.9",
            ),
        ] {
            assert_eq!(
                walk(peer, trusted, headers),
                ip(client),
                "{peer} {trusted:?} {headers:?}"
            );
        }
    }

    #[test]
    fn non_utf8_entries_stop_the_walk() {
        let trusted = [Cidr::parse("127.0.0.1").unwrap()];
        let values: [&[u8]; 1] = [b"203.0.113.9\xff"];
        assert_eq!(
            client_address(ip("127.0.0.1"), &trusted, values.iter().copied()),
            ip("127.0.0.1")
        );
    }
}
