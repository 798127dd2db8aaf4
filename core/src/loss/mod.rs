//! Losses beyond cross-entropy: TaiLr (post of 2023-03-14) and EMO (post of
//! 2023-10-13), with their gradients with respect to the **logits**, plus the
//! calibration metrics used to judge what they buy (accuracy, NLL, Brier score,
//! expected calibration error, mean confidence).
//!
//! Notation: `z` the logits, `p = softmax(z)`, `t` the target class, `n` the
//! number of classes, `q = 1 − p_t`.
//!
//! | function | loss | gradient `∂L/∂z` |
//! | --- | --- | --- |
//! | [`cross_entropy_loss`] | `−ln p_t` | `p − onehot(t)` |
//! | [`tailr_loss`] | `−ln(γ + (1−γ)p_t)/(1−γ)` | `w·(p − onehot(t))`, `w = p_t/(γ+(1−γ)p_t)` |
//! | [`tailr_loss_thresholded`] | same value | `max(b, w)·(p − onehot(t))` (paper's form) |
//! | [`one_minus_pt_loss`] | `1 − p_t` | `p_t·(p − onehot(t))` |
//! | [`emo_loss`] | `1 − ⟨Σ_i p_i ê_i, ê_t⟩ = Σ_i p_i c_it` | `p_k (c_kt − L)` |
//! | [`emo_soft_label_bound`] | `Σ_ij p_i τ_j c_ij` | `p_k (c̄_k − L)` |
//! | [`emo_ce_loss`] | a [`Mixture`] of CE and EMO | the same mixture of the two |
//!
//! with `c_ij = 1 − cos(e_i, e_j)` and `ê = e/‖e‖` ([`UnitEmbeddings`]).
//!
//! ## Numerics
//! Every loss takes logits (never probabilities) as `f32` (the production
//! path) or `f64` (see [`Real`]; the finite-difference tests use `f64`) and
//! accumulates in `f64`. The log-sum-exp is streamed: one pass for the maximum
//! (which also rejects NaN/∞), one pass for `e^{z_i − max}` — no `n × n` work
//! and no allocation — so logits up to ±1e4 and `n` of 256k classes or more are
//! fine. `q = 1 − p_t` is summed from the other classes rather than computed as
//! `1 − p_t`, so the losses stay accurate when `p_t` is within 1e-16 of 1.
//! The gradient is written into a caller slice of length `n`, which doubles as
//! scratch space during the computation.
//!
//! Cost per evaluation: cross-entropy, TaiLr and `1 − p_t` cost one `exp` per
//! class; EMO costs two `exp` per class plus one `d`-dimensional dot product per
//! class (`O(n·d)`), computed in embedding space as the post recommends.
//!
//! ```
//! use kexue_core::loss::{cross_entropy_loss, tailr_loss};
//! let logits = [2.0_f32, 0.5, -1.0];
//! let mut grad = [0.0_f32; 3];
//! let ce = cross_entropy_loss(&logits, 0, &mut grad).unwrap();
//! let tailr0 = tailr_loss(&logits, 0, 0.0, &mut grad).unwrap();
//! assert!((ce - tailr0).abs() < 1e-12); // γ = 0 is cross-entropy
//! ```

use core::fmt;

use crate::math;

pub mod experiment;
#[cfg(feature = "std")]
pub mod sweep;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element type of logits, gradients and embeddings: `f32` (what models
/// produce; sums are still accumulated in `f64`) or `f64` (exact reference
/// path, used by the finite-difference tests). Sealed: only these two types.
pub trait Real:
    sealed::Sealed
    + Copy
    + PartialOrd
    + Default
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + 'static
    + core::ops::Mul<Output = Self>
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
{
    /// Zero.
    const ZERO: Self;
    /// Widen to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Round from `f64`.
    fn from_f64(x: f64) -> Self;
    /// Neither NaN nor ±∞.
    fn is_finite_value(self) -> bool;
    /// `e^{self − max}` in the type's own precision (`self ≤ max` in use, so
    /// the result is in `[0, 1]`).
    fn exp_minus(self, max: Self) -> Self;
    /// `Σ a_i b_i` over the common length, with several independent partial
    /// sums (vectorisable); `f32` inputs use 8 `f32` partial sums, which is
    /// accurate to about 1e-6 for the unit vectors of [`UnitEmbeddings`].
    fn dot(a: &[Self], b: &[Self]) -> f64;
    /// `Σ a_i b_i` with `b` in `f64` (accumulated in `f64`).
    fn dot_f64(a: &[Self], b: &[f64]) -> f64;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn is_finite_value(self) -> bool {
        self.is_finite()
    }
    #[inline]
    fn exp_minus(self, max: Self) -> Self {
        math::exp_f32(self - max)
    }
    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> f64 {
        let (ca, ra) = a.as_chunks::<8>();
        let (cb, rb) = b.as_chunks::<8>();
        let mut acc = [0.0_f32; 8];
        for (x, y) in ca.iter().zip(cb) {
            for ((s, &xi), &yi) in acc.iter_mut().zip(x).zip(y) {
                *s += xi * yi;
            }
        }
        let mut total: f64 = acc.iter().map(|&s| f64::from(s)).sum();
        if ca.len() == cb.len() {
            for (&xi, &yi) in ra.iter().zip(rb) {
                total += f64::from(xi) * f64::from(yi);
            }
        }
        total
    }
    #[inline]
    fn dot_f64(a: &[Self], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| f64::from(x) * y).sum()
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn is_finite_value(self) -> bool {
        self.is_finite()
    }
    #[inline]
    fn exp_minus(self, max: Self) -> Self {
        math::exp(self - max)
    }
    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> f64 {
        let (ca, ra) = a.as_chunks::<4>();
        let (cb, rb) = b.as_chunks::<4>();
        let mut acc = [0.0_f64; 4];
        for (x, y) in ca.iter().zip(cb) {
            for ((s, &xi), &yi) in acc.iter_mut().zip(x).zip(y) {
                *s += xi * yi;
            }
        }
        let mut total: f64 = acc.iter().sum();
        if ca.len() == cb.len() {
            for (&xi, &yi) in ra.iter().zip(rb) {
                total += xi * yi;
            }
        }
        total
    }
    #[inline]
    fn dot_f64(a: &[Self], b: &[f64]) -> f64 {
        Self::dot(a, b)
    }
}

/// Why a loss or metric could not be computed. Every function of this module
/// returns one of these instead of panicking or producing NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An input that must be non-empty is empty (no classes, zero embedding
    /// dimension, no reliability bins).
    Empty {
        /// Which input.
        what: &'static str,
    },
    /// Two lengths that must agree do not.
    LengthMismatch {
        /// Which input has the wrong length.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        actual: usize,
    },
    /// An input value is NaN or ±∞.
    NonFinite {
        /// Which input.
        what: &'static str,
        /// The index of the first bad value.
        index: usize,
    },
    /// The target class is not below the number of classes.
    TargetOutOfRange {
        /// The target given.
        target: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A scalar parameter is NaN or outside its documented range.
    ParameterOutOfRange {
        /// The parameter's name (`"gamma"`, `"floor"`, `"ce_weight"`, `"p_t"`).
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The embedding slice's length is not a multiple of the dimension.
    RaggedEmbedding {
        /// Length of the slice.
        len: usize,
        /// The embedding dimension.
        dim: usize,
    },
    /// An embedding row has zero norm, so its direction (and every cost
    /// involving it) is undefined.
    ZeroNormEmbedding {
        /// The row (class) index.
        row: usize,
    },
    /// [`UnitEmbeddings::from_unit_rows`] got a row whose norm is not 1
    /// (within [`UNIT_NORM_TOLERANCE`]).
    NotUnitNorm {
        /// The row (class) index.
        row: usize,
        /// Its norm.
        norm: f64,
    },
    /// A soft label has a negative entry.
    NegativeLabel {
        /// The index of the first negative entry.
        index: usize,
    },
    /// A soft label's entries do not sum to 1 (within [`LABEL_SUM_TOLERANCE`]).
    LabelSum {
        /// The sum found.
        sum: f64,
    },
    /// A metric summary was asked for before any sample was added.
    NoSamples,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty { what } => write!(f, "{what} is empty"),
            Self::LengthMismatch {
                what,
                expected,
                actual,
            } => write!(f, "{what} has length {actual}, expected {expected}"),
            Self::NonFinite { what, index } => {
                write!(f, "{what}[{index}] is not finite (NaN or infinite)")
            }
            Self::TargetOutOfRange { target, classes } => {
                write!(
                    f,
                    "target class {target} is out of range for {classes} classes"
                )
            }
            Self::ParameterOutOfRange { name, value } => {
                write!(f, "parameter {name} = {value} is outside its allowed range")
            }
            Self::RaggedEmbedding { len, dim } => write!(
                f,
                "embedding slice of length {len} is not a whole number of rows of dimension {dim}"
            ),
            Self::ZeroNormEmbedding { row } => write!(f, "embedding row {row} has zero norm"),
            Self::NotUnitNorm { row, norm } => {
                write!(f, "embedding row {row} has norm {norm}, expected 1")
            }
            Self::NegativeLabel { index } => write!(f, "soft label entry {index} is negative"),
            Self::LabelSum { sum } => write!(f, "soft label sums to {sum}, expected 1"),
            Self::NoSamples => write!(f, "no samples were added"),
        }
    }
}

