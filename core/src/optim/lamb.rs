//! LAMB (You et al. 2019): Adam's direction with decoupled decay, rescaled per
//! tensor by the trust ratio, the "≈ AdamW" baseline of the Tiger post:
//!
//! ```text
//! r = m̂/(√v̂ + ε) + λθ            (m, v, m̂, v̂ as AdamW)
//! φ = ‖θ‖ / ‖r‖  (1 if either norm is 0)
//! θ ← θ − φ·η_t·r
//! ```
//!
//! The ratio needs the whole `r` before any θ moves, so the kernel makes two
//! passes: the first computes `r` without writing, the second writes θ, m, v.
//! Two state floats, three with accumulation.

use super::adamw::AdamStep;
use super::{Error, Optimizer, ParamKind, Schedule, StepInfo, check_range};

/// Hyperparameters of [`Lamb`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambConfig {
    /// Learning rate α (1e-3).
    pub lr: f64,
    /// β1 (0.9).
    pub beta1: f64,
    /// β2 (0.999).
    pub beta2: f64,
    /// ε (1e-6).
    pub eps: f64,
    /// Decoupled weight decay λ (0.01).
    pub weight_decay: f64,
    /// Multiplier of α over micro-steps.
    pub schedule: Schedule,
}

impl Default for LambConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.01,
            schedule: Schedule::default(),
        }
    }
}

/// LAMB: two state floats, three with accumulation; two passes per step.
///
/// ```
/// use kexue_core::optim::{Lamb, LambConfig, Optimizer};
/// assert_eq!((Lamb::STATE_FLOATS, Lamb::STATE_FLOATS_ACCUMULATING), (2, 3));
/// assert!(Lamb::TRUST_RATIO);
/// assert!(Lamb::new(LambConfig { eps: 0.0, ..Default::default() }).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lamb {
    config: LambConfig,
}

impl Lamb {
    /// Validate (`α, λ ≥ 0`, `β1, β2 ∈ [0, 1)`, `ε > 0`).
    pub fn new(config: LambConfig) -> Result<Self, Error> {
        check_range("lr", config.lr, 0.0, f64::MAX)?;
        check_range("beta1", config.beta1, 0.0, 1.0 - f64::EPSILON)?;
        check_range("beta2", config.beta2, 0.0, 1.0 - f64::EPSILON)?;
        check_range("eps", config.eps, f64::MIN_POSITIVE, f64::MAX)?;
        check_range("weight_decay", config.weight_decay, 0.0, f64::MAX)?;
        Ok(Self { config })
    }
}

/// LAMB's per-tensor scalars: `scale = η` on the first pass, `φ·η` after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambLocal {
    s: AdamStep,
    decay: f32,
    eta: f32,
    scale: f32,
}

impl Optimizer for Lamb {
    const NAME: &'static str = "lamb";
    type Slots = [f32; 2];
    const ACCUMULATES_IN_PLACE: bool = false;
    const TRUST_RATIO: bool = true;
    type Step = AdamStep;
    type Local = LambLocal;

    fn step(&self, info: StepInfo) -> AdamStep {
        let c = &self.config;
        AdamStep::new(c.beta1, c.beta2, c.eps, c.lr, &c.schedule, info)
    }

    fn local(&self, step: &AdamStep, kind: ParamKind, _rms: f32) -> LambLocal {
        LambLocal {
            s: *step,
            decay: if kind.decays() {
                self.config.weight_decay as f32
            } else {
                0.0
            },
            eta: step.lr,
            scale: step.lr,
        }
    }

    fn trust(&self, l: &LambLocal, theta_sq: f64, delta_sq: f64) -> LambLocal {
        // δ of the first pass is η·r, so ‖r‖ = ‖δ‖/η and φ·η = η²‖θ‖/‖δ‖.
        let eta = f64::from(l.eta);
        let ratio_eta = if eta > 0.0 && theta_sq > 0.0 && delta_sq > 0.0 {
            eta * eta * crate::math::sqrt(theta_sq) / crate::math::sqrt(delta_sq)
        } else {
            eta
        };
        LambLocal {
            scale: ratio_eta as f32,
            ..*l
        }
    }

    #[inline(always)]
    fn element(l: &LambLocal, theta: f32, g: f32, slots: &mut [f32; 2]) -> f32 {
        (l.s.direction(g, slots) + l.decay * theta) * l.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Gradient, StepOptions, TensorMut};

    /// Relative tolerance of f32 results against an f64 recomputation.
    const F32_REL: f64 = 1e-5;

    #[test]
    fn first_step_has_unit_trust_scaled_update() {
        // Step 1: m̂ = g, v̂ = g², so r ≈ sign(g) (+ λθ); θ' = θ − ‖θ‖/‖r‖·η·r.
        let cfg = LambConfig {
            lr: 0.01,
            weight_decay: 0.0,
            ..Default::default()
        };
        let lamb = Lamb::new(cfg).unwrap();
        let mut theta = [3.0f32, 4.0];
        let mut state = [0.0f32; 4];
        let step = lamb.step(StepInfo::single(0));
        lamb.step_tensor(
            &step,
            TensorMut {
                kind: ParamKind::Matrix,
                theta: &mut theta,
                state: &mut state,
            },
            Gradient::new(&[2.0, -1.0]),
            StepOptions::default(),
        )
        .unwrap();
        let r: [f64; 2] = [2.0 / (2.0 + 1e-6), -1.0 / (1.0 + 1e-6)];
        let norm_r = crate::math::sqrt(r[0] * r[0] + r[1] * r[1]);
        let phi = 5.0 / norm_r;
        let want = [3.0 - phi * 0.01 * r[0], 4.0 - phi * 0.01 * r[1]];
        for (got, want) in theta.iter().zip(want) {
            assert!(
                (f64::from(*got) - want).abs() <= F32_REL * want.abs(),
                "{got} vs {want}"
            );
        }
        assert_eq!(state[0], 0.1 * 2.0f32);
    }
}
