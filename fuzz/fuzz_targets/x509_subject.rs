//! Fuzz target `x509_subject`: see `supergateway_proto::fuzzing::x509_subject` for the
//! properties it asserts. Replayed on stable by proto/tests/fuzz_corpus.rs.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supergateway_proto::fuzzing::x509_subject(data);
});
