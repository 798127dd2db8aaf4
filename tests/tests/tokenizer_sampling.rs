//! Statistical tests of the samplers against the exact distribution
//! `P(w) = e^{α S(w)} / Σ e^{α S(w')}` from enumeration (post of 2023-10-16).
//!
//! Level: a sampler passes when the chi-square p-value is above
//! [`ACCEPT_LEVEL`] (fixed seeds, so each outcome is reproducible); the legacy
//! sampler must be rejected with a p-value below [`REJECT_LEVEL`].

mod tokenizer_common;

use std::collections::HashMap;

use kexue_core::tokenizer::exact::{enumerate, log_partition, log_partition_of_scores};
use kexue_core::tokenizer::nbest::{NBestEntry, nbest};
use kexue_core::tokenizer::{
    FULL_TABLE_LEN, SamplingMode, SamplingTable, Scratch, Token, Vocab, viterbi_decode,
    viterbi_sample, viterbi_sample_legacy, viterbi_sample_log,
};
use kexue_tests::stats::chi_square_test;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokenizer_common::{committed_blob, toy_blob};

/// Significance level of the goodness-of-fit tests (a correct sampler fails
/// with this probability per test, fixed seeds make it deterministic).
const ACCEPT_LEVEL: f64 = 1e-3;
/// The legacy sampler must be rejected far beyond any chance.
const REJECT_LEVEL: f64 = 1e-9;
/// Draws per test.
const DRAWS: usize = 200_000;
/// Bins with a smaller expected count are pooled.
const MIN_EXPECTED: f64 = 5.0;
/// Tolerance of probabilities computed two ways (enumeration vs forward).
const PROB_TOL: f64 = 1e-12;
/// Relative tolerance between scores of tied paths summed in different orders.
const SCORE_TOL: f64 = 1e-12;

/// The exact distribution: segmentations (as token ranges) and probabilities.
fn exact(vocab: &Vocab<'_>, text: &[u8], alpha: f64) -> (Vec<Vec<(u32, u32)>>, Vec<f64>) {
    let mut path = vec![Token::default(); text.len()];
    let mut segs = Vec::new();
    enumerate(vocab, text, &mut path, 1_000_000, |t, s| {
        segs.push((t.iter().map(|t| (t.start, t.end)).collect::<Vec<_>>(), s));
    })
    .unwrap();
    let log_z = log_partition_of_scores(segs.iter().map(|s| s.1), alpha).unwrap();
    // Cross-check ln Z with the forward algorithm.
    let mut fwd = vec![0.0; text.len() + 1];
    let lz2 = log_partition(vocab, text, alpha, &mut fwd).unwrap();
    assert!((log_z - lz2).abs() < PROB_TOL * log_z.abs().max(1.0));
    let probs: Vec<f64> = segs.iter().map(|s| (alpha * s.1 - log_z).exp()).collect();
    (segs.into_iter().map(|s| s.0).collect(), probs)
}

