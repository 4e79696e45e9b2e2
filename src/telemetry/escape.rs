//! Log lines cannot be forged: every value logged is escaped, so no raw
//! control character reaches the log from a value (a runtime argument, a
//! child's stderr line, a header, a URL, an error text) and one event is
//! always one line.
//!
//! The choke point is where values become text, not the call sites:
//!
//! - text format: [`EscapedFields`], the fmt layer's field formatter, writes
//!   every field of every event and span (the message included) through
//!   [`Escaper`]. The rest of a text line is the formatter's own (time,
//!   level, target, span names: static) plus its ANSI colours, which are
//!   therefore kept when the output is a terminal: only the formatter can
//!   write an ESC byte;
//! - JSON format: `json_log` encodes strings with [`encode_json_string`],
//!   which writes the same characters as `\uXXXX` escapes (the value is
//!   kept exactly; a JSON reader gets it back).
//!
//! Escaped: every `Cc` character (C0 controls, DEL, C1 controls such as
//! U+0085 NEL), U+2028/U+2029 (line and paragraph separators: a line break
//! to some viewers and to JavaScript) and the bidirectional formatting
//! characters (U+061C, U+200E/F, U+202A–E, U+2066–9), which can make a line
//! display as something it is not. Text escapes are Rust's: `\n`, `\r`,
//! `\t`, `\u{1b}`. Backslashes are not doubled: the aim is that nothing
//! steers the terminal or starts a line, not a reversible encoding.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

/// Whether `c` is written escaped (see the module documentation).
pub(crate) fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A `fmt::Write` that escapes what is written through it.
pub(crate) struct Escaper<'a, W: fmt::Write + ?Sized>(pub(crate) &'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean = 0;
        for (at, c) in s.char_indices() {
            if !must_escape(c) {
                continue;
            }
            self.0.write_str(s.get(clean..at).unwrap_or_default())?;
            clean = at.saturating_add(c.len_utf8());
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                _ => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
        }
        self.0.write_str(s.get(clean..).unwrap_or_default())
    }
}

/// `s` as a JSON string, with every character [`must_escape`] names as a
/// `\uXXXX` escape (or `\n`, `\r`, `\t`), and `"` and `\` escaped.
pub(crate) fn encode_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len().saturating_add(2));
    out.push(b'"');
    let mut clean = 0;
    for (at, c) in s.char_indices() {
        let short: &[u8] = match c {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '\n' => b"\\n",
            '\r' => b"\\r",
            '\t' => b"\\t",
            c if must_escape(c) => b"",
            _ => continue,
        };
        out.extend_from_slice(s.as_bytes().get(clean..at).unwrap_or_default());
        clean = at.saturating_add(c.len_utf8());
        if short.is_empty() {
            // Every escaped character is in the Basic Multilingual Plane.
            let unit = u32::from(c);
            out.extend_from_slice(b"\\u");
            for shift in [12u32, 8, 4, 0] {
                let nibble = unit.checked_shr(shift).unwrap_or(0) & 0xf;
                let digit = HEX
                    .get(usize::try_from(nibble).unwrap_or(0))
                    .copied()
                    .unwrap_or(b'0');
                out.push(digit);
            }
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(s.as_bytes().get(clean..).unwrap_or_default());
    out.push(b'"');
}

/// The text format's field formatter: tracing-subscriber's default layout
/// (the message, then `name=value` with values in `Debug` form, separated by
/// spaces; names in italics and `=` dimmed with ANSI), every value escaped.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct TextVisitor<'writer> {
    writer: Writer<'writer>,
    /// Nothing written yet (no separator due).
    empty: bool,
    result: fmt::Result,
}

