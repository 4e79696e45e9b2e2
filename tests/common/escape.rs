//! The escape format of the request corpora (tests/corpus/README.md), shared
//! by tests/corpus.rs and tests/proxies.rs (included with `#[path]`).

/// A case file's bytes (the escape format of tests/corpus/README.md):
/// leading `#` lines are comments, line breaks are layout only, and every
/// byte that is not printable ASCII is written as an escape.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .collect();
    decode_until(body.as_bytes(), None).map(|(bytes, _)| bytes)
}

/// Decodes up to `end` (the `}` closing a repeat) or the end of input;
/// returns the bytes and the input left after the `end`.
fn decode_until(mut input: &[u8], end: Option<u8>) -> Result<(Vec<u8>, &[u8]), String> {
    let mut out = Vec::new();
    while let Some((&byte, rest)) = input.split_first() {
        input = rest;
        if Some(byte) == end {
            return Ok((out, input));
        }
        if !(b' '..=b'~').contains(&byte) {
            return Err(format!("raw byte {byte:#04x}: write it as an escape"));
        }
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let (&kind, rest) = input.split_first().ok_or("a lone '\\' at the end")?;
        input = rest;
        match kind {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'{' => out.push(b'{'),
            b'}' => out.push(b'}'),
            b'x' => {
                let hex = input.get(..2).ok_or("\\x needs two hex digits")?;
                let hex = std::str::from_utf8(hex).map_err(|_| "\\x needs two hex digits")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
                input = &input[2..];
            }
            b'*' => {
                let digits = input.iter().take_while(|b| b.is_ascii_digit()).count();
                let count: usize = std::str::from_utf8(&input[..digits])
                    .unwrap()
                    .parse()
                    .map_err(|_| "\\* needs a count")?;
                input = input[digits..]
                    .strip_prefix(b"{")
                    .ok_or("\\*N needs a '{' after the count")?;
                let (unit, rest) = decode_until(input, Some(b'}'))?;
                out.extend(std::iter::repeat_n(unit, count).flatten());
                input = rest;
            }
            other => return Err(format!("unknown escape \\{}", char::from(other))),
        }
    }
    if end.is_some() {
        return Err("unterminated \\*N{".into());
    }
    Ok((out, input))
}
