//! Request ids and progress tokens, kept as the exact JSON text they arrived
//! as, so that `7`, `7.0`, `"7"` and `1e3` stay distinct and go back to the
//! peer byte for byte (JSON-RPC 2.0 §4: the response id is the request id).

use std::fmt;
use std::hash::{Hash, Hasher};

use super::scan::{Cursor, Type};

/// The raw JSON text of an id or progress token, borrowed from the message:
/// a JSON number or string token exactly as it appeared (`7`, `"req-1"`,
/// `1.0`, `-3`, `"a\"b"`, quotes included for strings). Round-trips exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawId<'a>(&'a [u8]);

impl<'a> RawId<'a> {
    /// Wraps a token the scanner has already validated.
    pub(crate) fn new_unchecked(raw: &'a [u8]) -> Self {
        Self(raw)
    }

    /// The token's JSON text.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// `true` for a string token, `false` for a number.
    pub fn is_string(&self) -> bool {
        self.0.first() == Some(&b'"')
    }

    /// An owned copy (no allocation for tokens of up to 23 bytes).
    pub fn to_owned(&self) -> Id {
        Id::from_validated(self.0)
    }
}

impl fmt::Debug for RawId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawId")
            .field(&String::from_utf8_lossy(self.0))
            .finish()
    }
}

/// An owned id or progress token: the JSON text of a number or string token.
///
/// Equality and hashing are on the raw text (`1` ≠ `1.0` ≠ `"1"`), matching
/// how peers echo ids back. Tokens of up to [`Id::INLINE`] bytes are stored
/// inline without allocating; longer ones use a `Box<[u8]>`.
#[derive(Clone)]
pub struct Id(Repr);

/// Storage of an [`Id`]. Invariant: `Inline` exactly when the text has at
/// most [`Id::INLINE`] bytes, and `len ≤ INLINE`.
#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; Id::INLINE] },
    Heap(Box<[u8]>),
}

impl Id {
    /// Longest id text stored without allocating.
    pub const INLINE: usize = 23;

    /// Validates that `raw` is exactly one JSON number or string token (no
    /// surrounding whitespace, valid UTF-8) and copies it.
    ///
    /// ```
    /// use supergateway_proto::jsonrpc::Id;
    /// assert_eq!(Id::from_raw(b"\"req-1\"").unwrap().as_bytes(), b"\"req-1\"");
    /// assert_eq!(Id::from_raw(b"1e3").unwrap().as_u64(), None);
    /// assert!(Id::from_raw(b"null").is_none());
    /// assert!(Id::from_raw(b" 1").is_none());
    /// ```
    pub fn from_raw(raw: &[u8]) -> Option<Self> {
        let text = core::str::from_utf8(raw).ok()?;
        let mut cursor = Cursor::new(text);
        let token = cursor.skip_value(0).ok()?;
        let scalar = matches!(token.ty, Type::Number | Type::String { .. });
        (scalar && cursor.at_end()).then(|| Self::from_validated(raw))
    }

    /// The id `n`, written in plain decimal.
    pub fn from_u64(n: u64) -> Self {
        let mut digits = [0u8; 20];
        let text = super::encode::write_u64(n, &mut digits);
        Self::from_validated(text)
    }

    /// The id's JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Repr::Heap(bytes) => bytes,
        }
    }

    /// The value of an id written as plain decimal digits that fits in a
    /// `u64`; `None` for strings, signs, fractions and exponents.
    pub fn as_u64(&self) -> Option<u64> {
        let bytes = self.as_bytes();
        if bytes.is_empty() {
            return None;
        }
        bytes.iter().try_fold(0u64, |acc, &b| {
            let digit = b
                .is_ascii_digit()
                .then(|| u64::from(b.wrapping_sub(b'0')))?;
            acc.checked_mul(10)?.checked_add(digit)
        })
    }

    /// `true` for a string id, `false` for a number.
    pub fn is_string(&self) -> bool {
        self.as_bytes().first() == Some(&b'"')
    }

    /// Borrows this id as a [`RawId`].
    pub fn as_raw(&self) -> RawId<'_> {
        RawId(self.as_bytes())
    }

    /// Whether the text is stored inline (tests check the no-allocation path).
    #[cfg(test)]
    pub(crate) fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// Copies text that is known to be a valid number or string token.
    fn from_validated(raw: &[u8]) -> Self {
        let mut buf = [0u8; Self::INLINE];
        match (buf.get_mut(..raw.len()), u8::try_from(raw.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(raw);
                Self(Repr::Inline { len, buf })
            }
            _ => Self(Repr::Heap(raw.into())),
        }
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Id {}

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Id")
            .field(&String::from_utf8_lossy(self.as_bytes()))
            .finish()
    }
}

/// The id's JSON text (quotes included for strings).
impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl<'a> From<RawId<'a>> for Id {
    fn from(raw: RawId<'a>) -> Self {
        raw.to_owned()
    }
}
