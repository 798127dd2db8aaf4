//! The attention scale that maximises the softmax gradient (post of
//! 2023-10-22, "从梯度最大化看Attention的Scale操作"; `SPEC.md` §1).
//!
//! Scores `s_i` (`i = 1..n`), attention `p = softmax(a·s)`. The Jacobian
//! `∂p_i/∂s_j = a (p_i δ_ij − p_i p_j)` has half entry-wise L1 norm
//!
//! ```text
//! G(a) = ½ Σ_ij |∂p_i/∂s_j| = a (1 − Σ_i p_i²)
//! ```
//!
//! which vanishes as `a → 0` and as `a → ∞`; the post picks the scale `a*` that
//! maximises it. What lives here:
//!
//! * [`scale_objective`] — `G(a)` of given scores, cancellation-free; and
//!   [`jacobian_half_l1`], the same number summed from the `n²` Jacobian entries.
//! * [`ScoreDist`] — the post's *approximation* `Σp² ≈ E[e^{2as}] / (n E[e^{as}]²)`
//!   for normal scores (`E[e^{as}] = e^{a²/2}`) and for cosine scores in any
//!   dimension `d ≥ 3` ([`CosineScores`]: `E[e^{as}]` in log space by a
//!   tanh-substituted trapezoid rule, see its docs), its maximiser
//!   [`ScoreDist::a_star`] and the fits `a* ≈ c·√(ln n)` / `a* ≈ c·ln n`
//!   ([`fit_scale_law`]).
//! * [`MonteCarlo`] — what the approximation replaces: the exact mean and median
//!   of `G(a)` over random draws of `n` scores, and the per-draw maximisers
//!   ([`per_draw_maximiser`]); randomness injected, buffers caller-owned.
//! * [`causal_best_scale`] — one `a` for a causal decoder (positions see
//!   `n = 1..L` keys) against the post's `n = L/2` rule, and its exact
//!   counterpart by Monte Carlo ([`causal_mean_exact`], [`causal_monte_carlo`]);
//!   [`entropy_invariant_scale`] — the earlier `∝ ln n` rule, for comparison.
//!
//! Everything is `f64`, allocation-free, and returns [`Error`] on bad input
//! (NaN/∞, `n ≤ 1`, `d < 3`, wrong buffer lengths) instead of panicking.
//!
//! ```
//! use kexue_core::attention::{ScoreDist, CosineScores};
//! // Normal scores: a* solves e^{a²}(1 + 2a²) = n.
//! let a = ScoreDist::Normal.a_star(512.0)?;
//! assert!((a - 2.008_394_899_828_541).abs() < 1e-12);
//! // Cosine scores, d = 128: a* ≈ 24.2 at n = 512 (the post: a* ≈ 3.5 ln n).
//! let cos = ScoreDist::Cosine(CosineScores::new(128)?);
//! assert!((cos.a_star(512.0)? - 24.213_642_893_421_1).abs() < 1e-9);
//! # Ok::<(), kexue_core::attention::Error>(())
//! ```

mod causal;
mod cosine;
mod fit;
mod monte_carlo;
mod objective;
mod solve;

pub use causal::{
    CausalComparison, CausalStats, causal_best_scale, causal_mean_exact, causal_mean_objective,
    causal_monte_carlo, harmonic_number,
};
pub use cosine::{CosineMoments, CosineScores};
pub use fit::{Fit, NGrid, POST_N_GRID, ScaleLaw, a_star_table, fit_scale_law};
pub use monte_carlo::{
    DrawPeak, GStats, MonteCarlo, MonteCarloSummary, ScoreSampler, log_histogram, median_in_place,
    per_draw_maximiser,
};
pub use objective::{jacobian_half_l1, scale_objective, scale_objective_and_derivative};

use crate::math;

