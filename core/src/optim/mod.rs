//! # Optimisers: Tiger, Lion, AdamW, SGD with momentum, LAMB
//!
//! Post of 2023-03-07 (Tiger, the "tight-fisted" optimiser) and its reference
//! code, github `bojone/tiger`, `tiger.py`. Tiger is Lion with β1 = β2 = β:
//!
//! ```text
//! m_t = β m_{t−1} + (1 − β) g_t
//! θ_t = θ_{t−1} − η_t [ sign(m_t) + λ θ_{t−1} ]
//! ```
//!
//! with one state float per parameter, also under gradient accumulation, a
//! NaN guard, and a learning rate that is relative to the tensor's RMS.
//!
//! ## Shape of the module
//!
//! * [`Optimizer`] is the one trait. An optimiser supplies only
//!   hoisted scalars ([`Optimizer::step`] per micro-step, [`Optimizer::local`]
//!   per tensor or row) and its **per-element rule** ([`Optimizer::element`]);
//!   the generic kernel behind [`Optimizer::step_tensor`] owns every loop:
//!   length checks, the gradient's NaN status, RMS scaling, LAMB's trust-ratio
//!   pass, storage conversion (f32 or fp16), the sum of squares for the next
//!   step and the finiteness check of what it wrote.
//! * The caller owns parameters, gradients and state, as flat slices; state is
//!   planar (AdamW: all `m`, then all `v`), its length is `n × STATE_FLOATS`. [`Optimizer::STATE_FLOATS`] and
//!   [`Optimizer::STATE_FLOATS_ACCUMULATING`] make memory a visible fact.
//! * [`train()`] is the one generic training driver (micro-steps, accumulation,
//!   NaN injection, fp16 storage); [`tasks`] holds the 2-D test functions and
//!   the small-network task.
//!
//! | optimiser | state floats | with accumulation (k > 1) |
//! | --- | --- | --- |
//! | [`Tiger`] (and [`TigerBlend`]) | 1 | 1 (accumulates into `m`) |
//! | [`Sgdm`] | 1 | 1 (accumulates into the momentum buffer, like Tiger) |
//! | [`Lion`] | 1 | 2 (`m` + a gradient buffer) |
//! | [`AdamW`] | 2 | 3 (`m`, `v` + a gradient buffer) |
//! | [`Lamb`] | 2 | 3 (`m`, `v` + a gradient buffer) |
//!
//! ## NaN and infinities
//!
//! A gradient's finiteness is known before the update starts ([`Gradient`]).
//! Tiger applies its guard (keep `m`, shrink θ towards its centre); every other
//! optimiser returns [`Error::NonFiniteGradient`] and leaves θ and state
//! untouched. Non-finite values in θ or the state (given by the caller, or
//! produced by overflow) are found in the same pass that writes them and give
//! [`Error::NonFiniteResult`]; no step returns `Ok` with a NaN written.

pub mod adamw;
pub mod fp16;
mod kernel;
pub mod lamb;
pub mod lion;
pub mod schedule;
pub mod sgdm;
mod sqrt;
pub mod tasks;
pub mod tiger;
pub mod train;

#[cfg(feature = "std")]
pub mod experiments;

pub use adamw::{AdamW, AdamWConfig};
pub use lamb::{Lamb, LambConfig};
pub use lion::{Lion, LionConfig};
pub use schedule::Schedule;
pub use sgdm::{Sgdm, SgdmConfig};
pub use tiger::{Tiger, TigerBlend, TigerConfig};
pub use train::{NanInjection, NanPolicy, RunSummary, TrainConfig, train};

