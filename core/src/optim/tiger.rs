//! Tiger (post of 2023-03-07; reference `tiger.py`, github `bojone/tiger`),
//! and the post's "future work" blend towards SGD with momentum.
//!
//! At micro-step `t` (0-based) of cycles of `k` ([`StepInfo`]):
//!
//! ```text
//! b1 = β if t mod k = 0 else 1            b2 = (1 − β)/k
//! η_t = α·schedule(t) if (t + 1) mod k = 0 else 0, then per kind:
//!       Matrix: η_t·RMS(θ)   Embedding: η_t·RMS(row)   Bias, Gamma: 0.5·η_t
//! m ← b1·m + b2·g
//! θ ← θ − (sign(m) + λθ)·η_t              (λ = 0 for Bias and Gamma)
//! ```
//!
//! so `k` micro-steps equal one step on the mean gradient with one state float
//! per parameter. **NaN guard**: if the tensor's gradient has a NaN, `m` is
//! kept (`b1 = 1`, `g = 0`) and `θ ← (θ − c)·s + c` (`s` = 0.99, `c` = 1 for
//! Gamma else 0).
//!
//! Reference behaviour reproduced on purpose (all covered by golden tests):
//! * the schedule is evaluated at the micro-step counter `t`, not the update
//!   count;
//! * a NaN on the *first* micro-step of a cycle sets `b1 = 1` there, so that
//!   cycle never applies the decay β to `m`;
//! * the shrink also happens on micro-steps that do not update θ;
//! * `sign(0) = 0` (a zero momentum does not move θ, beyond weight decay);
//! * a `Matrix` whose θ is all zero has `RMS = 0` and never moves.
//!
//! Deliberate differences: the guard also triggers on ±∞ (the reference tests
//! only NaN; an infinite gradient would leave `m = ±∞` for ever); sparse
//! (indexed) gradients are not supported — a dense gradient with zero rows
//! gives the reference's sparse result exactly, since `b1·m + b2·0 = b1·m`.
//!
//! **RMS(θ) for `Matrix`** costs the reference a full extra read of θ
//! (`tf.reduce_mean(var**2)`) before the update. Here the kernel returns
//! `Σθ²` of the θ it writes ([`super::TensorReport::theta_sq_sum`]); passed
//! back as the next step's [`super::StepOptions::rms_hint`] it makes the step
//! a single pass (the driver [`super::train()`] does this). Without a hint the
//! kernel does the extra pass. Embedding rows are short, so their RMS is read
//! per row just before the row is updated (the row is then in cache).

use super::{
    Error, NanGuard, Optimizer, ParamKind, RmsScope, Schedule, StepInfo, check_range, scheduled_lr,
    sign0,
};

/// Hyperparameters of [`Tiger`] (defaults of `tiger.py`). The accumulation
/// length `k` (`grad_accum_steps`) is given per step in [`StepInfo`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TigerConfig {
    /// Global relative learning rate α (`learning_rate`, 1e-3).
    pub lr: f64,
    /// β (0.965 for language, 0.945 for vision).
    pub beta: f64,
    /// Weight decay λ (0.01), for `Matrix`, `Embedding` and `Plain`.
    pub weight_decay: f64,
    /// Multiplier of α over micro-steps (`lr_schedule`, `{0: 1}`).
    pub schedule: Schedule,
    /// NaN-guard shrink ratio `s` (0.99).
    pub shrink_ratio: f64,
}

impl Default for TigerConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta: 0.965,
            weight_decay: 0.01,
            schedule: Schedule::default(),
            shrink_ratio: 0.99,
        }
    }
}

impl TigerConfig {
    fn validate(&self) -> Result<(), Error> {
        check_range("lr", self.lr, 0.0, f64::MAX)?;
        check_range("beta", self.beta, 0.0, 1.0)?;
        check_range("weight_decay", self.weight_decay, 0.0, f64::MAX)?;
        check_range("shrink_ratio", self.shrink_ratio, 0.0, 1.0)
    }
}

/// Tiger: one state float (`m`) per parameter, with or without accumulation.
///
/// ```
/// use kexue_core::optim::{Optimizer, Tiger, TigerConfig};
/// assert_eq!(Tiger::STATE_FLOATS, 1);
/// assert_eq!(Tiger::STATE_FLOATS_ACCUMULATING, 1);
/// assert!(Tiger::new(TigerConfig { beta: 1.5, ..Default::default() }).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tiger {
    config: TigerConfig,
}

