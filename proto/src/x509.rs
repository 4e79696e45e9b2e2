//! The subject of an X.509 certificate, as an RFC 4514 string.
//!
//! Mutual TLS names the caller by its client certificate's subject
//! (`CN=alice,O=Example`). rustls verifies the chain but does not expose the
//! subject, so this module reads just that much DER (X.690 §10): Certificate
//! → TBSCertificate → past version, serial, signature, issuer and validity →
//! subject Name → RDNs → AttributeTypeAndValue (RFC 5280 §4.1).
//!
//! The reader is not recursive: it walks that fixed path and never descends
//! into a value it does not decode, so its depth is bounded by construction.
//! Sizes are bounded by [`MAX_CERTIFICATE_BYTES`], [`MAX_ATTRIBUTES`] and
//! [`MAX_SUBJECT_BYTES`]. Lengths must be definite and minimal (DER):
//! indefinite lengths (BER), lengths of more than four bytes, long forms
//! where the short form fits and leading zero length bytes are refused, as
//! are high tag numbers and bytes after the certificate.
//!
//! Output (RFC 4514 §2): the RDNs last to first, separated by `,`; the
//! attributes of a multi-valued RDN joined by `+`, in certificate order.
//! Known types are named (`CN`, `C`, `L`, `ST`, `STREET`, `O`, `OU`, `DC`,
//! `UID`, and `emailAddress` as OpenSSL names it); others are written as a
//! dotted OID. String values (UTF8String, PrintableString, IA5String,
//! TeletexString read as Latin-1, BMPString) are escaped per §2.4, and every
//! control character is written as `\XX` hex pairs as well, so the result
//! is one printable line; any other value, or a string that does not
//! decode, is written as `#` and the hex of its whole DER encoding.
//!
//! # Examples
//!
//! ```
//! use supergateway_proto::x509::{subject_rfc4514, X509Error};
//!
//! // Not a certificate: one byte of a SEQUENCE header.
//! assert_eq!(subject_rfc4514(&[0x30]), Err(X509Error::Truncated));
//! ```

use std::fmt;

/// Largest certificate accepted. Unit: bytes. Bounds the work per
/// certificate (rustls bounds a handshake message to 64 KiB as well).
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// Most attributes in a subject, over all its RDNs. Bounds the output a
/// crafted certificate can make us build (real subjects have under ten).
pub const MAX_ATTRIBUTES: usize = 64;

/// Longest subject string produced. Unit: bytes. A subject is an identity
/// that ends up in logs and session bindings; past this it is refused.
pub const MAX_SUBJECT_BYTES: usize = 4096;

/// Why a certificate's subject could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum X509Error {
    /// A length byte of 0x80: BER's indefinite length, not DER.
    IndefiniteLength,
    /// A length in long form that is not minimal (short form would do, or
    /// a leading zero byte), or longer than four bytes.
    BadLength,
    /// A tag number of 31 or more (multi-byte tags do not occur here).
    HighTag,
    /// A length that runs past the end of its enclosing value.
    Truncated,
    /// Bytes after a value that must be the last one.
    TrailingBytes,
    /// A value that is not of the type the structure needs; the context
    /// names the field.
    Unexpected(&'static str),
    /// An OBJECT IDENTIFIER that is empty or has an arc beyond `u64`.
    BadOid,
    /// Over [`MAX_CERTIFICATE_BYTES`], [`MAX_ATTRIBUTES`] or
    /// [`MAX_SUBJECT_BYTES`].
    TooLarge,
}

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndefiniteLength => f.write_str("indefinite length (BER, not DER)"),
            Self::BadLength => f.write_str("length not in minimal DER form"),
            Self::HighTag => f.write_str("multi-byte tag"),
            Self::Truncated => f.write_str("value runs past its end"),
            Self::TrailingBytes => f.write_str("bytes after the certificate"),
            Self::Unexpected(what) => write!(f, "unexpected value for {what}"),
            Self::BadOid => f.write_str("malformed object identifier"),
            Self::TooLarge => f.write_str("certificate or subject too large"),
        }
    }
}

impl std::error::Error for X509Error {}

