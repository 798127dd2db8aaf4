//! Viterbi sampling: the perfect sampler of the post of 2023-10-16 (fast
//! linear-domain form with an exact log-domain fallback) and the first post's
//! pairwise-sigmoid sampler (2023-09-16), kept to show its bias.

use rand::Rng;

use super::blob::{DEAD, Steps, nid};
use super::decode::{backtrack, backtrack_nid, route_code};
use super::{Error, Scratch, Token, Vocab};
use crate::math;

/// A uniform `f64` in `[0, 1)` with 53 random bits.
#[inline(always)]
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    unit_interval(rng.next_u64())
}

/// The uniforms of one call of the linear-domain scans: wyrand (Wang Yi's
/// generator of wyhash, as in Go's runtime and the `fastrand` crate — a Weyl
/// sequence through one 64×64→128-bit multiply, passing BigCrush and
/// PractRand) started from one `u64` of the caller's generator. A single word
/// of state stays in a register through the hot loop, where a call into the
/// caller's generator per position costs about 25 instructions (its state
/// round-trips through memory; cachegrind, English text); wyrand takes about 5,
/// SplitMix64 (used before) 12 (measured: 9 fewer instructions per byte in
/// English sampling, which draws at every position: 241 → 232, cachegrind).
struct Draws(u64);

impl Draws {
    /// Seeded by one word of `rng`.
    fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self(rng.next_u64())
    }

    /// The next uniform in `[0, 1)` (53 bits).
    #[inline(always)]
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        unit_interval((t >> 64) as u64 ^ t as u64)
    }
}

/// The top 53 bits of `word` as a uniform in `[0, 1)`.
#[inline(always)]
fn unit_interval(word: u64) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (word >> 11) as f64 * SCALE
}

/// Check `α` is finite and non-negative.
pub(crate) fn check_alpha(alpha: f64) -> Result<(), Error> {
    if alpha.is_nan() {
        Err(Error::InvalidAlpha("NaN"))
    } else if alpha.is_infinite() {
        Err(Error::InvalidAlpha("infinite"))
    } else if alpha < 0.0 {
        Err(Error::InvalidAlpha("negative"))
    } else {
        Ok(())
    }
}

/// Which recursion [`viterbi_sample`] runs for a [`SamplingTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingMode {
    /// Weights `e^{αv}` in `f64`, running sums rescaled by exact powers of two:
    /// no `exp`/`log` per candidate. Used when every weight is ≥ 2^−900.
    Linear,
    /// Log-domain `logsumexp` recursion (one `exp` and one `ln_1p` per candidate):
    /// exact for any `α`, used when `α` is so large that weights leave the
    /// linear range.
    Log,
}

/// The smallest weight `e^{αv}` the linear recursion accepts: with running
/// values kept in `[2^−64, 2^64]`, every product stays a normal `f64`.
const LINEAR_MIN_LOG2_WEIGHT: f64 = -900.0;
/// Running values outside `[2^−RESCALE, 2^RESCALE]` are rescaled.
const RESCALE_LOW: f64 = 1.0 / 18_446_744_073_709_551_616.0; // 2^-64
const RESCALE_HIGH: f64 = 18_446_744_073_709_551_616.0; // 2^64

/// Per-`α` weights for [`viterbi_sample`], in a caller-owned table of
/// [`Vocab::id_space`] `f64`s, or of [`FULL_TABLE_LEN`] (faster: unchecked
/// lookups indexed by `!id`, as the blob's trie records hold ids, so the
/// table is filled in decreasing id order): `e^{α v(id)}` (linear mode) or
/// `α v(id)` (log mode). Building it costs one `exp` per piece, once per `α`.
#[derive(Debug, Clone, Copy)]
pub struct SamplingTable<'t> {
    alpha: f64,
    mode: SamplingMode,
    table: &'t [f64],
}