impl Tiger {
    /// Validate the configuration (`lr, λ ≥ 0`, `β ∈ [0, 1]`, `s ∈ [0, 1]`).
    pub fn new(config: TigerConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TigerConfig {
        &self.config
    }
}

/// Tiger's per-micro-step scalars (f32, as the reference casts them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TigerStep {
    /// `β` on the first micro-step of a cycle, else 1.
    pub b1: f32,
    /// `(1 − β)/k`.
    pub b2: f32,
    /// `α·schedule(t)` on the last micro-step of a cycle, else 0.
    pub lr: f32,
    /// Whether this is the last micro-step of a cycle.
    pub update: bool,
    /// `γ_t` of the blend (`schedule(t)/peak`); 1 for plain Tiger.
    pub gamma: f32,
}

/// Tiger's per-tensor (or per-row) scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TigerLocal {
    b1: f32,
    b2: f32,
    eta: f32,
    decay: f32,
    power: f32,
}

fn tiger_step(c: &TigerConfig, info: StepInfo, blend_peak: Option<f64>) -> TigerStep {
    let t = info.micro_step();
    let k = info.accum();
    let update = info.is_last();
    let lr = scheduled_lr(c.lr, &c.schedule, t);
    let gamma = match blend_peak {
        Some(peak) if peak > 0.0 => (f64::from(c.schedule.value(t)) / peak).clamp(0.0, 1.0) as f32,
        _ => 1.0,
    };
    TigerStep {
        b1: if info.is_first() { c.beta as f32 } else { 1.0 },
        b2: ((1.0 - c.beta) / f64::from(k)) as f32,
        lr: if update { lr } else { 0.0 },
        update,
        gamma,
    }
}

fn tiger_local(c: &TigerConfig, step: &TigerStep, kind: ParamKind, rms: f32) -> TigerLocal {
    let decay = c.weight_decay as f32;
    let (eta, decay) = match kind {
        ParamKind::Bias | ParamKind::Gamma => (step.lr * 0.5, 0.0),
        ParamKind::Matrix | ParamKind::Embedding { .. } => (step.lr * rms, decay),
        ParamKind::Plain => (step.lr, decay),
    };
    TigerLocal {
        b1: step.b1,
        b2: step.b2,
        eta,
        decay,
        power: 1.0 - step.gamma,
    }
}

fn tiger_scope(kind: ParamKind) -> RmsScope {
    match kind {
        ParamKind::Matrix => RmsScope::Tensor,
        ParamKind::Embedding { .. } => RmsScope::Row,
        _ => RmsScope::None,
    }
}

fn tiger_guard(c: &TigerConfig, kind: ParamKind) -> NanGuard {
    NanGuard::Shrink {
        factor: c.shrink_ratio as f32,
        centre: kind.centre(),
    }
}

impl Optimizer for Tiger {
    const NAME: &'static str = "tiger";
    type Slots = [f32; 1];
    const ACCUMULATES_IN_PLACE: bool = true;
    type Step = TigerStep;
    type Local = TigerLocal;

    fn step(&self, info: StepInfo) -> TigerStep {
        tiger_step(&self.config, info, None)
    }

    fn updates(step: &TigerStep) -> bool {
        step.update
    }

    fn rms_scope(&self, kind: ParamKind) -> RmsScope {
        tiger_scope(kind)
    }

    fn local(&self, step: &TigerStep, kind: ParamKind, rms: f32) -> TigerLocal {
        tiger_local(&self.config, step, kind, rms)
    }

    fn guard(&self, kind: ParamKind) -> NanGuard {
        tiger_guard(&self.config, kind)
    }

    #[inline(always)]
    fn element(l: &TigerLocal, theta: f32, g: f32, slots: &mut [f32; 1]) -> f32 {
        let [m] = *slots;
        let m = l.b1 * m + l.b2 * g;
        *slots = [m];
        (sign0(m) + l.decay * theta) * l.eta
    }
}

/// The post's "future work": Tiger with `u = sign(m)·|m|^{1−γ_t}` in place
/// of `sign(m)`, `γ_t = schedule(t)/peak(schedule)` going from 1 (Tiger) to
/// 0 (SGD with EMA momentum `δ = (m + λθ)·η`) as the schedule decays.
/// Everything else (kinds, accumulation, guard) is Tiger's. One `powf` per
/// element makes it compute-bound; it is a research variant.
///
/// ```
/// use kexue_core::optim::{Optimizer, TigerBlend, TigerConfig};
/// let b = TigerBlend::new(TigerConfig::default()).unwrap();
/// assert_eq!(TigerBlend::STATE_FLOATS, 1);
/// assert_eq!(b.step(kexue_core::optim::StepInfo::single(0)).gamma, 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TigerBlend {
    config: TigerConfig,
    peak: f64,
}

impl TigerBlend {
    /// Validate as [`Tiger::new`]; the schedule's peak must be positive.
    pub fn new(config: TigerConfig) -> Result<Self, Error> {
        config.validate()?;
        let peak = config.schedule.peak();
        if peak.is_nan() || peak <= 0.0 {
            return Err(Error::InvalidSchedule);
        }
        Ok(Self { config, peak })
    }
}

