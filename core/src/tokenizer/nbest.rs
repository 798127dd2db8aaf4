//! Subword Regularization (Kudo 2018, the baseline of the post of 2023-10-16):
//! the k best segmentations by k-best Viterbi, and sampling one of them with
//! probability `∝ P(w)^α = e^{α S(w)}`. Correct but ~k times the cost of
//! decoding, and only approximately the full distribution.
//!
//! Scratch: `k` [`NBestEntry`] per position, [`NBEST_BYTES_PER_INPUT_BYTE_PER_K`]
//! bytes per input byte per k.

use rand::Rng;

use super::decode::route_code;
use super::sample::{check_alpha, uniform};
use super::{Error, Token, Vocab, check_input};
use crate::math;

/// Scratch bytes per input byte and per `k` of [`nbest`].
pub const NBEST_BYTES_PER_INPUT_BYTE_PER_K: usize = core::mem::size_of::<NBestEntry>();

/// One of the k best partial paths ending at a position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NBestEntry {
    score: f64,
    code: u32,
    prev_rank: u32,
}

impl Default for NBestEntry {
    fn default() -> Self {
        Self {
            score: f64::NEG_INFINITY,
            code: 0,
            prev_rank: 0,
        }
    }
}

/// The k best segmentations of a text, best first (ties: the one the Viterbi
/// scan meets first, so the first path equals [`super::viterbi_decode`]).
#[derive(Debug)]
pub struct NBest<'s> {
    entries: &'s [NBestEntry],
    k: usize,
    n: usize,
}

/// k-best Viterbi: keeps, per end position, the `k` best partial paths (score,
/// last piece, rank of the predecessor), merged in scan order with a strict
/// `>`; `entries` needs `(text.len() + 1) · k` elements.
///
/// # Errors
/// [`Error::InvalidArgument`] for `k = 0`; [`Error::CapacityExceeded`] if
/// `entries` is too short; [`Error::InputTooLong`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use kexue_core::tokenizer::{compile::compile_pieces, nbest::{nbest, NBestEntry}, Token, Vocab};
/// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 5)], true).unwrap();
/// let vocab = Vocab::from_blob(&blob).unwrap();
/// let mut e = [NBestEntry::default(); 3 * 4];
/// let best = nbest(&vocab, b"ab", 4, &mut e).unwrap();
/// assert_eq!(best.len(), 2); // only two segmentations exist
/// let mut out = [Token::default(); 2];
/// assert_eq!(best.write_path(0, &mut out).unwrap(), 1); // "ab" is the best
/// # }
/// ```
pub fn nbest<'s>(
    vocab: &Vocab<'_>,
    text: &[u8],
    k: usize,
    entries: &'s mut [NBestEntry],
) -> Result<NBest<'s>, Error> {
    if k == 0 {
        return Err(Error::InvalidArgument("k must be at least 1"));
    }
    let n = text.len();
    check_input(n, (entries.len() / k).saturating_sub(1))?;
    let needed = (n + 1) * k;
    let entries = entries.get_mut(..needed).ok_or(Error::CapacityExceeded {
        needed,
        capacity: 0,
    })?;
    entries.fill(NBestEntry::default());
    if let Some(e0) = entries.first_mut() {
        e0.score = 0.0;
    }
    for start in 0..n {
        let (head, tail) = entries.split_at_mut((start + 1) * k);
        let Some(from) = head.get(start * k..) else {
            continue;
        };
        vocab.for_each_piece_from(text, start, |end, id| {
            let v = vocab.score_of(id);
            let Some(to) = tail.get_mut((end - start - 1) * k..(end - start) * k) else {
                return;
            };
            for (rank, e) in from.iter().enumerate() {
                if e.score == f64::NEG_INFINITY {
                    break;
                }
                let cand = e.score + v;
                // First slot with a strictly smaller score (ties keep the earlier).
                let Some(at) = to.iter().position(|x| cand > x.score) else {
                    break; // worse than all k kept; later ranks are worse still
                };
                to.copy_within(at..k - 1, at + 1);
                if let Some(slot) = to.get_mut(at) {
                    *slot = NBestEntry {
                        score: cand,
                        code: route_code(end - start, id),
                        prev_rank: rank as u32,
                    };
                }
            }
        });
    }
    Ok(NBest { entries, k, n })
}

impl NBest<'_> {
    fn last(&self) -> &[NBestEntry] {
        self.entries.get(self.n * self.k..).unwrap_or_default()
    }

    /// Number of segmentations found (≤ k).
    #[must_use]
    pub fn len(&self) -> usize {
        self.last()
            .iter()
            .take_while(|e| e.score > f64::NEG_INFINITY)
            .count()
    }

    /// True if none was found (never: every text has a segmentation).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The score `S(w)` of the `i`-th best segmentation.
    #[must_use]
    pub fn score(&self, i: usize) -> Option<f64> {
        self.last()
            .get(i)
            .map(|e| e.score)
            .filter(|s| *s > f64::NEG_INFINITY)
    }

    /// Write the `i`-th best segmentation into `out`; returns its token count.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `i ≥ len()`; [`Error::CapacityExceeded`]
    /// if `out` is too short.
    pub fn write_path(&self, i: usize, out: &mut [Token]) -> Result<usize, Error> {
        if i >= self.len() {
            return Err(Error::InvalidArgument("path index out of range"));
        }
        let walk = |mut f: Option<&mut [Token]>, count: usize| -> Result<usize, Error> {
            let (mut pos, mut rank, mut c) = (self.n, i, 0usize);
            while pos > 0 {
                let e = self
                    .entries
                    .get(pos * self.k + rank)
                    .ok_or(Error::InvalidArgument("broken path"))?;
                let len = (e.code >> 16) as usize;
                if len == 0 || len > pos {
                    return Err(Error::InvalidArgument("broken path"));
                }
                c += 1;
                if let Some(out) = f.as_deref_mut()
                    && let Some(slot) = out.get_mut(count - c)
                {
                    *slot = Token {
                        id: e.code & 0xffff,
                        start: (pos - len) as u32,
                        end: pos as u32,
                    };
                }
                pos -= len;
                rank = e.prev_rank as usize;
            }
            Ok(c)
        };
        let count = walk(None, 0)?;
        if count > out.len() {
            return Err(Error::CapacityExceeded {
                needed: count,
                capacity: out.len(),
            });
        }
        walk(Some(out), count)
    }

    /// Draw an index `i < len()` with probability `∝ e^{α S_i}` (Subword
    /// Regularization's sampling among the k best).
    ///
    /// # Errors
    /// [`Error::InvalidAlpha`] for NaN, ±∞ or negative α.
    pub fn sample<R: Rng + ?Sized>(&self, alpha: f64, rng: &mut R) -> Result<usize, Error> {
        check_alpha(alpha)?;
        let len = self.len();
        let best = self.score(0).unwrap_or(0.0);
        let total: f64 = (0..len)
            .map(|i| math::exp(alpha * (self.score(i).unwrap_or(best) - best)))
            .sum();
        let mut u = uniform(rng) * total;
        for i in 0..len {
            u -= math::exp(alpha * (self.score(i).unwrap_or(best) - best));
            if u < 0.0 {
                return Ok(i);
            }
        }
        Ok(len.saturating_sub(1))
    }
}