impl<'t> SamplingTable<'t> {
    /// Fill `table` for `vocab` and `alpha ≥ 0` (α = 0 samples uniformly over
    /// segmentations; larger α concentrates on the Viterbi path).
    ///
    /// # Errors
    /// [`Error::InvalidAlpha`] for NaN, ±∞ or negative α;
    /// [`Error::CapacityExceeded`] if `table.len()` is neither
    /// `vocab.id_space()` nor [`FULL_TABLE_LEN`] (the faster choice).
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use kexue_core::tokenizer::{compile::compile_pieces, SamplingMode, SamplingTable, Vocab};
    /// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 5)], true).unwrap();
    /// let vocab = Vocab::from_blob(&blob).unwrap();
    /// let mut w = vec![0.0; vocab.id_space()];
    /// assert_eq!(SamplingTable::new(&vocab, 0.1, &mut w).unwrap().mode(), SamplingMode::Linear);
    /// assert_eq!(SamplingTable::new(&vocab, 1e4, &mut w).unwrap().mode(), SamplingMode::Log);
    /// assert!(SamplingTable::new(&vocab, f64::NAN, &mut w).is_err());
    /// let mut full = vec![0.0; kexue_core::tokenizer::FULL_TABLE_LEN];
    /// assert!(SamplingTable::new(&vocab, 0.1, &mut full).is_ok());
    /// assert!(SamplingTable::new(&vocab, 0.1, &mut w[1..]).is_err());
    /// # }
    /// ```
    pub fn new(vocab: &Vocab<'_>, alpha: f64, table: &'t mut [f64]) -> Result<Self, Error> {
        check_alpha(alpha)?;
        if table.len() != vocab.id_space() && table.len() != FULL_TABLE_LEN {
            return Err(Error::CapacityExceeded {
                needed: vocab.id_space(),
                capacity: table.len(),
            });
        }
        let (min_score, _) = vocab.score_range();
        let linear = alpha * min_score >= LINEAR_MIN_LOG2_WEIGHT * core::f64::consts::LN_2;
        // A full table in decreasing id order: entry `k` for id `2^16 − 1 − k`.
        let full = table.len() == FULL_TABLE_LEN;
        for (k, w) in table.iter_mut().enumerate() {
            let id = if full { FULL_TABLE_LEN - 1 - k } else { k };
            let v = u32::try_from(id).ok().and_then(|id| vocab.score(id));
            *w = match (v, linear) {
                (Some(v), true) => math::exp(alpha * v),
                (Some(v), false) => alpha * v,
                (None, true) => 0.0,
                (None, false) => f64::NEG_INFINITY,
            };
        }
        Ok(Self {
            alpha,
            mode: if linear {
                SamplingMode::Linear
            } else {
                SamplingMode::Log
            },
            table,
        })
    }

    /// The `α` this table was built for.
    #[must_use]
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Which recursion it selects.
    #[must_use]
    pub fn mode(&self) -> SamplingMode {
        self.mode
    }

    /// The entry of `id` (a [`FULL_TABLE_LEN`] table holds them in
    /// decreasing id order).
    #[inline(always)]
    fn weight(&self, id: u16) -> f64 {
        let at = if self.table.len() == FULL_TABLE_LEN {
            !id
        } else {
            id
        };
        self.table.get(usize::from(at)).copied().unwrap_or(0.0)
    }

    /// The table as a fixed-size array when it has [`FULL_TABLE_LEN`] entries.
    fn full(&self) -> Option<&'t [f64; FULL_TABLE_LEN]> {
        self.table.try_into().ok()
    }
}

/// A [`SamplingTable`] may have this many entries (one per possible `u16`
/// id) instead of [`Vocab::id_space`]: the sampler's hot loops then look up
/// weights without a bounds check (measured with cachegrind: 2 instructions
/// fewer per candidate). The entries past the id space are never read.
pub const FULL_TABLE_LEN: usize = 1 << 16;