/// Count `DRAWS` samples of `draw` per segmentation and test the fit.
fn fit(
    vocab: &Vocab<'_>,
    text: &[u8],
    alpha: f64,
    mut draw: impl FnMut(&mut Scratch<'_>, &mut [Token]) -> usize,
) -> kexue_tests::stats::ChiSquare {
    let (segs, probs) = exact(vocab, text, alpha);
    let index: HashMap<&Vec<(u32, u32)>, usize> =
        segs.iter().enumerate().map(|(i, s)| (s, i)).collect();
    let mut counts = vec![0u64; segs.len()];
    let (mut s, mut r) = (vec![0.0; text.len() + 1], vec![0u32; text.len() + 1]);
    let mut out = vec![Token::default(); text.len()];
    for _ in 0..DRAWS {
        let n = draw(&mut Scratch::new(&mut s, &mut r), &mut out);
        let key: Vec<(u32, u32)> = out[..n].iter().map(|t| (t.start, t.end)).collect();
        counts[index[&key]] += 1;
    }
    chi_square_test(&counts, &probs, MIN_EXPECTED)
}

const FAZHAN: &str = "发展中国家";

#[test]
fn fazhan_top_two_segmentations_are_near_054_046_at_alpha_1() {
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    let (_, mut probs) = exact(&vocab, FAZHAN.as_bytes(), 1.0);
    probs.sort_by(|a, b| b.total_cmp(a));
    // data/README.md: "two top segmentations near 0.54 / 0.46 at α = 1".
    assert!(
        (probs[0] - 0.54).abs() < 0.01 && (probs[1] - 0.46).abs() < 0.01,
        "{:?}",
        &probs[..3]
    );
}

#[test]
fn perfect_sampler_matches_the_exact_distribution() {
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    for (k, text) in [FAZHAN, "计算机", "天气", "watching", "\u{fffd}ab\u{7f}"]
        .iter()
        .enumerate()
    {
        for alpha in [0.1, 1.0] {
            let mut w = vec![0.0; vocab.id_space()];
            let table = SamplingTable::new(&vocab, alpha, &mut w).unwrap();
            assert_eq!(table.mode(), SamplingMode::Linear);
            let mut rng = SmallRng::seed_from_u64(100 + k as u64);
            let res = fit(&vocab, text.as_bytes(), alpha, |s, o| {
                viterbi_sample(&vocab, &table, text.as_bytes(), &mut rng, s, o).unwrap()
            });
            assert!(res.p_value > ACCEPT_LEVEL, "{text} α={alpha}: {res:?}");
            let mut rng = SmallRng::seed_from_u64(200 + k as u64);
            let res = fit(&vocab, text.as_bytes(), alpha, |s, o| {
                viterbi_sample_log(&vocab, alpha, text.as_bytes(), &mut rng, s, o).unwrap()
            });
            assert!(res.p_value > ACCEPT_LEVEL, "log {text} α={alpha}: {res:?}");
        }
    }
}

/// A table of `FULL_TABLE_LEN` entries selects the unchecked lookups (with the
/// real model's fixed-size blob views): the same distribution, and in fact the
/// same samples for the same seed as a table of the id space's length.
#[test]
fn full_length_tables_sample_exactly_and_identically() {
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    for (k, text) in [FAZHAN, "watching"].iter().enumerate() {
        let mut w = vec![0.0; FULL_TABLE_LEN];
        let table = SamplingTable::new(&vocab, 1.0, &mut w).unwrap();
        let mut rng = SmallRng::seed_from_u64(300 + k as u64);
        let res = fit(&vocab, text.as_bytes(), 1.0, |s, o| {
            viterbi_sample(&vocab, &table, text.as_bytes(), &mut rng, s, o).unwrap()
        });
        assert!(res.p_value > ACCEPT_LEVEL, "{text}: {res:?}");
    }
    let sample = std::fs::read(tokenizer_common::data_dir().join("sample.txt")).unwrap();
    let lines: Vec<&[u8]> = sample.split(|&b| b == b'\n').collect();
    assert!(lines.len() > 10);
    for alpha in [0.01, 0.1, 1.0] {
        let mut short = vec![0.0; vocab.id_space()];
        let mut full = vec![0.0; FULL_TABLE_LEN];
        let short = SamplingTable::new(&vocab, alpha, &mut short).unwrap();
        let full = SamplingTable::new(&vocab, alpha, &mut full).unwrap();
        let draw = |table: &SamplingTable<'_>| {
            let mut rng = SmallRng::seed_from_u64(7);
            let mut all = Vec::new();
            for line in &lines {
                for _ in 0..20 {
                    let n = line.len();
                    let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
                    let mut out = vec![Token::default(); n];
                    let k = viterbi_sample(
                        &vocab,
                        table,
                        line,
                        &mut rng,
                        &mut Scratch::new(&mut s, &mut r),
                        &mut out,
                    )
                    .unwrap();
                    all.extend_from_slice(&out[..k]);
                }
            }
            all
        };
        assert_eq!(draw(&short), draw(&full), "α = {alpha}");
    }
}

#[test]
fn perfect_sampler_is_exact_on_invalid_utf8_bytes() {
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    let text: &[u8] = b"\xff\xfe\xe4\xbb\x20\xc3";
    let mut w = vec![0.0; vocab.id_space()];
    let table = SamplingTable::new(&vocab, 1.0, &mut w).unwrap();
    let mut rng = SmallRng::seed_from_u64(5);
    let res = fit(&vocab, text, 1.0, |s, o| {
        viterbi_sample(&vocab, &table, text, &mut rng, s, o).unwrap()
    });
    assert!(res.p_value > ACCEPT_LEVEL, "{res:?}");
}

