//! Unit tests of the losses: every gradient against central finite
//! differences on the `f64` path (the same generic code as the `f32` path,
//! instantiated with `T = f64`), over random cases including ±1e4 logit
//! spreads; the identities between the losses; error cases; metrics.

#![allow(
    clippy::needless_range_loop,
    reason = "index loops mirror the formulas in these tests"
)]

use super::*;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Tolerances of this module (one table; no bare literals in assertions).
mod tol {
    /// Finite-difference step (the actual step `(z+h) − (z−h)` is used).
    pub const FD_STEP: f64 = 1e-5;
    /// Finite-difference agreement: absolute part (covers loss rounding of
    /// ~1e-12 at |L| ~ 2e4, divided by the step).
    pub const FD_ABS: f64 = 1e-6;
    /// Finite-difference agreement: relative part.
    pub const FD_REL: f64 = 1e-6;
    /// Two f64 code paths computing the same quantity.
    pub const SAME: f64 = 1e-12;
    /// TaiLr at γ = 1 − 1e-9 against its γ → 1 limit.
    pub const GAMMA_LIMIT: f64 = 1e-8;
    /// Relative accuracy of tiny losses (`q` ~ 1e-17).
    pub const TINY_REL: f64 = 1e-12;
    /// An O(1) quantity through one f32 `exp` (relative rounding 6e-8).
    pub const F32_EXP: f64 = 1e-6;
}

const MAX_N: usize = 16;
const CASES: usize = 300;

type Rng = Xoshiro256PlusPlus;

/// One random test case: logits, a target, unit embeddings (d = 3) and a soft
/// label, all in fixed-size arrays.
struct Case {
    n: usize,
    logits: [f64; MAX_N],
    target: usize,
    emb: [f64; 3 * MAX_N],
    label: [f64; MAX_N],
}

fn random_case(rng: &mut Rng) -> Case {
    let n = rng.random_range(2..=12_usize);
    let spread = [1.0, 10.0, 1e4][rng.random_range(0..3_usize)];
    let mut logits = [0.0; MAX_N];
    for z in logits.iter_mut().take(n) {
        *z = spread * rng.random_range(-1.0..1.0);
    }
    // Extreme spreads saturate the softmax; put a few logits near the top so
    // that the gradients there are not all 0 and ±1.
    if spread > 100.0 {
        let top = logits
            .iter()
            .take(n)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        for _ in 0..rng.random_range(1..3_usize) {
            let k = rng.random_range(0..n);
            logits[k] = top - rng.random_range(0.0..3.0);
        }
    }
    let target = rng.random_range(0..n);
    let mut emb = [0.0; 3 * MAX_N];
    for row in emb.chunks_exact_mut(3).take(n) {
        loop {
            for x in row.iter_mut() {
                *x = rng.random_range(-1.0..1.0);
            }
            let norm = math::sqrt(row.iter().map(|x| x * x).sum());
            if norm > 0.1 {
                for x in row.iter_mut() {
                    *x /= norm;
                }
                break;
            }
        }
    }
    let mut label = [0.0; MAX_N];
    let mut sum = 0.0;
    for l in label.iter_mut().take(n) {
        *l = rng.random_range(0.0..1.0);
        sum += *l;
    }
    for l in label.iter_mut().take(n) {
        *l /= sum;
    }
    Case {
        n,
        logits,
        target,
        emb,
        label,
    }
}

/// Compare `grad` (from `f`) with central finite differences of `f`'s value.
/// A loss evaluated on the f64 path: value, gradient into the slice.
type LossFn<'a> = &'a dyn Fn(&[f64], &mut [f64]) -> Result<f64, Error>;

