//! Numerics shared by every module: all transcendental math goes through here
//! (thin wrappers over [`libm`], so results are identical on every target), plus
//! the stable reductions the posts rely on — log-sum-exp, softmax, sigmoid.
//!
//! Naming: plain names are `f64`; a `_f32` suffix marks the `f32` twin.

/// `e^x` (f64).
#[inline]
#[must_use]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// `e^x` (f32).
#[inline]
#[must_use]
pub fn exp_f32(x: f32) -> f32 {
    libm::expf(x)
}

/// Natural logarithm (f64); `ln(0) = −∞`, `ln(x<0) = NaN`.
#[inline]
#[must_use]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// Natural logarithm (f32).
#[inline]
#[must_use]
pub fn ln_f32(x: f32) -> f32 {
    libm::logf(x)
}

/// `ln(1 + x)`, accurate for small `x` (f64).
#[inline]
#[must_use]
pub fn ln_1p(x: f64) -> f64 {
    libm::log1p(x)
}

/// `e^x − 1`, accurate for small `x` (f64).
#[inline]
#[must_use]
pub fn exp_m1(x: f64) -> f64 {
    libm::expm1(x)
}

/// Square root (f64).
#[inline]
#[must_use]
pub fn sqrt(x: f64) -> f64 {
    libm::sqrt(x)
}

/// Square root (f32).
#[inline]
#[must_use]
pub fn sqrt_f32(x: f32) -> f32 {
    libm::sqrtf(x)
}

/// `x^y` (f64).
#[inline]
#[must_use]
pub fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// `x^y` (f32).
#[inline]
#[must_use]
pub fn pow_f32(x: f32, y: f32) -> f32 {
    libm::powf(x, y)
}

/// `ln Γ(x)` for `x > 0` (f64).
#[inline]
#[must_use]
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// `ln(e^a + e^b)` without overflow; `−∞` is the identity.
///
/// ```
/// use kexue_core::math::log_add_exp;
/// assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
/// assert_eq!(log_add_exp(f64::NEG_INFINITY, 3.0), 3.0);
/// ```
#[inline]
#[must_use]
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + ln_1p(exp(lo - hi))
}

/// `ln Σ e^{x_i}` computed stably (the maximum is subtracted first).
/// The empty sum gives `−∞`; a NaN anywhere gives NaN.
///
/// ```
/// use kexue_core::math::logsumexp;
/// let v = logsumexp(&[1e4, 1e4]);
/// assert!((v - (1e4 + 2f64.ln())).abs() < 1e-9);
/// assert_eq!(logsumexp(&[]), f64::NEG_INFINITY);
/// ```
#[must_use]
pub fn logsumexp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if xs.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = xs.iter().map(|&x| exp(x - max)).sum();
    max + ln(sum)
}

/// `ln Σ e^{x_i}` of `f32` inputs, accumulated in `f64` in one streaming pass
/// (the running maximum is rescaled as it grows), so it suits very long inputs
/// such as 256k-class logits. The empty sum gives `−∞`.
///
/// ```
/// use kexue_core::math::logsumexp_f32;
/// let v = logsumexp_f32(&[0.0, 0.0, 0.0, 0.0]);
/// assert!((v - 4f64.ln()).abs() < 1e-12);
/// ```
#[must_use]
pub fn logsumexp_f32(xs: &[f32]) -> f64 {
    let mut max = f64::NEG_INFINITY;
    let mut sum = 0.0_f64;
    let mut saw_pos_inf = false;
    for &x in xs {
        let x = f64::from(x);
        if x.is_nan() {
            return f64::NAN;
        }
        if x == f64::INFINITY {
            saw_pos_inf = true;
            continue;
        }
        if x == f64::NEG_INFINITY {
            continue;
        }
        if x > max {
            sum = if max == f64::NEG_INFINITY {
                0.0
            } else {
                sum * exp(max - x)
            };
            max = x;
        }
        sum += exp(x - max);
    }
    if saw_pos_inf {
        return f64::INFINITY;
    }
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + ln(sum)
}

/// Error of [`softmax`]: the output slice length differs from the input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthMismatch {
    /// Length of the input.
    pub input: usize,
    /// Length of the output.
    pub output: usize,
}

impl core::fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "length mismatch: input has {} elements, output {}",
            self.input, self.output
        )
    }
}

impl core::error::Error for LengthMismatch {}