/// Errors of the optimisers, the training driver and the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A slice has the wrong length.
    LengthMismatch {
        /// Which slice.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        actual: usize,
    },
    /// A hyperparameter is out of range or not finite.
    InvalidHyperparameter {
        /// Its name.
        name: &'static str,
    },
    /// A schedule has duplicate keys, non-finite values or no points.
    InvalidSchedule,
    /// An embedding's row length is zero or does not divide the tensor length.
    InvalidShape {
        /// The tensor length.
        len: usize,
        /// The row length.
        row_len: usize,
    },
    /// A fixed capacity is too small.
    CapacityExceeded {
        /// What ran out.
        what: &'static str,
        /// How much is needed.
        needed: usize,
        /// How much there is.
        capacity: usize,
    },
    /// The gradient has a NaN or ±∞ and this optimiser has no guard: nothing
    /// was modified (the step is skipped).
    NonFiniteGradient,
    /// θ or the state held a NaN or ±∞ after the update (the caller passed
    /// non-finite θ or state, or a value overflowed; in fp16 storage above
    /// 65504). The tensor was written.
    NonFiniteResult,
    /// The small network reported an error.
    Network(crate::nn::Error),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::LengthMismatch {
                what,
                expected,
                actual,
            } => write!(f, "{what} has length {actual}, expected {expected}"),
            Self::InvalidHyperparameter { name } => {
                write!(f, "hyperparameter {name} is out of range or not finite")
            }
            Self::InvalidSchedule => {
                f.write_str("schedule needs 1..=8 points with distinct keys and finite values")
            }
            Self::InvalidShape { len, row_len } => write!(
                f,
                "embedding row length {row_len} does not divide tensor length {len}"
            ),
            Self::CapacityExceeded {
                what,
                needed,
                capacity,
            } => write!(f, "{what}: need {needed}, capacity is {capacity}"),
            Self::NonFiniteGradient => {
                f.write_str("gradient has NaN or infinity; step skipped (no guard)")
            }
            Self::NonFiniteResult => f.write_str("parameters or state became NaN or infinite"),
            Self::Network(e) => write!(f, "network: {e}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<crate::nn::Error> for Error {
    fn from(e: crate::nn::Error) -> Self {
        Self::Network(e)
    }
}

/// How a tensor is treated, as `tiger.py` does by variable name.
///
/// With `α_t` the scheduled learning rate:
///
/// | kind | Tiger's η | weight decay | NaN-shrink centre |
/// | --- | --- | --- | --- |
/// | `Matrix` | `α_t · RMS(θ)` over the tensor | λ | 0 |
/// | `Embedding` | `α_t · RMS(row)` per row | λ | 0 |
/// | `Bias` (also LayerNorm beta) | `0.5 α_t` | 0 | 0 |
/// | `Gamma` (LayerNorm gamma) | `0.5 α_t` | 0 | 1 |
/// | `Plain` (not in the reference) | `α_t` | λ | 0 |
///
/// The other optimisers use `η = α_t` for every kind and decay only `Matrix`,
/// `Embedding` and `Plain`.
///
/// ```
/// use kexue_core::optim::ParamKind;
/// assert!(ParamKind::Matrix.decays() && !ParamKind::Gamma.decays());
/// assert_eq!(ParamKind::Gamma.centre(), 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A weight matrix (any tensor the reference does not match by name).
    Matrix,
    /// An embedding table, rows of `row_len` (the reference's last axis).
    Embedding {
        /// Length of one row.
        row_len: usize,
    },
    /// A bias or LayerNorm beta.
    Bias,
    /// A LayerNorm gamma (initialised at 1).
    Gamma,
    /// An absolute learning rate with decay: what Lion/AdamW do everywhere;
    /// used for the 2-D test functions.
    Plain,
}

impl ParamKind {
    /// Whether weight decay applies.
    #[must_use]
    pub fn decays(self) -> bool {
        matches!(self, Self::Matrix | Self::Embedding { .. } | Self::Plain)
    }

