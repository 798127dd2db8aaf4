//! Cosine scores in dimension `d`: `g(a) = E[e^{as}]` under the density
//! `∝ (1 − s²)^{(d−3)/2}` on `[−1, 1]`, in log space, with its tilted moments,
//! and the maximiser of the post's approximation (post of 2023-10-22).
//!
//! # Method and accuracy
//!
//! `g(a) = Γ(d/2)(2/a)^{d/2−1} I_{d/2−1}(a)`, but instead of a Bessel function
//! this module integrates directly. Substituting `s = tanh x` turns the
//! integral over `[−1, 1]` into one over the whole real line,
//!
//! ```text
//! J(a) = ∫ e^{a tanh x} sech^{d−1}(x) dx,      g(a) = J(a) / J(0),
//! ```
//!
//! whose log-integrand `φ(x) = a tanh x − (d−1) ln cosh x` is smooth, strictly
//! unimodal, and analytic in the strip `|Im x| < π/2`. Its peak is known in
//! closed form (`tanh x₀ = s₀`, the root in `(−1, 1)` of
//! `a s² + (d−1) s − a = 0`) and its curvature there is
//! `φ''(x₀) = −(d−1)(1 + s₀²)`, i.e. the peak width
//! `σ = ((d−1)(1 + s₀²))^{−1/2}` lies in `[(2(d−1))^{−1/2}, (d−1)^{−1/2}]` for
//! **every** `a` — the tanh substitution absorbs the `1/a` narrowing of
//! `e^{as}` near `s = 1`. The trapezoid rule on a line is spectrally accurate
//! for such integrands: its error is `O(e^{−2πw/h})` for a strip of half-width
//! `w`; with the step `h = min(σ/3, 0.15)` the bound is below `e^{−40}` in both
//! regimes (large `d`: Gaussian-like peak, error `~e^{−2π²σ²/h²} = e^{−18π²}`;
//! `d = 3`: `w ≈ 1.2`, error `~e^{−50}`). Nodes `x₀ + kh` are summed outwards
//! until `φ` has dropped by 50 below its peak (relative tail `< 10⁻²¹`), in
//! the form `Σ e^{φ(x_k) − φ(x₀)}`, with `φ(x_k) − φ(x₀)` computed without
//! cancellation (`tanh x − tanh x₀ = sinh(x − x₀) sech x sech x₀`), so nothing
//! overflows for any `a ≤ 10¹⁰⁰` or `d`. About 60 nodes are used at `d = 128`,
//! at most a few hundred for `d = 3`.
//!
//! For `a ≤ 2` the power series `g(a) = ₀F₁(; d/2; a²/4) = Σ_k (a²/4)^k /
//! (k! (d/2)_k)` (all terms positive, ≤ 20 terms) is used instead, which keeps
//! `ln g ≈ a²/(2d)` accurate to full *relative* precision as `a → 0`.
//!
//! Checked against mpmath's `besseli` at 40 digits
//! (`tests/reference/attention_reference.py`) for `a ∈ [10⁻³, 2000]`,
//! `d ∈ {3, 4, 16, 128, 4096}`: `ln g` to `≤ 10⁻¹²` (absolute, i.e. `g` to
//! 10⁻¹² relative) and the tilted moments to `≤ 10⁻¹⁰` relative.

use super::solve::{Root, newton_increasing};
use super::{Error, RatioTerms, check_scale};
use crate::math;