/// Weight lookups of the linear samplers, by the score index `nid = !id`
/// that the trie's records give: a caller's table of the id space's length
/// (in id order: clamped index `!nid`) or of [`FULL_TABLE_LEN`] entries (in
/// decreasing id order: index `nid`, no check, no complement).
trait Weights: Copy {
    /// `e^{α v(!nid)}` (0 for `nid = 0xffff`, id 0).
    fn weight(self, nid: u16) -> f64;
}

impl Weights for &[f64] {
    #[inline(always)]
    fn weight(self, nid: u16) -> f64 {
        let last = self.len().saturating_sub(1);
        self.get(usize::from(!nid).min(last))
            .copied()
            .unwrap_or(0.0)
    }
}

impl Weights for &[f64; FULL_TABLE_LEN] {
    #[inline(always)]
    fn weight(self, nid: u16) -> f64 {
        #[expect(clippy::indexing_slicing, reason = "a u16 index into 2^16 entries")]
        self[usize::from(nid)]
    }
}

/// Multiply by `2^k` exactly, for `|k| ≤ 2000` (two normal factors).
fn scale_pow2(x: f64, k: i32) -> f64 {
    let half = k / 2;
    let pow = |e: i32| f64::from_bits(((1023 + i64::from(e)) as u64) << 52);
    x * pow(half) * pow(k - half)
}

/// The perfect Viterbi sampler (post of 2023-10-16): draws a segmentation `w`
/// of `text` with probability exactly `e^{α S(w)} / Σ_{w'} e^{α S(w')}`.
///
/// Recursion (sum-product twin of Viterbi): `Z[0] = 1`, and for every piece
/// `text[s..e]` in scan order `Z[e] += Z[s]·e^{α v}`, then `route[e] = s` with
/// probability `Z[s]·e^{α v} / Z[e]` (weighted reservoir sampling). In linear
/// mode the running values are rescaled by exact powers of two whenever `Z[s]`
/// leaves `[2^−64, 2^64]`; should a value still leave the `f64` range (which
/// depends only on the text and α, never on the random numbers), the input is
/// resampled with the log-domain recursion [`viterbi_sample_log`], so the result
/// is exact for every α. Two scan orders, as in [`super::viterbi_decode`]: on
/// mostly-ASCII text by end position, all candidates of a position together,
/// one uniform picking among them; otherwise (and should a position have more
/// live walks than that scan holds) by start position, one reservoir draw per
/// trie step. Randomness: a linear-mode scan takes one `u64` from `rng` and
/// draws its uniforms from wyrand seeded with it, which keeps the caller's
/// generator out of the hot loop; the log-domain recursion draws from `rng`
/// directly, one `u64` per candidate piece. Never loops on any RNG output
/// (`u ∈ [0, 1)`, and the first candidate at each position is always taken).
///
/// # Errors
/// [`Error::TableMismatch`] if `table` was built for a vocabulary of another
/// size; otherwise as [`super::viterbi_decode`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use kexue_core::tokenizer::{compile::compile_pieces, viterbi_sample, SamplingTable, Scratch, Token, Vocab};
/// use rand::SeedableRng;
/// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 5)], true).unwrap();
/// let vocab = Vocab::from_blob(&blob).unwrap();
/// let mut w = vec![0.0; vocab.id_space()];
/// let table = SamplingTable::new(&vocab, 1.0, &mut w).unwrap();
/// let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
/// let (mut s, mut r) = ([0.0; 3], [0u32; 3]);
/// let mut out = [Token::default(); 2];
/// let n = viterbi_sample(&vocab, &table, b"ab", &mut rng, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
/// assert!(n == 1 || n == 2);
/// # }
/// ```
pub fn viterbi_sample<R: Rng + ?Sized>(
    vocab: &Vocab<'_>,
    table: &SamplingTable<'_>,
    text: &[u8],
    rng: &mut R,
    scratch: &mut Scratch<'_>,
    out: &mut [Token],
) -> Result<usize, Error> {
    if table.table.len() != vocab.id_space() && table.table.len() != FULL_TABLE_LEN {
        return Err(Error::TableMismatch);
    }
    if table.mode == SamplingMode::Log {
        return sample_log_table(vocab, table, text, rng, scratch, out);
    }
    let n = text.len();
    let (z, route) = scratch.buffers(n)?;
    // As in `viterbi_decode`: the position-order scan with young walks on
    // mostly-ASCII text, the per-start order otherwise (and where more walks
    // are alive than the position-order scan holds). Unchecked lookups when
    // both the vocabulary and the table allow them.
    let ascii = super::mostly_ascii(text);
    let in_range = match (vocab.fast().zip(table.full()), ascii) {
        (Some((v, w)), true) => sample_linear_young(v, w, text, rng, z, route)
            .unwrap_or_else(|| sample_linear_per_start(v, w, text, rng, z, route)),
        (Some((v, w)), false) => sample_linear_per_start(v, w, text, rng, z, route),
        (None, true) => sample_linear_young(*vocab, table.table, text, rng, z, route)
            .unwrap_or_else(|| sample_linear_per_start(*vocab, table.table, text, rng, z, route)),
        (None, false) => sample_linear_per_start(*vocab, table.table, text, rng, z, route),
    };
    if in_range {
        // (Route codes hold the score index `!id`.)
        backtrack_nid(route, n, out)
    } else {
        sample_log_table(vocab, table, text, rng, scratch, out)
    }
}

