//! The generic tensor kernel behind [`Optimizer::step_tensor`]: every loop of
//! every optimiser lives here, monomorphised per optimiser and storage type,
//! with the optimiser's element rule inlined.
//!
//! State is planar (slot 0 of all parameters, then slot 1), so θ, g and each
//! slot are contiguous streams. Loops walk `LANES`-wide chunks (`as_chunks`)
//! so the element rule, the finiteness flags (boolean OR, an associative
//! reduction) and the sums of squares (8 independent f32 lanes, flushed to
//! f64 every 128 elements) auto-vectorise without fast-math.

use super::{
    Error, Gradient, NanGuard, Optimizer, ParamKind, RmsScope, Slots, StepOptions, Storage,
    TensorMut, TensorReport,
};

/// Chunk width of the element loops.
const LANES: usize = 8;
/// Chunks summed in f32 lanes before the partial sums are added in f64.
const FLUSH_CHUNKS: usize = 16;

/// Running flags and counts of one pass.
#[derive(Default, Clone, Copy)]
struct Tally {
    /// Some written value is NaN or ±∞.
    bad: bool,
    moved: u64,
    lost: u64,
}

/// 8-lane f32 sum of squares, flushed to f64.
struct SqSum {
    lanes: [f32; LANES],
    total: f64,
}

impl SqSum {
    fn new() -> Self {
        Self {
            lanes: [0.0; LANES],
            total: 0.0,
        }
    }

    #[inline(always)]
    fn add(&mut self, xs: &[f32; LANES]) {
        for (lane, x) in self.lanes.iter_mut().zip(xs) {
            *lane += x * x;
        }
    }

    #[inline(always)]
    fn flush(&mut self) {
        self.total += self.lanes.iter().map(|&v| f64::from(v)).sum::<f64>();
        self.lanes = [0.0; LANES];
    }

    /// Add a chunk; flush after every `FLUSH_CHUNKS` chunks.
    #[inline(always)]
    fn chunk(&mut self, index: usize, xs: &[f32; LANES]) {
        self.add(xs);
        if index % FLUSH_CHUNKS == FLUSH_CHUNKS - 1 {
            self.flush();
        }
    }

    fn finish(mut self) -> f64 {
        self.flush();
        self.total
    }
}

/// True if any value is NaN or ±∞: all exponent bits set. One flat
/// OR-reduction over integer bit tests, which vectorises cleanly.
pub(super) fn any_non_finite(values: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    values
        .iter()
        .fold(false, |bad, x| bad | (x.to_bits() & EXP == EXP))
}

/// Widen a partial chunk, zero-padded.
#[inline(always)]
fn pad<P: Storage>(rest: &[P]) -> [f32; LANES] {
    let mut out = [0.0; LANES];
    for (o, x) in out.iter_mut().zip(rest) {
        *o = x.load();
    }
    out
}

/// `Σ x²` of stored values (f32 lanes, f64 across blocks).
pub(super) fn sum_sq<P: Storage>(xs: &[P]) -> f64 {
    let (chunks, rest) = xs.as_chunks::<LANES>();
    let mut acc = SqSum::new();
    for (i, c) in chunks.iter().enumerate() {
        acc.chunk(i, &c.map(Storage::load));
    }
    acc.add(&pad(rest));
    acc.finish()
}

/// `sqrt(Σx² / n)` as f32 (`n > 0`).
fn rms_from(sq: f64, n: usize) -> f32 {
    crate::math::sqrt(sq / n as f64) as f32
}

/// The state of one region: slot 0's plane and slot 1's (empty when the
/// optimiser keeps one float per parameter).
struct Planes<'a, P> {
    a: &'a mut [P],
    b: &'a mut [P],
}

