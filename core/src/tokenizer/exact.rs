//! Exact analysis of the segmentation distribution `P(w) = e^{α S(w)} / Z(α)`
//! (ours, beyond the posts of 2023-09-16 and 2023-10-16): enumeration of every
//! segmentation of a short input, the log-partition function `ln Z(α)`,
//! per-piece marginals by forward–backward, and the entropy
//! `H(α) = ln Z − α E[S(w)]` (nats).
//!
//! Forward–backward needs two `f64` per position ([`FB_BYTES_PER_INPUT_BYTE`]).

use super::{Error, Token, Vocab, check_input};
use crate::math;

/// Scratch bytes per input byte of [`forward_backward`], [`marginals`] and
/// [`entropy`] (two `f64`: forward and backward log-sums).
pub const FB_BYTES_PER_INPUT_BYTE: usize = 16;

/// The next piece starting at `start` that ends after `after`, shortest first.
fn next_piece(vocab: &Vocab<'_>, text: &[u8], start: usize, after: usize) -> Option<Token> {
    let rest = text.get(start..)?;
    vocab
        .common_prefix_search(rest)
        .find(|m| start + m.len > after)
        .map(|m| Token {
            id: m.id,
            start: start as u32,
            end: (start + m.len) as u32,
        })
}

fn score_of(vocab: &Vocab<'_>, tokens: &[Token]) -> f64 {
    tokens.iter().fold(0.0, |acc, t| {
        acc + vocab.score(t.id).unwrap_or(f64::NEG_INFINITY)
    })
}

/// Call `f(tokens, S(w))` for every segmentation of `text` (in lexicographic
/// order of token lengths, shortest first), with `S(w) = Σ v(w_i)` summed left
/// to right. `path` is the caller's stack (at least `text.len()` tokens).
/// Returns the number of segmentations.
///
/// # Errors
/// [`Error::CapacityExceeded`] if `path` is shorter than `text`;
/// [`Error::TooManySegmentations`] as soon as more than `max` are found (the
/// count grows exponentially with length: meant for short inputs).
///
/// ```
/// # #[cfg(feature = "std")] {
/// use kexue_core::tokenizer::{compile::compile_pieces, exact::enumerate, Token, Vocab};
/// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 5)], true).unwrap();
/// let vocab = Vocab::from_blob(&blob).unwrap();
/// let mut path = [Token::default(); 3];
/// let mut lens = Vec::new();
/// let n = enumerate(&vocab, b"abc", &mut path, 10, |t, _| lens.push(t.len())).unwrap();
/// assert_eq!((n, lens), (2, vec![3, 2])); // a|b|c and ab|c
/// # }
/// ```
pub fn enumerate(
    vocab: &Vocab<'_>,
    text: &[u8],
    path: &mut [Token],
    max: usize,
    mut f: impl FnMut(&[Token], f64),
) -> Result<usize, Error> {
    let n = text.len();
    check_input(n, path.len())?;
    let mut count = 0usize;
    let mut depth = 0usize;
    let mut pos = 0usize;
    loop {
        if pos < n {
            // Descend with the shortest piece (a single byte always exists).
            let Some(t) = next_piece(vocab, text, pos, pos) else {
                return Err(Error::CorruptBlob("no piece at a position"));
            };
            let slot = path.get_mut(depth).ok_or(Error::CapacityExceeded {
                needed: depth + 1,
                capacity: n,
            })?;
            *slot = t;
            depth += 1;
            pos = t.end as usize;
            continue;
        }
        let tokens = path.get(..depth).unwrap_or_default();
        count += 1;
        if count > max {
            return Err(Error::TooManySegmentations { limit: max });
        }
        f(tokens, score_of(vocab, tokens));
        // Backtrack: replace the deepest token that has a longer alternative.
        loop {
            if depth == 0 {
                return Ok(count);
            }
            depth -= 1;
            let last = path.get(depth).copied().unwrap_or_default();
            if let Some(t) = next_piece(vocab, text, last.start as usize, last.end as usize) {
                if let Some(slot) = path.get_mut(depth) {
                    *slot = t;
                }
                depth += 1;
                pos = t.end as usize;
                break;
            }
        }
    }
}

/// `ln Σ_i e^{α s_i}` over scores `s_i` (streaming, stable) — the log-partition
/// function from an enumeration.
///
/// # Errors
/// [`Error::InvalidAlpha`] for NaN, ±∞ or negative α.
///
/// ```
/// use kexue_core::tokenizer::exact::log_partition_of_scores;
/// let z = log_partition_of_scores([0.0, 0.0].into_iter(), 1.0).unwrap();
/// assert!((z - 2f64.ln()).abs() < 1e-15);
/// ```
pub fn log_partition_of_scores(
    scores: impl Iterator<Item = f64>,
    alpha: f64,
) -> Result<f64, Error> {
    super::sample::check_alpha(alpha)?;
    Ok(scores.fold(f64::NEG_INFINITY, |acc, s| {
        math::log_add_exp(acc, alpha * s)
    }))
}

