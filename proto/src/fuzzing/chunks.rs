//! The input-derived chunking every resumability check shares.

/// Splits `input` into chunks of 1–16 bytes, sizes taken from its own bytes.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub(super) fn fuzz_chunks(input: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let size = (usize::from(input[i % input.len()] % 16) + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        chunks.push(chunk);
        rest = tail;
        i += 1;
    }
    chunks
}
