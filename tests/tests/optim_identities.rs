//! Exact identities between the optimisers (post of 2023-03-07):
//! Tiger = Lion with β1 = β2; Tiger with k accumulated micro-steps = one Tiger
//! step on the mean gradient; AdamW with λ = 0 = Adam; state floats per
//! parameter with and without accumulation; the fp16 mechanisms.

use std::ops::ControlFlow;

use kexue_core::optim::fp16::f16;
use kexue_core::optim::tasks::{Function2d, Task2d};
use kexue_core::optim::train::{Buffers, accum_len, state_len};
use kexue_core::optim::{
    AdamW, AdamWConfig, Error, Gradient, Lamb, LambConfig, Lion, LionConfig, Optimizer, ParamKind,
    Schedule, Sgdm, SgdmConfig, StepInfo, StepOptions, Storage, TensorMut, Tiger, TigerBlend,
    TigerConfig, TrainConfig, train,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// Tolerances of this file.
/// Accumulated vs mean-gradient momentum: a few roundings of each term.
const ACCUM_M_REL: f32 = 8.0 * f32::EPSILON;
/// AdamW (f32) against a textbook Adam in f64, absolute on θ of order 1.
const ADAM_ABS: f64 = 2e-6;
/// SGD-momentum (f32) against PyTorch's formula in f64.
const SGDM_ABS: f64 = 2e-6;
/// Driver accumulation for Lion/AdamW vs one step on the mean (f32 sums).
const DRIVER_ACCUM_ABS: f32 = 1e-6;
/// LAMB: ‖Δθ‖ = η‖θ‖ up to f32 rounding.
const LAMB_REL: f64 = 1e-5;

fn random_vec(rng: &mut SmallRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| scale * (rng.random::<f32>() - 0.5))
        .collect()
}

fn step<O: Optimizer>(
    o: &O,
    info: StepInfo,
    kind: ParamKind,
    theta: &mut [f32],
    state: &mut [f32],
    g: &[f32],
) {
    let s = o.step(info);
    o.step_tensor(
        &s,
        TensorMut { kind, theta, state },
        Gradient::new(g),
        StepOptions::default(),
    )
    .unwrap();
}

#[test]
fn tiger_is_lion_with_equal_betas_bit_for_bit() {
    for (decay, beta) in [(0.0, 0.965), (0.0, 0.945), (0.01, 0.9)] {
        let sched = Schedule::piecewise(&[(10, 1.0), (40, 0.2)], true).unwrap();
        let tiger = Tiger::new(TigerConfig {
            lr: 3e-3,
            beta,
            weight_decay: decay,
            schedule: sched,
            ..Default::default()
        })
        .unwrap();
        let lion = Lion::new(LionConfig {
            lr: 3e-3,
            beta1: beta,
            beta2: beta,
            weight_decay: decay,
            schedule: sched,
        })
        .unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 37;
        let mut a = random_vec(&mut rng, n, 2.0);
        let mut b = a.clone();
        let (mut ma, mut mb) = (vec![0.0f32; n], vec![0.0f32; n]);
        for t in 0..60 {
            let mut g = random_vec(&mut rng, n, 1.0);
            g[t % n] = 0.0;
            step(
                &tiger,
                StepInfo::single(t as u64),
                ParamKind::Plain,
                &mut a,
                &mut ma,
                &g,
            );
            step(
                &lion,
                StepInfo::single(t as u64),
                ParamKind::Plain,
                &mut b,
                &mut mb,
                &g,
            );
            assert_eq!(a, b, "θ at step {t}, λ = {decay}");
            assert_eq!(ma, mb, "m at step {t}");
        }
    }
    // Different betas really are different (the test can fail).
    let lion = Lion::new(LionConfig::default()).unwrap();
    let tiger = Tiger::new(TigerConfig {
        lr: 1e-4,
        beta: 0.9,
        weight_decay: 0.01,
        ..Default::default()
    })
    .unwrap();
    let (mut a, mut b) = (vec![1.0f32; 4], vec![1.0f32; 4]);
    let (mut ma, mut mb) = (vec![0.5f32, -0.5, 0.5, -0.5], vec![0.5f32, -0.5, 0.5, -0.5]);
    let g = [-1.0f32, 1.0, -0.1, 0.1];
    step(
        &tiger,
        StepInfo::single(0),
        ParamKind::Plain,
        &mut a,
        &mut ma,
        &g,
    );
    step(
        &lion,
        StepInfo::single(0),
        ParamKind::Plain,
        &mut b,
        &mut mb,
        &g,
    );
    assert_ne!(ma, mb);
}

