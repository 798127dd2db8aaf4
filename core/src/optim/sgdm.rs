//! SGD with (heavy-ball) momentum and decoupled weight decay, the `γ → 0` end
//! of Tiger's blend (up to the `(1 − β)` scale of an EMA):
//!
//! ```text
//! m ← μ·m + g                    (PyTorch's `SGD(momentum=μ)`, dampening 0)
//! θ ← θ − (m + λθ)·η_t           η_t = α·schedule(t)
//! ```
//!
//! Like Tiger, `m` is linear in `g` and only read on update micro-steps, so
//! accumulation over `k` micro-steps folds into the one buffer:
//! `m ← μ_t·m + g/k` with `μ_t = μ` on the first micro-step of a cycle and 1
//! after, θ moving on the last. One state float with or without
//! accumulation.

use super::{Error, Optimizer, ParamKind, Schedule, StepInfo, check_range, scheduled_lr};

/// Hyperparameters of [`Sgdm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdmConfig {
    /// Learning rate α (1e-2).
    pub lr: f64,
    /// Momentum μ (0.9).
    pub momentum: f64,
    /// Decoupled weight decay λ (0).
    pub weight_decay: f64,
    /// Multiplier of α over micro-steps.
    pub schedule: Schedule,
}

impl Default for SgdmConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            momentum: 0.9,
            weight_decay: 0.0,
            schedule: Schedule::default(),
        }
    }
}

/// SGD with momentum: one state float, also with accumulation.
///
/// ```
/// use kexue_core::optim::{Optimizer, Sgdm, SgdmConfig};
/// assert_eq!((Sgdm::STATE_FLOATS, Sgdm::STATE_FLOATS_ACCUMULATING), (1, 1));
/// assert!(Sgdm::new(SgdmConfig { lr: f64::NAN, ..Default::default() }).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgdm {
    config: SgdmConfig,
}

impl Sgdm {
    /// Validate (`α, λ ≥ 0`, `μ ∈ [0, 1]`).
    pub fn new(config: SgdmConfig) -> Result<Self, Error> {
        check_range("lr", config.lr, 0.0, f64::MAX)?;
        check_range("momentum", config.momentum, 0.0, 1.0)?;
        check_range("weight_decay", config.weight_decay, 0.0, f64::MAX)?;
        Ok(Self { config })
    }
}

/// SGDM's hoisted scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdmStep {
    mu: f32,
    gscale: f32,
    lr: f32,
    update: bool,
}

/// SGDM's per-tensor scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdmLocal {
    s: SgdmStep,
    decay: f32,
}

impl Optimizer for Sgdm {
    const NAME: &'static str = "sgdm";
    type Slots = [f32; 1];
    const ACCUMULATES_IN_PLACE: bool = true;
    type Step = SgdmStep;
    type Local = SgdmLocal;

    fn step(&self, info: StepInfo) -> SgdmStep {
        let c = &self.config;
        let update = info.is_last();
        SgdmStep {
            mu: if info.is_first() {
                c.momentum as f32
            } else {
                1.0
            },
            gscale: (1.0 / f64::from(info.accum())) as f32,
            lr: if update {
                scheduled_lr(c.lr, &c.schedule, info.micro_step())
            } else {
                0.0
            },
            update,
        }
    }

    fn updates(step: &SgdmStep) -> bool {
        step.update
    }

    fn local(&self, step: &SgdmStep, kind: ParamKind, _rms: f32) -> SgdmLocal {
        SgdmLocal {
            s: *step,
            decay: if kind.decays() {
                self.config.weight_decay as f32
            } else {
                0.0
            },
        }
    }

    #[inline(always)]
    fn element(l: &SgdmLocal, theta: f32, g: f32, slots: &mut [f32; 1]) -> f32 {
        let [m] = *slots;
        let m = l.s.mu * m + l.s.gscale * g;
        *slots = [m];
        (m + l.decay * theta) * l.s.lr
    }
}
