//! The label-noise experiment: what TaiLr and EMO buy over cross-entropy.
//!
//! **Task.** `K` classes placed around the unit circle in 2-D (class `k` at
//! angle `2πk/K`), each a Gaussian cluster of standard deviation
//! `cluster_std`, so neighbouring classes overlap and are "synonyms". A chosen
//! fraction of the *training* labels is flipped — exactly `round(noise · n)`
//! of them — either uniformly to another class or to a neighbour (`k ± 1`).
//! The test set is clean. The data, the noisy labels and the test set come
//! from separate seeded streams, so the same seed gives the same points at
//! every noise level.
//!
//! **Model.** Softmax regression on fixed features: Gaussian radial basis
//! functions on a `grid × grid` lattice over `[−2, 2]²` (width = the lattice
//! spacing) plus a bias, `z = W φ(x)`. Weights start at zero (uniform
//! predictions: training from scratch).
//!
//! **Training.** Every loss gets the same budget: `steps` steps of SGD with
//! heavy-ball momentum on minibatches of `batch` examples drawn with
//! replacement by the same seeded stream (identical batches for every loss).
//!
//! **EMO's embeddings.** The class directions `e_k = (cos 2πk/K, sin 2πk/K)`,
//! so the cost `1 − cos(e_i, e_j)` is small for neighbours and 2 for opposite
//! classes.
//!
//! **Evaluation** on the clean test set: accuracy, NLL, Brier score, ECE
//! (reliability bins given by the caller), mean confidence, the expected EMO
//! cost, how far (in class steps around the circle) the mistakes are, and how
//! many of the flipped training labels the model reproduces (memorisation).
//!
//! **Claims** (the posts of 2023-03-14 and 2023-10-13), each turned into a
//! check computed from the numbers: [`check_tailr`], [`check_near_miss`],
//! [`check_learning_speed`].
//!
//! Memory: everything lives in two caller-owned slices sized by
//! [`Config::workspace_size`]; nothing allocates.
//!
//! ```
//! use core::ops::ControlFlow;
//! use kexue_core::loss::ReliabilityBin;
//! use kexue_core::loss::experiment::{Config, Experiment, LossKind};
//! let config = Config { steps: 50, train_per_class: 8, test_per_class: 16, ..Config::default() };
//! let size = config.workspace_size().unwrap();
//! let (mut floats, mut labels) = (vec![0.0_f32; size.floats], vec![0_u32; size.labels]);
//! let mut exp = Experiment::new(config, &mut floats, &mut labels).unwrap();
//! let mut bins = [ReliabilityBin::default(); 10];
//! let run = exp.train(LossKind::CrossEntropy, &mut bins, |_| ControlFlow::Continue(())).unwrap();
//! assert!(run.summary.accuracy > 1.0 / 8.0); // better than chance after 50 steps
//! ```

use core::fmt;
use core::ops::ControlFlow;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use super::{
    Metrics, Mixture, ReliabilityBin, Summary, UnitEmbeddings, cross_entropy_loss, emo_ce_loss,
    emo_loss, one_minus_pt_loss, tailr_loss, tailr_loss_thresholded,
};
use crate::math;

/// The most classes the experiment supports (the prediction profile and the
/// evaluation use stack buffers of this size).
pub const MAX_CLASSES: usize = 64;

/// The most grid points per axis of the feature lattice.
pub const MAX_GRID: usize = 64;

/// Training-curve points are evaluated on the first this-many test points
/// (classes are interleaved, so the subset is balanced); the final
/// evaluation uses the whole test set.
pub const CURVE_TEST_POINTS: usize = 512;

/// Half-width of the square covered by the radial-basis lattice.
const FEATURE_EXTENT: f64 = 2.0;

/// Stream tags mixed into the seed: data points, label noise, test points,
/// minibatch order.
const STREAM_TRAIN: u64 = 0x7472_6169_6e00_0001;
const STREAM_NOISE: u64 = 0x6e6f_6973_6500_0002;
const STREAM_TEST: u64 = 0x7465_7374_0000_0003;
const STREAM_BATCH: u64 = 0x6261_7463_6800_0004;

/// `cos`/`sin` for the class angles (thin `libm` wrappers, local to the
/// experiment; `crate::math` has no trigonometry yet).
fn cos(x: f64) -> f64 {
    libm::cos(x)
}
fn sin(x: f64) -> f64 {
    libm::sin(x)
}

/// How training labels are corrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// A flipped label becomes any other class, uniformly.
    Uniform,
    /// A flipped label becomes one of the two neighbouring classes (`k ± 1`
    /// around the circle), each with probability ½: a "synonym" error.
    Neighbour,
}

impl fmt::Display for NoiseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Uniform => "uniform",
            Self::Neighbour => "neighbour",
        })
    }
}

/// A training loss of the experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossKind {
    /// Cross-entropy, [`super::cross_entropy_loss`].
    CrossEntropy,
    /// TaiLr with weight parameter `γ`, [`super::tailr_loss`].
    Tailr {
        /// `γ ∈ [0, 1]`.
        gamma: f64,
    },
    /// TaiLr with the paper's floored weight, [`super::tailr_loss_thresholded`].
    TailrThresholded {
        /// `γ ∈ [0, 1]`.
        gamma: f64,
        /// The floor `b ∈ [0, 1]`.
        floor: f64,
    },
    /// EMO alone, [`super::emo_loss`].
    Emo,
    /// EMO mixed with cross-entropy, [`super::emo_ce_loss`] with
    /// [`Mixture::Balanced`].
    EmoCe,
    /// `1 − p_t`, [`super::one_minus_pt_loss`].
    OneMinusPt,
}

/// The losses the experiment compares, in table order: CE, TaiLr at
/// γ = 0.1, 0.5, 0.8, EMO, EMO + CE, 1 − p_t.
pub const STANDARD_LOSSES: [LossKind; 7] = [
    LossKind::CrossEntropy,
    LossKind::Tailr { gamma: 0.1 },
    LossKind::Tailr { gamma: 0.5 },
    LossKind::Tailr { gamma: 0.8 },
    LossKind::Emo,
    LossKind::EmoCe,
    LossKind::OneMinusPt,
];

impl fmt::Display for LossKind {
    /// A name without spaces: `ce`, `tailr_0.5`, `tailr_0.5_b0.2`, `emo`,
    /// `emo+ce`, `1-p_t`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::CrossEntropy => f.write_str("ce"),
            Self::Tailr { gamma } => write!(f, "tailr_{gamma}"),
            Self::TailrThresholded { gamma, floor } => write!(f, "tailr_{gamma}_b{floor}"),
            Self::Emo => f.write_str("emo"),
            Self::EmoCe => f.write_str("emo+ce"),
            Self::OneMinusPt => f.write_str("1-p_t"),
        }
    }
}

