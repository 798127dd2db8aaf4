//! Tables of `a*` over many `n` and the post's fitted laws
//! `a* ≈ c·√(ln n)` (normal scores) and `a* ≈ c·ln n` (cosine scores), fitted by
//! least squares through the origin (post of 2023-10-22).

use super::{Error, ScoreDist};
use crate::math;

/// An arithmetic grid of key counts `n = start, start + step, …` (`count` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NGrid {
    /// The first `n`.
    pub start: u32,
    /// The spacing.
    pub step: u32,
    /// The number of values.
    pub count: usize,
}

/// The post's grid: `n = 40, 80, …, 20000` (500 values).
pub const POST_N_GRID: NGrid = NGrid {
    start: 40,
    step: 40,
    count: 500,
};

impl NGrid {
    /// The number of values.
    ///
    /// ```
    /// use kexue_core::attention::POST_N_GRID;
    /// assert_eq!(POST_N_GRID.len(), 500);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if the grid has no values.
    ///
    /// ```
    /// use kexue_core::attention::POST_N_GRID;
    /// assert!(!POST_N_GRID.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th value, or `None` past the end.
    ///
    /// ```
    /// use kexue_core::attention::POST_N_GRID;
    /// assert_eq!(POST_N_GRID.get(499), Some(20_000.0));
    /// assert_eq!(POST_N_GRID.get(500), None);
    /// ```
    #[must_use]
    pub fn get(&self, i: usize) -> Option<f64> {
        (i < self.count).then(|| f64::from(self.start) + f64::from(self.step) * i as f64)
    }

    /// The values in order.
    ///
    /// ```
    /// use kexue_core::attention::POST_N_GRID;
    /// assert_eq!(POST_N_GRID.iter().take(2).collect::<Vec<_>>(), [40.0, 80.0]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.count).filter_map(|i| self.get(i))
    }

    /// Write the values into `out` (`out.len()` must equal [`NGrid::len`]).
    ///
    /// ```
    /// use kexue_core::attention::NGrid;
    /// let mut ns = [0.0; 3];
    /// NGrid { start: 10, step: 5, count: 3 }.fill(&mut ns)?;
    /// assert_eq!(ns, [10.0, 15.0, 20.0]);
    /// # Ok::<(), kexue_core::attention::Error>(())
    /// ```
    pub fn fill(&self, out: &mut [f64]) -> Result<(), Error> {
        if out.len() != self.count {
            return Err(Error::LengthMismatch {
                expected: self.count,
                actual: out.len(),
            });
        }
        for (o, n) in out.iter_mut().zip(self.iter()) {
            *o = n;
        }
        Ok(())
    }
}

/// The functional form of a fitted scale law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleLaw {
    /// `a* ≈ c·√(ln n)` — the post's law for normal scores (`c ≈ 0.84`).
    SqrtLog,
    /// `a* ≈ c·ln n` — the post's law for cosine scores (`c ≈ 3.5` at `d = 128`).
    Log,
}

impl ScaleLaw {
    /// The law the post fits for a score distribution.
    ///
    /// ```
    /// use kexue_core::attention::{ScaleLaw, ScoreDist};
    /// assert_eq!(ScaleLaw::for_dist(&ScoreDist::Normal), ScaleLaw::SqrtLog);
    /// ```
    #[must_use]
    pub fn for_dist(dist: &ScoreDist) -> Self {
        match dist {
            ScoreDist::Normal => Self::SqrtLog,
            ScoreDist::Cosine(_) => Self::Log,
        }
    }

    /// The regressor `x(n)`: `√(ln n)` or `ln n`.
    ///
    /// ```
    /// use kexue_core::attention::ScaleLaw;
    /// assert_eq!(ScaleLaw::Log.regressor(1.0), 0.0);
    /// ```
    #[must_use]
    pub fn regressor(&self, n: f64) -> f64 {
        let l = math::ln(n);
        match self {
            Self::SqrtLog => math::sqrt(l),
            Self::Log => l,
        }
    }

    /// A formula for display, e.g. `a* ≈ c·√(ln n)`.
    ///
    /// ```
    /// use kexue_core::attention::ScaleLaw;
    /// assert!(ScaleLaw::Log.formula().contains("ln n"));
    /// ```
    #[must_use]
    pub fn formula(&self) -> &'static str {
        match self {
            Self::SqrtLog => "a* ≈ c·√(ln n)",
            Self::Log => "a* ≈ c·ln n",
        }
    }
}

/// A least-squares fit through the origin, `a* ≈ c·x(n)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// The law fitted.
    pub law: ScaleLaw,
    /// `c = Σ x_i a_i / Σ x_i²`.
    pub c: f64,
    /// `max_i |c·x_i − a_i| / a_i`, the fit's worst relative error.
    pub max_rel_err: f64,
    /// The `n` at which the worst relative error occurs.
    pub worst_n: f64,
}

impl Fit {
    /// The fitted law at `n`: `c·x(n)`.
    ///
    /// ```
    /// use kexue_core::attention::{Fit, ScaleLaw};
    /// let f = Fit { law: ScaleLaw::Log, c: 2.0, max_rel_err: 0.0, worst_n: 1.0 };
    /// assert!((f.eval(10f64.exp()) - 20.0).abs() < 1e-12);
    /// ```
    #[must_use]
    pub fn eval(&self, n: f64) -> f64 {
        self.c * self.law.regressor(n)
    }
}