impl core::error::Error for Error {}

/// How far from 1 a row norm may be for [`UnitEmbeddings::from_unit_rows`].
pub const UNIT_NORM_TOLERANCE: f64 = 1e-4;

/// How far from 1 the sum of a soft label may be for
/// [`emo_soft_label_bound`]; the label is then used renormalised.
pub const LABEL_SUM_TOLERANCE: f64 = 1e-3;

/// Floor on the EMO loss in the ratio `CE/EMO` of [`Mixture::Balanced`]
/// (the value of the EMO authors' reference code).
pub const BALANCED_EMO_FLOOR: f64 = 1e-10;

// ---------------------------------------------------------------------------
// Validation and the streamed softmax
// ---------------------------------------------------------------------------

/// Checks shared by every loss taking a target: non-empty logits, a gradient
/// slice of the same length, the target in range.
fn check_target<T>(logits: &[T], target: usize, grad_len: usize) -> Result<(), Error> {
    let n = logits.len();
    if n == 0 {
        return Err(Error::Empty { what: "logits" });
    }
    if grad_len != n {
        return Err(Error::LengthMismatch {
            what: "gradient",
            expected: n,
            actual: grad_len,
        });
    }
    if target >= n {
        return Err(Error::TargetOutOfRange { target, classes: n });
    }
    Ok(())
}

/// Pass 1: the maximum logit, rejecting NaN/∞. `logits` must be non-empty.
fn checked_max<T: Real>(logits: &[T]) -> Result<T, Error> {
    let mut max = match logits.first() {
        Some(&z) => z,
        None => return Err(Error::Empty { what: "logits" }),
    };
    for (index, &z) in logits.iter().enumerate() {
        if !z.is_finite_value() {
            return Err(Error::NonFinite {
                what: "logits",
                index,
            });
        }
        if z > max {
            max = z;
        }
    }
    Ok(max)
}

fn check_gamma(gamma: f64) -> Result<(), Error> {
    if (0.0..=1.0).contains(&gamma) {
        Ok(())
    } else {
        Err(Error::ParameterOutOfRange {
            name: "gamma",
            value: gamma,
        })
    }
}

/// The softmax of the logits as sums of `e_i = e^{z_i − max}`: enough for
/// `p_t`, `q = 1 − p_t` and `ln p_t` to full relative accuracy.
#[derive(Debug, Clone, Copy)]
struct SoftmaxSums {
    /// `z_t − max` in `f64`.
    target_shift: f64,
    /// `e_t`.
    target: f64,
    /// `Σ_{i≠t} e_i`.
    others: f64,
}

impl SoftmaxSums {
    /// `S = Σ_i e_i ≥ 1`.
    fn total(&self) -> f64 {
        self.target + self.others
    }
    /// `p_t`.
    fn pt(&self) -> f64 {
        self.target / self.total()
    }
    /// `q = 1 − p_t = Σ_{i≠t} p_i`, accurate even when `p_t ≈ 1`.
    fn q(&self) -> f64 {
        self.others / self.total()
    }
    /// `ln p_t`, accurate both when `p_t ≈ 1` and when `p_t` underflows.
    fn log_pt(&self) -> f64 {
        if self.target >= self.others {
            // p_t ≥ 1/2, e_t ≥ 1/2 > 0: −ln p_t = ln(1 + others/e_t).
            -math::ln_1p(self.others / self.target)
        } else {
            self.target_shift - math::ln(self.total())
        }
    }
}

