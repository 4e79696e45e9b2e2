//! A JSON tree that keeps object members in file order and refuses a
//! duplicate key, with the JSON path of the object that repeats it.
//!
//! `serde_json::Value` keeps the last of two equal keys, so a config with
//! two `"files"` servers would silently lose one. The document is first
//! checked by serde_json (syntax, escapes, UTF-8, its 128-level recursion
//! limit), then walked here: this walker only has to find the spans of
//! strings and numbers, and hands each span back to serde_json to decode, so
//! the two never disagree on what a string says.

use std::collections::HashSet;

use serde_json::Number;

use super::{ConfigError, Path, Reason};

/// Deepest nesting accepted. The deepest legal config is five levels
/// (`mcp.servers.NAME.supergateway.tools.allow[i]`); serde_json stops at 128.
const MAX_DEPTH: usize = 32;

/// One JSON value. Objects keep their members in file order.
#[derive(Debug)]
pub(super) enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Self>),
    Object(Vec<(String, Self)>),
}

/// Parses `bytes` into a tree, refusing malformed JSON, nesting deeper than
/// [`MAX_DEPTH`] and any object with a repeated key.
pub(super) fn parse(bytes: &[u8]) -> Result<Json, ConfigError> {
    if let Err(error) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let reason = if error.is_eof() {
            Reason::Truncated
        } else {
            Reason::Json {
                line: error.line(),
                column: error.column(),
            }
        };
        return Err(ConfigError::new(&Path::root(), reason));
    }
    let mut walker = Walker { bytes, at: 0 };
    let mut path = Path::root();
    walker.value(&mut path, 0)
}

/// Cursor over a document serde_json has already accepted. Every
/// "impossible" turn still returns an error instead of panicking.
struct Walker<'a> {
    bytes: &'a [u8],
    /// Index of the next unread byte; never past `bytes.len()`.
    at: usize,
}

impl Walker<'_> {
    fn value(&mut self, path: &mut Path, depth: usize) -> Result<Json, ConfigError> {
        if depth > MAX_DEPTH {
            return Err(ConfigError::new(path, Reason::Depth));
        }
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.object(path, depth),
            Some(b'[') => self.array(path, depth),
            Some(b'"') => Ok(Json::String(self.string(path)?)),
            Some(b't') => self.literal(b"true", Json::Bool(true), path),
            Some(b'f') => self.literal(b"false", Json::Bool(false), path),
            Some(b'n') => self.literal(b"null", Json::Null, path),
            Some(_) => self.number(path),
            None => Err(internal(path)),
        }
    }

    fn object(&mut self, path: &mut Path, depth: usize) -> Result<Json, ConfigError> {
        self.bump();
        let mut members: Vec<(String, Json)> = Vec::new();
        // A set, not a scan of `members`: a 1 MiB object of short keys
        // would make the scan quadratic.
        let mut keys: HashSet<String> = HashSet::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.bump();
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_space();
            let key = self.string(path)?;
            path.push_key(&key);
            if !keys.insert(key.clone()) {
                return Err(ConfigError::new(path, Reason::Duplicate));
            }
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(internal(path));
            }
            self.bump();
            let value = self.value(path, depth.saturating_add(1))?;
            path.pop();
            members.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return Ok(Json::Object(members));
                }
                _ => return Err(internal(path)),
            }
        }
    }

    fn array(&mut self, path: &mut Path, depth: usize) -> Result<Json, ConfigError> {
        self.bump();
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.bump();
            return Ok(Json::Array(items));
        }
        loop {
            path.push_index(items.len());
            let item = self.value(path, depth.saturating_add(1))?;
            path.pop();
            items.push(item);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return Ok(Json::Array(items));
                }
                _ => return Err(internal(path)),
            }
        }
    }

    /// A string token: its span (opening quote to closing quote, escapes
    /// skipped) decoded by serde_json.
    fn string(&mut self, path: &Path) -> Result<String, ConfigError> {
        let start = self.at;
        if self.peek() != Some(b'"') {
            return Err(internal(path));
        }
        self.bump();
        loop {
            match self.peek() {
                Some(b'\\') => {
                    self.bump();
                    self.bump();
                }
                Some(b'"') => {
                    self.bump();
                    break;
                }
                Some(_) => self.bump(),
                None => return Err(internal(path)),
            }
        }
        let span = self
            .bytes
            .get(start..self.at)
            .ok_or_else(|| internal(path))?;
        serde_json::from_slice(span).map_err(|_| internal(path))
    }

    fn number(&mut self, path: &Path) -> Result<Json, ConfigError> {
        let start = self.at;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.bump();
        }
        let span = self
            .bytes
            .get(start..self.at)
            .ok_or_else(|| internal(path))?;
        serde_json::from_slice(span)
            .map(Json::Number)
            .map_err(|_| internal(path))
    }

    fn literal(&mut self, word: &[u8], value: Json, path: &Path) -> Result<Json, ConfigError> {
        let end = self.at.saturating_add(word.len());
        if self.bytes.get(self.at..end) != Some(word) {
            return Err(internal(path));
        }
        self.at = end;
        Ok(value)
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Moves past one byte, never beyond the end.
    fn bump(&mut self) {
        if self.at < self.bytes.len() {
            self.at = self.at.saturating_add(1);
        }
    }
}

fn internal(path: &Path) -> ConfigError {
    ConfigError::new(path, Reason::Internal("JSON walker lost its place"))
}
