//! Deterministic Viterbi decoding (post of 2023-09-16) and the caller-owned
//! scratch space shared by every algorithm.

use super::blob::{DEAD, Node, Steps, nid};
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

/// The route code of the decode's scans: `(piece length << 16) | !id`, with
/// the score index `!id` as the trie records hold it (the blob stores ids
/// complemented because the fast score lookup indexes by `!id`, see
/// [`super::blob`]); [`backtrack_flipped`] undoes the complement.
#[inline(always)]
fn decode_code(len: u32, nid: u16) -> u32 {
    decode_code_shifted(len << 16, nid)
}

/// [`decode_code`] with the length already shifted into place (`len << 16`,
/// as the walk list's start tags give it).
#[inline(always)]
fn decode_code_shifted(len_field: u32, nid: u16) -> u32 {
    len_field | u32::from(nid)
}

/// Write the segmentation stored in `route` (ending at `n`) into `out`, in
/// order. Returns the number of tokens.
pub(crate) fn backtrack(route: &[u32], n: usize, out: &mut [Token]) -> Result<usize, Error> {
    backtrack_flipped(route, n, out, 0)
}

/// [`backtrack`] for route codes that hold the score index `!id` (those of
/// the decode's scans and of the linear samplers).
pub(crate) fn backtrack_nid(route: &[u32], n: usize, out: &mut [Token]) -> Result<usize, Error> {
    backtrack_flipped(route, n, out, 0xffff)
}

/// [`backtrack`] for route codes whose id field is `id ^ flip`. One walk back
/// along the route (a chain of dependent loads, one per token), writing the
/// tokens backwards into the end of `out`, then one move to the front: a
/// first pass that only counted would walk the chain twice. If `out` is too
/// short, the walk goes on counting (the error names the tokens needed) and
/// `out` holds the last tokens of the segmentation, not a prefix.
fn backtrack_flipped(
    route: &[u32],
    n: usize,
    out: &mut [Token],
    flip: u16,
) -> Result<usize, Error> {
    let capacity = out.len();
    let mut free = capacity; // out[free..] holds the tokens found so far
    let mut count = 0usize;
    let mut e = n;
    while e > 0 {
        let code = route.get(e).copied().unwrap_or(0);
        // A length of 0 or beyond `e` (start ≥ e, wrapping) is a broken route.
        let start = e.wrapping_sub((code >> 16) as usize);
        if start >= e {
            return Err(Error::CorruptBlob("broken route (internal error)"));
        }
        if let Some(slot) = free.checked_sub(1).and_then(|k| out.get_mut(k)) {
            *slot = Token {
                id: (code ^ u32::from(flip)) & 0xffff,
                start: start as u32,
                end: e as u32,
            };
            free -= 1;
        }
        count += 1;
        e = start;
    }
    if count > capacity {
        return Err(Error::CapacityExceeded {
            needed: count,
            capacity,
        });
    }
    out.copy_within(free.., 0);
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
/// room for fewer tokens than the segmentation has (nothing is truncated:
/// `needed` is the token count, and `out`'s contents are unspecified);
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
    if let Some(b) = best.first_mut() {
        *b = 0.0;
    }
    // Both orders give identical results; which is faster depends on the
    // text (measured: the position order on mostly-ASCII text, the start
    // order on CJK, whose many one-byte walks from continuation bytes end early).
    match vocab.fast() {
        Some(fast) => decode_with(fast, text, best, route),
        None => decode_with(*vocab, text, best, route),
    }
    backtrack_flipped(route, n, out, 0xffff)
}

/// Both scans over `V`'s lookups (a [`super::blob::Fast`] view when the
/// vocabulary has one, else the checked ones).
#[inline(always)]
fn decode_with<V: Steps>(vocab: V, text: &[u8], best: &mut [f64], route: &mut [u32]) {
    if !super::mostly_ascii(text) || !decode_active(vocab, text, route) {
        decode_per_start(vocab, text, best, route);
    }
}

/// Most walks alive at once in the walk list of [`decode_active`] (a walk
/// lives at most as many steps as the longest piece; 36 for the BytePiece
/// models).
pub(crate) const ACTIVE: usize = 64;

