//! Arbitrary text through every algorithm with the real 40k BytePiece
//! vocabulary (`kexue_tests::fuzz::TextFuzzer`).
#![no_main]

use std::sync::OnceLock;

use kexue_core::tokenizer::Vocab;
use kexue_tests::fuzz::TextFuzzer;
use libfuzzer_sys::fuzz_target;

fn fuzzer() -> &'static TextFuzzer<'static> {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    static FUZZER: OnceLock<TextFuzzer<'static>> = OnceLock::new();
    FUZZER.get_or_init(|| {
        let blob = BLOB.get_or_init(|| {
            let path =
                kexue_tests::workspace_root().join("tests/data/tokenizer/bytepiece.plus.40k.kxb");
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        });
        TextFuzzer::new(Vocab::from_blob(blob).expect("the committed blob is valid"))
    })
}

fuzz_target!(|data: &[u8]| fuzzer().check(data));
