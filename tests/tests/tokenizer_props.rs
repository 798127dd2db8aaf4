//! Property tests: every algorithm's tokens tile arbitrary input bytes with
//! pieces of the vocabulary; the blob reader never panics on arbitrary or
//! mutated bytes; capacity shortfalls are errors; scratch per byte is as
//! documented.

mod tokenizer_common;

use std::sync::OnceLock;

use kexue_core::tokenizer::exact::{PieceMarginal, entropy, enumerate, marginals};
use kexue_core::tokenizer::nbest::{NBEST_BYTES_PER_INPUT_BYTE_PER_K, NBestEntry, nbest};
use kexue_core::tokenizer::{
    Error, SamplingTable, Scratch, Token, Vocab, viterbi_decode, viterbi_sample,
    viterbi_sample_legacy, viterbi_sample_log,
};
use kexue_tests::fuzz::{blob_checksum, check_algorithms};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokenizer_common::committed_blob;

/// Tolerance for probability sums.
const SUM_TOL: f64 = 1e-9;

fn blob() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(committed_blob)
}

/// Tokens tile `text` in order, each a piece whose id the vocabulary confirms.
fn assert_tiles(vocab: &Vocab<'_>, text: &[u8], tokens: &[Token]) {
    let mut pos = 0u32;
    for t in tokens {
        assert_eq!(t.start, pos);
        assert!(t.end > t.start);
        assert_eq!(vocab.lookup(&text[t.range()]), Some(t.id));
        pos = t.end;
    }
    assert_eq!(pos as usize, text.len());
    let joined: Vec<u8> = tokens
        .iter()
        .flat_map(|t| text[t.range()].to_vec())
        .collect();
    assert_eq!(joined, text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_algorithm_tiles_arbitrary_bytes(text in proptest::collection::vec(any::<u8>(), 0..200), seed in any::<u64>()) {
        let vocab = Vocab::from_blob(blob()).unwrap();
        let n = text.len();
        let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
        let mut out = vec![Token::default(); n];
        let mut rng = SmallRng::seed_from_u64(seed);
        let k = viterbi_decode(&vocab, &text, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
        assert_tiles(&vocab, &text, &out[..k]);
        for alpha in [0.0, 0.1, 1.0, 50.0] {
            let mut w = vec![0.0; vocab.id_space()];
            let table = SamplingTable::new(&vocab, alpha, &mut w).unwrap();
            let k = viterbi_sample(&vocab, &table, &text, &mut rng, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
            assert_tiles(&vocab, &text, &out[..k]);
            let k = viterbi_sample_log(&vocab, alpha, &text, &mut rng, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
            assert_tiles(&vocab, &text, &out[..k]);
            let k = viterbi_sample_legacy(&vocab, alpha, &text, &mut rng, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
            assert_tiles(&vocab, &text, &out[..k]);
        }
        let mut e = vec![NBestEntry::default(); (n + 1) * 3];
        let best = nbest(&vocab, &text, 3, &mut e).unwrap();
        for i in 0..best.len() {
            let k = best.write_path(i, &mut out).unwrap();
            assert_tiles(&vocab, &text, &out[..k]);
        }
    }

    #[test]
    fn blob_reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = Vocab::from_blob(&bytes);
        // Also with a valid-looking header in front.
        let mut b = blob()[..64].to_vec();
        b.extend_from_slice(&bytes);
        let _ = Vocab::from_blob(&b);
    }

    #[test]
    fn mutated_blobs_are_rejected_or_still_tile(pos in 0usize..876_376, byte in any::<u8>(), cut in 0usize..876_376, fix_sum in any::<bool>()) {
        let mut b = blob().to_vec();
        let pos = pos % b.len();
        b[pos] = byte;
        if fix_sum {
            // A hostile blob with a correct checksum: structural checks must hold.
            let sum = blob_checksum(&b[64..]);
            b[32..40].copy_from_slice(&sum.to_le_bytes());
        }
        if let Ok(vocab) = Vocab::from_blob(&b) {
            let text = "发展中国家 tokenizer \u{1f600}".as_bytes();
            let (mut s, mut r) = (vec![0.0; text.len() + 1], vec![0u32; text.len() + 1]);
            let mut out = vec![Token::default(); text.len()];
            let k = viterbi_decode(&vocab, text, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
            let joined: Vec<u8> = out[..k].iter().flat_map(|t| text[t.range()].to_vec()).collect();
            prop_assert_eq!(joined, text);
        }
        let cut = cut % b.len();
        prop_assert!(Vocab::from_blob(&b[..cut]).is_err());
    }

    #[test]
    fn marginals_sum_like_probabilities(text in proptest::collection::vec(any::<u8>(), 1..12), alpha in 0.0f64..2.0) {
        let vocab = Vocab::from_blob(blob()).unwrap();
        let n = text.len();
        let (mut f, mut b) = (vec![0.0; n + 1], vec![0.0; n + 1]);
        let mut out = vec![PieceMarginal::default(); n * 40];
        let (k, _) = marginals(&vocab, &text, alpha, &mut f, &mut b, &mut out).unwrap();
        // Exactly one token covers each byte: the marginals of the pieces
        // covering byte i sum to 1.
        for i in 0..n as u32 {
            let cover: f64 = out[..k].iter().filter(|m| m.token.start <= i && i < m.token.end).map(|m| m.prob).sum();
            prop_assert!((cover - 1.0).abs() < SUM_TOL, "byte {}: {}", i, cover);
        }
        // Entropy by forward–backward equals the enumerated one.
        let h = entropy(&vocab, &text, alpha, &mut f, &mut b).unwrap();
        let mut path = vec![Token::default(); n];
        let mut scores = Vec::new();
        enumerate(&vocab, &text, &mut path, 1_000_000, |_, s| scores.push(s)).unwrap();
        let lz = kexue_core::tokenizer::exact::log_partition_of_scores(scores.iter().copied(), alpha).unwrap();
        let h2: f64 = scores.iter().map(|s| { let lp = alpha * s - lz; -lp.exp() * lp }).sum();
        prop_assert!((h - h2).abs() < SUM_TOL * h2.abs().max(1.0), "{} vs {}", h, h2);
    }
}

#[test]
fn capacity_shortfalls_are_errors_not_truncation() {
    let vocab = Vocab::from_blob(blob()).unwrap();
    let text = "发展中国家".as_bytes();
    let n = text.len();
    let mut out = vec![Token::default(); n];
    // Scratch one short.
    let (mut s, mut r) = (vec![0.0; n], vec![0u32; n]);
    assert_eq!(
        viterbi_decode(&vocab, text, &mut Scratch::new(&mut s, &mut r), &mut out),
        Err(Error::CapacityExceeded {
            needed: n,
            capacity: n - 1
        })
    );
    // Token buffer one short of the segmentation.
    let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
    let k = viterbi_decode(&vocab, text, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
    assert!(matches!(
        viterbi_decode(
            &vocab,
            text,
            &mut Scratch::new(&mut s, &mut r),
            &mut out[..k - 1]
        ),
        Err(Error::CapacityExceeded { .. })
    ));
    // Enumeration limit.
    let mut path = vec![Token::default(); n];
    assert_eq!(
        enumerate(&vocab, text, &mut path, 3, |_, _| {}),
        Err(Error::TooManySegmentations { limit: 3 })
    );
    // Invalid α.
    let mut w = vec![0.0; vocab.id_space()];
    assert!(matches!(
        SamplingTable::new(&vocab, f64::NAN, &mut w),
        Err(Error::InvalidAlpha(_))
    ));
    assert!(matches!(
        SamplingTable::new(&vocab, -1.0, &mut w),
        Err(Error::InvalidAlpha(_))
    ));
    assert!(matches!(
        SamplingTable::new(&vocab, f64::INFINITY, &mut w),
        Err(Error::InvalidAlpha(_))
    ));
}

#[test]
fn scratch_per_input_byte_is_as_documented() {
    // One f64 + one u32 per position, positions 0..=n.
    assert_eq!(
        Scratch::BYTES_PER_INPUT_BYTE,
        size_of::<f64>() + size_of::<u32>()
    );
    assert_eq!(NBEST_BYTES_PER_INPUT_BYTE_PER_K, 16);
    let vocab = Vocab::from_blob(blob()).unwrap();
    let text = vec![b'a'; 1000];
    let (mut s, mut r) = (vec![0.0; 1001], vec![0u32; 1001]);
    let scratch = Scratch::new(&mut s, &mut r);
    assert_eq!(scratch.capacity(), 1000);
    let bytes = 1001 * (size_of::<f64>() + size_of::<u32>());
    assert_eq!(bytes, Scratch::BYTES_PER_INPUT_BYTE * (text.len() + 1));
    let mut out = vec![Token::default(); 1000];
    let mut scratch = scratch;
    assert!(viterbi_decode(&vocab, &text, &mut scratch, &mut out).is_ok());
}

#[test]
fn blob_opens_in_one_validation_pass_and_rejects_obvious_corruption() {
    let b = blob();
    let start = std::time::Instant::now();
    let vocab = Vocab::from_blob(b).unwrap();
    eprintln!("open: {:?} for {} bytes", start.elapsed(), b.len());
    assert_eq!(vocab.as_bytes().len(), b.len());
    let mut bad = b.to_vec();
    bad[0] ^= 1;
    assert_eq!(Vocab::from_blob(&bad).unwrap_err(), Error::BadMagic);
    let mut bad = b.to_vec();
    bad[1000] ^= 1;
    assert_eq!(Vocab::from_blob(&bad).unwrap_err(), Error::ChecksumMismatch);
    assert!(matches!(
        Vocab::from_blob(&b[..b.len() - 1]).unwrap_err(),
        Error::Truncated { .. }
    ));
    let mut bad = b.to_vec();
    bad[8] = 9;
    assert_eq!(
        Vocab::from_blob(&bad).unwrap_err(),
        Error::UnsupportedVersion(9)
    );
    // A unit `c` of the root's block labelled `c` would be a child of unit 0
    // (base 0), reviving dead walks in the decoder: rejected.
    // (Unit records: `!id` in bytes 0–1, the unit in bytes 2–5.)
    let mut bad = b.to_vec();
    let at = 64 + 6 * 5 + 2;
    bad[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
    let sum = blob_checksum(&bad[64..]);
    bad[32..40].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(
        Vocab::from_blob(&bad).unwrap_err(),
        Error::CorruptBlob("a unit of the root's block matches its byte")
    );
    // The base shift (header offset 28, outside the checksummed body) must be
    // 10..=15, and the bits between the flags and the base must be clear.
    for shift in [0u32, 9, 16, 32] {
        let mut bad = b.to_vec();
        bad[28..32].copy_from_slice(&shift.to_le_bytes());
        assert_eq!(
            Vocab::from_blob(&bad).unwrap_err(),
            Error::CorruptBlob("base shift out of range")
        );
    }
    let mut bad = b.to_vec();
    let at = 64 + 6 * 300 + 2;
    let unit = u32::from_le_bytes(bad[at..at + 4].try_into().unwrap()) | 1 << 12;
    bad[at..at + 4].copy_from_slice(&unit.to_le_bytes());
    let sum = blob_checksum(&bad[64..]);
    bad[32..40].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(
        Vocab::from_blob(&bad).unwrap_err(),
        Error::CorruptBlob("a unit has bits set below its base")
    );
}

/// The committed blob rewritten with base shift 10 (what the compiler writes
/// for tries of more than 2^17 units): no fast view, so every algorithm takes
/// the checked lookups.
fn with_base_shift_10(b: &[u8]) -> Vec<u8> {
    assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 15);
    let units = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
    let mut v = b.to_vec();
    v[28..32].copy_from_slice(&10u32.to_le_bytes());
    for i in 0..units {
        let at = 64 + 6 * i + 2;
        let u = u32::from_le_bytes(v[at..at + 4].try_into().unwrap());
        let u10 = (u & 0x1ff) | (u >> 15) << 10;
        v[at..at + 4].copy_from_slice(&u10.to_le_bytes());
    }
    let sum = blob_checksum(&v[64..]);
    v[32..40].copy_from_slice(&sum.to_le_bytes());
    v
}

#[test]
fn a_blob_with_base_shift_10_gives_identical_results() {
    let b10 = with_base_shift_10(blob());
    let (fast, checked) = (
        Vocab::from_blob(blob()).unwrap(),
        Vocab::from_blob(&b10).unwrap(),
    );
    let texts: [&[u8]; 4] = [
        "发展中国家的经济增长，and English words: tokenization.".as_bytes(),
        b"  def viterbi_decode(vocab, text):\n        return [x for x in text]  ",
        &[0xff, 0xfe, b'a', 0xe4, 0xb8],
        b"",
    ];
    for text in texts {
        let n = text.len();
        let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
        let (mut o1, mut o2) = (vec![Token::default(); n], vec![Token::default(); n]);
        let k1 = viterbi_decode(&fast, text, &mut Scratch::new(&mut s, &mut r), &mut o1).unwrap();
        let k2 =
            viterbi_decode(&checked, text, &mut Scratch::new(&mut s, &mut r), &mut o2).unwrap();
        assert_eq!(o1[..k1], o2[..k2]);
        for alpha in [0.1, 1.0] {
            let mut w = vec![0.0; fast.id_space()];
            let table = SamplingTable::new(&fast, alpha, &mut w).unwrap();
            let (mut g1, mut g2) = (SmallRng::seed_from_u64(7), SmallRng::seed_from_u64(7));
            for _ in 0..20 {
                let k1 = viterbi_sample(
                    &fast,
                    &table,
                    text,
                    &mut g1,
                    &mut Scratch::new(&mut s, &mut r),
                    &mut o1,
                )
                .unwrap();
                let k2 = viterbi_sample(
                    &checked,
                    &table,
                    text,
                    &mut g2,
                    &mut Scratch::new(&mut s, &mut r),
                    &mut o2,
                )
                .unwrap();
                assert_eq!(o1[..k1], o2[..k2]);
            }
        }
    }
}

#[test]
fn pieces_longer_than_the_live_walk_set_use_the_start_order_fallbacks() {
    // A 100-byte piece keeps more than 64 walks alive on a run of 'a's, so
    // decoding and linear sampling take their per-start fallbacks; results
    // must still be exact (decode: the cheap long piece wins) and tile.
    let long = vec![b'a'; 100];
    let blob = tokenizer_common::toy_blob(&[(&long, 1_000_000), (b"aa", 10)]);
    let vocab = Vocab::from_blob(&blob).unwrap();
    let text = vec![b'a'; 130];
    let n = text.len();
    let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
    let mut out = vec![Token::default(); n];
    let k = viterbi_decode(&vocab, &text, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
    assert_tiles(&vocab, &text, &out[..k]);
    // Best: the long piece plus fifteen "aa" (where it sits is a tie).
    assert_eq!(k, 16);
    assert_eq!(out[..k].iter().filter(|t| t.len() == 100).count(), 1);
    let mut rng = SmallRng::seed_from_u64(4);
    let mut w = vec![0.0; vocab.id_space()];
    let table = SamplingTable::new(&vocab, 1.0, &mut w).unwrap();
    let mut long_first = 0;
    for _ in 0..200 {
        let k = viterbi_sample(
            &vocab,
            &table,
            &text,
            &mut rng,
            &mut Scratch::new(&mut s, &mut r),
            &mut out,
        )
        .unwrap();
        assert_tiles(&vocab, &text, &out[..k]);
        long_first += usize::from(out[..k].iter().any(|t| t.len() == 100));
    }
    // The long piece (count 10^6 vs 10) dominates at α = 1.
    assert!(long_first > 190, "{long_first}");
}

#[test]
fn a_trie_of_more_than_2_17_units_is_compiled_with_base_shift_10() {
    // The compiler writes base shift 15 only when the trie fits in 2^17
    // units; a larger one gets shift 10 and no fast view. 36,000 random
    // pieces of 5–9 letters make a trie of about 200,000 units; every
    // two-letter string is a piece too, so that the test texts have many
    // segmentations and a wrong score or step changes the decode.
    use kexue_core::tokenizer::compile::compile_pieces;
    let mut rng = SmallRng::seed_from_u64(11);
    let mut words = std::collections::BTreeSet::new();
    for a in b'a'..=b'z' {
        for b in b'a'..=b'z' {
            words.insert(vec![a, b]);
        }
    }
    while words.len() < 36_000 + 26 * 26 {
        let len = rng.random_range(5..10);
        words.insert(
            (0..len)
                .map(|_| b'a' + rng.random_range(0..26u8))
                .collect::<Vec<u8>>(),
        );
    }
    let words: Vec<Vec<u8>> = words.into_iter().collect();
    let pieces: Vec<(Vec<u8>, u32, u64)> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), 300 + i as u32, 1 + (i as u64 * 7919) % 1000))
        .collect();
    let blob = compile_pieces(&pieces, true).unwrap();
    let vocab = Vocab::from_blob(&blob).unwrap();
    assert!(vocab.unit_count() > 1 << 17, "{} units", vocab.unit_count());
    assert_eq!(u32::from_le_bytes(blob[28..32].try_into().unwrap()), 10);
    for (i, w) in words.iter().enumerate().step_by(97) {
        assert_eq!(vocab.lookup(w), Some(300 + i as u32));
    }
    // Every algorithm, through the fuzz target's checks (tiling, scores,
    // k-best, capacity; texts of up to 10 bytes also against enumeration):
    // a long piece's first letters, then another's.
    let long: Vec<&Vec<u8>> = words.iter().filter(|w| w.len() >= 5).collect();
    let mut w = vec![0.0; vocab.id_space()];
    let table = SamplingTable::new(&vocab, 0.5, &mut w).unwrap();
    for k in 0..40 {
        let mut text = long[(k * 811) % long.len()].clone();
        text.truncate(5 + k % 5);
        let rest = 10 - text.len(); // ≤ 5, and every long piece has ≥ 5 letters
        text.extend_from_slice(&long[(k * 389 + 5) % long.len()][..rest]);
        assert_eq!(text.len(), 10);
        check_algorithms(&vocab, &text, 0.5, Some(&table), k as u64);
    }
}
