//! Local logging: tracing-subscriber's fmt layer, set from `--logLevel` and refined by
//! `RUST_LOG`.
//!
//! - `--logLevel none` prints nothing at all, not even errors, as in the Node version; no
//!   subscriber is installed, so `RUST_LOG` is ignored too and events cost nothing.
//! - `info` keeps every target at INFO; `debug` raises supergateway's own targets to DEBUG and
//!   leaves the dependencies at INFO (use `RUST_LOG=debug` for everything).
//! - `RUST_LOG` directives are applied on top of those: a directive for the same target
//!   replaces the level's (`RUST_LOG=warn` turns `info` down), new targets are added
//!   (`RUST_LOG=async_io=trace`). Invalid directives are reported once on stderr and skipped.
//! - Directives are `level` or `target=level` (tracing-subscriber's `Targets`), not
//!   `EnvFilter`'s span and field matchers: those need a regex engine, which cost the binary
//!   ~400 KB for a feature a gateway's operators do not use.
//! - Logs go to stderr in the stdio output modes, where stdout carries the protocol, and to
//!   stdout otherwise (the Node version's choice). ANSI colours only when that stream is a
//!   terminal.
//!
//! Nothing here logs configuration values; callers never pass secrets to `tracing`.

use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::LogLevel;

/// Sets up tracing-subscriber's fmt layer for the process (see the module doc). Calling it
/// twice keeps the first setup.
pub(crate) fn init_logging(level: LogLevel, to_stderr: bool) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let Some(directives) = directives(level, rust_log.as_deref()) else {
        return;
    };
    let filter = targets(&directives);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if to_stderr {
        let ansi = std::io::stderr().is_terminal();
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi);
        registry.with(fmt).try_init()
    } else {
        let ansi = std::io::stdout().is_terminal();
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stdout)
            .with_ansi(ansi);
        registry.with(fmt).try_init()
    };
    if let Err(error) = installed {
        eprintln!("supergateway: logging not set up: {error}");
    }
}

/// The filter for comma-separated directives; each invalid one is reported on stderr and
/// skipped, so one typo in `RUST_LOG` does not silence the rest.
fn targets(directives: &str) -> Targets {
    let valid: Vec<&str> = directives
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .filter(|directive| match directive.parse::<Targets>() {
            Ok(_) => true,
            Err(_) => {
                eprintln!("supergateway: ignoring invalid RUST_LOG directive {directive:?}");
                false
            }
        })
        .collect();
    valid.join(",").parse().unwrap_or_default()
}

/// The filter directives for a level and an optional `RUST_LOG` value; `None` when nothing
/// must be printed.
fn directives(level: LogLevel, rust_log: Option<&str>) -> Option<String> {
    let base = match level {
        LogLevel::None => return None,
        LogLevel::Info => "info",
        LogLevel::Debug => "info,supergateway=debug,supergateway_proto=debug",
    };
    Some(match rust_log.map(str::trim) {
        Some(extra) if !extra.is_empty() => format!("{base},{extra}"),
        _ => base.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_follow_level_then_rust_log() {
        let cases: &[(LogLevel, Option<&str>, Option<&str>)] = &[
            (LogLevel::None, None, None),
            (LogLevel::None, Some("debug"), None),
            (LogLevel::Info, None, Some("info")),
            (LogLevel::Info, Some(""), Some("info")),
            (LogLevel::Info, Some("  "), Some("info")),
            (LogLevel::Info, Some("warn"), Some("info,warn")),
            (
                LogLevel::Debug,
                None,
                Some("info,supergateway=debug,supergateway_proto=debug"),
            ),
            (
                LogLevel::Debug,
                Some("async_io=trace"),
                Some("info,supergateway=debug,supergateway_proto=debug,async_io=trace"),
            ),
        ];
        for &(level, rust_log, expected) in cases {
            assert_eq!(
                directives(level, rust_log).as_deref(),
                expected,
                "{level:?} {rust_log:?}"
            );
        }
    }

    #[test]
    fn rust_log_overrides_the_level_for_the_same_target() {
        let filter = |level, rust_log| {
            let directives = directives(level, rust_log).unwrap_or_default();
            let mut parts: Vec<String> = targets(&directives)
                .to_string()
                .split(',')
                .map(str::to_owned)
                .collect();
            parts.sort();
            parts.join(",")
        };
        assert_eq!(filter(LogLevel::Info, None), "info");
        assert_eq!(filter(LogLevel::Info, Some("warn")), "warn");
        assert_eq!(filter(LogLevel::Info, Some("x=trace")), "info,x=trace");
        assert_eq!(
            filter(LogLevel::Info, Some("x=loud,y=debug")),
            "info,y=debug"
        );
        assert_eq!(
            filter(LogLevel::Debug, Some("supergateway=trace,off")),
            "off,supergateway=trace,supergateway_proto=debug"
        );
    }
}
