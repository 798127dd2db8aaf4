//! The one generic training driver: any [`Optimizer`] on any [`Task`], with
//! f32 or fp16 storage, gradient accumulation, and NaN injection.
//!
//! Per update `u` (a cycle of `k` micro-steps, micro-step `t = u·k + j`):
//! 1. the task writes the mini-batch gradient from the current θ (widened to
//!    f32 in `work`);
//! 2. NaN injection may replace it by NaN ([`NanInjection`]), and it may be
//!    rounded to fp16 ([`TrainConfig::fp16_gradients`]);
//! 3. optimisers that accumulate in place (Tiger, SGDM) step every micro-step
//!    with [`StepInfo`]`(t, k)`; the others get the mean gradient
//!    `Σ_j g_j·(1/k)`, summed in the caller's `accum` buffer (the extra state
//!    float that accumulation costs them), on the last micro-step;
//! 4. each tensor's `Σθ²` from the kernel is passed back as the next step's
//!    RMS hint, so Tiger reads θ once per step.
//!
//! A non-finite gradient goes to Tiger's guard; for the other optimisers the
//! [`NanPolicy`] says whether the step is skipped (what a loss scaler does) or
//! the NaN is applied as a framework without checks would, after which the run
//! stops with [`RunSummary::diverged_at`] set.

use core::ops::ControlFlow;

use rand::Rng;

use super::tasks::{Layout, MAX_TENSORS, Task};
use super::{
    Error, Gradient, NanGuard, Optimizer, StepInfo, StepOptions, Storage, TensorMut, fp16,
    kernel::any_non_finite,
};

/// Artificial NaN gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NanInjection {
    /// Probability that a micro-step's whole gradient is NaN, for updates in
    /// `from..until`.
    pub probability: f32,
    /// First update of the window.
    pub from: u32,
    /// One past the last update of the window.
    pub until: u32,
    /// If set, the gradient is NaN whenever `max |θ|` exceeds this value:
    /// a stand-in for an fp16 forward pass that overflows once weights grow.
    pub overflow_limit: Option<f32>,
    /// Seed of the injection's own random stream (injecting does not shift
    /// the task's mini-batches).
    pub seed: u64,
}

impl Default for NanInjection {
    /// No injection.
    fn default() -> Self {
        Self {
            probability: 0.0,
            from: 0,
            until: u32::MAX,
            overflow_limit: None,
            seed: 0,
        }
    }
}

impl NanInjection {
    fn fires(&self, update: u32, micro_step: u64) -> bool {
        if self.probability <= 0.0 || update < self.from || update >= self.until {
            return false;
        }
        let x = splitmix64(self.seed ^ micro_step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        ((x >> 40) as f32) * (1.0 / 16_777_216.0) < self.probability
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What an optimiser without a NaN guard does with a non-finite gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NanPolicy {
    /// Skip the update (θ and state untouched), as a dynamic loss scaler does.
    #[default]
    Skip,
    /// Apply it, as a framework without checks does: θ becomes NaN and the
    /// run stops, reported as divergence.
    Propagate,
}

/// Settings of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Number of updates (cycles).
    pub updates: u32,
    /// Micro-steps per update `k ≥ 1`.
    pub accum: u32,
    /// NaN injection.
    pub nan: NanInjection,
    /// Non-finite gradients for optimisers without a guard.
    pub policy: NanPolicy,
    /// Count updates lost to rounding.
    pub count_lost: bool,
    /// Round gradients to fp16 before each step (pure-fp16 training).
    pub fp16_gradients: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            updates: 100,
            accum: 1,
            nan: NanInjection::default(),
            policy: NanPolicy::Skip,
            count_lost: false,
            fp16_gradients: false,
        }
    }
}

/// Caller-owned memory of a run over `n` parameters.
#[derive(Debug)]
pub struct Buffers<'a, P: Storage> {
    /// θ as stored (`n`).
    pub theta: &'a mut [P],
    /// Optimiser state ([`state_len`]).
    pub state: &'a mut [P],
    /// Gradient (`n`).
    pub grad: &'a mut [f32],
    /// Gradient sum for accumulation ([`accum_len`]: `n` or 0).
    pub accum: &'a mut [f32],
    /// θ widened to f32, as the task sees it (`n`).
    pub work: &'a mut [f32],
}

/// State length for `n` parameters.
#[must_use]
pub fn state_len<O: Optimizer>(n: usize) -> usize {
    n.saturating_mul(O::STATE_FLOATS)
}

/// Accumulation-buffer length for `n` parameters with `k` micro-steps: `n`
/// when `k > 1` and the optimiser does not accumulate in place, else 0.
#[must_use]
pub fn accum_len<O: Optimizer>(n: usize, k: u32) -> usize {
    if k > 1 && !O::ACCUMULATES_IN_PLACE {
        n
    } else {
        0
    }
}