fn check_gradient(what: &str, z: &[f64], f: LossFn<'_>) {
    let n = z.len();
    let mut grad = [0.0; MAX_N];
    let mut scratch = [0.0; MAX_N];
    f(z, &mut grad[..n]).unwrap();
    let mut zz = [0.0; MAX_N];
    for k in 0..n {
        zz[..n].copy_from_slice(z);
        zz[k] = z[k] + tol::FD_STEP;
        let hi = zz[k];
        let f_hi = f(&zz[..n], &mut scratch[..n]).unwrap();
        zz[k] = z[k] - tol::FD_STEP;
        let lo = zz[k];
        let f_lo = f(&zz[..n], &mut scratch[..n]).unwrap();
        let fd = (f_hi - f_lo) / (hi - lo);
        let err = (fd - grad[k]).abs();
        assert!(
            err <= tol::FD_ABS + tol::FD_REL * fd.abs().max(grad[k].abs()),
            "{what}: d/dz[{k}] analytic {} vs finite difference {fd} (logits {z:?})",
            grad[k]
        );
    }
}

#[test]
fn every_gradient_matches_finite_differences() {
    let mut rng = Rng::seed_from_u64(20230314);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let z = &c.logits[..n];
        let t = c.target;
        let emb = UnitEmbeddings::from_unit_rows(&c.emb[..3 * n], 3).unwrap();
        let label = &c.label[..n];
        check_gradient("cross-entropy", z, &|z, g| cross_entropy_loss(z, t, g));
        for gamma in [0.0, 0.1, 0.5, 0.8, 1.0 - 1e-6, 1.0] {
            check_gradient("tailr", z, &|z, g| tailr_loss(z, t, gamma, g));
        }
        check_gradient("1 - p_t", z, &|z, g| one_minus_pt_loss(z, t, g));
        check_gradient("emo", z, &|z, g| emo_loss(z, t, &emb, g));
        for ce_weight in [0.3, 1.0] {
            let mix = Mixture::Fixed { ce_weight };
            check_gradient("emo+ce fixed", z, &|z, g| emo_ce_loss(z, t, &emb, mix, g));
        }
        check_gradient("emo soft-label bound", z, &|z, g| {
            let mut u = [0.0; 3];
            emo_soft_label_bound(z, label, &emb, &mut u, g)
        });
    }
}

#[test]
fn balanced_mixture_is_ce_plus_rescaled_emo_with_the_ratio_frozen() {
    let mut rng = Rng::seed_from_u64(20231013);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let z = &c.logits[..n];
        let t = c.target;
        let emb = UnitEmbeddings::from_unit_rows(&c.emb[..3 * n], 3).unwrap();
        let (mut g, mut g_ce, mut g_emo) = ([0.0; MAX_N], [0.0; MAX_N], [0.0; MAX_N]);
        let value = emo_ce_loss(z, t, &emb, Mixture::Balanced, &mut g[..n]).unwrap();
        let ce = cross_entropy_loss(z, t, &mut g_ce[..n]).unwrap();
        let emo = emo_loss(z, t, &emb, &mut g_emo[..n]).unwrap();
        let ratio = ce / emo.max(BALANCED_EMO_FLOOR);
        assert!((value - 0.5 * (ce + ratio * emo)).abs() <= tol::SAME * (1.0 + ce));
        // The gradient is that of ½(CE + r·EMO) with r a constant.
        check_gradient("balanced (frozen ratio)", z, &|z, g| {
            let mut scratch = [0.0; MAX_N];
            let ce = cross_entropy_loss(z, t, g)?;
            let emo = emo_loss(z, t, &emb, &mut scratch[..z.len()])?;
            for (gi, si) in g.iter_mut().zip(&scratch) {
                *gi = 0.5 * (*gi + ratio * si);
            }
            Ok(0.5 * (ce + ratio * emo))
        });
        for k in 0..n {
            let want = 0.5 * (g_ce[k] + ratio * g_emo[k]);
            assert!((g[k] - want).abs() <= tol::SAME * (1.0 + want.abs() + ratio));
        }
    }
}