/// Errors of the attention-scale analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An input was NaN or ±∞.
    NonFinite,
    /// The scale `a` must be finite and `≥ 0`.
    NegativeScale,
    /// The number of keys `n` must be at least 1 (here it was below 1).
    InvalidKeyCount,
    /// `n = 1` (or fewer than two scores): `Σp² = 1`, so `G ≡ 0` (approximation:
    /// `G < 0` for `a > 0`) — there is no interior maximum.
    NoInteriorMaximum,
    /// Cosine scores need a dimension `d ≥ 3` (the density `(1 − s²)^{(d−3)/2}`).
    DimensionTooSmall {
        /// The dimension given.
        d: u32,
    },
    /// An input or output slice has the wrong length.
    LengthMismatch {
        /// The length required.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// An input slice is empty where at least one element is needed.
    Empty,
    /// The largest score is tied: `Σp² → 1/k` and `G(a)` grows without bound,
    /// so there is no finite maximiser.
    Unbounded,
    /// A scale above [`MAX_SCALE`], or a maximiser beyond the search range
    /// (`a > 10¹⁵`).
    OutOfRange,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NonFinite => f.write_str("an input is NaN or infinite"),
            Self::NegativeScale => f.write_str("the scale a must be finite and non-negative"),
            Self::InvalidKeyCount => f.write_str("the number of keys n must be at least 1"),
            Self::NoInteriorMaximum => f.write_str(
                "n = 1: a single key gets all the attention, G(a) has no interior maximum",
            ),
            Self::DimensionTooSmall { d } => {
                write!(f, "cosine scores need d >= 3, got d = {d}")
            }
            Self::LengthMismatch { expected, actual } => {
                write!(f, "length mismatch: expected {expected}, got {actual}")
            }
            Self::Empty => f.write_str("empty input"),
            Self::Unbounded => f.write_str(
                "the largest score is tied, so G(a) grows without bound (no finite maximiser)",
            ),
            Self::OutOfRange => {
                f.write_str("the scale is above 1e100, or the maximiser lies beyond a = 1e15")
            }
        }
    }
}

impl core::error::Error for Error {}

/// The distribution of the scores `s` assumed by the post's approximation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreDist {
    /// `s ~ N(0, 1)`: `q·k/√d` with unit-variance `q`, `k`. `E[e^{as}] = e^{a²/2}`.
    Normal,
    /// `s = cos(q, k)` of independent isotropic vectors in `d` dimensions:
    /// density `∝ (1 − s²)^{(d−3)/2}` on `[−1, 1]`.
    Cosine(CosineScores),
}

impl ScoreDist {
    /// Cosine scores in dimension `d` (`d ≥ 3`, else [`Error::DimensionTooSmall`]).
    ///
    /// ```
    /// use kexue_core::attention::ScoreDist;
    /// assert!(ScoreDist::cosine(128).is_ok());
    /// assert!(ScoreDist::cosine(2).is_err());
    /// ```
    pub fn cosine(d: u32) -> Result<Self, Error> {
        CosineScores::new(d).map(Self::Cosine)
    }