/// Pass 2 for the CE family: writes `e_i = e^{z_i − max}` into `out` and sums
/// them in `f64` (the target separately). Lengths are checked by the caller.
fn exp_pass<T: Real>(logits: &[T], max: T, target: usize, out: &mut [T]) -> SoftmaxSums {
    let mut others = 0.0_f64;
    let mut e_target = 0.0_f64;
    let mut target_shift = 0.0_f64;
    for (i, (o, &z)) in out.iter_mut().zip(logits).enumerate() {
        let e = z.exp_minus(max);
        *o = e;
        if i == target {
            e_target = e.to_f64();
            target_shift = z.to_f64() - max.to_f64();
        } else {
            others += e.to_f64();
        }
    }
    SoftmaxSums {
        target_shift,
        target: e_target,
        others,
    }
}

/// Pass 3 for the CE family: `grad ← w·(p − onehot(t))` from `grad = e`.
fn finish_weighted_ce<T: Real>(grad: &mut [T], sums: &SoftmaxSums, target: usize, weight: f64) {
    let scale = T::from_f64(weight / sums.total());
    for g in grad.iter_mut() {
        *g = *g * scale;
    }
    if let Some(g) = grad.get_mut(target) {
        *g = T::from_f64(-weight * sums.q());
    }
}

/// The streamed softmax of the CE family: validation, pass 1 and pass 2.
fn softmax_sums<T: Real>(
    logits: &[T],
    target: usize,
    grad: &mut [T],
) -> Result<SoftmaxSums, Error> {
    check_target(logits, target, grad.len())?;
    let max = checked_max(logits)?;
    Ok(exp_pass(logits, max, target, grad))
}

// ---------------------------------------------------------------------------
// Cross-entropy, TaiLr, 1 − p_t
// ---------------------------------------------------------------------------

/// Cross-entropy `L = −ln p_t = logsumexp(z) − z_t`; writes
/// `∂L/∂z = p − onehot(t)` into `grad`.
///
/// Errors: empty logits, `grad.len() ≠ logits.len()`, target out of range,
/// NaN/∞ logits.
///
/// ```
/// use kexue_core::loss::cross_entropy_loss;
/// let mut g = [0.0_f64; 2];
/// let l = cross_entropy_loss(&[0.0, 0.0], 1, &mut g).unwrap();
/// assert!((l - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(g, [0.5, -0.5]);
/// assert!(cross_entropy_loss(&[f64::NAN, 0.0], 1, &mut g).is_err());
/// ```
pub fn cross_entropy_loss<T: Real>(
    logits: &[T],
    target: usize,
    grad: &mut [T],
) -> Result<f64, Error> {
    let sums = softmax_sums(logits, target, grad)?;
    finish_weighted_ce(grad, &sums, target, 1.0);
    Ok(-sums.log_pt())
}

/// TaiLr's loss and gradient weight from `ln p_t` and `q = 1 − p_t`:
/// `(L_γ, ln w)` with `L_γ = −ln(γ + (1−γ)p_t)/(1−γ)` and
/// `w = p_t/(γ + (1−γ)p_t)`; `γ = 1` gives the limit `(1 − p_t, ln p_t)`.
fn tailr_parts(log_pt: f64, q: f64, gamma: f64) -> (f64, f64) {
    let eps = 1.0 - gamma;
    if eps <= 0.0 {
        return (q, log_pt);
    }
    // ln(γ + ε p_t) = ln(1 − ε q): log1p form while ε q is away from 1 (this
    // also gives the γ → 1 limit smoothly), log-add-exp form otherwise (small
    // γ with tiny p_t, where 1 − ε q underflows).
    let x = eps * q;
    let ln_den = if x <= 0.5 {
        math::ln_1p(-x)
    } else {
        math::log_add_exp(math::ln(eps) + log_pt, math::ln(gamma))
    };
    (-ln_den / eps, log_pt - ln_den)
}

/// TaiLr (post of 2023-03-14, "Tailoring Language Generation Models under
/// Total Variation Distance"):
///
/// `L_γ = −ln(γ + (1 − γ) p_t) / (1 − γ)`, `γ ∈ [0, 1]`,
///
/// with `γ = 1` taken as its limit `1 − p_t`. `γ = 0` is cross-entropy. Writes
/// `∂L/∂z = w·(p − onehot(t))`, `w = p_t / (γ + (1 − γ) p_t)`, into `grad`:
/// cross-entropy's gradient scaled down for samples the model finds unlikely
/// (possibly mislabelled).
///
/// Errors: as [`cross_entropy_loss`], and `γ` NaN or outside `[0, 1]`.
///
/// ```
/// use kexue_core::loss::tailr_loss;
/// let logits = [1.0_f64, 0.0, -1.0];
/// let mut g = [0.0; 3];
/// let near_one = tailr_loss(&logits, 1, 1.0 - 1e-9, &mut g).unwrap();
/// let limit = tailr_loss(&logits, 1, 1.0, &mut g).unwrap(); // = 1 − p_t
/// assert!((near_one - limit).abs() < 1e-8);
/// assert!(tailr_loss(&logits, 1, 1.5, &mut g).is_err());
/// ```
pub fn tailr_loss<T: Real>(
    logits: &[T],
    target: usize,
    gamma: f64,
    grad: &mut [T],
) -> Result<f64, Error> {
    check_gamma(gamma)?;
    let sums = softmax_sums(logits, target, grad)?;
    let (loss, ln_w) = tailr_parts(sums.log_pt(), sums.q(), gamma);
    finish_weighted_ce(grad, &sums, target, math::exp(ln_w));
    Ok(loss)
}

/// TaiLr with the paper's thresholded gradient: the weight is floored,
/// `w' = max(b, w)`, and treated as a constant (stop-gradient), so `grad` gets
/// `max(b, w)·(p − onehot(t))`. The returned value is the TaiLr loss `L_γ` of
/// [`tailr_loss`] (the gradient is the paper's modified one, not the exact
/// gradient of that value unless `b ≤ w`). `b = 0` is plain TaiLr; `b = 1`
/// gives the cross-entropy gradient.
///
/// Errors: as [`tailr_loss`], and the floor `b` NaN or outside `[0, 1]`.
///
/// ```
/// use kexue_core::loss::{cross_entropy_loss, tailr_loss_thresholded};
/// let logits = [3.0_f32, 0.0, -2.0];
/// let (mut g1, mut g2) = ([0.0_f32; 3], [0.0_f32; 3]);
/// tailr_loss_thresholded(&logits, 2, 0.5, 1.0, &mut g1).unwrap();
/// cross_entropy_loss(&logits, 2, &mut g2).unwrap();
/// assert_eq!(g1, g2);
/// ```
pub fn tailr_loss_thresholded<T: Real>(
    logits: &[T],
    target: usize,
    gamma: f64,
    floor: f64,
    grad: &mut [T],
) -> Result<f64, Error> {
    check_gamma(gamma)?;
    if !(0.0..=1.0).contains(&floor) {
        return Err(Error::ParameterOutOfRange {
            name: "floor",
            value: floor,
        });
    }
    let sums = softmax_sums(logits, target, grad)?;
    let (loss, ln_w) = tailr_parts(sums.log_pt(), sums.q(), gamma);
    finish_weighted_ce(grad, &sums, target, math::exp(ln_w).max(floor));
    Ok(loss)
}

