//! GUI tests of the "Losses" panel: controls found by label change the
//! computed data; the experiment runs as a job (progress, cancel) and its
//! results equal a direct call of the core.

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kexue_core::loss::sweep::run_sweep;
use kexue_core::loss::tailr_of_probability;
use kexue_gui::panels::losses::LossesPanel;
use kexue_gui::panels::{Panel, Verdict, show_panel};

const SIZE: egui::Vec2 = egui::vec2(1280.0, 800.0);
/// Agreement of plotted values with the core (same f64 computation).
const SAME: f64 = 1e-12;
/// How long a test waits for a job.
const JOB_TIMEOUT: Duration = Duration::from_secs(300);

fn harness() -> Harness<'static, LossesPanel> {
    Harness::builder().with_size(SIZE).build_ui_state(
        |ui, p: &mut LossesPanel| show_panel(ui, p),
        LossesPanel::default(),
    )
}

fn wait_until(harness: &mut Harness<'_, LossesPanel>, done: impl Fn(&LossesPanel) -> bool) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(start.elapsed() < JOB_TIMEOUT, "job did not finish in time");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(2);
}

#[test]
fn gamma_slider_recomputes_the_tailr_curves() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Slider, "γ")
        .set_value_accesskit(0.8);
    h.run_steps(3);
    let panel = h.state();
    assert!((panel.gamma - 0.8).abs() < 1e-9);
    assert!(!panel.curves.tailr.is_empty());
    for (pt, w) in panel.curves.tailr.iter().zip(&panel.curves.tailr_weight) {
        let (l, weight) = tailr_of_probability(pt.x, panel.gamma).unwrap();
        assert!((pt.y - l).abs() < SAME && (w.y - weight).abs() < SAME);
    }
    // CE ≥ TaiLr ≥ 1 − p_t pointwise.
    for ((ce, t), a) in panel
        .curves
        .ce
        .iter()
        .zip(&panel.curves.tailr)
        .zip(&panel.curves.one_minus_pt)
    {
        assert!(ce.y + SAME >= t.y && t.y + SAME >= a.y);
    }
}

#[test]
fn class_slider_resizes_the_cost_matrix_and_emo_prefers_near_misses() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Slider, "classes")
        .set_value_accesskit(12.0);
    h.run_steps(3);
    let panel = h.state();
    let k = panel.classes;
    assert_eq!(k, 12);
    assert_eq!(panel.cost.len(), k * k);
    for i in 0..k {
        assert_eq!(panel.cost[i * k + i], 0.0);
        for j in 0..k {
            assert!((panel.cost[i * k + j] - panel.cost[j * k + i]).abs() < SAME);
        }
    }
    assert_eq!(panel.prediction.len(), k);
    assert!(panel.prediction[1].emo < panel.prediction[k / 2].emo);
    assert!((panel.prediction[1].ce - panel.prediction[k / 2].ce).abs() < SAME);
    assert!(matches!(panel.caption().verdict, Verdict::Pending(_)));
}

#[test]
fn the_experiment_runs_as_a_job_and_matches_the_core() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Slider, "steps")
        .set_value_accesskit(20.0);
    h.run_steps(2);
    assert_eq!(h.state().steps, 20);
    h.get_by_label("Run experiment").click();
    h.run_steps(1);
    wait_until(&mut h, |p| p.sweep.is_some() || !p.status.is_empty());
    let panel = h.state();
    assert!(panel.status.is_empty(), "{}", panel.status);
    let sweep = panel.sweep.as_ref().unwrap();
    assert_eq!(sweep.runs.len(), 3 * 7);
    assert_eq!(panel.verdicts.len(), 3);
    // Live curves: one per run, each with every curve point.
    assert_eq!(panel.live.len(), 21);
    let points = panel.sweep_config().base.curve_points();
    assert!(panel.live.iter().all(|c| c.points.len() == points));
    // The job computed exactly what the core computes directly.
    let direct = run_sweep(&panel.sweep_config(), |_| {
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(&direct, sweep);
    assert!(!matches!(panel.caption().verdict, Verdict::Pending(_)));
}

#[test]
fn cancel_stops_the_experiment() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Slider, "steps")
        .set_value_accesskit(4000.0);
    h.run_steps(1);
    h.get_by_label("Run experiment").click();
    h.run_steps(2);
    assert!(h.state().running());
    h.get_by_label("Cancel").click();
    h.run_steps(1);
    wait_until(&mut h, |p| !p.running() && !p.status.is_empty());
    let panel = h.state();
    assert!(panel.sweep.is_none());
    assert!(panel.status.contains("cancelled"), "{}", panel.status);
}
