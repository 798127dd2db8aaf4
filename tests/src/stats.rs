//! Chi-square goodness-of-fit for the sampler tests: the statistic with small
//! expected counts pooled, and its p-value via the regularised upper incomplete
//! gamma function `Q(k/2, x/2)` (series for `x < a + 1`, Lentz continued
//! fraction otherwise; Numerical Recipes §6.2).

use kexue_core::math;

/// `Q(a, x) = Γ(a, x) / Γ(a)`, the regularised upper incomplete gamma, for
/// `a > 0`, `x ≥ 0` (relative accuracy ~1e-14). NaN for invalid arguments.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a <= 0.0 || x < 0.0 || a.is_nan() || x.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    let log_prefix = -x + a * math::ln(x) - math::ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) by its series, Q = 1 − P.
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        1.0 - sum * math::exp(log_prefix)
    } else {
        // Q(a, x) by its continued fraction (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -f64::from(i) * (f64::from(i) - a);
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

/// Upper tail `P(χ²_df ≥ x)`.
pub fn chi_square_sf(x: f64, df: usize) -> f64 {
    gamma_q(df as f64 / 2.0, x / 2.0)
}

/// Result of [`chi_square_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    /// The statistic `Σ (observed − expected)² / expected` over the bins.
    pub statistic: f64,
    /// Degrees of freedom (bins − 1).
    pub df: usize,
    /// `P(χ²_df ≥ statistic)`.
    pub p_value: f64,
}

/// Goodness of fit of `observed` counts to probabilities `probs` (same
/// length, summing to 1). Categories whose expected count is below
/// `min_expected` are pooled into one bin (kept only if its pooled expectation
/// reaches `min_expected`, else merged into the smallest kept bin).
pub fn chi_square_test(observed: &[u64], probs: &[f64], min_expected: f64) -> ChiSquare {
    assert_eq!(observed.len(), probs.len());
    let n: u64 = observed.iter().sum();
    let n = n as f64;
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let (mut pooled_o, mut pooled_e) = (0.0, 0.0);
    for (&o, &p) in observed.iter().zip(probs) {
        let e = p * n;
        if e < min_expected {
            pooled_o += o as f64;
            pooled_e += e;
        } else {
            bins.push((o as f64, e));
        }
    }
    if pooled_e >= min_expected || bins.is_empty() {
        bins.push((pooled_o, pooled_e));
    } else if let Some(last) = bins.iter_mut().min_by(|a, b| a.1.total_cmp(&b.1)) {
        last.0 += pooled_o;
        last.1 += pooled_e;
    }
    let statistic: f64 = bins
        .iter()
        .filter(|b| b.1 > 0.0)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum();
    let df = bins.len().saturating_sub(1).max(1);
    ChiSquare {
        statistic,
        df,
        p_value: chi_square_sf(statistic, df),
    }
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
    fn matches_closed_forms() {
        // df = 2: sf(x) = e^{−x/2}; Q(1, x) = e^{−x}.
        for x in [0.1, 1.0, 5.0, 40.0] {
            assert!((chi_square_sf(x, 2) - (-x / 2.0f64).exp()).abs() < EXACT_TOL);
        }
        // Q(a, 0) = 1; invalid arguments are NaN.
        assert_eq!(gamma_q(3.0, 0.0), 1.0);
        assert!(gamma_q(-1.0, 1.0).is_nan());
    }

    #[test]
    fn chi_square_test_accepts_a_fit_and_rejects_a_misfit() {
        let probs = [0.5, 0.25, 0.25];
        let fit = chi_square_test(&[5010, 2490, 2500], &probs, 5.0);
        assert!(fit.p_value > 0.5);
        let misfit = chi_square_test(&[3333, 3333, 3334], &probs, 5.0);
        assert!(misfit.p_value < 1e-10);
        assert_eq!(misfit.df, 2);
    }
}
