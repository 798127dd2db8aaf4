//! A tiny multi-layer perceptron in f32 with manual backpropagation, including
//! the gradient with respect to the **input** (what GAN discriminators and
//! ReFlow velocity fields need), over caller-owned slices: parameters,
//! gradients and scratch space all belong to the caller, nothing allocates.
//!
//! Layer `l` maps `x ∈ R^{n_in}` to `z = W x + b`, then applies the hidden
//! activation (all layers but the last, whose output is `z`). Parameters are
//! laid out layer by layer: `W` (row-major, `n_out × n_in`) then `b`.
//!
//! ```
//! use kexue_core::nn::{Activation, Mlp};
//! use rand::SeedableRng;
//! let net = Mlp::new(&[2, 8, 1], Activation::Tanh).unwrap();
//! let mut params = vec![0.0f32; net.num_params()];
//! net.init(&mut params, &mut rand::rngs::SmallRng::seed_from_u64(1)).unwrap();
//! let mut scratch = vec![0.0f32; net.scratch_len()];
//! let mut out = [0.0f32; 1];
//! net.forward(&params, &[0.5, -0.5], &mut out, &mut scratch).unwrap();
//! // dL/dout = 1: gradients of `out` with respect to parameters and input.
//! let (mut grad, mut d_in) = (vec![0.0f32; net.num_params()], [0.0f32; 2]);
//! net.backward(&params, &[0.5, -0.5], &mut scratch, &[1.0], &mut grad, &mut d_in).unwrap();
//! assert!(d_in.iter().all(|d| d.is_finite()));
//! ```

use rand::{Rng, RngExt};

use crate::math;

/// Maximum number of layers (weight matrices).
pub const MAX_LAYERS: usize = 8;

/// Errors of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Fewer than two sizes, a zero size, or a parameter count that overflows.
    InvalidArchitecture,
    /// More than [`MAX_LAYERS`] layers.
    CapacityExceeded {
        /// Layers asked for.
        needed: usize,
        /// [`MAX_LAYERS`].
        capacity: usize,
    },
    /// A slice has the wrong length (scratch: too short).
    LengthMismatch {
        /// Which slice.
        what: &'static str,
        /// Its required length (scratch: minimum).
        expected: usize,
        /// Its length.
        actual: usize,
    },
    /// A NaN or ±∞ in the named input, or produced in the named output (the
    /// output slice was written).
    NonFinite {
        /// `input`, `output`, `d_output`, `gradient` or `d_input`.
        what: &'static str,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InvalidArchitecture => f.write_str("an MLP needs ≥ 2 non-zero layer sizes"),
            Self::CapacityExceeded { needed, capacity } => {
                write!(f, "{needed} layers asked, at most {capacity}")
            }
            Self::LengthMismatch {
                what,
                expected,
                actual,
            } => write!(f, "{what} has length {actual}, expected {expected}"),
            Self::NonFinite { what } => write!(f, "{what} has a NaN or infinity"),
        }
    }
}

impl core::error::Error for Error {}

/// The hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `tanh z`.
    Tanh,
    /// `max(z, 0)`.
    Relu,
    /// `z` if `z > 0` else `slope·z`.
    LeakyRelu {
        /// Slope for `z ≤ 0`.
        slope: f32,
    },
    /// `z·σ(z)`.
    Silu,
}

impl Activation {
    /// `f(z)`.
    ///
    /// ```
    /// use kexue_core::nn::Activation;
    /// assert_eq!(Activation::Relu.apply(-2.0), 0.0);
    /// assert!((Activation::Tanh.apply(1e-4) - 1e-4).abs() < 1e-11);
    /// ```
    #[must_use]
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Self::Tanh => tanh(z),
            Self::Relu => {
                if z > 0.0 {
                    z
                } else {
                    0.0
                }
            }
            Self::LeakyRelu { slope } => {
                if z > 0.0 {
                    z
                } else {
                    slope * z
                }
            }
            Self::Silu => z * math::sigmoid(f64::from(z)) as f32,
        }
    }

    /// `f'(z)`, given `z` and `a = f(z)`.
    ///
    /// ```
    /// use kexue_core::nn::Activation;
    /// assert_eq!(Activation::Tanh.derivative(0.0, 0.0), 1.0);
    /// ```
    #[must_use]
    pub fn derivative(self, z: f32, a: f32) -> f32 {
        match self {
            Self::Tanh => 1.0 - a * a,
            Self::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::LeakyRelu { slope } => {
                if z > 0.0 {
                    1.0
                } else {
                    slope
                }
            }
            Self::Silu => {
                let s = math::sigmoid(f64::from(z));
                (s * (1.0 + f64::from(z) * (1.0 - s))) as f32
            }
        }
    }
}

