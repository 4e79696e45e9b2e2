//! `${env:NAME}` expansion, VS Code's syntax (Cursor uses the same).
//!
//! - `${env:NAME}` is replaced by the variable's value; `NAME` is
//!   `[A-Za-z_][A-Za-z0-9_]*` and an unset variable is an error naming the
//!   JSON path. The value is inserted as is and never scanned again, so a
//!   value holding `${env:OTHER}` stays literal (no recursive expansion).
//! - `${input:…}` (a VS Code prompt), `${config:…}`, `${command:…}` and
//!   VS Code's predefined variables (`${workspaceFolder}`, `${userHome}`, …)
//!   need the editor: refused with a one-line error, rather than passed to
//!   the child as a literal path it cannot use.
//! - Anything else is literal: a lone `$`, `$$`, `${HOME}` in a
//!   `sh -c` script, `${` without a closing brace. VS Code defines no escape
//!   for `${`, so neither do we. Every `${env:NAME}` is expanded wherever it
//!   stands, also inside such literal text (`${HOME:-${env:B}}`).

use super::{ConfigError, Path, Reason};

/// VS Code's predefined variables (its "Variables reference"), refused
/// because only the editor knows their values.
const EDITOR_VARIABLES: [&str; 20] = [
    "userHome",
    "workspaceFolder",
    "workspaceFolderBasename",
    "workspaceRoot",
    "workspaceRootFolderName",
    "file",
    "fileWorkspaceFolder",
    "relativeFile",
    "relativeFileDirname",
    "fileBasename",
    "fileBasenameNoExtension",
    "fileExtname",
    "fileDirname",
    "fileDirnameBasename",
    "cwd",
    "lineNumber",
    "selectedText",
    "execPath",
    "pathSeparator",
    "defaultBuildTask",
];

/// Prefixed VS Code variables other than `env:`, refused like the above.
const EDITOR_PREFIXES: [&str; 3] = ["input", "config", "command"];

/// Expands `text` (the value at `path`), refusing a result longer than
/// `max_bytes`.
///
/// Linear in `text`: the position only moves forward, and the closing brace
/// found for one `${` is reused by the next while it still lies ahead, so
/// `${${${…}` does not rescan the tail once per `${`.
pub(super) fn expand(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    path: &Path,
    max_bytes: usize,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len().min(max_bytes));
    // Invariant: `at` and every index below are char boundaries of `text`
    // (they sit at or right after an ASCII `$`, `{` or `}`).
    let mut at = 0;
    let mut next_close: Option<usize> = None;
    while let Some(start) = find_from(text, at, "${") {
        out.push_str(text.get(at..start).unwrap_or_default());
        let inner_start = start.saturating_add(2);
        let close = match next_close {
            Some(close) if close >= inner_start => Some(close),
            _ => find_from(text, inner_start, "}"),
        };
        next_close = close;
        let Some(close) = close else {
            // No closing brace anywhere after: literal to the end.
            break;
        };
        let inner = text.get(inner_start..close).unwrap_or_default();
        if let Some(name) = inner.strip_prefix("env:") {
            if !is_variable_name(name) {
                return Err(ConfigError::new(path, Reason::VariableName));
            }
            let Some(value) = env(name) else {
                return Err(ConfigError::new(path, Reason::Unset(name.to_owned())));
            };
            out.push_str(&value);
            at = close.saturating_add(1);
        } else if let Some(refused) = editor_variable(inner) {
            return Err(ConfigError::new(path, refused));
        } else {
            // Literal `${`: scanning resumes right after it, so a
            // `${env:NAME}` inside (`${HOME:-${env:B}}`) is still expanded.
            out.push_str("${");
            at = inner_start;
        }
        if out.len() > max_bytes {
            return Err(ConfigError::new(path, Reason::TooLong(max_bytes)));
        }
    }
    out.push_str(text.get(at..).unwrap_or_default());
    if out.len() > max_bytes {
        return Err(ConfigError::new(path, Reason::TooLong(max_bytes)));
    }
    Ok(out)
}

/// The index of the first `needle` at or after `from`.
fn find_from(text: &str, from: usize, needle: &str) -> Option<usize> {
    let found = text.get(from..)?.find(needle)?;
    from.checked_add(found)
}

/// The refusal for an editor-only variable, `None` for literal text. Looks
/// only at the start of `inner`, so the cost does not grow with its length.
fn editor_variable(inner: &str) -> Option<Reason> {
    if inner.starts_with("input:") {
        return Some(Reason::Input);
    }
    EDITOR_PREFIXES
        .iter()
        .chain(EDITOR_VARIABLES.iter())
        .find(|known| {
            inner
                .strip_prefix(**known)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
        })
        .map(|known| Reason::EditorVariable(known))
}

fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