/// The linear-domain perfect sampler in position order, with the walk layout
/// of `decode_active` (the decode's scan on mostly-ASCII text): at each
/// position `e` all candidates `Z[s]·e^{α v}` are known together, so a single
/// uniform picks the route from their running sums — the same categorical
/// distribution `P(route[e] = s) = Z[s]·e^{α v} / Z[e]` as one reservoir draw
/// per candidate, with one random number per position. The walks from `e − 2
/// … e − 1 − YOUNG` sit in fixed slots (a dead one is `DEAD`, of weight 0)
/// and are stepped in straight-line code after the walk list (the older
/// walks), then the walk from `e − 1` from the root. The pick takes candidate
/// `i` with probability `p_i / Z[e]` by one uniform against the running sums,
/// longest piece first, split in two: the list's candidates, searched only if the target
/// falls below their sum, and the `YOUNG + 1` fixed ones, picked by a chain of
/// selects over constant indices, so their sums and routes never leave
/// registers. A uniform is drawn at every position: on English the forced
/// positions are too irregular for a branch that skips the draw to pay.
/// Returns `Some(true)` on success, `Some(false)` if a value left the `f64`
/// range (the caller resamples in the log domain; this depends only on the
/// text and α), `None` if more than `ACTIVE` walks were alive (the caller
/// takes [`sample_linear_per_start`]).
#[expect(
    clippy::indexing_slicing,
    reason = "indices are j < YOUNG, probes < PICK_PAD, i < count ≤ ACTIVE and kept < ACTIVE (checked)"
)]
// Not inlined into `viterbi_sample`: inlined, it and the CJK scan lost
// registers (cachegrind, with the earlier position-order CJK scan: 1.5 % more
// instructions on CJK text, 1.5 % on mixed text).
#[inline(never)]
fn sample_linear_young<V: Steps, W: Weights, R: Rng + ?Sized>(
    vocab: V,
    weights: W,
    text: &[u8],
    rng: &mut R,
    z: &mut [f64],
    route: &mut [u32],
) -> Option<bool> {
    use super::decode::{ACTIVE, YOUNG};
    // The walk list: node, Z[start] and `start << 16` (its tag) per walk; the
    // running sums and `tag | id` of its candidates at the current position
    // (sums PICK_PAD − 1 longer: +∞ padding for the search).
    let mut nodes = [DEAD; ACTIVE];
    let mut bases = [0f64; ACTIVE];
    let mut tags = [0u32; ACTIVE];
    let mut list_sums = [0f64; ACTIVE + PICK_PAD - 1];
    let mut list_codes = [0u32; ACTIVE];
    // The fixed candidates: young walks oldest first, then the one-byte piece.
    let mut fixed_sums = [0f64; YOUNG + 1];
    let mut fixed_codes = [0u32; YOUNG + 1];
    // young_node[j], young_base[j]: the walk from e − 2 − j and Z at its start.
    let mut young_node = [DEAD; YOUNG];
    let mut young_base = [0f64; YOUNG];
    let mut count = 0usize;
    let weight = |id: u16| weights.weight(id);
    let root = vocab.root();
    let mut prev = 1.0f64; // Z[e − 1]
    let mut draws = Draws::new(rng);
    if let Some(z0) = z.first_mut() {
        *z0 = 1.0;
    }
    for (e1, (&c, (ze, r))) in text
        .iter()
        .zip(z.iter_mut().skip(1).zip(route.iter_mut().skip(1)))
        .enumerate()
    {
        let e = e1 as u32 + 1;
        let mut total = 0.0f64;
        let mut kept = 0usize;
        let live = count.min(ACTIVE);
        for i in 0..live {
            // (A dead walk is dropped, not kept; its id is 0, weight 0.)
            let (unit, nid, ok) = vocab.step(nodes[i], c);
            let base = bases[i];
            let tag = tags[i];
            total += base * weight(nid);
            list_sums[i] = total;
            // The start and the score index; made a route code only if picked.
            list_codes[i] = tag | u32::from(nid);
            // (kept ≤ i < ACTIVE: the mask changes nothing and spares the
            // bounds checks.)
            nodes[kept & (ACTIVE - 1)] = unit;
            bases[kept & (ACTIVE - 1)] = base;
            tags[kept & (ACTIVE - 1)] = tag;
            kept += usize::from(ok);
        }
        if kept >= ACTIVE {
            return None;
        }
        let list_total = total;
        let mut stepped = [DEAD; YOUNG];
        for j in (0..YOUNG).rev() {
            let (unit, nid, ok) = vocab.step(young_node[j], c);
            total += young_base[j] * weight(nid);
            fixed_sums[YOUNG - 1 - j] = total;
            fixed_codes[YOUNG - 1 - j] = route_code(j + 2, nid);
            stepped[j] = unit;
            if j == YOUNG - 1 {
                nodes[kept] = unit;
                bases[kept] = young_base[j];
                tags[kept] = e.wrapping_sub(j as u32 + 2) << 16;
                kept += usize::from(ok);
            }
        }
        for j in (1..YOUNG).rev() {
            young_node[j] = stepped[j - 1];
            young_base[j] = young_base[j - 1];
        }
        // The walk from e − 1, first step from the root: the last candidate,
        // always of positive weight (checked), so a target that rounds up to
        // the total picks it, never a zero-weight candidate.
        // Every single byte is a piece (validated in `Vocab::from_blob`), so
        // the record is the child; no check.
        let unit = vocab.record(root, c);
        let root_nid = nid(unit);
        let p = prev * weight(root_nid);
        if p <= 0.0 {
            return Some(false);
        }
        total += p;
        fixed_sums[YOUNG] = total;
        fixed_codes[YOUNG] = route_code(1, root_nid);
        young_node[0] = unit;
        young_base[0] = prev;
        count = kept;
        // The candidate whose running-sum interval holds the target: the
        // number of running sums ≤ it, in the list or among the fixed ones.
        let target = draws.uniform() * total;
        // The first fixed candidate whose running sum exceeds the target
        // (constant indices: the sums and codes stay in registers).
        let mut fixed_code = fixed_codes[YOUNG];
        for k in (0..YOUNG).rev() {
            fixed_code = core::hint::select_unpredictable(
                target < fixed_sums[k],
                fixed_codes[k],
                fixed_code,
            );
        }
        *r = if target < list_total {
            let pick = count_at_most(&mut list_sums, live, target);
            // target < list_total = list_sums[live − 1], so pick < live.
            let raw = list_codes[pick.min(live.saturating_sub(1))];
            picked_code(e << 16, raw)
        } else {
            fixed_code
        };
        let mut value = total;
        if !(RESCALE_LOW..=RESCALE_HIGH).contains(&value) {
            if !(value.is_finite() && value >= f64::MIN_POSITIVE) {
                return Some(false);
            }
            // Renormalise every live value so that Z[e] ∈ [1, 2).
            let exp = ((value.to_bits() >> 52) & 0x7ff) as i32 - 1023;
            value = scale_pow2(value, -exp);
            for b in &mut bases[..count] {
                *b = scale_pow2(*b, -exp);
            }
            // Not chained to the loop above: `young_base` can then live in
            // registers (chained, it was kept in memory, where the slot shift
            // above stalled on store forwarding: paired `ab.py` on en-dev
            // α 0.1, 1.07× and 1.09×).
            for b in &mut young_base {
                *b = scale_pow2(*b, -exp);
            }
        }
        *ze = value;
        prev = value;
    }
    Some(true)
}