#[test]
fn the_same_test_rejects_the_legacy_sampler() {
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    for alpha in [0.1, 1.0] {
        let mut rng = SmallRng::seed_from_u64(7);
        let text = FAZHAN.as_bytes();
        let res = fit(&vocab, text, alpha, |s, o| {
            viterbi_sample_legacy(&vocab, alpha, text, &mut rng, s, o).unwrap()
        });
        assert!(
            res.p_value < REJECT_LEVEL,
            "legacy α={alpha} not rejected: {res:?}"
        );
    }
}

#[test]
fn watching_legacy_gives_quarter_quarter_half_perfect_gives_thirds() {
    // Three equally scored segmentations (every piece has the same count):
    // watch|ing, wat|ching, w|atching; all other paths use count-1 bytes.
    let c = 1_000_000;
    let blob = toy_blob(&[
        (b"w", c),
        (b"watch", c),
        (b"ing", c),
        (b"wat", c),
        (b"ching", c),
        (b"atching", c),
    ]);
    let vocab = Vocab::from_blob(&blob).unwrap();
    let text = b"watching";
    let (segs, probs) = exact(&vocab, text, 1.0);
    let top: Vec<f64> = {
        let mut p = probs.clone();
        p.sort_by(|a, b| b.total_cmp(a));
        p[..3].to_vec()
    };
    assert!(top.iter().all(|p| (p - 1.0 / 3.0).abs() < 1e-9), "{top:?}");
    let mut rng = SmallRng::seed_from_u64(11);
    let mut counts = HashMap::new();
    let (mut s, mut r) = (vec![0.0; 9], vec![0u32; 9]);
    let mut out = vec![Token::default(); 8];
    let draws = 40_000;
    for _ in 0..draws {
        let n = viterbi_sample_legacy(
            &vocab,
            1.0,
            text,
            &mut rng,
            &mut Scratch::new(&mut s, &mut r),
            &mut out,
        )
        .unwrap();
        *counts
            .entry(out[..n].iter().map(|t| t.end).collect::<Vec<_>>())
            .or_insert(0u64) += 1;
    }
    let freq = |ends: &[u32]| counts.get(ends).copied().unwrap_or(0) as f64 / f64::from(draws);
    // 4σ of a binomial proportion at n = 40 000 is about 0.01.
    assert!(
        (freq(&[5, 8]) - 0.5).abs() < 0.01,
        "watch|ing {}",
        freq(&[5, 8])
    );
    assert!(
        (freq(&[3, 8]) - 0.25).abs() < 0.01,
        "wat|ching {}",
        freq(&[3, 8])
    );
    assert!(
        (freq(&[1, 8]) - 0.25).abs() < 0.01,
        "w|atching {}",
        freq(&[1, 8])
    );
    // The perfect sampler: a third each, and the chi-square test passes.
    let mut w = vec![0.0; vocab.id_space()];
    let table = SamplingTable::new(&vocab, 1.0, &mut w).unwrap();
    let mut rng = SmallRng::seed_from_u64(12);
    let res = fit(&vocab, text, 1.0, |s, o| {
        viterbi_sample(&vocab, &table, text, &mut rng, s, o).unwrap()
    });
    assert!(res.p_value > ACCEPT_LEVEL, "{res:?}");
    assert_eq!(segs.len(), probs.len());
}