impl LossKind {
    /// The loss of `logits` for `target`, its gradient into `grad`.
    ///
    /// Errors: those of the underlying loss function.
    ///
    /// ```
    /// use kexue_core::loss::UnitEmbeddings;
    /// use kexue_core::loss::experiment::LossKind;
    /// let rows = [1.0_f32, 0.0, -1.0, 0.0];
    /// let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
    /// let mut g = [0.0_f32; 2];
    /// let l = LossKind::Emo.evaluate(&[0.0, 0.0], 0, &emb, &mut g).unwrap();
    /// assert!((l - 1.0).abs() < 1e-6); // half the mass moved at cost 2
    /// ```
    pub fn evaluate(
        &self,
        logits: &[f32],
        target: usize,
        emb: &UnitEmbeddings<'_, f32>,
        grad: &mut [f32],
    ) -> Result<f64, super::Error> {
        match *self {
            Self::CrossEntropy => cross_entropy_loss(logits, target, grad),
            Self::Tailr { gamma } => tailr_loss(logits, target, gamma, grad),
            Self::TailrThresholded { gamma, floor } => {
                tailr_loss_thresholded(logits, target, gamma, floor, grad)
            }
            Self::Emo => emo_loss(logits, target, emb, grad),
            Self::EmoCe => emo_ce_loss(logits, target, emb, Mixture::Balanced, grad),
            Self::OneMinusPt => one_minus_pt_loss(logits, target, grad),
        }
    }

    /// Check the loss's parameters (γ and the floor in `[0, 1]`).
    ///
    /// Errors: [`Error::InvalidConfig`].
    ///
    /// ```
    /// use kexue_core::loss::experiment::LossKind;
    /// assert!(LossKind::Tailr { gamma: 0.5 }.validate().is_ok());
    /// assert!(LossKind::Tailr { gamma: 2.0 }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        match *self {
            Self::Tailr { gamma } if !unit(gamma) => Err(Error::InvalidConfig {
                name: "gamma",
                reason: "must be in [0, 1]",
            }),
            Self::TailrThresholded { gamma, floor } if !unit(gamma) || !unit(floor) => {
                Err(Error::InvalidConfig {
                    name: "gamma/floor",
                    reason: "must be in [0, 1]",
                })
            }
            _ => Ok(()),
        }
    }
}

/// The experiment's parameters. [`Config::default`] is the setting whose
/// results are reported in the README.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Number of classes `K` around the circle (3 ..= [`MAX_CLASSES`]).
    pub classes: usize,
    /// Training points per class.
    pub train_per_class: usize,
    /// Test points per class.
    pub test_per_class: usize,
    /// Standard deviation of each class's Gaussian cluster (centres on the
    /// unit circle).
    pub cluster_std: f64,
    /// Fraction of training labels flipped, in `[0, 1]`.
    pub noise: f64,
    /// How flipped labels are chosen.
    pub noise_kind: NoiseKind,
    /// Radial-basis lattice points per axis (2 ..= [`MAX_GRID`]); there are
    /// `grid²` features plus a bias.
    pub grid: usize,
    /// SGD steps (the same budget for every loss).
    pub steps: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Heavy-ball momentum in `[0, 1)`.
    pub momentum: f64,
    /// Evaluate on the test set every this many steps (training curves).
    pub eval_every: usize,
    /// Seed of every random stream.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            classes: 8,
            train_per_class: 48,
            test_per_class: 250,
            cluster_std: 0.25,
            noise: 0.3,
            noise_kind: NoiseKind::Uniform,
            grid: 10,
            steps: 2000,
            batch: 32,
            learning_rate: 0.1,
            momentum: 0.9,
            eval_every: 10,
            seed: 1,
        }
    }
}

impl Config {
    /// The "memorising" regime: more features (`grid` 24, 577 inputs) and
    /// fewer training points (16 per class), so that cross-entropy can fit
    /// the flipped labels and becomes over-confident — the situation the
    /// TaiLr post is about. Everything else as [`Config::default`] (whose
    /// model is too small to memorise, so CE ends up under-confident).
    ///
    /// ```
    /// use kexue_core::loss::experiment::Config;
    /// let m = Config::memorising();
    /// assert_eq!((m.grid, m.train_per_class), (24, 16));
    /// assert!(m.validate().is_ok());
    /// ```
    #[must_use]
    pub fn memorising() -> Self {
        Self {
            grid: 24,
            train_per_class: 16,
            ..Self::default()
        }
    }
}

/// Sizes of the two caller-owned slices an [`Experiment`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceSize {
    /// Length of the `f32` slice (features, weights, optimiser state).
    pub floats: usize,
    /// Length of the `u32` slice (labels).
    pub labels: usize,
}