/// `a*` for each `n` of `ns` into `out` (same length). Each solve starts from
/// the previous `a*` moved by the tangent `Δ ln n / (d ln N/da)`, so a sorted
/// grid costs about two Newton steps per value.
///
/// Errors: [`Error::LengthMismatch`], and any error of [`ScoreDist::a_star`]
/// (e.g. `n = 1` in the grid → [`Error::NoInteriorMaximum`]).
///
/// ```
/// use kexue_core::attention::{a_star_table, ScoreDist};
/// let mut a = [0.0; 3];
/// a_star_table(&ScoreDist::Normal, &[40.0, 512.0, 20_000.0], &mut a)?;
/// assert!(a[0] < a[1] && a[1] < a[2]);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn a_star_table(dist: &ScoreDist, ns: &[f64], out: &mut [f64]) -> Result<(), Error> {
    if ns.len() != out.len() {
        return Err(Error::LengthMismatch {
            expected: ns.len(),
            actual: out.len(),
        });
    }
    let mut previous: Option<(f64, super::solve::Root)> = None;
    for (o, &n) in out.iter_mut().zip(ns) {
        let guess = previous.and_then(|(ln_prev, root)| {
            let g = root.x + (math::ln(n) - ln_prev) / root.slope;
            (g.is_finite() && g > 0.0).then_some(g)
        });
        let root = dist.a_star_root(n, guess)?;
        *o = root.x;
        previous = Some((math::ln(n), root));
    }
    Ok(())
}

/// Fit `a* ≈ c·x(n)` through the origin by least squares over `(ns, a_stars)`:
/// `c = Σ x_i a_i / Σ x_i²`, and report the worst relative error
/// `max_i |c x_i − a_i| / a_i` (the post's fits: `c ≈ 0.84` normal, `c ≈ 3.5`
/// cosine `d = 128`, over [`POST_N_GRID`]).
///
/// Errors: different lengths → [`Error::LengthMismatch`]; empty →
/// [`Error::Empty`]; NaN/∞ → [`Error::NonFinite`]; an `n ≤ 1` (regressor 0) or
/// an `a* ≤ 0` → [`Error::InvalidKeyCount`] / [`Error::NegativeScale`].
///
/// ```
/// use kexue_core::attention::{fit_scale_law, ScaleLaw};
/// let ns = [10.0, 100.0];
/// let a: Vec<f64> = ns.iter().map(|n: &f64| 2.0 * n.ln()).collect();
/// let fit = fit_scale_law(ScaleLaw::Log, &ns, &a)?;
/// assert!((fit.c - 2.0).abs() < 1e-14 && fit.max_rel_err < 1e-14);
/// # Ok::<(), kexue_core::attention::Error>(())
/// ```
pub fn fit_scale_law(law: ScaleLaw, ns: &[f64], a_stars: &[f64]) -> Result<Fit, Error> {
    if ns.len() != a_stars.len() {
        return Err(Error::LengthMismatch {
            expected: ns.len(),
            actual: a_stars.len(),
        });
    }
    if ns.is_empty() {
        return Err(Error::Empty);
    }
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (&n, &a) in ns.iter().zip(a_stars) {
        if !n.is_finite() || !a.is_finite() {
            return Err(Error::NonFinite);
        }
        if n <= 1.0 {
            return Err(Error::InvalidKeyCount);
        }
        if a <= 0.0 {
            return Err(Error::NegativeScale);
        }
        let x = law.regressor(n);
        sxy += x * a;
        sxx += x * x;
    }
    let c = sxy / sxx;
    let (mut max_rel_err, mut worst_n) = (0.0, f64::NAN);
    for (&n, &a) in ns.iter().zip(a_stars) {
        let rel = (c * law.regressor(n) - a).abs() / a;
        if rel > max_rel_err || worst_n.is_nan() {
            max_rel_err = rel;
            worst_n = n;
        }
    }
    Ok(Fit {
        law,
        c,
        max_rel_err,
        worst_n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerances of this module's tests (the post's numbers are given to 2
    /// digits; the exact values are checked in `tests/tests/attention.rs`).
    const POST_DIGITS: f64 = 0.01;

    #[test]
    fn post_fits_are_reproduced() {
        let mut ns = [0.0; 500];
        POST_N_GRID.fill(&mut ns).unwrap();
        let mut a = [0.0; 500];
        a_star_table(&ScoreDist::Normal, &ns, &mut a).unwrap();
        let fit = fit_scale_law(ScaleLaw::SqrtLog, &ns, &a).unwrap();
        assert!((fit.c - 0.84).abs() < POST_DIGITS, "{fit:?}");
        let cos = ScoreDist::cosine(128).unwrap();
        a_star_table(&cos, &ns, &mut a).unwrap();
        let fit = fit_scale_law(ScaleLaw::Log, &ns, &a).unwrap();
        assert!((fit.c - 3.49).abs() < POST_DIGITS, "{fit:?}");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(fit_scale_law(ScaleLaw::Log, &[], &[]), Err(Error::Empty));
        assert_eq!(
            fit_scale_law(ScaleLaw::Log, &[2.0], &[]),
            Err(Error::LengthMismatch {
                expected: 1,
                actual: 0
            })
        );
        assert_eq!(
            fit_scale_law(ScaleLaw::Log, &[1.0], &[1.0]),
            Err(Error::InvalidKeyCount)
        );
        assert_eq!(
            fit_scale_law(ScaleLaw::Log, &[2.0], &[f64::NAN]),
            Err(Error::NonFinite)
        );
        let mut out = [0.0; 2];
        assert_eq!(
            a_star_table(&ScoreDist::Normal, &[1.0, 5.0], &mut out),
            Err(Error::NoInteriorMaximum)
        );
        assert!(POST_N_GRID.fill(&mut out).is_err());
    }
}
