//! Bounded field readers over `serde_json` for the OAuth documents. Every
//! reader refuses a field of the wrong type (a document that says
//! `"issuer": 5` is not one we understand) and caps strings and lists.

use serde_json::{Map, Value};

use super::{Error, MAX_DOCUMENT_BYTES, MAX_LIST_ENTRIES, MAX_STRING_BYTES};

/// A JSON object document, at most [`MAX_DOCUMENT_BYTES`].
pub(crate) fn object(body: &[u8], what: &'static str) -> Result<Map<String, Value>, Error> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::TooLarge(what));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::Malformed(what)),
    }
}

/// The string member `key`, `None` when absent or `null`.
pub(crate) fn string(
    map: &Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<Option<String>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.len() > MAX_STRING_BYTES => Err(Error::TooLarge(what)),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Error::Malformed(what)),
    }
}

/// The string member `key`, which must be present and non-empty.
pub(crate) fn required(
    map: &Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<String, Error> {
    string(map, key, what)?
        .filter(|text| !text.is_empty())
        .ok_or(Error::Missing(what))
}

/// The array-of-strings member `key`, `None` when absent or `null`.
pub(crate) fn strings(
    map: &Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<Option<Vec<String>>, Error> {
    let list = match map.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Error::Malformed(what)),
    };
    if list.len() > MAX_LIST_ENTRIES {
        return Err(Error::TooLarge(what));
    }
    list.iter()
        .map(|entry| match entry {
            Value::String(text) if text.len() > MAX_STRING_BYTES => Err(Error::TooLarge(what)),
            Value::String(text) => Ok(text.clone()),
            _ => Err(Error::Malformed(what)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The boolean member `key`; absent or `null` is `false`.
pub(crate) fn flag(map: &Map<String, Value>, key: &str, what: &'static str) -> Result<bool, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(Error::Malformed(what)),
    }
}

/// The non-negative integer member `key`, `None` when absent or `null`.
/// A string of 1–19 ASCII digits is accepted too: some servers write
/// `"expires_in": "3600"`.
pub(crate) fn seconds(
    map: &Map<String, Value>,
    key: &str,
    what: &'static str,
) -> Result<Option<u64>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number.as_u64().map(Some).ok_or(Error::Malformed(what)),
        Some(Value::String(text))
            if (1..=19).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            text.parse::<u64>()
                .map(Some)
                .map_err(|_| Error::Malformed(what))
        }
        Some(_) => Err(Error::Malformed(what)),
    }
}
