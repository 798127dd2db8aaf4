//! Integration tests of `kexue_core::loss`: large class counts (256k) with
//! ±1e4 logits, agreement with naive references (including the explicit
//! n × n transport cost the losses never form), the f32 path against the f64
//! path, and the reproducibility of the label-noise experiment (a golden file
//! committed in the repository; regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! kexue-tests --test losses`).

use std::fmt::Write as _;
use std::ops::ControlFlow;

use kexue_core::loss::experiment::{Config, LossKind, NoiseKind};
use kexue_core::loss::sweep::{SweepConfig, run_sweep};
use kexue_core::loss::{
    Mixture, UnitEmbeddings, cross_entropy_loss, emo_ce_loss, emo_loss, emo_soft_label_bound,
    one_minus_pt_loss, tailr_loss,
};
use kexue_tests::workspace_root;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Tolerances of this file.
mod tol {
    /// f32 path vs f64 path on the same (f32-representable) inputs, absolute
    /// on O(1) values, and per gradient component relative to the largest.
    pub const F32_VS_F64: f64 = 1e-5;
    /// Same, relative for CE-sized values (up to 2e4).
    pub const F32_VS_F64_REL: f64 = 1e-6;
    /// Naive f64 reference where it is safe.
    pub const NAIVE: f64 = 1e-10;
    /// Σ_k ∂L/∂z_k = 0 (shift invariance), in f64 over 256k classes.
    pub const GRAD_SUM_F64: f64 = 1e-9;
}

const BIG_N: usize = 262_144;

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// 256k logits spread over ±1e4 with a few near the top.
fn big_logits() -> Vec<f32> {
    let mut r = rng(11);
    let mut z: Vec<f32> = (0..BIG_N).map(|_| r.random_range(-1e4_f32..1e4)).collect();
    for k in 0..8 {
        z[k * 1000 + 7] = 1e4 - k as f32 * 0.5;
    }
    z
}

fn random_rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..n * d).map(|_| r.random_range(-1.0_f32..1.0)).collect()
}

#[test]
fn losses_are_finite_and_shift_invariant_with_256k_classes_and_extreme_logits() {
    let z32 = big_logits();
    let z64: Vec<f64> = z32.iter().map(|&x| f64::from(x)).collect();
    let d = 8;
    let mut rows32 = random_rows(BIG_N, d, 12);
    let emb32 = UnitEmbeddings::normalize(&mut rows32, d).unwrap();
    let mut rows64: Vec<f64> = emb32.as_slice().iter().map(|&x| f64::from(x)).collect();
    let emb64 = UnitEmbeddings::normalize(&mut rows64, d).unwrap();
    let mut g32 = vec![0.0_f32; BIG_N];
    let mut g64 = vec![0.0_f64; BIG_N];
    // Targets: the top logit, one just below it, one far down (p_t ≈ e^{-2e4}).
    for target in [7, 1007, 500] {
        type L32<'a> = Box<dyn Fn(&mut [f32]) -> f64 + 'a>;
        type L64<'a> = Box<dyn Fn(&mut [f64]) -> f64 + 'a>;
        let cases: Vec<(&str, L32<'_>, L64<'_>)> = vec![
            (
                "ce",
                Box::new(|g| cross_entropy_loss(&z32, target, g).unwrap()),
                Box::new(|g| cross_entropy_loss(&z64, target, g).unwrap()),
            ),
            (
                "tailr",
                Box::new(|g| tailr_loss(&z32, target, 0.3, g).unwrap()),
                Box::new(|g| tailr_loss(&z64, target, 0.3, g).unwrap()),
            ),
            (
                "1-p_t",
                Box::new(|g| one_minus_pt_loss(&z32, target, g).unwrap()),
                Box::new(|g| one_minus_pt_loss(&z64, target, g).unwrap()),
            ),
            (
                "emo",
                Box::new(|g| emo_loss(&z32, target, &emb32, g).unwrap()),
                Box::new(|g| emo_loss(&z64, target, &emb64, g).unwrap()),
            ),
            (
                "emo+ce",
                Box::new(|g| emo_ce_loss(&z32, target, &emb32, Mixture::Balanced, g).unwrap()),
                Box::new(|g| emo_ce_loss(&z64, target, &emb64, Mixture::Balanced, g).unwrap()),
            ),
        ];
        for (name, f32_loss, f64_loss) in cases {
            let a = f32_loss(&mut g32);
            let b = f64_loss(&mut g64);
            assert!(a.is_finite() && b.is_finite(), "{name} t={target}");
            assert!(
                (a - b).abs() <= tol::F32_VS_F64 + tol::F32_VS_F64_REL * b.abs(),
                "{name} t={target}: f32 {a} vs f64 {b}"
            );
            assert!(g32.iter().all(|x| x.is_finite()), "{name}");
            // Relative to the largest component: the balanced mixture scales
            // EMO's gradient by CE/EMO, which is ~2e4 for the far target.
            let scale = g64.iter().map(|y| y.abs()).fold(1.0, f64::max);
            let worst = g32
                .iter()
                .zip(&g64)
                .map(|(&x, &y)| (f64::from(x) - y).abs())
                .fold(0.0, f64::max);
            assert!(
                worst <= tol::F32_VS_F64 * scale,
                "{name} t={target}: gradient differs by {worst} (scale {scale})"
            );
            let sum: f64 = g64.iter().sum();
            assert!(
                sum.abs() <= tol::GRAD_SUM_F64,
                "{name} t={target}: Σ grad = {sum}"
            );
        }
    }
    // The far-down target: CE is the logit gap plus a log-count, exactly.
    let ce = cross_entropy_loss(&z64, 500, &mut g64).unwrap();
    let max = z64.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(ce >= max - z64[500] && ce <= max - z64[500] + (BIG_N as f64).ln());
}