/// Runs `cycles` cycles of `k` micro-steps with `opt` (accumulating in
/// place) and the same cycles as single steps on the mean gradient; checks
/// the momentum agrees to f32 rounding and θ exactly wherever the momentum's
/// sign is unambiguous.
fn check_accumulation<O: Optimizer>(opt: &O, kind: ParamKind, k: u32, exact_theta: bool) {
    let mut rng = SmallRng::seed_from_u64(u64::from(k) * 31 + 1);
    let n = 48;
    let mut a = random_vec(&mut rng, n, 1.0);
    let mut b = a.clone();
    let (mut ma, mut mb) = (vec![0.0f32; n], vec![0.0f32; n]);
    let mut max_rel_theta = 0.0f32;
    for cycle in 0..20u64 {
        let gs: Vec<Vec<f32>> = (0..k).map(|_| random_vec(&mut rng, n, 1.0)).collect();
        let mean: Vec<f32> = (0..n)
            .map(|i| gs.iter().map(|g| g[i]).sum::<f32>() / k as f32)
            .collect();
        let prev_m = mb.clone();
        for (j, g) in gs.iter().enumerate() {
            let info = StepInfo::new(cycle * u64::from(k) + j as u64, k).unwrap();
            step(opt, info, kind, &mut a, &mut ma, g);
        }
        step(opt, StepInfo::single(cycle), kind, &mut b, &mut mb, &mean);
        for i in 0..n {
            let scale = prev_m[i].abs() + gs.iter().map(|g| g[i].abs()).sum::<f32>() / k as f32;
            assert!(
                (ma[i] - mb[i]).abs() <= ACCUM_M_REL * scale,
                "k={k} cycle {cycle} m[{i}]: {} vs {}",
                ma[i],
                mb[i]
            );
            let sign_clear = ma[i].abs() > ACCUM_M_REL * scale;
            if exact_theta && sign_clear {
                assert_eq!(a[i], b[i], "k={k} cycle {cycle} θ[{i}]");
            }
            max_rel_theta = max_rel_theta.max((a[i] - b[i]).abs() / a[i].abs().max(1.0));
        }
    }
    if !exact_theta {
        assert!(max_rel_theta < 1e-5, "θ drift {max_rel_theta}");
    }
}

#[test]
fn tiger_accumulation_equals_one_step_on_the_mean_gradient() {
    let tiger = Tiger::new(TigerConfig {
        lr: 1e-2,
        ..Default::default()
    })
    .unwrap();
    for k in [2, 3, 4, 8] {
        check_accumulation(&tiger, ParamKind::Matrix, k, true);
        check_accumulation(&tiger, ParamKind::Bias, k, true);
        check_accumulation(&tiger, ParamKind::Embedding { row_len: 6 }, k, true);
    }
    // SGDM folds accumulation into its buffer the same way; δ is linear in m.
    let sgdm = Sgdm::new(SgdmConfig {
        lr: 1e-3,
        weight_decay: 0.01,
        ..Default::default()
    })
    .unwrap();
    for k in [2, 4] {
        check_accumulation(&sgdm, ParamKind::Matrix, k, false);
    }
}

#[test]
fn accumulation_breaks_if_beta_is_applied_on_every_micro_step() {
    // The identity is not vacuous: decaying m on every micro-step (a plausible
    // bug) moves the momentum far from the single-step one.
    let beta = 0.9f32;
    let (g1, g2) = (1.0f32, -0.5f32);
    let m0 = 0.8f32;
    let right = beta * m0 + (1.0 - beta) * (g1 + g2) / 2.0;
    let wrong = beta * (beta * m0 + (1.0 - beta) / 2.0 * g1) + (1.0 - beta) / 2.0 * g2;
    assert!((right - wrong).abs() > 100.0 * ACCUM_M_REL);
}

