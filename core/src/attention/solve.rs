//! One-dimensional solvers used by the attention analysis: Newton's method
//! safeguarded by bisection for increasing functions, and Brent's maximiser.

use crate::math;

/// Iteration cap of the safeguarded Newton method (bisection alone halves the
/// bracket each step, so 200 steps shrink any finite bracket below rounding).
const NEWTON_MAX_ITER: usize = 200;
/// Iteration cap of Brent's method.
const BRENT_MAX_ITER: usize = 200;
/// `(3 − √5)/2`, the golden-section fraction.
const GOLDEN: f64 = 0.381_966_011_250_105_1;

/// A root found by [`newton_increasing`], with the slope `f'` at the last
/// Newton point (for predicting the root of a nearby problem).
#[derive(Debug, Clone, Copy)]
pub(super) struct Root {
    pub x: f64,
    pub slope: f64,
}

/// Root of an increasing function on a bracket `[lo, hi]` with
/// `f(lo) ≤ 0 ≤ f(hi)` (`hi` may be `+∞`): Newton steps from `x0`, replaced by
/// bisection (or, while `hi = ∞`, by quadrupling `x`) whenever a step leaves
/// the shrinking bracket. `fdf(x) = (f(x), f'(x))`, one call per iteration.
///
/// Stops after a Newton step `δ` with `|δ| ≤ stop·|x|` and returns `x + δ`:
/// by quadratic convergence its error is `≈ (f''/2f')·δ²`, so `stop = 1e-7`
/// gives about 1e-14 relative for functions curved on the scale of `x`.
pub(super) fn newton_increasing(
    mut fdf: impl FnMut(f64) -> (f64, f64),
    mut lo: f64,
    mut hi: f64,
    x0: f64,
    stop: f64,
) -> Root {
    let bisect = |lo: f64, hi: f64| {
        if hi.is_finite() {
            0.5 * (lo + hi)
        } else {
            (4.0 * lo).max(1.0)
        }
    };
    let mut x = if x0 >= lo && x0 <= hi {
        x0
    } else {
        bisect(lo, hi)
    };
    let mut slope = f64::NAN;
    for _ in 0..NEWTON_MAX_ITER {
        let (f, df) = fdf(x);
        slope = df;
        if f == 0.0 || f.is_nan() {
            break;
        }
        if f < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let step = -f / df;
        let next = x + step;
        if next > lo && next < hi {
            if step.abs() <= stop * next.abs() {
                return Root { x: next, slope };
            }
            x = next;
        } else {
            x = bisect(lo, hi);
        }
        if hi.is_finite() && hi - lo <= f64::EPSILON * hi.abs() {
            break;
        }
    }
    Root { x, slope }
}

/// `a*` for normal scores from `ln n > 0`: `u = a²` solves
/// `f(u) = u + ln(1 + 2u) − ln n = 0`. `f` is increasing and concave with
/// `f(0) = −ln n < 0 < f(ln n) = ln(1 + 2 ln n)`, so the safeguarded Newton
/// iteration on `[0, ln n]` converges (quadratically after a step or two).
pub(super) fn normal_a_star(ln_n: f64) -> f64 {
    let u = newton_increasing(
        |u| (u + math::ln_1p(2.0 * u) - ln_n, 1.0 + 2.0 / (1.0 + 2.0 * u)),
        0.0,
        ln_n,
        0.5 * ln_n,
        1e-8,
    )
    .x;
    math::sqrt(u.max(0.0))
}

