//! Replays the committed fuzz seed corpus (`fuzz/corpus/<target>/*`) through
//! the same `supergateway_proto::fuzzing` entry points the cargo-fuzz targets
//! call, as ordinary tests on the stable toolchain (STYLE.md item 18).
//!
//! Run with `cargo test -p supergateway-proto --features fuzzing --test
//! fuzz_corpus` (`cargo test --workspace` turns the feature on).
//!
//! Each target's folder must exist and hold at least one file, so a renamed
//! or emptied corpus fails here instead of silently testing nothing.
#![forbid(unsafe_code)]
// Test code: failing loudly is the point (clippy.toml allows these lints in
// #[test] functions only, not in the helper below).
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Calls `harness` on every file of `fuzz/corpus/<target>/`, in name order,
/// naming the file if the harness panics. Panics if the folder is missing or
/// holds no file.
fn replay(target: &str, harness: fn(&[u8])) {
    let dir = corpus_dir(target);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} unreadable: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("corpus folder entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus folder {} is empty",
        dir.display()
    );
    for path in &files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| harness(&data));
        assert!(
            outcome.is_ok(),
            "fuzz harness `{target}` failed on {}",
            path.display()
        );
    }
}

#[test]
fn parse_head() {
    replay("parse_head", supergateway_proto::fuzzing::parse_head);
}

#[test]
fn chunked_decode() {
    replay(
        "chunked_decode",
        supergateway_proto::fuzzing::chunked_decode,
    );
}

#[test]
fn content_length() {
    replay(
        "content_length",
        supergateway_proto::fuzzing::content_length,
    );
}

#[test]
fn sse_decode() {
    replay("sse_decode", supergateway_proto::fuzzing::sse_decode);
}

#[test]
fn line_decode() {
    replay("line_decode", supergateway_proto::fuzzing::line_decode);
}

#[test]
fn parse_message() {
    replay("parse_message", supergateway_proto::fuzzing::parse_message);
}

#[test]
fn parse_response_head() {
    replay(
        "parse_response_head",
        supergateway_proto::fuzzing::parse_response_head,
    );
}

#[test]
fn url_parse() {
    replay("url_parse", supergateway_proto::fuzzing::url_parse);
}

#[test]
fn mux_sequence() {
    replay("mux_sequence", supergateway_proto::fuzzing::mux_sequence);
}

#[test]
fn relay_sequence() {
    replay(
        "relay_sequence",
        supergateway_proto::fuzzing::relay_sequence,
    );
}

#[test]
fn traceparent() {
    replay("traceparent", supergateway_proto::fuzzing::traceparent);
}

#[test]
fn header_value() {
    replay("header_value", supergateway_proto::fuzzing::header_value);
}

#[test]
fn canonical() {
    replay("canonical", supergateway_proto::fuzzing::canonical);
}

#[test]
fn oauth_documents() {
    replay(
        "oauth_documents",
        supergateway_proto::fuzzing::oauth_documents,
    );
}

#[test]
fn jwt() {
    replay("jwt", supergateway_proto::fuzzing::jwt);
}

#[test]
fn request_state() {
    replay("request_state", supergateway_proto::fuzzing::request_state);
}

#[test]
fn x509_subject() {
    replay("x509_subject", supergateway_proto::fuzzing::x509_subject);
}

#[test]
fn mcp_config() {
    replay("mcp_config", supergateway_proto::fuzzing::mcp_config);
}

/// Every fuzz target (fuzz/fuzz_targets/*.rs) has a corpus folder and a test
/// above, and every corpus folder belongs to a target.
#[test]
fn every_target_has_a_corpus() {
    const TARGETS: [&str; 18] = [
        "canonical",
        "chunked_decode",
        "content_length",
        "header_value",
        "jwt",
        "line_decode",
        "mcp_config",
        "mux_sequence",
        "oauth_documents",
        "parse_head",
        "parse_message",
        "parse_response_head",
        "relay_sequence",
        "request_state",
        "sse_decode",
        "traceparent",
        "url_parse",
        "x509_subject",
    ];
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let names = |dir: &Path, suffix: &str| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{} unreadable: {e}", dir.display()))
            .map(|entry| entry.expect("folder entry").file_name())
            .filter_map(|name| name.to_str()?.strip_suffix(suffix).map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&fuzz.join("fuzz_targets"), ".rs"), TARGETS);
    assert_eq!(names(&fuzz.join("corpus"), ""), TARGETS);
}