/// The linear-domain perfect sampler in start order (the scan of
/// `decode_per_start`, which the decode takes on CJK text): from each start
/// `s`, once `Z[s]` is final, walk the trie along the text and, for every
/// step `text[s..e]` (a non-piece weighs 0), add `p = Z[s]·e^{α v}` to `Z[e]`
/// and take `route[e] = s` with probability `p / Z[e]` (the running sum after
/// adding): weighted reservoir sampling, so after the last start that reaches
/// `e`, `P(route[e] = s) = Z[s]·e^{α v} / Z[e]` exactly. The first piece to
/// reach `e` is always taken (`u < 1`); zero-weight steps never are. One
/// uniform per matched trie unit, drawn branch-free: on CJK text the walks
/// are short (zh-dev's CJK lines: 2.7 trie lookups per start, 1.7 of them
/// matching a unit), and a draw is cheaper than the position order's walk
/// list and pick (which this replaced there: cachegrind on those lines, α 0.1,
/// 169 → 143 instructions per byte, paired `tests/peers/ab.py` runs of the
/// sampling/decode ratio 0.698 → 0.888; with `Z[s]` carried in a register,
/// 134). Rescaling as in the position order, over the window `Z[s..=reach]`
/// that the walks have written so far. Returns false if a value left the `f64` range
/// (the caller resamples in the log domain; this depends only on the text and
/// α).
#[expect(
    clippy::indexing_slicing,
    reason = "start < n, e < stop ≤ n = text.len(), and z, route have n + 1 entries"
)]
fn sample_linear_per_start<V: Steps, W: Weights, R: Rng + ?Sized>(
    vocab: V,
    weights: W,
    text: &[u8],
    rng: &mut R,
    z: &mut [f64],
    route: &mut [u32],
) -> bool {
    let n = text.len();
    let (Some(z), Some(route)) = (z.get_mut(..=n), route.get_mut(..=n)) else {
        return false;
    };
    z.fill(0.0);
    z[0] = 1.0;
    let root = vocab.root();
    let mut draws = Draws::new(rng);
    let mut reach = 0usize;
    // Z[start], carried in a register: Z[start + 1] is final once the walk
    // from `start` has taken its first step (later walks end further on), so
    // the next start need not wait for it to go through memory.
    let mut zs = 1.0f64;
    for start in 0..n {
        if !(RESCALE_LOW..=RESCALE_HIGH).contains(&zs) {
            if !(zs.is_finite() && zs >= f64::MIN_POSITIVE) {
                return false;
            }
            let exp = ((zs.to_bits() >> 52) & 0x7ff) as i32 - 1023;
            for v in z.get_mut(start..=reach.max(start)).unwrap_or_default() {
                *v = scale_pow2(*v, -exp);
            }
            zs = z[start];
        }
        // The first step, from the root: every single byte is a piece
        // (validated in `Vocab::from_blob`), so the record is the child.
        let node = vocab.record(root, text[start]);
        let root_nid = nid(node);
        let p = zs * weights.weight(root_nid);
        let u = draws.uniform();
        let next = z[start + 1] + p;
        z[start + 1] = next;
        route[start + 1] = core::hint::select_unpredictable(
            u * next < p,
            route_code(1, root_nid),
            route[start + 1],
        );
        let stop = start + super::MAX_PIECE_BYTES;
        let end = vocab.walk_on(node, text, start + 1, stop, |e, nid| {
            let code = route_code(e - start, nid);
            let p = zs * weights.weight(nid);
            let u = draws.uniform();
            let sum = z[e] + p;
            z[e] = sum;
            route[e] = core::hint::select_unpredictable(u * sum < p, code, route[e]);
        });
        reach = reach.max(end);
        zs = next;
    }
    let zn = z[n];
    zn.is_finite() && zn >= f64::MIN_POSITIVE
}