    /// The centre `c` of Tiger's NaN shrink `θ ← (θ − c)·s + c`.
    #[must_use]
    pub fn centre(self) -> f32 {
        if matches!(self, Self::Gamma) {
            1.0
        } else {
            0.0
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for [f32; 1] {}
    impl Sealed for [f32; 2] {}
}

/// How parameters and state are stored: `f32`, or IEEE binary16
/// ([`half::f16`], see [`fp16`]). Arithmetic is always `f32`.
pub trait Storage: Copy + PartialEq + Send + Sync + core::fmt::Debug + sealed::Sealed {
    /// Zero.
    const ZERO: Self;
    /// Bytes per value.
    const BYTES: usize;
    /// A short name (`f32`, `f16`).
    const NAME: &'static str;
    /// Widen to `f32` (exact).
    fn load(self) -> f32;
    /// Round from `f32` (round to nearest even; overflow gives ±∞).
    fn store(x: f32) -> Self;
}

impl Storage for f32 {
    const ZERO: Self = 0.0;
    const BYTES: usize = 4;
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn load(self) -> f32 {
        self
    }
    #[inline(always)]
    fn store(x: f32) -> Self {
        x
    }
}

/// The per-parameter state of an optimiser while computing: `[f32; N]`,
/// `N` = 1 or 2 state floats. In memory the state is **planar** (slot-major):
/// a flat slice of `N·n` values, slot 0 of every parameter, then slot 1 (like
/// PyTorch's separate `exp_avg` and `exp_avg_sq` tensors), so every slot is a
/// contiguous stream and element loops vectorise.
pub trait Slots: Copy + sealed::Sealed {
    /// Number of state floats per parameter.
    const LEN: usize;
    /// From the values of slot 0 and slot 1 (ignored when `LEN` = 1).
    fn from_pair(a: f32, b: f32) -> Self;
    /// To the values of slot 0 and slot 1 (0 when `LEN` = 1).
    fn to_pair(self) -> (f32, f32);
}

impl Slots for [f32; 1] {
    const LEN: usize = 1;
    #[inline(always)]
    fn from_pair(a: f32, _b: f32) -> Self {
        [a]
    }
    #[inline(always)]
    fn to_pair(self) -> (f32, f32) {
        let [a] = self;
        (a, 0.0)
    }
}

impl Slots for [f32; 2] {
    const LEN: usize = 2;
    #[inline(always)]
    fn from_pair(a: f32, b: f32) -> Self {
        [a, b]
    }
    #[inline(always)]
    fn to_pair(self) -> (f32, f32) {
        let [a, b] = self;
        (a, b)
    }
}

/// The position of one micro-step: the global micro-step counter `t`
/// (0-based, the reference's `iterations`) and the accumulation length `k`
/// (the reference's `grad_accum_steps`). A cycle is `k` micro-steps; the
/// parameters move on its last one.
///
/// ```
/// use kexue_core::optim::StepInfo;
/// let s = StepInfo::new(5, 3).unwrap();
/// assert!(s.is_last() && !s.is_first());
/// assert_eq!(s.update_index(), 1);
/// assert!(StepInfo::new(0, 0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepInfo {
    micro_step: u64,
    accum: u32,
}

impl StepInfo {
    /// Micro-step `micro_step` of cycles of `accum ≥ 1` micro-steps.
    pub fn new(micro_step: u64, accum: u32) -> Result<Self, Error> {
        if accum == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "accumulation steps",
            });
        }
        Ok(Self { micro_step, accum })
    }

    /// Step `step` without accumulation (`k = 1`).
    #[must_use]
    pub fn single(step: u64) -> Self {
        Self {
            micro_step: step,
            accum: 1,
        }
    }

    /// The micro-step counter `t`.
    #[must_use]
    pub fn micro_step(self) -> u64 {
        self.micro_step
    }

    /// The accumulation length `k`.
    #[must_use]
    pub fn accum(self) -> u32 {
        self.accum
    }

    /// `t mod k = 0`: the first micro-step of a cycle.
    #[must_use]
    pub fn is_first(self) -> bool {
        self.micro_step.is_multiple_of(u64::from(self.accum))
    }

    /// `(t + 1) mod k = 0`: the micro-step on which parameters move.
    #[must_use]
    pub fn is_last(self) -> bool {
        self.micro_step % u64::from(self.accum) == u64::from(self.accum) - 1
    }

    /// The 0-based index of the cycle, `⌊t / k⌋`.
    #[must_use]
    pub fn update_index(self) -> u64 {
        self.micro_step / u64::from(self.accum)
    }
}

/// A gradient and whether it holds a NaN or ±∞ (the reference checks
/// `reduce_any(is_nan(grad))` per tensor before its update).
///
/// ```
/// use kexue_core::optim::Gradient;
/// assert!(Gradient::new(&[1.0, 2.0]).is_finite());
/// assert!(!Gradient::new(&[1.0, f32::NAN]).is_finite());
/// assert!(!Gradient::new(&[f32::INFINITY]).is_finite());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Gradient<'a> {
    values: &'a [f32],
    non_finite: bool,
}

impl<'a> Gradient<'a> {
    /// Scan `values` once for NaN/±∞ (a read of the whole gradient).
    #[must_use]
    pub fn new(values: &'a [f32]) -> Self {
        Self {
            values,
            non_finite: kernel::any_non_finite(values),
        }
    }

