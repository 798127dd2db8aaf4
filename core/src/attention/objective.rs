//! `G(a) = a (1 − Σ p_i²)` for given scores, its derivative, and the same
//! quantity summed from the softmax Jacobian's entries (post of 2023-10-22).

use super::{Error, check_scale};
use crate::math;

/// Validate scores: non-empty and finite.
pub(super) fn check_scores(scores: &[f64]) -> Result<(), Error> {
    if scores.is_empty() {
        return Err(Error::Empty);
    }
    if scores.iter().any(|s| !s.is_finite()) {
        return Err(Error::NonFinite);
    }
    Ok(())
}

/// Sums over the scores relative to the largest one, `e_i = e^{a(s_i − s_max)}`
/// with the (first) largest score left out: `r = Σ e_i`, `r2 = Σ e_i²`,
/// `rt = Σ e_i t_i`, `r2t = Σ e_i² t_i` where `t_i = s_i − s_max ≤ 0`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TailSums {
    r: f64,
    r2: f64,
    rt: f64,
    r2t: f64,
}

impl TailSums {
    /// Compute the sums; `scores` non-empty and finite, `a ≥ 0` finite.
    pub(super) fn new(scores: &[f64], a: f64, with_derivative: bool) -> Self {
        let (k, s_max) =
            scores
                .iter()
                .copied()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, s)| {
                    if s > best.1 { (i, s) } else { best }
                });
        let mut sums = Self::default();
        for (i, &s) in scores.iter().enumerate() {
            if i == k {
                continue;
            }
            let t = s - s_max;
            let e = math::exp(a * t);
            let e2 = e * e;
            sums.r += e;
            sums.r2 += e2;
            if with_derivative {
                sums.rt += e * t;
                sums.r2t += e2 * t;
            }
        }
        sums
    }

    /// `1 − Σp² = (2r + r² − r2)/(1 + r)²`: every term is non-negative
    /// (`r² − r2 = 2 Σ_{i<j} e_i e_j`), so there is no cancellation even when
    /// `Σp²` is within rounding of 1.
    pub(super) fn one_minus_sum_sq(&self) -> f64 {
        let s1 = 1.0 + self.r;
        (2.0 * self.r + (self.r * self.r - self.r2).max(0.0)) / (s1 * s1)
    }

    /// `d(Σp²)/da = 2 Σ p_i² (s_i − s̄)`, `s̄ = Σ p_j s_j`.
    fn d_sum_sq(&self) -> f64 {
        let s1 = 1.0 + self.r;
        let p2 = (1.0 + self.r2) / (s1 * s1);
        2.0 * (self.r2t / (s1 * s1) - p2 * self.rt / s1)
    }
}

/// `G(a)` without validation (scores non-empty, finite; `a ≥ 0`).
pub(super) fn objective_unchecked(scores: &[f64], a: f64) -> f64 {
    a * TailSums::new(scores, a, false).one_minus_sum_sq()
}

/// The size of the softmax gradient at scale `a` (post of 2023-10-22):
///
/// ```text
/// G(a) = a (1 − Σ_i p_i²),   p = softmax(a·s)
/// ```
///
/// which equals half the entry-wise L1 norm of the Jacobian `∂p/∂s`
/// ([`jacobian_half_l1`] sums the entries; a test checks they agree).
/// Computed in one pass relative to the largest score, in a form with no
/// cancellation (see the source), so it stays accurate when `Σp²` is within
/// rounding of 1 (large `a`). O(n), no allocation.
///
/// Errors: empty scores → [`Error::Empty`]; a NaN/∞ score or `a` →
/// [`Error::NonFinite`]; `a < 0` → [`Error::NegativeScale`].
///
/// ```
/// use kexue_core::attention::scale_objective;
/// // Two scores 0 and ln 3 at a = 1: p = (1/4, 3/4), Σp² = 10/16.
/// let g = scale_objective(&[0.0, 3f64.ln()], 1.0)?;
/// assert!((g - 6.0 / 16.0).abs() < 1e-15);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn scale_objective(scores: &[f64], a: f64) -> Result<f64, Error> {
    check_scale(a)?;
    check_scores(scores)?;
    Ok(objective_unchecked(scores, a))
}

/// `G(a)` and `G'(a) = (1 − Σp²) − a·d(Σp²)/da`, where
/// `d(Σp²)/da = 2 Σ_i p_i² (s_i − s̄)` and `s̄ = Σ_j p_j s_j` (from
/// `dp_i/da = p_i (s_i − s̄)`). Same errors as [`scale_objective`].
///
/// ```
/// use kexue_core::attention::scale_objective_and_derivative;
/// // At a = 0 the weights are uniform: G = 0 and G' = 1 − 1/n.
/// let (g, dg) = scale_objective_and_derivative(&[0.3, -1.0, 2.0, 0.5], 0.0)?;
/// assert_eq!(g, 0.0);
/// assert!((dg - 0.75).abs() < 1e-15);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn scale_objective_and_derivative(scores: &[f64], a: f64) -> Result<(f64, f64), Error> {
    check_scale(a)?;
    check_scores(scores)?;
    Ok(objective_and_derivative_unchecked(scores, a))
}

/// `(G, G')` without validation.
pub(super) fn objective_and_derivative_unchecked(scores: &[f64], a: f64) -> (f64, f64) {
    let sums = TailSums::new(scores, a, true);
    let one_minus = sums.one_minus_sum_sq();
    (a * one_minus, one_minus - a * sums.d_sum_sq())
}