impl Optimizer for TigerBlend {
    const NAME: &'static str = "tiger-blend";
    type Slots = [f32; 1];
    const ACCUMULATES_IN_PLACE: bool = true;
    type Step = TigerStep;
    type Local = TigerLocal;

    fn step(&self, info: StepInfo) -> TigerStep {
        tiger_step(&self.config, info, Some(self.peak))
    }

    fn updates(step: &TigerStep) -> bool {
        step.update
    }

    fn rms_scope(&self, kind: ParamKind) -> RmsScope {
        tiger_scope(kind)
    }

    fn local(&self, step: &TigerStep, kind: ParamKind, rms: f32) -> TigerLocal {
        tiger_local(&self.config, step, kind, rms)
    }

    fn guard(&self, kind: ParamKind) -> NanGuard {
        tiger_guard(&self.config, kind)
    }

    #[inline(always)]
    fn element(l: &TigerLocal, theta: f32, g: f32, slots: &mut [f32; 1]) -> f32 {
        let [m] = *slots;
        let m = l.b1 * m + l.b2 * g;
        *slots = [m];
        let u = if l.power == 0.0 {
            sign0(m)
        } else {
            sign0(m) * crate::math::pow_f32(m.abs(), l.power)
        };
        (u + l.decay * theta) * l.eta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Gradient, StepOptions, TensorMut};

    /// Tolerances of this module's tests.
    const EXACT: f32 = 0.0;
    const F32_REL: f32 = 1e-6;

    fn run<O: Optimizer>(
        o: &O,
        info: StepInfo,
        kind: ParamKind,
        theta: &mut [f32],
        m: &mut [f32],
        g: &[f32],
    ) -> Result<crate::optim::TensorReport, Error> {
        let step = o.step(info);
        o.step_tensor(
            &step,
            TensorMut {
                kind,
                theta,
                state: m,
            },
            Gradient::new(g),
            StepOptions::default(),
        )
    }

    #[test]
    fn matrix_step_uses_rms_and_decay() {
        let t = Tiger::new(TigerConfig::default()).unwrap();
        let mut theta = [3.0f32, -4.0];
        let mut m = [0.0f32; 2];
        run(
            &t,
            StepInfo::single(0),
            ParamKind::Matrix,
            &mut theta,
            &mut m,
            &[1.0, 1.0],
        )
        .unwrap();
        let rms = (12.5f32).sqrt();
        let eta = 1e-3f32 * rms;
        let want0 = 3.0 - (1.0 + 0.01 * 3.0) * eta;
        let want1 = -4.0 - (1.0 + 0.01 * -4.0) * eta;
        assert!((theta[0] - want0).abs() <= F32_REL * 3.0);
        assert!((theta[1] - want1).abs() <= F32_REL * 4.0);
        assert_eq!(m[0], 0.035f32 * 1.0);
    }

    #[test]
    fn accumulation_moves_only_on_last_micro_step() {
        let t = Tiger::new(TigerConfig::default()).unwrap();
        let mut theta = [1.0f32; 3];
        let mut m = [0.0f32; 3];
        let g = [0.5f32, -0.5, 0.0];
        for micro in 0..2 {
            let rep = run(
                &t,
                StepInfo::new(micro, 3).unwrap(),
                ParamKind::Bias,
                &mut theta,
                &mut m,
                &g,
            )
            .unwrap();
            assert!(!rep.updated);
            assert_eq!(theta, [1.0; 3]);
        }
        let rep = run(
            &t,
            StepInfo::new(2, 3).unwrap(),
            ParamKind::Bias,
            &mut theta,
            &mut m,
            &g,
        )
        .unwrap();
        assert!(rep.updated);
        assert_eq!(theta[0], 1.0 - 0.5e-3);
        assert_eq!(theta[1], 1.0 + 0.5e-3);
        assert_eq!(theta[2] - 1.0, EXACT, "sign(0) = 0 does not move a bias");
    }

    #[test]
    fn nan_guard_shrinks_gamma_towards_one_and_keeps_m() {
        let t = Tiger::new(TigerConfig::default()).unwrap();
        let mut theta = [2.0f32, 0.0];
        let mut m = [0.25f32, -0.5];
        let rep = run(
            &t,
            StepInfo::single(3),
            ParamKind::Gamma,
            &mut theta,
            &mut m,
            &[f32::NAN, 1.0],
        )
        .unwrap();
        assert!(rep.guarded && !rep.updated);
        assert_eq!(theta, [(2.0 - 1.0) * 0.99 + 1.0, (0.0 - 1.0) * 0.99 + 1.0]);
        assert_eq!(m, [0.25, -0.5]);
        // Infinity triggers the guard too (a documented difference).
        run(
            &t,
            StepInfo::single(4),
            ParamKind::Bias,
            &mut theta,
            &mut m,
            &[f32::INFINITY, 1.0],
        )
        .unwrap();
        assert_eq!(m, [0.25, -0.5]);
    }

