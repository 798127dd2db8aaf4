//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"),
//! as restated in the Tiger post (2023-03-07):
//!
//! ```text
//! u = sign(β1·m + (1 − β1)·g)
//! θ ← θ − (u + λθ)·η_t          η_t = α·schedule(t)
//! m ← β2·m + (1 − β2)·g
//! ```
//!
//! One state float; gradient accumulation needs a second buffer (the update
//! interpolates `m` and the mean gradient with β1, the state with β2, so the
//! mean gradient must be kept apart). With β1 = β2 it is Tiger on `Plain`
//! tensors, bit for bit (same f32 expressions; tested).

use super::{Error, Optimizer, ParamKind, Schedule, StepInfo, check_range, scheduled_lr, sign0};

/// Hyperparameters of [`Lion`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LionConfig {
    /// Learning rate α (1e-4).
    pub lr: f64,
    /// β1 (0.9): interpolation for the update.
    pub beta1: f64,
    /// β2 (0.99): decay of the state.
    pub beta2: f64,
    /// Weight decay λ (0.01).
    pub weight_decay: f64,
    /// Multiplier of α over micro-steps.
    pub schedule: Schedule,
}

impl Default for LionConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.99,
            weight_decay: 0.01,
            schedule: Schedule::default(),
        }
    }
}

/// Lion: one state float, two with accumulation.
///
/// ```
/// use kexue_core::optim::{Lion, LionConfig, Optimizer};
/// assert_eq!((Lion::STATE_FLOATS, Lion::STATE_FLOATS_ACCUMULATING), (1, 2));
/// assert!(Lion::new(LionConfig { beta2: -0.1, ..Default::default() }).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lion {
    config: LionConfig,
}

impl Lion {
    /// Validate (`α, λ ≥ 0`, `β1, β2 ∈ [0, 1]`).
    pub fn new(config: LionConfig) -> Result<Self, Error> {
        check_range("lr", config.lr, 0.0, f64::MAX)?;
        check_range("beta1", config.beta1, 0.0, 1.0)?;
        check_range("beta2", config.beta2, 0.0, 1.0)?;
        check_range("weight_decay", config.weight_decay, 0.0, f64::MAX)?;
        Ok(Self { config })
    }
}

/// Lion's hoisted scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LionStep {
    b1: f32,
    c1: f32,
    b2: f32,
    c2: f32,
    lr: f32,
}

/// Lion's per-tensor scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LionLocal {
    s: LionStep,
    decay: f32,
}

impl Optimizer for Lion {
    const NAME: &'static str = "lion";
    type Slots = [f32; 1];
    const ACCUMULATES_IN_PLACE: bool = false;
    type Step = LionStep;
    type Local = LionLocal;

    fn step(&self, info: StepInfo) -> LionStep {
        let c = &self.config;
        LionStep {
            b1: c.beta1 as f32,
            c1: (1.0 - c.beta1) as f32,
            b2: c.beta2 as f32,
            c2: (1.0 - c.beta2) as f32,
            lr: scheduled_lr(c.lr, &c.schedule, info.micro_step()),
        }
    }

    fn local(&self, step: &LionStep, kind: ParamKind, _rms: f32) -> LionLocal {
        LionLocal {
            s: *step,
            decay: if kind.decays() {
                self.config.weight_decay as f32
            } else {
                0.0
            },
        }
    }

    #[inline(always)]
    fn element(l: &LionLocal, theta: f32, g: f32, slots: &mut [f32; 1]) -> f32 {
        let [m] = *slots;
        let u = sign0(l.s.b1 * m + l.s.c1 * g);
        *slots = [l.s.b2 * m + l.s.c2 * g];
        (u + l.decay * theta) * l.s.lr
    }
}
