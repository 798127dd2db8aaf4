//! Pure half precision: parameters and optimiser state stored as IEEE binary16
//! ([`half::f16`]), arithmetic in f32 (each value is widened exactly, updated,
//! and rounded to nearest-even on store).
//!
//! The post (2023-03-07) argues Tiger trains in pure fp16 because its update
//! is `η·sign(m)`: never smaller than η, so with η above the smallest fp16
//! subnormal (`2^-24 ≈ 6e-8`) nothing underflows. AdamW's update
//! `η·m̂/(√v̂ + ε)` can be far smaller than η, and `θ − δ` then rounds back to
//! θ: the update is lost. The kernel counts such losses
//! ([`super::StepOptions::count_lost`]). Note that Tiger's updates can be lost
//! too, when `η < ulp(θ)/2`, i.e. `|θ| > 2^11 · η` (for `α = 10⁻³` on a
//! matrix: `|θ| ≳ 2·RMS(θ)`); the experiment reports both.
//!
//! ```
//! use kexue_core::optim::fp16::{self, f16};
//! use kexue_core::optim::Storage;
//! assert_eq!(f16::store(1.0 + 1e-4).load(), 1.0); // lost: below ulp(1)/2 = 2^-11
//! assert_ne!(f16::store(1.0 - 1e-3).load(), 1.0); // kept
//! assert!(fp16::survives(1.0, 1e-3) && !fp16::survives(1.0, 1e-4));
//! ```

/// IEEE binary16, re-exported from the `half` crate so callers need no
/// direct dependency.
pub use half::f16;

use super::Storage;

impl Storage for f16 {
    const ZERO: Self = f16::ZERO;
    const BYTES: usize = 2;
    const NAME: &'static str = "f16";
    #[inline(always)]
    fn load(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn store(x: f32) -> Self {
        f16::from_f32(x)
    }
}

/// Smallest positive fp16 value (subnormal), `2^-24`.
pub const MIN_SUBNORMAL: f32 = 5.960_464_5e-8;

/// Largest finite fp16 value.
pub const MAX: f32 = 65504.0;

/// Whether `θ − δ` stored in fp16 differs from `θ` stored in fp16: the
/// update survives rounding.
#[must_use]
pub fn survives(theta: f32, delta: f32) -> bool {
    f16::store(theta - delta) != f16::store(theta)
}

/// Round an f32 slice to fp16 precision in place (e.g. to emulate fp16
/// gradients). Values above 65504 become ±∞.
///
/// ```
/// let mut g = [1.0f32 / 3.0, 1e-9, 1e6];
/// kexue_core::optim::fp16::round_in_place(&mut g);
/// assert_eq!(g[0], kexue_core::optim::fp16::f16::from_f32(1.0 / 3.0).to_f32());
/// assert_eq!(g[1], 0.0); // underflow
/// assert!(g[2].is_infinite());
/// ```
pub fn round_in_place(xs: &mut [f32]) {
    for x in xs {
        *x = f16::store(*x).load();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_half() {
        assert_eq!(f16::MIN_POSITIVE_SUBNORMAL.to_f32(), MIN_SUBNORMAL);
        assert_eq!(f16::MAX.to_f32(), MAX);
        assert_eq!(f16::store(MIN_SUBNORMAL * 0.49).load(), 0.0);
        assert_eq!(f16::store(MIN_SUBNORMAL).load(), MIN_SUBNORMAL);
    }

    #[test]
    fn round_trip_is_exact_for_representable_values() {
        for x in [0.0f32, 1.0, -2.5, 0.099_975_586, 65504.0] {
            assert_eq!(f16::store(x).load(), x);
        }
        assert!(f16::store(65520.0).load().is_infinite());
    }
}