impl TextVisitor<'_> {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) -> fmt::Result {
        if !self.empty {
            self.writer.write_char(' ')?;
        }
        self.empty = false;
        if field.name() != "message" {
            // Field names are identifiers in the source: nothing to escape.
            let name = field.name();
            let name = name.strip_prefix("r#").unwrap_or(name);
            if self.writer.has_ansi_escapes() {
                write!(self.writer, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m")?;
            } else {
                write!(self.writer, "{name}=")?;
            }
        }
        Escaper(&mut self.writer).write_fmt(value)
    }
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        self.result = if field.name() == "message" {
            self.field(field, format_args!("{value}"))
        } else {
            self.field(field, format_args!("{value:?}"))
        };
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.result = self.field(field, format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Hostile values: a forged line, terminal escapes, C1 and Unicode line
    /// breaks, a bidi override.
    const HOSTILE: &str =
        "a\nFAKE INFO forged line\rb\x1b[31mred\x1b]0;title\x07\u{85}nel\u{2028}ls\u{202e}rtl\t\x7f\0";

    #[test]
    fn the_escaper_leaves_no_control_character() {
        let mut out = String::new();
        write!(Escaper(&mut out), "{HOSTILE}").unwrap();
        assert_eq!(
            out,
            "a\\nFAKE INFO forged line\\rb\\u{1b}[31mred\\u{1b}]0;title\\u{7}\\u{85}nel\\u{2028}ls\\u{202e}rtl\\t\\u{7f}\\u{0}"
        );
        assert!(!out.chars().any(must_escape));
        let mut plain = String::new();
        write!(Escaper(&mut plain), "ok: été 日本 \\ \"q\"").unwrap();
        assert_eq!(plain, "ok: été 日本 \\ \"q\"");
    }

    #[test]
    fn json_strings_escape_the_same_characters_and_round_trip() {
        let mut out = Vec::new();
        encode_json_string(&mut out, HOSTILE);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(!text.chars().any(must_escape), "{text}");
        assert!(text.contains("\\u001b[31m"), "{text}");
        assert!(text.contains("\\u0085nel\\u2028ls\\u202ertl"), "{text}");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, HOSTILE);
        let mut quote = Vec::new();
        encode_json_string(&mut quote, "\"\\/");
        assert_eq!(quote, br#""\"\\/""#);
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text_log(ansi: bool) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .fmt_fields(EscapedFields)
            .with_ansi(ansi)
            .with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("conn", peer = %HOSTILE);
            let _entered = span.enter();
            tracing::info!("child started (pid 1): srv '{HOSTILE}'");
            tracing::warn!(host = HOSTILE, url = %HOSTILE, n = 3, "refused");
        });
        let out = buffer.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_lines_carry_no_raw_control_characters() {
        let log = text_log(false);
        let lines: Vec<&str> = log.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2, "{log}");
        for line in &lines {
            assert!(!line.chars().any(must_escape), "{line:?}");
            assert!(line.contains("conn{peer=a\\nFAKE INFO forged line\\rb\\u{1b}[31m"));
        }
        assert!(lines[0].ends_with(
            "child started (pid 1): srv 'a\\nFAKE INFO forged line\\rb\\u{1b}[31mred\\u{1b}]0;title\\u{7}\\u{85}nel\\u{2028}ls\\u{202e}rtl\\t\\u{7f}\\u{0}'"
        ));
        // Debug values keep tracing's quoting; Display values are escaped too.
        assert!(
            lines[1].contains(" refused host=\"a\\nFAKE"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(" url=a\\nFAKE"), "{}", lines[1]);
        assert!(lines[1].ends_with(" n=3"), "{}", lines[1]);
    }

    #[test]
    fn ansi_colours_stay_and_values_cannot_add_any() {
        let log = text_log(true);
        let lines: Vec<&str> = log.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2, "{log}");
        for line in &lines {
            // The formatter's own colours are there ...
            assert!(line.contains('\x1b'), "{line:?}");
            // ... and the only raw control characters are theirs: each ESC
            // starts an SGR sequence (`ESC [ digits ; m`).
            let mut rest = *line;
            while let Some(at) = rest.find('\x1b') {
                let after = &rest[at + 1..];
                let sgr = after.strip_prefix('[').and_then(|tail| {
                    let end = tail.find('m')?;
                    tail[..end]
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b';')
                        .then_some(&tail[end + 1..])
                });
                rest = sgr.unwrap_or_else(|| panic!("not an SGR sequence: {after:?}"));
            }
            let controls: Vec<char> = line
                .chars()
                .filter(|&c| must_escape(c) && c != '\x1b')
                .collect();
            assert!(controls.is_empty(), "{line:?}");
        }
        assert!(lines[1].contains("\x1b[3mhost\x1b[0m\x1b[2m=\x1b[0m\"a\\nFAKE"));
    }
}