#[test]
fn tailr_at_gamma_zero_is_cross_entropy() {
    let mut rng = Rng::seed_from_u64(1);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let (mut g1, mut g2) = ([0.0; MAX_N], [0.0; MAX_N]);
        let a = tailr_loss(&c.logits[..n], c.target, 0.0, &mut g1[..n]).unwrap();
        let b = cross_entropy_loss(&c.logits[..n], c.target, &mut g2[..n]).unwrap();
        assert!((a - b).abs() <= tol::SAME * (1.0 + b.abs()), "{a} vs {b}");
        for k in 0..n {
            assert!((g1[k] - g2[k]).abs() <= tol::SAME);
        }
    }
}

#[test]
fn tailr_tends_to_one_minus_pt_as_gamma_tends_to_one() {
    let mut rng = Rng::seed_from_u64(2);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let z = &c.logits[..n];
        let (mut g1, mut g2, mut g3) = ([0.0; MAX_N], [0.0; MAX_N], [0.0; MAX_N]);
        let near = tailr_loss(z, c.target, 1.0 - 1e-9, &mut g1[..n]).unwrap();
        let at = tailr_loss(z, c.target, 1.0, &mut g2[..n]).unwrap();
        let direct = one_minus_pt_loss(z, c.target, &mut g3[..n]).unwrap();
        assert!((at - direct).abs() <= tol::SAME);
        assert!(
            (near - direct).abs() <= tol::GAMMA_LIMIT,
            "{near} vs {direct}"
        );
        for k in 0..n {
            assert!((g2[k] - g3[k]).abs() <= tol::SAME);
            assert!((g1[k] - g3[k]).abs() <= tol::GAMMA_LIMIT);
        }
        // The convergence is monotone in γ: the gap shrinks as γ → 1.
        let mut scratch = [0.0; MAX_N];
        let mut last = f64::INFINITY;
        for gamma in [0.9, 0.99, 0.999, 0.9999] {
            let gap = (tailr_loss(z, c.target, gamma, &mut scratch[..n]).unwrap() - direct).abs();
            assert!(gap <= last + tol::SAME);
            last = gap;
        }
    }
}

#[test]
fn emo_with_the_cost_one_minus_delta_is_one_minus_pt() {
    // Orthonormal embeddings (the identity matrix) give cos(e_i, e_j) = δ_ij.
    let mut rng = Rng::seed_from_u64(3);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let mut eye = [0.0; MAX_N * MAX_N];
        for (i, row) in eye.chunks_exact_mut(n).take(n).enumerate() {
            row[i] = 1.0;
        }
        let emb = UnitEmbeddings::from_unit_rows(&eye[..n * n], n).unwrap();
        let (mut g1, mut g2) = ([0.0; MAX_N], [0.0; MAX_N]);
        let emo = emo_loss(&c.logits[..n], c.target, &emb, &mut g1[..n]).unwrap();
        let acc = one_minus_pt_loss(&c.logits[..n], c.target, &mut g2[..n]).unwrap();
        assert!((emo - acc).abs() <= tol::SAME, "{emo} vs {acc}");
        for k in 0..n {
            assert!((g1[k] - g2[k]).abs() <= tol::SAME);
        }
    }
}

#[test]
fn soft_label_bound_with_a_one_hot_label_is_emo() {
    let mut rng = Rng::seed_from_u64(4);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let emb = UnitEmbeddings::from_unit_rows(&c.emb[..3 * n], 3).unwrap();
        let mut one_hot = [0.0; MAX_N];
        one_hot[c.target] = 1.0;
        let (mut g1, mut g2, mut u) = ([0.0; MAX_N], [0.0; MAX_N], [0.0; 3]);
        let soft = emo_soft_label_bound(&c.logits[..n], &one_hot[..n], &emb, &mut u, &mut g1[..n])
            .unwrap();
        let hard = emo_loss(&c.logits[..n], c.target, &emb, &mut g2[..n]).unwrap();
        assert!((soft - hard).abs() <= tol::SAME, "{soft} vs {hard}");
        for k in 0..n {
            assert!((g1[k] - g2[k]).abs() <= tol::SAME);
        }
    }
}

