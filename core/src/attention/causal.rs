//! One scale for a causal decoder (post of 2023-10-22): position `i` attends
//! to `n = i` keys, so no single `a` is optimal at every position; the post
//! suggests using `a*(n)` at `n = L/2`. Here: the single `a` that maximises
//! the mean over positions `n = 1..L` of the post's approximate objective.

use super::{Error, ScoreDist};

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