/// Below this `a` the power series is used, above it the quadrature.
const SERIES_MAX_A: f64 = 2.0;
/// Trapezoid step as a fraction of the peak width `σ`.
const STEP_PER_SIGMA: f64 = 1.0 / 3.0;
/// Largest trapezoid step (bounds the error when `d` is small).
const MAX_STEP: f64 = 0.15;
/// Nodes are added until the log-integrand is this far below its peak.
const LOG_CUTOFF: f64 = 50.0;
/// Safety cap on nodes per side (never reached: the analysis in the module
/// docs bounds the count by a few hundred, and a test checks the extremes).
const MAX_NODES_PER_SIDE: usize = 100_000;
/// Series terms are added until they fall below this fraction of the sum.
const SERIES_REL_TOL: f64 = 1e-18;
/// Cap on series terms (for `a ≤ 2` fewer than 20 are needed).
const SERIES_MAX_TERMS: usize = 200;
/// The a* search gives up beyond this scale.
const A_STAR_MAX: f64 = 1e15;
/// Newton stops after a step below this fraction of `a` (error ≈ its square).
const A_STAR_STOP: f64 = 1e-7;

/// Cosine scores `s = cos(q, k)` in dimension `d ≥ 3`: density
/// `∝ (1 − s²)^{(d−3)/2}` on `[−1, 1]` (post of 2023-10-22). Validated at
/// construction; holds the normalising constant so that later calls cannot fail
/// on `d`.
///
/// ```
/// use kexue_core::attention::CosineScores;
/// let c = CosineScores::new(3)?;
/// // d = 3: s is uniform on [−1, 1], g(a) = sinh(a)/a.
/// let a = 5.0_f64;
/// let exact = (a.sinh() / a).ln();
/// assert!((c.log_mgf(a)? - exact).abs() < 1e-12);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineScores {
    d: u32,
    /// `d − 1`, the exponent of `sech` after `s = tanh x`.
    kappa: f64,
    /// `ln J(0) = ln ∫ sech^{d−1} x dx = ln B(1/2, (d−1)/2)`, by the same quadrature.
    ln_norm: f64,
}

/// The tilted moments of cosine scores at scale `a`: with weights `∝ e^{as}`
/// times the density, `ln g(a)`, the mean gap `E_a[1 − s]` and the variance
/// `Var_a[s]`. Note `(ln g)' = E_a[s] = 1 − gap_mean` and `(ln g)'' = Var_a[s]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineMoments {
    /// The scale `a`.
    pub a: f64,
    /// `ln g(a) − a` (kept apart from `a` so that differences such as
    /// `ln g(2a) − 2 ln g(a)` do not cancel for large `a`).
    pub log_mgf_excess: f64,
    /// `E_a[1 − s]`, accurate also when `E_a[s]` is within rounding of 1.
    pub gap_mean: f64,
    /// `Var_a[s]`.
    pub variance: f64,
    /// Number of quadrature nodes used (0 on the series path).
    pub nodes: usize,
}

impl CosineMoments {
    /// `ln g(a) = ln E[e^{as}]`.
    ///
    /// ```
    /// use kexue_core::attention::CosineScores;
    /// let m = CosineScores::new(128)?.moments(10.0)?;
    /// assert!((m.log_mgf() - 0.389_460_409_297_950_35).abs() < 1e-12);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    #[must_use]
    pub fn log_mgf(&self) -> f64 {
        self.a + self.log_mgf_excess
    }

    /// `E_a[s] = (ln g)'(a) = I_{d/2}(a)/I_{d/2−1}(a)`.
    ///
    /// ```
    /// use kexue_core::attention::CosineScores;
    /// let m = CosineScores::new(3)?.moments(100.0)?;
    /// assert!((m.mean() - 0.99).abs() < 1e-12); // coth(100) − 1/100
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    #[must_use]
    pub fn mean(&self) -> f64 {
        1.0 - self.gap_mean
    }
}

/// `ln cosh x = |x| + ln(1 + e^{−2|x|}) − ln 2`, and `sech x`, from one `exp`.
fn ln_cosh_and_sech(x: f64) -> (f64, f64) {
    let e = math::exp(-x.abs());
    let e2 = e * e;
    (
        x.abs() + math::ln_1p(e2) - core::f64::consts::LN_2,
        2.0 * e / (1.0 + e2),
    )
}