#[test]
fn soft_label_bound_is_an_upper_bound_on_the_transport_cost() {
    // Two classes: the optimal plan moves |p_0 − τ_0| of mass at cost c_01.
    let mut rng = Rng::seed_from_u64(5);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let emb = UnitEmbeddings::from_unit_rows(&c.emb[..6], 3).unwrap();
        let z = [
            c.logits[0].clamp(-30.0, 30.0),
            c.logits[1].clamp(-30.0, 30.0),
        ];
        let tau0 = rng.random_range(0.0..1.0);
        let label = [tau0, 1.0 - tau0];
        let (mut g, mut u) = ([0.0; 2], [0.0; 3]);
        let bound = emo_soft_label_bound(&z, &label, &emb, &mut u, &mut g).unwrap();
        let p0 = 1.0 / (1.0 + math::exp(z[1] - z[0]));
        let exact = (p0 - tau0).abs() * emb.cost(0, 1).unwrap();
        assert!(bound >= exact - tol::SAME, "bound {bound} < exact {exact}");
    }
}

#[test]
fn thresholded_tailr_floors_the_weight() {
    let mut rng = Rng::seed_from_u64(6);
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let z = &c.logits[..n];
        let t = c.target;
        let gamma = 0.5;
        let (mut g_plain, mut g_thr, mut g_ce) = ([0.0; MAX_N], [0.0; MAX_N], [0.0; MAX_N]);
        let plain = tailr_loss(z, t, gamma, &mut g_plain[..n]).unwrap();
        cross_entropy_loss(z, t, &mut g_ce[..n]).unwrap();
        // floor 0: plain TaiLr; floor 1: cross-entropy's gradient.
        let v0 = tailr_loss_thresholded(z, t, gamma, 0.0, &mut g_thr[..n]).unwrap();
        assert_eq!(v0, plain);
        assert_eq!(g_thr, g_plain);
        tailr_loss_thresholded(z, t, gamma, 1.0, &mut g_thr[..n]).unwrap();
        for k in 0..n {
            assert!((g_thr[k] - g_ce[k]).abs() <= tol::SAME);
        }
        // In between: max(b, w)·∇CE.
        let b = 0.3;
        tailr_loss_thresholded(z, t, gamma, b, &mut g_thr[..n]).unwrap();
        let mut scratch = [0.0; MAX_N];
        let w_log = {
            let ce = cross_entropy_loss(z, t, &mut scratch[..n]).unwrap();
            let (_, w) = tailr_parts(-ce, -math::exp_m1(-ce), gamma);
            w
        };
        let w = math::exp(w_log).max(b);
        for k in 0..n {
            assert!((g_thr[k] - w * g_ce[k]).abs() <= tol::SAME);
        }
    }
}

#[test]
fn losses_are_accurate_when_the_target_is_almost_certain() {
    // p_t = 1 − q with q = 2e^{-40} ≈ 8.5e-18: a naive 1 − p_t gives 0.
    let z = [0.0_f64, -40.0, -40.0];
    let q = 2.0 * math::exp(-40.0) / (1.0 + 2.0 * math::exp(-40.0));
    let mut g = [0.0; 3];
    let ce = cross_entropy_loss(&z, 0, &mut g).unwrap();
    assert!((ce / q - 1.0).abs() < tol::TINY_REL, "ce {ce} vs {q}");
    assert!((g[0] / -q - 1.0).abs() < tol::TINY_REL);
    let acc = one_minus_pt_loss(&z, 0, &mut g).unwrap();
    assert!((acc / q - 1.0).abs() < tol::TINY_REL);
    // dL_γ/dp_t = −1 at p_t = 1 for every γ, so L_γ ≈ q.
    for gamma in [0.0, 0.3, 0.9, 1.0] {
        let l = tailr_loss(&z, 0, gamma, &mut g).unwrap();
        assert!(
            (l / q - 1.0).abs() < tol::TINY_REL,
            "γ = {gamma}: {l} vs {q}"
        );
    }
}

