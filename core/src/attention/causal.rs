//! One scale for a causal decoder (post of 2023-10-22): position `i` attends
//! to `n = i` keys, so no single `a` is optimal at every position; the post
//! suggests using `a*(n)` at `n = L/2`. Here: the single `a` that maximises
//! the mean over positions `n = 1..L` of the post's approximate objective.

use core::ops::ControlFlow;

use rand::Rng;

use super::monte_carlo::ScoreSampler;
use super::objective::check_scores;
use super::{Error, ScoreDist, check_scale};
use crate::math;

/// `H_L = Σ_{k=1}^{L} 1/k` (summed from the small terms up).
///
/// ```
/// use kexue_core::attention::harmonic_number;
/// assert!((harmonic_number(4) - 25.0 / 12.0).abs() < 1e-15);
/// assert_eq!(harmonic_number(0), 0.0);
/// ```
#[must_use]
pub fn harmonic_number(l: u32) -> f64 {
    (1..=l).rev().map(|k| 1.0 / f64::from(k)).sum()
}

/// The causal-decoder comparison for context length `L`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CausalComparison {
    /// The context length `L`.
    pub l: u32,
    /// `L / H_L`: the mean objective equals the objective at this many keys.
    pub n_eff: f64,
    /// The single best scale: `a*(L/H_L)`.
    pub a_causal: f64,
    /// The post's rule: `a*(L/2)`.
    pub a_half: f64,
    /// Mean over `n = 1..L` of the approximate objective at `a_causal`.
    pub mean_g_causal: f64,
    /// The same at `a_half`.
    pub mean_g_half: f64,
}

impl CausalComparison {
    /// The relative loss of the `L/2` rule: `1 − mean_g_half / mean_g_causal`
    /// (≥ 0).
    ///
    /// ```
    /// use kexue_core::attention::{causal_best_scale, ScoreDist};
    /// let c = causal_best_scale(&ScoreDist::Normal, 2048)?;
    /// // The L/2 rule gives up about a fifth of the mean objective here.
    /// assert!((c.loss_of_half_rule() - 0.21).abs() < 0.01);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    #[must_use]
    pub fn loss_of_half_rule(&self) -> f64 {
        1.0 - self.mean_g_half / self.mean_g_causal
    }
}

/// `(1/L) Σ_{n=1}^{L} G̃(a; n)` for the post's approximation
/// `G̃(a; n) = a(1 − e^{R(a)}/n)`: since `G̃` is affine in `1/n`, the mean is
/// `a(1 − e^{R(a)} H_L/L) = G̃(a; L/H_L)`.
///
/// Errors: `L = 0` → [`Error::InvalidKeyCount`]; bad `a` as in
/// [`ScoreDist::approx_objective`].
///
/// ```
/// use kexue_core::attention::{causal_mean_objective, harmonic_number, ScoreDist};
/// let d = ScoreDist::Normal;
/// let direct: f64 = (1..=10).map(|n| d.approx_objective(1.2, n as f64).unwrap()).sum::<f64>() / 10.0;
/// assert!((causal_mean_objective(&d, 1.2, 10)? - direct).abs() < 1e-14);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn causal_mean_objective(dist: &ScoreDist, a: f64, l: u32) -> Result<f64, Error> {
    if l == 0 {
        return Err(Error::InvalidKeyCount);
    }
    dist.approx_objective(a, f64::from(l) / harmonic_number(l))
}

/// The single scale maximising the mean approximate objective over positions
/// `n = 1..L` of a causal decoder — `a*(n_eff)` with `n_eff = L/H_L ≈ L/ln L`
/// (see [`causal_mean_objective`]) — against the post's rule `a*(L/2)`.
///
/// Errors: `L < 3` → [`Error::NoInteriorMaximum`] (`L/2 ≤ 1`).
///
/// ```
/// use kexue_core::attention::{causal_best_scale, ScoreDist};
/// let c = causal_best_scale(&ScoreDist::Normal, 2048)?;
/// // n_eff = 2048/H_2048 ≈ 250, well below L/2 = 1024: a smaller scale.
/// assert!(c.n_eff > 240.0 && c.n_eff < 260.0 && c.a_causal < c.a_half);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn causal_best_scale(dist: &ScoreDist, l: u32) -> Result<CausalComparison, Error> {
    if l < 3 {
        return Err(Error::NoInteriorMaximum);
    }
    let n_eff = f64::from(l) / harmonic_number(l);
    let a_causal = dist.a_star(n_eff)?;
    let a_half = dist.a_star_from(0.5 * f64::from(l), Some(a_causal))?;
    Ok(CausalComparison {
        l,
        n_eff,
        a_causal,
        a_half,
        mean_g_causal: causal_mean_objective(dist, a_causal, l)?,
        mean_g_half: causal_mean_objective(dist, a_half, l)?,
    })
}

