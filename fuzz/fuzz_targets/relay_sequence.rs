//! Fuzz target `relay_sequence`: see `supergateway_proto::fuzzing::relay_sequence` for the
//! operations it decodes and the invariants it asserts. Replayed on stable by
//! proto/tests/fuzz_corpus.rs.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supergateway_proto::fuzzing::relay_sequence(data);
});