/// `tanh z` from `expm1` in f64 (accurate near 0, saturating for large |z|).
fn tanh(z: f32) -> f32 {
    let e = math::exp_m1(-2.0 * f64::from(z.abs()));
    let t = (-e / (2.0 + e)) as f32;
    if z < 0.0 { -t } else { t }
}

/// Where one layer's parameters live in the flat parameter slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerShape {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Offset of `W` (`outputs × inputs`, row-major).
    pub weight_offset: usize,
    /// Offset of `b` (`outputs`), right after `W`.
    pub bias_offset: usize,
}

/// A multi-layer perceptron architecture (the parameters are the caller's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mlp {
    dims: [usize; MAX_LAYERS + 1],
    layers: usize,
    hidden: Activation,
    num_params: usize,
    act_len: usize,
    max_width: usize,
}

impl Mlp {
    /// Sizes `[n_in, h_1, …, n_out]` (2 to `MAX_LAYERS + 1` entries, all ≥ 1).
    ///
    /// ```
    /// use kexue_core::nn::{Activation, Mlp};
    /// assert_eq!(Mlp::new(&[2, 3, 1], Activation::Relu).unwrap().num_params(), 2 * 3 + 3 + 3 + 1);
    /// assert!(Mlp::new(&[2], Activation::Relu).is_err());
    /// assert!(Mlp::new(&[2, 0, 1], Activation::Relu).is_err());
    /// ```
    pub fn new(sizes: &[usize], hidden: Activation) -> Result<Self, Error> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::InvalidArchitecture);
        }
        let layers = sizes.len() - 1;
        if layers > MAX_LAYERS {
            return Err(Error::CapacityExceeded {
                needed: layers,
                capacity: MAX_LAYERS,
            });
        }
        let mut dims = [0; MAX_LAYERS + 1];
        for (d, &s) in dims.iter_mut().zip(sizes) {
            *d = s;
        }
        let mut num_params = 0usize;
        let mut act_len = 0usize;
        for w in sizes.windows(2) {
            let [a, b] = *w else {
                return Err(Error::InvalidArchitecture);
            };
            let layer = a
                .checked_add(1)
                .and_then(|a1| a1.checked_mul(b))
                .ok_or(Error::InvalidArchitecture)?;
            num_params = num_params
                .checked_add(layer)
                .ok_or(Error::InvalidArchitecture)?;
            act_len = act_len
                .checked_add(b.checked_mul(2).ok_or(Error::InvalidArchitecture)?)
                .ok_or(Error::InvalidArchitecture)?;
        }
        let max_width = sizes.iter().copied().max().unwrap_or(1);
        max_width
            .checked_mul(2)
            .and_then(|m| m.checked_add(act_len))
            .ok_or(Error::InvalidArchitecture)?;
        Ok(Self {
            dims,
            layers,
            hidden,
            num_params,
            act_len,
            max_width,
        })
    }

    /// Number of parameters.
    #[must_use]
    pub fn num_params(&self) -> usize {
        self.num_params
    }

    /// Input width.
    #[must_use]
    pub fn input_dim(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// Output width.
    #[must_use]
    pub fn output_dim(&self) -> usize {
        self.dims.get(self.layers).copied().unwrap_or(0)
    }

    /// The hidden activation.
    #[must_use]
    pub fn activation(&self) -> Activation {
        self.hidden
    }

    /// Scratch floats [`Mlp::forward`] and [`Mlp::backward`] need:
    /// `2·Σ widths` (pre- and post-activations) `+ 2·max width` (deltas).
    #[must_use]
    pub fn scratch_len(&self) -> usize {
        self.act_len + 2 * self.max_width
    }

    /// The layers, first to last.
    ///
    /// ```
    /// use kexue_core::nn::{Activation, Mlp};
    /// let net = Mlp::new(&[2, 3, 1], Activation::Tanh).unwrap();
    /// let l: Vec<_> = net.layers().collect();
    /// assert_eq!((l[1].weight_offset, l[1].bias_offset, l[1].inputs), (9, 12, 3));
    /// ```
    pub fn layers(&self) -> impl Iterator<Item = LayerShape> + '_ {
        let mut offset = 0;
        self.dims
            .windows(2)
            .take(self.layers)
            .filter_map(move |w| match *w {
                [inputs, outputs] => {
                    let s = LayerShape {
                        inputs,
                        outputs,
                        weight_offset: offset,
                        bias_offset: offset + inputs * outputs,
                    };
                    offset += (inputs + 1) * outputs;
                    Some(s)
                }
                _ => None,
            })
    }

    fn check(&self, what: &'static str, expected: usize, actual: usize) -> Result<(), Error> {
        if expected == actual {
            Ok(())
        } else {
            Err(Error::LengthMismatch {
                what,
                expected,
                actual,
            })
        }
    }

    /// Initialise: weights uniform in `±√(6/(n_in + n_out))` (Glorot; He's
    /// `±√(6/n_in)` for ReLU kinds), biases 0.
    pub fn init<R: Rng + ?Sized>(&self, params: &mut [f32], rng: &mut R) -> Result<(), Error> {
        self.check("params", self.num_params, params.len())?;
        for shape in self.layers() {
            let fan = match self.hidden {
                Activation::Relu | Activation::LeakyRelu { .. } => shape.inputs,
                _ => shape.inputs + shape.outputs,
            };
            let limit = math::sqrt(6.0 / fan as f64) as f32;
            let w = params
                .get_mut(shape.weight_offset..shape.bias_offset)
                .ok_or(Error::InvalidArchitecture)?;
            for x in w {
                *x = (2.0 * rng.random::<f32>() - 1.0) * limit;
            }
            let b = params
                .get_mut(shape.bias_offset..shape.bias_offset + shape.outputs)
                .ok_or(Error::InvalidArchitecture)?;
            b.fill(0.0);
        }
        Ok(())
    }

    /// Forward pass of one sample; keeps what [`Mlp::backward`] needs in
    /// `scratch` (length ≥ [`Mlp::scratch_len`]).
    ///
    /// Errors: lengths; [`Error::NonFinite`] for a non-finite `input` (nothing
    /// written) or `output` (non-finite parameters, or overflow).
    pub fn forward(
        &self,
        params: &[f32],
        input: &[f32],
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        self.check("params", self.num_params, params.len())?;
        self.check("input", self.input_dim(), input.len())?;
        self.check("output", self.output_dim(), output.len())?;
        if scratch.len() < self.scratch_len() {
            return Err(Error::LengthMismatch {
                what: "scratch",
                expected: self.scratch_len(),
                actual: scratch.len(),
            });
        }
        if input.iter().any(|x| !x.is_finite()) {
            return Err(Error::NonFinite { what: "input" });
        }
        let mut offset = 0;
        for (l, shape) in self.layers().enumerate() {
            let (done, rest) = scratch
                .split_at_mut_checked(offset)
                .ok_or(Error::InvalidArchitecture)?;
            let x: &[f32] = if l == 0 {
                input
            } else {
                done.get(offset - shape.inputs..)
                    .ok_or(Error::InvalidArchitecture)?
            };
            let (z, rest) = rest
                .split_at_mut_checked(shape.outputs)
                .ok_or(Error::InvalidArchitecture)?;
            let a = rest
                .get_mut(..shape.outputs)
                .ok_or(Error::InvalidArchitecture)?;
            let w = params
                .get(shape.weight_offset..shape.bias_offset)
                .ok_or(Error::InvalidArchitecture)?;
            let b = params
                .get(shape.bias_offset..shape.bias_offset + shape.outputs)
                .ok_or(Error::InvalidArchitecture)?;
            for ((zj, &bj), row) in z.iter_mut().zip(b).zip(w.chunks_exact(shape.inputs)) {
                *zj = bj + row.iter().zip(x).map(|(wi, xi)| wi * xi).sum::<f32>();
            }
            let last = l + 1 == self.layers;
            for (aj, &zj) in a.iter_mut().zip(z.iter()) {
                *aj = if last { zj } else { self.hidden.apply(zj) };
            }
            if last {
                let mut bad = false;
                for (o, &aj) in output.iter_mut().zip(a.iter()) {
                    *o = aj;
                    bad |= !aj.is_finite();
                }
                if bad {
                    return Err(Error::NonFinite { what: "output" });
                }
            }
            offset += 2 * shape.outputs;
        }
        Ok(())
    }

    /// Backward pass of the sample last given to [`Mlp::forward`] with this
    /// `scratch`: **adds** `∂L/∂params` into `grad` (so a batch accumulates)
    /// and **writes** `∂L/∂input` into `d_input` (pass an empty slice to skip
    /// it), given `d_output = ∂L/∂output`.
    ///
    /// Errors: lengths; [`Error::NonFinite`] for a non-finite `d_output`
    /// (nothing written), or if a written gradient is non-finite.
    pub fn backward(
        &self,
        params: &[f32],
        input: &[f32],
        scratch: &mut [f32],
        d_output: &[f32],
        grad: &mut [f32],
        d_input: &mut [f32],
    ) -> Result<(), Error> {
        self.check("params", self.num_params, params.len())?;
        self.check("grad", self.num_params, grad.len())?;
        self.check("input", self.input_dim(), input.len())?;
        self.check("d_output", self.output_dim(), d_output.len())?;
        if !d_input.is_empty() {
            self.check("d_input", self.input_dim(), d_input.len())?;
        }
        if scratch.len() < self.scratch_len() {
            return Err(Error::LengthMismatch {
                what: "scratch",
                expected: self.scratch_len(),
                actual: scratch.len(),
            });
        }
        if d_output.iter().any(|x| !x.is_finite()) {
            return Err(Error::NonFinite { what: "d_output" });
        }
        let (acts, deltas) = scratch
            .split_at_mut_checked(self.act_len)
            .ok_or(Error::InvalidArchitecture)?;
        let (mut cur, rest) = deltas
            .split_at_mut_checked(self.max_width)
            .ok_or(Error::InvalidArchitecture)?;
        let mut prev = rest
            .get_mut(..self.max_width)
            .ok_or(Error::InvalidArchitecture)?;
        for (c, &d) in cur.iter_mut().zip(d_output) {
            *c = d;
        }
        let mut bad = false;
        let mut end = self.act_len;
        // Walk layers last to first; `end` is one past layer l's (z, a) block.
        let mut shapes: [Option<LayerShape>; MAX_LAYERS] = [None; MAX_LAYERS];
        for (slot, s) in shapes.iter_mut().zip(self.layers()) {
            *slot = Some(s);
        }
        for (l, shape) in shapes.iter().take(self.layers).enumerate().rev() {
            let Some(shape) = *shape else {
                return Err(Error::InvalidArchitecture);
            };
            let start = end - 2 * shape.outputs;
            // Input of layer l: the input, or a_{l−1} just before this block.
            let x: &[f32] = if l == 0 {
                input
            } else {
                acts.get(start - shape.inputs..start)
                    .ok_or(Error::InvalidArchitecture)?
            };
            let delta = cur.get(..shape.outputs).ok_or(Error::InvalidArchitecture)?;
            let w = params
                .get(shape.weight_offset..shape.bias_offset)
                .ok_or(Error::InvalidArchitecture)?;
            let (gw, gb) = grad
                .get_mut(shape.weight_offset..shape.bias_offset + shape.outputs)
                .ok_or(Error::InvalidArchitecture)?
                .split_at_mut_checked(shape.inputs * shape.outputs)
                .ok_or(Error::InvalidArchitecture)?;
            for ((grow, gbj), &dj) in gw
                .chunks_exact_mut(shape.inputs)
                .zip(gb.iter_mut())
                .zip(delta)
            {
                for (g, &xi) in grow.iter_mut().zip(x) {
                    *g += dj * xi;
                    bad |= !g.is_finite();
                }
                *gbj += dj;
                bad |= !gbj.is_finite();
            }
            if l == 0 && d_input.is_empty() {
                break;
            }
            let p = prev
                .get_mut(..shape.inputs)
                .ok_or(Error::InvalidArchitecture)?;
            p.fill(0.0);
            for (row, &dj) in w.chunks_exact(shape.inputs).zip(delta) {
                for (pi, &wi) in p.iter_mut().zip(row) {
                    *pi += wi * dj;
                }
            }
            if l == 0 {
                for (di, &pi) in d_input.iter_mut().zip(p.iter()) {
                    *di = pi;
                    bad |= !pi.is_finite();
                }
            } else {
                // Multiply by f'(z_{l−1}) of the previous layer's block.
                let zp = acts
                    .get(start - 2 * shape.inputs..start - shape.inputs)
                    .ok_or(Error::InvalidArchitecture)?;
                let ap = acts
                    .get(start - shape.inputs..start)
                    .ok_or(Error::InvalidArchitecture)?;
                for ((pi, &z), &a) in p.iter_mut().zip(zp).zip(ap) {
                    *pi *= self.hidden.derivative(z, a);
                }
                core::mem::swap(&mut cur, &mut prev);
            }
            end = start;
        }
        if bad {
            return Err(Error::NonFinite { what: "gradient" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    /// Tolerances: central differences in f32 with step `FD_STEP`.
    const FD_STEP: f32 = 1e-2;
    const FD_ABS: f32 = 2e-3;
    const FD_REL: f32 = 2e-2;

    /// `L = Σ c_k·out_k`.
    fn loss(net: &Mlp, p: &[f32], x: &[f32], c: &[f32], scratch: &mut [f32]) -> f32 {
        let mut out = [0.0f32; 4];
        let out = &mut out[..net.output_dim()];
        net.forward(p, x, out, scratch).unwrap();
        out.iter().zip(c).map(|(o, c)| o * c).sum()
    }

    fn close(fd: f32, an: f32) -> bool {
        (fd - an).abs() <= FD_ABS + FD_REL * an.abs()
    }

    fn check_gradients(act: Activation, sizes: &[usize], seed: u64) {
        let net = Mlp::new(sizes, act).unwrap();
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut p = [0.0f32; 256];
        let p = &mut p[..net.num_params()];
        net.init(p, &mut rng).unwrap();
        for (i, b) in p.iter_mut().enumerate() {
            *b += 0.05 * (i % 7) as f32 - 0.15; // non-zero biases too
        }
        let x: heapless::Vec<f32, 3> =
            heapless::Vec::from_slice(&[0.7f32, -0.4, 0.25][..net.input_dim()]).unwrap();
        let c = [1.0f32, -0.5, 0.3, 0.8];
        let c = &c[..net.output_dim()];
        let mut s = [0.0f32; 128];
        let s = &mut s[..net.scratch_len()];
        let mut g = [0.0f32; 256];
        let g = &mut g[..net.num_params()];
        let mut dx = [0.0f32; 3];
        let dx = &mut dx[..net.input_dim()];
        let _ = loss(&net, p, &x, c, s);
        net.backward(p, &x, s, c, g, dx).unwrap();
        for i in 0..p.len() {
            let keep = p[i];
            p[i] = keep + FD_STEP;
            let up = loss(&net, p, &x, c, s);
            p[i] = keep - FD_STEP;
            let down = loss(&net, p, &x, c, s);
            p[i] = keep;
            let fd = (up - down) / (2.0 * FD_STEP);
            assert!(close(fd, g[i]), "{act:?} param {i}: fd {fd} vs {}", g[i]);
        }
        let mut xm = x;
        for i in 0..xm.len() {
            let keep = xm[i];
            xm[i] = keep + FD_STEP;
            let up = loss(&net, p, &xm, c, s);
            xm[i] = keep - FD_STEP;
            let down = loss(&net, p, &xm, c, s);
            xm[i] = keep;
            let fd = (up - down) / (2.0 * FD_STEP);
            assert!(close(fd, dx[i]), "{act:?} input {i}: fd {fd} vs {}", dx[i]);
        }
    }

    #[test]
    fn gradients_match_central_differences() {
        check_gradients(Activation::Tanh, &[2, 5, 4, 1], 1);
        check_gradients(Activation::Silu, &[3, 6, 2], 2);
        check_gradients(Activation::LeakyRelu { slope: 0.2 }, &[2, 7, 3], 3);
        check_gradients(Activation::Relu, &[3, 4, 4, 2], 4);
        check_gradients(Activation::Tanh, &[2, 1], 5); // a single linear layer
    }

    #[test]
    fn backward_accumulates_and_can_skip_input_gradient() {
        let net = Mlp::new(&[2, 3, 1], Activation::Tanh).unwrap();
        let mut rng = SmallRng::seed_from_u64(9);
        let mut p = [0.0f32; 13];
        net.init(&mut p, &mut rng).unwrap();
        let mut s = [0.0f32; 16];
        let mut out = [0.0f32];
        net.forward(&p, &[0.3, 0.1], &mut out, &mut s).unwrap();
        let mut g1 = [0.0f32; 13];
        net.backward(&p, &[0.3, 0.1], &mut s, &[1.0], &mut g1, &mut [])
            .unwrap();
        let mut g2 = g1;
        net.backward(&p, &[0.3, 0.1], &mut s, &[1.0], &mut g2, &mut [])
            .unwrap();
        for (a, b) in g1.iter().zip(&g2) {
            assert_eq!(2.0 * a, *b);
        }
    }

    #[test]
    fn errors_instead_of_panics_or_nans() {
        let net = Mlp::new(&[2, 3, 1], Activation::Relu).unwrap();
        let p = [0.1f32; 13];
        let mut s = [0.0f32; 16];
        let mut out = [0.0f32];
        assert_eq!(
            net.forward(&p, &[f32::NAN, 0.0], &mut out, &mut s),
            Err(Error::NonFinite { what: "input" })
        );
        assert!(matches!(
            net.forward(&p, &[0.0, 0.0], &mut out, &mut s[..5]),
            Err(Error::LengthMismatch {
                what: "scratch",
                ..
            })
        ));
        assert!(matches!(
            net.forward(&p[..12], &[0.0, 0.0], &mut out, &mut s),
            Err(Error::LengthMismatch { what: "params", .. })
        ));
        let mut bad = p;
        bad[12] = f32::INFINITY;
        assert_eq!(
            net.forward(&bad, &[0.0, 0.0], &mut out, &mut s),
            Err(Error::NonFinite { what: "output" })
        );
        net.forward(&p, &[0.0, 0.0], &mut out, &mut s).unwrap();
        let mut g = [0.0f32; 13];
        assert_eq!(
            net.backward(&p, &[0.0, 0.0], &mut s, &[f32::NAN], &mut g, &mut []),
            Err(Error::NonFinite { what: "d_output" })
        );
        assert!(matches!(
            net.backward(&p, &[0.0, 0.0], &mut s, &[1.0], &mut g, &mut [0.0; 3]),
            Err(Error::LengthMismatch {
                what: "d_input",
                ..
            })
        ));
        assert_eq!(
            Mlp::new(&[1; 10], Activation::Relu),
            Err(Error::CapacityExceeded {
                needed: 9,
                capacity: MAX_LAYERS
            })
        );
        assert_eq!(
            Mlp::new(&[usize::MAX, 2], Activation::Relu),
            Err(Error::InvalidArchitecture)
        );
    }

    #[test]
    fn tanh_is_accurate_and_odd() {
        for z in [-20.0f32, -1.0, -1e-5, 0.0, 1e-5, 0.5, 3.0, 40.0] {
            let want = libm::tanhf(z);
            assert!(
                (tanh(z) - want).abs() <= 2.0 * f32::EPSILON * want.abs().max(f32::MIN_POSITIVE)
            );
            assert_eq!(tanh(-z), -tanh(z));
        }
    }
}