/// What the observer sees after each update.
#[derive(Debug, Clone, Copy)]
pub struct StepRecord<'a> {
    /// Update index (0-based).
    pub update: u32,
    /// Mean mini-batch loss over the cycle (before the update).
    pub loss: f32,
    /// θ after the update, as f32.
    pub theta: &'a [f32],
    /// Some micro-step of the cycle had a non-finite gradient.
    pub nan_gradient: bool,
    /// Tiger's guard ran on some tensor.
    pub guarded: bool,
    /// The update was skipped ([`NanPolicy::Skip`]).
    pub skipped: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunSummary {
    /// Updates completed.
    pub updates: u32,
    /// Full noise-free loss at the end; NaN after divergence (a framework
    /// without checks would carry the NaN on).
    pub final_loss: f32,
    /// Micro-steps with a non-finite gradient.
    pub nan_micro_steps: u32,
    /// Micro-steps on which Tiger's guard ran (on some tensor).
    pub guarded_steps: u32,
    /// Updates skipped under [`NanPolicy::Skip`].
    pub skipped_updates: u32,
    /// The update at which θ or state became non-finite.
    pub diverged_at: Option<u32>,
    /// Parameter updates with a non-zero intended change (`count_lost`).
    pub moved: u64,
    /// Of those, lost to rounding (`count_lost`).
    pub lost: u64,
    /// The observer stopped the run.
    pub cancelled: bool,
}

impl RunSummary {
    /// `lost / moved` (0 when nothing moved).
    #[must_use]
    pub fn lost_fraction(&self) -> f64 {
        if self.moved == 0 {
            0.0
        } else {
            self.lost as f64 / self.moved as f64
        }
    }
}

fn check(what: &'static str, expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            expected,
            actual,
        })
    }
}

#[derive(Default)]
struct Tally {
    guarded: bool,
    moved: u64,
    lost: u64,
}

/// One step of every tensor. `claim_finite` passes the gradient as finite
/// without scanning (for [`NanPolicy::Propagate`]).
#[expect(
    clippy::too_many_arguments,
    reason = "private helper of the driver; bundling would only rename the same ten values"
)]
fn step_all<O: Optimizer, P: Storage>(
    opt: &O,
    info: StepInfo,
    layout: &Layout,
    theta: &mut [P],
    state: &mut [P],
    g: &[f32],
    claim_finite: bool,
    hints: &mut [Option<f64>; MAX_TENSORS],
    count_lost: bool,
    tally: &mut Tally,
) -> Result<(), Error> {
    let step = opt.step(info);
    let mut rest_t = theta;
    let mut rest_s = state;
    let mut rest_g = g;
    for (spec, hint) in layout.iter().zip(hints.iter_mut()) {
        let have = rest_t.len();
        let (t, rt) = rest_t
            .split_at_mut_checked(spec.len)
            .ok_or(Error::LengthMismatch {
                what: "parameters",
                expected: spec.len,
                actual: have,
            })?;
        let slen = spec.len.saturating_mul(O::STATE_FLOATS);
        let have = rest_s.len();
        let (s, rs) = rest_s
            .split_at_mut_checked(slen)
            .ok_or(Error::LengthMismatch {
                what: "state",
                expected: slen,
                actual: have,
            })?;
        let (gt, rg) = rest_g
            .split_at_checked(spec.len)
            .ok_or(Error::LengthMismatch {
                what: "gradient",
                expected: spec.len,
                actual: rest_g.len(),
            })?;
        (rest_t, rest_s, rest_g) = (rt, rs, rg);
        let grad = if claim_finite {
            Gradient::with_status(gt, false)
        } else {
            Gradient::new(gt)
        };
        let rep = opt.step_tensor(
            &step,
            TensorMut {
                kind: spec.kind,
                theta: t,
                state: s,
            },
            grad,
            StepOptions {
                rms_hint: *hint,
                count_lost,
            },
        )?;
        *hint = rep.theta_sq_sum;
        tally.guarded |= rep.guarded;
        tally.moved += rep.moved;
        tally.lost += rep.lost;
    }
    Ok(())
}

