//! Goodness of fit for samplers: the chi-square statistic of observed counts
//! against exact probabilities (small expected counts pooled) and its p-value
//! through the regularised upper incomplete gamma function
//! `Q(k/2, x/2)` — series for `x < a + 1`, Lentz's continued fraction otherwise
//! (Numerical Recipes §6.2). Used by the tokenizer's sampler tests and by the
//! lab, which shows whether each sampler's frequencies match the enumerated
//! distribution.

use crate::math;

/// Errors of [`chi_square_test`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `observed` and `probs` have different lengths.
    LengthMismatch {
        /// Length of `observed`.
        observed: usize,
        /// Length of `probs`.
        probs: usize,
    },
    /// A probability is negative or not finite, or the probabilities do not
    /// sum to 1 within `1e-6`.
    InvalidProbabilities,
    /// `min_expected` is negative or not finite.
    InvalidMinExpected,
    /// No observations (all counts are zero) or no categories.
    NoData,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::LengthMismatch { observed, probs } => {
                write!(f, "{observed} observed counts but {probs} probabilities")
            }
            Self::InvalidProbabilities => {
                f.write_str("probabilities must be finite, non-negative and sum to 1")
            }
            Self::InvalidMinExpected => f.write_str("min_expected must be finite and ≥ 0"),
            Self::NoData => f.write_str("no observations"),
        }
    }
}

impl core::error::Error for Error {}

/// Tolerance on `Σ probs = 1`.
const SUM_TOL: f64 = 1e-6;
/// Iteration cap of the series and the continued fraction (both converge in
/// `O(√a)` steps; the cap is never reached for `a ≤ 1e8`).
const MAX_ITER: u32 = 100_000;

/// `Q(a, x) = Γ(a, x) / Γ(a)`, the regularised upper incomplete gamma
/// function, for `a > 0`, `x ≥ 0` (relative accuracy about 1e-14); NaN for
/// invalid arguments.
///
/// ```
/// use kexue_core::stats::gamma_q;
/// // Q(1, x) = e^{−x}.
/// assert!((gamma_q(1.0, 2.0) - (-2.0f64).exp()).abs() < 1e-14);
/// assert!(gamma_q(-1.0, 1.0).is_nan());
/// ```
#[must_use]
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if !(a > 0.0 && x >= 0.0) || a.is_infinite() {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let log_prefix = -x + a * math::ln(x) - math::ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) by its series, Q = 1 − P.
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..MAX_ITER {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * math::exp(log_prefix)).max(0.0)
    } else {
        // Q(a, x) by its continued fraction (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let i = f64::from(i);
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        math::exp(log_prefix) * h
    }
}

/// Upper tail `P(χ²_df ≥ x)`; NaN for `df = 0` or a negative/NaN `x`.
///
/// ```
/// use kexue_core::stats::chi_square_sf;
/// assert!((chi_square_sf(3.841, 1) - 0.05).abs() < 1e-4);
/// ```
#[must_use]
pub fn chi_square_sf(x: f64, df: usize) -> f64 {
    gamma_q(df as f64 / 2.0, x / 2.0)
}

/// Result of [`chi_square_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    /// The statistic `Σ (observed − expected)² / expected` over the bins.
    pub statistic: f64,
    /// Degrees of freedom (bins − 1, at least 1).
    pub df: usize,
    /// `P(χ²_df ≥ statistic)`: small values reject the fit.
    pub p_value: f64,
}