/// Walk θ, g and the state planes in `LANES`-wide chunks. For each element,
/// `f(θ, g, slots)` updates θ and the widened slots and returns a value for
/// the chunk's reduction; after each chunk, `end(chunk_index, values)` (the
/// last, partial chunk zero-padded). Returns true if a stored state value is
/// non-finite.
#[inline(always)]
fn walk<S: Slots, P: Storage>(
    theta: &mut [P],
    g: &[f32],
    planes: Planes<'_, P>,
    mut f: impl FnMut(&mut P, f32, &mut S) -> f32,
    mut end: impl FnMut(usize, &[f32; LANES]),
) -> bool {
    let mut bad = false;
    let (tc, tr) = theta.as_chunks_mut::<LANES>();
    let (gc, gr) = g.as_chunks::<LANES>();
    let (ac, ar) = planes.a.as_chunks_mut::<LANES>();
    let chunks = tc.len();
    if S::LEN == 1 {
        let mut one = |t: &mut P, gi: f32, a: &mut P| {
            let mut s = S::from_pair(a.load(), 0.0);
            let out = f(t, gi, &mut s);
            let na = P::store(s.to_pair().0);
            *a = na;
            bad |= !na.load().is_finite();
            out
        };
        for (ci, ((tch, gch), ach)) in tc.iter_mut().zip(gc).zip(ac.iter_mut()).enumerate() {
            let mut out = [0.0f32; LANES];
            for (((t, &gi), a), o) in tch
                .iter_mut()
                .zip(gch)
                .zip(ach.iter_mut())
                .zip(out.iter_mut())
            {
                *o = one(t, gi, a);
            }
            end(ci, &out);
        }
        let mut out = [0.0f32; LANES];
        for (((t, &gi), a), o) in tr.iter_mut().zip(gr).zip(ar.iter_mut()).zip(out.iter_mut()) {
            *o = one(t, gi, a);
        }
        end(chunks, &out);
    } else {
        let (bc, br) = planes.b.as_chunks_mut::<LANES>();
        let mut two = |t: &mut P, gi: f32, a: &mut P, b: &mut P| {
            let mut s = S::from_pair(a.load(), b.load());
            let out = f(t, gi, &mut s);
            let (x, y) = s.to_pair();
            let (na, nb) = (P::store(x), P::store(y));
            *a = na;
            *b = nb;
            bad |= !na.load().is_finite() | !nb.load().is_finite();
            out
        };
        for (ci, (((tch, gch), ach), bch)) in tc
            .iter_mut()
            .zip(gc)
            .zip(ac.iter_mut())
            .zip(bc.iter_mut())
            .enumerate()
        {
            let mut out = [0.0f32; LANES];
            for ((((t, &gi), a), b), o) in tch
                .iter_mut()
                .zip(gch)
                .zip(ach.iter_mut())
                .zip(bch.iter_mut())
                .zip(out.iter_mut())
            {
                *o = two(t, gi, a, b);
            }
            end(ci, &out);
        }
        let mut out = [0.0f32; LANES];
        for ((((t, &gi), a), b), o) in tr
            .iter_mut()
            .zip(gr)
            .zip(ar.iter_mut())
            .zip(br.iter_mut())
            .zip(out.iter_mut())
        {
            *o = two(t, gi, a, b);
        }
        end(chunks, &out);
    }
    bad
}

/// Like [`walk`] without per-chunk reductions: one flat loop, which the
/// loop vectoriser handles (including `sqrt` and division).
#[inline(always)]
fn walk_flat<S: Slots, P: Storage>(
    theta: &mut [P],
    g: &[f32],
    planes: Planes<'_, P>,
    mut f: impl FnMut(&mut P, f32, &mut S) -> f32,
) -> bool {
    let mut bad = false;
    if S::LEN == 1 {
        for ((t, &gi), a) in theta.iter_mut().zip(g).zip(planes.a.iter_mut()) {
            let mut s = S::from_pair(a.load(), 0.0);
            let _ = f(t, gi, &mut s);
            let na = P::store(s.to_pair().0);
            *a = na;
            bad |= !na.load().is_finite();
        }
    } else {
        for (((t, &gi), a), b) in theta
            .iter_mut()
            .zip(g)
            .zip(planes.a.iter_mut())
            .zip(planes.b.iter_mut())
        {
            let mut s = S::from_pair(a.load(), b.load());
            let _ = f(t, gi, &mut s);
            let (x, y) = s.to_pair();
            let (na, nb) = (P::store(x), P::store(y));
            *a = na;
            *b = nb;
            bad |= !na.load().is_finite() | !nb.load().is_finite();
        }
    }
    bad
}

/// The update pass over one region; returns the tally and (with `SQ`) `Σθ'²`.
fn update_pass<O: Optimizer, P: Storage, const SQ: bool, const COUNT: bool>(
    local: &O::Local,
    theta: &mut [P],
    g: &[f32],
    planes: Planes<'_, P>,
) -> (Tally, f64) {
    let mut moved = 0u64;
    let mut lost = 0u64;
    let mut bad_theta = false;
    let mut sq = SqSum::new();
    let rule = |t: &mut P, gi: f32, slots: &mut O::Slots| {
        let old = *t;
        let th = old.load();
        let d = O::element(local, th, gi, slots);
        let new = P::store(th - d);
        *t = new;
        let x = new.load();
        if COUNT {
            let m = d != 0.0;
            moved += u64::from(m);
            lost += u64::from(m & (new == old));
        }
        bad_theta |= !x.is_finite();
        x
    };
    let bad_state = if SQ {
        walk::<O::Slots, P>(theta, g, planes, rule, |ci, xs| sq.chunk(ci, xs))
    } else {
        walk_flat::<O::Slots, P>(theta, g, planes, rule)
    };
    let tally = Tally {
        bad: bad_theta | bad_state,
        moved,
        lost,
    };
    (tally, if SQ { sq.finish() } else { 0.0 })
}

