//! Which environment variables a runtime update may not set.
//!
//! A runtime update's `env` goes into the child's environment. Some names
//! there are code, not configuration: they change how the dynamic loader,
//! the shell, an interpreter or a package runner (`npx`, `uvx`, `pip`,
//! `docker`, `go run`, ...) starts, or where it fetches the code it runs
//! (`LD_PRELOAD` loads a library into every process, `PATH` chooses the
//! programs, `NODE_OPTIONS=--require`, `PYTHONPATH`, `npm_config_registry`,
//! `HOME` with a planted `usercustomize.py` or `.npmrc`, ...). Whoever can
//! reach the admin API or the prompt would then run code as the gateway's
//! user. Those names are refused unless the operator names them in
//! `--runtimeAllowEnv`.
//!
//! Matching ignores ASCII case although Unix names are case-sensitive:
//! several readers of these variables do not care about case (npm reads
//! `npm_config_*` and `NPM_CONFIG_*`, curl, pip and Go read `http_proxy`
//! and `HTTP_PROXY`, Node and Python on Windows-derived code paths fold
//! case), a list that spells one case is a list with holes, and no
//! legitimate server needs a variable called `ld_preload` or `Path`. The
//! allow list, by contrast, is exact: it names the one variable meant.
//!
//! The list is documented in README ("Runtime args injection") and
//! SECURITY.md; `the_documented_list_is_the_list` keeps README in step.

/// Names refused whatever their case.
pub(crate) const DENIED_NAMES: &[&str] = &[
    // The shell (`/bin/sh -c` runs every child) and the programs it finds.
    "PATH",
    "IFS",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "GLOBIGNORE",
    "CDPATH",
    "ZDOTDIR",
    "SHELL",
    // Where per-user configuration and startup code is read from
    // (`.npmrc`, `pip.conf`, Python's `usercustomize`, caches of fetched
    // packages) and where fetched code is unpacked before it runs.
    "HOME",
    "TMPDIR",
    "TMP",
    "TEMP",
    // The C library: character-set and locale modules it loads, resolver
    // and allocator behaviour, tunables (CVE-2023-4911).
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "RES_OPTIONS",
    "LOCALDOMAIN",
    // Node.
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_REPL_EXTERNAL_MODULE",
    // Python.
    "VIRTUAL_ENV",
    // The JVM.
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "JAVA_OPTS",
    "JAVA_HOME",
    "CLASSPATH",
    // Go (`go run pkg@version` fetches and builds).
    "GOFLAGS",
    "GOPROXY",
    "GOSUMDB",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GOINSECURE",
    "GOPRIVATE",
    "GONOPROXY",
    "GOTOOLCHAIN",
    "GOENV",
    "GOPATH",
    "GOROOT",
    "GOMODCACHE",
    "GOBIN",
    // Rust.
    "RUSTC",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    // Compilers and build flags (native modules are built on install).
    "CC",
    "CXX",
    "CPP",
    "LD",
    "AR",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "MAKEFLAGS",
    // Which certificates fetches trust, and the way they go.
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

/// Prefixes refused whatever their case (`LD_` covers `LD_PRELOAD`,
/// `LD_LIBRARY_PATH`, `LD_AUDIT`, ...).
pub(crate) const DENIED_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "BASH_",
    "MALLOC_",
    "NPM_CONFIG_",
    "YARN_",
    "PNPM_",
    "COREPACK_",
    "BUN_",
    "DENO_",
    "PYTHON",
    "PIP_",
    "PIPX_",
    "UV_",
    "CONDA_",
    "PERL",
    "RUBY",
    "GEM_",
    "BUNDLE_",
    "CARGO_",
    "RUSTC_",
    "RUSTUP_",
    "GIT_",
    "DOCKER_",
    "XDG_",
    "OPENSSL_",
];

/// Why `name` may not be set by a runtime update, or `None` when it may:
/// it is on the lists (any case) and not in `allowed` (exact names).
pub(crate) fn refusal(name: &str, allowed: &[String]) -> Option<String> {
    if allowed.iter().any(|allow| allow == name) {
        return None;
    }
    let rule = if let Some(exact) = DENIED_NAMES
        .iter()
        .find(|denied| denied.eq_ignore_ascii_case(name))
    {
        (*exact).to_owned()
    } else {
        let prefix = DENIED_PREFIXES.iter().find(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        })?;
        format!("{prefix}*")
    };
    Some(format!(
        "refused: it can change how the child's loader, shell, interpreter or package runner \
         starts or where it fetches code (rule {rule}, any case); start the gateway with \
         --runtimeAllowEnv {name} to allow it"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_changing_names_are_refused_in_any_case() {
        let none: &[String] = &[];
        for name in [
            "LD_PRELOAD",
            "ld_preload",
            "Ld_Audit",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "PATH",
            "Path",
            "path",
            "IFS",
            "ENV",
            "BASH_ENV",
            "BASH_FUNC_x",
            "SHELLOPTS",
            "BASHOPTS",
            "PS4",
            "PROMPT_COMMAND",
            "GLOBIGNORE",
            "CDPATH",
            "NODE_OPTIONS",
            "NODE_PATH",
            "npm_config_registry",
            "NPM_CONFIG_USERCONFIG",
            "Npm_Config_x",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "pythonhome",
            "PIP_INDEX_URL",
            "UV_INDEX_URL",
            "VIRTUAL_ENV",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "CLASSPATH",
            "RUBYOPT",
            "RUBYLIB",
            "GEM_HOME",
            "BUNDLE_GEMFILE",
            "PERL5OPT",
            "PERL5LIB",
            "PERLLIB",
            "GCONV_PATH",
            "LOCPATH",
            "MALLOC_CHECK_",
            "GLIBC_TUNABLES",
            "HOSTALIASES",
            "RES_OPTIONS",
            "NLSPATH",
            "TMPDIR",
            "HOME",
            "XDG_CONFIG_HOME",
            "GIT_SSH_COMMAND",
            "OPENSSL_CONF",
            "https_proxy",
        ] {
            let why = refusal(name, none);
            assert!(why.is_some(), "{name} must be refused");
            let why = why.unwrap_or_default();
            assert!(why.contains(&format!("--runtimeAllowEnv {name}")), "{why}");
        }
    }

    #[test]
    fn ordinary_names_pass() {
        let none: &[String] = &[];
        for name in [
            "API_TOKEN",
            "GITHUB_TOKEN",
            "GOOGLE_API_KEY",
            "NODE_ENV",
            "LANG",
            "TZ",
            "SG_ENV",
            "_x1",
            "MY_PATH",
            "ENVIRONMENT",
            "PAT",
        ] {
            assert_eq!(refusal(name, none), None, "{name}");
        }
    }

    #[test]
    fn the_allow_list_is_exact() {
        let allowed = vec!["PATH".to_owned(), "LD_PRELOAD".to_owned()];
        assert_eq!(refusal("PATH", &allowed), None);
        assert_eq!(refusal("LD_PRELOAD", &allowed), None);
        assert!(refusal("path", &allowed).is_some());
        assert!(refusal("LD_AUDIT", &allowed).is_some());
    }

    #[test]
    fn the_documented_list_is_the_list() {
        let readme = include_str!("../README.md");
        let security = include_str!("../SECURITY.md");
        for name in DENIED_NAMES {
            let shown = format!("`{name}`");
            assert!(readme.contains(&shown), "README lacks {shown}");
        }
        for prefix in DENIED_PREFIXES {
            let shown = format!("`{prefix}*`");
            assert!(readme.contains(&shown), "README lacks {shown}");
        }
        assert!(security.contains("--runtimeAllowEnv"));
    }
}