    /// `ln E[e^{as}]` for `a ≥ 0`: `a²/2` (normal) or [`CosineScores::log_mgf`].
    ///
    /// ```
    /// use kexue_core::attention::ScoreDist;
    /// assert_eq!(ScoreDist::Normal.log_mgf(2.0)?, 2.0);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn log_mgf(&self, a: f64) -> Result<f64, Error> {
        check_scale(a)?;
        Ok(match self {
            Self::Normal => 0.5 * a * a,
            Self::Cosine(c) => c.moments_unchecked(a).log_mgf(),
        })
    }

    /// `R(a) = ln E[e^{2as}] − 2 ln E[e^{as}] ≥ 0`, so that the post's
    /// approximation reads `Σp² ≈ e^{R(a)}/n`. Normal: `R = a²`.
    ///
    /// ```
    /// use kexue_core::attention::ScoreDist;
    /// assert_eq!(ScoreDist::Normal.log_ratio(1.5)?, 2.25);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn log_ratio(&self, a: f64) -> Result<f64, Error> {
        check_scale(a)?;
        Ok(self.ratio_terms(a).r)
    }

    /// The post's approximation of the objective,
    /// `G̃(a) = a (1 − E[e^{2as}] / (n E[e^{as}]²)) = a (1 − e^{R(a)}/n)`.
    /// Normal scores: `a (1 − e^{a²}/n)`. Needs `n ≥ 1` (real `n` allowed).
    ///
    /// ```
    /// use kexue_core::attention::ScoreDist;
    /// let g = ScoreDist::Normal.approx_objective(1.0, 100.0)?;
    /// assert!((g - (1.0 - 1f64.exp() / 100.0)).abs() < 1e-15);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn approx_objective(&self, a: f64, n: f64) -> Result<f64, Error> {
        check_scale(a)?;
        let ln_n = ln_key_count(n)?;
        Ok(-a * math::exp_m1(self.ratio_terms(a).r - ln_n))
    }

    /// `ln N(a)` where `N(a) = e^{R(a)} (1 + a R'(a))`: the stationary condition of
    /// [`ScoreDist::approx_objective`] is `N(a) = n`. Normal: `N = e^{a²}(1 + 2a²)`,
    /// the post's equation. `N(0) = 1` and `N` increases, so `a*(n) = N⁻¹(n)`.
    ///
    /// ```
    /// use kexue_core::attention::ScoreDist;
    /// let l = ScoreDist::Normal.ln_stationary_n(2.0)?;
    /// assert!((l - (4.0 + 9f64.ln())).abs() < 1e-14);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn ln_stationary_n(&self, a: f64) -> Result<f64, Error> {
        check_scale(a)?;
        Ok(self.ratio_terms(a).ln_stationary_n(a))
    }

    /// The maximiser `a*` of the post's approximation [`ScoreDist::approx_objective`]
    /// for `n` keys, i.e. the root of `N(a) = n` ([`ScoreDist::ln_stationary_n`]),
    /// to about 1e-13 relative.
    ///
    /// Normal: `u = a²` solves `u + ln(1 + 2u) = ln n` (increasing and concave in
    /// `u`), by Newton's method safeguarded with bisection on `[0, ln n]`.
    /// Cosine: Newton on `ln N(a) − ln n` with a doubling bracket and bisection.
    ///
    /// Errors: `n` NaN/∞ → [`Error::NonFinite`]; `n < 1` → [`Error::InvalidKeyCount`];
    /// `n = 1` → [`Error::NoInteriorMaximum`] (`G̃ ≤ 0` for all `a`).
    ///
    /// ```
    /// use kexue_core::attention::{Error, ScoreDist};
    /// let a = ScoreDist::Normal.a_star(20_000.0)?;
    /// assert!((2.0..3.0).contains(&a));
    /// assert_eq!(ScoreDist::Normal.a_star(1.0), Err(Error::NoInteriorMaximum));
    /// assert_eq!(ScoreDist::Normal.a_star(f64::NAN), Err(Error::NonFinite));
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn a_star(&self, n: f64) -> Result<f64, Error> {
        self.a_star_from(n, None)
    }

    /// [`ScoreDist::a_star`] with a starting guess (e.g. the `a*` of a nearby
    /// `n`, as in a table); the result does not depend on the guess beyond
    /// rounding. A non-finite or non-positive guess is ignored.
    ///
    /// ```
    /// use kexue_core::attention::ScoreDist;
    /// let d = ScoreDist::cosine(128)?;
    /// let a = d.a_star_from(520.0, Some(24.2))?;
    /// assert!((a - d.a_star(520.0)?).abs() < 1e-10 * a);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn a_star_from(&self, n: f64, guess: Option<f64>) -> Result<f64, Error> {
        Ok(self.a_star_root(n, guess)?.x)
    }

    /// `a*` and the slope `d ln N/da` at it (so `da*/d ln n = 1/slope`).
    fn a_star_root(&self, n: f64, guess: Option<f64>) -> Result<solve::Root, Error> {
        let ln_n = ln_key_count(n)?;
        if ln_n == 0.0 {
            return Err(Error::NoInteriorMaximum);
        }
        match self {
            Self::Normal => {
                let a = solve::normal_a_star(ln_n);
                let slope = self.ratio_terms(a).d_ln_stationary_n(a);
                Ok(solve::Root { x: a, slope })
            }
            Self::Cosine(c) => c.a_star_ln(ln_n, guess),
        }
    }

    /// `G̃(a*)`, the approximate objective at its maximiser. At the optimum
    /// `e^{R}/n = 1/(1 + aR')`, so `G̃(a*) = a*·a*R'/(1 + a*R')`; normal:
    /// `a*·2u/(1 + 2u)`, `u = a*²`.
    ///
    /// ```
    /// use kexue_core::attention::ScoreDist;
    /// let (a, g) = ScoreDist::Normal.a_star_and_objective(40.0)?;
    /// assert!((g - ScoreDist::Normal.approx_objective(a, 40.0)?).abs() < 1e-12);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn a_star_and_objective(&self, n: f64) -> Result<(f64, f64), Error> {
        let a = self.a_star(n)?;
        Ok((a, self.approx_objective(a, n)?))
    }

    /// A short name: `normal` or `cosine`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Cosine(_) => "cosine",
        }
    }

    /// `R`, `R'`, `R''` at `a` (no validation: `a` finite, `≥ 0`).
    fn ratio_terms(&self, a: f64) -> RatioTerms {
        match self {
            Self::Normal => RatioTerms {
                r: a * a,
                r1: 2.0 * a,
                r2: 2.0,
            },
            Self::Cosine(c) => c.ratio_terms(a),
        }
    }
}

