//! Arbitrary bytes as a vocabulary blob (checksum repaired) plus a text: the
//! reader never panics; an accepted vocabulary tokenises correctly
//! (`kexue_tests::fuzz::check_blob`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kexue_tests::fuzz::check_blob(data));
