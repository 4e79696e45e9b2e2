//! A connection's read buffer that zero-fills its memory once, not per read.
//!
//! Safe Rust can only read into initialised bytes. Growing a `Vec` by 16 KiB of
//! zeros before each read and truncating after it made `memset` 30% of the
//! gateway's instructions under load (callgrind). Here the bytes past `filled`
//! stay initialised between reads, so a read only zero-fills when the buffer
//! grows, which happens a few times per connection at most.

use std::io;

use futures_lite::{AsyncRead, AsyncReadExt};

/// The smallest free space a read is offered; also the first allocation, so an
/// idle connection (an open SSE stream) holds 4 KiB, not 16.
const MIN_SPARE: usize = 4 * 1024;

/// Bytes read and not yet consumed, in front of initialised free space.
#[derive(Default)]
pub(crate) struct ReadBuf {
    bytes: Vec<u8>,
    filled: usize,
}

impl ReadBuf {
    /// The bytes read and not yet consumed.
    pub(crate) fn filled(&self) -> &[u8] {
        self.bytes.get(..self.filled).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// Drops the first `n` filled bytes (all of them when `n` is larger).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.filled);
        self.bytes.copy_within(n..self.filled, 0);
        self.filled = self.filled.saturating_sub(n);
    }

    /// Free space to read into: at least `MIN_SPARE` bytes, and all the free
    /// space there is (a buffer that grew for a large body reads in large
    /// pieces).
    fn spare(&mut self) -> &mut [u8] {
        if self.bytes.len().saturating_sub(self.filled) < MIN_SPARE {
            let grown = self
                .bytes
                .len()
                .saturating_mul(2)
                .max(self.filled.saturating_add(MIN_SPARE));
            self.bytes.resize(grown, 0);
        }
        self.bytes.get_mut(self.filled..).unwrap_or_default()
    }

    /// Appends what `reader` has (at least `MIN_SPARE` bytes of room);
    /// `Ok(0)` at its end.
    pub(crate) async fn read_from(
        &mut self,
        mut reader: impl AsyncRead + Unpin,
    ) -> io::Result<usize> {
        let n = reader.read(self.spare()).await?;
        self.advance(n);
        Ok(n)
    }

    /// Marks `n` more bytes of the spare space as filled.
    fn advance(&mut self, n: usize) {
        self.filled = self.filled.saturating_add(n).min(self.bytes.len());
    }

    /// The filled bytes, giving up the buffer (for a connection handed over
    /// to another protocol).
    pub(crate) fn into_filled(mut self) -> Vec<u8> {
        self.bytes.truncate(self.filled);
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_consumes_and_grows_without_losing_bytes() {
        let mut buf = ReadBuf::default();
        assert!(buf.is_empty());
        let spare = buf.spare();
        assert_eq!(spare.len(), MIN_SPARE);
        spare[..5].copy_from_slice(b"hello");
        buf.advance(5);
        assert_eq!(buf.filled(), b"hello");
        buf.consume(2);
        assert_eq!(buf.filled(), b"llo");
        // Fill past the first allocation: the buffer grows, keeping what is filled.
        let spare = buf.spare();
        let room = spare.len();
        spare.fill(b'x');
        buf.advance(room);
        assert_eq!(buf.filled().len(), 3 + room);
        assert!(buf.spare().len() >= MIN_SPARE);
        assert_eq!(&buf.filled()[..4], b"llox");
        buf.consume(usize::MAX);
        assert!(buf.is_empty());
        buf.advance(usize::MAX);
        assert_eq!(buf.filled().len(), buf.into_filled().len());
    }
}
