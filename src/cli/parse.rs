//! The argv scanner: the spellings yargs accepts (see the `cli` module doc), looked up in the
//! flag table, into [`Raw`] strings per flag. Values are checked later, in `validate.rs`.

use super::flags::{self, Flag, Kind};

/// The outcome of [`scan`].
#[derive(Default)]
pub(super) struct Scan {
    pub(super) raw: Raw,
    /// `--help` or `-h` was given.
    pub(super) help: bool,
    /// `--version` was given.
    pub(super) version: bool,
    /// The first error met; scanning goes on so that a later `--help` still wins.
    pub(super) error: Option<String>,
}

/// Each flag's values as given (strings), in command-line order.
#[derive(Default)]
pub(super) struct Raw {
    /// Values of the value-taking flags, by flag name; a bare `--cors` gives `*`. A
    /// single-valued flag has at most one (a second one is a scan error).
    values: Vec<(&'static str, String)>,
    /// Each switch given, by flag name, with its last value.
    switches: Vec<(&'static str, bool)>,
}

impl Raw {
    /// The (first) value given for `flag`.
    pub(super) fn value(&self, flag: &Flag) -> Option<&str> {
        self.values(flag).next()
    }

    /// The value given for `flag`, else its default from the table; "" when it has neither
    /// (callers only ask this of flags with a default).
    pub(super) fn value_or_default(&self, flag: &Flag) -> &str {
        self.value(flag)
            .or_else(|| flag.default.value())
            .unwrap_or_default()
    }

    /// Every value given for `flag`, in order.
    pub(super) fn values<'a>(&'a self, flag: &Flag) -> impl Iterator<Item = &'a str> + 'a {
        let wanted = flag.name;
        self.values
            .iter()
            .filter(move |(name, _)| *name == wanted)
            .map(|(_, value)| value.as_str())
    }

    /// A switch's last value; false when not given.
    pub(super) fn switch(&self, flag: &Flag) -> bool {
        self.switches
            .iter()
            .any(|&(name, value)| name == flag.name && value)
    }

    /// Whether `flag` was given in a way that asks for something: a value, or a switch
    /// left on (`--no-stateful` asks for nothing).
    pub(super) fn given(&self, flag: &Flag) -> bool {
        match flag.kind {
            Kind::Switch => self.switch(flag),
            _ => self.value(flag).is_some(),
        }
    }
}

/// Reads the user's argv (see the `cli` module doc for the rules).
pub(super) fn scan(args: &[String]) -> Scan {
    let mut out = Scan::default();
    let mut singles: Vec<&'static str> = Vec::new();
    // The value flag whose value was the previous argument, for the "quote it" hints.
    let mut after: Option<&'static Flag> = None;
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        let previous = after.take();
        let after_secret = previous.filter(|flag| flag.secret);
        let hint = match previous {
            Some(flag) if flag.name == flags::STDIO.name => STDIO_QUOTE_HINT,
            _ => SEE_HELP,
        };
        if arg == flags::SHORT_HELP {
            out.help = true;
            continue;
        }
        let Some(body) = arg.strip_prefix("--") else {
            if looks_like_flag(arg) {
                fail(&mut out, format!("unknown flag {arg}{hint}"));
            } else if let Some(secret) = after_secret {
                // Most likely the rest of an unquoted credential: do not echo it.
                fail(
                    &mut out,
                    format!("unexpected argument after {secret}{SECRET_QUOTE_HINT}"),
                );
            } else {
                fail(&mut out, format!("unexpected argument {arg:?}{hint}"));
            }
            continue;
        };
        if body.is_empty() {
            fail(&mut out, format!("unexpected argument \"--\"{hint}"));
            continue;
        }
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let (flag, negated) = match flags::lookup(name) {
            Some(flag) => (flag, false),
            None => match name.strip_prefix("no-").and_then(flags::lookup) {
                Some(flag) if flag.kind == Kind::Switch => (flag, true),
                _ => {
                    fail(&mut out, unknown_flag(name, hint));
                    continue;
                }
            },
        };
        match flag.kind {
            Kind::Help | Kind::Version => {
                if inline.is_some() {
                    fail(&mut out, format!("{flag} takes no value"));
                } else if flag.kind == Kind::Help {
                    out.help = true;
                } else {
                    out.version = true;
                }
            }
            Kind::Switch => {
                let value = if negated {
                    if inline.is_some() {
                        fail(&mut out, format!("--no-{} takes no value", flag.name));
                        continue;
                    }
                    false
                } else if let Some(value) = inline {
                    match parse_bool(value) {
                        Some(value) => value,
                        None => {
                            fail(
                                &mut out,
                                format!("{flag} expects true or false, got {value:?}"),
                            );
                            continue;
                        }
                    }
                } else if let Some(value) = rest.peek().and_then(|next| parse_bool(next)) {
                    rest.next();
                    value
                } else {
                    true
                };
                let switches = &mut out.raw.switches;
                match switches.iter_mut().find(|(name, _)| *name == flag.name) {
                    Some(slot) => slot.1 = value,
                    None => switches.push((flag.name, value)),
                }
            }
            Kind::Cors => {
                let values = &mut out.raw.values;
                let before = values.len();
                if let Some(value) = inline {
                    values.push((flag.name, value.to_owned()));
                } else {
                    while let Some(value) = rest.next_if(|next| !looks_like_flag(next)) {
                        values.push((flag.name, value.clone()));
                    }
                }
                if values.len() == before {
                    values.push((flag.name, ANY_ORIGIN.to_owned()));
                }
            }
            Kind::Repeated | Kind::Single => {
                if flag.kind == Kind::Single {
                    if singles.contains(&flag.name) {
                        fail(&mut out, format!("{flag} given more than once"));
                    }
                    singles.push(flag.name);
                }
                let value = match inline {
                    Some(value) => value.to_owned(),
                    None => match rest.next_if(|next| !looks_like_flag(next)) {
                        Some(value) => value.clone(),
                        None => {
                            fail(&mut out, format!("{flag} needs a value"));
                            continue;
                        }
                    },
                };
                after = Some(flag);
                out.raw.values.push((flag.name, value));
            }
        }
    }
    out
}