/// `p_i = e^{a·x_i} / Σ_j e^{a·x_j}` written into `out`, stable for any finite
/// `a·x`. Returns `ln Z = logsumexp(a·x)`.
///
/// ```
/// use kexue_core::math::softmax;
/// let mut p = [0.0; 3];
/// softmax(&[0.0, 0.0, 2f64.ln()], 1.0, &mut p).unwrap();
/// assert!((p[2] - 0.5).abs() < 1e-15);
/// ```
pub fn softmax(xs: &[f64], scale: f64, out: &mut [f64]) -> Result<f64, LengthMismatch> {
    if xs.len() != out.len() {
        return Err(LengthMismatch {
            input: xs.len(),
            output: out.len(),
        });
    }
    let max = xs
        .iter()
        .map(|&x| scale * x)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (o, &x) in out.iter_mut().zip(xs) {
        *o = exp(scale * x - max);
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
    Ok(max + ln(sum))
}

/// The logistic function `σ(x) = 1 / (1 + e^{−x})`, stable for all `x`.
///
/// ```
/// use kexue_core::math::sigmoid;
/// assert_eq!(sigmoid(0.0), 0.5);
/// assert!(sigmoid(-800.0) >= 0.0 && sigmoid(800.0) == 1.0);
/// ```
#[inline]
#[must_use]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + exp(-x))
    } else {
        let e = exp(x);
        e / (1.0 + e)
    }
}

/// `ln σ(x) = −ln(1 + e^{−x})`, stable for all `x`.
///
/// ```
/// use kexue_core::math::log_sigmoid;
/// assert!((log_sigmoid(-1000.0) + 1000.0).abs() < 1e-9);
/// ```
#[inline]
#[must_use]
pub fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -ln_1p(exp(-x))
    } else {
        x - ln_1p(exp(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Named tolerances (one table, no bare literals in assertions).
    const TIGHT: f64 = 1e-12;

    #[test]
    fn logsumexp_matches_naive_where_naive_is_safe() {
        let xs = [0.3, -1.2, 2.5, 0.0];
        let naive = ln(xs.iter().map(|&x| exp(x)).sum::<f64>());
        assert!((logsumexp(&xs) - naive).abs() < TIGHT);
        let xf: [f32; 4] = [0.3, -1.2, 2.5, 0.0];
        let naive_f: f64 = ln(xf.iter().map(|&x| exp(f64::from(x))).sum::<f64>());
        assert!((logsumexp_f32(&xf) - naive_f).abs() < TIGHT);
    }

    #[test]
    fn logsumexp_edge_cases() {
        assert!(logsumexp(&[1.0, f64::NAN]).is_nan());
        assert_eq!(logsumexp(&[f64::INFINITY, 1.0]), f64::INFINITY);
        assert_eq!(logsumexp(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        assert!(logsumexp_f32(&[1.0, f32::NAN]).is_nan());
        assert_eq!(logsumexp_f32(&[]), f64::NEG_INFINITY);
        assert_eq!(logsumexp_f32(&[f32::NEG_INFINITY, 0.0]), 0.0);
        assert_eq!(logsumexp_f32(&[f32::INFINITY, 0.0]), f64::INFINITY);
        // Increasing maxima exercise the rescaling path.
        let v = logsumexp_f32(&[-1e4, 0.0, 1e4]);
        assert!((v - 1e4).abs() < TIGHT);
    }

    #[test]
    fn log_add_exp_is_commutative_and_exact() {
        let a = log_add_exp(0.5, -2.0);
        let b = log_add_exp(-2.0, 0.5);
        assert_eq!(a, b);
        assert!((a - ln(exp(0.5) + exp(-2.0))).abs() < TIGHT);
    }

    #[test]
    fn softmax_sums_to_one_and_rejects_bad_lengths() {
        let mut p = [0.0; 4];
        let lz = softmax(&[1e4, -1e4, 0.0, 1e4], 1.0, &mut p).unwrap();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < TIGHT);
        assert!((p[0] - 0.5).abs() < TIGHT);
        assert!((lz - (1e4 + 2f64.ln())).abs() < 1e-9);
        let mut short = [0.0; 2];
        assert_eq!(
            softmax(&[1.0, 2.0, 3.0], 1.0, &mut short),
            Err(LengthMismatch {
                input: 3,
                output: 2
            })
        );
    }

    #[test]
    fn sigmoid_and_log_sigmoid_agree() {
        for x in [-30.0, -1.0, 0.0, 2.0, 30.0] {
            assert!((ln(sigmoid(x)) - log_sigmoid(x)).abs() < TIGHT);
            assert!((sigmoid(x) + sigmoid(-x) - 1.0).abs() < TIGHT);
        }
    }

    #[test]
    fn wrappers_agree_with_identities() {
        assert!((exp(ln(3.5)) - 3.5).abs() < TIGHT);
        assert!((f64::from(exp_f32(ln_f32(3.5))) - 3.5).abs() < 1e-6);
        assert!((sqrt(2.0) * sqrt(2.0) - 2.0).abs() < TIGHT);
        assert!((f64::from(sqrt_f32(4.0)) - 2.0).abs() < TIGHT);
        assert!((pow(2.0, 10.0) - 1024.0).abs() < TIGHT);
        assert!((f64::from(pow_f32(2.0, 3.0)) - 8.0).abs() < TIGHT);
        assert!((ln_gamma(5.0) - ln(24.0)).abs() < TIGHT);
        assert!((exp_m1(1e-10) - 1e-10).abs() < 1e-20);
        assert!((ln_1p(1e-10) - 1e-10).abs() < 1e-20);
    }
}