/// Forward–backward in the log domain: `fwd[e] = ln Σ_{paths 0→e} e^{α S}`,
/// `bwd[s] = ln Σ_{paths s→n} e^{α S}`; returns `ln Z(α) = fwd[n] = bwd[0]`.
/// Both slices need `text.len() + 1` elements.
///
/// # Errors
/// [`Error::InvalidAlpha`], [`Error::CapacityExceeded`], [`Error::InputTooLong`].
pub fn forward_backward(
    vocab: &Vocab<'_>,
    text: &[u8],
    alpha: f64,
    fwd: &mut [f64],
    bwd: &mut [f64],
) -> Result<f64, Error> {
    super::sample::check_alpha(alpha)?;
    let n = text.len();
    check_input(n, fwd.len().min(bwd.len()).saturating_sub(1))?;
    let (Some(fwd), Some(bwd)) = (fwd.get_mut(..=n), bwd.get_mut(..=n)) else {
        return Err(Error::CapacityExceeded {
            needed: n,
            capacity: 0,
        });
    };
    fwd.fill(f64::NEG_INFINITY);
    bwd.fill(f64::NEG_INFINITY);
    if let Some(f0) = fwd.first_mut() {
        *f0 = 0.0;
    }
    for start in 0..n {
        let fs = fwd.get(start).copied().unwrap_or(f64::NEG_INFINITY);
        vocab.for_each_piece_from(text, start, |end, id| {
            if let Some(fe) = fwd.get_mut(end) {
                *fe = math::log_add_exp(*fe, fs + alpha * vocab.score_of(id));
            }
        });
    }
    if let Some(bn) = bwd.get_mut(n) {
        *bn = 0.0;
    }
    for start in (0..n).rev() {
        let mut acc = f64::NEG_INFINITY;
        vocab.for_each_piece_from(text, start, |end, id| {
            let be = bwd.get(end).copied().unwrap_or(f64::NEG_INFINITY);
            acc = math::log_add_exp(acc, alpha * vocab.score_of(id) + be);
        });
        if let Some(bs) = bwd.get_mut(start) {
            *bs = acc;
        }
    }
    Ok(fwd.get(n).copied().unwrap_or(f64::NEG_INFINITY))
}

/// `ln Z(α)`, the log-partition function over all segmentations of `text`
/// (forward pass; `fwd` needs `text.len() + 1` elements).
///
/// # Errors
/// As [`forward_backward`].
pub fn log_partition(
    vocab: &Vocab<'_>,
    text: &[u8],
    alpha: f64,
    fwd: &mut [f64],
) -> Result<f64, Error> {
    super::sample::check_alpha(alpha)?;
    let n = text.len();
    check_input(n, fwd.len().saturating_sub(1))?;
    let Some(fwd) = fwd.get_mut(..=n) else {
        return Err(Error::CapacityExceeded {
            needed: n,
            capacity: 0,
        });
    };
    fwd.fill(f64::NEG_INFINITY);
    if let Some(f0) = fwd.first_mut() {
        *f0 = 0.0;
    }
    for start in 0..n {
        let fs = fwd.get(start).copied().unwrap_or(f64::NEG_INFINITY);
        vocab.for_each_piece_from(text, start, |end, id| {
            if let Some(fe) = fwd.get_mut(end) {
                *fe = math::log_add_exp(*fe, fs + alpha * vocab.score_of(id));
            }
        });
    }
    Ok(fwd.get(n).copied().unwrap_or(f64::NEG_INFINITY))
}

/// `ln P(w) = α S(w) − ln Z(α)` of a given segmentation `tokens` of `text`.
///
/// # Errors
/// [`Error::InvalidArgument`] if `tokens` do not tile `text` with pieces of the
/// vocabulary; otherwise as [`log_partition`].
pub fn segmentation_log_prob(
    vocab: &Vocab<'_>,
    text: &[u8],
    tokens: &[Token],
    alpha: f64,
    fwd: &mut [f64],
) -> Result<f64, Error> {
    let mut pos = 0usize;
    for t in tokens {
        let piece = text
            .get(t.range())
            .ok_or(Error::InvalidArgument("token out of range"))?;
        if t.start as usize != pos || t.is_empty() || vocab.lookup(piece) != Some(t.id) {
            return Err(Error::InvalidArgument(
                "tokens do not tile the text with pieces",
            ));
        }
        pos = t.end as usize;
    }
    if pos != text.len() {
        return Err(Error::InvalidArgument("tokens do not cover the text"));
    }
    let log_z = log_partition(vocab, text, alpha, fwd)?;
    Ok(alpha * score_of(vocab, tokens) - log_z)
}