#[test]
fn driver_accumulation_for_lion_and_adamw_is_one_step_on_the_mean() {
    use kexue_core::optim::experiments::{OptimizerName, RunSpec, TaskName, run};
    for o in [
        OptimizerName::Lion,
        OptimizerName::AdamW,
        OptimizerName::Lamb,
    ] {
        let mut one = RunSpec::new(o, TaskName::Mlp);
        one.updates = 3;
        one.hyper.lr = 1e-3;
        let mut four = one;
        four.accum = 4;
        four.spiral.batch = one.spiral.batch / 4;
        let a = run(&one, &mut |_, _| true).unwrap();
        let b = run(&four, &mut |_, _| true).unwrap();
        let diff = a
            .theta
            .iter()
            .zip(&b.theta)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff <= DRIVER_ACCUM_ABS, "{o:?}: {diff}");
        assert_eq!(b.state_floats, o.state_floats(true));
    }
}

/// Adam, Algorithm 1 of Kingma & Ba (2015), in f64.
struct TextbookAdam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl TextbookAdam {
    fn step(&mut self, theta: &mut [f64], g: &[f32], lr: f64, b1: f64, b2: f64, eps: f64) {
        self.t += 1;
        for i in 0..theta.len() {
            let gi = f64::from(g[i]);
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * gi;
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * gi * gi;
            let mh = self.m[i] / (1.0 - b1.powi(self.t));
            let vh = self.v[i] / (1.0 - b2.powi(self.t));
            theta[i] -= lr * mh / (vh.sqrt() + eps);
        }
    }
}

