//! What the optimisers train on: the 2-D test functions (Rosenbrock, Beale,
//! a rotated ill-conditioned quadratic, a noisy quadratic with injected RNG)
//! and a small network ([`crate::nn::Mlp`]) classifying two spirals.
//!
//! A [`Task`] declares its parameter tensors ([`Layout`]) and computes a
//! (mini-batch) loss and gradient from f32 parameters; the driver
//! [`super::train()`] does the rest.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use super::{Error, ParamKind};
use crate::math;
use crate::nn::Mlp;

/// Maximum number of tensors in a [`Layout`].
pub const MAX_TENSORS: usize = 16;

/// One parameter tensor: its kind and length. Tensors are contiguous in θ,
/// in layout order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSpec {
    /// How the optimiser treats it.
    pub kind: ParamKind,
    /// Number of parameters.
    pub len: usize,
}

/// The tensors of a task (fixed capacity, `Copy`).
///
/// ```
/// use kexue_core::optim::{ParamKind, tasks::{Layout, TensorSpec}};
/// let mut l = Layout::default();
/// l.push(TensorSpec { kind: ParamKind::Matrix, len: 6 }).unwrap();
/// l.push(TensorSpec { kind: ParamKind::Bias, len: 3 }).unwrap();
/// assert_eq!((l.len(), l.total()), (2, 9));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    specs: [TensorSpec; MAX_TENSORS],
    len: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            specs: [TensorSpec {
                kind: ParamKind::Plain,
                len: 0,
            }; MAX_TENSORS],
            len: 0,
        }
    }
}

impl Layout {
    /// Append a tensor; [`Error::CapacityExceeded`] beyond [`MAX_TENSORS`].
    pub fn push(&mut self, spec: TensorSpec) -> Result<(), Error> {
        let slot = self
            .specs
            .get_mut(self.len)
            .ok_or(Error::CapacityExceeded {
                what: "tensors in a layout",
                needed: self.len + 1,
                capacity: MAX_TENSORS,
            })?;
        *slot = spec;
        self.len += 1;
        Ok(())
    }

    /// The tensors.
    pub fn iter(&self) -> impl Iterator<Item = TensorSpec> + '_ {
        self.specs.iter().copied().take(self.len)
    }

    /// Number of tensors.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// No tensors.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total number of parameters.
    #[must_use]
    pub fn total(&self) -> usize {
        self.iter().map(|s| s.len).sum()
    }
}

/// Something to minimise.
pub trait Task {
    /// The parameter tensors.
    fn layout(&self) -> Layout;
    /// Initial parameters.
    fn init<R: Rng + ?Sized>(&self, theta: &mut [f32], rng: &mut R) -> Result<(), Error>;
    /// A (mini-batch, possibly noisy) loss at `theta`, writing its gradient.
    /// A non-finite `theta` gives a NaN loss and gradient (not an error): that
    /// is what the optimisers' NaN handling is for.
    fn loss_and_grad<R: Rng + ?Sized>(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        rng: &mut R,
    ) -> Result<f32, Error>;
    /// The full, noise-free loss (NaN for non-finite `theta`).
    fn loss(&mut self, theta: &[f32]) -> Result<f32, Error>;
}

/// The 2-D test functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function2d {
    /// `(1 − x)² + 100 (y − x²)²`, minimum 0 at (1, 1).
    Rosenbrock,
    /// `(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²`, minimum 0
    /// at (3, 0.5).
    Beale,
    /// `½(u² + 50 v²)`, `u = (x + y)/√2`, `v = (x − y)/√2`: condition number
    /// 50, rotated 45° so coordinate-wise methods see no axis-aligned valley.
    IllConditioned,
    /// `½(x² + y²)` whose gradient carries N(0, σ²) noise per coordinate.
    NoisyQuadratic,
}

/// Condition number of [`Function2d::IllConditioned`].
pub const CONDITION: f64 = 50.0;

impl Function2d {
    /// All four.
    pub const ALL: [Self; 4] = [
        Self::Rosenbrock,
        Self::Beale,
        Self::IllConditioned,
        Self::NoisyQuadratic,
    ];