/// Walks that [`decode_active`] keeps in registers rather than in its walk
/// list: those started at `e − 2 … e − 1 − YOUNG`. Measured on en-dev
/// (in-process, paired passes, median of 15–25 per-pair ratios against the
/// list-only loop, identical output): 2 → 1.13–1.25×, 3 → 1.12–1.19×,
/// 4 → 1.14–1.31×.
pub(crate) const YOUNG: usize = 4;

/// Viterbi by end position with the set of live trie walks: at position `e`
/// every walk started at `s < e` that is still inside the trie takes its step
/// by `text[e−1]` (independent loads, so they overlap in the CPU), in
/// increasing `s` — longest piece first, as the tie rule requires — and the
/// best candidate is kept with a strict `>`, branch-free.
///
/// The youngest walks are not in the walk list: the walk from `e − 1` takes
/// its first step from the root (every single byte is a piece, so it always
/// lives), and the walks from `e − 2 … e − 1 − YOUNG` are held in fixed slots
/// and stepped in straight-line code after the list, a dead one ([`DEAD`]: unit 0, which
/// has no children — validated in [`Vocab::from_blob`]) stepping to a
/// candidate of score −∞. Only walks older than that — inside long matches —
/// go through the list loop, whose trip count is then mostly 0 or small: on
/// English about 20 % fewer instructions per byte and, in cachegrind's model,
/// one mispredicted branch per byte fewer. Only the routes are written: the
/// best score at `e` lives in a register (`prev`) and in the walks' start
/// values, which nothing reads from the scratch (cachegrind, English: 203.1 →
/// 201.8 instructions per byte). Returns false (having written garbage) if
/// more than [`ACTIVE`] walks were in the list at once, so that the caller
/// falls back to [`decode_per_start`].
fn decode_active<V: Steps>(vocab: V, text: &[u8], route: &mut [u32]) -> bool {
    const { assert!(YOUNG == 4, "the loop below is unrolled by YOUNG") };
    let mut w = Walks {
        nodes: [DEAD; ACTIVE],
        bases: [0f64; ACTIVE],
        tags: [0u32; ACTIVE],
    };
    let mut young = Young {
        node: [DEAD; YOUNG],
        base: [f64::NEG_INFINITY; YOUNG],
        prev: 0.0,
        count: 0,
    };
    let root = vocab.root();
    let mut e = 0u32;
    let mut todo = text.iter().zip(route.iter_mut().skip(1));
    // Unrolled by YOUNG so that each copy knows `e mod YOUNG`, which names
    // the young walks' slots (slot = start mod YOUNG): no values move
    // between slots from one position to the next, where a shifted array
    // cost five register moves and three spilled nodes per byte (cachegrind,
    // en-dev's first 300 KB: 201.8 → 194.8 instructions per byte; paired
    // `tests/peers/ab.py` on en-dev 1.013× and 1.019×, in busy phases).
    macro_rules! position {
        ($p:literal) => {
            let Some((&c, r)) = todo.next() else {
                return true;
            };
            e = e.wrapping_add(1);
            match active_position::<V, $p>(vocab, root, &mut w, &mut young, e, c) {
                Some(code) => *r = code,
                None => return false,
            }
        };
    }
    loop {
        position!(1);
        position!(2);
        position!(3);
        position!(0);
    }
}

/// The walk list of [`decode_active`]'s scan, indexed at run time (so it
/// lives in memory).
struct Walks {
    /// The list walks (started before `e − 1 − YOUNG`), oldest first: their
    /// units, the best scores at their starts, and their tags (the start
    /// shifted into the length field of a route code, so that `end_tag −
    /// tag` is the piece length in place).
    nodes: [Node; ACTIVE],
    bases: [f64; ACTIVE],
    tags: [u32; ACTIVE],
}

