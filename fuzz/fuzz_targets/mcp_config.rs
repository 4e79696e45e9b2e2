//! Fuzz target `mcp_config`: see `supergateway_proto::fuzzing::mcp_config` for the
//! properties it asserts. Replayed on stable by proto/tests/fuzz_corpus.rs.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supergateway_proto::fuzzing::mcp_config(data);
});