    /// Short name (`rosenbrock`, `beale`, `quadratic`, `noisy`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Rosenbrock => "rosenbrock",
            Self::Beale => "beale",
            Self::IllConditioned => "quadratic",
            Self::NoisyQuadratic => "noisy",
        }
    }

    /// `f(x, y)`.
    ///
    /// ```
    /// use kexue_core::optim::tasks::Function2d;
    /// for f in Function2d::ALL {
    ///     let (x, y, v) = f.minimum();
    ///     assert!((f.value(x, y) - v).abs() < 1e-12);
    /// }
    /// ```
    #[must_use]
    pub fn value(self, x: f64, y: f64) -> f64 {
        match self {
            Self::Rosenbrock => (1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x),
            Self::Beale => {
                let a = 1.5 - x + x * y;
                let b = 2.25 - x + x * y * y;
                let c = 2.625 - x + x * y * y * y;
                a * a + b * b + c * c
            }
            Self::IllConditioned => {
                let (u, v) = rotate(x, y);
                0.5 * (u * u + CONDITION * v * v)
            }
            Self::NoisyQuadratic => 0.5 * (x * x + y * y),
        }
    }

    /// `∇f(x, y)` (noise-free).
    ///
    /// ```
    /// use kexue_core::optim::tasks::Function2d;
    /// assert_eq!(Function2d::Rosenbrock.gradient(1.0, 1.0), (0.0, 0.0));
    /// ```
    #[must_use]
    pub fn gradient(self, x: f64, y: f64) -> (f64, f64) {
        match self {
            Self::Rosenbrock => (
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ),
            Self::Beale => {
                let a = 1.5 - x + x * y;
                let b = 2.25 - x + x * y * y;
                let c = 2.625 - x + x * y * y * y;
                (
                    2.0 * a * (y - 1.0) + 2.0 * b * (y * y - 1.0) + 2.0 * c * (y * y * y - 1.0),
                    2.0 * a * x + 2.0 * b * 2.0 * x * y + 2.0 * c * 3.0 * x * y * y,
                )
            }
            Self::IllConditioned => {
                let (u, v) = rotate(x, y);
                let (gu, gv) = (u, CONDITION * v);
                let s = core::f64::consts::FRAC_1_SQRT_2;
                (s * (gu + gv), s * (gu - gv))
            }
            Self::NoisyQuadratic => (x, y),
        }
    }

    /// The usual starting point.
    #[must_use]
    pub fn start(self) -> (f32, f32) {
        match self {
            Self::Rosenbrock => (-1.2, 1.0),
            Self::Beale => (1.0, 1.5),
            Self::IllConditioned => (-2.0, 1.0),
            Self::NoisyQuadratic => (2.0, -1.5),
        }
    }

    /// The minimiser and minimum value.
    #[must_use]
    pub fn minimum(self) -> (f64, f64, f64) {
        match self {
            Self::Rosenbrock => (1.0, 1.0, 0.0),
            Self::Beale => (3.0, 0.5, 0.0),
            Self::IllConditioned | Self::NoisyQuadratic => (0.0, 0.0, 0.0),
        }
    }

    /// A plotting window `((x_min, x_max), (y_min, y_max))` holding the start
    /// and the minimum.
    #[must_use]
    pub fn bounds(self) -> ((f64, f64), (f64, f64)) {
        match self {
            Self::Rosenbrock => ((-2.0, 2.0), (-1.0, 3.0)),
            Self::Beale => ((-1.0, 4.5), (-1.5, 2.5)),
            Self::IllConditioned => ((-2.5, 2.5), (-2.5, 2.5)),
            Self::NoisyQuadratic => ((-2.5, 2.5), (-2.5, 2.5)),
        }
    }
}

fn rotate(x: f64, y: f64) -> (f64, f64) {
    let s = core::f64::consts::FRAC_1_SQRT_2;
    (s * (x + y), s * (x - y))
}

/// A 2-D test function as a [`Task`]: one `Plain` tensor `(x, y)`.
///
/// ```
/// use kexue_core::optim::tasks::{Function2d, Task, Task2d};
/// let mut t = Task2d::new(Function2d::Rosenbrock, 0.0).unwrap();
/// use rand::SeedableRng;
/// let mut g = [0.0f32; 2];
/// let mut rng = rand::rngs::SmallRng::seed_from_u64(0);
/// let loss = t.loss_and_grad(&[1.0, 1.0], &mut g, &mut rng).unwrap();
/// assert_eq!((loss, g), (0.0, [0.0, 0.0]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Task2d {
    function: Function2d,
    noise: f32,
}