/// The subject of the DER certificate `der` as an RFC 4514 string (see the
/// module documentation). The certificate's signature is not checked here:
/// call this on a certificate the TLS layer has verified.
pub fn subject_rfc4514(der: &[u8]) -> Result<String, X509Error> {
    if der.len() > MAX_CERTIFICATE_BYTES {
        return Err(X509Error::TooLarge);
    }
    let mut outer = Reader(der);
    let certificate = outer.expect(SEQUENCE, "Certificate")?;
    outer.expect_empty()?;
    let mut certificate = Reader(certificate);
    let mut tbs = Reader(certificate.expect(SEQUENCE, "TBSCertificate")?);
    // version [0] EXPLICIT, optional (absent means v1).
    if tbs.peek() == Some(VERSION) {
        tbs.any()?;
    }
    tbs.expect(INTEGER, "serialNumber")?;
    tbs.expect(SEQUENCE, "signature")?;
    tbs.expect(SEQUENCE, "issuer")?;
    tbs.expect(SEQUENCE, "validity")?;
    let subject = tbs.expect(SEQUENCE, "subject")?;
    name(subject)
}

/// Writes a Name (RDNSequence), last RDN first.
fn name(der: &[u8]) -> Result<String, X509Error> {
    let mut rdns = Vec::new();
    let mut reader = Reader(der);
    let mut attributes = 0usize;
    while !reader.is_empty() {
        let rdn = reader.expect(SET, "RelativeDistinguishedName")?;
        // SET SIZE (1..MAX).
        if rdn.is_empty() {
            return Err(X509Error::Unexpected("RelativeDistinguishedName"));
        }
        let mut count = Reader(rdn);
        while !count.is_empty() {
            count.any()?;
            attributes = attributes.saturating_add(1);
            if attributes > MAX_ATTRIBUTES {
                return Err(X509Error::TooLarge);
            }
        }
        rdns.push(rdn);
    }
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut reader = Reader(rdn);
        let mut first = true;
        while !reader.is_empty() {
            if !first {
                out.push('+');
            }
            first = false;
            attribute(reader.expect(SEQUENCE, "AttributeTypeAndValue")?, &mut out)?;
            if out.len() > MAX_SUBJECT_BYTES {
                return Err(X509Error::TooLarge);
            }
        }
    }
    Ok(out)
}

/// Writes one `type=value`.
fn attribute(der: &[u8], out: &mut String) -> Result<(), X509Error> {
    let mut reader = Reader(der);
    let oid = reader.expect(OID, "AttributeType")?;
    // The value is exactly one TLV, of any type.
    let value = reader.rest();
    let mut check = Reader(value);
    let (tag, content) = check.tlv()?;
    check.expect_empty()?;
    match KNOWN.iter().find(|(known, _)| *known == oid) {
        Some((_, short)) => out.push_str(short),
        None => dotted(oid, out)?,
    }
    out.push('=');
    match decode_string(tag, content) {
        Some(text) => escape(&text, out),
        None => {
            out.push('#');
            hex(value, out);
        }
    }
    Ok(())
}