    /// A gradient whose status the producer already knows (e.g. it tracked
    /// finiteness while writing it), so the step does not read it twice. If
    /// the claim `non_finite == false` is wrong, the NaN reaches θ or the
    /// state and the step returns [`Error::NonFiniteResult`].
    ///
    /// ```
    /// use kexue_core::optim::{Error, Gradient, Optimizer, ParamKind, StepInfo, StepOptions, TensorMut, Tiger, TigerConfig};
    /// let g = [f32::NAN];
    /// assert!(Gradient::with_status(&g, true).values()[0].is_nan());
    /// // A false claim is caught after the update, never returned as Ok.
    /// let t = Tiger::new(TigerConfig::default()).unwrap();
    /// let (mut th, mut m) = ([1.0f32], [0.0f32]);
    /// let r = t.step_tensor(&t.step(StepInfo::single(0)),
    ///     TensorMut { kind: ParamKind::Bias, theta: &mut th, state: &mut m },
    ///     Gradient::with_status(&g, false), StepOptions::default());
    /// assert_eq!(r, Err(Error::NonFiniteResult));
    /// ```
    #[must_use]
    pub fn with_status(values: &'a [f32], non_finite: bool) -> Self {
        Self { values, non_finite }
    }

    /// The values.
    #[must_use]
    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// No NaN or ±∞ (as scanned or as claimed).
    #[must_use]
    pub fn is_finite(&self) -> bool {
        !self.non_finite
    }
}

/// Which RMS of θ an optimiser's learning rate needs for a tensor kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RmsScope {
    /// None (the `rms` argument of [`Optimizer::local`] is 1).
    None,
    /// RMS over the whole tensor (Tiger's `Matrix`).
    Tensor,
    /// RMS of each row (Tiger's `Embedding`).
    Row,
}

/// What an optimiser does with a non-finite gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NanGuard {
    /// Return [`Error::NonFiniteGradient`], touching nothing.
    Skip,
    /// Tiger: keep the state, set `θ ← (θ − centre)·factor + centre`.
    Shrink {
        /// `s`, 0.99 in the reference.
        factor: f32,
        /// `c`: 1 for gamma, else 0.
        centre: f32,
    },
}

/// One tensor of parameters with its state, for [`Optimizer::step_tensor`].
#[derive(Debug)]
pub struct TensorMut<'a, P: Storage> {
    /// How the tensor is treated.
    pub kind: ParamKind,
    /// Parameters θ (`n` values).
    pub theta: &'a mut [P],
    /// State, `n × STATE_FLOATS` values, planar (all of slot 0, then slot 1).
    pub state: &'a mut [P],
}

/// Options of one tensor step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepOptions {
    /// `Σθ²` of this tensor as returned in [`TensorReport::theta_sq_sum`] by
    /// the previous step, θ unchanged since. Saves the extra read pass that
    /// `RMS(θ)` otherwise costs (`RmsScope::Tensor` only).
    pub rms_hint: Option<f64>,
    /// Count the updates lost to rounding ([`TensorReport::lost`]).
    pub count_lost: bool,
}

/// What one tensor step did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TensorReport {
    /// The update rule moved θ (false on accumulation micro-steps and when
    /// the NaN guard ran).
    pub updated: bool,
    /// Tiger's NaN guard ran (state kept, θ shrunk).
    pub guarded: bool,
    /// `Σθ²` of θ as now stored, when the kind needs `RMS(θ)` over the tensor:
    /// pass it as the next step's [`StepOptions::rms_hint`].
    pub theta_sq_sum: Option<f64>,
    /// Elements with a non-zero intended update (with `count_lost`).
    pub moved: u64,
    /// Of those, elements whose stored value did not change: the update was
    /// lost to rounding (with `count_lost`).
    pub lost: u64,
}

/// An optimiser: hoisted scalars plus a per-element rule. The loops live in
/// one generic kernel ([`Optimizer::step_tensor`]).
///
/// An element rule returns the update `δ`; the kernel writes `θ − δ`. Every
/// rule has the form `δ = (u + λθ)·η` of the reference
/// (`u = (tf.sign(m_t) + d * var) * lr; var - u`).
pub trait Optimizer {
    /// Short name (`tiger`, `lion`, `adamw`, `sgdm`, `lamb`, `tiger-blend`).
    const NAME: &'static str;
    /// The per-parameter state.
    type Slots: Slots;
    /// State floats per parameter without accumulation.
    const STATE_FLOATS: usize = <Self::Slots as Slots>::LEN;
    /// Whether gradient accumulation folds into the state (Tiger, SGDM): no
    /// extra buffer. Otherwise the driver keeps a gradient sum.
    const ACCUMULATES_IN_PLACE: bool;
    /// State floats per parameter with accumulation `k > 1`.
    const STATE_FLOATS_ACCUMULATING: usize =
        Self::STATE_FLOATS + if Self::ACCUMULATES_IN_PLACE { 0 } else { 1 };
    /// Whether the update is rescaled per tensor by a trust ratio computed
    /// from a first pass (LAMB).
    const TRUST_RATIO: bool = false;
    /// Scalars hoisted per micro-step.
    type Step: Copy + core::fmt::Debug;
    /// Scalars hoisted per tensor (or per row).
    type Local: Copy;