/// The exact objective of a causal decoder for one row of scores: the mean
/// over positions `n = 1..L` of `G_n(a) = a(1 − Σ_{i≤n} p_i²)`, where position
/// `n` attends to the first `n` scores (`L = scores.len()`). One pass with
/// running sums relative to the running maximum (rescaled when it grows), in
/// the same cancellation-free form as [`super::scale_objective`]; O(L), no
/// allocation. Averaged over random rows (Monte Carlo) this is the exact
/// counterpart of [`causal_mean_objective`].
///
/// Errors: empty scores → [`Error::Empty`]; NaN/∞ → [`Error::NonFinite`];
/// bad `a` → [`Error::NegativeScale`] / [`Error::OutOfRange`].
///
/// ```
/// use kexue_core::attention::{causal_mean_exact, scale_objective};
/// let s = [0.3, -1.0, 2.0, 0.4];
/// let direct: f64 = (1..=4).map(|n| scale_objective(&s[..n], 1.5).unwrap()).sum::<f64>() / 4.0;
/// assert!((causal_mean_exact(&s, 1.5)? - direct).abs() < 1e-14);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn causal_mean_exact(scores: &[f64], a: f64) -> Result<f64, Error> {
    check_scale(a)?;
    check_scores(scores)?;
    Ok(causal_mean_exact_unchecked(scores, a))
}

/// [`causal_mean_exact`] without validation.
pub(super) fn causal_mean_exact_unchecked(scores: &[f64], a: f64) -> f64 {
    // m: running max of a·s; r = Σ e^{a s_i − m} and r2 = Σ e^{2(a s_i − m)}
    // over all but the (first) maximal score.
    let (mut m, mut r, mut r2) = (f64::NEG_INFINITY, 0.0_f64, 0.0_f64);
    let mut total = 0.0;
    for &s in scores {
        let x = a * s;
        if m == f64::NEG_INFINITY {
            m = x;
        } else if x > m {
            let f = math::exp(m - x);
            r = (r + 1.0) * f;
            r2 = (r2 + 1.0) * f * f;
            m = x;
        } else {
            let e = math::exp(x - m);
            r += e;
            r2 += e * e;
        }
        let s1 = 1.0 + r;
        total += a * (2.0 * r + (r * r - r2).max(0.0)) / (s1 * s1);
    }
    total / scores.len() as f64
}

/// The Monte-Carlo mean of [`causal_mean_exact`] at one scale.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CausalStats {
    /// The scale.
    pub a: f64,
    /// Mean over draws of the mean over positions of `G_n(a)`.
    pub mean: f64,
    /// Standard error of that mean.
    pub std_err: f64,
}