/// The route code of a picked list candidate stored as `start << 16 | id`, at
/// the position whose tag is `end_tag = end << 16`: `(end − start) << 16 | id`.
#[inline(always)]
fn picked_code(end_tag: u32, tagged: u32) -> u32 {
    end_tag.wrapping_sub(tagged & 0xffff_0000) | (tagged & 0xffff)
}

/// Candidates per position that [`count_at_most`] picks among by a
/// three-probe binary search (more fall back to a linear count).
const PICK_PAD: usize = 8;

/// How many of the running sums `sums[..live]` (non-decreasing) are `≤
/// target`: the index of the candidate whose interval holds the target. For
/// up to [`PICK_PAD`] sums (almost every position) a branch-free binary
/// search in three probes, after padding the `PICK_PAD − 1` slots past `live`
/// with +∞ (so `sums` must be that much longer; scalar stores and loads, no
/// store-forwarding stalls); beyond, a linear count.
#[inline(always)]
fn count_at_most(sums: &mut [f64], live: usize, target: f64) -> usize {
    if live <= PICK_PAD {
        if let Some(pad) = sums.get_mut(live..live + PICK_PAD - 1) {
            pad.fill(f64::INFINITY);
        }
        let mut pick = 0usize;
        for step in [4usize, 2, 1] {
            let probe = pick + step - 1;
            let s = sums.get(probe).copied().unwrap_or(f64::INFINITY);
            pick += if s <= target { step } else { 0 };
        }
        pick
    } else {
        sums.get(..live)
            .unwrap_or_default()
            .iter()
            .map(|&s| usize::from(s <= target))
            .sum::<usize>()
    }
}