#[test]
fn extreme_f32_logits_give_finite_losses() {
    let z = [1e4_f32, -1e4, 0.0, 1e4 - 2.0];
    let mut g = [0.0_f32; 4];
    let rows = [1.0_f32, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0];
    let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
    for t in 0..4 {
        let ce = cross_entropy_loss(&z, t, &mut g).unwrap();
        assert!(ce.is_finite() && g.iter().all(|x| x.is_finite()));
        for gamma in [0.0, 0.5, 1.0] {
            let l = tailr_loss(&z, t, gamma, &mut g).unwrap();
            assert!(l.is_finite() && g.iter().all(|x| x.is_finite()));
        }
        let l = emo_loss(&z, t, &emb, &mut g).unwrap();
        assert!((0.0..=2.0).contains(&l) && g.iter().all(|x| x.is_finite()));
        let l = emo_ce_loss(&z, t, &emb, Mixture::Balanced, &mut g).unwrap();
        assert!(l.is_finite() && g.iter().all(|x| x.is_finite()));
    }
    // Target at −1e4 with the maximum at +1e4: CE = 2e4 + ln(1 + e^{-2}) (the
    // f32 path rounds e^{-2} to f32, hence the f32 tolerance).
    let ce = cross_entropy_loss(&z, 1, &mut g).unwrap();
    assert!((ce - (2e4 + math::ln_1p(math::exp(-2.0)))).abs() < tol::F32_EXP);
}

#[test]
fn tailr_of_probability_matches_the_logit_version() {
    for &p in &[1e-300, 1e-8, 0.01, 0.3, 0.5, 0.999, 1.0] {
        for gamma in [0.0, 0.1, 0.5, 0.8, 1.0] {
            let (l, w) = tailr_of_probability(p, gamma).unwrap();
            let naive_w = p / (gamma + (1.0 - gamma) * p);
            assert!((w - naive_w).abs() <= tol::SAME * naive_w.max(1.0));
            if gamma < 1.0 && p > 1e-200 {
                let naive = -math::ln(gamma + (1.0 - gamma) * p) / (1.0 - gamma);
                assert!(
                    (l - naive).abs() <= tol::SAME * naive.max(1.0),
                    "{p} {gamma}"
                );
            }
            // Two classes with the target at probability p.
            if p < 1.0 && p > 1e-200 {
                let z = [math::ln(p), math::ln_1p(-p)];
                let mut g = [0.0; 2];
                let from_logits = tailr_loss(&z, 0, gamma, &mut g).unwrap();
                assert!((from_logits - l).abs() <= 1e-9 * l.max(1.0), "{p} {gamma}");
            }
        }
    }
    assert!(tailr_of_probability(0.0, 0.5).is_err());
    assert!(tailr_of_probability(1.5, 0.5).is_err());
    assert!(tailr_of_probability(f64::NAN, 0.5).is_err());
}

