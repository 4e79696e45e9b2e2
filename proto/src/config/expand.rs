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
pub(super) fn expand(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    path: &Path,
    max_bytes: usize,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, from_dollar) = rest.split_at(start);
        out.push_str(before);
        let inner_and_after = from_dollar.get(2..).unwrap_or_default();
        let Some(close) = inner_and_after.find('}') else {
            // No closing brace: literal to the end.
            out.push_str(from_dollar);
            rest = "";
            break;
        };
        let (inner, after_close) = inner_and_after.split_at(close);
        rest = after_close.get(1..).unwrap_or_default();
        if let Some(name) = inner.strip_prefix("env:") {
            if !is_variable_name(name) {
                return Err(ConfigError::new(path, Reason::VariableName));
            }
            let Some(value) = env(name) else {
                return Err(ConfigError::new(path, Reason::Unset(name.to_owned())));
            };
            out.push_str(&value);
        } else if let Some(refused) = editor_variable(inner) {
            return Err(ConfigError::new(path, refused));
        } else {
            // Literal `${`: scanning resumes right after it, so a
            // `${env:NAME}` inside (`${HOME:-${env:B}}`) is still expanded.
            out.push_str("${");
            rest = inner_and_after;
        }
        if out.len() > max_bytes {
            return Err(ConfigError::new(path, Reason::TooLong(max_bytes)));
        }
    }
    out.push_str(rest);
    if out.len() > max_bytes {
        return Err(ConfigError::new(path, Reason::TooLong(max_bytes)));
    }
    Ok(out)
}

/// The refusal for an editor-only variable, `None` for literal text.
fn editor_variable(inner: &str) -> Option<Reason> {
    if inner.starts_with("input:") {
        return Some(Reason::Input);
    }
    let head = inner.split_once(':').map_or(inner, |(head, _)| head);
    EDITOR_PREFIXES
        .iter()
        .chain(EDITOR_VARIABLES.iter())
        .find(|known| **known == head)
        .map(|known| Reason::EditorVariable(known))
}

fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
