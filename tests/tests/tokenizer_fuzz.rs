//! Replays the committed fuzz corpus (`tests/fuzz/corpus/{blob,text}`: the
//! seeds and the inputs libFuzzer kept for new coverage) through the fuzz
//! targets' bodies, so that CI, on stable, checks every one of them.

mod tokenizer_common;

use kexue_core::tokenizer::Vocab;
use kexue_tests::fuzz::{TextFuzzer, blob_checksum, check_blob};
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

#[test]
fn the_blob_corpus_still_holds_accepted_vocabularies() {
    // The corpus was converted between blob format versions
    // (`tests/fuzz/corpus_v*_to_v*.py`); the inputs that the reader accepts
    // after the target's checksum repair are the ones that take odd
    // vocabularies through every algorithm, so a conversion must keep them.
    let accepted = corpus("blob")
        .iter()
        .filter(|(_, data)| {
            let Some((&t, rest)) = data.split_first() else {
                return false;
            };
            let blob = &rest[usize::from(t).min(rest.len())..];
            if blob.len() < 64 {
                return false;
            }
            let mut fixed = blob.to_vec();
            let sum = blob_checksum(&fixed[64..]);
            fixed[32..40].copy_from_slice(&sum.to_le_bytes());
            Vocab::from_blob(&fixed).is_ok()
        })
        .count();
    assert!(
        accepted >= 15,
        "only {accepted} blob corpus inputs are accepted"
    );
}