impl Task2d {
    /// `noise` is σ of the gradient noise of [`Function2d::NoisyQuadratic`]
    /// (ignored by the others); it must be finite and ≥ 0.
    pub fn new(function: Function2d, noise: f32) -> Result<Self, Error> {
        if !(noise.is_finite() && noise >= 0.0) {
            return Err(Error::InvalidHyperparameter { name: "noise" });
        }
        Ok(Self { function, noise })
    }

    /// The function.
    #[must_use]
    pub fn function(&self) -> Function2d {
        self.function
    }
}

fn xy(theta: &[f32]) -> Result<(f64, f64), Error> {
    match *theta {
        [x, y] => Ok((f64::from(x), f64::from(y))),
        _ => Err(Error::LengthMismatch {
            what: "parameters",
            expected: 2,
            actual: theta.len(),
        }),
    }
}

impl Task for Task2d {
    fn layout(&self) -> Layout {
        let mut l = Layout::default();
        // Capacity 16 > 1: cannot fail.
        let _ = l.push(TensorSpec {
            kind: ParamKind::Plain,
            len: 2,
        });
        l
    }

    fn init<R: Rng + ?Sized>(&self, theta: &mut [f32], _rng: &mut R) -> Result<(), Error> {
        let (x, y) = self.function.start();
        match theta {
            [a, b] => {
                *a = x;
                *b = y;
                Ok(())
            }
            _ => Err(Error::LengthMismatch {
                what: "parameters",
                expected: 2,
                actual: theta.len(),
            }),
        }
    }

    fn loss_and_grad<R: Rng + ?Sized>(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        rng: &mut R,
    ) -> Result<f32, Error> {
        let (x, y) = xy(theta)?;
        let (mut gx, mut gy) = self.function.gradient(x, y);
        if self.function == Function2d::NoisyQuadratic && self.noise > 0.0 {
            gx += f64::from(self.noise) * rng.sample::<f64, _>(StandardNormal);
            gy += f64::from(self.noise) * rng.sample::<f64, _>(StandardNormal);
        }
        match grad {
            [a, b] => {
                *a = gx as f32;
                *b = gy as f32;
            }
            _ => {
                return Err(Error::LengthMismatch {
                    what: "gradient",
                    expected: 2,
                    actual: grad.len(),
                });
            }
        }
        Ok(self.function.value(x, y) as f32)
    }

    fn loss(&mut self, theta: &[f32]) -> Result<f32, Error> {
        let (x, y) = xy(theta)?;
        Ok(self.function.value(x, y) as f32)
    }
}