/// The "accuracy" loss `L = 1 − p_t` (EMO with the cost `c_ij = 1 − δ_ij`,
/// TaiLr's `γ → 1` limit); writes `∂L/∂z = p_t·(p − onehot(t))`. Bounded in
/// `[0, 1]`, so mislabelled samples cannot dominate — nor can anything else.
///
/// Errors: as [`cross_entropy_loss`].
///
/// ```
/// use kexue_core::loss::one_minus_pt_loss;
/// let mut g = [0.0_f64; 4];
/// let l = one_minus_pt_loss(&[0.0; 4], 0, &mut g).unwrap();
/// assert!((l - 0.75).abs() < 1e-15);
/// assert!((g[0] + 0.25 * 0.75).abs() < 1e-15 && (g[1] - 0.0625).abs() < 1e-15);
/// ```
pub fn one_minus_pt_loss<T: Real>(
    logits: &[T],
    target: usize,
    grad: &mut [T],
) -> Result<f64, Error> {
    let sums = softmax_sums(logits, target, grad)?;
    finish_weighted_ce(grad, &sums, target, sums.pt());
    Ok(sums.q())
}

/// TaiLr's loss and gradient weight as functions of `p_t` alone:
/// `(L_γ(p_t), w(p_t))` with `L_γ = −ln(γ + (1−γ)p_t)/(1−γ)` and
/// `w = p_t/(γ + (1−γ)p_t)` (post of 2023-03-14). For plotting: the gradient of
/// TaiLr with respect to the logits is `w` times cross-entropy's.
///
/// Errors: `p_t` NaN or outside `(0, 1]`, `γ` NaN or outside `[0, 1]`.
///
/// ```
/// use kexue_core::loss::tailr_of_probability;
/// let (l, w) = tailr_of_probability(0.25, 0.0).unwrap();
/// assert!((l - 4f64.ln()).abs() < 1e-15 && (w - 1.0).abs() < 1e-15); // CE
/// let (l, w) = tailr_of_probability(0.25, 1.0).unwrap();
/// assert!((l - 0.75).abs() < 1e-15 && (w - 0.25).abs() < 1e-15); // 1 − p_t
/// ```
pub fn tailr_of_probability(p_t: f64, gamma: f64) -> Result<(f64, f64), Error> {
    check_gamma(gamma)?;
    if !(p_t > 0.0 && p_t <= 1.0) {
        return Err(Error::ParameterOutOfRange {
            name: "p_t",
            value: p_t,
        });
    }
    let (loss, ln_w) = tailr_parts(math::ln(p_t), 1.0 - p_t, gamma);
    Ok((loss, math::exp(ln_w)))
}

// ---------------------------------------------------------------------------
// EMO
// ---------------------------------------------------------------------------

/// A frozen embedding matrix with unit-norm rows (`n × d`, row-major): the
/// `ê_i` of EMO's cost `c_ij = 1 − ⟨ê_i, ê_j⟩ = 1 − cos(e_i, e_j)`.
///
/// Built once (validated: no NaN/∞, no zero rows) so the loss's hot loop
/// cannot fail. The rows are borrowed, not copied: [`UnitEmbeddings::normalize`]
/// rescales a matrix the caller owns in place; [`UnitEmbeddings::from_unit_rows`]
/// accepts rows that are already unit vectors.
///
/// ```
/// use kexue_core::loss::UnitEmbeddings;
/// let mut rows = [3.0_f32, 4.0, 0.0, 2.0];
/// let emb = UnitEmbeddings::normalize(&mut rows, 2).unwrap();
/// assert_eq!((emb.classes(), emb.dim()), (2, 2));
/// assert_eq!(emb.row(0), Some(&[0.6_f32, 0.8][..]));
/// let mut zero = [0.0_f32, 0.0];
/// assert!(UnitEmbeddings::normalize(&mut zero, 2).is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct UnitEmbeddings<'a, T: Real> {
    rows: &'a [T],
    dim: usize,
    classes: usize,
}

/// `‖row‖` computed without overflow or underflow (scaled by the largest
/// magnitude); `Err(index)` if an entry is not finite.
fn robust_norm<T: Real>(row: &[T]) -> Result<f64, usize> {
    let mut scale = 0.0_f64;
    for (i, &x) in row.iter().enumerate() {
        if !x.is_finite_value() {
            return Err(i);
        }
        scale = scale.max(x.to_f64().abs());
    }
    if scale == 0.0 {
        return Ok(0.0);
    }
    let sum: f64 = row
        .iter()
        .map(|&x| {
            let y = x.to_f64() / scale;
            y * y
        })
        .sum();
    Ok(scale * math::sqrt(sum))
}

fn check_shape(len: usize, dim: usize) -> Result<usize, Error> {
    if dim == 0 {
        return Err(Error::Empty {
            what: "embedding dimension",
        });
    }
    if len == 0 {
        return Err(Error::Empty { what: "embeddings" });
    }
    if !len.is_multiple_of(dim) {
        return Err(Error::RaggedEmbedding { len, dim });
    }
    Ok(len / dim)
}

impl<'a, T: Real> UnitEmbeddings<'a, T> {
    /// Rescale every row of `rows` (`n × dim`, row-major) to unit norm in
    /// place and borrow the result.
    ///
    /// Errors: `dim = 0` or no rows ([`Error::Empty`]), a length that is not a
    /// multiple of `dim`, NaN/∞ entries ([`Error::NonFinite`] with the flat
    /// index), a zero row ([`Error::ZeroNormEmbedding`]). On error the rows
    /// before the bad one have already been rescaled.
    pub fn normalize(rows: &'a mut [T], dim: usize) -> Result<Self, Error> {
        let classes = check_shape(rows.len(), dim)?;
        for (r, row) in rows.chunks_exact_mut(dim).enumerate() {
            let norm = robust_norm(row).map_err(|i| Error::NonFinite {
                what: "embeddings",
                index: r * dim + i,
            })?;
            if norm == 0.0 {
                return Err(Error::ZeroNormEmbedding { row: r });
            }
            for x in row.iter_mut() {
                *x = T::from_f64(x.to_f64() / norm);
            }
        }
        Ok(Self { rows, dim, classes })
    }