/// Why the experiment could not run.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A [`Config`] field (or loss parameter) is outside its documented range.
    InvalidConfig {
        /// The field.
        name: &'static str,
        /// What is required of it.
        reason: &'static str,
    },
    /// A caller slice is too small (or the sizes overflow `usize`).
    CapacityExceeded {
        /// Which slice.
        what: &'static str,
        /// The length needed.
        needed: usize,
        /// The length given.
        capacity: usize,
    },
    /// Training diverged: a logit became NaN or infinite (learning rate too
    /// large) at this step.
    Diverged {
        /// The step.
        step: usize,
    },
    /// The progress callback asked to stop at this step.
    Cancelled {
        /// The step.
        step: usize,
    },
    /// A loss or metric failed (cannot happen with a validated config; kept
    /// so that nothing is swallowed).
    Loss(super::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig { name, reason } => write!(f, "invalid setting {name}: {reason}"),
            Self::CapacityExceeded {
                what,
                needed,
                capacity,
            } => write!(f, "{what} needs {needed} elements, has {capacity}"),
            Self::Diverged { step } => write!(
                f,
                "training diverged at step {step} (non-finite logits; lower the learning rate)"
            ),
            Self::Cancelled { step } => write!(f, "cancelled at step {step}"),
            Self::Loss(e) => write!(f, "loss: {e}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<super::Error> for Error {
    fn from(e: super::Error) -> Self {
        Self::Loss(e)
    }
}

fn invalid(name: &'static str, reason: &'static str) -> Error {
    Error::InvalidConfig { name, reason }
}

fn overflow(what: &'static str) -> Error {
    Error::CapacityExceeded {
        what,
        needed: usize::MAX,
        capacity: 0,
    }
}

impl Config {
    /// Check every field against its documented range.
    ///
    /// Errors: [`Error::InvalidConfig`] naming the field.
    ///
    /// ```
    /// use kexue_core::loss::experiment::Config;
    /// assert!(Config::default().validate().is_ok());
    /// assert!(Config { noise: 1.5, ..Config::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if !(3..=MAX_CLASSES).contains(&self.classes) {
            return Err(invalid("classes", "must be in 3..=64"));
        }
        if self.train_per_class == 0 || self.test_per_class == 0 {
            return Err(invalid("train/test points per class", "must be at least 1"));
        }
        if !(self.cluster_std.is_finite() && self.cluster_std > 0.0) {
            return Err(invalid("cluster_std", "must be finite and positive"));
        }
        if !(0.0..=1.0).contains(&self.noise) {
            return Err(invalid("noise", "must be in [0, 1]"));
        }
        if !(2..=MAX_GRID).contains(&self.grid) {
            return Err(invalid("grid", "must be in 2..=64"));
        }
        if self.steps == 0 || self.batch == 0 || self.eval_every == 0 {
            return Err(invalid("steps/batch/eval_every", "must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid("learning_rate", "must be finite and positive"));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(invalid("momentum", "must be in [0, 1)"));
        }
        let train = self.train_points().ok_or(overflow("training points"))?;
        let test = self.test_points().ok_or(overflow("test points"))?;
        if u32::try_from(train).is_err() || u32::try_from(test).is_err() {
            return Err(invalid("train/test points", "at most 2^32 − 1 points"));
        }
        Ok(())
    }

    /// Number of training points `K · train_per_class`.
    #[must_use]
    pub fn train_points(&self) -> Option<usize> {
        self.classes.checked_mul(self.train_per_class)
    }

    /// Number of test points `K · test_per_class`.
    #[must_use]
    pub fn test_points(&self) -> Option<usize> {
        self.classes.checked_mul(self.test_per_class)
    }

    /// Model input width: `grid²` features plus the bias.
    #[must_use]
    pub fn width(&self) -> usize {
        self.grid.saturating_mul(self.grid).saturating_add(1)
    }

    /// Number of training-curve points a run reports: step 0, every
    /// `eval_every` steps, and the last step.
    ///
    /// ```
    /// use kexue_core::loss::experiment::Config;
    /// let c = Config { steps: 100, eval_every: 30, ..Config::default() };
    /// assert_eq!(c.curve_points(), 5); // steps 0, 30, 60, 90, 100
    /// ```
    #[must_use]
    pub fn curve_points(&self) -> usize {
        1 + self.steps.div_ceil(self.eval_every.max(1))
    }

    /// The caller-owned memory an [`Experiment`] with this config needs.
    ///
    /// Errors: an invalid config, or sizes overflowing `usize`.
    ///
    /// ```
    /// use kexue_core::loss::experiment::Config;
    /// let s = Config::default().workspace_size().unwrap();
    /// assert_eq!(s.labels, 2 * 8 * 48 + 8 * 250);
    /// ```
    pub fn workspace_size(&self) -> Result<WorkspaceSize, Error> {
        self.validate()?;
        let train = self.train_points().ok_or(overflow("training points"))?;
        let test = self.test_points().ok_or(overflow("test points"))?;
        let width = self.width();
        let k = self.classes;
        let floats = (|| {
            let data = train.checked_add(test)?.checked_mul(width)?;
            let params = k.checked_mul(width)?.checked_mul(3)?; // weights, velocity, gradient
            data.checked_add(params)?
                .checked_add(k.checked_mul(2)?)? // embeddings
                .checked_add(k.checked_mul(2)?) // logits, logit gradient
        })()
        .ok_or(overflow("float workspace"))?;
        let labels = train
            .checked_mul(2)
            .and_then(|x| x.checked_add(test))
            .ok_or(overflow("label workspace"))?;
        Ok(WorkspaceSize { floats, labels })
    }
}

/// One point of a training curve (test metrics during training).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalPoint {
    /// Steps taken so far.
    pub step: usize,
    /// Clean test accuracy (on the first [`CURVE_TEST_POINTS`] test points).
    pub accuracy: f64,
    /// Clean test NLL (same points).
    pub nll: f64,
    /// Mean training loss (the loss being optimised) over the minibatches
    /// since the previous point; 0 at step 0.
    pub train_loss: f64,
}

/// Where the mistakes on the test set land around the circle.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ErrorProfile {
    /// Number of wrong predictions.
    pub errors: u64,
    /// Wrong predictions that are a neighbouring class (distance 1).
    pub near_misses: u64,
    /// Mean distance (in class steps around the circle, 1 ..= K/2) of the
    /// wrong predictions; 0 if there are none.
    pub mean_distance: f64,
}

impl ErrorProfile {
    /// Fraction of mistakes that are near misses, `None` without mistakes.
    ///
    /// ```
    /// use kexue_core::loss::experiment::ErrorProfile;
    /// let e = ErrorProfile { errors: 4, near_misses: 3, mean_distance: 1.5 };
    /// assert_eq!(e.near_miss_fraction(), Some(0.75));
    /// ```
    #[must_use]
    pub fn near_miss_fraction(&self) -> Option<f64> {
        (self.errors > 0).then(|| self.near_misses as f64 / self.errors as f64)
    }
}

/// The outcome of training one loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunResult {
    /// The loss trained.
    pub loss: LossKind,
    /// Clean test metrics.
    pub summary: Summary,
    /// Where the test mistakes land.
    pub errors: ErrorProfile,
    /// Mean EMO cost on the test set, `E[Σ_i p_i c_it]` (the semantic cost
    /// of the predictions, whatever the loss trained).
    pub expected_cost: f64,
    /// Fraction of the flipped training labels that the model predicts
    /// (memorised noise); `None` if no label was flipped.
    pub memorised: Option<f64>,
}

/// Circular distance between classes `a` and `b` of `k`.
fn circular_distance(a: usize, b: usize, k: usize) -> usize {
    let d = a.abs_diff(b);
    d.min(k.saturating_sub(d))
}

/// Cut the first `len` elements off `rest`.
fn carve<'a, T>(
    rest: &mut &'a mut [T],
    len: usize,
    what: &'static str,
) -> Result<&'a mut [T], Error> {
    let all = core::mem::take(rest);
    let capacity = all.len();
    let (head, tail) = all
        .split_at_mut_checked(len)
        .ok_or(Error::CapacityExceeded {
            what,
            needed: len,
            capacity,
        })?;
    *rest = tail;
    Ok(head)
}

/// Write the unit class directions `(cos 2πk/K, sin 2πk/K)` into `out`
/// (`K × 2`, row-major): EMO's frozen embeddings in the experiment.
///
/// Errors: `out.len()` not `2K` or `K < 1`.
///
/// ```
/// use kexue_core::loss::experiment::circle_embeddings;
/// let mut e = [0.0_f64; 8];
/// circle_embeddings(4, &mut e).unwrap();
/// assert!((e[2] - 0.0).abs() < 1e-15 && (e[3] - 1.0).abs() < 1e-15); // class 1 at 90°
/// ```
pub fn circle_embeddings<T: super::Real>(classes: usize, out: &mut [T]) -> Result<(), Error> {
    let needed = classes.checked_mul(2).ok_or(overflow("embeddings"))?;
    if classes == 0 || out.len() != needed {
        return Err(Error::CapacityExceeded {
            what: "embeddings",
            needed,
            capacity: out.len(),
        });
    }
    for (k, row) in out.chunks_exact_mut(2).enumerate() {
        let theta = core::f64::consts::TAU * k as f64 / classes as f64;
        for (o, v) in row.iter_mut().zip([cos(theta), sin(theta)]) {
            *o = T::from_f64(v);
        }
    }
    Ok(())
}

/// The losses of one hypothetical prediction: mass `m` on a class, the rest
/// spread evenly.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PredictionLoss {
    /// Circular distance of the favoured class from the target.
    pub distance: usize,
    /// Cross-entropy.
    pub ce: f64,
    /// EMO with the circle embeddings.
    pub emo: f64,
    /// `1 − p_t`.
    pub one_minus_pt: f64,
}