/// Two interleaved spirals of `points.len() / 2` points each, ≈ 1.05 turns
/// (6.6 rad), radius 0.3 → 3, with N(0, noise²) jitter: even indices class 0, odd
/// indices class 1 (the point reflected through the origin).
///
/// The rotation between consecutive points is the rational unit vector
/// `((1 − t²)/(1 + t²), 2t/(1 + t²))`, so generation needs no trigonometry.
///
/// ```
/// use kexue_core::optim::tasks::two_spirals;
/// use rand::SeedableRng;
/// let (mut p, mut y) = ([[0.0f32; 2]; 20], [0.0f32; 20]);
/// two_spirals(0.0, &mut rand::rngs::SmallRng::seed_from_u64(0), &mut p, &mut y).unwrap();
/// assert_eq!((y[0], y[1]), (0.0, 1.0));
/// assert_eq!(p[1], [-p[0][0], -p[0][1]]);
/// ```
pub fn two_spirals<R: Rng + ?Sized>(
    noise: f32,
    rng: &mut R,
    points: &mut [[f32; 2]],
    labels: &mut [f32],
) -> Result<(), Error> {
    if labels.len() != points.len() {
        return Err(Error::LengthMismatch {
            what: "labels",
            expected: points.len(),
            actual: labels.len(),
        });
    }
    let per_class = points.len() / 2;
    if per_class < 8 || !points.len().is_multiple_of(2) {
        return Err(Error::InvalidHyperparameter {
            name: "spiral points (even, ≥ 16)",
        });
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::InvalidHyperparameter { name: "noise" });
    }
    // tan(a) by its Taylor series, a = half the angle step (≤ 0.69 rad).
    let a = 3.3 / per_class as f64;
    let t = a + a * a * a / 3.0 + 2.0 * libm_pow5(a) / 15.0 + 17.0 * libm_pow5(a) * a * a / 315.0;
    let (c, s) = ((1.0 - t * t) / (1.0 + t * t), 2.0 * t / (1.0 + t * t));
    let (mut ux, mut uy) = (1.0f64, 0.0f64);
    for (i, (pair, lab)) in points
        .chunks_exact_mut(2)
        .zip(labels.chunks_exact_mut(2))
        .enumerate()
    {
        let r = 0.3 + 2.7 * i as f64 / (per_class - 1) as f64;
        let (x, y) = (r * ux, r * uy);
        if let ([p0, p1], [l0, l1]) = (pair, lab) {
            let j0: f64 = rng.sample(StandardNormal);
            let j1: f64 = rng.sample(StandardNormal);
            *p0 = [
                (x + f64::from(noise) * j0) as f32,
                (y + f64::from(noise) * j1) as f32,
            ];
            let j2: f64 = rng.sample(StandardNormal);
            let j3: f64 = rng.sample(StandardNormal);
            *p1 = [
                (-x + f64::from(noise) * j2) as f32,
                (-y + f64::from(noise) * j3) as f32,
            ];
            *l0 = 0.0;
            *l1 = 1.0;
        }
        (ux, uy) = (c * ux - s * uy, s * ux + c * uy);
    }
    Ok(())
}

fn libm_pow5(a: f64) -> f64 {
    a * a * a * a * a
}

/// Binary classification of two spirals by an [`Mlp`] (2 inputs, 1 logit),
/// mean logistic loss `softplus(z) − y·z` over a mini-batch of `batch`
/// points drawn uniformly with replacement from the injected RNG.
/// Weights are `Matrix` tensors, biases `Bias` tensors.
#[derive(Debug)]
pub struct SpiralTask<'a> {
    net: Mlp,
    points: &'a [[f32; 2]],
    labels: &'a [f32],
    batch: usize,
    scratch: &'a mut [f32],
}

impl<'a> SpiralTask<'a> {
    /// Validate: a 2 → … → 1 network, matching non-empty data, `batch ≥ 1`,
    /// scratch of [`Mlp::scratch_len`].
    pub fn new(
        net: Mlp,
        points: &'a [[f32; 2]],
        labels: &'a [f32],
        batch: usize,
        scratch: &'a mut [f32],
    ) -> Result<Self, Error> {
        if net.input_dim() != 2 || net.output_dim() != 1 {
            return Err(Error::InvalidHyperparameter {
                name: "network must map 2 inputs to 1 logit",
            });
        }
        if points.is_empty() || labels.len() != points.len() {
            return Err(Error::LengthMismatch {
                what: "labels",
                expected: points.len(),
                actual: labels.len(),
            });
        }
        if batch == 0 {
            return Err(Error::InvalidHyperparameter { name: "batch" });
        }
        if scratch.len() < net.scratch_len() {
            return Err(Error::LengthMismatch {
                what: "scratch",
                expected: net.scratch_len(),
                actual: scratch.len(),
            });
        }
        Ok(Self {
            net,
            points,
            labels,
            batch,
            scratch,
        })
    }

    /// The network.
    #[must_use]
    pub fn net(&self) -> &Mlp {
        &self.net
    }

    /// Fraction of points classified correctly (logit > 0 ⇔ class 1).
    pub fn accuracy(&mut self, theta: &[f32]) -> Result<f32, Error> {
        let mut right = 0usize;
        for (p, &y) in self.points.iter().zip(self.labels) {
            let mut out = [0.0f32];
            match self.net.forward(theta, p, &mut out, self.scratch) {
                Ok(()) => {}
                Err(crate::nn::Error::NonFinite { .. }) => return Ok(f32::NAN),
                Err(e) => return Err(e.into()),
            }
            let [z] = out;
            right += usize::from((z > 0.0) == (y > 0.5));
        }
        Ok(right as f32 / self.points.len() as f32)
    }