/// Maximise `f` on `[lo, hi]` by Brent's method (golden section with parabolic
/// steps; Brent 1973, as in Numerical Recipes' `brent`), to an absolute
/// tolerance `tol` in `x`. Returns `(x, f(x))`. For a unimodal `f` this finds
/// the maximum; otherwise a local maximum inside the bracket.
pub(super) fn brent_max(mut f: impl FnMut(f64) -> f64, lo: f64, hi: f64, tol: f64) -> (f64, f64) {
    let (mut a, mut b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let mut x = a + GOLDEN * (b - a);
    let (mut w, mut v) = (x, x);
    // Minimise −f.
    let mut fx = -f(x);
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e) = (0.0_f64, 0.0_f64);
    for _ in 0..BRENT_MAX_ITER {
        let xm = 0.5 * (a + b);
        let tol1 = tol + f64::EPSILON * x.abs();
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol1 {
            let r = (x - w) * (fx - fv);
            let q0 = (x - v) * (fx - fw);
            let mut p = (x - v) * q0 - (x - w) * r;
            let mut q = 2.0 * (q0 - r);
            if q > 0.0 {
                p = -p;
            } else {
                q = -q;
            }
            let e_old = e;
            e = d;
            if p.abs() < (0.5 * q * e_old).abs() && p > q * (a - x) && p < q * (b - x) {
                d = p / q;
                let u = x + d;
                if u - a < tol2 || b - u < tol2 {
                    d = tol1.copysign(xm - x);
                }
                golden = false;
            }
        }
        if golden {
            e = if x >= xm { a - x } else { b - x };
            d = GOLDEN * e;
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else {
            x + tol1.copysign(d)
        };
        let fu = -f(u);
        if fu <= fx {
            if u >= x {
                a = x;
            } else {
                b = x;
            }
            (v, fv) = (w, fw);
            (w, fw) = (x, fx);
            (x, fx) = (u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv) = (w, fw);
                (w, fw) = (u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    (x, -fx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerances of this module's tests.
    const ROOT: f64 = 1e-13;
    /// Maximising in floating point locates the argmax only to about
    /// `√ε` times the peak's width (`f` is flat to rounding there).
    const ARGMAX: f64 = 1e-7;

    #[test]
    fn newton_finds_roots_even_from_bad_guesses() {
        for guess in [-5.0, 0.0, 0.1, 1.9, 100.0, f64::NAN] {
            for hi in [10.0, f64::INFINITY] {
                let x =
                    newton_increasing(|x| (x * x * x - 8.0, 3.0 * x * x), 0.0, hi, guess, 1e-8).x;
                assert!((x - 2.0).abs() < ROOT, "guess {guess}: {x}");
            }
        }
        // A saturating function whose Newton steps overshoot wildly.
        let x = newton_increasing(
            |x| {
                let t = x - 3.0;
                (
                    t / (1.0 + t.abs()),
                    1.0 / ((1.0 + t.abs()) * (1.0 + t.abs())),
                )
            },
            -50.0,
            1000.0,
            40.0,
            1e-8,
        )
        .x;
        assert!((x - 3.0).abs() < ROOT);
    }

    #[test]
    fn normal_a_star_solves_the_post_equation() {
        for n in [1.0 + 1e-9, 2.0, 40.0, 20_000.0, 1e9, 1e300] {
            let ln_n = math::ln(n);
            let a = normal_a_star(ln_n);
            let u = a * a;
            let resid = u + math::ln_1p(2.0 * u) - ln_n;
            assert!(resid.abs() < ROOT * (1.0 + ln_n), "n {n}: {resid}");
        }
    }

    #[test]
    fn brent_finds_the_maximum_of_smooth_functions() {
        let (x, fx) = brent_max(|x| -(x - 1.234).powi(2) + 5.0, -10.0, 10.0, 1e-12);
        assert!(
            (x - 1.234).abs() < ARGMAX && (fx - 5.0).abs() < ROOT,
            "{x} {fx}"
        );
        // x e^{-x} peaks at 1 (asymmetric).
        let (x, _) = brent_max(|x| x * math::exp(-x), 0.0, 30.0, 1e-12);
        assert!((x - 1.0).abs() < ARGMAX);
        // Reversed bracket and a maximum at the boundary.
        let (x, _) = brent_max(|x| x, 3.0, 1.0, 1e-12);
        assert!((x - 3.0).abs() < ARGMAX);
    }
}