/// For each class `j` of `K` around the circle, the losses of the prediction
/// that puts mass `mass` on `j` and spreads `1 − mass` evenly over the other
/// classes, when the label is `target`: how each loss charges a near miss
/// versus a far miss. Written into `out[j]` (length `K`).
///
/// Errors: `classes` outside `3..=64`, `target ≥ K`, `mass` not in
/// `(0, 1)`, `out.len() ≠ K`.
///
/// ```
/// use kexue_core::loss::experiment::{PredictionLoss, prediction_losses};
/// let mut out = [PredictionLoss::default(); 8];
/// prediction_losses(8, 0, 0.9, &mut out).unwrap();
/// assert!(out[1].emo < out[4].emo);                 // neighbour < opposite
/// assert!((out[1].ce - out[4].ce).abs() < 1e-12);   // CE cannot tell
/// ```
pub fn prediction_losses(
    classes: usize,
    target: usize,
    mass: f64,
    out: &mut [PredictionLoss],
) -> Result<(), Error> {
    if !(3..=MAX_CLASSES).contains(&classes) {
        return Err(invalid("classes", "must be in 3..=64"));
    }
    if target >= classes {
        return Err(invalid("target", "must be below the number of classes"));
    }
    if !(mass > 0.0 && mass < 1.0) {
        return Err(invalid("mass", "must be in (0, 1)"));
    }
    if out.len() != classes {
        return Err(Error::CapacityExceeded {
            what: "prediction losses",
            needed: classes,
            capacity: out.len(),
        });
    }
    let mut emb_buf = [0.0_f64; 2 * MAX_CLASSES];
    let emb_rows = emb_buf
        .get_mut(..2 * classes)
        .ok_or(overflow("embeddings"))?;
    circle_embeddings(classes, emb_rows)?;
    let emb = UnitEmbeddings::from_unit_rows(emb_rows, 2)?;
    let mut logits_buf = [0.0_f64; MAX_CLASSES];
    let mut grad_buf = [0.0_f64; MAX_CLASSES];
    let logits = logits_buf.get_mut(..classes).ok_or(overflow("logits"))?;
    let grad = grad_buf.get_mut(..classes).ok_or(overflow("gradient"))?;
    let rest = math::ln((1.0 - mass) / (classes - 1) as f64);
    for (j, o) in out.iter_mut().enumerate() {
        for (i, z) in logits.iter_mut().enumerate() {
            *z = if i == j { math::ln(mass) } else { rest };
        }
        *o = PredictionLoss {
            distance: circular_distance(j, target, classes),
            ce: cross_entropy_loss(logits, target, grad)?,
            emo: emo_loss(logits, target, &emb, grad)?,
            one_minus_pt: one_minus_pt_loss(logits, target, grad)?,
        };
    }
    Ok(())
}

/// A generated data set and a model, in caller-owned memory; trains any
/// [`LossKind`] from scratch on the same data.
#[derive(Debug)]
pub struct Experiment<'a> {
    config: Config,
    width: usize,
    train_x: &'a [f32],
    test_x: &'a [f32],
    emb: UnitEmbeddings<'a, f32>,
    weights: &'a mut [f32],
    velocity: &'a mut [f32],
    wgrad: &'a mut [f32],
    logits: &'a mut [f32],
    glogits: &'a mut [f32],
    train_y: &'a [u32],
    train_clean: &'a [u32],
    test_y: &'a [u32],
    flipped: usize,
}

/// Features of a point: Gaussian bumps on the lattice, then the bias 1.
fn write_features(x: [f64; 2], grid: usize, out: &mut [f32]) {
    let spacing = 2.0 * FEATURE_EXTENT / (grid - 1) as f64;
    let inv_two_var = 1.0 / (2.0 * spacing * spacing);
    let mut cells = out.iter_mut();
    for a in 0..grid {
        let cx = -FEATURE_EXTENT + spacing * a as f64;
        for b in 0..grid {
            let cy = -FEATURE_EXTENT + spacing * b as f64;
            let d2 = (x[0] - cx) * (x[0] - cx) + (x[1] - cy) * (x[1] - cy);
            if let Some(o) = cells.next() {
                *o = math::exp(-d2 * inv_two_var) as f32;
            }
        }
    }
    if let Some(o) = cells.next() {
        *o = 1.0;
    }
}

/// Draw points class by class (`i mod K`) into `x` (rows of `width`) and `y`.
fn draw_points(config: &Config, stream: u64, x: &mut [f32], y: &mut [u32]) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed ^ stream);
    let k = config.classes;
    for (i, (row, label)) in x
        .chunks_exact_mut(config.width())
        .zip(y.iter_mut())
        .enumerate()
    {
        let class = i % k;
        let theta = core::f64::consts::TAU * class as f64 / k as f64;
        let nx: f64 = StandardNormal.sample(&mut rng);
        let ny: f64 = StandardNormal.sample(&mut rng);
        let point = [
            cos(theta) + config.cluster_std * nx,
            sin(theta) + config.cluster_std * ny,
        ];
        write_features(point, config.grid, row);
        // `class < K ≤ 64` fits in u32.
        *label = class as u32;
    }
}

/// Flip exactly `round(noise · n)` labels (selection sampling), returning how
/// many were flipped.
fn flip_labels(config: &Config, clean: &[u32], noisy: &mut [u32]) -> usize {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed ^ STREAM_NOISE);
    let n = clean.len();
    let k = config.classes as u32;
    // round(noise · n) for noise · n ≥ 0 (no `round` in core without std).
    let target = (config.noise * n as f64 + 0.5) as usize;
    let mut needed = target.min(n);
    for (i, (&c, y)) in clean.iter().zip(noisy.iter_mut()).enumerate() {
        *y = c;
        let remaining = (n - i) as u64;
        if needed > 0 && rng.random_range(0..remaining) < needed as u64 {
            needed -= 1;
            *y = match config.noise_kind {
                NoiseKind::Uniform => (c + 1 + rng.random_range(0..k - 1)) % k,
                NoiseKind::Neighbour => {
                    if rng.random::<bool>() {
                        (c + 1) % k
                    } else {
                        (c + k - 1) % k
                    }
                }
            };
        }
    }
    target.min(n)
}