    #[test]
    fn non_finite_state_is_an_error_not_a_silent_nan() {
        let t = Tiger::new(TigerConfig::default()).unwrap();
        let mut theta = [1.0f32];
        let mut m = [f32::NAN];
        assert_eq!(
            run(
                &t,
                StepInfo::single(0),
                ParamKind::Plain,
                &mut theta,
                &mut m,
                &[1.0]
            ),
            Err(Error::NonFiniteResult)
        );
        let mut theta = [f32::INFINITY];
        let mut m = [0.0];
        assert_eq!(
            run(
                &t,
                StepInfo::single(0),
                ParamKind::Plain,
                &mut theta,
                &mut m,
                &[1.0]
            ),
            Err(Error::NonFiniteResult)
        );
    }

    #[test]
    fn length_and_shape_errors_touch_nothing() {
        let t = Tiger::new(TigerConfig::default()).unwrap();
        let mut theta = [1.0f32; 4];
        let mut m = [0.0f32; 3];
        assert!(matches!(
            run(
                &t,
                StepInfo::single(0),
                ParamKind::Matrix,
                &mut theta,
                &mut m,
                &[1.0; 4]
            ),
            Err(Error::LengthMismatch { what: "state", .. })
        ));
        let mut m = [0.0f32; 4];
        assert!(matches!(
            run(
                &t,
                StepInfo::single(0),
                ParamKind::Matrix,
                &mut theta,
                &mut m,
                &[1.0; 3]
            ),
            Err(Error::LengthMismatch {
                what: "gradient",
                ..
            })
        ));
        assert_eq!(
            run(
                &t,
                StepInfo::single(0),
                ParamKind::Embedding { row_len: 3 },
                &mut theta,
                &mut m,
                &[1.0; 4]
            ),
            Err(Error::InvalidShape { len: 4, row_len: 3 })
        );
        assert_eq!(
            run(
                &t,
                StepInfo::single(0),
                ParamKind::Embedding { row_len: 0 },
                &mut theta,
                &mut m,
                &[1.0; 4]
            ),
            Err(Error::InvalidShape { len: 4, row_len: 0 })
        );
        assert_eq!(theta, [1.0; 4]);
        assert_eq!(m, [0.0; 4]);
    }

    #[test]
    fn blend_endpoints_are_tiger_and_ema_sgd() {
        // γ = 1 throughout a constant schedule: identical to Tiger.
        let cfg = TigerConfig::default();
        let (tiger, blend) = (Tiger::new(cfg).unwrap(), TigerBlend::new(cfg).unwrap());
        let g = [0.3f32, -0.2, 0.0, 1e-3];
        let (mut a, mut b) = ([0.5f32, -0.25, 1.0, 2.0], [0.5f32, -0.25, 1.0, 2.0]);
        let (mut ma, mut mb) = ([0.0f32; 4], [0.0f32; 4]);
        for s in 0..5 {
            run(
                &tiger,
                StepInfo::single(s),
                ParamKind::Matrix,
                &mut a,
                &mut ma,
                &g,
            )
            .unwrap();
            run(
                &blend,
                StepInfo::single(s),
                ParamKind::Matrix,
                &mut b,
                &mut mb,
                &g,
            )
            .unwrap();
        }
        assert_eq!(a, b);
        assert_eq!(ma, mb);
        // Schedule {0:0 → 10:1 → 20:0}: at t = 20, γ = 0, so δ = (m + λθ)·η.
        let sched = Schedule::piecewise(&[(10, 1.0), (20, 0.0), (30, 0.0)], true).unwrap();
        let cfg = TigerConfig {
            schedule: sched,
            lr: 0.1,
            ..TigerConfig::default()
        };
        let blend = TigerBlend::new(cfg).unwrap();
        let step = blend.step(StepInfo::single(15));
        assert!((step.gamma - 0.5).abs() <= F32_REL);
        let step = blend.step(StepInfo::single(20));
        assert_eq!(step.gamma, 0.0);
        // lr is 0 at t = 20, so use the element rule directly with η = 1.
        let l = TigerLocal {
            b1: 0.965,
            b2: 0.035,
            eta: 1.0,
            decay: 0.0,
            power: 1.0,
        };
        let mut s = [0.2f32];
        let d = TigerBlend::element(&l, 1.0, 0.4, &mut s);
        assert_eq!(d, 0.965 * 0.2 + 0.035 * 0.4);
        assert!(
            TigerBlend::new(TigerConfig {
                schedule: Schedule::constant(0.0),
                ..cfg
            })
            .is_err()
        );
    }
}
