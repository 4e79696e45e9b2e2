//! The Prometheus text exposition format (version 0.0.4), written in-tree.
//!
//! Sans-IO like the rest of the crate: every writer appends to a `Vec<u8>`
//! the caller owns. Names are checked once, when the fixed metric set is
//! built ([`MetricName::new`], [`LabelName::new`]); label values and help
//! texts are escaped on the way out, so nothing a client sends can break a
//! line or forge a sample.
//!
//! # Examples
//!
//! ```
//! use supergateway_proto::metrics::{family, sample, Kind, LabelName, MetricName};
//!
//! let name = MetricName::new("sg_requests").unwrap();
//! let method = LabelName::new("method").unwrap();
//! let mut out = Vec::new();
//! family(&mut out, name, "Requests.", Kind::Counter);
//! sample(&mut out, name, "_total", &[(method, "tools/call")], 3);
//! assert_eq!(
//!     out,
//!     b"# HELP sg_requests_total Requests.\n# TYPE sg_requests_total counter\n\
//!       sg_requests_total{method=\"tools/call\"} 3\n"
//! );
//! ```

use core::fmt::{self, Write as _};

/// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricName(&'static str);

impl MetricName {
    /// Checks `name` against the exposition format's rule.
    pub fn new(name: &'static str) -> Result<Self, NameError> {
        if is_name(name, true) {
            Ok(Self(name))
        } else {
            Err(NameError::Metric)
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`
/// (reserved for Prometheus itself), and not `le` (the histogram's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelName(&'static str);

impl LabelName {
    /// Checks `name` against the exposition format's rule.
    pub fn new(name: &'static str) -> Result<Self, NameError> {
        if is_name(name, false) && !name.starts_with("__") && name != "le" {
            Ok(Self(name))
        } else {
            Err(NameError::Label)
        }
    }
}

/// A name that breaks the exposition format's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// A bad label name.
    Label,
    /// A bad metric name.
    Metric,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Label => "not a valid Prometheus label name",
            Self::Metric => "not a valid Prometheus metric name",
        })
    }
}

/// A metric family's type (`# TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; samples carry the `_total` suffix.
    Counter,
    /// Goes up and down.
    Gauge,
    /// `_bucket{le=…}`, `_sum` and `_count`.
    Histogram,
}

/// Appends the `# HELP` and `# TYPE` lines of a family (`help` escaped:
/// `\` and line feeds). The text format names a family as its samples, so
/// a counter's lines say `name_total` (parsers that see `name` take the
/// `_total` samples for another, untyped, family).
pub fn family(out: &mut Vec<u8>, name: MetricName, help: &str, kind: Kind) {
    let total: &[u8] = if kind == Kind::Counter {
        b"_total"
    } else {
        b""
    };
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.0.as_bytes());
    out.extend_from_slice(total);
    out.push(b' ');
    escape(out, help, false);
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name.0.as_bytes());
    out.extend_from_slice(total);
    out.extend_from_slice(match kind {
        Kind::Counter => b" counter\n",
        Kind::Gauge => b" gauge\n",
        Kind::Histogram => b" histogram\n",
    });
}

/// Appends one sample line, `name` + `suffix` (`""`, `"_total"`, …), the
/// labels (values escaped: `\`, `"` and line feeds) and an integer value.
pub fn sample(
    out: &mut Vec<u8>,
    name: MetricName,
    suffix: &str,
    labels: &[(LabelName, &str)],
    value: u64,
) {
    series(out, name, suffix, labels, None);
    let _ = writeln!(Sink(out), " {value}");
}

/// One histogram's counts: `buckets[i]` observations fell at or below
/// `bounds[i]` but above `bounds[i - 1]` (not cumulative; the writer sums
/// them), `count` in all (so the `+Inf` bucket), `sum` their total.
#[derive(Clone, Copy, Debug)]
pub struct Histogram<'a> {
    /// Upper bounds, increasing.
    pub bounds: &'a [f64],
    /// Observations per bucket, one per bound.
    pub buckets: &'a [u64],
    /// All observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// Appends a histogram's `_bucket` lines (cumulative, then `le="+Inf"`),
/// `_sum` and `_count`.
pub fn histogram(
    out: &mut Vec<u8>,
    name: MetricName,
    labels: &[(LabelName, &str)],
    histogram: &Histogram<'_>,
) {
    let mut cumulative: u64 = 0;
    for (bound, count) in histogram.bounds.iter().zip(histogram.buckets) {
        cumulative = cumulative.saturating_add(*count);
        series(out, name, "_bucket", labels, Some(Le::Bound(*bound)));
        let _ = writeln!(Sink(out), " {cumulative}");
    }
    series(out, name, "_bucket", labels, Some(Le::Inf));
    let _ = writeln!(Sink(out), " {}", histogram.count);
    series(out, name, "_sum", labels, None);
    out.push(b' ');
    float(out, histogram.sum);
    out.push(b'\n');
    series(out, name, "_count", labels, None);
    let _ = writeln!(Sink(out), " {}", histogram.count);
}

