//! The generic tensor kernel behind [`Optimizer::step_tensor`]: every loop of
//! every optimiser lives here, monomorphised per optimiser and storage type,
//! with the optimiser's element rule inlined.
//!
//! Loops walk `LANES`-wide chunks (`as_chunks`) so the element rule, the
//! finiteness flags (boolean OR, an associative reduction) and the sum of
//! squares (8 independent f32 lanes, flushed to f64 every 128 elements)
//! auto-vectorise without fast-math.

use super::{
    Error, Gradient, NanGuard, Optimizer, ParamKind, RmsScope, Slots, StepOptions, Storage,
    TensorMut, TensorReport,
};

/// Chunk width of the element loops.
const LANES: usize = 8;
/// Chunks summed in f32 lanes before the partial sums are added in f64.
const FLUSH_CHUNKS: usize = 16;

type Stored<O, P> = <<O as Optimizer>::Slots as Slots>::Stored<P>;

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
    fn flush(&mut self) {
        self.total += self.lanes.iter().map(|&v| f64::from(v)).sum::<f64>();
        self.lanes = [0.0; LANES];
    }

    fn finish(mut self) -> f64 {
        self.flush();
        self.total
    }
}

/// True if any value is NaN or ±∞.
pub(super) fn any_non_finite(values: &[f32]) -> bool {
    let (chunks, rest) = values.as_chunks::<LANES>();
    let mut bad = false;
    for c in chunks {
        bad |= c.iter().fold(false, |b, x| b | !x.is_finite());
    }
    bad | rest.iter().any(|x| !x.is_finite())
}

/// `Σ x²` of stored values (f32 lanes, f64 across blocks).
pub(super) fn sum_sq<P: Storage>(xs: &[P]) -> f64 {
    let (chunks, rest) = xs.as_chunks::<LANES>();
    let mut acc = SqSum::new();
    for (i, c) in chunks.iter().enumerate() {
        for (lane, x) in acc.lanes.iter_mut().zip(c) {
            let v = x.load();
            *lane += v * v;
        }
        if i % FLUSH_CHUNKS == FLUSH_CHUNKS - 1 {
            acc.flush();
        }
    }
    for (lane, x) in acc.lanes.iter_mut().zip(rest) {
        let v = x.load();
        *lane += v * v;
    }
    acc.finish()
}

/// `sqrt(Σx² / n)` as f32 (`n > 0`).
fn rms_from(sq: f64, n: usize) -> f32 {
    crate::math::sqrt(sq / n as f64) as f32
}

/// One element: load, rule, store; returns the stored θ as f32.
#[inline(always)]
fn one<O: Optimizer, P: Storage, const COUNT: bool>(
    local: &O::Local,
    t: &mut P,
    g: f32,
    s: &mut Stored<O, P>,
    tally: &mut Tally,
) -> f32 {
    let old = *t;
    let th = old.load();
    let mut slots = <O::Slots as Slots>::load::<P>(s);
    let d = O::element(local, th, g, &mut slots);
    let stored_slots = slots.store::<P>();
    *s = stored_slots;
    let new = P::store(th - d);
    *t = new;
    let x = new.load();
    if COUNT {
        let moved = d != 0.0;
        tally.moved += u64::from(moved);
        tally.lost += u64::from(moved & (new == old));
    }
    tally.bad |= !x.is_finite() | !<O::Slots as Slots>::stored_finite::<P>(&stored_slots);
    x
}

/// The update pass over one region; returns the tally and (with `SQ`) `Σθ'²`.
fn update_pass<O: Optimizer, P: Storage, const SQ: bool, const COUNT: bool>(
    local: &O::Local,
    theta: &mut [P],
    g: &[f32],
    state: &mut [Stored<O, P>],
) -> (Tally, f64) {
    let mut tally = Tally::default();
    let mut sq = SqSum::new();
    let (tc, tr) = theta.as_chunks_mut::<LANES>();
    let (gc, gr) = g.as_chunks::<LANES>();
    let (sc, sr) = state.as_chunks_mut::<LANES>();
    for (i, ((tch, gch), sch)) in tc.iter_mut().zip(gc).zip(sc.iter_mut()).enumerate() {
        for (((t, &gi), s), lane) in tch
            .iter_mut()
            .zip(gch)
            .zip(sch.iter_mut())
            .zip(sq.lanes.iter_mut())
        {
            let x = one::<O, P, COUNT>(local, t, gi, s, &mut tally);
            if SQ {
                *lane += x * x;
            }
        }
        if SQ && i % FLUSH_CHUNKS == FLUSH_CHUNKS - 1 {
            sq.flush();
        }
    }
    for (((t, &gi), s), lane) in tr
        .iter_mut()
        .zip(gr)
        .zip(sr.iter_mut())
        .zip(sq.lanes.iter_mut())
    {
        let x = one::<O, P, COUNT>(local, t, gi, s, &mut tally);
        if SQ {
            *lane += x * x;
        }
    }
    let total = if SQ { sq.finish() } else { 0.0 };
    (tally, total)
}

