//! Replays the committed fuzz corpus (`tests/fuzz/corpus/{blob,text}`: the
//! seeds and the inputs libFuzzer kept for new coverage) through the fuzz
//! targets' bodies, so that CI, on stable, checks every one of them.

mod tokenizer_common;

use kexue_core::tokenizer::Vocab;
use kexue_tests::fuzz::{TextFuzzer, check_blob};
use kexue_tests::workspace_root;
use tokenizer_common::committed_blob;

/// The files of one target's corpus, sorted, with their contents.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = workspace_root().join("tests/fuzz/corpus").join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_blob_corpus_passes_the_blob_target() {
    let files = corpus("blob");
    assert!(files.len() >= 4, "seeds missing: {}", files.len());
    for (name, data) in &files {
        let result = std::panic::catch_unwind(|| check_blob(data));
        assert!(result.is_ok(), "blob corpus file {name} fails");
    }
}

#[test]
fn the_text_corpus_passes_the_text_target() {
    let blob = committed_blob();
    let fuzzer = TextFuzzer::new(Vocab::from_blob(&blob).unwrap());
    let files = corpus("text");
    assert!(files.len() >= 7, "seeds missing: {}", files.len());
    for (name, data) in &files {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fuzzer.check(data)));
        assert!(result.is_ok(), "text corpus file {name} fails");
    }
}

#[test]
fn the_blob_target_reaches_the_algorithms_with_a_seed() {
    // The seeds hold a valid toy blob: repairing the checksum must keep it
    // valid, so the target runs every algorithm on it (not just the reader).
    let files = corpus("blob");
    let (_, data) = files
        .iter()
        .find(|(n, _)| n == "toy-the")
        .expect("seed toy-the");
    let t = usize::from(data[0]);
    assert!(Vocab::from_blob(&data[1 + t..]).is_ok());
}