    /// Loss and `dL/dz` of one point.
    fn point(&mut self, theta: &[f32], i: usize) -> Result<Option<(f32, f32)>, Error> {
        let (Some(p), Some(&y)) = (self.points.get(i), self.labels.get(i)) else {
            return Err(Error::LengthMismatch {
                what: "labels",
                expected: self.points.len(),
                actual: self.labels.len(),
            });
        };
        let mut out = [0.0f32];
        match self.net.forward(theta, p, &mut out, self.scratch) {
            Ok(()) => {}
            Err(crate::nn::Error::NonFinite { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let [z] = out;
        let z64 = f64::from(z);
        // softplus(z) − y z = −log σ(z) + (1 − y) z.
        let loss = -math::log_sigmoid(z64) + (1.0 - f64::from(y)) * z64;
        let dz = math::sigmoid(z64) - f64::from(y);
        Ok(Some((loss as f32, dz as f32)))
    }
}

impl Task for SpiralTask<'_> {
    fn layout(&self) -> Layout {
        let mut l = Layout::default();
        for s in self.net.layers() {
            // At most 2 × MAX_LAYERS = 16 tensors: cannot fail.
            let _ = l.push(TensorSpec {
                kind: ParamKind::Matrix,
                len: s.inputs * s.outputs,
            });
            let _ = l.push(TensorSpec {
                kind: ParamKind::Bias,
                len: s.outputs,
            });
        }
        l
    }

    fn init<R: Rng + ?Sized>(&self, theta: &mut [f32], rng: &mut R) -> Result<(), Error> {
        Ok(self.net.init(theta, rng)?)
    }

    fn loss_and_grad<R: Rng + ?Sized>(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        rng: &mut R,
    ) -> Result<f32, Error> {
        if grad.len() != self.net.num_params() {
            return Err(Error::LengthMismatch {
                what: "gradient",
                expected: self.net.num_params(),
                actual: grad.len(),
            });
        }
        grad.fill(0.0);
        let scale = 1.0 / self.batch as f32;
        let mut total = 0.0f64;
        for _ in 0..self.batch {
            let i = rng.random_range(0..self.points.len());
            let Some((loss, dz)) = self.point(theta, i)? else {
                grad.fill(f32::NAN);
                return Ok(f32::NAN);
            };
            total += f64::from(loss);
            let p = self.points.get(i).copied().unwrap_or_default();
            match self
                .net
                .backward(theta, &p, self.scratch, &[dz * scale], grad, &mut [])
            {
                Ok(()) => {}
                Err(crate::nn::Error::NonFinite { .. }) => {
                    grad.fill(f32::NAN);
                    return Ok(f32::NAN);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok((total / self.batch as f64) as f32)
    }

    fn loss(&mut self, theta: &[f32]) -> Result<f32, Error> {
        let mut total = 0.0f64;
        for i in 0..self.points.len() {
            match self.point(theta, i)? {
                Some((l, _)) => total += f64::from(l),
                None => return Ok(f32::NAN),
            }
        }
        Ok((total / self.points.len() as f64) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    /// Tolerances.
    const FD_STEP: f64 = 1e-6;
    const FD_REL: f64 = 1e-6;
    const SPIRAL_FD_STEP: f32 = 1e-2;
    const SPIRAL_FD_ABS: f32 = 2e-3;

    #[test]
    fn analytic_gradients_match_central_differences() {
        for f in Function2d::ALL {
            for &(x, y) in &[(-1.2, 1.0), (0.3, -0.7), (2.0, 0.4)] {
                let (gx, gy) = f.gradient(x, y);
                let fx = (f.value(x + FD_STEP, y) - f.value(x - FD_STEP, y)) / (2.0 * FD_STEP);
                let fy = (f.value(x, y + FD_STEP) - f.value(x, y - FD_STEP)) / (2.0 * FD_STEP);
                assert!(
                    (fx - gx).abs() <= FD_REL * (1.0 + gx.abs()),
                    "{f:?} x at ({x},{y})"
                );
                assert!(
                    (fy - gy).abs() <= FD_REL * (1.0 + gy.abs()),
                    "{f:?} y at ({x},{y})"
                );
            }
            let (mx, my, _) = f.minimum();
            assert_eq!(f.gradient(mx, my), (0.0, 0.0));
        }
    }

    #[test]
    fn noisy_quadratic_noise_is_seeded_and_zero_mean() {
        let mut t = Task2d::new(Function2d::NoisyQuadratic, 1.0).unwrap();
        let mut rng = SmallRng::seed_from_u64(3);
        let mut g = [0.0f32; 2];
        let mut sum = 0.0f64;
        const N: usize = 4000;
        for _ in 0..N {
            t.loss_and_grad(&[0.0, 0.0], &mut g, &mut rng).unwrap();
            sum += f64::from(g[0]);
        }
        // Mean of N standard normals: |mean| < 4/√N with overwhelming probability.
        assert!((sum / N as f64).abs() < 4.0 / (N as f64).sqrt());
        assert!(Task2d::new(Function2d::NoisyQuadratic, f32::NAN).is_err());
    }

    #[test]
    fn spiral_task_gradient_matches_central_differences() {
        let net = Mlp::new(&[2, 6, 1], Activation::Tanh).unwrap();
        let mut pts = [[0.0f32; 2]; 32];
        let mut lab = [0.0f32; 32];
        two_spirals(0.05, &mut SmallRng::seed_from_u64(1), &mut pts, &mut lab).unwrap();
        let mut scratch = [0.0f32; 64];
        let mut task = SpiralTask::new(net, &pts, &lab, 8, &mut scratch).unwrap();
        let mut theta = [0.0f32; 25];
        task.init(&mut theta, &mut SmallRng::seed_from_u64(2))
            .unwrap();
        let mut g = [0.0f32; 25];
        let l0 = task
            .loss_and_grad(&theta, &mut g, &mut SmallRng::seed_from_u64(5))
            .unwrap();
        assert!(l0.is_finite());
        for i in 0..theta.len() {
            let keep = theta[i];
            let mut scratch_g = [0.0f32; 25];
            theta[i] = keep + SPIRAL_FD_STEP;
            let up = task
                .loss_and_grad(&theta, &mut scratch_g, &mut SmallRng::seed_from_u64(5))
                .unwrap();
            theta[i] = keep - SPIRAL_FD_STEP;
            let down = task
                .loss_and_grad(&theta, &mut scratch_g, &mut SmallRng::seed_from_u64(5))
                .unwrap();
            theta[i] = keep;
            let fd = (up - down) / (2.0 * SPIRAL_FD_STEP);
            assert!(
                (fd - g[i]).abs() <= SPIRAL_FD_ABS,
                "param {i}: {fd} vs {}",
                g[i]
            );
        }
        let mut nan_theta = theta;
        nan_theta[0] = f32::NAN;
        assert!(
            task.loss_and_grad(&nan_theta, &mut g, &mut SmallRng::seed_from_u64(5))
                .unwrap()
                .is_nan()
        );
        assert!(g.iter().all(|x| x.is_nan()));
        assert!(task.loss(&nan_theta).unwrap().is_nan());
    }

    #[test]
    fn spirals_validate_their_buffers() {
        let mut rng = SmallRng::seed_from_u64(0);
        let mut p = [[0.0f32; 2]; 10];
        let mut y = [0.0f32; 10];
        assert!(two_spirals(0.0, &mut rng, &mut p, &mut y).is_err()); // < 16 points
        let mut p = [[0.0f32; 2]; 16];
        assert!(two_spirals(0.0, &mut rng, &mut p, &mut y).is_err()); // label length
        let mut y = [0.0f32; 16];
        two_spirals(0.0, &mut rng, &mut p, &mut y).unwrap();
        // Radius grows from 0.3 to 3.
        let r = |q: [f32; 2]| libm::sqrtf(q[0] * q[0] + q[1] * q[1]);
        assert!((r(p[0]) - 0.3).abs() < 1e-6 && (r(p[14]) - 3.0).abs() < 1e-5);
    }
}