/// `1 − tanh x`, without cancellation for large `x`.
fn one_minus_tanh(x: f64) -> f64 {
    if x > 0.0 {
        let e = math::exp(-2.0 * x);
        2.0 * e / (1.0 + e)
    } else {
        let e = math::exp(2.0 * x);
        2.0 / (1.0 + e)
    }
}

/// `sinh y` via `expm1`, accurate for small `|y|`.
fn sinh(y: f64) -> f64 {
    0.5 * (math::exp_m1(y) - math::exp_m1(-y))
}

/// The raw quadrature: `ln J(a) − a` and the tilted moments.
#[derive(Debug, Clone, Copy)]
struct Raw {
    excess: f64,
    gap_mean: f64,
    variance: f64,
    nodes: usize,
}

/// Peak of `φ(x) = a tanh x − κ ln cosh x`: `s₀ = tanh x₀` and `t₀ = 1 − s₀`,
/// computed without overflow or cancellation.
fn peak(a: f64, kappa: f64) -> (f64, f64) {
    if 2.0 * a <= kappa {
        // ρ = 2a/κ ≤ 1: s₀ = ρ / (1 + √(1 + ρ²)) ≤ √2 − 1.
        let rho = 2.0 * a / kappa;
        let s0 = rho / (1.0 + math::sqrt(1.0 + rho * rho));
        (s0, 1.0 - s0)
    } else {
        // r = κ/(2a) < 1: s₀ = 1/(r + √(r² + 1)),
        // t₀ = (r + r²/(√(r²+1) + 1)) / (r + √(r² + 1)).
        let r = kappa / (2.0 * a);
        let root = math::sqrt(r * r + 1.0);
        let denom = r + root;
        (1.0 / denom, (r + r * r / (root + 1.0)) / denom)
    }
}

/// Trapezoid rule after `s = tanh x` (see the module docs). `a ≥ 0` finite.
fn quadrature(a: f64, kappa: f64) -> Raw {
    let (s0, t0) = peak(a, kappa);
    // x₀ = atanh(s₀) = ½ ln((1 + s₀)/(1 − s₀)).
    let x0 = 0.5 * (math::ln(1.0 + s0) - math::ln(t0));
    let sigma = 1.0 / math::sqrt(kappa * (1.0 + s0 * s0));
    let h = (sigma * STEP_PER_SIGMA).min(MAX_STEP);
    // Everything is measured from the float x₀ itself, so the reference value
    // and the node values are consistent whatever the rounding of x₀.
    let (ln_cosh0, sech0) = ln_cosh_and_sech(x0);
    let gap0 = one_minus_tanh(x0);
    // φ(x₀) − a = −a (1 − tanh x₀) − κ ln cosh x₀
    let peak_excess = -a * gap0 - kappa * ln_cosh0;

    // Σ w, Σ w·Δ, Σ w·Δ² with w = e^{φ(x_k) − φ(x₀)}, Δ = tanh x_k − tanh x₀.
    let (mut sw, mut swd, mut swd2) = (1.0, 0.0, 0.0);
    let mut nodes = 1;
    for side in [1.0_f64, -1.0] {
        for k in 1..=MAX_NODES_PER_SIDE {
            let offset = side * h * k as f64;
            let x = x0 + offset;
            let (ln_cosh, sech) = ln_cosh_and_sech(x);
            let delta = sinh(offset) * sech * sech0;
            let log_w = a * delta - kappa * (ln_cosh - ln_cosh0);
            let w = math::exp(log_w);
            sw += w;
            swd += w * delta;
            swd2 += w * delta * delta;
            nodes += 1;
            if log_w < -LOG_CUTOFF {
                break;
            }
        }
    }
    let mean_delta = swd / sw;
    Raw {
        excess: peak_excess + math::ln(h * sw),
        gap_mean: gap0 - mean_delta,
        variance: (swd2 / sw - mean_delta * mean_delta).max(0.0),
        nodes,
    }
}

