//! MCP protocol revisions: the `MCP-Protocol-Version` header and
//! `initialize`'s `params.protocolVersion`, parsed once into a type that
//! orders by date, instead of string comparisons in the transports.

use core::fmt;

pub(crate) mod base64;
pub mod capabilities;
pub mod errors;
pub mod filter;
pub mod header_value;
pub mod log_level;
pub mod request_state;
pub mod x_mcp_header;

pub use capabilities::{Capabilities, CapabilitiesError};
pub use log_level::LogLevel;

/// An MCP protocol revision, `YYYY-MM-DD`: one of the published revisions
/// ([`ProtocolVersion::KNOWN`]) or any other well-formed date, so that a
/// revision newer than this crate still orders after the ones it knows.
/// Ordered by date.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::ProtocolVersion;
///
/// let version = ProtocolVersion::parse("2025-06-18").unwrap();
/// assert_eq!(version, ProtocolVersion::V2025_06_18);
/// assert!(version > ProtocolVersion::V2025_03_26 && !version.allows_batches());
/// assert_eq!(version.to_string(), "2025-06-18");
/// assert!(ProtocolVersion::parse("2099-01-01").is_some_and(|v| !v.is_known()));
/// assert_eq!(ProtocolVersion::parse("2025-6-18"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    // Field order is the ordering: year, then month, then day.
    year: u16,
    month: u8,
    day: u8,
}

impl ProtocolVersion {
    /// A pre-release revision the reference SDKs still list as supported
    /// (not in [`Self::KNOWN`]).
    pub const V2024_10_07: Self = Self::new(2024, 10, 7);
    /// The first published revision: stdio, and HTTP+SSE with two endpoints.
    pub const V2024_11_05: Self = Self::new(2024, 11, 5);
    /// Streamable HTTP; the only revision with JSON-RPC batches.
    pub const V2025_03_26: Self = Self::new(2025, 3, 26);
    /// Adds the `MCP-Protocol-Version` header; removes batches.
    pub const V2025_06_18: Self = Self::new(2025, 6, 18);
    /// SSE streams start with a priming event (an id, empty data) so a
    /// client can resume a stream that broke before its first message.
    pub const V2025_11_25: Self = Self::new(2025, 11, 25);
    /// Removes protocol-level sessions and the standalone GET stream.
    pub const V2026_07_28: Self = Self::new(2026, 7, 28);

    /// The published revisions, oldest first.
    pub const KNOWN: [Self; 5] = [
        Self::V2024_11_05,
        Self::V2025_03_26,
        Self::V2025_06_18,
        Self::V2025_11_25,
        Self::V2026_07_28,
    ];

    const fn new(year: u16, month: u8, day: u8) -> Self {
        Self { year, month, day }
    }