#[test]
fn bad_input_is_an_error_never_a_panic_or_nan() {
    let mut g = [0.0_f32; 3];
    let z = [0.0_f32, 1.0, 2.0];
    let rows = [1.0_f32, 0.0, 0.0, 1.0, -1.0, 0.0];
    let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
    let mut u = [0.0; 2];
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let z = [0.0, bad, 1.0];
        let want = Err(Error::NonFinite {
            what: "logits",
            index: 1,
        });
        assert_eq!(cross_entropy_loss(&z, 0, &mut g), want);
        assert_eq!(tailr_loss(&z, 0, 0.5, &mut g), want);
        assert_eq!(tailr_loss_thresholded(&z, 0, 0.5, 0.1, &mut g), want);
        assert_eq!(one_minus_pt_loss(&z, 0, &mut g), want);
        assert_eq!(emo_loss(&z, 0, &emb, &mut g), want);
        assert_eq!(emo_ce_loss(&z, 0, &emb, Mixture::Balanced, &mut g), want);
        assert_eq!(
            emo_soft_label_bound(&z, &[1.0, 0.0, 0.0], &emb, &mut u, &mut g),
            want
        );
        let mut bins = [ReliabilityBin::default(); 4];
        assert_eq!(
            Metrics::new(&mut bins).unwrap().add(&z, 0),
            want.map(|_| ())
        );
    }
    assert_eq!(
        cross_entropy_loss(&z, 3, &mut g),
        Err(Error::TargetOutOfRange {
            target: 3,
            classes: 3
        })
    );
    assert_eq!(
        cross_entropy_loss(&z, 0, &mut g[..2]),
        Err(Error::LengthMismatch {
            what: "gradient",
            expected: 3,
            actual: 2
        })
    );
    assert_eq!(
        cross_entropy_loss::<f32>(&[], 0, &mut []),
        Err(Error::Empty { what: "logits" })
    );
    for gamma in [-0.1, 1.1, f64::NAN] {
        assert!(matches!(
            tailr_loss(&z, 0, gamma, &mut g),
            Err(Error::ParameterOutOfRange { name: "gamma", .. })
        ));
    }
    for floor in [-0.1, 1.1, f64::NAN] {
        assert!(matches!(
            tailr_loss_thresholded(&z, 0, 0.5, floor, &mut g),
            Err(Error::ParameterOutOfRange { name: "floor", .. })
        ));
    }
    for ce_weight in [-0.1, 1.1, f64::NAN] {
        assert!(matches!(
            emo_ce_loss(&z, 0, &emb, Mixture::Fixed { ce_weight }, &mut g),
            Err(Error::ParameterOutOfRange {
                name: "ce_weight",
                ..
            })
        ));
    }
    // Embeddings.
    let mut zero_row = [1.0_f32, 0.0, 0.0, 0.0];
    assert_eq!(
        UnitEmbeddings::normalize(&mut zero_row, 2).map(|_| ()),
        Err(Error::ZeroNormEmbedding { row: 1 })
    );
    assert_eq!(
        UnitEmbeddings::from_unit_rows(&[1.0_f32, 0.0, 0.0, 0.0], 2).map(|_| ()),
        Err(Error::ZeroNormEmbedding { row: 1 })
    );
    let mut nan_row = [1.0_f32, 0.0, f32::NAN, 0.0];
    assert_eq!(
        UnitEmbeddings::normalize(&mut nan_row, 2).map(|_| ()),
        Err(Error::NonFinite {
            what: "embeddings",
            index: 2
        })
    );
    let mut ragged = [1.0_f32; 5];
    assert_eq!(
        UnitEmbeddings::normalize(&mut ragged, 2).map(|_| ()),
        Err(Error::RaggedEmbedding { len: 5, dim: 2 })
    );
    assert_eq!(
        UnitEmbeddings::normalize(&mut ragged, 0).map(|_| ()),
        Err(Error::Empty {
            what: "embedding dimension"
        })
    );
    assert!(matches!(
        UnitEmbeddings::from_unit_rows(&[0.5_f32, 0.0], 2),
        Err(Error::NotUnitNorm { row: 0, .. })
    ));
    let two = UnitEmbeddings::from_unit_rows(&rows[..4], 2).unwrap();
    assert!(matches!(
        emo_loss(&z, 0, &two, &mut g),
        Err(Error::LengthMismatch { .. })
    ));
    // Tiny and huge rows normalise without underflow or overflow.
    let mut tiny = [1e-300_f64, 1e-300, 1e300, 1e300];
    let e = UnitEmbeddings::normalize(&mut tiny, 2).unwrap();
    assert!((e.cost(0, 1).unwrap()).abs() < tol::SAME);
    // Soft labels.
    assert_eq!(
        emo_soft_label_bound(&z, &[1.5, -0.5, 0.0], &emb, &mut u, &mut g),
        Err(Error::NegativeLabel { index: 1 })
    );
    assert!(matches!(
        emo_soft_label_bound(&z, &[0.5, 0.0, 0.0], &emb, &mut u, &mut g),
        Err(Error::LabelSum { .. })
    ));
    assert!(matches!(
        emo_soft_label_bound(&z, &[f32::NAN, 0.0, 1.0], &emb, &mut u, &mut g),
        Err(Error::NonFinite { what: "label", .. })
    ));
    assert!(matches!(
        emo_soft_label_bound(&z, &[1.0, 0.0, 0.0], &emb, &mut [0.0; 3], &mut g),
        Err(Error::LengthMismatch { .. })
    ));
    // Metrics.
    assert_eq!(
        Metrics::new(&mut []).map(|_| ()),
        Err(Error::Empty {
            what: "reliability bins"
        })
    );
    let mut bins = [ReliabilityBin::default(); 3];
    let m = Metrics::new(&mut bins).unwrap();
    assert_eq!(m.summary(), Err(Error::NoSamples));
    // Cost matrix and expected embedding sizes.
    assert!(cost_matrix(&emb, &mut [0.0; 8]).is_err());
    assert!(expected_embedding(&[1.0_f32, 0.0], &emb, &mut u).is_err());
    assert!(expected_embedding(&[1.0_f32, f32::NAN, 0.0], &emb, &mut u).is_err());
}