/// Pearson's chi-square goodness of fit of `observed` counts to `probs`
/// (same length, summing to 1). Categories whose expected count is below
/// `min_expected` (5 is the usual rule) are pooled into one bin, kept if its
/// pooled expectation reaches `min_expected`, else merged into the kept bin
/// with the smallest expectation. No allocation.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::InvalidProbabilities`],
/// [`Error::InvalidMinExpected`], [`Error::NoData`].
///
/// ```
/// use kexue_core::stats::chi_square_test;
/// let fair = chi_square_test(&[2510, 2490, 5000], &[0.25, 0.25, 0.5], 5.0).unwrap();
/// assert!(fair.p_value > 0.5);
/// let biased = chi_square_test(&[3333, 3333, 3334], &[0.25, 0.25, 0.5], 5.0).unwrap();
/// assert!(biased.p_value < 1e-100);
/// ```
pub fn chi_square_test(
    observed: &[u64],
    probs: &[f64],
    min_expected: f64,
) -> Result<ChiSquare, Error> {
    if observed.len() != probs.len() {
        return Err(Error::LengthMismatch {
            observed: observed.len(),
            probs: probs.len(),
        });
    }
    if !(min_expected.is_finite() && min_expected >= 0.0) {
        return Err(Error::InvalidMinExpected);
    }
    if probs.iter().any(|p| !(p.is_finite() && *p >= 0.0))
        || (probs.iter().sum::<f64>() - 1.0).abs() > SUM_TOL
    {
        return Err(Error::InvalidProbabilities);
    }
    let total: u64 = observed.iter().fold(0u64, |a, &o| a.saturating_add(o));
    if total == 0 {
        return Err(Error::NoData);
    }
    let n = total as f64;
    let term = |o: f64, e: f64| if e > 0.0 { (o - e) * (o - e) / e } else { 0.0 };
    let mut statistic = 0.0;
    let mut kept = 0usize;
    let (mut pooled_o, mut pooled_e) = (0.0, 0.0);
    let mut smallest: Option<(f64, f64)> = None;
    for (&o, &p) in observed.iter().zip(probs) {
        let (o, e) = (o as f64, p * n);
        if e < min_expected {
            pooled_o += o;
            pooled_e += e;
        } else {
            statistic += term(o, e);
            kept += 1;
            if smallest.is_none_or(|s| e < s.1) {
                smallest = Some((o, e));
            }
        }
    }
    match smallest {
        Some((so, se)) if pooled_e < min_expected => {
            // Merge the thin pool into the smallest kept bin.
            statistic += term(so + pooled_o, se + pooled_e) - term(so, se);
        }
        _ => {
            statistic += term(pooled_o, pooled_e);
            kept += 1;
        }
    }
    let df = kept.saturating_sub(1).max(1);
    Ok(ChiSquare {
        statistic,
        df,
        p_value: chi_square_sf(statistic, df),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerances of this module.
    const TABLE_TOL: f64 = 2e-4; // critical values are tabulated to 3 decimals
    const EXACT_TOL: f64 = 1e-12;

    #[test]
    fn matches_tabulated_critical_values() {
        // (x, df, upper tail) from standard χ² tables.
        for (x, df, p) in [
            (3.841, 1, 0.05),
            (6.635, 1, 0.01),
            (5.991, 2, 0.05),
            (18.307, 10, 0.05),
            (23.209, 10, 0.01),
            (124.342, 100, 0.05),
            (0.455, 1, 0.5),
        ] {
            let got = chi_square_sf(x, df);
            assert!((got - p).abs() < TABLE_TOL, "x={x} df={df}: {got} vs {p}");
        }
    }

    #[test]
    fn matches_closed_forms_and_rejects_bad_arguments() {
        // df = 2: sf(x) = e^{−x/2}.
        for x in [0.1, 1.0, 5.0, 40.0, 700.0] {
            let want = math::exp(-x / 2.0);
            assert!((chi_square_sf(x, 2) - want).abs() <= EXACT_TOL * want.max(1e-300));
        }
        assert_eq!(gamma_q(3.0, 0.0), 1.0);
        assert_eq!(gamma_q(3.0, f64::INFINITY), 0.0);
        assert!(gamma_q(-1.0, 1.0).is_nan());
        assert!(gamma_q(f64::NAN, 1.0).is_nan());
        assert!(gamma_q(1.0, -1.0).is_nan());
        assert!(chi_square_sf(1.0, 0).is_nan());
    }

    #[test]
    fn pooling_keeps_or_merges_the_thin_bins() {
        // Expected counts 50, 45, 3, 2 at n = 100: the two thin bins pool to 5 (kept).
        let r = chi_square_test(&[50, 45, 3, 2], &[0.5, 0.45, 0.03, 0.02], 5.0).unwrap();
        assert_eq!(r.df, 2);
        assert!(r.statistic.abs() < EXACT_TOL);
        // Expected 50, 46, 4 → the thin bin (4 < 5) merges into the 46 bin.
        let r = chi_square_test(&[50, 40, 10], &[0.5, 0.46, 0.04], 5.0).unwrap();
        assert_eq!(r.df, 1);
        let want = 0.0 + (50.0 - 50.0f64).powi(2) / 50.0;
        assert!((r.statistic - want).abs() < EXACT_TOL, "{r:?}");
    }

    #[test]
    fn errors_instead_of_panics() {
        assert_eq!(
            chi_square_test(&[1, 2], &[1.0], 5.0),
            Err(Error::LengthMismatch {
                observed: 2,
                probs: 1
            })
        );
        assert_eq!(
            chi_square_test(&[1, 2], &[0.7, 0.7], 5.0),
            Err(Error::InvalidProbabilities)
        );
        assert_eq!(
            chi_square_test(&[1, 2], &[f64::NAN, 1.0], 5.0),
            Err(Error::InvalidProbabilities)
        );
        assert_eq!(
            chi_square_test(&[0, 0], &[0.5, 0.5], 5.0),
            Err(Error::NoData)
        );
        assert_eq!(
            chi_square_test(&[1, 1], &[0.5, 0.5], f64::NAN),
            Err(Error::InvalidMinExpected)
        );
        assert_eq!(
            chi_square_test(&[], &[], 5.0),
            Err(Error::InvalidProbabilities)
        );
    }
}
