//! Deterministic Viterbi decoding (post of 2023-09-16) and the caller-owned
//! scratch space shared by every algorithm.

use super::{Error, Token, Vocab, check_input};

/// Caller-owned scratch for one input of up to [`Scratch::capacity`] bytes:
/// one `f64` (path score / normaliser) and one `u32` (route) per position
/// `0..=n`, i.e. [`Scratch::BYTES_PER_INPUT_BYTE`] bytes per input byte.
///
/// ```
/// use kexue_core::tokenizer::Scratch;
/// let (mut s, mut r) = ([0.0; 11], [0u32; 11]);
/// assert_eq!(Scratch::new(&mut s, &mut r).capacity(), 10);
/// ```
#[derive(Debug)]
pub struct Scratch<'s> {
    pub(crate) score: &'s mut [f64],
    pub(crate) route: &'s mut [u32],
}

impl<'s> Scratch<'s> {
    /// Scratch bytes needed per input byte (one `f64` + one `u32`).
    pub const BYTES_PER_INPUT_BYTE: usize = 12;

    /// Wrap two caller buffers; the capacity is `min(len) − 1` input bytes.
    pub fn new(score: &'s mut [f64], route: &'s mut [u32]) -> Self {
        Self { score, route }
    }

    /// Longest input (in bytes) this scratch serves.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.score.len().min(self.route.len()).saturating_sub(1)
    }

    /// Buffers of exactly `n + 1` elements for an `n`-byte input.
    pub(crate) fn buffers(&mut self, n: usize) -> Result<(&mut [f64], &mut [u32]), Error> {
        let capacity = self.capacity();
        check_input(n, capacity)?;
        match (self.score.get_mut(..=n), self.route.get_mut(..=n)) {
            (Some(s), Some(r)) => Ok((s, r)),
            _ => Err(Error::CapacityExceeded {
                needed: n,
                capacity,
            }),
        }
    }
}

/// Route encoding: `(piece length << 16) | id`. Pieces are at most
/// `MAX_PIECE_BYTES` = 65535 bytes, ids < 65536.
#[inline(always)]
pub(crate) fn route_code(len: usize, id: u16) -> u32 {
    ((len as u32) << 16) | u32::from(id)
}

/// Write the segmentation stored in `route` (ending at `n`) into `out`, in
/// order. Returns the number of tokens.
pub(crate) fn backtrack(route: &[u32], n: usize, out: &mut [Token]) -> Result<usize, Error> {
    // Count first, so a short `out` is an error before anything is written.
    let mut count = 0usize;
    let mut e = n;
    while e > 0 {
        let len = (route.get(e).copied().unwrap_or(0) >> 16) as usize;
        if len == 0 || len > e {
            return Err(Error::CorruptBlob("broken route (internal error)"));
        }
        e -= len;
        count += 1;
    }
    if count > out.len() {
        return Err(Error::CapacityExceeded {
            needed: count,
            capacity: out.len(),
        });
    }
    let mut e = n;
    let mut k = count;
    while e > 0 && k > 0 {
        let code = route.get(e).copied().unwrap_or(0);
        let len = (code >> 16) as usize;
        k -= 1;
        if let Some(t) = out.get_mut(k) {
            *t = Token {
                id: code & 0xffff,
                start: (e - len) as u32,
                end: e as u32,
            };
        }
        e -= len;
    }
    Ok(count)
}

/// Deterministic Viterbi decoding, identical to BytePiece: `argmax_w S(w)` with
/// `S(w) = Σ v(w_i)` summed left to right in `f64`; at each end position the
/// candidates are considered longest-first and replace the best only when
/// strictly greater, so an exact tie keeps the longer last piece (post of
/// 2023-09-16; tie rule from the reference implementation).
///
/// Writes the tokens (ids and byte ranges) into `out` and returns their count.
/// Cost `O(n·m)` for `n` bytes and longest match `m`; scratch as [`Scratch`].
///
/// # Errors
/// [`Error::CapacityExceeded`] if `scratch` is shorter than `text` or `out` has
/// room for fewer tokens than the segmentation has (nothing is truncated);
/// [`Error::InputTooLong`] beyond [`super::MAX_INPUT_BYTES`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use kexue_core::tokenizer::{compile::compile_scored, viterbi_decode, Scratch, Token, Vocab};
/// // Toy vocabulary: bytes at −10, "\\\\" (two backslashes) at −10.
/// let mut p: Vec<(Vec<u8>, u32, f64)> = (0..=255u8).map(|b| (vec![b], 3 + u32::from(b), -10.0)).collect();
/// p.push((b"\\\\".to_vec(), 300, -10.0));
/// let blob = compile_scored(&p).unwrap();
/// let vocab = Vocab::from_blob(&blob).unwrap();
/// let (mut s, mut r) = ([0.0; 4], [0u32; 4]);
/// let mut out = [Token::default(); 3];
/// // Three backslashes: `\` `\\` and `\\` `\` tie at −20; the longer last piece wins.
/// let n = viterbi_decode(&vocab, b"\\\\\\", &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
/// assert_eq!(&out[..n], &[Token { id: 3 + 92, start: 0, end: 1 }, Token { id: 300, start: 1, end: 3 }]);
/// # }
/// ```
pub fn viterbi_decode(
    vocab: &Vocab<'_>,
    text: &[u8],
    scratch: &mut Scratch<'_>,
    out: &mut [Token],
) -> Result<usize, Error> {
    let n = text.len();
    let (best, route) = scratch.buffers(n)?;
    best.fill(f64::NEG_INFINITY);
    if let Some(b) = best.first_mut() {
        *b = 0.0;
    }
    for start in 0..n {
        let base = best.get(start).copied().unwrap_or(f64::NEG_INFINITY);
        vocab.for_each_piece_from(text, start, |end, id| {
            let cand = base + vocab.score_of(id);
            if let (Some(b), Some(r)) = (best.get_mut(end), route.get_mut(end))
                && cand > *b
            {
                *b = cand;
                *r = route_code(end - start, id);
            }
        });
    }
    backtrack(route, n, out)
}