#[test]
fn perfect_sampler_is_exact_with_many_candidates_per_position() {
    // Pieces x … x×16 for one byte x: up to 16 pieces end at one position —
    // on ASCII (x = 'a') up to 11 of them from the position-order scan's walk
    // list, more than its three-probe pick handles (its linear count runs);
    // on a high byte (x = 0xe9) the start-order scan. 32 768 segmentations of
    // a 16-byte run; "…bab" adds positions that only the byte piece reaches.
    for x in [b'a', 0xe9] {
        let runs: Vec<Vec<u8>> = (1..=16).map(|k| vec![x; k]).collect();
        let pieces: Vec<(&[u8], u64)> = runs
            .iter()
            .enumerate()
            .map(|(k, w)| (w.as_slice(), 60_000 - 3_000 * k as u64))
            .chain([(&b"ab"[..], 5_000), (&b"b"[..], 20_000)])
            .collect();
        let blob = toy_blob(&pieces);
        let vocab = Vocab::from_blob(&blob).unwrap();
        let mut texts = vec![vec![x; 16]];
        if x == b'a' {
            texts.push(b"aaaaaaaaaabab".to_vec());
        }
        for (k, text) in texts.iter().enumerate() {
            for alpha in [0.1, 1.0] {
                let mut w = vec![0.0; vocab.id_space()];
                let table = SamplingTable::new(&vocab, alpha, &mut w).unwrap();
                assert_eq!(table.mode(), SamplingMode::Linear);
                let mut rng = SmallRng::seed_from_u64(300 + k as u64 + u64::from(x));
                let res = fit(&vocab, text, alpha, |s, o| {
                    viterbi_sample(&vocab, &table, text, &mut rng, s, o).unwrap()
                });
                assert!(res.p_value > ACCEPT_LEVEL, "{x} {k} α={alpha}: {res:?}");
            }
        }
    }
}

/// Texts whose partition function is far below 2^−64 (the linear samplers'
/// rescaling threshold), so the running values are rescaled by powers of two
/// mid-text, in both scan orders: the start order (CJK / high bytes) and the
/// position order (ASCII). Still exact.
#[test]
fn perfect_sampler_is_exact_across_rescaling() {
    let rescaled = |vocab: &Vocab<'_>, text: &[u8], alpha: f64| {
        let mut fwd = vec![0.0; text.len() + 1];
        let log_z = log_partition(vocab, text, alpha, &mut fwd).unwrap();
        assert!(
            log_z < -64.0 * std::f64::consts::LN_2 - 10.0,
            "ln Z = {log_z}"
        );
    };
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    let text = "发展中国家发展中国家".as_bytes();
    rescaled(&vocab, text, 1.0);
    let mut w = vec![0.0; vocab.id_space()];
    let table = SamplingTable::new(&vocab, 1.0, &mut w).unwrap();
    assert_eq!(table.mode(), SamplingMode::Linear);
    let mut rng = SmallRng::seed_from_u64(41);
    let res = fit(&vocab, text, 1.0, |s, o| {
        viterbi_sample(&vocab, &table, text, &mut rng, s, o).unwrap()
    });
    assert!(res.p_value > ACCEPT_LEVEL, "{res:?}");
    // Toy pieces: the halves weigh ≈ 2^−25, the pair ≈ 2^−50 (as one piece or
    // as two, about the same): 16 about equally likely segmentations of four
    // pairs, and Z[3] ≈ 2^−74 is rescaled while the walk from 2 (the second
    // pair) is alive, so its start value must be rescaled with it.
    for (k, (pair, x, y)) in [
        (&b"ab"[..], &b"a"[..], &b"b"[..]),
        (b"\xc3\xa9", b"\xc3", b"\xa9"),
    ]
    .into_iter()
    .enumerate()
    {
        let blob = toy_blob(&[
            (pair, 9),
            (x, 300_000_000),
            (y, 300_000_000),
            (b"zz", 10_000_000_000_000_000),
        ]);
        let vocab = Vocab::from_blob(&blob).unwrap();
        let text = pair.repeat(4);
        rescaled(&vocab, &text, 1.0);
        let (_, probs) = exact(&vocab, &text, 1.0);
        assert!(
            probs.iter().filter(|&&p| p > 0.06).count() == 16,
            "{probs:?}"
        );
        let mut w = vec![0.0; vocab.id_space()];
        let table = SamplingTable::new(&vocab, 1.0, &mut w).unwrap();
        let mut rng = SmallRng::seed_from_u64(42 + k as u64);
        let res = fit(&vocab, &text, 1.0, |s, o| {
            viterbi_sample(&vocab, &table, &text, &mut rng, s, o).unwrap()
        });
        assert!(res.p_value > ACCEPT_LEVEL, "{k}: {res:?}");
    }
}