/// LAMB's first pass: `Σθ²` and `Σδ²` of the update, writing nothing (the
/// rule runs on copies of the state).
fn probe_pass<O: Optimizer, P: Storage>(
    local: &O::Local,
    theta: &[P],
    g: &[f32],
    planes: &Planes<'_, P>,
) -> (f64, f64) {
    let mut th_sq = SqSum::new();
    let mut d_sq = SqSum::new();
    let two = <O::Slots as Slots>::LEN == 2;
    let (tc, tr) = theta.as_chunks::<LANES>();
    let (gc, gr) = g.as_chunks::<LANES>();
    let (ac, ar) = planes.a.as_chunks::<LANES>();
    let (bc, br) = planes.b.as_chunks::<LANES>();
    let zeros = [P::ZERO; LANES];
    let chunk = |t: &[P; LANES], gch: &[f32; LANES], a: &[P; LANES], b: &[P; LANES]| {
        let mut ds = [0.0f32; LANES];
        for ((((d, th), &gi), a), b) in ds.iter_mut().zip(t).zip(gch).zip(a).zip(b) {
            let mut s = <O::Slots as Slots>::from_pair(a.load(), b.load());
            *d = O::element(local, th.load(), gi, &mut s);
        }
        (t.map(Storage::load), ds)
    };
    for (ci, ((tch, gch), ach)) in tc.iter().zip(gc).zip(ac).enumerate() {
        let bch = if two {
            bc.get(ci).unwrap_or(&zeros)
        } else {
            &zeros
        };
        let (ths, ds) = chunk(tch, gch, ach, bch);
        th_sq.chunk(ci, &ths);
        d_sq.chunk(ci, &ds);
    }
    let pad_p = |r: &[P]| {
        let mut out = zeros;
        for (o, x) in out.iter_mut().zip(r) {
            *o = *x;
        }
        out
    };
    let mut gpad = [0.0f32; LANES];
    for (o, x) in gpad.iter_mut().zip(gr) {
        *o = *x;
    }
    // Padding lanes have θ = 0 and g = 0: θ² adds 0; their δ is masked below.
    let (ths, mut ds) = chunk(
        &pad_p(tr),
        &gpad,
        &pad_p(ar),
        &pad_p(if two { br } else { &[] }),
    );
    for (i, d) in ds.iter_mut().enumerate() {
        if i >= tr.len() {
            *d = 0.0;
        }
    }
    th_sq.add(&ths);
    d_sq.add(&ds);
    (th_sq.finish(), d_sq.finish())
}

/// Accumulation micro-step: the state advances; θ is neither read nor
/// written (the rule sees θ = 0 and its δ is discarded).
fn accumulate_pass<O: Optimizer, P: Storage>(
    local: &O::Local,
    theta: &mut [P],
    g: &[f32],
    planes: Planes<'_, P>,
) -> bool {
    walk_flat::<O::Slots, P>(theta, g, planes, |_, gi, slots| {
        let _ = O::element(local, 0.0, gi, slots);
        0.0
    })
}

/// Tiger's NaN guard: `θ ← (θ − c)·s + c`, state untouched.
fn shrink_pass<P: Storage, const SQ: bool>(
    theta: &mut [P],
    factor: f32,
    centre: f32,
) -> (bool, f64) {
    let mut bad = false;
    let mut sq = SqSum::new();
    let (tc, tr) = theta.as_chunks_mut::<LANES>();
    let mut one = |t: &mut P| {
        let new = P::store((t.load() - centre) * factor + centre);
        *t = new;
        let x = new.load();
        bad |= !x.is_finite();
        x
    };
    for (i, ch) in tc.iter_mut().enumerate() {
        let mut xs = [0.0f32; LANES];
        for (t, x) in ch.iter_mut().zip(xs.iter_mut()) {
            *x = one(t);
        }
        if SQ {
            sq.chunk(i, &xs);
        }
    }
    let mut xs = [0.0f32; LANES];
    for (t, x) in tr.iter_mut().zip(xs.iter_mut()) {
        *x = one(t);
    }
    if SQ {
        sq.add(&xs);
    }
    (bad, if SQ { sq.finish() } else { 0.0 })
}