/// The rest of [`decode_active`]'s state, indexed by constants only, so
/// that it lives in registers: the young walks, in slot `start mod YOUNG` —
/// their units (0 if dead or not started yet) and the best scores at their
/// starts —, the best score at `e − 1` and the list's length. (Kept in one
/// struct with [`Walks`], it stayed in memory and LLVM vectorised the four
/// young index computations: 0.65× on en-dev.)
struct Young {
    node: [Node; YOUNG],
    base: [f64; YOUNG],
    /// The best score at `e − 1`.
    prev: f64,
    /// Walks in the list.
    count: usize,
}

/// One position `e` (with `P = e mod YOUNG`) of [`decode_active`]: the route
/// code at `e`, or `None` if the list overflowed.
#[inline(always)]
fn active_position<V: Steps, const P: usize>(
    vocab: V,
    root: Node,
    w: &mut Walks,
    y: &mut Young,
    e: u32,
    c: u8,
) -> Option<u32> {
    let mut best_e = f64::NEG_INFINITY;
    let mut route_e = 0u32;
    let mut kept = 0usize;
    let end_tag = e << 16;
    // The walks started before e − 1 − YOUNG, longest pieces first.
    for i in 0..y.count.min(ACTIVE) {
        #[expect(clippy::indexing_slicing, reason = "kept ≤ i < count ≤ ACTIVE")]
        {
            // A dead walk is dropped (not kept) and its score index 0xffff (id 0, score −∞).
            let (unit, nid, ok) = vocab.step(w.nodes[i], c);
            let base = w.bases[i];
            let tag = w.tags[i];
            let cand = base + vocab.score_of_nid(nid);
            let better = cand > best_e;
            best_e = if better { cand } else { best_e };
            route_e = if better {
                decode_code_shifted(end_tag.wrapping_sub(tag), nid)
            } else {
                route_e
            };
            // (kept ≤ i < ACTIVE: the mask changes nothing and spares
            // the bounds checks.)
            w.nodes[kept & (ACTIVE - 1)] = unit;
            w.bases[kept & (ACTIVE - 1)] = base;
            w.tags[kept & (ACTIVE - 1)] = tag;
            kept += usize::from(ok);
        }
    }
    if kept >= ACTIVE {
        return None;
    }
    // The young walks, oldest (longest candidate) first: the walk from
    // e − 2 − j sits in slot (e − 2 − j) mod YOUNG; the oldest joins the
    // list if it lives on, and its slot takes the walk from e − 1.
    for j in (0..YOUNG).rev() {
        let slot = (P + 2 * YOUNG - 2 - j) % YOUNG;
        #[expect(
            clippy::indexing_slicing,
            reason = "slot < YOUNG; kept < ACTIVE checked above"
        )]
        {
            let (unit, nid, ok) = vocab.step(y.node[slot], c);
            let cand = y.base[slot] + vocab.score_of_nid(nid);
            let better = cand > best_e;
            best_e = if better { cand } else { best_e };
            route_e = if better {
                decode_code(j as u32 + 2, nid)
            } else {
                route_e
            };
            y.node[slot] = unit;
            if j == YOUNG - 1 {
                w.nodes[kept] = unit;
                w.bases[kept] = y.base[slot];
                w.tags[kept] = e.wrapping_sub(j as u32 + 2) << 16;
                kept += usize::from(ok);
            }
        }
    }
    // The walk from e − 1 takes its first step, from the root: the
    // shortest candidate, last. Every single byte is a piece (validated
    // in `Vocab::from_blob`), so the record is the child; no check.
    let unit = vocab.record(root, c);
    let root_nid = nid(unit);
    let cand = y.prev + vocab.score_of_nid(root_nid);
    if cand > best_e {
        best_e = cand;
        route_e = decode_code(1, root_nid);
    }
    let slot = (P + YOUNG - 1) % YOUNG;
    #[expect(clippy::indexing_slicing, reason = "slot < YOUNG")]
    {
        y.node[slot] = unit;
        y.base[slot] = y.prev;
    }
    y.count = kept;
    y.prev = best_e;
    Some(route_e)
}