#[test]
fn metrics_match_a_direct_computation() {
    let mut rng = Rng::seed_from_u64(7);
    const BINS: usize = 7;
    let mut bins = [ReliabilityBin::default(); BINS];
    let mut m = Metrics::new(&mut bins).unwrap();
    let (mut right, mut nll, mut brier, mut conf) = (0.0, 0.0, 0.0, 0.0);
    let mut naive_bins = [(0.0_f64, 0.0_f64, 0.0_f64); BINS]; // count, conf sum, correct
    let samples = 500;
    for _ in 0..samples {
        let c = random_case(&mut rng);
        let n = c.n;
        let mut z = [0.0; MAX_N];
        for k in 0..n {
            z[k] = c.logits[k].clamp(-20.0, 20.0);
        }
        let mut p = [0.0; MAX_N];
        math::softmax(&z[..n], 1.0, &mut p[..n]).unwrap();
        let mut arg = 0;
        for k in 0..n {
            if p[k] > p[arg] {
                arg = k;
            }
        }
        let ok = arg == c.target;
        right += f64::from(u8::from(ok));
        nll -= math::ln(p[c.target]);
        for k in 0..n {
            let y = if k == c.target { 1.0 } else { 0.0 };
            brier += (p[k] - y) * (p[k] - y);
        }
        conf += p[arg];
        let b = ((p[arg] * BINS as f64) as usize).min(BINS - 1);
        naive_bins[b].0 += 1.0;
        naive_bins[b].1 += p[arg];
        naive_bins[b].2 += f64::from(u8::from(ok));
        m.add(&z[..n], c.target).unwrap();
    }
    let s = m.summary().unwrap();
    let n = f64::from(samples);
    let ece: f64 = naive_bins
        .iter()
        .map(|&(_, cs, ok)| (ok - cs).abs())
        .sum::<f64>()
        / n;
    assert_eq!(s.count, 500);
    assert!((s.accuracy - right / n).abs() <= tol::SAME);
    assert!((s.nll - nll / n).abs() <= 1e-10);
    assert!((s.brier - brier / n).abs() <= 1e-10);
    assert!((s.mean_confidence - conf / n).abs() <= 1e-10);
    assert!((s.ece - ece).abs() <= 1e-10);
    assert!((s.confidence_gap() - (conf - right) / n).abs() <= 1e-10);
    for (b, &(count, cs, ok)) in m.bins().iter().zip(&naive_bins) {
        assert_eq!(b.count as f64, count);
        assert_eq!(b.correct as f64, ok);
        assert!((b.confidence_sum - cs).abs() <= 1e-10);
    }
}