/// The marginal probability of one piece occurrence in the lattice.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PieceMarginal {
    /// The occurrence `text[start..end]` with its id.
    pub token: Token,
    /// `P(the segmentation uses this occurrence)`.
    pub prob: f64,
}

/// Every piece occurrence `text[s..e]` of the lattice with its marginal
/// probability `exp(fwd[s] + α v + bwd[e] − ln Z)` (forward–backward), in scan
/// order (by start, then length). Returns `(count, ln Z)`.
///
/// # Errors
/// [`Error::CapacityExceeded`] if `out` has fewer slots than the lattice has
/// edges (at most `text.len() × longest piece`); otherwise as [`forward_backward`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use kexue_core::tokenizer::{compile::compile_pieces, exact::{marginals, PieceMarginal}, Vocab};
/// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 5)], true).unwrap();
/// let vocab = Vocab::from_blob(&blob).unwrap();
/// let (mut f, mut b) = ([0.0; 3], [0.0; 3]);
/// let mut out = [PieceMarginal::default(); 8];
/// let (k, _) = marginals(&vocab, b"ab", 1.0, &mut f, &mut b, &mut out).unwrap();
/// // "a" then "b" (one path) and "ab" (the other) share the mass: P(a) = P(b) = 1 − P(ab).
/// assert_eq!(k, 3);
/// assert!((out[0].prob + out[1].prob - 1.0).abs() < 1e-12);
/// # }
/// ```
pub fn marginals(
    vocab: &Vocab<'_>,
    text: &[u8],
    alpha: f64,
    fwd: &mut [f64],
    bwd: &mut [f64],
    out: &mut [PieceMarginal],
) -> Result<(usize, f64), Error> {
    let log_z = forward_backward(vocab, text, alpha, fwd, bwd)?;
    let mut count = 0usize;
    let mut overflow = false;
    for start in 0..text.len() {
        let fs = fwd.get(start).copied().unwrap_or(f64::NEG_INFINITY);
        vocab.for_each_piece_from(text, start, |end, id| {
            let be = bwd.get(end).copied().unwrap_or(f64::NEG_INFINITY);
            let prob = math::exp(fs + alpha * vocab.score_of(id) + be - log_z);
            match out.get_mut(count) {
                Some(slot) => {
                    *slot = PieceMarginal {
                        token: Token {
                            id: u32::from(id),
                            start: start as u32,
                            end: end as u32,
                        },
                        prob,
                    }
                }
                None => overflow = true,
            }
            count += 1;
        });
    }
    if overflow {
        return Err(Error::CapacityExceeded {
            needed: count,
            capacity: out.len(),
        });
    }
    Ok((count, log_z))
}

/// The entropy (nats) of the segmentation distribution at `α`:
/// `H(α) = ln Z(α) − α Σ_edges P(edge) v(edge)` (forward–backward, no
/// enumeration). `H(0) = ln(number of segmentations)`; `H → 0` as α → ∞ when
/// the best segmentation is unique.
///
/// # Errors
/// As [`forward_backward`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use kexue_core::tokenizer::{compile::compile_pieces, exact::entropy, Vocab};
/// let blob = compile_pieces(&[(b"ab".to_vec(), 5, 7)], true).unwrap();
/// let vocab = Vocab::from_blob(&blob).unwrap();
/// let (mut f, mut b) = ([0.0; 3], [0.0; 3]);
/// let h0 = entropy(&vocab, b"ab", 0.0, &mut f, &mut b).unwrap();
/// assert!((h0 - 2f64.ln()).abs() < 1e-12); // two segmentations, uniform at α = 0
/// # }
/// ```
pub fn entropy(
    vocab: &Vocab<'_>,
    text: &[u8],
    alpha: f64,
    fwd: &mut [f64],
    bwd: &mut [f64],
) -> Result<f64, Error> {
    let log_z = forward_backward(vocab, text, alpha, fwd, bwd)?;
    let mut expected = 0.0;
    for start in 0..text.len() {
        let fs = fwd.get(start).copied().unwrap_or(f64::NEG_INFINITY);
        vocab.for_each_piece_from(text, start, |end, id| {
            let v = vocab.score_of(id);
            let be = bwd.get(end).copied().unwrap_or(f64::NEG_INFINITY);
            expected += math::exp(fs + alpha * v + be - log_z) * v;
        });
    }
    Ok((log_z - alpha * expected).max(0.0))
}
