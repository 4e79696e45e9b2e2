//! Fuzz target `header_value`: see `supergateway_proto::fuzzing::header_value` for the
//! properties it asserts. Replayed on stable by proto/tests/fuzz_corpus.rs.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supergateway_proto::fuzzing::header_value(data);
});