#[test]
fn adamw_without_decay_is_adam() {
    let cfg = AdamWConfig {
        lr: 1e-2,
        weight_decay: 0.0,
        ..Default::default()
    };
    let adamw = AdamW::new(cfg).unwrap();
    let mut rng = SmallRng::seed_from_u64(11);
    let n = 29;
    let mut theta = random_vec(&mut rng, n, 2.0);
    let mut state = vec![0.0f32; 2 * n];
    let mut reference: Vec<f64> = theta.iter().map(|&x| f64::from(x)).collect();
    let mut adam = TextbookAdam {
        m: vec![0.0; n],
        v: vec![0.0; n],
        t: 0,
    };
    for t in 0..200u64 {
        let g = random_vec(&mut rng, n, 0.1 + (t % 7) as f32);
        step(
            &adamw,
            StepInfo::single(t),
            ParamKind::Matrix,
            &mut theta,
            &mut state,
            &g,
        );
        adam.step(&mut reference, &g, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps);
        for (a, b) in theta.iter().zip(&reference) {
            assert!(
                (f64::from(*a) - b).abs() <= ADAM_ABS,
                "step {t}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn adamw_decay_is_decoupled_from_the_gradient() {
    // With g = 0 the Adam direction is 0, so one step is pure decay
    // θ(1 − ηλ); Adam with L2 would instead see g = λθ and take a normalised
    // step of size ≈ η.
    let adamw = AdamW::new(AdamWConfig {
        lr: 0.1,
        weight_decay: 0.5,
        ..Default::default()
    })
    .unwrap();
    let mut theta = vec![2.0f32, -4.0];
    let mut state = vec![0.0f32; 4];
    step(
        &adamw,
        StepInfo::single(0),
        ParamKind::Matrix,
        &mut theta,
        &mut state,
        &[0.0, 0.0],
    );
    assert_eq!(theta, [2.0 - (0.5 * 2.0) * 0.1, -4.0 - (0.5 * -4.0) * 0.1]);
    // Bias and gamma are not decayed.
    let mut theta = vec![2.0f32];
    let mut state = vec![0.0f32; 2];
    step(
        &adamw,
        StepInfo::single(0),
        ParamKind::Bias,
        &mut theta,
        &mut state,
        &[0.0],
    );
    assert_eq!(theta, [2.0]);
}

#[test]
fn sgdm_matches_pytorch_sgd_with_momentum() {
    let sgdm = Sgdm::new(SgdmConfig {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
        ..Default::default()
    })
    .unwrap();
    let mut rng = SmallRng::seed_from_u64(5);
    let n = 10;
    let mut theta = random_vec(&mut rng, n, 1.0);
    let mut buf = vec![0.0f32; n];
    let mut reference: Vec<f64> = theta.iter().map(|&x| f64::from(x)).collect();
    let mut rbuf = vec![0.0f64; n];
    for t in 0..100u64 {
        let g = random_vec(&mut rng, n, 1.0);
        step(
            &sgdm,
            StepInfo::single(t),
            ParamKind::Matrix,
            &mut theta,
            &mut buf,
            &g,
        );
        for i in 0..n {
            // torch.optim.SGD: buf = μ·buf + g (buf = g at the first step), p -= lr·buf.
            rbuf[i] = if t == 0 {
                f64::from(g[i])
            } else {
                0.9 * rbuf[i] + f64::from(g[i])
            };
            reference[i] -= 0.05 * rbuf[i];
        }
        for (a, b) in theta.iter().zip(&reference) {
            assert!((f64::from(*a) - b).abs() <= SGDM_ABS, "step {t}");
        }
    }
}

#[test]
fn lamb_moves_each_tensor_by_eta_times_its_norm() {
    let lamb = Lamb::new(LambConfig {
        lr: 0.01,
        weight_decay: 0.0,
        ..Default::default()
    })
    .unwrap();
    let mut rng = SmallRng::seed_from_u64(3);
    let n = 50;
    let mut theta = random_vec(&mut rng, n, 3.0);
    let mut state = vec![0.0f32; 2 * n];
    for t in 0..10u64 {
        let before = theta.clone();
        let g = random_vec(&mut rng, n, 1.0);
        step(
            &lamb,
            StepInfo::single(t),
            ParamKind::Matrix,
            &mut theta,
            &mut state,
            &g,
        );
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let delta: Vec<f32> = theta.iter().zip(&before).map(|(a, b)| a - b).collect();
        let want = 0.01 * norm(&before);
        assert!(
            (norm(&delta) - want).abs() <= LAMB_REL * want + 1e-6,
            "step {t}"
        );
    }
}

#[test]
fn state_floats_per_parameter_with_and_without_accumulation() {
    let table: [(&str, usize, usize, bool); 6] = [
        (
            Tiger::NAME,
            Tiger::STATE_FLOATS,
            Tiger::STATE_FLOATS_ACCUMULATING,
            Tiger::ACCUMULATES_IN_PLACE,
        ),
        (
            TigerBlend::NAME,
            TigerBlend::STATE_FLOATS,
            TigerBlend::STATE_FLOATS_ACCUMULATING,
            TigerBlend::ACCUMULATES_IN_PLACE,
        ),
        (
            Sgdm::NAME,
            Sgdm::STATE_FLOATS,
            Sgdm::STATE_FLOATS_ACCUMULATING,
            Sgdm::ACCUMULATES_IN_PLACE,
        ),
        (
            Lion::NAME,
            Lion::STATE_FLOATS,
            Lion::STATE_FLOATS_ACCUMULATING,
            Lion::ACCUMULATES_IN_PLACE,
        ),
        (
            AdamW::NAME,
            AdamW::STATE_FLOATS,
            AdamW::STATE_FLOATS_ACCUMULATING,
            AdamW::ACCUMULATES_IN_PLACE,
        ),
        (
            Lamb::NAME,
            Lamb::STATE_FLOATS,
            Lamb::STATE_FLOATS_ACCUMULATING,
            Lamb::ACCUMULATES_IN_PLACE,
        ),
    ];
    let want = [
        ("tiger", 1, 1, true),
        ("tiger-blend", 1, 1, true),
        ("sgdm", 1, 1, true),
        ("lion", 1, 2, false),
        ("adamw", 2, 3, false),
        ("lamb", 2, 3, false),
    ];
    assert_eq!(table, want);
    // The driver asks for exactly that memory: no gradient buffer for Tiger.
    assert_eq!(accum_len::<Tiger>(100, 4), 0);
    assert_eq!(accum_len::<Lion>(100, 4), 100);
    assert_eq!(accum_len::<Lion>(100, 1), 0);
    assert_eq!(state_len::<AdamW>(100), 200);
}

#[test]
fn driver_enforces_the_memory_it_claims() {
    let mut rng = SmallRng::seed_from_u64(0);
    let cfg = TrainConfig {
        updates: 5,
        accum: 4,
        ..Default::default()
    };
    let mut task = Task2d::new(Function2d::Rosenbrock, 0.0).unwrap();
    let (mut th, mut m, mut g, mut w) = ([0.0f32; 2], [0.0f32; 2], [0.0f32; 2], [0.0f32; 2]);
    // Tiger with k = 4 runs with no accumulation buffer…
    let tiger = Tiger::new(TigerConfig::default()).unwrap();
    let bufs = Buffers {
        theta: &mut th,
        state: &mut m,
        grad: &mut g,
        accum: &mut [],
        work: &mut w,
    };
    train(&tiger, &mut task, bufs, &cfg, &mut rng, |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    // …Lion needs one.
    let lion = Lion::new(LionConfig::default()).unwrap();
    let bufs = Buffers {
        theta: &mut th,
        state: &mut m,
        grad: &mut g,
        accum: &mut [],
        work: &mut w,
    };
    assert!(matches!(
        train(&lion, &mut task, bufs, &cfg, &mut rng, |_| {
            ControlFlow::Continue(())
        }),
        Err(Error::LengthMismatch {
            what: "accumulation buffer",
            expected: 2,
            actual: 0
        })
    ));
}

#[test]
fn fp16_tiger_updates_never_underflow_adamw_small_updates_are_lost() {
    // Tiger: |δ| = η for every element with m ≠ 0; with η = 1e-7 > 2^-24 a
    // zero parameter moves to ±η (a subnormal), so nothing is lost.
    let tiger = Tiger::new(TigerConfig {
        lr: 2e-7,
        weight_decay: 0.0,
        ..Default::default()
    })
    .unwrap();
    let n = 64;
    let mut rng = SmallRng::seed_from_u64(2);
    let g = random_vec(&mut rng, n, 1.0);
    let mut theta = vec![f16::ZERO; n];
    let mut m = vec![f16::ZERO; n];
    let s = tiger.step(StepInfo::single(0));
    let rep = tiger
        .step_tensor(
            &s,
            TensorMut {
                kind: ParamKind::Bias, // η = 0.5·lr = 1e-7
                theta: &mut theta,
                state: &mut m,
            },
            Gradient::new(&g),
            StepOptions {
                count_lost: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((rep.moved, rep.lost), (n as u64, 0));
    assert!(theta.iter().all(|t| t.load() != 0.0));
    // AdamW on θ = 1 with lr 1e-4: |δ| ≤ 1e-4 < ulp(1)/2 = 2^-11 in fp16: every
    // update is lost; in f32 none is.
    let adamw = AdamW::new(AdamWConfig {
        lr: 1e-4,
        weight_decay: 0.0,
        ..Default::default()
    })
    .unwrap();
    let s = adamw.step(StepInfo::single(0));
    let mut theta = vec![f16::from_f32(1.0); n];
    let mut state = vec![f16::ZERO; 2 * n];
    let g16: Vec<f32> = g.iter().map(|x| 1.0 + x.abs()).collect();
    let rep = adamw
        .step_tensor(
            &s,
            TensorMut {
                kind: ParamKind::Matrix,
                theta: &mut theta,
                state: &mut state,
            },
            Gradient::new(&g16),
            StepOptions {
                count_lost: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((rep.moved, rep.lost), (n as u64, n as u64));
    let mut theta32 = vec![1.0f32; n];
    let mut state32 = vec![0.0f32; 2 * n];
    let rep = adamw
        .step_tensor(
            &s,
            TensorMut {
                kind: ParamKind::Matrix,
                theta: &mut theta32,
                state: &mut state32,
            },
            Gradient::new(&g16),
            StepOptions {
                count_lost: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((rep.moved, rep.lost), (n as u64, 0));
}

#[test]
fn fp16_overflow_is_reported_not_silent() {
    // A value above 65504 cannot be stored in fp16: the step says so.
    let sgdm = Sgdm::new(SgdmConfig {
        lr: 1.0,
        momentum: 0.0,
        ..Default::default()
    })
    .unwrap();
    let s = sgdm.step(StepInfo::single(0));
    let mut theta = vec![f16::from_f32(60000.0)];
    let mut state = vec![f16::ZERO];
    let r = sgdm.step_tensor(
        &s,
        TensorMut {
            kind: ParamKind::Plain,
            theta: &mut theta,
            state: &mut state,
        },
        Gradient::new(&[-10000.0]),
        StepOptions::default(),
    );
    assert_eq!(r, Err(Error::NonFiniteResult));
}