    /// Borrow rows that are already unit vectors (checked: every norm within
    /// [`UNIT_NORM_TOLERANCE`] of 1).
    ///
    /// Errors: as [`UnitEmbeddings::normalize`], and [`Error::NotUnitNorm`].
    ///
    /// ```
    /// use kexue_core::loss::UnitEmbeddings;
    /// let rows = [1.0_f64, 0.0, 0.0, 1.0];
    /// assert!(UnitEmbeddings::from_unit_rows(&rows, 2).is_ok());
    /// assert!(UnitEmbeddings::from_unit_rows(&[2.0_f64, 0.0], 2).is_err());
    /// ```
    pub fn from_unit_rows(rows: &'a [T], dim: usize) -> Result<Self, Error> {
        let classes = check_shape(rows.len(), dim)?;
        for (r, row) in rows.chunks_exact(dim).enumerate() {
            let norm = robust_norm(row).map_err(|i| Error::NonFinite {
                what: "embeddings",
                index: r * dim + i,
            })?;
            if norm == 0.0 {
                return Err(Error::ZeroNormEmbedding { row: r });
            }
            if (norm - 1.0).abs() > UNIT_NORM_TOLERANCE {
                return Err(Error::NotUnitNorm { row: r, norm });
            }
        }
        Ok(Self { rows, dim, classes })
    }

    /// The number of rows (classes) `n`.
    #[must_use]
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The embedding dimension `d`.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The unit row `ê_i`, or `None` if `i ≥ n`.
    #[must_use]
    pub fn row(&self, i: usize) -> Option<&'a [T]> {
        self.rows.chunks_exact(self.dim).nth(i)
    }

    /// All rows, row-major.
    #[must_use]
    pub fn as_slice(&self) -> &'a [T] {
        self.rows
    }

    /// The cost `c_ij = 1 − cos(e_i, e_j)` (in `[0, 2]`), or `None` if an
    /// index is out of range.
    ///
    /// ```
    /// use kexue_core::loss::UnitEmbeddings;
    /// let rows = [1.0_f64, 0.0, -1.0, 0.0];
    /// let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
    /// assert_eq!(emb.cost(0, 1), Some(2.0));
    /// assert_eq!(emb.cost(0, 0), Some(0.0));
    /// ```
    #[must_use]
    pub fn cost(&self, i: usize, j: usize) -> Option<f64> {
        if i == j {
            return (i < self.classes).then_some(0.0);
        }
        Some(unit_cost(T::dot(self.row(i)?, self.row(j)?)))
    }
}

/// `1 − cos` clamped to `[0, 2]` (rounding can push a cosine of unit vectors
/// just past ±1).
#[inline]
fn unit_cost(cos: f64) -> f64 {
    (1.0 - cos).clamp(0.0, 2.0)
}

/// Fill `out` (`n × n`, row-major) with EMO's cost matrix
/// `c_ij = 1 − cos(e_i, e_j)`. This is `O(n²·d)`: for display and tests on
/// small `n` — the losses never form it.
///
/// Errors: `out.len() ≠ n²`.
///
/// ```
/// use kexue_core::loss::{UnitEmbeddings, cost_matrix};
/// let rows = [1.0_f64, 0.0, 0.0, 1.0];
/// let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
/// let mut c = [9.0; 4];
/// cost_matrix(&emb, &mut c).unwrap();
/// assert_eq!(c, [0.0, 1.0, 1.0, 0.0]);
/// ```
pub fn cost_matrix<T: Real>(emb: &UnitEmbeddings<'_, T>, out: &mut [f64]) -> Result<(), Error> {
    let n = emb.classes();
    let needed = n.checked_mul(n).ok_or(Error::LengthMismatch {
        what: "cost matrix",
        expected: usize::MAX,
        actual: out.len(),
    })?;
    if out.len() != needed {
        return Err(Error::LengthMismatch {
            what: "cost matrix",
            expected: needed,
            actual: out.len(),
        });
    }
    for (i, (out_row, ei)) in out
        .chunks_exact_mut(n)
        .zip(emb.rows.chunks_exact(emb.dim))
        .enumerate()
    {
        for (j, (c, ej)) in out_row
            .iter_mut()
            .zip(emb.rows.chunks_exact(emb.dim))
            .enumerate()
        {
            *c = if i == j {
                0.0
            } else {
                unit_cost(T::dot(ei, ej))
            };
        }
    }
    Ok(())
}

/// The expected embedding `Σ_i w_i ê_i` written into `out` (length `d`),
/// accumulated in `f64`: the `O(n·d)` product at the heart of EMO (with
/// `w = p`), and the mean label embedding of [`emo_soft_label_bound`] (with
/// `w = τ`).
///
/// Errors: `weights.len() ≠ n`, `out.len() ≠ d`, NaN/∞ weights.
///
/// ```
/// use kexue_core::loss::{UnitEmbeddings, expected_embedding};
/// let rows = [1.0_f32, 0.0, 0.0, 1.0];
/// let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
/// let mut v = [0.0; 2];
/// expected_embedding(&[0.25_f32, 0.75], &emb, &mut v).unwrap();
/// assert_eq!(v, [0.25, 0.75]);
/// ```
pub fn expected_embedding<T: Real>(
    weights: &[T],
    emb: &UnitEmbeddings<'_, T>,
    out: &mut [f64],
) -> Result<(), Error> {
    if weights.len() != emb.classes() {
        return Err(Error::LengthMismatch {
            what: "weights",
            expected: emb.classes(),
            actual: weights.len(),
        });
    }
    if out.len() != emb.dim() {
        return Err(Error::LengthMismatch {
            what: "output vector",
            expected: emb.dim(),
            actual: out.len(),
        });
    }
    if let Some(index) = weights.iter().position(|w| !w.is_finite_value()) {
        return Err(Error::NonFinite {
            what: "weights",
            index,
        });
    }
    out.fill(0.0);
    for (&w, row) in weights.iter().zip(emb.rows.chunks_exact(emb.dim)) {
        let w = w.to_f64();
        for (o, &x) in out.iter_mut().zip(row) {
            *o += w * x.to_f64();
        }
    }
    Ok(())
}

