//! Helpers shared by the `tokenizer_*` integration tests.
#![allow(dead_code, reason = "each test file uses a subset")]

use std::path::PathBuf;

use kexue_core::tokenizer::compile::{compile_bytepiece_json, compile_pieces};
use kexue_core::tokenizer::text::{Mode, TextTokenizer, push_hex, units};
use kexue_core::tokenizer::{Vocab, viterbi_decode};
use kexue_tests::{shared_dir, workspace_root};

/// The committed data directory (`tests/data/tokenizer`).
pub fn data_dir() -> PathBuf {
    workspace_root().join("tests/data/tokenizer")
}

/// The committed compiled blob of `bytepiece.plus.40k.model`.
pub fn committed_blob() -> Vec<u8> {
    std::fs::read(data_dir().join("bytepiece.plus.40k.kxb")).expect("committed blob")
}

/// The real model's JSON from `../shared/models`, if present.
pub fn shared_model_json() -> Option<Vec<u8>> {
    let path = shared_dir()?.join("models/bytepiece.plus.40k.model");
    std::fs::read(path).ok()
}

/// The real model as a blob: compiled from `../shared` when present (so the
/// compiler is exercised), else the committed blob.
pub fn real_blob() -> Vec<u8> {
    match shared_model_json() {
        Some(json) => compile_bytepiece_json(&json).expect("compile the real model"),
        None => committed_blob(),
    }
}

/// Tokenise `input` deterministically in `mode`, in the golden hex format.
pub fn golden_hex(vocab: &Vocab<'_>, input: &[u8], mode: Mode) -> String {
    let mut t = TextTokenizer::new();
    let mut out = String::new();
    for unit in units(input, mode) {
        let (text, tokens) = t
            .encode_with(unit, mode == Mode::Raw, |x, s, o| {
                viterbi_decode(vocab, x, s, o)
            })
            .expect("tokenise");
        push_hex(&mut out, text, tokens);
        out.push('\n');
    }
    out
}

/// Assert two golden outputs are equal, reporting the first differing line.
pub fn assert_same(name: &str, got: &str, want: &str) {
    if got == want {
        return;
    }
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert_eq!(a, b, "{name}: first difference at line {}", i + 1);
    }
    panic!(
        "{name}: {} lines vs {} expected (or trailing bytes differ)",
        g.len(),
        w.len()
    );
}

/// A toy vocabulary from `(piece, count)`; single bytes get count 1.
pub fn toy_blob(pieces: &[(&[u8], u64)]) -> Vec<u8> {
    let p: Vec<_> = pieces
        .iter()
        .enumerate()
        .map(|(i, (w, c))| (w.to_vec(), 1000 + i as u32, *c))
        .collect();
    compile_pieces(&p, true).expect("toy vocabulary")
}