impl<'a> Experiment<'a> {
    /// Generate the data set for `config` into the caller's memory
    /// (`floats` and `labels` at least as long as
    /// [`Config::workspace_size`]; longer is fine).
    ///
    /// Errors: an invalid config, slices too short.
    pub fn new(
        config: Config,
        floats: &'a mut [f32],
        labels: &'a mut [u32],
    ) -> Result<Self, Error> {
        let size = config.workspace_size()?;
        if floats.len() < size.floats {
            return Err(Error::CapacityExceeded {
                what: "float workspace",
                needed: size.floats,
                capacity: floats.len(),
            });
        }
        if labels.len() < size.labels {
            return Err(Error::CapacityExceeded {
                what: "label workspace",
                needed: size.labels,
                capacity: labels.len(),
            });
        }
        let train = config.train_points().ok_or(overflow("training points"))?;
        let test = config.test_points().ok_or(overflow("test points"))?;
        let width = config.width();
        let k = config.classes;
        let mut f = floats;
        let train_x = carve(&mut f, train * width, "training features")?;
        let test_x = carve(&mut f, test * width, "test features")?;
        let emb_rows = carve(&mut f, 2 * k, "embeddings")?;
        let weights = carve(&mut f, k * width, "weights")?;
        let velocity = carve(&mut f, k * width, "velocity")?;
        let wgrad = carve(&mut f, k * width, "weight gradient")?;
        let logits = carve(&mut f, k, "logits")?;
        let glogits = carve(&mut f, k, "logit gradient")?;
        let mut l = labels;
        let train_y = carve(&mut l, train, "training labels")?;
        let train_clean = carve(&mut l, train, "clean training labels")?;
        let test_y = carve(&mut l, test, "test labels")?;

        draw_points(&config, STREAM_TRAIN, train_x, train_clean);
        draw_points(&config, STREAM_TEST, test_x, test_y);
        let flipped = flip_labels(&config, train_clean, train_y);
        circle_embeddings(k, emb_rows)?;
        let emb = UnitEmbeddings::normalize(emb_rows, 2)?;
        Ok(Self {
            config,
            width,
            train_x,
            test_x,
            emb,
            weights,
            velocity,
            wgrad,
            logits,
            glogits,
            train_y,
            train_clean,
            test_y,
            flipped,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many training labels were flipped.
    #[must_use]
    pub fn flipped(&self) -> usize {
        self.flipped
    }

    /// The noisy training labels (what the losses see).
    #[must_use]
    pub fn train_labels(&self) -> &[u32] {
        self.train_y
    }

    /// The clean training labels.
    #[must_use]
    pub fn clean_train_labels(&self) -> &[u32] {
        self.train_clean
    }

    /// The EMO embeddings (class directions).
    #[must_use]
    pub fn embeddings(&self) -> &UnitEmbeddings<'a, f32> {
        &self.emb
    }

    /// The model's weights after the last [`Experiment::train`]
    /// (`K × (grid² + 1)`, row-major, bias last).
    #[must_use]
    pub fn weights(&self) -> &[f32] {
        self.weights
    }

    /// Train `loss` from zero weights with the config's budget, reporting the
    /// training curve to `on_eval` (step 0, every `eval_every` steps, the last
    /// step); then evaluate on the clean test set, filling `bins` (the
    /// reliability diagram; its length is the number of ECE bins).
    ///
    /// `on_eval` returning [`ControlFlow::Break`] stops training
    /// ([`Error::Cancelled`]). Deterministic: the same config gives the same
    /// numbers, bit for bit.
    ///
    /// Errors: invalid loss parameters, no bins, divergence, cancellation.
    pub fn train(
        &mut self,
        loss: LossKind,
        bins: &mut [ReliabilityBin],
        mut on_eval: impl FnMut(EvalPoint) -> ControlFlow<()>,
    ) -> Result<RunResult, Error> {
        loss.validate()?;
        if bins.is_empty() {
            return Err(Error::Loss(super::Error::Empty {
                what: "reliability bins",
            }));
        }
        self.weights.fill(0.0);
        self.velocity.fill(0.0);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.config.seed ^ STREAM_BATCH);
        let n = self.train_y.len() as u64;
        let width = self.width;
        let scale = 1.0 / self.config.batch as f32;
        let lr = self.config.learning_rate as f32;
        let mu = self.config.momentum as f32;

        let first = self.curve_point(0, 0.0)?;
        if on_eval(first).is_break() {
            return Err(Error::Cancelled { step: 0 });
        }
        let mut loss_sum = 0.0_f64;
        let mut loss_count = 0_usize;
        for step in 1..=self.config.steps {
            self.wgrad.fill(0.0);
            for _ in 0..self.config.batch {
                let i = rng.random_range(0..n) as usize;
                let (Some(x), Some(&y)) = (
                    self.train_x.get(i * width..(i + 1) * width),
                    self.train_y.get(i),
                ) else {
                    continue;
                };
                forward(self.weights, x, self.logits);
                let value = loss
                    .evaluate(self.logits, y as usize, &self.emb, self.glogits)
                    .map_err(|e| diverged_or(e, step))?;
                loss_sum += value;
                loss_count += 1;
                for (row, &g) in self.wgrad.chunks_exact_mut(width).zip(self.glogits.iter()) {
                    if g != 0.0 {
                        for (w, &xi) in row.iter_mut().zip(x) {
                            *w += g * xi;
                        }
                    }
                }
            }
            for ((w, v), &g) in self
                .weights
                .iter_mut()
                .zip(self.velocity.iter_mut())
                .zip(self.wgrad.iter())
            {
                *v = mu * *v + g * scale;
                *w -= lr * *v;
            }
            if step % self.config.eval_every == 0 || step == self.config.steps {
                let mean = if loss_count > 0 {
                    loss_sum / loss_count as f64
                } else {
                    0.0
                };
                let point = self.curve_point(step, mean)?;
                loss_sum = 0.0;
                loss_count = 0;
                if on_eval(point).is_break() {
                    return Err(Error::Cancelled { step });
                }
            }
        }
        self.evaluate(loss, bins)
    }

    /// Test accuracy and NLL at `step` (on the first [`CURVE_TEST_POINTS`]).
    fn curve_point(&mut self, step: usize, train_loss: f64) -> Result<EvalPoint, Error> {
        let mut one_bin = [ReliabilityBin::default(); 1];
        let mut metrics = Metrics::new(&mut one_bin)?;
        for (x, &y) in self
            .test_x
            .chunks_exact(self.width)
            .zip(self.test_y)
            .take(CURVE_TEST_POINTS)
        {
            forward(self.weights, x, self.logits);
            metrics
                .add(self.logits, y as usize)
                .map_err(|e| diverged_or(e, step))?;
        }
        let s = metrics.summary()?;
        Ok(EvalPoint {
            step,
            accuracy: s.accuracy,
            nll: s.nll,
            train_loss,
        })
    }

    /// Full evaluation of the current weights on the clean test set.
    fn evaluate(
        &mut self,
        loss: LossKind,
        bins: &mut [ReliabilityBin],
    ) -> Result<RunResult, Error> {
        let k = self.config.classes;
        let steps = self.config.steps;
        let mut metrics = Metrics::new(bins)?;
        let mut errors = 0_u64;
        let mut near = 0_u64;
        let mut distance_sum = 0_u64;
        let mut cost_sum = 0.0_f64;
        for (x, &y) in self.test_x.chunks_exact(self.width).zip(self.test_y) {
            let y = y as usize;
            forward(self.weights, x, self.logits);
            metrics
                .add(self.logits, y)
                .map_err(|e| diverged_or(e, steps))?;
            cost_sum += emo_loss(self.logits, y, &self.emb, self.glogits)?;
            let predicted = argmax(self.logits);
            if predicted != y {
                let d = circular_distance(predicted, y, k);
                errors += 1;
                near += u64::from(d == 1);
                distance_sum += d as u64;
            }
        }
        let summary = metrics.summary()?;
        let mut memorised_hits = 0_usize;
        for ((x, &noisy), &clean) in self
            .train_x
            .chunks_exact(self.width)
            .zip(self.train_y)
            .zip(self.train_clean)
        {
            if noisy != clean {
                forward(self.weights, x, self.logits);
                memorised_hits += usize::from(argmax(self.logits) == noisy as usize);
            }
        }
        Ok(RunResult {
            loss,
            summary,
            errors: ErrorProfile {
                errors,
                near_misses: near,
                mean_distance: if errors > 0 {
                    distance_sum as f64 / errors as f64
                } else {
                    0.0
                },
            },
            expected_cost: cost_sum / summary.count as f64,
            memorised: (self.flipped > 0).then(|| memorised_hits as f64 / self.flipped as f64),
        })
    }
}

/// A non-finite logit during training means the weights blew up.
fn diverged_or(e: super::Error, step: usize) -> Error {
    match e {
        super::Error::NonFinite { .. } => Error::Diverged { step },
        other => Error::Loss(other),
    }
}

/// `logits_k = ⟨W_k, x⟩`.
fn forward(weights: &[f32], x: &[f32], logits: &mut [f32]) {
    for (z, row) in logits.iter_mut().zip(weights.chunks_exact(x.len().max(1))) {
        *z = <f32 as super::Real>::dot(row, x) as f32;
    }
}

/// The first index of the largest value (0 for an empty slice).
fn argmax(xs: &[f32]) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &x) in xs.iter().enumerate() {
        if x > best_value {
            best = i;
            best_value = x;
        }
    }
    best
}

