//! The bodies of the tokenizer's fuzz targets.
//!
//! `tests/fuzz` runs them under libFuzzer (`cargo +nightly fuzz run blob`,
//! `… run text`); `tests/tests/tokenizer_fuzz.rs` replays the committed corpus
//! through them on stable, so CI checks every input the fuzzer kept. Each
//! function panics when an invariant fails — that is what a fuzzer reports.
//!
//! Invariants, for every input:
//! * [`Vocab::from_blob`] returns `Ok` or `Err`, never panics or reads out of
//!   bounds, on any bytes (the blob target repairs the checksum of what it is
//!   given, so the fuzzer gets past it to the structural checks);
//! * on a vocabulary it accepted, every algorithm returns a segmentation whose
//!   tokens tile the text with pieces of the vocabulary (ids confirmed by
//!   lookup), in order, with nothing left over;
//! * no sample scores above the deterministic decode, whose score is the best
//!   (the same left-to-right `f64` sums on both sides, so exactly), and the
//!   best of the k-best list scores exactly the decode's score, every listed
//!   path its listed score, in non-increasing order;
//! * for short texts the decode's score is the maximum over every
//!   segmentation, enumerated;
//! * one token too few of output room is a capacity error, not a truncation.

use kexue_core::tokenizer::exact::enumerate;
use kexue_core::tokenizer::nbest::{NBestEntry, nbest};
use kexue_core::tokenizer::{
    Error, SamplingTable, Scratch, Token, Vocab, viterbi_decode, viterbi_sample,
    viterbi_sample_legacy, viterbi_sample_log,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// The offset of the checksum field in a blob header and the header length.
const CHECKSUM_AT: usize = 32;
const HEADER: usize = 64;
/// Texts longer than this are cut (the fuzzer's time goes to variety).
const MAX_TEXT: usize = 4096;
/// Texts up to this length are also checked against full enumeration.
const ENUMERATE_UP_TO: usize = 10;
/// The α values the text target picks from (first input byte).
const ALPHAS: [f64; 8] = [0.0, 0.01, 0.1, 0.5, 1.0, 3.0, 50.0, 1e6];

/// The blob checksum: 64-bit FNV-1a over the body's 8-byte little-endian
/// words, then its trailing bytes, xor the body length (restated here so that
/// the target can repair it).
#[must_use]
pub fn blob_checksum(body: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let words = body.chunks_exact(8);
    let rest = words.remainder();
    for w in words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    for &b in rest {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ body.len() as u64
}

/// Fuzz target `blob`: `data[0]` is a text length `t`, `data[1..1+t]` the
/// text, the rest a candidate blob. The blob is opened as given and with its
/// checksum repaired; if the vocabulary is accepted, every algorithm runs on
/// the text (α and seed from the text's length).
pub fn check_blob(data: &[u8]) {
    let Some((&t, rest)) = data.split_first() else {
        return;
    };
    let t = usize::from(t).min(rest.len());
    let (text, blob) = rest.split_at(t);
    let _ = Vocab::from_blob(blob);
    let mut fixed = blob.to_vec();
    if fixed.len() >= HEADER {
        let sum = blob_checksum(&fixed[HEADER..]);
        fixed[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
    }
    if let Ok(vocab) = Vocab::from_blob(&fixed) {
        let alpha = ALPHAS[t % ALPHAS.len()];
        let mut weights = vec![0.0; vocab.id_space()];
        let table = (alpha > 0.0)
            .then(|| SamplingTable::new(&vocab, alpha, &mut weights).expect("table for α > 0"));
        check_algorithms(&vocab, text, alpha, table.as_ref(), t as u64);
    }
}

/// Fuzz target `text` over a real vocabulary, with the sampling tables of
/// every α built once (a table costs one `exp` per piece).
#[derive(Debug)]
pub struct TextFuzzer<'v> {
    vocab: Vocab<'v>,
    tables: Vec<Option<SamplingTable<'v>>>,
}

impl<'v> TextFuzzer<'v> {
    /// Build the tables of every α > 0 the target picks from (their weights
    /// are leaked: one set per process, which lives as long as the fuzzer).
    #[must_use]
    pub fn new(vocab: Vocab<'v>) -> Self {
        let tables = ALPHAS
            .iter()
            .map(|&alpha| {
                (alpha > 0.0).then(|| {
                    let weights: &'v mut [f64] =
                        Box::leak(vec![0.0; vocab.id_space()].into_boxed_slice());
                    SamplingTable::new(&vocab, alpha, weights).expect("table for α > 0")
                })
            })
            .collect();
        Self { vocab, tables }
    }

    /// `data[0]` picks α, `data[1..9]` is the RNG seed, the rest (cut at 4096
    /// bytes) the text.
    pub fn check(&self, data: &[u8]) {
        let pick = usize::from(data.first().copied().unwrap_or(0)) % ALPHAS.len();
        let mut seed = [0u8; 8];
        for (s, d) in seed.iter_mut().zip(data.iter().skip(1)) {
            *s = *d;
        }
        let text = data.get(9..).unwrap_or_default();
        let text = &text[..text.len().min(MAX_TEXT)];
        let table = self.tables.get(pick).copied().flatten();
        check_algorithms(
            &self.vocab,
            text,
            ALPHAS[pick],
            table.as_ref(),
            u64::from_le_bytes(seed),
        );
    }
}

/// Every algorithm on `text`: tiling, scores, capacity (see the module docs).
/// `table` is the sampling table of `alpha` (`None` for α = 0).
pub fn check_algorithms(
    vocab: &Vocab<'_>,
    text: &[u8],
    alpha: f64,
    table: Option<&SamplingTable<'_>>,
    seed: u64,
) {
    let n = text.len();
    let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
    let mut out = vec![Token::default(); n];
    let mut rng = SmallRng::seed_from_u64(seed);

    let k = viterbi_decode(vocab, text, &mut Scratch::new(&mut s, &mut r), &mut out)
        .expect("decode on a validated vocabulary");
    let best = tiling_score(vocab, text, &out[..k]);
    if k > 0 {
        let short = viterbi_decode(
            vocab,
            text,
            &mut Scratch::new(&mut s, &mut r),
            &mut out[..k - 1],
        );
        assert!(
            matches!(short, Err(Error::CapacityExceeded { .. })),
            "{short:?}"
        );
    }

    for sampler in ["perfect", "log-domain", "legacy"] {
        let mut scratch = Scratch::new(&mut s, &mut r);
        let k = match (sampler, table) {
            ("perfect", Some(t)) => {
                viterbi_sample(vocab, t, text, &mut rng, &mut scratch, &mut out)
            }
            ("perfect", None) => continue,
            ("log-domain", _) => {
                viterbi_sample_log(vocab, alpha, text, &mut rng, &mut scratch, &mut out)
            }
            _ => viterbi_sample_legacy(vocab, alpha, text, &mut rng, &mut scratch, &mut out),
        }
        .unwrap_or_else(|e| panic!("{sampler} sampler: {e}"));
        let score = tiling_score(vocab, text, &out[..k]);
        assert!(
            score <= best,
            "{sampler} sampler scores {score} > decode {best}"
        );
    }

    const K: usize = 4;
    let mut entries = vec![NBestEntry::default(); (n + 1) * K];
    let list = nbest(vocab, text, K, &mut entries).expect("k-best");
    assert!(!list.is_empty());
    let mut previous = f64::INFINITY;
    for i in 0..list.len() {
        let k = list.write_path(i, &mut out).expect("k-best path");
        let score = tiling_score(vocab, text, &out[..k]);
        assert_eq!(Some(score), list.score(i), "path {i}");
        assert!(score <= previous, "k-best order");
        previous = score;
    }
    assert_eq!(list.score(0), Some(best), "k-best top vs decode");
    list.sample(alpha, &mut rng).expect("k-best sampling");

    if n <= ENUMERATE_UP_TO {
        let mut path = vec![Token::default(); n];
        let mut max = f64::NEG_INFINITY;
        enumerate(vocab, text, &mut path, 1 << 20, |tokens, score| {
            assert_eq!(score, tiling_score(vocab, text, tokens));
            max = max.max(score);
        })
        .expect("enumeration of a short text");
        assert_eq!(max, best, "decode vs enumeration");
    }
}

/// Assert that `tokens` tile `text` with pieces of `vocab` and return the
/// segmentation's score, summed left to right as the decoder does.
fn tiling_score(vocab: &Vocab<'_>, text: &[u8], tokens: &[Token]) -> f64 {
    let mut pos = 0usize;
    let mut score = 0.0;
    for t in tokens {
        assert_eq!(t.start as usize, pos, "tokens must be contiguous");
        assert!(t.end > t.start, "empty token");
        let piece = text.get(t.range()).expect("token inside the text");
        assert_eq!(vocab.lookup(piece), Some(t.id), "token is not its piece");
        score += vocab.score(t.id).expect("score of a piece");
        pos = t.end as usize;
    }
    assert_eq!(pos, text.len(), "tokens must cover the text");
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use kexue_core::tokenizer::compile::compile_pieces;

    fn toy() -> Vec<u8> {
        let pieces: Vec<(Vec<u8>, u32, u64)> = vec![
            (b"ab".to_vec(), 300, 50),
            (b"abc".to_vec(), 301, 10),
            (b"bc".to_vec(), 302, 30),
        ];
        compile_pieces(&pieces, true).unwrap()
    }

    #[test]
    fn the_restated_checksum_is_the_blobs() {
        let blob = toy();
        let stored = u64::from_le_bytes(blob[32..40].try_into().unwrap());
        assert_eq!(blob_checksum(&blob[HEADER..]), stored);
    }

    #[test]
    fn check_blob_runs_the_algorithms_on_a_valid_blob_and_survives_garbage() {
        let mut data = vec![5u8];
        data.extend_from_slice(b"abcab");
        data.extend_from_slice(&toy());
        check_blob(&data);
        check_blob(&[]);
        check_blob(&[200, 1, 2, 3]);
        let mut broken = data.clone();
        broken[6 + 20] ^= 0xff;
        check_blob(&broken);
    }

    #[test]
    #[should_panic(expected = "token is not its piece")]
    fn tiling_score_catches_a_wrong_id() {
        let blob = toy();
        let vocab = Vocab::from_blob(&blob).unwrap();
        let tokens = [Token {
            id: 300,
            start: 0,
            end: 1,
        }];
        tiling_score(&vocab, b"a", &tokens);
    }
}