/// One region (a tensor, or a row of an embedding) with its local scalars:
/// LAMB's trust-ratio pass if needed, then the update pass.
fn region<O: Optimizer, P: Storage, const SQ: bool>(
    opt: &O,
    local: &O::Local,
    theta: &mut [P],
    g: &[f32],
    planes: Planes<'_, P>,
    count: bool,
) -> (Tally, f64) {
    let scaled;
    let local = if O::TRUST_RATIO {
        let (th_sq, d_sq) = probe_pass::<O, P>(local, theta, g, &planes);
        scaled = opt.trust(local, th_sq, d_sq);
        &scaled
    } else {
        local
    };
    if count {
        update_pass::<O, P, SQ, true>(local, theta, g, planes)
    } else {
        update_pass::<O, P, SQ, false>(local, theta, g, planes)
    }
}

pub(super) fn step_tensor<O: Optimizer, P: Storage>(
    opt: &O,
    step: &O::Step,
    tensor: TensorMut<'_, P>,
    grad: Gradient<'_>,
    options: StepOptions,
) -> Result<TensorReport, Error> {
    let TensorMut { kind, theta, state } = tensor;
    let n = theta.len();
    let g = grad.values();
    if g.len() != n {
        return Err(Error::LengthMismatch {
            what: "gradient",
            expected: n,
            actual: g.len(),
        });
    }
    let slots = <O::Slots as Slots>::LEN;
    let want = n.checked_mul(slots).ok_or(Error::CapacityExceeded {
        what: "state length",
        needed: usize::MAX,
        capacity: usize::MAX,
    })?;
    if state.len() != want {
        return Err(Error::LengthMismatch {
            what: "state",
            expected: want,
            actual: state.len(),
        });
    }
    let row_len = match kind {
        ParamKind::Embedding { row_len } => {
            if row_len == 0 || !n.is_multiple_of(row_len) {
                return Err(Error::InvalidShape { len: n, row_len });
            }
            row_len
        }
        _ => 0,
    };
    let (a, b) = state.split_at_mut(n);
    let planes = Planes { a, b };
    let scope = opt.rms_scope(kind);
    let mut report = TensorReport::default();
    if n == 0 {
        return Ok(report);
    }

    if !grad.is_finite() {
        return match opt.guard(kind) {
            NanGuard::Skip => Err(Error::NonFiniteGradient),
            NanGuard::Shrink { factor, centre } => {
                let (bad, sq) = if scope == RmsScope::Tensor {
                    shrink_pass::<P, true>(theta, factor, centre)
                } else {
                    shrink_pass::<P, false>(theta, factor, centre)
                };
                if bad {
                    return Err(Error::NonFiniteResult);
                }
                report.guarded = true;
                if scope == RmsScope::Tensor {
                    report.theta_sq_sum = Some(sq);
                }
                Ok(report)
            }
        };
    }

    if !O::updates(step) {
        let local = opt.local(step, kind, 1.0);
        if accumulate_pass::<O, P>(&local, theta, g, planes) {
            return Err(Error::NonFiniteResult);
        }
        // θ is untouched, so a valid hint stays valid.
        report.theta_sq_sum = options.rms_hint;
        return Ok(report);
    }

    let count = options.count_lost;
    let tally = match scope {
        RmsScope::None => {
            let local = opt.local(step, kind, 1.0);
            region::<O, P, false>(opt, &local, theta, g, planes, count).0
        }
        RmsScope::Tensor => {
            let sq = match options.rms_hint {
                Some(h) => h,
                None => sum_sq(theta),
            };
            let local = opt.local(step, kind, rms_from(sq, n));
            let (tally, sq_new) = region::<O, P, true>(opt, &local, theta, g, planes, count);
            report.theta_sq_sum = Some(sq_new);
            tally
        }
        RmsScope::Row => {
            let mut total = Tally::default();
            let mut b_rows = planes.b.chunks_exact_mut(row_len);
            for ((t_row, g_row), a_row) in theta
                .chunks_exact_mut(row_len)
                .zip(g.chunks_exact(row_len))
                .zip(planes.a.chunks_exact_mut(row_len))
            {
                let b_row: &mut [P] = if slots == 2 {
                    b_rows.next().unwrap_or(&mut [])
                } else {
                    &mut []
                };
                let local = opt.local(step, kind, rms_from(sum_sq(t_row), row_len));
                let row_planes = Planes { a: a_row, b: b_row };
                let (t, _) = region::<O, P, false>(opt, &local, t_row, g_row, row_planes, count);
                total.bad |= t.bad;
                total.moved += t.moved;
                total.lost += t.lost;
            }
            total
        }
    };
    if tally.bad {
        return Err(Error::NonFiniteResult);
    }
    report.updated = true;
    report.moved = tally.moved;
    report.lost = tally.lost;
    Ok(report)
}