/// Half the entry-wise L1 norm of the softmax Jacobian,
/// `½ Σ_ij |∂p_i/∂s_j|` with `∂p_i/∂s_j = a (p_i δ_ij − p_i p_j)`, summed over
/// all `n²` entries (O(n²); the reference for [`scale_objective`], which
/// computes the same number in O(n)). `p_scratch` receives `p = softmax(a·s)`
/// and must have the length of `scores`.
///
/// Errors: as [`scale_objective`], plus [`Error::LengthMismatch`].
///
/// ```
/// use kexue_core::attention::{jacobian_half_l1, scale_objective};
/// let s = [0.1, -0.4, 1.3, 0.0, 0.7];
/// let mut p = [0.0; 5];
/// let from_entries = jacobian_half_l1(&s, 2.0, &mut p)?;
/// assert!((from_entries - scale_objective(&s, 2.0)?).abs() < 1e-14);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn jacobian_half_l1(scores: &[f64], a: f64, p_scratch: &mut [f64]) -> Result<f64, Error> {
    check_scale(a)?;
    check_scores(scores)?;
    math::softmax(scores, a, p_scratch).map_err(|e| Error::LengthMismatch {
        expected: e.input,
        actual: e.output,
    })?;
    let mut total = 0.0;
    for (i, &pi) in p_scratch.iter().enumerate() {
        for (j, &pj) in p_scratch.iter().enumerate() {
            let delta = if i == j { pi } else { 0.0 };
            total += (a * (delta - pi * pj)).abs();
        }
    }
    Ok(0.5 * total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, StandardNormal};

    /// Tolerances of this module's tests.
    const AGREE: f64 = 1e-13;
    const FD_STEP: f64 = 1e-5;
    const FD_TOL: f64 = 1e-7;

    fn normal_scores(n: usize, seed: u64) -> [f64; 64] {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut s = [0.0; 64];
        for x in s.iter_mut().take(n) {
            *x = StandardNormal.sample(&mut rng);
        }
        s
    }

    /// Naive `a(1 − Σp²)` from an explicit softmax.
    fn naive(scores: &[f64], a: f64) -> f64 {
        let mut p = [0.0; 64];
        let p = &mut p[..scores.len()];
        math::softmax(scores, a, p).unwrap();
        a * (1.0 - p.iter().map(|x| x * x).sum::<f64>())
    }

    #[test]
    fn jacobian_entries_agree_with_the_closed_form() {
        for seed in 0..20 {
            let s = normal_scores(1 + (seed as usize * 3) % 64, seed);
            let s = &s[..1 + (seed as usize * 3) % 64];
            let mut p = [0.0; 64];
            for a in [0.0, 0.3, 1.0, 2.5, 7.0] {
                let j = jacobian_half_l1(s, a, &mut p[..s.len()]).unwrap();
                let g = scale_objective(s, a).unwrap();
                assert!(
                    (j - g).abs() < AGREE * (1.0 + g),
                    "seed {seed} a {a}: {j} vs {g}"
                );
            }
        }
    }

    #[test]
    fn matches_naive_softmax_where_naive_is_accurate() {
        let s = normal_scores(50, 7);
        for a in [0.1, 1.0, 3.0] {
            let g = scale_objective(&s[..50], a).unwrap();
            assert!((g - naive(&s[..50], a)).abs() < AGREE * (1.0 + g));
        }
    }

    #[test]
    fn stays_accurate_when_sum_of_squares_is_near_one() {
        // Two scores 1 apart at a = 40: 1 − Σp² = 2σ(40)σ(−40) ≈ 8.5e-18,
        // which 1 − Σp² in floating point would round to 0.
        let g = scale_objective(&[0.0, 1.0], 40.0).unwrap();
        let e = (-40.0f64).exp();
        let exact = 40.0 * 2.0 * e / ((1.0 + e) * (1.0 + e));
        assert!((g - exact).abs() < AGREE * exact);
    }

    #[test]
    fn derivative_matches_central_differences() {
        for seed in 0..10 {
            let s = normal_scores(17, 100 + seed);
            let s = &s[..17];
            for a in [0.05, 0.7, 1.9, 4.0, 9.0] {
                let (_, dg) = scale_objective_and_derivative(s, a).unwrap();
                let fd = (scale_objective(s, a + FD_STEP).unwrap()
                    - scale_objective(s, a - FD_STEP).unwrap())
                    / (2.0 * FD_STEP);
                assert!(
                    (dg - fd).abs() < FD_TOL * (1.0 + dg.abs()),
                    "{a}: {dg} vs {fd}"
                );
            }
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(scale_objective(&[], 1.0), Err(Error::Empty));
        assert_eq!(
            scale_objective(&[1.0, f64::NAN], 1.0),
            Err(Error::NonFinite)
        );
        assert_eq!(scale_objective(&[1.0], -1.0), Err(Error::NegativeScale));
        assert_eq!(
            scale_objective(&[1.0], f64::INFINITY),
            Err(Error::NonFinite)
        );
        let mut p = [0.0; 2];
        assert_eq!(
            jacobian_half_l1(&[1.0, 2.0, 3.0], 1.0, &mut p),
            Err(Error::LengthMismatch {
                expected: 3,
                actual: 2
            })
        );
        assert_eq!(
            scale_objective_and_derivative(&[f64::NEG_INFINITY], 1.0),
            Err(Error::NonFinite)
        );
        // One key: all attention on it, G ≡ 0.
        assert_eq!(scale_objective(&[3.0], 5.0).unwrap(), 0.0);
    }
}