/// Power series `g(a) = Σ_k (a²/4)^k / (k! (b)_k)`, `b = d/2`, and its
/// derivatives; returns `(ln g, E_a[s], Var_a[s])`. For `a ≤ 2`.
fn series(a: f64, b: f64) -> (f64, f64, f64) {
    let u = 0.25 * a * a;
    // U_k = u^{k−1} / (k! (b)_k), k ≥ 1; g = 1 + u Σ U_k,
    // g' = (a/2) Σ k U_k, g'' = ½ Σ k (2k − 1) U_k.
    let mut term = 1.0 / b;
    let (mut s0, mut s1, mut s2) = (0.0, 0.0, 0.0);
    for k in 1..=SERIES_MAX_TERMS {
        let kf = k as f64;
        s0 += term;
        s1 += kf * term;
        s2 += 0.5 * kf * (2.0 * kf - 1.0) * term;
        if kf * kf * term <= SERIES_REL_TOL * s0 {
            break;
        }
        term *= u / ((kf + 1.0) * (b + kf));
    }
    let g = 1.0 + u * s0;
    let mean = 0.5 * a * s1 / g;
    (math::ln_1p(u * s0), mean, (s2 / g - mean * mean).max(0.0))
}

impl CosineScores {
    /// Cosine scores in dimension `d` (`d ≥ 3`, else [`Error::DimensionTooSmall`]).
    ///
    /// ```
    /// use kexue_core::attention::{CosineScores, Error};
    /// assert_eq!(CosineScores::new(128)?.d(), 128);
    /// assert_eq!(CosineScores::new(2), Err(Error::DimensionTooSmall { d: 2 }));
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn new(d: u32) -> Result<Self, Error> {
        if d < 3 {
            return Err(Error::DimensionTooSmall { d });
        }
        let kappa = f64::from(d) - 1.0;
        Ok(Self {
            d,
            kappa,
            ln_norm: quadrature(0.0, kappa).excess,
        })
    }

    /// The dimension `d`.
    #[must_use]
    pub fn d(&self) -> u32 {
        self.d
    }

    /// `ln ∫_{−1}^{1} (1 − s²)^{(d−3)/2} ds = ln B(1/2, (d−1)/2)` as computed by
    /// the quadrature (a test checks it against `ln Γ`).
    ///
    /// ```
    /// use kexue_core::attention::CosineScores;
    /// // d = 3: ∫ 1 ds = 2.
    /// assert!((CosineScores::new(3)?.ln_normaliser() - 2f64.ln()).abs() < 1e-14);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    #[must_use]
    pub fn ln_normaliser(&self) -> f64 {
        self.ln_norm
    }

    /// The tilted moments at scale `a` (see [`CosineMoments`] and the module
    /// docs for the method). Errors: `a` NaN/∞ → [`Error::NonFinite`];
    /// `a < 0` → [`Error::NegativeScale`]; `a > 10¹⁰⁰` → [`Error::OutOfRange`].
    ///
    /// ```
    /// use kexue_core::attention::CosineScores;
    /// let m = CosineScores::new(16)?.moments(0.0)?;
    /// assert_eq!(m.log_mgf(), 0.0);
    /// assert!((m.variance - 1.0 / 16.0).abs() < 1e-15); // Var[s] = 1/d
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn moments(&self, a: f64) -> Result<CosineMoments, Error> {
        check_scale(a)?;
        Ok(self.moments_unchecked(a))
    }