/// Log-domain perfect sampler driven by a table (`α v` in log mode, `e^{α v}`
/// in linear mode).
fn sample_log_table<R: Rng + ?Sized>(
    vocab: &Vocab<'_>,
    table: &SamplingTable<'_>,
    text: &[u8],
    rng: &mut R,
    scratch: &mut Scratch<'_>,
    out: &mut [Token],
) -> Result<usize, Error> {
    let linear = table.mode == SamplingMode::Linear;
    sample_log_with(vocab, text, rng, scratch, out, |id| {
        let w = table.weight(id);
        if linear { math::ln(w) } else { w }
    })
}

/// The perfect sampler in the log domain, exactly as the post writes it:
/// `Z[e] = logsumexp(Z[e], Z[s] + α v)` and `route[e] = s` with probability
/// `exp(Z[s] + α v − Z[e])`. Exact for every `α ≥ 0` and needs no table, but
/// pays an `exp` and a `ln_1p` per candidate (the reference for
/// [`viterbi_sample`]).
///
/// # Errors
/// [`Error::InvalidAlpha`] for NaN, ±∞ or negative α; otherwise as
/// [`super::viterbi_decode`].
pub fn viterbi_sample_log<R: Rng + ?Sized>(
    vocab: &Vocab<'_>,
    alpha: f64,
    text: &[u8],
    rng: &mut R,
    scratch: &mut Scratch<'_>,
    out: &mut [Token],
) -> Result<usize, Error> {
    check_alpha(alpha)?;
    sample_log_with(vocab, text, rng, scratch, out, |id| {
        alpha * vocab.score_of(id)
    })
}