/// Sums of EMO's pass 2: the softmax sums plus `Σ_{i≠t} e_i c_i`.
#[derive(Debug, Clone, Copy)]
struct CostSums {
    softmax: SoftmaxSums,
    /// `Σ_i e_i c_i`.
    weighted_cost: f64,
}

impl CostSums {
    /// `L = Σ_i p_i c_i`.
    fn expected_cost(&self) -> f64 {
        self.weighted_cost / self.softmax.total()
    }
}

/// EMO's pass 2: `e_i` summed, `c_i = cost(row_i)` written into `out`
/// (`c_t = 0` exactly when `exact_target_zero`), `Σ e_i c_i` summed.
fn cost_pass<T: Real>(
    logits: &[T],
    max: T,
    target: usize,
    emb: &UnitEmbeddings<'_, T>,
    out: &mut [T],
    exact_target_zero: bool,
    mut cost: impl FnMut(&[T]) -> f64,
) -> CostSums {
    let mut others = 0.0_f64;
    let mut e_target = 0.0_f64;
    let mut target_shift = 0.0_f64;
    let mut weighted_cost = 0.0_f64;
    for (i, ((o, &z), row)) in out
        .iter_mut()
        .zip(logits)
        .zip(emb.rows.chunks_exact(emb.dim))
        .enumerate()
    {
        let e = z.exp_minus(max).to_f64();
        let c = if exact_target_zero && i == target {
            0.0
        } else {
            cost(row)
        };
        *o = T::from_f64(c);
        weighted_cost += e * c;
        if i == target {
            e_target = e;
            target_shift = z.to_f64() - max.to_f64();
        } else {
            others += e;
        }
    }
    CostSums {
        softmax: SoftmaxSums {
            target_shift,
            target: e_target,
            others,
        },
        weighted_cost,
    }
}

/// EMO's pass 3 mixed with cross-entropy: from `grad = c`, writes
/// `a·(p − onehot(t)) + b·p∘(c − L)` (recomputing `p`, so no second buffer is
/// needed); `target = None` omits the one-hot term (`a` must then be 0).
fn finish_cost<T: Real>(
    logits: &[T],
    max: T,
    grad: &mut [T],
    sums: &CostSums,
    target: Option<usize>,
    ce_weight: f64,
    cost_weight: f64,
) {
    let inv_total = 1.0 / sums.softmax.total();
    let loss = sums.expected_cost();
    for (g, &z) in grad.iter_mut().zip(logits) {
        let p = z.exp_minus(max).to_f64() * inv_total;
        *g = T::from_f64(p * (ce_weight + cost_weight * (g.to_f64() - loss)));
    }
    if let Some(t) = target
        && let Some(g) = grad.get_mut(t)
    {
        // c_t = 0: a(p_t − 1) − b p_t L, with 1 − p_t = q to full accuracy.
        *g = T::from_f64(-ce_weight * sums.softmax.q() - cost_weight * sums.softmax.pt() * loss);
    }
}

fn check_embeddings<T: Real>(emb: &UnitEmbeddings<'_, T>, n: usize) -> Result<(), Error> {
    if emb.classes() == n {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what: "embeddings (rows)",
            expected: n,
            actual: emb.classes(),
        })
    }
}

/// EMO, Earth Mover distance Optimisation (post of 2023-10-13): the optimal
/// transport cost from the prediction `p` to the one-hot label, which for a
/// one-hot label is
///
/// `L = Σ_i p_i c_it = 1 − ⟨Σ_i p_i ê_i, ê_t⟩`, `c_it = 1 − cos(e_i, e_t)`,
///
/// with the frozen embeddings `emb`. Computed in embedding space, `O(n·d)`;
/// the `n × n` cost matrix is never formed. Writes
/// `∂L/∂z_k = p_k (c_kt − L)` into `grad`. `L ∈ [0, 2]`: bounded even for a
/// confidently wrong prediction, and near-miss classes (similar embeddings)
/// cost less than far ones.
///
/// Errors: as [`cross_entropy_loss`], and `emb.classes() ≠ logits.len()`.
///
/// ```
/// use kexue_core::loss::{UnitEmbeddings, emo_loss};
/// // Three classes on a line of angles: 0°, 60°, 180°.
/// let rows = [1.0_f64, 0.0, 0.5, 0.75_f64.sqrt(), -1.0, 0.0];
/// let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
/// let mut g = [0.0; 3];
/// let near = emo_loss(&[0.0, 10.0, 0.0], 0, &emb, &mut g).unwrap();
/// let far = emo_loss(&[0.0, 0.0, 10.0], 0, &emb, &mut g).unwrap();
/// assert!(near < far); // predicting the 60° class is a near miss
/// ```
pub fn emo_loss<T: Real>(
    logits: &[T],
    target: usize,
    emb: &UnitEmbeddings<'_, T>,
    grad: &mut [T],
) -> Result<f64, Error> {
    emo_mixture(logits, target, emb, grad, Mixture::Fixed { ce_weight: 0.0 })
}

/// How [`emo_ce_loss`] mixes cross-entropy into EMO, which alone learns slowly
/// from scratch (its loss and gradient stay bounded for wrong predictions;
/// post of 2023-10-13).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mixture {
    /// `L = λ·CE + (1 − λ)·EMO`, `λ ∈ [0, 1]`.
    Fixed {
        /// `λ`, the weight of cross-entropy.
        ce_weight: f64,
    },
    /// `L = ½·(CE + sg[CE / EMO]·EMO)`: the form of the EMO authors' reference
    /// code, where `sg` (stop-gradient) makes the ratio a constant so that EMO's
    /// gradient is rescaled to cross-entropy's size. The value equals CE; the
    /// gradient is `½(∇CE + (CE/EMO)·∇EMO)`. EMO is floored at
    /// [`BALANCED_EMO_FLOOR`] in the ratio.
    Balanced,
}