/// Train `task` with `opt` for `config.updates` updates. `observe` is called
/// after every update; returning `ControlFlow::Break(())` stops the run
/// (progress bars, cancel buttons).
///
/// Divergence (θ or state non-finite) is a result, not an error: the summary
/// has `diverged_at`. Errors are for invalid input (buffer lengths, `k = 0`,
/// task errors).
///
/// ```
/// use core::ops::ControlFlow;
/// use kexue_core::optim::{train, Tiger, TigerConfig, TrainConfig, Optimizer};
/// use kexue_core::optim::tasks::{Function2d, Task2d};
/// use kexue_core::optim::train::Buffers;
/// use rand::SeedableRng;
/// let tiger = Tiger::new(TigerConfig { lr: 0.01, weight_decay: 0.0, ..Default::default() }).unwrap();
/// let mut task = Task2d::new(Function2d::IllConditioned, 0.0).unwrap();
/// let (mut th, mut m, mut g, mut w) = ([0.0f32; 2], [0.0f32; 2], [0.0f32; 2], [0.0f32; 2]);
/// let bufs = Buffers { theta: &mut th, state: &mut m, grad: &mut g, accum: &mut [], work: &mut w };
/// let cfg = TrainConfig { updates: 400, ..Default::default() };
/// let mut rng = rand::rngs::SmallRng::seed_from_u64(0);
/// let s = train(&tiger, &mut task, bufs, &cfg, &mut rng, |_| ControlFlow::Continue(())).unwrap();
/// assert!(s.final_loss < 1e-2, "{}", s.final_loss);
/// ```
pub fn train<O, P, T, R, F>(
    opt: &O,
    task: &mut T,
    buffers: Buffers<'_, P>,
    config: &TrainConfig,
    rng: &mut R,
    mut observe: F,
) -> Result<RunSummary, Error>
where
    O: Optimizer,
    P: Storage,
    T: Task,
    R: Rng + ?Sized,
    F: FnMut(&StepRecord<'_>) -> ControlFlow<()>,
{
    let Buffers {
        theta,
        state,
        grad,
        accum,
        work,
    } = buffers;
    let k = config.accum;
    StepInfo::new(0, k)?;
    let layout = task.layout();
    let n = layout.total();
    check("parameters", n, theta.len())?;
    check("state", state_len::<O>(n), state.len())?;
    check("gradient", n, grad.len())?;
    check("work", n, work.len())?;
    check("accumulation buffer", accum_len::<O>(n, k), accum.len())?;
    let guarded = layout
        .iter()
        .all(|s| !matches!(opt.guard(s.kind), NanGuard::Skip));

    task.init(work, rng)?;
    for (t, w) in theta.iter_mut().zip(work.iter_mut()) {
        *t = P::store(*w);
        *w = t.load();
    }
    state.fill(P::ZERO);
    let mut hints = [None; MAX_TENSORS];
    let mut summary = RunSummary::default();
    let inv_k = 1.0 / k as f32;

    'updates: for u in 0..config.updates {
        let mut cycle_loss = 0.0f32;
        let mut cycle_nan = false;
        let mut tally = Tally::default();
        let mut skipped = false;
        for j in 0..k {
            let t = u64::from(u) * u64::from(k) + u64::from(j);
            let info = StepInfo::new(t, k)?;
            let loss = task.loss_and_grad(work, grad, rng)?;
            cycle_loss += loss * inv_k;
            let overflow = config
                .nan
                .overflow_limit
                .is_some_and(|lim| work.iter().any(|w| w.is_nan() || w.abs() > lim));
            if overflow || config.nan.fires(u, t) {
                grad.fill(f32::NAN);
            }
            if config.fp16_gradients {
                fp16::round_in_place(grad);
            }
            let bad = any_non_finite(grad);
            if bad {
                summary.nan_micro_steps = summary.nan_micro_steps.saturating_add(1);
                cycle_nan = true;
            }
            let propagate = bad && !guarded && config.policy == NanPolicy::Propagate;
            let result = if O::ACCUMULATES_IN_PLACE || k == 1 {
                if bad && !guarded && config.policy == NanPolicy::Skip {
                    skipped = true;
                    continue;
                }
                step_all(
                    opt,
                    info,
                    &layout,
                    theta,
                    state,
                    grad,
                    propagate,
                    &mut hints,
                    config.count_lost,
                    &mut tally,
                )
            } else {
                if j == 0 {
                    for (a, &g) in accum.iter_mut().zip(grad.iter()) {
                        *a = g * inv_k;
                    }
                } else {
                    for (a, &g) in accum.iter_mut().zip(grad.iter()) {
                        *a += g * inv_k;
                    }
                }
                if bad && config.policy == NanPolicy::Skip {
                    skipped = true;
                }
                if j + 1 < k {
                    continue;
                }
                if skipped {
                    continue;
                }
                let claim = cycle_nan && !guarded && config.policy == NanPolicy::Propagate;
                step_all(
                    opt,
                    info,
                    &layout,
                    theta,
                    state,
                    accum,
                    claim,
                    &mut hints,
                    config.count_lost,
                    &mut tally,
                )
            };
            match result {
                Ok(()) => {}
                Err(Error::NonFiniteResult) => {
                    summary.diverged_at = Some(u);
                    for (w, t) in work.iter_mut().zip(theta.iter()) {
                        *w = t.load();
                    }
                    break 'updates;
                }
                Err(e) => return Err(e),
            }
            if tally.guarded {
                summary.guarded_steps = summary.guarded_steps.saturating_add(1);
                tally.guarded = false;
            }
            for (w, t) in work.iter_mut().zip(theta.iter()) {
                *w = t.load();
            }
        }
        if skipped {
            summary.skipped_updates = summary.skipped_updates.saturating_add(1);
        }
        summary.moved = summary.moved.saturating_add(tally.moved);
        summary.lost = summary.lost.saturating_add(tally.lost);
        summary.updates = u + 1;
        let record = StepRecord {
            update: u,
            loss: cycle_loss,
            theta: work,
            nan_gradient: cycle_nan,
            guarded: cycle_nan && guarded,
            skipped,
        };
        if observe(&record).is_break() {
            summary.cancelled = true;
            break;
        }
    }
    summary.final_loss = if summary.diverged_at.is_some() {
        f32::NAN
    } else {
        task.loss(work)?
    };
    Ok(summary)
}