    /// Parses `YYYY-MM-DD` exactly: four, two and two ASCII digits, month
    /// 01–12, day 01–31. Rejects (`None`) anything else: surrounding
    /// whitespace (a caller trims header OWS first), other separators,
    /// single-digit fields, suffixes such as `-draft`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *bytes else {
            return None;
        };
        let year = digits(&[y0, y1, y2, y3])?;
        let month = digits(&[m0, m1])?;
        let day = digits(&[d0, d1])?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        Some(Self::new(
            u16::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        ))
    }

    /// Whether this is one of [`Self::KNOWN`].
    #[must_use]
    pub fn is_known(self) -> bool {
        Self::KNOWN.contains(&self)
    }

    /// Whether a client of this revision may send a JSON-RPC batch (a JSON
    /// array of messages): 2025-03-26 only; 2025-06-18 removed them.
    #[must_use]
    pub fn allows_batches(self) -> bool {
        self == Self::V2025_03_26
    }

    /// Whether a server starts each SSE stream with a priming event
    /// (2025-11-25 and later): clients of older revisions would take its
    /// empty data for a message.
    #[must_use]
    pub fn primes_streams(self) -> bool {
        self >= Self::V2025_11_25
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The versions the gateway serves on its endpoints, newest first: the one
/// list for `DiscoverResult.supportedVersions` and for every -32022 error's
/// `data.supported` (so that each error's list is a subset of discover's).
pub const ENDPOINT_VERSIONS: [&str; 5] = [
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

/// The 2026-07-28 revision as written on the wire.
pub const MODERN_VERSION: &str = "2026-07-28";

/// The newest handshake-era revision: what the gateway asks for when it
/// initialises a legacy child itself and `--protocolVersion` is not given.
pub const NEWEST_HANDSHAKE_VERSION: &str = "2025-11-25";

/// Reserved `_meta` keys of 2026-07-28 (basic/index.mdx §`_meta`).
pub mod meta {
    /// The request's protocol version (required on every request).
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities (required on every request).
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The client's name and version (optional).
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    /// The log level a request opts into (optional).
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    /// The listen a notification belongs to.
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
    /// The server's name and version, on `server/discover` results.
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
}

/// Appends the members of the `_meta` the gateway puts on a 2026-07-28
/// request of its own (the probe, a listen, a tools listing): the version,
/// the gateway as client (`clientInfo`), and no client capabilities —
/// without the enclosing braces.
pub fn push_own_meta(line: &mut Vec<u8>) {
    use crate::jsonrpc::encode_string;
    encode_string(line, meta::PROTOCOL_VERSION);
    line.push(b':');
    encode_string(line, MODERN_VERSION);
    line.push(b',');
    encode_string(line, meta::CLIENT_INFO);
    line.extend_from_slice(b":{\"name\":\"supergateway\",\"version\":\"");
    line.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    line.extend_from_slice(b"\"},");
    encode_string(line, meta::CLIENT_CAPABILITIES);
    line.extend_from_slice(b":{}");
}

/// The value of 1 to 4 ASCII digits; `None` for any other byte.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0_u32, |value, &b| {
        let digit = char::from(b).to_digit(10)?;
        value.checked_mul(10)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::ProtocolVersion;

    #[test]
    fn accept_versions() {
        for (text, version) in [
            ("2024-10-07", ProtocolVersion::V2024_10_07),
            ("2024-11-05", ProtocolVersion::V2024_11_05),
            ("2025-03-26", ProtocolVersion::V2025_03_26),
            ("2025-06-18", ProtocolVersion::V2025_06_18),
            ("2025-11-25", ProtocolVersion::V2025_11_25),
            ("2026-07-28", ProtocolVersion::V2026_07_28),
        ] {
            assert_eq!(ProtocolVersion::parse(text), Some(version), "{text}");
            assert_eq!(version.to_string(), text);
        }
        let future = ProtocolVersion::parse("2099-12-31").unwrap();
        assert!(!future.is_known() && future > ProtocolVersion::V2026_07_28);
        assert_eq!(future.to_string(), "2099-12-31");
        assert_eq!(
            ProtocolVersion::parse("0001-01-01").unwrap().to_string(),
            "0001-01-01"
        );
    }

    #[test]
    fn reject_versions() {
        for bad in [
            "",
            "2025-06-1",
            "2025-6-18",
            "25-06-18",
            "2025-06-18 ",
            " 2025-06-18",
            "2025-06-18-draft",
            "2025/06/18",
            "2025_06_18",
            "2025-00-18",
            "2025-13-01",
            "2025-06-00",
            "2025-06-32",
            "+025-06-18",
            "2025-+6-18",
            "２025-06-18",
            "draft",
            "DRAFT-2026-v1",
        ] {
            assert_eq!(ProtocolVersion::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn order_and_features() {
        let known = ProtocolVersion::KNOWN;
        assert!(known.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(ProtocolVersion::V2024_10_07 < ProtocolVersion::V2024_11_05);
        assert!(!ProtocolVersion::V2024_10_07.is_known());
        let batches: Vec<_> = known.iter().filter(|v| v.allows_batches()).collect();
        assert_eq!(batches, [&ProtocolVersion::V2025_03_26]);
        let priming: Vec<_> = known.iter().filter(|v| v.primes_streams()).collect();
        assert_eq!(
            priming,
            [&ProtocolVersion::V2025_11_25, &ProtocolVersion::V2026_07_28]
        );
        // Within a year, month before day (not the text's byte order alone).
        assert!(ProtocolVersion::parse("2025-02-28") < ProtocolVersion::parse("2025-10-01"));
    }
}