#[test]
fn large_alpha_reproduces_viterbi_decoding() {
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    let lines =
        std::fs::read_to_string(tokenizer_common::data_dir().join("edge_cases.txt")).unwrap();
    let mut rng = SmallRng::seed_from_u64(3);
    for alpha in [1e3, 1e6] {
        let mut w = vec![0.0; vocab.id_space()];
        let table = SamplingTable::new(&vocab, alpha, &mut w).unwrap();
        assert_eq!(table.mode(), SamplingMode::Log);
        for line in lines.lines().chain(["发展中国家的经济", "计算机科学"]) {
            let text = line.as_bytes();
            let (mut s, mut r) = (vec![0.0; text.len() + 1], vec![0u32; text.len() + 1]);
            let mut a = vec![Token::default(); text.len()];
            let mut b = vec![Token::default(); text.len()];
            let na =
                viterbi_decode(&vocab, text, &mut Scratch::new(&mut s, &mut r), &mut a).unwrap();
            let nb = viterbi_sample(
                &vocab,
                &table,
                text,
                &mut rng,
                &mut Scratch::new(&mut s, &mut r),
                &mut b,
            )
            .unwrap();
            let score = |t: &[Token]| t.iter().map(|t| vocab.score(t.id).unwrap()).sum::<f64>();
            // Equal scores (up to the rounding of different summation orders
            // of tied paths); identical tokens unless the best score is tied.
            let (sa, sb) = (score(&a[..na]), score(&b[..nb]));
            assert!(
                (sa - sb).abs() <= SCORE_TOL * sa.abs(),
                "{line:?}: {sa} vs {sb}"
            );
        }
    }
    // Where the optimum is unique the tokens are identical.
    let text = "发展中国家".as_bytes();
    let mut w = vec![0.0; vocab.id_space()];
    let table = SamplingTable::new(&vocab, 1e4, &mut w).unwrap();
    let (mut s, mut r) = (vec![0.0; 16], vec![0u32; 16]);
    let (mut a, mut b) = (vec![Token::default(); 15], vec![Token::default(); 15]);
    let na = viterbi_decode(&vocab, text, &mut Scratch::new(&mut s, &mut r), &mut a).unwrap();
    for _ in 0..100 {
        let nb = viterbi_sample(
            &vocab,
            &table,
            text,
            &mut rng,
            &mut Scratch::new(&mut s, &mut r),
            &mut b,
        )
        .unwrap();
        assert_eq!(a[..na], b[..nb]);
    }
}

#[test]
fn nbest_sampling_matches_its_truncated_distribution() {
    let blob = committed_blob();
    let vocab = Vocab::from_blob(&blob).unwrap();
    let text = FAZHAN.as_bytes();
    let k = 8;
    let mut entries = vec![NBestEntry::default(); (text.len() + 1) * k];
    let best = nbest(&vocab, text, k, &mut entries).unwrap();
    assert_eq!(best.len(), k);
    // The k best equal the k highest scores of the enumeration, in order.
    let mut path = vec![Token::default(); text.len()];
    let mut scores = Vec::new();
    enumerate(&vocab, text, &mut path, 1_000_000, |_, s| scores.push(s)).unwrap();
    scores.sort_by(|a, b| b.total_cmp(a));
    for (i, &s) in scores.iter().take(k).enumerate() {
        assert_eq!(best.score(i), Some(s), "rank {i}");
    }
    // Rank 0 is the Viterbi path.
    let (mut s, mut r) = (vec![0.0; 16], vec![0u32; 16]);
    let (mut a, mut b) = (vec![Token::default(); 15], vec![Token::default(); 15]);
    let na = viterbi_decode(&vocab, text, &mut Scratch::new(&mut s, &mut r), &mut a).unwrap();
    let nb = best.write_path(0, &mut b).unwrap();
    assert_eq!(a[..na], b[..nb]);
    // Sampling ∝ e^{α S} among the k: chi-square against the renormalised top k.
    let alpha = 1.0;
    let z: f64 = scores[..k]
        .iter()
        .map(|s| (alpha * (s - scores[0])).exp())
        .sum();
    let probs: Vec<f64> = scores[..k]
        .iter()
        .map(|s| (alpha * (s - scores[0])).exp() / z)
        .collect();
    let mut rng = SmallRng::seed_from_u64(9);
    let mut counts = vec![0u64; k];
    for _ in 0..DRAWS {
        counts[best.sample(alpha, &mut rng).unwrap()] += 1;
    }
    let res = chi_square_test(&counts, &probs, MIN_EXPECTED);
    assert!(res.p_value > ACCEPT_LEVEL, "{res:?}");
}