fn sample_log_with<R: Rng + ?Sized>(
    vocab: &Vocab<'_>,
    text: &[u8],
    rng: &mut R,
    scratch: &mut Scratch<'_>,
    out: &mut [Token],
    log_weight: impl Fn(u16) -> f64,
) -> Result<usize, Error> {
    let n = text.len();
    let (z, route) = scratch.buffers(n)?;
    z.fill(f64::NEG_INFINITY);
    if let Some(z0) = z.first_mut() {
        *z0 = 0.0;
    }
    for start in 0..n {
        let zs = z.get(start).copied().unwrap_or(f64::NEG_INFINITY);
        vocab.for_each_piece_from(text, start, |end, id| {
            let cand = zs + log_weight(id);
            let u = uniform(rng);
            if let (Some(ze), Some(r)) = (z.get_mut(end), route.get_mut(end)) {
                *ze = math::log_add_exp(*ze, cand);
                // The first candidate gives exp(0) = 1 > u: always taken.
                if u < math::exp(cand - *ze) {
                    *r = route_code(end - start, id);
                }
            }
        });
    }
    backtrack(route, n, out)
}

/// The first post's sampler (2023-09-16), kept to demonstrate its bias: Viterbi
/// decoding where "keep `cand` if `cand > best[e]`" becomes "accept `cand` with
/// probability `σ(α (cand − best[e]))`" (and `best[e] = cand` on acceptance).
/// Multi-way choices become a chain of duels: three equally good segmentations
/// of `watching` come out 1/4, 1/4, 1/2 instead of 1/3 each.
///
/// # Errors
/// As [`viterbi_sample_log`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use kexue_core::tokenizer::{compile::compile_pieces, viterbi_sample_legacy, Scratch, Token, Vocab};
/// use rand::SeedableRng;
/// let blob = compile_pieces(&[(b"ab".to_vec(), 300, 5)], true).unwrap();
/// let vocab = Vocab::from_blob(&blob).unwrap();
/// let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
/// let (mut s, mut r) = ([0.0; 3], [0u32; 3]);
/// let mut out = [Token::default(); 2];
/// let n = viterbi_sample_legacy(&vocab, 1.0, b"ab", &mut rng, &mut Scratch::new(&mut s, &mut r), &mut out).unwrap();
/// assert!(n == 1 || n == 2);
/// # }
/// ```
pub fn viterbi_sample_legacy<R: Rng + ?Sized>(
    vocab: &Vocab<'_>,
    alpha: f64,
    text: &[u8],
    rng: &mut R,
    scratch: &mut Scratch<'_>,
    out: &mut [Token],
) -> Result<usize, Error> {
    check_alpha(alpha)?;
    let n = text.len();
    let (best, route) = scratch.buffers(n)?;
    best.fill(f64::NEG_INFINITY);
    if let Some(b0) = best.first_mut() {
        *b0 = 0.0;
    }
    for start in 0..n {
        let bs = best.get(start).copied().unwrap_or(f64::NEG_INFINITY);
        vocab.for_each_piece_from(text, start, |end, id| {
            let cand = bs + vocab.score_of(id);
            let u = uniform(rng);
            if let (Some(be), Some(r)) = (best.get_mut(end), route.get_mut(end)) {
                // First candidate: best = −∞, σ(+∞) = 1 > u, always taken.
                let p = if *be == f64::NEG_INFINITY {
                    1.0
                } else {
                    math::sigmoid(alpha * (cand - *be))
                };
                if u < p {
                    *be = cand;
                    *r = route_code(end - start, id);
                }
            }
        });
    }
    backtrack(route, n, out)
}
