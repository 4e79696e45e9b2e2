//! `docker/Dockerfile` checked without a container engine (none runs in CI):
//! its stages, user, entry point and environment are parsed from the file, and
//! its HEALTHCHECK command is run for real against the gateway.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::process::Command;

use common::{fixture, Gateway};

/// One instruction: its keyword and the rest of its (joined) lines.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of each stage, by stage name, in order.
fn stages() -> Vec<(String, Vec<Instruction>)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker/Dockerfile"))
        .expect("docker/Dockerfile exists");
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<(String, Vec<Instruction>)> = Vec::new();
    for line in joined {
        let (keyword, args) = line.split_once(' ').unwrap_or((&line, ""));
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_owned(),
        };
        if instruction.keyword == "FROM" {
            let words: Vec<&str> = instruction.args.split_whitespace().collect();
            assert_eq!(words.len(), 3, "FROM image AS name: {words:?}");
            assert!(words[1].eq_ignore_ascii_case("as"));
            stages.push((words[2].to_owned(), vec![instruction]));
        } else if let Some((_, stage)) = stages.last_mut() {
            stage.push(instruction);
        }
    }
    stages
}

fn last<'a>(stage: &'a [Instruction], keyword: &str) -> Option<&'a str> {
    stage
        .iter()
        .rev()
        .find(|i| i.keyword == keyword)
        .map(|i| i.args.as_str())
}

fn find<'a>(stages: &'a [(String, Vec<Instruction>)], name: &str) -> &'a [Instruction] {
    &stages
        .iter()
        .find(|(stage, _)| stage == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
        .1
}

/// A stage's instructions with those of the stage it starts `FROM` (when
/// that is a stage of this file) in front: what the image of that stage has.
fn resolved(stages: &[(String, Vec<Instruction>)], name: &str) -> Vec<Instruction> {
    let own = find(stages, name);
    let parent = own[0].args.split_whitespace().next().unwrap();
    let mut all = if stages.iter().any(|(stage, _)| stage == parent) {
        resolved(stages, parent)
    } else {
        Vec::new()
    };
    all.extend(own.iter().map(|i| Instruction {
        keyword: i.keyword.clone(),
        args: i.args.clone(),
    }));
    all
}

#[test]
fn the_image_builds_locked_and_runs_unprivileged_on_all_interfaces() {
    let stages = stages();
    let names: Vec<&str> = stages.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["builder", "base", "with-runtimes", "runtime"]);

    let builder = find(&stages, "builder");
    assert!(builder[0].args.starts_with("rust:"), "{:?}", builder[0]);
    let build = last(builder, "RUN").unwrap();
    assert!(build.contains("cargo build --release --locked"), "{build}");

    for name in ["runtime", "with-runtimes"] {
        let stage = resolved(&stages, name);
        // The user a final stage ends with is not root.
        let user = last(&stage, "USER").unwrap_or("root");
        assert!(
            !["root", "0", "0:0"].contains(&user),
            "{name} runs as {user}"
        );
        assert_eq!(
            last(&stage, "ENTRYPOINT"),
            Some(r#"["supergateway"]"#),
            "{name}"
        );
        assert_eq!(last(&stage, "EXPOSE"), Some("8000"), "{name}");
        let env = last(&stage, "ENV").unwrap();
        assert!(env.contains("SUPERGATEWAY_HOST=0.0.0.0"), "{name}: {env}");
        assert!(last(&stage, "HEALTHCHECK").is_some(), "{name}");
    }
    let base = find(&stages, "base");
    assert!(base[0].args.starts_with("debian:"), "{:?}", base[0]);
    assert!(base[0].args.contains("-slim"), "{:?}", base[0]);
    let copy = last(base, "COPY").unwrap();
    assert!(copy.starts_with("--from=builder "), "{copy}");

    // `docker build` without `--target` builds the last stage: it must be
    // the slim one, the binary on `base` and nothing installed on top.
    let (default, slim) = stages.last().unwrap();
    assert_eq!(default, "runtime");
    assert_eq!(slim[0].args, "base AS runtime");
    for instruction in slim {
        assert!(
            !["RUN", "COPY", "ADD"].contains(&instruction.keyword.as_str()),
            "the default image adds to base: {instruction:?}"
        );
    }

    let runtimes = find(&stages, "with-runtimes");
    assert_eq!(runtimes[0].args, "base AS with-runtimes");
    let install = last(runtimes, "RUN").unwrap();
    for tool in ["nodejs", "npm", "python3", "uv"] {
        assert!(
            install.contains(tool),
            "with-runtimes lacks {tool}: {install}"
        );
    }

    let ignore =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.dockerignore")).unwrap();
    assert!(ignore.lines().any(|line| line.trim() == "target/"));
    // `--locked` needs the lock file in the build context.
    assert!(!ignore.lines().any(|line| line.trim() == "Cargo.lock"));
}

/// The HEALTHCHECK command of the runtime stage (an exec-form JSON array).
fn healthcheck_command() -> Vec<String> {
    let stages = stages();
    let check = last(&resolved(&stages, "runtime"), "HEALTHCHECK")
        .unwrap()
        .to_owned();
    let json = &check[check.find("CMD [").expect("exec-form CMD") + 4..];
    serde_json::from_str(json).expect("a JSON array")
}

fn run_healthcheck(url: &str) -> bool {
    let command = healthcheck_command();
    Command::new(&command[0])
        .args(&command[1..])
        .env("SUPERGATEWAY_HEALTH_URL", url)
        .status()
        .unwrap()
        .success()
}

#[test]
fn the_healthcheck_command_reads_the_health_endpoint() {
    let gw = Gateway::start(&["--stdio", &fixture(), "--healthEndpoint", "/healthz"]);
    let port = gw.addr.port();
    assert!(run_healthcheck(&format!("http://127.0.0.1:{port}/healthz")));
    // Another path answers 404: unhealthy. Nothing listening: unhealthy.
    assert!(!run_healthcheck(&format!("http://127.0.0.1:{port}/other")));
    drop(gw);
    assert!(!run_healthcheck(&format!(
        "http://127.0.0.1:{port}/healthz"
    )));
}
