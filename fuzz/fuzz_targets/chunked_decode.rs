//! Fuzz target `chunked_decode`: see `supergateway_proto::fuzzing::chunked_decode` for the
//! properties it asserts. Replayed on stable by proto/tests/fuzz_corpus.rs.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supergateway_proto::fuzzing::chunked_decode(data);
});