// ---------------------------------------------------------------------------
// The claims, as checks computed from the numbers
// ---------------------------------------------------------------------------

/// One run of a sweep over noise levels, as the claim checks read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepRow {
    /// The fraction of training labels flipped.
    pub noise: f64,
    /// The run.
    pub result: RunResult,
}

fn find(rows: &[SweepRow], noise: f64, loss: LossKind) -> Option<&RunResult> {
    rows.iter()
        .find(|r| r.noise == noise && r.result.loss == loss)
        .map(|r| &r.result)
}

fn noise_range(rows: &[SweepRow]) -> Option<(f64, f64)> {
    let lo = rows.iter().map(|r| r.noise).reduce(f64::min)?;
    let hi = rows.iter().map(|r| r.noise).reduce(f64::max)?;
    Some((lo, hi))
}

/// Claim of the TaiLr post (2023-03-14): TaiLr reduces cross-entropy's
/// over-confidence, more so as label noise grows. Compared at the lowest and
/// the highest noise level of a sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TailrCheck {
    /// TaiLr's γ.
    pub gamma: f64,
    /// The lowest noise level.
    pub low_noise: f64,
    /// The highest noise level.
    pub high_noise: f64,
    /// CE at the lowest noise.
    pub ce_low: Summary,
    /// TaiLr at the lowest noise.
    pub tailr_low: Summary,
    /// CE at the highest noise.
    pub ce_high: Summary,
    /// TaiLr at the highest noise.
    pub tailr_high: Summary,
}

impl TailrCheck {
    /// `ECE(CE) − ECE(TaiLr)` at the lowest noise.
    #[must_use]
    pub fn ece_advantage_low(&self) -> f64 {
        self.ce_low.ece - self.tailr_low.ece
    }
    /// `ECE(CE) − ECE(TaiLr)` at the highest noise.
    #[must_use]
    pub fn ece_advantage_high(&self) -> f64 {
        self.ce_high.ece - self.tailr_high.ece
    }
    /// CE is over-confident at the highest noise (confidence > accuracy),
    /// i.e. there is over-confidence to reduce.
    #[must_use]
    pub fn ce_over_confident(&self) -> bool {
        self.ce_high.confidence_gap() > 0.0
    }
    /// TaiLr's ECE is lower than CE's at the highest noise.
    #[must_use]
    pub fn lower_ece(&self) -> bool {
        self.ece_advantage_high() > 0.0
    }
    /// TaiLr's confidence gap is smaller than CE's at the highest noise.
    #[must_use]
    pub fn smaller_gap(&self) -> bool {
        self.tailr_high.confidence_gap() < self.ce_high.confidence_gap()
    }
    /// The ECE advantage is larger at the highest noise than at the lowest.
    #[must_use]
    pub fn grows_with_noise(&self) -> bool {
        self.ece_advantage_high() > self.ece_advantage_low()
    }
    /// All four parts hold.
    #[must_use]
    pub fn confirmed(&self) -> bool {
        self.ce_over_confident()
            && self.lower_ece()
            && self.smaller_gap()
            && self.grows_with_noise()
    }
}

/// The TaiLr claim for one `γ`, from a sweep's rows (needs CE and
/// `Tailr { gamma }` at two or more noise levels); `None` if they are missing.
///
/// ```
/// use kexue_core::loss::experiment::{check_tailr, SweepRow};
/// assert!(check_tailr(&[] as &[SweepRow], 0.5).is_none());
/// ```
#[must_use]
pub fn check_tailr(rows: &[SweepRow], gamma: f64) -> Option<TailrCheck> {
    let (low, high) = noise_range(rows)?;
    if low >= high {
        return None;
    }
    let tailr = LossKind::Tailr { gamma };
    Some(TailrCheck {
        gamma,
        low_noise: low,
        high_noise: high,
        ce_low: find(rows, low, LossKind::CrossEntropy)?.summary,
        tailr_low: find(rows, low, tailr)?.summary,
        ce_high: find(rows, high, LossKind::CrossEntropy)?.summary,
        tailr_high: find(rows, high, tailr)?.summary,
    })
}

/// The probability mass the near-miss check puts on the wrong class.
pub const NEAR_MISS_MASS: f64 = 0.9;

/// Claim of the EMO post (2023-10-13): EMO penalises near-miss classes less
/// than far ones. By the loss itself (mass [`NEAR_MISS_MASS`] on a neighbour
/// vs on the opposite class) and in the trained models (where the test
/// mistakes land, at the highest noise level).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearMissCheck {
    /// Number of classes.
    pub classes: usize,
    /// EMO loss with the mass on a neighbour.
    pub emo_neighbour: f64,
    /// EMO loss with the mass on the opposite class.
    pub emo_opposite: f64,
    /// Cross-entropy (the same for both).
    pub ce_neighbour: f64,
    /// Cross-entropy with the mass on the opposite class.
    pub ce_opposite: f64,
    /// The noise level of the trained models compared.
    pub noise: f64,
    /// Where EMO's test mistakes land.
    pub emo_errors: ErrorProfile,
    /// Where CE's test mistakes land.
    pub ce_errors: ErrorProfile,
    /// Mean EMO cost of EMO's test predictions.
    pub emo_expected_cost: f64,
    /// Mean EMO cost of CE's test predictions.
    pub ce_expected_cost: f64,
}

impl NearMissCheck {
    /// The loss charges the neighbour less than the opposite class.
    #[must_use]
    pub fn loss_prefers_near_misses(&self) -> bool {
        self.emo_neighbour < self.emo_opposite
    }
    /// The EMO-trained model's mistakes are near misses at least as often as
    /// CE's (and are no further on average).
    #[must_use]
    pub fn model_mistakes_nearer(&self) -> bool {
        match (
            self.emo_errors.near_miss_fraction(),
            self.ce_errors.near_miss_fraction(),
        ) {
            (Some(e), Some(c)) => {
                e >= c && self.emo_errors.mean_distance <= self.ce_errors.mean_distance
            }
            (None, _) => true,
            (Some(_), None) => false,
        }
    }
    /// Both parts hold.
    #[must_use]
    pub fn confirmed(&self) -> bool {
        self.loss_prefers_near_misses() && self.model_mistakes_nearer()
    }
}

