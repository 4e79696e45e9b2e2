//! Showing the authorization URL to the user: always printed whole to
//! stderr ("Open this URL to authorise: URL", whatever the log level: a
//! headless or remote user opens it by hand), then handed to a browser:
//! `$BROWSER` when set, else `xdg-open` (`open` on macOS).
//!
//! `$BROWSER` follows the convention of Python's `webbrowser` and `sensible-
//! browser`: a `:`-separated list of commands tried in order, each split on
//! whitespace, `%s` replaced by the URL or the URL appended as the last
//! argument. No shell is involved. The browser gets the URL only (it holds
//! the PKCE challenge and the state, neither a secret on its own), stdin and
//! stdout closed — stdout is the bridge's MCP channel — and stderr shared.
//! Its exit status is collected in the background and only logged.

use std::process::Stdio;

use crate::rt;

/// Prints `url` to stderr and starts a browser on it; a browser that cannot
/// be started is a warning (the printed URL still works).
pub(crate) fn open(url: &str) {
    eprintln!("Open this URL to authorise: {url}");
    let browser = std::env::var("BROWSER").ok();
    for argv in commands(browser.as_deref(), cfg!(target_os = "macos"), url) {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        match smol::process::Command::from(command).spawn() {
            Ok(mut child) => {
                let program = program.clone();
                rt::spawn(async move {
                    match child.status().await {
                        Ok(status) if status.success() => {}
                        Ok(status) => tracing::debug!("oauth: {program} exited with {status}"),
                        Err(err) => tracing::debug!("oauth: waiting for {program}: {err}"),
                    }
                })
                .detach();
                return;
            }
            Err(err) => tracing::debug!("oauth: cannot start {program}: {err}"),
        }
    }
    tracing::warn!("oauth: could not start a browser; open the URL printed above");
}

/// The commands to try, in order, each as program and arguments.
fn commands(browser: Option<&str>, macos: bool, url: &str) -> Vec<Vec<String>> {
    let configured: Vec<Vec<String>> = browser
        .unwrap_or_default()
        .split(':')
        .filter_map(|entry| {
            let mut words: Vec<String> = entry.split_whitespace().map(str::to_owned).collect();
            if words.is_empty() {
                return None;
            }
            if words.iter().any(|word| word.contains("%s")) {
                for word in &mut words {
                    *word = word.replace("%s", url);
                }
            } else {
                words.push(url.to_owned());
            }
            Some(words)
        })
        .collect();
    if !configured.is_empty() {
        return configured;
    }
    let opener = if macos { "open" } else { "xdg-open" };
    vec![vec![opener.to_owned(), url.to_owned()]]
}

#[cfg(test)]
mod tests {
    use super::commands;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn browser_variable_forms() {
        let url = "http://as.test/authorize?state=a%20b&x=1";
        // (BROWSER, macOS?, the commands tried)
        type Case<'a> = (Option<&'a str>, bool, Vec<Vec<String>>);
        let cases: &[Case<'_>] = &[
            (None, false, vec![strings(&["xdg-open", url])]),
            (None, true, vec![strings(&["open", url])]),
            (Some(""), false, vec![strings(&["xdg-open", url])]),
            (Some(" : "), false, vec![strings(&["xdg-open", url])]),
            (
                Some("/opt/b/oauth-browser"),
                false,
                vec![strings(&["/opt/b/oauth-browser", url])],
            ),
            (
                Some("firefox --new-tab"),
                false,
                vec![strings(&["firefox", "--new-tab", url])],
            ),
            (
                Some("w3m %s -dump:lynx"),
                false,
                vec![strings(&["w3m", url, "-dump"]), strings(&["lynx", url])],
            ),
        ];
        for (browser, macos, want) in cases {
            assert_eq!(
                &commands(*browser, *macos, url),
                want,
                "BROWSER={browser:?}"
            );
        }
    }
}