/// Naive references on moderate logits: softmax, the explicit cost matrix and
/// the explicit double sum of the soft-label bound.
#[test]
fn losses_match_naive_references_including_the_explicit_cost_matrix() {
    let n = 300;
    let d = 5;
    let mut r = rng(13);
    let z: Vec<f64> = (0..n).map(|_| r.random_range(-4.0..4.0)).collect();
    let raw: Vec<f64> = (0..n * d).map(|_| r.random_range(-1.0..1.0)).collect();
    let mut rows = raw.clone();
    let emb = UnitEmbeddings::normalize(&mut rows, d).unwrap();
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = z.iter().map(|&x| (x - max).exp()).sum();
    let p: Vec<f64> = z.iter().map(|&x| (x - max).exp() / s).collect();
    let norm = |i: usize| {
        raw[i * d..(i + 1) * d]
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
    };
    let cos = |i: usize, j: usize| {
        raw[i * d..(i + 1) * d]
            .iter()
            .zip(&raw[j * d..(j + 1) * d])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / (norm(i) * norm(j))
    };
    let cost: Vec<f64> = (0..n * n).map(|ij| 1.0 - cos(ij / n, ij % n)).collect();
    let mut g = vec![0.0; n];
    for t in [0, 17, 299] {
        let ce = cross_entropy_loss(&z, t, &mut g).unwrap();
        assert!((ce + p[t].ln()).abs() < tol::NAIVE);
        for (k, gk) in g.iter().enumerate() {
            let want = p[k] - if k == t { 1.0 } else { 0.0 };
            assert!((gk - want).abs() < tol::NAIVE);
        }
        let gamma: f64 = 0.4;
        let tailr = tailr_loss(&z, t, gamma, &mut g).unwrap();
        assert!((tailr + (gamma + (1.0 - gamma) * p[t]).ln() / (1.0 - gamma)).abs() < tol::NAIVE);
        let emo = emo_loss(&z, t, &emb, &mut g).unwrap();
        let naive: f64 = (0..n).map(|i| p[i] * cost[i * n + t]).sum();
        assert!((emo - naive).abs() < tol::NAIVE, "{emo} vs {naive}");
        for (k, gk) in g.iter().enumerate() {
            let want = p[k] * (cost[k * n + t] - naive);
            assert!((gk - want).abs() < tol::NAIVE);
        }
    }
    // Soft label: Σ_ij p_i τ_j c_ij with the n × n matrix.
    let tau_raw: Vec<f64> = (0..n).map(|_| r.random_range(0.0..1.0)).collect();
    let tau_sum: f64 = tau_raw.iter().sum();
    let tau: Vec<f64> = tau_raw.iter().map(|x| x / tau_sum).collect();
    let mut u = vec![0.0; d];
    let bound = emo_soft_label_bound(&z, &tau, &emb, &mut u, &mut g).unwrap();
    let naive: f64 = (0..n)
        .map(|i| (0..n).map(|j| p[i] * tau[j] * cost[i * n + j]).sum::<f64>())
        .sum();
    assert!((bound - naive).abs() < tol::NAIVE, "{bound} vs {naive}");
}

fn small_sweep(kind: NoiseKind) -> SweepConfig {
    SweepConfig {
        base: Config {
            steps: 100,
            noise_kind: kind,
            ..Config::default()
        },
        ..SweepConfig::default()
    }
}

fn render(config: &SweepConfig) -> String {
    let sweep = run_sweep(config, |_| ControlFlow::Continue(())).unwrap();
    let mut out = String::new();
    for run in &sweep.runs {
        let r = &run.result;
        let s = &r.summary;
        writeln!(
            out,
            "{:.2} {} {:.6} {:.6} {:.6} {:.6} {:.6} {:.6} {:?}",
            run.noise,
            r.loss,
            s.accuracy,
            s.nll,
            s.ece,
            s.mean_confidence,
            s.brier,
            r.expected_cost,
            r.memorised
        )
        .unwrap();
    }
    for c in sweep.verdicts().unwrap().claims() {
        writeln!(out, "verdict {} {} {}", c.id, c.status.label(), c.detail).unwrap();
    }
    out
}

#[test]
fn the_experiment_is_reproducible_and_matches_its_golden_file() {
    let config = small_sweep(NoiseKind::Uniform);
    let first = render(&config);
    assert_eq!(first, render(&config), "same seed, different numbers");
    let other = render(&SweepConfig {
        base: Config {
            seed: 2,
            ..config.base
        },
        ..config.clone()
    });
    assert_ne!(first, other, "the seed has no effect");
    let neighbour = render(&small_sweep(NoiseKind::Neighbour));
    let text = format!("# uniform noise\n{first}# neighbour noise\n{neighbour}");
    let path = workspace_root().join("tests/data/losses_sweep_steps100.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(text, golden, "the experiment's numbers changed");
}

#[test]
fn every_standard_loss_learns_on_clean_data() {
    // At noise 0 every loss beats chance (1/8) by a wide margin after 100 steps.
    let config = SweepConfig {
        noises: vec![0.0],
        ..small_sweep(NoiseKind::Uniform)
    };
    let sweep = run_sweep(&config, |_| ControlFlow::Continue(())).unwrap();
    for run in &sweep.runs {
        assert!(
            run.result.summary.accuracy > 0.6,
            "{}: {:?}",
            run.result.loss,
            run.result.summary
        );
        assert_eq!(run.result.memorised, None);
    }
    assert!(sweep.run(0.0, LossKind::Emo).is_some());
}