/// The near-miss claim from a sweep's rows (needs CE and EMO at the highest
/// noise level); `None` if they are missing.
///
/// Errors: `classes` outside `3..=64`.
pub fn check_near_miss(rows: &[SweepRow], classes: usize) -> Result<Option<NearMissCheck>, Error> {
    let mut profile = [PredictionLoss::default(); MAX_CLASSES];
    let profile = profile
        .get_mut(..classes)
        .ok_or(invalid("classes", "must be in 3..=64"))?;
    prediction_losses(classes, 0, NEAR_MISS_MASS, profile)?;
    let (Some(neighbour), Some(opposite)) = (profile.get(1), profile.get(classes / 2)) else {
        return Ok(None);
    };
    let Some((_, high)) = noise_range(rows) else {
        return Ok(None);
    };
    let (Some(emo), Some(ce)) = (
        find(rows, high, LossKind::Emo),
        find(rows, high, LossKind::CrossEntropy),
    ) else {
        return Ok(None);
    };
    Ok(Some(NearMissCheck {
        classes,
        emo_neighbour: neighbour.emo,
        emo_opposite: opposite.emo,
        ce_neighbour: neighbour.ce,
        ce_opposite: opposite.ce,
        noise: high,
        emo_errors: emo.errors,
        ce_errors: ce.errors,
        emo_expected_cost: emo.expected_cost,
        ce_expected_cost: ce.expected_cost,
    }))
}

/// Fraction of cross-entropy's final accuracy that counts as "learned" in
/// [`check_learning_speed`].
pub const SPEED_TARGET_FRACTION: f64 = 0.9;

/// "Slow" in [`check_learning_speed`]: needing more than this many times the
/// steps cross-entropy needs.
pub const SLOW_FACTOR: f64 = 2.0;

/// First step at which a curve's accuracy reaches `accuracy`.
///
/// ```
/// use kexue_core::loss::experiment::{EvalPoint, steps_to_reach};
/// let p = |step, accuracy| EvalPoint { step, accuracy, nll: 0.0, train_loss: 0.0 };
/// let curve = [p(0, 0.1), p(10, 0.5), p(20, 0.9)];
/// assert_eq!(steps_to_reach(&curve, 0.6), Some(20));
/// assert_eq!(steps_to_reach(&curve, 0.95), None);
/// ```
#[must_use]
pub fn steps_to_reach(curve: &[EvalPoint], accuracy: f64) -> Option<usize> {
    curve
        .iter()
        .find(|p| p.accuracy >= accuracy)
        .map(|p| p.step)
}

/// Claim of the EMO post (2023-10-13): EMO alone learns slowly from scratch,
/// and mixing in cross-entropy fixes it. Measured as the steps each loss needs
/// to reach [`SPEED_TARGET_FRACTION`] of cross-entropy's final accuracy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedCheck {
    /// The accuracy to reach.
    pub target_accuracy: f64,
    /// The training budget (steps).
    pub budget: usize,
    /// Steps CE needs (`None`: not within the budget).
    pub ce_steps: Option<usize>,
    /// Steps EMO needs.
    pub emo_steps: Option<usize>,
    /// Steps EMO + CE needs.
    pub mix_steps: Option<usize>,
    /// Final accuracies: CE, EMO, EMO + CE.
    pub final_accuracy: [f64; 3],
}

fn slower_than(steps: Option<usize>, reference: usize) -> bool {
    match steps {
        None => true,
        Some(s) => s as f64 > SLOW_FACTOR * reference as f64,
    }
}

impl SpeedCheck {
    /// EMO needs more than [`SLOW_FACTOR`] × CE's steps (or never gets there).
    #[must_use]
    pub fn emo_slow(&self) -> bool {
        self.ce_steps
            .is_some_and(|ce| slower_than(self.emo_steps, ce))
    }
    /// EMO + CE is not slow by the same criterion.
    #[must_use]
    pub fn mixture_fixes(&self) -> bool {
        self.ce_steps
            .is_some_and(|ce| !slower_than(self.mix_steps, ce))
    }
    /// Both parts hold.
    #[must_use]
    pub fn confirmed(&self) -> bool {
        self.emo_slow() && self.mixture_fixes()
    }
}