enum Le {
    Bound(f64),
    Inf,
}

/// `name suffix {labels}` without the value.
fn series(
    out: &mut Vec<u8>,
    name: MetricName,
    suffix: &str,
    labels: &[(LabelName, &str)],
    le: Option<Le>,
) {
    out.extend_from_slice(name.0.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push(b'{');
    for (i, (label, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(label.0.as_bytes());
        out.extend_from_slice(b"=\"");
        escape(out, value, true);
        out.push(b'"');
    }
    if let Some(le) = le {
        if !labels.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"le=\"");
        match le {
            Le::Bound(bound) => float(out, bound),
            Le::Inf => out.extend_from_slice(b"+Inf"),
        }
        out.push(b'"');
    }
    out.push(b'}');
}

/// A float as Go's `strconv.ParseFloat` reads it: Rust's shortest
/// round-trip form, and the format's spellings of the special values.
fn float(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if value == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        let _ = write!(Sink(out), "{value}");
    }
}

/// Help text escapes `\` and line feeds; label values `"` too.
fn escape(out: &mut Vec<u8>, text: &str, quote: bool) {
    for byte in text.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if quote => out.extend_from_slice(b"\\\""),
            _ => out.push(byte),
        }
    }
}

fn is_name(name: &str, colon: bool) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    let ok = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || (colon && byte == b':');
    !first.is_ascii_digit() && ok(first) && bytes.all(ok)
}

/// `fmt::Write` into the caller's `Vec<u8>` (no `std::io` in proto).
struct Sink<'a>(&'a mut Vec<u8>);

impl fmt::Write for Sink<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &'static str) -> MetricName {
        MetricName::new(text).unwrap()
    }

    fn label(text: &'static str) -> LabelName {
        LabelName::new(text).unwrap()
    }

    #[test]
    fn names() {
        for good in ["a", "_", "a:b", "sg_requests", "A9_:"] {
            assert!(MetricName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "9a", "a-b", "a b", "é", "a.b", "a\n"] {
            assert_eq!(MetricName::new(bad), Err(NameError::Metric), "{bad}");
        }
        for good in ["a", "_a", "method", "a9"] {
            assert!(LabelName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "9a", "a:b", "__name__", "__x", "le", "a-b", "a b"] {
            assert_eq!(LabelName::new(bad), Err(NameError::Label), "{bad}");
        }
    }

    #[test]
    fn families() {
        let mut out = Vec::new();
        family(&mut out, name("x"), "a \\ b\nc \"q\"", Kind::Gauge);
        family(&mut out, name("y"), "", Kind::Histogram);
        family(&mut out, name("z"), "Z.", Kind::Counter);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP x a \\\\ b\\nc \"q\"\n# TYPE x gauge\n# HELP y \n# TYPE y histogram\n\
             # HELP z_total Z.\n# TYPE z_total counter\n"
        );
    }

    #[test]
    fn samples() {
        let mut out = Vec::new();
        sample(&mut out, name("x"), "", &[], 0);
        sample(&mut out, name("x"), "_total", &[], u64::MAX);
        sample(
            &mut out,
            name("x"),
            "_total",
            &[(label("a"), "q\"b\\s\nn"), (label("b"), "")],
            7,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x 0\nx_total 18446744073709551615\nx_total{a=\"q\\\"b\\\\s\\nn\",b=\"\"} 7\n"
        );
    }

    #[test]
    fn histograms() {
        let mut out = Vec::new();
        let bounds = [0.00005, 0.5, 30.0];
        histogram(
            &mut out,
            name("h"),
            &[(label("t"), "ws")],
            &Histogram {
                bounds: &bounds,
                buckets: &[1, 0, 2],
                count: 4,
                sum: 31.25,
            },
        );
        histogram(
            &mut out,
            name("h"),
            &[],
            &Histogram {
                bounds: &[1.0],
                buckets: &[0],
                count: 0,
                sum: 0.0,
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "h_bucket{t=\"ws\",le=\"0.00005\"} 1\n\
             h_bucket{t=\"ws\",le=\"0.5\"} 1\n\
             h_bucket{t=\"ws\",le=\"30\"} 3\n\
             h_bucket{t=\"ws\",le=\"+Inf\"} 4\n\
             h_sum{t=\"ws\"} 31.25\n\
             h_count{t=\"ws\"} 4\n\
             h_bucket{le=\"1\"} 0\n\
             h_bucket{le=\"+Inf\"} 0\n\
             h_sum 0\n\
             h_count 0\n"
        );
    }

    #[test]
    fn floats() {
        for (value, text) in [
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (0.1, "0.1"),
            (2.5e-5, "0.000025"),
            (-3.0, "-3"),
        ] {
            let mut out = Vec::new();
            float(&mut out, value);
            assert_eq!(out, text.as_bytes(), "{value}");
        }
    }
}
