//! `LoggingLevel` (MCP server/utilities/logging.mdx): the eight RFC 5424
//! §6.2.1 severities, ordered from least to most severe, as a request's
//! `io.modelcontextprotocol/logLevel` opt-in and a `notifications/message`
//! level are compared (a.7 of design/2026-07-28.md: a message goes out only
//! at or above the requested level).

use std::fmt;

use crate::jsonrpc::{Cursor, JsonType};

/// One of the eight logging levels. `Ord` follows severity: `Debug` is the
/// least severe, `Emergency` the most.
///
/// # Examples
///
/// ```
/// use supergateway_proto::mcp::LogLevel;
///
/// let asked = LogLevel::from_json(br#""warning""#).unwrap();
/// assert!(LogLevel::Error >= asked && LogLevel::Info < asked);
/// assert_eq!(LogLevel::from_json(br#""Warning""#), None);
/// assert_eq!(asked.as_str(), "warning");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    // RFC order (severity 7 down to 0), not alphabetical: the order is the point.
    /// Debug-level messages (RFC 5424 severity 7).
    Debug,
    /// Informational messages (6).
    Info,
    /// Normal but significant conditions (5).
    Notice,
    /// Warning conditions (4).
    Warning,
    /// Error conditions (3).
    Error,
    /// Critical conditions (2).
    Critical,
    /// Action must be taken immediately (1).
    Alert,
    /// System is unusable (0).
    Emergency,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [Self; 8] = [
        Self::Debug,
        Self::Info,
        Self::Notice,
        Self::Warning,
        Self::Error,
        Self::Critical,
        Self::Alert,
        Self::Emergency,
    ];

    /// The level named exactly `name` (lowercase, as the schema spells it).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == name)
    }

    /// The level of a JSON string token (quotes included, escapes decoded:
    /// `"\u0069nfo"` is `info`), as a message's span gives it. `None` for any
    /// other JSON value, for whitespace around the token, or an unknown name
    /// (the caller answers -32602).
    #[must_use]
    pub fn from_json(token: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(token).ok()?;
        let mut cursor = Cursor::new(text);
        let scanned = cursor.string().ok()?;
        if !cursor.at_end() || !matches!(scanned.ty, JsonType::String { .. }) {
            return None;
        }
        Self::parse(&cursor.string_value(&scanned)?)
    }

    /// The name as written on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Alert => "alert",
            Self::Emergency => "emergency",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::LogLevel;

    #[test]
    fn accept_table() {
        for (token, level) in [
            (&br#""debug""#[..], LogLevel::Debug),
            (br#""info""#, LogLevel::Info),
            (br#""notice""#, LogLevel::Notice),
            (br#""warning""#, LogLevel::Warning),
            (br#""error""#, LogLevel::Error),
            (br#""critical""#, LogLevel::Critical),
            (br#""alert""#, LogLevel::Alert),
            (br#""emergency""#, LogLevel::Emergency),
            (br#""\u0069nfo""#, LogLevel::Info),
            (br#""al\u0065rt""#, LogLevel::Alert),
        ] {
            assert_eq!(LogLevel::from_json(token), Some(level));
        }
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::parse(level.as_str()), Some(level));
            assert_eq!(level.to_string(), level.as_str());
        }
    }

    #[test]
    fn reject_table() {
        for token in [
            &b""[..],
            b"info",
            br#""""#,
            br#""INFO""#,
            br#""Info""#,
            br#""warn""#,
            br#""information""#,
            br#""info ""#,
            br#" "info""#,
            br#""info" "#,
            br#""info""info""#,
            br#""info"#,
            b"7",
            b"null",
            br#"["info"]"#,
            br#"{"level":"info"}"#,
            br#""in\fo""#,
            b"\"inf\xc3\xb8\"",
            b"\"info\xff\"",
        ] {
            assert_eq!(
                LogLevel::from_json(token),
                None,
                "{:?}",
                String::from_utf8_lossy(token)
            );
        }
    }

    #[test]
    fn severity_order() {
        // RFC 5424 §6.2.1: emergency (0) is the most severe, debug (7) the least.
        assert!(LogLevel::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(LogLevel::ALL.iter().min(), Some(&LogLevel::Debug));
        assert_eq!(LogLevel::ALL.iter().max(), Some(&LogLevel::Emergency));
        let at_or_above_warning: Vec<_> = LogLevel::ALL
            .into_iter()
            .filter(|&l| l >= LogLevel::Warning)
            .map(LogLevel::as_str)
            .collect();
        assert_eq!(
            at_or_above_warning,
            ["warning", "error", "critical", "alert", "emergency"]
        );
    }
}