/// LAMB's first pass: `Σθ²` and `Σδ²` of the update, writing nothing.
fn probe_pass<O: Optimizer, P: Storage>(
    local: &O::Local,
    theta: &[P],
    g: &[f32],
    state: &[Stored<O, P>],
) -> (f64, f64) {
    let mut th_sq = 0.0f64;
    let mut d_sq = 0.0f64;
    for ((t, &gi), s) in theta.iter().zip(g).zip(state) {
        let th = t.load();
        let mut slots = <O::Slots as Slots>::load::<P>(s);
        let d = O::element(local, th, gi, &mut slots);
        th_sq += f64::from(th) * f64::from(th);
        d_sq += f64::from(d) * f64::from(d);
    }
    (th_sq, d_sq)
}

/// Accumulation micro-step: the state advances, θ is neither read nor written.
fn accumulate_pass<O: Optimizer, P: Storage>(
    local: &O::Local,
    g: &[f32],
    state: &mut [Stored<O, P>],
) -> bool {
    let mut bad = false;
    for (&gi, s) in g.iter().zip(state.iter_mut()) {
        let mut slots = <O::Slots as Slots>::load::<P>(s);
        let _ = O::element(local, 0.0, gi, &mut slots);
        let stored = slots.store::<P>();
        *s = stored;
        bad |= !<O::Slots as Slots>::stored_finite::<P>(&stored);
    }
    bad
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
    for (i, ch) in tc.iter_mut().enumerate() {
        for (t, lane) in ch.iter_mut().zip(sq.lanes.iter_mut()) {
            let new = P::store((t.load() - centre) * factor + centre);
            *t = new;
            let x = new.load();
            bad |= !x.is_finite();
            if SQ {
                *lane += x * x;
            }
        }
        if SQ && i % FLUSH_CHUNKS == FLUSH_CHUNKS - 1 {
            sq.flush();
        }
    }
    for (t, lane) in tr.iter_mut().zip(sq.lanes.iter_mut()) {
        let new = P::store((t.load() - centre) * factor + centre);
        *t = new;
        let x = new.load();
        bad |= !x.is_finite();
        if SQ {
            *lane += x * x;
        }
    }
    (bad, if SQ { sq.finish() } else { 0.0 })
}

/// One region (a tensor, or a row of an embedding) with its local scalars:
/// LAMB's trust-ratio pass if needed, then the update pass.
fn region<O: Optimizer, P: Storage, const SQ: bool, const COUNT: bool>(
    opt: &O,
    local: &O::Local,
    theta: &mut [P],
    g: &[f32],
    state: &mut [Stored<O, P>],
) -> (Tally, f64) {
    if O::TRUST_RATIO {
        let (th_sq, d_sq) = probe_pass::<O, P>(local, theta, g, state);
        let scaled = opt.trust(local, th_sq, d_sq);
        update_pass::<O, P, SQ, COUNT>(&scaled, theta, g, state)
    } else {
        update_pass::<O, P, SQ, COUNT>(local, theta, g, state)
    }
}

fn region_dispatch<O: Optimizer, P: Storage, const SQ: bool>(
    opt: &O,
    local: &O::Local,
    theta: &mut [P],
    g: &[f32],
    state: &mut [Stored<O, P>],
    count: bool,
) -> (Tally, f64) {
    if count {
        region::<O, P, SQ, true>(opt, local, theta, g, state)
    } else {
        region::<O, P, SQ, false>(opt, local, theta, g, state)
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
    let want = n
        .checked_mul(<O::Slots as Slots>::LEN)
        .ok_or(Error::CapacityExceeded {
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
            if row_len == 0 || n % row_len != 0 {
                return Err(Error::InvalidShape { len: n, row_len });
            }
            row_len
        }
        _ => 0,
    };
    let state = <O::Slots as Slots>::view_mut::<P>(state);
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
        let rms = 1.0;
        let local = opt.local(step, kind, rms);
        if accumulate_pass::<O, P>(&local, g, state) {
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
            region_dispatch::<O, P, false>(opt, &local, theta, g, state, count).0
        }
        RmsScope::Tensor => {
            let sq = match options.rms_hint {
                Some(h) => h,
                None => sum_sq(theta),
            };
            let local = opt.local(step, kind, rms_from(sq, n));
            let (tally, sq_new) =
                region_dispatch::<O, P, true>(opt, &local, theta, g, state, count);
            report.theta_sq_sum = Some(sq_new);
            tally
        }
        RmsScope::Row => {
            let mut total = Tally::default();
            for ((t_row, g_row), s_row) in theta
                .chunks_exact_mut(row_len)
                .zip(g.chunks_exact(row_len))
                .zip(state.chunks_exact_mut(row_len))
            {
                let local = opt.local(step, kind, rms_from(sum_sq(t_row), row_len));
                let (t, _) =
                    region_dispatch::<O, P, false>(opt, &local, t_row, g_row, s_row, count);
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