#[test]
fn emo_is_bounded_and_charges_near_misses_less() {
    // Classes at 0°, 45°, 90°, 180°.
    let h = math::sqrt(0.5);
    let rows = [1.0, 0.0, h, h, 0.0, 1.0, -1.0, 0.0];
    let emb = UnitEmbeddings::from_unit_rows(&rows, 2).unwrap();
    let mut g = [0.0; 4];
    let mut last = 0.0;
    for wrong in 1..4 {
        let mut z = [0.0; 4];
        z[wrong] = 30.0;
        let l = emo_loss(&z, 0, &emb, &mut g).unwrap();
        assert!(
            l > last && l <= 2.0,
            "cost grows with the angle: {l} after {last}"
        );
        last = l;
        // Cross-entropy cannot tell the classes apart.
        let ce = cross_entropy_loss(&z, 0, &mut g).unwrap();
        assert!((ce - 30.0 - math::ln_1p(3.0 * math::exp(-30.0))).abs() < 1e-9);
    }
    let mut c = [0.0; 16];
    cost_matrix(&emb, &mut c).unwrap();
    assert!((c[1] - (1.0 - h)).abs() < tol::SAME && c[3] == 2.0 && c[5] == 0.0);
    for i in 0..4 {
        for j in 0..4 {
            assert_eq!(c[i * 4 + j], c[j * 4 + i]);
            assert_eq!(Some(c[i * 4 + j]), emb.cost(i, j));
        }
    }
}

#[test]
fn f32_and_f64_paths_agree() {
    let mut rng = Rng::seed_from_u64(8);
    const F32_ABS: f64 = 2e-5;
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let n = c.n;
        let mut z32 = [0.0_f32; MAX_N];
        let mut z64 = [0.0_f64; MAX_N];
        for k in 0..n {
            z32[k] = c.logits[k] as f32;
            z64[k] = f64::from(z32[k]);
        }
        let mut e32 = [0.0_f32; 3 * MAX_N];
        for (a, &b) in e32.iter_mut().zip(&c.emb) {
            *a = b as f32;
        }
        let emb32 = UnitEmbeddings::normalize(&mut e32[..3 * n], 3).unwrap();
        let mut e64 = [0.0_f64; 3 * MAX_N];
        for (a, &b) in e64.iter_mut().zip(emb32.as_slice()) {
            *a = f64::from(b);
        }
        let emb64 = UnitEmbeddings::normalize(&mut e64[..3 * n], 3).unwrap();
        let (mut g32, mut g64) = ([0.0_f32; MAX_N], [0.0_f64; MAX_N]);
        let pairs: [(f64, f64); 3] = [
            (
                cross_entropy_loss(&z32[..n], c.target, &mut g32[..n]).unwrap(),
                cross_entropy_loss(&z64[..n], c.target, &mut g64[..n]).unwrap(),
            ),
            (
                tailr_loss(&z32[..n], c.target, 0.5, &mut g32[..n]).unwrap(),
                tailr_loss(&z64[..n], c.target, 0.5, &mut g64[..n]).unwrap(),
            ),
            (
                emo_loss(&z32[..n], c.target, &emb32, &mut g32[..n]).unwrap(),
                emo_loss(&z64[..n], c.target, &emb64, &mut g64[..n]).unwrap(),
            ),
        ];
        for (a, b) in pairs {
            assert!((a - b).abs() <= F32_ABS * (1.0 + b.abs()), "{a} vs {b}");
        }
        for k in 0..n {
            assert!((f64::from(g32[k]) - g64[k]).abs() <= F32_ABS);
        }
    }
}