    /// The micro-step's scalars (schedule, bias corrections, accumulation).
    fn step(&self, info: StepInfo) -> Self::Step;
    /// Whether θ moves on this micro-step (false on accumulation micro-steps
    /// of in-place accumulators).
    fn updates(_step: &Self::Step) -> bool {
        true
    }
    /// Which RMS of θ [`Optimizer::local`] needs for `kind`.
    fn rms_scope(&self, _kind: ParamKind) -> RmsScope {
        RmsScope::None
    }
    /// The tensor's (or row's) scalars; `rms` as asked by `rms_scope`, else 1.
    fn local(&self, step: &Self::Step, kind: ParamKind, rms: f32) -> Self::Local;
    /// LAMB: rescale after the first pass, given `Σθ²` and `Σδ²` of the
    /// unscaled update. Others: unchanged.
    fn trust(&self, local: &Self::Local, _theta_sq: f64, _delta_sq: f64) -> Self::Local {
        *local
    }
    /// What a non-finite gradient does.
    fn guard(&self, _kind: ParamKind) -> NanGuard {
        NanGuard::Skip
    }
    /// The per-element rule: update `slots` from `g`, return `δ` (θ ← θ − δ).
    fn element(local: &Self::Local, theta: f32, g: f32, slots: &mut Self::Slots) -> f32;

    /// One micro-step on one tensor: the generic kernel.
    ///
    /// Errors: length mismatches and bad embedding shapes (nothing touched);
    /// [`Error::NonFiniteGradient`] for optimisers without a guard (nothing
    /// touched); [`Error::NonFiniteResult`] if θ or state is non-finite after
    /// the update.
    ///
    /// ```
    /// use kexue_core::optim::{Gradient, Optimizer, ParamKind, StepInfo, StepOptions, TensorMut, Tiger, TigerConfig};
    /// let tiger = Tiger::new(TigerConfig { lr: 0.1, weight_decay: 0.0, ..Default::default() }).unwrap();
    /// let (mut theta, mut m) = ([1.0f32, -1.0], [0.0f32; 2]);
    /// let step = tiger.step(StepInfo::single(0));
    /// tiger.step_tensor(&step, TensorMut { kind: ParamKind::Bias, theta: &mut theta, state: &mut m },
    ///     Gradient::new(&[2.0, -3.0]), StepOptions::default()).unwrap();
    /// assert_eq!(theta, [0.95, -0.95]); // sign(m)·0.5·lr
    /// ```
    fn step_tensor<P: Storage>(
        &self,
        step: &Self::Step,
        tensor: TensorMut<'_, P>,
        grad: Gradient<'_>,
        options: StepOptions,
    ) -> Result<TensorReport, Error>
    where
        Self: Sized,
    {
        kernel::step_tensor(self, step, tensor, grad, options)
    }
}

/// `sign(x)` as `tf.sign` on finite input: ±1, and `sign(±0) = 0`.
///
/// Branch-free bit arithmetic (`copysign(1, x)` masked by `x ≠ 0`: four
/// SIMD operations), so element loops vectorise. A NaN gives ±1 rather than
/// NaN; the kernel reports a NaN state anyway ([`Error::NonFiniteResult`]).
///
/// ```
/// use kexue_core::optim::sign0;
/// assert_eq!(sign0(-3.0), -1.0);
/// assert_eq!(sign0(1e-40), 1.0);
/// assert_eq!(sign0(0.0), 0.0);
/// assert_eq!(sign0(-0.0), 0.0);
/// ```
#[inline(always)]
#[must_use]
pub fn sign0(x: f32) -> f32 {
    const SIGN: u32 = 0x8000_0000;
    let nonzero = if x != 0.0 { u32::MAX } else { 0 };
    f32::from_bits(((x.to_bits() & SIGN) | 1.0f32.to_bits()) & nonzero)
}

/// Validate a hyperparameter: finite and in `[lo, hi]`.
pub(crate) fn check_range(name: &'static str, x: f64, lo: f64, hi: f64) -> Result<(), Error> {
    if x.is_finite() && x >= lo && x <= hi {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter { name })
    }
}

/// Learning rate at micro-step `t` as the reference computes it in f32:
/// `f32(lr) · schedule(t)`.
#[inline]
pub(crate) fn scheduled_lr(lr: f64, schedule: &Schedule, t: u64) -> f32 {
    (lr as f32) * schedule.value(t)
}