/// EMO mixed with cross-entropy (see [`Mixture`]): returns the mixed loss and
/// writes its gradient (the same mixture of the two gradients) into `grad`,
/// in the same three passes as [`emo_loss`].
///
/// Errors: as [`emo_loss`], and `λ` NaN or outside `[0, 1]`.
///
/// ```
/// use kexue_core::loss::{Mixture, UnitEmbeddings, cross_entropy_loss, emo_ce_loss};
/// let rows = [1.0_f32, 0.0, 0.0, 1.0, -1.0, 0.0];
/// let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
/// let logits = [0.3_f32, -0.2, 1.0];
/// let (mut g, mut g_ce) = ([0.0_f32; 3], [0.0_f32; 3]);
/// let mixed = emo_ce_loss(&logits, 1, &emb, Mixture::Fixed { ce_weight: 1.0 }, &mut g).unwrap();
/// let ce = cross_entropy_loss(&logits, 1, &mut g_ce).unwrap();
/// assert!((mixed - ce).abs() < 1e-6);
/// ```
pub fn emo_ce_loss<T: Real>(
    logits: &[T],
    target: usize,
    emb: &UnitEmbeddings<'_, T>,
    mixture: Mixture,
    grad: &mut [T],
) -> Result<f64, Error> {
    if let Mixture::Fixed { ce_weight } = mixture
        && !(0.0..=1.0).contains(&ce_weight)
    {
        return Err(Error::ParameterOutOfRange {
            name: "ce_weight",
            value: ce_weight,
        });
    }
    emo_mixture(logits, target, emb, grad, mixture)
}

fn emo_mixture<T: Real>(
    logits: &[T],
    target: usize,
    emb: &UnitEmbeddings<'_, T>,
    grad: &mut [T],
    mixture: Mixture,
) -> Result<f64, Error> {
    check_target(logits, target, grad.len())?;
    check_embeddings(emb, logits.len())?;
    let max = checked_max(logits)?;
    let e_t = emb.row(target).ok_or(Error::TargetOutOfRange {
        target,
        classes: emb.classes(),
    })?;
    let sums = cost_pass(logits, max, target, emb, grad, true, |row| {
        unit_cost(T::dot(row, e_t))
    });
    let emo = sums.expected_cost();
    let ce = -sums.softmax.log_pt();
    let (ce_weight, cost_weight, value) = match mixture {
        Mixture::Fixed { ce_weight } => {
            let value = if ce_weight == 0.0 {
                emo
            } else {
                ce_weight * ce + (1.0 - ce_weight) * emo
            };
            (ce_weight, 1.0 - ce_weight, value)
        }
        Mixture::Balanced => {
            let ratio = ce / emo.max(BALANCED_EMO_FLOOR);
            (0.5, 0.5 * ratio, 0.5 * (ce + ratio * emo))
        }
    };
    finish_cost(
        logits,
        max,
        grad,
        &sums,
        Some(target),
        ce_weight,
        cost_weight,
    );
    Ok(value)
}

/// EMO with a soft label `τ` (a distribution over classes): the cheap upper
/// bound on the transport cost given by the product plan `p τᵀ`,
///
/// `L = Σ_ij p_i τ_j c_ij = 1 − ⟨Σ_i p_i ê_i, Σ_j τ_j ê_j⟩`,
///
/// computed without the `n × n` cost matrix: the mean label embedding
/// `ū = Σ_j τ_j ê_j` goes into `mean_label` (length `d`, `f64`), then
/// `c̄_i = 1 − ⟨ê_i, ū⟩` and `∂L/∂z_k = p_k (c̄_k − L)` (into `grad`). With a
/// one-hot label this is [`emo_loss`]. `τ` is used renormalised to sum 1.
///
/// Errors: empty logits, length mismatches (`grad`, `label`, embeddings,
/// `mean_label`), NaN/∞ logits or label entries, a negative label entry, a
/// label sum further than [`LABEL_SUM_TOLERANCE`] from 1.
///
/// ```
/// use kexue_core::loss::{UnitEmbeddings, emo_loss, emo_soft_label_bound};
/// let rows = [1.0_f64, 0.0, 0.0, 1.0, -1.0, 0.0];
/// let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
/// let logits = [0.5, 1.5, -1.0];
/// let (mut g, mut u) = ([0.0; 3], [0.0; 2]);
/// let soft = emo_soft_label_bound(&logits, &[0.0, 1.0, 0.0], &emb, &mut u, &mut g).unwrap();
/// let hard = emo_loss(&logits, 1, &emb, &mut g).unwrap();
/// assert!((soft - hard).abs() < 1e-12);
/// ```
pub fn emo_soft_label_bound<T: Real>(
    logits: &[T],
    label: &[T],
    emb: &UnitEmbeddings<'_, T>,
    mean_label: &mut [f64],
    grad: &mut [T],
) -> Result<f64, Error> {
    let n = logits.len();
    if n == 0 {
        return Err(Error::Empty { what: "logits" });
    }
    for (what, len) in [("gradient", grad.len()), ("label", label.len())] {
        if len != n {
            return Err(Error::LengthMismatch {
                what,
                expected: n,
                actual: len,
            });
        }
    }
    check_embeddings(emb, n)?;
    let mut sum = 0.0_f64;
    for (index, &tau) in label.iter().enumerate() {
        if !tau.is_finite_value() {
            return Err(Error::NonFinite {
                what: "label",
                index,
            });
        }
        if tau < T::ZERO {
            return Err(Error::NegativeLabel { index });
        }
        sum += tau.to_f64();
    }
    let sums_to_one = (sum - 1.0).abs() <= LABEL_SUM_TOLERANCE;
    if !sums_to_one {
        return Err(Error::LabelSum { sum });
    }
    let max = checked_max(logits)?;
    expected_embedding(label, emb, mean_label)?;
    for u in mean_label.iter_mut() {
        *u /= sum;
    }
    let mean_label: &[f64] = mean_label;
    let sums = cost_pass(logits, max, 0, emb, grad, false, |row| {
        unit_cost(T::dot_f64(row, mean_label))
    });
    finish_cost(logits, max, grad, &sums, None, 0.0, 1.0);
    Ok(sums.expected_cost())
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// One equal-width confidence bin of a reliability diagram: how many
/// predictions fell in it, their summed confidence, how many were right.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReliabilityBin {
    /// Predictions whose confidence fell in this bin.
    pub count: u64,
    /// Sum of their confidences (max probability).
    pub confidence_sum: f64,
    /// How many of them were correct.
    pub correct: u64,
}

impl ReliabilityBin {
    /// Mean confidence in the bin, `None` if empty.
    ///
    /// ```
    /// use kexue_core::loss::ReliabilityBin;
    /// let b = ReliabilityBin { count: 2, confidence_sum: 1.5, correct: 1 };
    /// assert_eq!((b.mean_confidence(), b.accuracy()), (Some(0.75), Some(0.5)));
    /// assert_eq!(ReliabilityBin::default().accuracy(), None);
    /// ```
    #[must_use]
    pub fn mean_confidence(&self) -> Option<f64> {
        (self.count > 0).then(|| self.confidence_sum / self.count as f64)
    }