    /// `ln g(a) = ln E[e^{as}]` (see [`CosineScores::moments`]).
    ///
    /// ```
    /// use kexue_core::attention::CosineScores;
    /// // No overflow: g(1000) for d = 4096 is e^{118.69…}.
    /// let l = CosineScores::new(4096)?.log_mgf(1000.0)?;
    /// assert!((l - 118.694_329_824_301_96).abs() < 1e-10);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn log_mgf(&self, a: f64) -> Result<f64, Error> {
        Ok(self.moments(a)?.log_mgf())
    }

    /// Moments without validation (`a` finite, `0 ≤ a ≤ 10¹⁰⁰`).
    pub(super) fn moments_unchecked(&self, a: f64) -> CosineMoments {
        if a <= SERIES_MAX_A {
            let (ln_g, mean, variance) = series(a, 0.5 * f64::from(self.d));
            CosineMoments {
                a,
                log_mgf_excess: ln_g - a,
                gap_mean: 1.0 - mean,
                variance,
                nodes: 0,
            }
        } else {
            let raw = quadrature(a, self.kappa);
            CosineMoments {
                a,
                log_mgf_excess: raw.excess - self.ln_norm,
                gap_mean: raw.gap_mean,
                variance: raw.variance,
                nodes: raw.nodes,
            }
        }
    }

    /// `R = ln g(2a) − 2 ln g(a)`, `R' = 2(E_{2a}[s] − E_a[s])`,
    /// `R'' = 4 Var_{2a}[s] − 2 Var_a[s]`.
    pub(super) fn ratio_terms(&self, a: f64) -> RatioTerms {
        let m1 = self.moments_unchecked(a);
        let m2 = self.moments_unchecked(2.0 * a);
        RatioTerms {
            r: m2.log_mgf_excess - 2.0 * m1.log_mgf_excess,
            r1: 2.0 * (m1.gap_mean - m2.gap_mean),
            r2: 4.0 * m2.variance - 2.0 * m1.variance,
        }
    }

    /// `a*` from `ln n > 0`: Newton on `ln N(a) − ln n` (increasing, `= −ln n`
    /// at 0), from `guess` or `√d·a*_normal(n)` (exact as `d → ∞`, where
    /// `s ≈ N(0, 1/d)`), bracketed by `[0, ∞)`. Returns `a*` and
    /// `d ln N/da` there.
    pub(super) fn a_star_ln(&self, ln_n: f64, guess: Option<f64>) -> Result<Root, Error> {
        let f = |a: f64| {
            if a > A_STAR_MAX {
                // Treat the search limit as a (fake) sign change.
                return (1.0, f64::INFINITY);
            }
            let t = self.ratio_terms(a);
            (t.ln_stationary_n(a) - ln_n, t.d_ln_stationary_n(a))
        };
        let start = match guess {
            Some(g) if g.is_finite() && g > 0.0 => g,
            _ => math::sqrt(f64::from(self.d)) * super::solve::normal_a_star(ln_n),
        };
        let root = newton_increasing(f, 0.0, f64::INFINITY, start.min(A_STAR_MAX), A_STAR_STOP);
        if root.x >= A_STAR_MAX * (1.0 - 1e-9) || !root.x.is_finite() {
            return Err(Error::OutOfRange);
        }
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerances of this module's tests.
    const LOG_G: f64 = 1e-12;
    const CONSISTENT: f64 = 1e-11;
    const FD_STEP_REL: f64 = 1e-5;
    const FD_TOL: f64 = 1e-6;

    #[test]
    fn d3_is_sinh_over_a_and_d4_has_closed_moments() {
        let c = CosineScores::new(3).unwrap();
        for a in [0.01, 1.0, 2.0, 2.01, 7.0, 30.0, 300.0] {
            // ln(sinh a / a) = a − ln(2a) + ln(1 − e^{−2a})
            let exact = a - math::ln(2.0 * a) + math::ln_1p(-math::exp(-2.0 * a));
            assert!((c.log_mgf(a).unwrap() - exact).abs() < LOG_G * (1.0 + exact.abs()));
        }
    }

    #[test]
    fn normaliser_matches_the_beta_function() {
        for d in [3, 4, 5, 16, 128, 1000, 4096] {
            let c = CosineScores::new(d).unwrap();
            let kappa = f64::from(d) - 1.0;
            let exact = math::ln_gamma(0.5) + math::ln_gamma(0.5 * kappa)
                - math::ln_gamma(0.5 * (kappa + 1.0));
            assert!((c.ln_normaliser() - exact).abs() < CONSISTENT, "d {d}");
        }
    }

    #[test]
    fn series_and_quadrature_agree_at_the_switch() {
        for d in [3, 4, 16, 128, 4096] {
            let c = CosineScores::new(d).unwrap();
            for a in [0.5, 1.0, 1.9, 2.0] {
                let (ln_g, mean, var) = series(a, 0.5 * f64::from(d));
                let raw = quadrature(a, c.kappa);
                assert!(
                    (ln_g - (raw.excess - c.ln_norm + a)).abs() < CONSISTENT,
                    "d {d} a {a}"
                );
                assert!((1.0 - mean - raw.gap_mean).abs() < CONSISTENT);
                assert!((var - raw.variance).abs() < CONSISTENT * var);
            }
        }
    }

    #[test]
    fn derivatives_match_central_differences() {
        for d in [3, 16, 128, 4096] {
            let c = CosineScores::new(d).unwrap();
            for a in [0.7, 3.0, 25.0, 400.0] {
                let h = FD_STEP_REL * a;
                let m = c.moments(a).unwrap();
                let lp = c.moments(a + h).unwrap();
                let lm = c.moments(a - h).unwrap();
                let d1 = ((lp.log_mgf_excess - lm.log_mgf_excess) / (2.0 * h)) + 1.0;
                assert!(
                    (d1 - m.mean()).abs() < FD_TOL * (1.0 + m.mean().abs()),
                    "d {d} a {a}"
                );
                let d2 = (lm.gap_mean - lp.gap_mean) / (2.0 * h);
                assert!(
                    (d2 - m.variance).abs() < FD_TOL * m.variance.max(1e-12) * 10.0,
                    "d {d} a {a}: {d2} vs {}",
                    m.variance
                );
            }
        }
    }

    #[test]
    fn extreme_scales_stay_finite_and_use_few_nodes() {
        for d in [3, 4, 128, 4096, 1 << 20, u32::MAX] {
            let c = CosineScores::new(d).unwrap();
            for a in [2.5, 1e3, 1e6, 1e15, 1e100] {
                let m = c.moments(a).unwrap();
                assert!(
                    m.log_mgf_excess.is_finite() && m.log_mgf_excess <= 0.0,
                    "d {d} a {a}"
                );
                assert!(m.gap_mean > 0.0 && m.gap_mean <= 1.0);
                assert!(m.variance >= 0.0 && m.variance.is_finite());
                assert!(
                    m.nodes > 10 && m.nodes < 2_000,
                    "d {d} a {a}: {} nodes",
                    m.nodes
                );
            }
        }
    }

    #[test]
    fn stationary_n_is_increasing_so_a_star_is_unique() {
        for d in [3, 4, 16, 128, 4096] {
            let dist = super::super::ScoreDist::cosine(d).unwrap();
            let mut prev = f64::NEG_INFINITY;
            let mut a = 1e-3;
            while a < 1e7 {
                let t = dist.ratio_terms(a);
                let ln_n = t.ln_stationary_n(a);
                assert!(ln_n > prev, "d {d} a {a}");
                assert!(t.d_ln_stationary_n(a) > 0.0);
                prev = ln_n;
                a *= 1.1;
            }
        }
    }

    #[test]
    fn rejects_bad_scales() {
        let c = CosineScores::new(5).unwrap();
        assert_eq!(c.moments(f64::NAN), Err(Error::NonFinite));
        assert_eq!(c.moments(-1.0), Err(Error::NegativeScale));
        assert_eq!(c.moments(1e101), Err(Error::OutOfRange));
    }
}
