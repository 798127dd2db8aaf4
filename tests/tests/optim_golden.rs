//! Tiger against golden vectors from an independent numpy transcription of
//! `tiger.py` (`tests/reference/tiger_reference.py`, output committed as
//! `tests/data/optim/tiger_golden.rs`): every parameter kind, k = 1 and
//! k = 3, NaN steps (including the reference's quirks: NaN on the first
//! micro-step of a cycle, shrink on non-update micro-steps) and the
//! piecewise-linear schedule.

use kexue_core::optim::{
    Gradient, Optimizer, ParamKind, Schedule, StepInfo, StepOptions, TensorMut, Tiger, TigerConfig,
};

/// Tolerances, in units in the last place of f32.
/// `m` never depends on a reduction: bit-exact (the schedule is compared
/// bit for bit too).
const M_ULPS: u32 = 0;
/// θ of Bias/Gamma: no reduction, bit-exact.
const THETA_ULPS_PLAIN: u32 = 0;
/// θ of Matrix/Embedding: η = α·RMS(θ); TensorFlow and numpy sum `θ²` in
/// f32, we in f64, so RMS (hence the update δ) may differ in its last bit:
/// allowed |Δθ| ≤ 1 ulp(θ) + `RMS_UPDATE_REL`·|δ|.
const THETA_ULPS_RMS: u32 = 1;
const RMS_UPDATE_REL: f32 = 2.0 * f32::EPSILON;

struct GoldenCase {
    name: &'static str,
    kind: ParamKind,
    lr: f64,
    beta: f64,
    weight_decay: f64,
    shrink: f64,
    accum: u32,
    schedule: &'static [(u64, f64)],
    theta0: &'static [u32],
    grads: &'static [&'static [u32]],
    theta: &'static [&'static [u32]],
    m: &'static [&'static [u32]],
}

struct GoldenSchedule {
    points: &'static [(u64, f64)],
    from_zero: bool,
    values: &'static [(u64, u32)],
}

include!("../data/optim/tiger_golden.rs");

fn floats(bits: &[u32]) -> Vec<f32> {
    bits.iter().map(|&b| f32::from_bits(b)).collect()
}

/// Distance in ulps (0 for equal values including ±0).
fn ulps(a: f32, b: f32) -> u32 {
    if a == b {
        return 0;
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        if i < 0 { i32::MIN - i } else { i }
    };
    key(a).abs_diff(key(b))
}

fn assert_close(what: &str, got: &[f32], want_bits: &[u32], tol: u32) {
    let want = floats(want_bits);
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let d = ulps(g, w);
        assert!(
            d <= tol,
            "{what}[{i}]: got {g:e}, want {w:e} ({d} ulps > {tol})"
        );
    }
}

/// θ of an RMS-scaled kind: within one ulp plus `RMS_UPDATE_REL` of the
/// update `previous − want`.
fn assert_close_rms(what: &str, got: &[f32], previous: &[f32], want_bits: &[u32]) {
    let want = floats(want_bits);
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &p)) in got.iter().zip(&want).zip(previous).enumerate() {
        let ulp = f32::from_bits(w.abs().to_bits() + 1) - w.abs();
        let tol = THETA_ULPS_RMS as f32 * ulp + RMS_UPDATE_REL * (p - w).abs();
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g:e}, want {w:e} (|Δ| {:e} > {tol:e})",
            (g - w).abs()
        );
    }
}

fn tiger_of(c: &GoldenCase) -> Tiger {
    Tiger::new(TigerConfig {
        lr: c.lr,
        beta: c.beta,
        weight_decay: c.weight_decay,
        schedule: Schedule::piecewise(c.schedule, true).unwrap(),
        shrink_ratio: c.shrink,
    })
    .unwrap()
}

fn run_case(c: &GoldenCase, use_hints: bool) {
    let tiger = tiger_of(c);
    let mut theta = floats(c.theta0);
    let mut m = vec![0.0f32; theta.len()];
    let mut hint = None;
    let rms_kind = matches!(c.kind, ParamKind::Matrix | ParamKind::Embedding { .. });
    for (t, ((g, want_theta), want_m)) in c.grads.iter().zip(c.theta).zip(c.m).enumerate() {
        let g = floats(g);
        let previous = theta.clone();
        let step = tiger.step(StepInfo::new(t as u64, c.accum).unwrap());
        let report = tiger
            .step_tensor(
                &step,
                TensorMut {
                    kind: c.kind,
                    theta: &mut theta,
                    state: &mut m,
                },
                Gradient::new(&g),
                StepOptions {
                    rms_hint: if use_hints { hint } else { None },
                    count_lost: false,
                },
            )
            .unwrap();
        hint = report.theta_sq_sum;
        let what = format!("{} (hints {use_hints}) step {t}", c.name);
        assert_eq!(
            report.guarded,
            g.iter().any(|x| x.is_nan()),
            "{what}: guard"
        );
        if rms_kind {
            assert_close_rms(&format!("{what} θ"), &theta, &previous, want_theta);
        } else {
            assert_close(&format!("{what} θ"), &theta, want_theta, THETA_ULPS_PLAIN);
        }
        assert_close(&format!("{what} m"), &m, want_m, M_ULPS);
    }
}

#[test]
fn golden_cases_cover_every_kind_accumulation_and_nan() {
    let kinds: Vec<_> = CASES.iter().map(|c| (c.kind, c.accum)).collect();
    for kind in [ParamKind::Matrix, ParamKind::Bias, ParamKind::Gamma] {
        for k in [1, 3] {
            assert!(kinds.contains(&(kind, k)), "{kind:?} k={k} missing");
        }
    }
    for k in [1, 3] {
        assert!(
            kinds
                .iter()
                .any(|(kind, kk)| matches!(kind, ParamKind::Embedding { .. }) && *kk == k)
        );
    }
    let nan_cases = CASES
        .iter()
        .filter(|c| {
            c.grads
                .iter()
                .any(|g| g.iter().any(|&b| f32::from_bits(b).is_nan()))
        })
        .count();
    assert!(nan_cases >= 4);
}

#[test]
fn tiger_matches_the_reference_transcription() {
    for c in CASES {
        run_case(c, false);
    }
}

#[test]
fn rms_hints_from_the_write_pass_give_the_same_results() {
    for c in CASES {
        run_case(c, true);
    }
}

#[test]
fn schedule_matches_the_reference_bit_for_bit() {
    for s in SCHEDULES {
        let sched = Schedule::piecewise(s.points, s.from_zero).unwrap();
        for &(t, bits) in s.values {
            let got = sched.value(t);
            let want = f32::from_bits(bits);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{:?} from_zero={} t={t}: {got} vs {want}",
                s.points,
                s.from_zero
            );
        }
    }
}