/// Records the first error only.
fn fail(out: &mut Scan, message: String) {
    out.error.get_or_insert(message);
}

/// "unknown flag --x", with a suggestion when only case or dashes differ.
fn unknown_flag(name: &str, hint: &str) -> String {
    let fold = |s: &str| {
        s.chars()
            .filter(|&c| c != '-')
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let folded = fold(name);
    // `--version` and `--help` are not offered: `--Help` was never a spelling of them.
    let suggestion = flags::FLAGS
        .iter()
        .find(|flag| !matches!(flag.kind, Kind::Help | Kind::Version) && fold(flag.name) == folded);
    match suggestion {
        Some(flag) => format!("unknown flag --{name} (did you mean {flag}?)"),
        None => format!("unknown flag --{name}{hint}"),
    }
}

/// `--x` or `-x` with `x` a letter: a flag rather than a value (`-1` and `-` are values).
fn looks_like_flag(arg: &str) -> bool {
    let mut chars = arg.chars();
    chars.next() == Some('-')
        && chars
            .next()
            .is_some_and(|c| c == '-' || c.is_ascii_alphabetic())
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// What a bare `--cors` stands for: any origin.
pub(super) const ANY_ORIGIN: &str = "*";
const SEE_HELP: &str = " (see --help)";
const SECRET_QUOTE_HINT: &str = " (quote values that contain spaces: --header \"Name: value\")";
const STDIO_QUOTE_HINT: &str =
    " (quote the whole --stdio command: --stdio \"npx -y some-server --its-flag\")";