/// `R(a)` and its first two derivatives.
#[derive(Debug, Clone, Copy)]
struct RatioTerms {
    r: f64,
    r1: f64,
    r2: f64,
}

impl RatioTerms {
    /// `ln N = R + ln(1 + a R')`.
    fn ln_stationary_n(&self, a: f64) -> f64 {
        self.r + math::ln_1p(a * self.r1)
    }

    /// `d ln N / da = R' + (R' + a R'')/(1 + a R')`.
    fn d_ln_stationary_n(&self, a: f64) -> f64 {
        self.r1 + (self.r1 + a * self.r2) / (1.0 + a * self.r1)
    }
}

/// The entropy-invariant scale of the earlier post (2021, "从熵不变性看Attention的
/// Scale操作"): the scale grows like `ln n` (on raw `q·k`, `∝ ln n/√d`),
/// calibrated to equal `a_ref` at `n_ref` keys: `a_ent(n) = a_ref · ln n / ln n_ref`.
/// (That post normalises at `n_ref = 512` with `a_ref` the standard scale.)
///
/// Errors: non-finite inputs, `n < 1` or `n_ref ≤ 1`, negative `a_ref`.
///
/// ```
/// use kexue_core::attention::entropy_invariant_scale;
/// let a = entropy_invariant_scale(512.0 * 512.0, 512.0, 1.0)?;
/// assert!((a - 2.0).abs() < 1e-14);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn entropy_invariant_scale(n: f64, n_ref: f64, a_ref: f64) -> Result<f64, Error> {
    check_scale(a_ref)?;
    let ln_n = ln_key_count(n)?;
    let ln_ref = ln_key_count(n_ref)?;
    if ln_ref == 0.0 {
        return Err(Error::NoInteriorMaximum);
    }
    Ok(a_ref * ln_n / ln_ref)
}

/// The largest scale accepted anywhere in this module (far beyond any
/// meaningful attention scale; it keeps `2a` and `4a²` finite).
pub const MAX_SCALE: f64 = 1e100;

