//! AdamW (Loshchilov & Hutter): Adam with bias correction and decoupled
//! weight decay, the baseline of the Tiger post (2023-03-07):
//!
//! ```text
//! m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
//! m̂ = m/(1 − β1^n)               v̂ = v/(1 − β2^n)        (n = update count, from 1)
//! θ ← θ − (m̂/(√v̂ + ε) + λθ)·η_t  η_t = α·schedule(t)
//! ```
//!
//! Computed as `(m·c1/(√v·c2 + ε) + λθ)·η` with `c1 = 1/(1 − β1^n)` and
//! `c2 = 1/√(1 − β2^n)` hoisted per step. With λ = 0 this is Adam (tested
//! against a textbook Adam in the integration tests). Two state floats
//! (`m` then `v`, planar), three with accumulation.

use super::{Error, Optimizer, ParamKind, Schedule, StepInfo, check_range, scheduled_lr};

/// Hyperparameters of [`AdamW`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate α (1e-3).
    pub lr: f64,
    /// β1 (0.9).
    pub beta1: f64,
    /// β2 (0.999).
    pub beta2: f64,
    /// ε (1e-8).
    pub eps: f64,
    /// Decoupled weight decay λ (0.01).
    pub weight_decay: f64,
    /// Multiplier of α over micro-steps.
    pub schedule: Schedule,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            schedule: Schedule::default(),
        }
    }
}

/// AdamW: two state floats (`m`, `v`), three with accumulation.
///
/// ```
/// use kexue_core::optim::{AdamW, AdamWConfig, Optimizer};
/// assert_eq!((AdamW::STATE_FLOATS, AdamW::STATE_FLOATS_ACCUMULATING), (2, 3));
/// assert!(AdamW::new(AdamWConfig { beta1: 1.0, ..Default::default() }).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamW {
    config: AdamWConfig,
}

impl AdamW {
    /// Validate (`α, λ ≥ 0`, `β1, β2 ∈ [0, 1)`, `ε > 0`).
    pub fn new(config: AdamWConfig) -> Result<Self, Error> {
        check_range("lr", config.lr, 0.0, f64::MAX)?;
        check_range("beta1", config.beta1, 0.0, 1.0 - f64::EPSILON)?;
        check_range("beta2", config.beta2, 0.0, 1.0 - f64::EPSILON)?;
        check_range("eps", config.eps, f64::MIN_POSITIVE, f64::MAX)?;
        check_range("weight_decay", config.weight_decay, 0.0, f64::MAX)?;
        Ok(Self { config })
    }
}

/// Adam-family hoisted scalars (also used by LAMB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    pub(crate) b1: f32,
    pub(crate) c1g: f32,
    pub(crate) b2: f32,
    pub(crate) c2g: f32,
    /// `1/(1 − β1^n)`.
    pub(crate) bc1: f32,
    /// `1/√(1 − β2^n)`.
    pub(crate) bc2: f32,
    pub(crate) eps: f32,
    pub(crate) lr: f32,
}

impl AdamStep {
    pub(crate) fn new(
        beta1: f64,
        beta2: f64,
        eps: f64,
        lr: f64,
        schedule: &Schedule,
        info: StepInfo,
    ) -> Self {
        // The update count n ≥ 1; exponents past i32::MAX saturate (β^n is 0 there).
        let n = i32::try_from(info.update_index().saturating_add(1)).unwrap_or(i32::MAX);
        let p1 = crate::math::pow(beta1, f64::from(n));
        let p2 = crate::math::pow(beta2, f64::from(n));
        Self {
            b1: beta1 as f32,
            c1g: (1.0 - beta1) as f32,
            b2: beta2 as f32,
            c2g: (1.0 - beta2) as f32,
            bc1: (1.0 / (1.0 - p1)) as f32,
            bc2: (1.0 / crate::math::sqrt(1.0 - p2)) as f32,
            eps: eps as f32,
            lr: scheduled_lr(lr, schedule, info.micro_step()),
        }
    }

    /// Update `[m, v]`, return `m̂/(√v̂ + ε)`.
    #[inline(always)]
    pub(crate) fn direction(&self, g: f32, slots: &mut [f32; 2]) -> f32 {
        let [m, v] = *slots;
        let m = self.b1 * m + self.c1g * g;
        let v = self.b2 * v + self.c2g * (g * g);
        *slots = [m, v];
        (m * self.bc1) / (super::sqrt::sqrt_f32(v) * self.bc2 + self.eps)
    }
}

/// AdamW's per-tensor scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWLocal {
    s: AdamStep,
    decay: f32,
}

impl Optimizer for AdamW {
    const NAME: &'static str = "adamw";
    type Slots = [f32; 2];
    const ACCUMULATES_IN_PLACE: bool = false;
    type Step = AdamStep;
    type Local = AdamWLocal;

    fn step(&self, info: StepInfo) -> AdamStep {
        let c = &self.config;
        AdamStep::new(c.beta1, c.beta2, c.eps, c.lr, &c.schedule, info)
    }

    fn local(&self, step: &AdamStep, kind: ParamKind, _rms: f32) -> AdamWLocal {
        AdamWLocal {
            s: *step,
            decay: if kind.decays() {
                self.config.weight_decay as f32
            } else {
                0.0
            },
        }
    }

    #[inline(always)]
    fn element(l: &AdamWLocal, theta: f32, g: f32, slots: &mut [f32; 2]) -> f32 {
        (l.s.direction(g, slots) + l.decay * theta) * l.s.lr
    }
}