/// The exact mean objective of a causal decoder by Monte Carlo: each draw
/// samples `L = scores.len()` scores from `dist` into `scores` and evaluates
/// [`causal_mean_exact`] at every `a` of `a_values`; `stats` (same length as
/// `a_values`) receives the mean and standard error over the draws done.
/// After each draw `progress(done, draws)` may stop the run
/// (`ControlFlow::Break`); returns the draws done.
///
/// Errors: empty `scores` or `draws = 0` → [`Error::Empty`]; `stats` length →
/// [`Error::LengthMismatch`]; a bad scale.
///
/// ```
/// use kexue_core::attention::{causal_monte_carlo, CausalStats, ScoreDist};
/// use rand::{SeedableRng, rngs::SmallRng};
/// let a = [1.0, 2.0];
/// let (mut scores, mut stats) = ([0.0; 64], [CausalStats::default(); 2]);
/// let done = causal_monte_carlo(&mut SmallRng::seed_from_u64(1), &ScoreDist::Normal, &a,
///     &mut scores, 50, &mut stats, |_, _| core::ops::ControlFlow::Continue(()))?;
/// assert_eq!(done, 50);
/// assert!(stats[1].mean > stats[0].mean);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn causal_monte_carlo<R: Rng + ?Sized>(
    rng: &mut R,
    dist: &ScoreDist,
    a_values: &[f64],
    scores: &mut [f64],
    draws: usize,
    stats: &mut [CausalStats],
    mut progress: impl FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<usize, Error> {
    if scores.is_empty() || draws == 0 {
        return Err(Error::Empty);
    }
    if stats.len() != a_values.len() {
        return Err(Error::LengthMismatch {
            expected: a_values.len(),
            actual: stats.len(),
        });
    }
    for &a in a_values {
        check_scale(a)?;
    }
    let sampler = ScoreSampler::new(dist)?;
    // Welford: `mean` and the sum of squared deviations (kept in `std_err`).
    for (st, &a) in stats.iter_mut().zip(a_values) {
        *st = CausalStats {
            a,
            mean: 0.0,
            std_err: 0.0,
        };
    }
    let mut done = 0;
    while done < draws {
        sampler.fill(rng, scores);
        done += 1;
        for st in stats.iter_mut() {
            let g = causal_mean_exact_unchecked(scores, st.a);
            let delta = g - st.mean;
            st.mean += delta / done as f64;
            st.std_err += delta * (g - st.mean);
        }
        if progress(done, draws).is_break() {
            break;
        }
    }
    for st in stats.iter_mut() {
        st.std_err = if done > 1 {
            math::sqrt(st.std_err / (done - 1) as f64 / done as f64)
        } else {
            0.0
        };
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerances of this module's tests.
    const MEAN: f64 = 1e-13;

    #[test]
    fn mean_over_positions_is_maximised_at_a_causal() {
        for dist in [ScoreDist::Normal, ScoreDist::cosine(64).unwrap()] {
            let c = causal_best_scale(&dist, 512).unwrap();
            for f in [0.98, 1.02] {
                assert!(
                    causal_mean_objective(&dist, c.a_causal * f, 512).unwrap() < c.mean_g_causal
                );
            }
            assert!(c.mean_g_half <= c.mean_g_causal);
            // Brute-force mean over n = 1..L.
            let direct: f64 = (1..=512)
                .map(|n| dist.approx_objective(c.a_causal, f64::from(n)).unwrap())
                .sum::<f64>()
                / 512.0;
            assert!((direct - c.mean_g_causal).abs() < MEAN * (1.0 + direct.abs()));
        }
    }

    #[test]
    fn exact_causal_mean_matches_prefix_by_prefix() {
        let s = [0.5, -0.2, 3.0, 2.9, -4.0, 3.5, 0.0, 1.0];
        for a in [0.0, 0.3, 2.0, 25.0] {
            let direct: f64 = (1..=s.len())
                .map(|n| super::super::scale_objective(&s[..n], a).unwrap())
                .sum::<f64>()
                / s.len() as f64;
            let fast = causal_mean_exact(&s, a).unwrap();
            assert!(
                (fast - direct).abs() < MEAN * (1.0 + direct),
                "a {a}: {fast} vs {direct}"
            );
        }
        assert_eq!(causal_mean_exact(&[], 1.0), Err(Error::Empty));
        assert_eq!(causal_mean_exact(&[f64::NAN], 1.0), Err(Error::NonFinite));
        assert_eq!(causal_mean_exact(&[1.0], -1.0), Err(Error::NegativeScale));
    }

    #[test]
    fn causal_monte_carlo_validates_and_stops() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut scores = [0.0; 16];
        let mut stats = [CausalStats::default(); 2];
        let go = |_: usize, _: usize| ControlFlow::Continue(());
        assert_eq!(
            causal_monte_carlo(
                &mut rng,
                &ScoreDist::Normal,
                &[1.0],
                &mut scores,
                5,
                &mut stats,
                go
            ),
            Err(Error::LengthMismatch {
                expected: 1,
                actual: 2
            })
        );
        assert_eq!(
            causal_monte_carlo(
                &mut rng,
                &ScoreDist::Normal,
                &[1.0, 2.0],
                &mut [],
                5,
                &mut stats,
                go
            ),
            Err(Error::Empty)
        );
        let done = causal_monte_carlo(
            &mut rng,
            &ScoreDist::Normal,
            &[1.0, 2.0],
            &mut scores,
            100,
            &mut stats,
            |d, _| {
                if d >= 7 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(done, Ok(7));
        assert!(stats[0].std_err > 0.0 && stats[0].mean > 0.0);
    }

    #[test]
    fn small_l_is_an_error() {
        assert_eq!(
            causal_best_scale(&ScoreDist::Normal, 2),
            Err(Error::NoInteriorMaximum)
        );
        assert_eq!(
            causal_mean_objective(&ScoreDist::Normal, 1.0, 0),
            Err(Error::InvalidKeyCount)
        );
    }
}