/// Viterbi by start position: walk the trie from every start and relax the
/// end positions (the textbook order; used when [`decode_active`] cannot be).
#[expect(
    clippy::indexing_slicing,
    reason = "start < n, e < stop ≤ n = text.len(), and best, route have n + 1 entries"
)]
// Not inlined: inlined into `viterbi_decode`, it changed the register
// allocation of `decode_active`'s walk list (cachegrind, en-dev's first
// 300 KB: 199.1 → 208.9 instructions per byte; not inlined: 203.1).
#[inline(never)]
fn decode_per_start<V: Steps>(vocab: V, text: &[u8], best: &mut [f64], route: &mut [u32]) {
    let n = text.len();
    let (Some(best), Some(route)) = (best.get_mut(..=n), route.get_mut(..=n)) else {
        return;
    };
    best.fill(f64::NEG_INFINITY);
    best[0] = 0.0;
    let root = vocab.root();
    // best[start], carried in a register: best[start + 1] is final once the
    // walk from `start` has taken its first step (later walks end further
    // on), so the next start need not wait for it through memory.
    let mut base = 0.0f64;
    for start in 0..n {
        // The first step, from the root: every single byte is a piece
        // (validated in `Vocab::from_blob`), so the record is the child. It
        // is the shortest candidate at start + 1, so the last to arrive.
        let node = vocab.record(root, text[start]);
        let root_nid = nid(node);
        let cand = base + vocab.score_of_nid(root_nid);
        let better = cand > best[start + 1];
        let next = if better { cand } else { best[start + 1] };
        best[start + 1] = next;
        if better {
            route[start + 1] = decode_code(1, root_nid);
        }
        let stop = start + super::MAX_PIECE_BYTES;
        // Branch-free update: non-pieces have id 0 and score −∞, never `>`.
        vocab.walk_on(node, text, start + 1, stop, |e, nid| {
            let code = decode_code((e - start) as u32, nid);
            let cand = base + vocab.score_of_nid(nid);
            let better = cand > best[e];
            best[e] = if better { cand } else { best[e] };
            route[e] = if better { code } else { route[e] };
        });
        base = next;
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    /// Both scan orders must agree exactly (routes included) on every input.
    #[test]
    fn position_and_start_orders_agree() {
        use crate::tokenizer::compile::compile_scored;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        // Small alphabet, many overlapping pieces with tie-prone scores.
        let mut pieces: Vec<(Vec<u8>, u32, f64)> = (0..=255u8)
            .map(|b| (vec![b], 3 + u32::from(b), -8.0))
            .collect();
        let mut id = 300;
        for len in 2..=6 {
            for _ in 0..40 {
                let p: Vec<u8> = (0..len)
                    .map(|_| b'a' + (rng.next_u32() % 3) as u8)
                    .collect();
                if pieces.iter().any(|q| q.0 == p) {
                    continue;
                }
                pieces.push((p, id, -f64::from(rng.next_u32() % 4 + 6)));
                id += 1;
            }
        }
        let blob = compile_scored(&pieces).unwrap();
        let vocab = Vocab::from_blob(&blob).unwrap();
        assert!(vocab.fast().is_none(), "a small blob has no fast view");
        let mut store = Default::default();
        let fast = crate::tokenizer::blob::Fast::padded(&vocab, &mut store);
        for _ in 0..300 {
            let len = (rng.next_u32() % 40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| b'a' + (rng.next_u32() % 4) as u8)
                .collect();
            // (The position order keeps no scores: the routes are the result.)
            let mut r1 = vec![0u32; len + 1];
            let (mut b2, mut r2) = (vec![0.0; len + 1], vec![0u32; len + 1]);
            assert!(decode_active(vocab, &text, &mut r1));
            decode_per_start(vocab, &text, &mut b2, &mut r2);
            assert_eq!(r1[1..], r2[1..], "{text:?}");
            // The fixed-size views give the same results as the checked lookups.
            let mut r3 = vec![0u32; len + 1];
            let (mut b4, mut r4) = (vec![0.0; len + 1], vec![0u32; len + 1]);
            assert!(decode_active(fast, &text, &mut r3));
            decode_per_start(fast, &text, &mut b4, &mut r4);
            assert_eq!(r3[1..], r1[1..], "{text:?}");
            assert_eq!((&r4[1..], &b4[1..]), (&r1[1..], &b2[1..]), "{text:?}");
        }
    }
}
