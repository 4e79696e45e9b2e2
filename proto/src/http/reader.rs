//! A rustls-style byte cursor, so the decoders never index or do offset
//! arithmetic by hand (STYLE.md item 6).

/// Reads forward through a borrowed buffer.
///
/// Invariant: `rest` is always a suffix of `buf`, so `used()` is exact.
#[derive(Clone, Copy, Debug)]
pub(super) struct Reader<'a> {
    /// Everything this reader was given.
    buf: &'a [u8],
    /// What is left to read.
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) const fn new(buf: &'a [u8]) -> Self {
        Self { buf, rest: buf }
    }

    /// Takes the next byte, if any.
    pub(super) fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    /// Takes up to `n` bytes (fewer when fewer are left).
    pub(super) fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        taken
    }

    /// Takes the bytes before the first one matching `stop`, leaving that
    /// byte unread; takes everything when none matches.
    pub(super) fn take_until(&mut self, stop: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self
            .rest
            .iter()
            .position(|&b| stop(b))
            .unwrap_or(self.rest.len());
        self.take(n)
    }

    /// Whether everything has been read.
    pub(super) const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// How many bytes have been read.
    pub(super) const fn used(&self) -> usize {
        // Cannot saturate: `rest` is a suffix of `buf` (type invariant).
        self.buf.len().saturating_sub(self.rest.len())
    }
}