/// The learning-speed claim from the training curves of CE, EMO and EMO + CE
/// (same data, same budget); `None` if a curve is empty.
#[must_use]
pub fn check_learning_speed(
    ce: &[EvalPoint],
    emo: &[EvalPoint],
    mix: &[EvalPoint],
) -> Option<SpeedCheck> {
    let ce_last = ce.last()?;
    let target = SPEED_TARGET_FRACTION * ce_last.accuracy;
    Some(SpeedCheck {
        target_accuracy: target,
        budget: ce_last.step,
        ce_steps: steps_to_reach(ce, target),
        emo_steps: steps_to_reach(emo, target),
        mix_steps: steps_to_reach(mix, target),
        final_accuracy: [ce_last.accuracy, emo.last()?.accuracy, mix.last()?.accuracy],
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn small() -> Config {
        Config {
            train_per_class: 16,
            test_per_class: 32,
            steps: 150,
            eval_every: 25,
            ..Config::default()
        }
    }

    fn run(config: Config, loss: LossKind) -> (RunResult, Vec<EvalPoint>, Vec<ReliabilityBin>) {
        let size = config.workspace_size().unwrap();
        let (mut f, mut l) = (vec![0.0_f32; size.floats], vec![0_u32; size.labels]);
        let mut exp = Experiment::new(config, &mut f, &mut l).unwrap();
        let mut bins = vec![ReliabilityBin::default(); 10];
        let mut curve = Vec::new();
        let r = exp
            .train(loss, &mut bins, |p| {
                curve.push(p);
                ControlFlow::Continue(())
            })
            .unwrap();
        (r, curve, bins)
    }

    #[test]
    fn same_seed_same_numbers_different_seed_different_numbers() {
        for loss in STANDARD_LOSSES {
            let a = run(small(), loss);
            let b = run(small(), loss);
            assert_eq!(a, b, "{loss}");
        }
        let c = run(Config { seed: 2, ..small() }, LossKind::CrossEntropy);
        assert_ne!(c.0, run(small(), LossKind::CrossEntropy).0);
    }

    #[test]
    fn exactly_the_requested_fraction_of_labels_is_flipped() {
        for (noise, kind) in [
            (0.0, NoiseKind::Uniform),
            (0.3, NoiseKind::Uniform),
            (0.3, NoiseKind::Neighbour),
            (1.0, NoiseKind::Neighbour),
        ] {
            let config = Config {
                noise,
                noise_kind: kind,
                ..small()
            };
            let size = config.workspace_size().unwrap();
            let (mut f, mut l) = (vec![0.0_f32; size.floats], vec![0_u32; size.labels]);
            let exp = Experiment::new(config, &mut f, &mut l).unwrap();
            let n = exp.train_labels().len();
            let changed = exp
                .train_labels()
                .iter()
                .zip(exp.clean_train_labels())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(changed, (noise * n as f64).round() as usize);
            assert_eq!(changed, exp.flipped());
            for (&y, &c) in exp.train_labels().iter().zip(exp.clean_train_labels()) {
                assert!(y < 8);
                if y != c && kind == NoiseKind::Neighbour {
                    assert_eq!(circular_distance(y as usize, c as usize, 8), 1);
                }
            }
        }
    }

    #[test]
    fn the_curve_has_the_documented_points_and_cancel_stops() {
        let config = small();
        let (_, curve, bins) = run(config, LossKind::CrossEntropy);
        let steps: Vec<usize> = curve.iter().map(|p| p.step).collect();
        assert_eq!(steps, [0, 25, 50, 75, 100, 125, 150]);
        assert_eq!(curve.len(), config.curve_points());
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 8 * 32);
        // Uniform start: accuracy of the first class only (ties → class 0).
        assert!((curve[0].accuracy - 1.0 / 8.0).abs() < 1e-12);
        let size = config.workspace_size().unwrap();
        let (mut f, mut l) = (vec![0.0_f32; size.floats], vec![0_u32; size.labels]);
        let mut exp = Experiment::new(config, &mut f, &mut l).unwrap();
        let mut bins = [ReliabilityBin::default(); 4];
        let err = exp
            .train(LossKind::Emo, &mut bins, |p| {
                if p.step >= 50 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap_err();
        assert_eq!(err, Error::Cancelled { step: 50 });
    }

    #[test]
    fn bad_configs_and_small_workspaces_are_errors() {
        for bad in [
            Config {
                classes: 2,
                ..small()
            },
            Config {
                classes: 65,
                ..small()
            },
            Config {
                noise: -0.1,
                ..small()
            },
            Config {
                noise: f64::NAN,
                ..small()
            },
            Config { grid: 1, ..small() },
            Config {
                steps: 0,
                ..small()
            },
            Config {
                learning_rate: f64::INFINITY,
                ..small()
            },
            Config {
                momentum: 1.0,
                ..small()
            },
            Config {
                cluster_std: 0.0,
                ..small()
            },
            Config {
                train_per_class: usize::MAX,
                ..small()
            },
        ] {
            assert!(bad.workspace_size().is_err(), "{bad:?}");
        }
        let size = small().workspace_size().unwrap();
        let (mut f, mut l) = (vec![0.0_f32; size.floats - 1], vec![0_u32; size.labels]);
        assert!(matches!(
            Experiment::new(small(), &mut f, &mut l),
            Err(Error::CapacityExceeded { .. })
        ));
        let (mut f, mut l) = (vec![0.0_f32; size.floats], vec![0_u32; size.labels]);
        let mut exp = Experiment::new(small(), &mut f, &mut l).unwrap();
        let mut bins = [ReliabilityBin::default(); 3];
        assert!(
            exp.train(LossKind::Tailr { gamma: 1.5 }, &mut bins, |_| {
                ControlFlow::Continue(())
            })
            .is_err()
        );
        assert!(
            exp.train(LossKind::CrossEntropy, &mut [], |_| ControlFlow::Continue(
                ()
            ))
            .is_err()
        );
    }

    #[test]
    fn a_huge_learning_rate_is_reported_as_divergence() {
        let config = Config {
            learning_rate: 1e38,
            ..small()
        };
        let size = config.workspace_size().unwrap();
        let (mut f, mut l) = (vec![0.0_f32; size.floats], vec![0_u32; size.labels]);
        let mut exp = Experiment::new(config, &mut f, &mut l).unwrap();
        let mut bins = [ReliabilityBin::default(); 3];
        let err = exp.train(LossKind::CrossEntropy, &mut bins, |_| {
            ControlFlow::Continue(())
        });
        assert!(matches!(err, Err(Error::Diverged { .. })), "{err:?}");
    }

    #[test]
    fn prediction_losses_rank_by_distance_for_emo_only() {
        let mut out = [PredictionLoss::default(); 8];
        prediction_losses(8, 3, 0.9, &mut out).unwrap();
        assert_eq!(out[3].distance, 0);
        for j in 0..8 {
            for i in 0..8 {
                if out[i].distance < out[j].distance {
                    assert!(out[i].emo < out[j].emo);
                }
                if i != 3 && j != 3 {
                    assert!((out[i].ce - out[j].ce).abs() < 1e-12);
                    assert!((out[i].one_minus_pt - out[j].one_minus_pt).abs() < 1e-12);
                }
            }
        }
        assert!(prediction_losses(8, 8, 0.9, &mut out).is_err());
        assert!(prediction_losses(8, 0, 1.0, &mut out).is_err());
        assert!(prediction_losses(8, 0, 0.5, &mut out[..7]).is_err());
    }

    #[test]
    fn checks_follow_their_definitions() {
        let s = |accuracy: f64, ece: f64, conf: f64| Summary {
            count: 1,
            accuracy,
            nll: 0.0,
            brier: 0.0,
            ece,
            mean_confidence: conf,
        };
        let result = |loss, summary| RunResult {
            loss,
            summary,
            errors: ErrorProfile::default(),
            expected_cost: 0.0,
            memorised: None,
        };
        let t = LossKind::Tailr { gamma: 0.5 };
        let rows = [
            SweepRow {
                noise: 0.0,
                result: result(LossKind::CrossEntropy, s(0.9, 0.02, 0.92)),
            },
            SweepRow {
                noise: 0.0,
                result: result(t, s(0.9, 0.03, 0.93)),
            },
            SweepRow {
                noise: 0.4,
                result: result(LossKind::CrossEntropy, s(0.7, 0.2, 0.9)),
            },
            SweepRow {
                noise: 0.4,
                result: result(t, s(0.75, 0.05, 0.8)),
            },
        ];
        let c = check_tailr(&rows, 0.5).unwrap();
        assert!(c.confirmed());
        assert!((c.ece_advantage_high() - 0.15).abs() < 1e-12);
        // Under-confident CE: nothing to reduce, not confirmed.
        let mut under = rows;
        under[2].result.summary = s(0.7, 0.2, 0.5);
        assert!(!check_tailr(&under, 0.5).unwrap().confirmed());
        assert!(check_tailr(&rows, 0.1).is_none());
        let p = |step, accuracy| EvalPoint {
            step,
            accuracy,
            nll: 0.0,
            train_loss: 0.0,
        };
        let ce = [p(0, 0.1), p(100, 0.85), p(200, 0.9)];
        let emo = [p(0, 0.1), p(100, 0.2), p(200, 0.5)];
        let mix = [p(0, 0.1), p(100, 0.85), p(200, 0.9)];
        let v = check_learning_speed(&ce, &emo, &mix).unwrap();
        assert_eq!(
            (v.ce_steps, v.emo_steps, v.mix_steps),
            (Some(100), None, Some(100))
        );
        assert!(v.confirmed());
        let v = check_learning_speed(&ce, &mix, &emo).unwrap();
        assert!(!v.emo_slow() && !v.mixture_fixes());
    }
}