/// Validate a scale: finite, `≥ 0` and at most [`MAX_SCALE`].
fn check_scale(a: f64) -> Result<(), Error> {
    if !a.is_finite() {
        Err(Error::NonFinite)
    } else if a < 0.0 {
        Err(Error::NegativeScale)
    } else if a > MAX_SCALE {
        Err(Error::OutOfRange)
    } else {
        Ok(())
    }
}

/// Validate a key count (`n ≥ 1`, finite) and return `ln n`.
fn ln_key_count(n: f64) -> Result<f64, Error> {
    if !n.is_finite() {
        Err(Error::NonFinite)
    } else if n < 1.0 {
        Err(Error::InvalidKeyCount)
    } else {
        Ok(math::ln(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerances of this module's tests.
    const EXACT: f64 = 1e-14;
    const SOLVER: f64 = 1e-12;

    #[test]
    fn approx_objective_is_zero_at_a_zero_and_negative_for_n_one() {
        for dist in [ScoreDist::Normal, ScoreDist::cosine(16).unwrap()] {
            assert_eq!(dist.approx_objective(0.0, 50.0).unwrap(), 0.0);
            assert!(dist.approx_objective(1.0, 1.0).unwrap() < 0.0);
            assert_eq!(dist.a_star(1.0), Err(Error::NoInteriorMaximum));
            assert_eq!(dist.a_star(0.5), Err(Error::InvalidKeyCount));
            assert_eq!(dist.a_star(f64::INFINITY), Err(Error::NonFinite));
            assert_eq!(dist.approx_objective(-1.0, 5.0), Err(Error::NegativeScale));
            assert_eq!(dist.approx_objective(f64::NAN, 5.0), Err(Error::NonFinite));
            assert_eq!(dist.log_ratio(f64::NAN), Err(Error::NonFinite));
        }
    }

    #[test]
    fn a_star_is_a_stationary_point_and_a_maximum() {
        for dist in [
            ScoreDist::Normal,
            ScoreDist::cosine(3).unwrap(),
            ScoreDist::cosine(128).unwrap(),
        ] {
            for n in [1.5, 2.0, 40.0, 512.0, 20_000.0, 1e9] {
                let (a, g) = dist.a_star_and_objective(n).unwrap();
                let ln_n = dist.ln_stationary_n(a).unwrap();
                assert!((ln_n - math::ln(n)).abs() < SOLVER * (1.0 + math::ln(n)));
                for f in [0.99, 1.01] {
                    assert!(dist.approx_objective(a * f, n).unwrap() < g, "{dist:?} {n}");
                }
            }
        }
    }

    #[test]
    fn normal_closed_forms() {
        let d = ScoreDist::Normal;
        assert_eq!(d.log_mgf(3.0).unwrap(), 4.5);
        let (a, g) = d.a_star_and_objective(128.0).unwrap();
        let u = a * a;
        assert!((g - a * 2.0 * u / (1.0 + 2.0 * u)).abs() < EXACT);
        assert_eq!(d.name(), "normal");
    }

    #[test]
    fn entropy_invariant_scale_is_log_linear_and_validated() {
        let a = entropy_invariant_scale(512.0, 512.0, 2.5).unwrap();
        assert!((a - 2.5).abs() < EXACT);
        assert_eq!(entropy_invariant_scale(1.0, 512.0, 2.5).unwrap(), 0.0);
        assert_eq!(
            entropy_invariant_scale(10.0, 1.0, 2.5),
            Err(Error::NoInteriorMaximum)
        );
        assert_eq!(
            entropy_invariant_scale(f64::NAN, 512.0, 1.0),
            Err(Error::NonFinite)
        );
        assert_eq!(
            entropy_invariant_scale(10.0, 512.0, -1.0),
            Err(Error::NegativeScale)
        );
    }

    #[test]
    fn errors_display() {
        use core::fmt::Write;
        let mut s: heapless::String<256> = heapless::String::new();
        write!(s, "{}", Error::DimensionTooSmall { d: 2 }).unwrap();
        assert!(s.contains("d = 2"));
    }
}