    /// Fraction correct in the bin, `None` if empty.
    #[must_use]
    pub fn accuracy(&self) -> Option<f64> {
        (self.count > 0).then(|| self.correct as f64 / self.count as f64)
    }
}

/// Expected calibration error over equal-width bins:
/// `ECE = Σ_b (n_b / N)·|acc_b − conf_b|`. `None` if the bins are empty.
///
/// ```
/// use kexue_core::loss::{ReliabilityBin, expected_calibration_error};
/// let bins = [
///     ReliabilityBin { count: 1, confidence_sum: 0.4, correct: 1 },  // |1 − 0.4| = 0.6
///     ReliabilityBin { count: 3, confidence_sum: 2.7, correct: 3 },  // |1 − 0.9| = 0.1
/// ];
/// let ece = expected_calibration_error(&bins).unwrap();
/// assert!((ece - (0.6 + 3.0 * 0.1) / 4.0).abs() < 1e-12);
/// ```
#[must_use]
pub fn expected_calibration_error(bins: &[ReliabilityBin]) -> Option<f64> {
    let total: u64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let weighted: f64 = bins
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (b.correct as f64 - b.confidence_sum).abs())
        .sum::<f64>()
        / total as f64;
    Some(weighted)
}

/// Calibration metrics of a set of predictions on labelled data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Fraction whose arg-max class (first one on ties) is the label.
    pub accuracy: f64,
    /// Mean negative log-likelihood `−ln p_t`.
    pub nll: f64,
    /// Mean Brier score `Σ_i (p_i − onehot(t)_i)²` (in `[0, 2]`).
    pub brier: f64,
    /// Expected calibration error over the bins given to [`Metrics::new`].
    pub ece: f64,
    /// Mean confidence `max_i p_i`.
    pub mean_confidence: f64,
}

impl Summary {
    /// Over-confidence: mean confidence minus accuracy (negative when the
    /// model is under-confident).
    #[must_use]
    pub fn confidence_gap(&self) -> f64 {
        self.mean_confidence - self.accuracy
    }
}

/// A streaming accumulator of [`Summary`] metrics over samples, with a
/// caller-owned reliability diagram (equal-width bins over confidence in
/// `[0, 1]`; the number of bins is the length of the slice).
///
/// ```
/// use kexue_core::loss::{Metrics, ReliabilityBin};
/// let mut bins = [ReliabilityBin::default(); 10];
/// let mut m = Metrics::new(&mut bins).unwrap();
/// m.add(&[2.0_f32, 0.0], 0).unwrap(); // right, p ≈ 0.88
/// m.add(&[0.0_f32, 0.0], 1).unwrap(); // a tie is decided for class 0: wrong
/// let s = m.summary().unwrap();
/// assert_eq!(s.accuracy, 0.5);
/// assert!((s.mean_confidence - (0.5 + 1.0 / (1.0 + (-2f64).exp())) / 2.0).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct Metrics<'a> {
    bins: &'a mut [ReliabilityBin],
    count: u64,
    correct: u64,
    nll: f64,
    brier: f64,
    confidence: f64,
}

impl<'a> Metrics<'a> {
    /// Start with empty `bins` (cleared here).
    ///
    /// Errors: no bins.
    pub fn new(bins: &'a mut [ReliabilityBin]) -> Result<Self, Error> {
        if bins.is_empty() {
            return Err(Error::Empty {
                what: "reliability bins",
            });
        }
        bins.fill(ReliabilityBin::default());
        Ok(Self {
            bins,
            count: 0,
            correct: 0,
            nll: 0.0,
            brier: 0.0,
            confidence: 0.0,
        })
    }

    /// Add one prediction (as logits) with its label; two streamed passes, no
    /// buffer.
    ///
    /// Errors: empty logits, target out of range, NaN/∞ logits.
    pub fn add<T: Real>(&mut self, logits: &[T], target: usize) -> Result<(), Error> {
        let n = logits.len();
        if n == 0 {
            return Err(Error::Empty { what: "logits" });
        }
        if target >= n {
            return Err(Error::TargetOutOfRange { target, classes: n });
        }
        let max = checked_max(logits)?;
        let mut others = 0.0_f64;
        let mut others_sq = 0.0_f64;
        let mut e_target = 0.0_f64;
        let mut target_shift = 0.0_f64;
        let mut argmax = None;
        for (i, &z) in logits.iter().enumerate() {
            let e = z.exp_minus(max).to_f64();
            if argmax.is_none() && z == max {
                argmax = Some(i);
            }
            if i == target {
                e_target = e;
                target_shift = z.to_f64() - max.to_f64();
            } else {
                others += e;
                others_sq += e * e;
            }
        }
        let sums = SoftmaxSums {
            target_shift,
            target: e_target,
            others,
        };
        let total = sums.total();
        // The arg-max term is e = 1, so the confidence is 1/S.
        let confidence = 1.0 / total;
        let q = sums.q();
        let correct = argmax == Some(target);
        self.count += 1;
        self.correct += u64::from(correct);
        self.nll += -sums.log_pt();
        self.brier += q * q + others_sq / (total * total);
        self.confidence += confidence;
        let nbins = self.bins.len();
        // confidence ∈ (0, 1]; the cast saturates and the index is clamped.
        let index = ((confidence * nbins as f64) as usize).min(nbins - 1);
        if let Some(bin) = self.bins.get_mut(index) {
            bin.count += 1;
            bin.confidence_sum += confidence;
            bin.correct += u64::from(correct);
        }
        Ok(())
    }

    /// The metrics so far.
    ///
    /// Errors: [`Error::NoSamples`] before the first [`Metrics::add`].
    pub fn summary(&self) -> Result<Summary, Error> {
        if self.count == 0 {
            return Err(Error::NoSamples);
        }
        let n = self.count as f64;
        let accuracy = self.correct as f64 / n;
        Ok(Summary {
            count: self.count,
            accuracy,
            nll: self.nll / n,
            brier: self.brier / n,
            ece: expected_calibration_error(self.bins).unwrap_or(0.0),
            mean_confidence: self.confidence / n,
        })
    }

    /// The reliability diagram so far.
    #[must_use]
    pub fn bins(&self) -> &[ReliabilityBin] {
        self.bins
    }
}

#[cfg(test)]
mod tests;