/// The text of a string value, or `None` for another type or a string
/// that does not decode (then written as hex).
fn decode_string(tag: u8, content: &[u8]) -> Option<String> {
    match tag {
        UTF8_STRING => std::str::from_utf8(content).ok().map(str::to_owned),
        PRINTABLE_STRING | IA5_STRING => content
            .is_ascii()
            .then(|| content.iter().map(|&b| char::from(b)).collect()),
        // T.61 in theory; in practice Latin-1 (what OpenSSL and browsers do).
        TELETEX_STRING => Some(content.iter().map(|&b| char::from(b)).collect()),
        // UCS-2, big-endian; surrogates are not characters there.
        BMP_STRING => {
            if content.len() % 2 != 0 {
                return None;
            }
            content
                .chunks_exact(2)
                .map(|pair| match pair {
                    [hi, lo] => char::from_u32(u32::from(u16::from_be_bytes([*hi, *lo]))),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

/// RFC 4514 §2.4 escaping, plus `\XX` for every control character.
fn escape(text: &str, out: &mut String) {
    let count = text.chars().count();
    for (i, c) in text.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i.saturating_add(1) == count);
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if edge_space => out.push_str("\\ "),
            c if c.is_control() => {
                let mut bytes = [0u8; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    out.push('\\');
                    hex(&[byte], out);
                }
            }
            c => out.push(c),
        }
    }
}

/// An OBJECT IDENTIFIER's content as dotted decimal (X.690 §8.19).
fn dotted(content: &[u8], out: &mut String) -> Result<(), X509Error> {
    use std::fmt::Write;
    if content.is_empty() || content.last().is_some_and(|&b| b & 0x80 != 0) {
        return Err(X509Error::BadOid);
    }
    let mut arc: u64 = 0;
    let mut first = true;
    let mut start = true;
    for &byte in content {
        // A subidentifier has no leading 0x80 padding (§8.19.2).
        if start && byte == 0x80 {
            return Err(X509Error::BadOid);
        }
        start = false;
        arc = arc
            .checked_mul(128)
            .and_then(|arc| arc.checked_add(u64::from(byte & 0x7f)))
            .ok_or(X509Error::BadOid)?;
        if byte & 0x80 != 0 {
            continue;
        }
        let written = if first {
            first = false;
            let (root, rest) = match arc {
                0..=39 => (0, arc),
                40..=79 => (1, arc.saturating_sub(40)),
                _ => (2, arc.saturating_sub(80)),
            };
            write!(out, "{root}.{rest}")
        } else {
            write!(out, ".{arc}")
        };
        written.map_err(|_| X509Error::TooLarge)?;
        arc = 0;
        start = true;
    }
    Ok(())
}

fn hex(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            if let Some(&digit) = DIGITS.get(usize::from(nibble)) {
                out.push(char::from(digit));
            }
        }
    }
}

/// A cursor over DER bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn expect_empty(&self) -> Result<(), X509Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(X509Error::TrailingBytes)
        }
    }

    /// The content of the next value, which must have tag `tag`.
    fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], X509Error> {
        match self.tlv()? {
            (found, content) if found == tag => Ok(content),
            _ => Err(X509Error::Unexpected(what)),
        }
    }

    /// Skips the next value, whatever its tag.
    fn any(&mut self) -> Result<(), X509Error> {
        self.tlv().map(|_| ())
    }

    /// The next value's tag and content.
    fn tlv(&mut self) -> Result<(u8, &'a [u8]), X509Error> {
        let (&tag, rest) = self.0.split_first().ok_or(X509Error::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(X509Error::HighTag);
        }
        let (&first, mut rest) = rest.split_first().ok_or(X509Error::Truncated)?;
        let length = match first {
            0..=0x7f => usize::from(first),
            0x80 => return Err(X509Error::IndefiniteLength),
            0x81..=0x84 => {
                let count = usize::from(first & 0x7f);
                let (bytes, after) = rest.split_at_checked(count).ok_or(X509Error::Truncated)?;
                rest = after;
                if bytes.first() == Some(&0) {
                    return Err(X509Error::BadLength);
                }
                let mut length = 0usize;
                for &byte in bytes {
                    length = length
                        .checked_mul(256)
                        .and_then(|length| length.checked_add(usize::from(byte)))
                        .ok_or(X509Error::BadLength)?;
                }
                if length < 0x80 {
                    return Err(X509Error::BadLength);
                }
                length
            }
            _ => return Err(X509Error::BadLength),
        };
        let (content, after) = rest.split_at_checked(length).ok_or(X509Error::Truncated)?;
        self.0 = after;
        Ok((tag, content))
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
/// `[0]` constructed: the TBSCertificate's explicit version.
const VERSION: u8 = 0xa0;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const TELETEX_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const BMP_STRING: u8 = 0x1e;

/// Attribute types written by name: RFC 4514 §3's table, and PKCS #9's
/// emailAddress under OpenSSL's name (OID content bytes, short name).
const KNOWN: [(&[u8], &str); 10] = [
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x09], "STREET"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "emailAddress",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        "UID",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
];

#[cfg(test)]
mod tests;
