//! GUI tests of the "Attention scale" panel (headless, egui_kittest) and of
//! the `kexue-lab attention-scale` command line.

use std::process::Command;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kexue_core::attention::ScoreDist;
use kexue_gui::panels::attention::{AttentionPanel, CAUSAL_DRAWS, MC_A_POINTS};
use kexue_gui::panels::{Panel, Verdict, show_panel};

const SIZE: egui::Vec2 = egui::vec2(1280.0, 800.0);
/// How long a test waits for a Monte-Carlo job.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);
/// Tolerances.
const SAME: f64 = 1e-12;

fn harness(panel: AttentionPanel) -> Harness<'static, AttentionPanel> {
    Harness::builder()
        .with_size(SIZE)
        .build_ui_state(|ui, p: &mut AttentionPanel| show_panel(ui, p), panel)
}

/// Step until the Monte Carlo for the current controls has finished.
fn wait_for_monte_carlo(h: &mut Harness<'static, AttentionPanel>) {
    let start = Instant::now();
    loop {
        h.step();
        let p = h.state();
        if !p.mc_pending()
            && p.monte_carlo().is_some_and(|m| m.complete)
            && p.causal_monte_carlo().is_some_and(|m| m.complete)
        {
            return;
        }
        assert!(start.elapsed() < JOB_TIMEOUT, "Monte Carlo did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn n_slider_recomputes_a_star() {
    let mut h = harness(AttentionPanel::default());
    h.run_steps(2);
    h.get_by_role_and_label(Role::Slider, "n")
        .set_value_accesskit(512.0);
    h.run_steps(2);
    let p = h.state();
    assert_eq!(p.n, 512);
    let expected = ScoreDist::Normal.a_star(512.0).unwrap();
    assert!((p.analysis().a_star - expected).abs() < SAME);
    assert!(!p.analysis().approx_curve.is_empty());
}

#[test]
fn cosine_switch_and_d_slider_refit_the_law() {
    let mut h = harness(AttentionPanel::default());
    h.run_steps(2);
    let normal_c = h.state().table().unwrap().fit.c;
    assert!((normal_c - 0.8413).abs() < 1e-3, "{normal_c}");

    h.get_by_label("cosine").click();
    h.run_steps(2);
    let t = h.state().table().unwrap();
    assert!(matches!(t.dist, ScoreDist::Cosine(c) if c.d() == 128));
    assert!((t.fit.c - 3.4877).abs() < 1e-3, "{}", t.fit.c);

    h.get_by_role_and_label(Role::Slider, "d")
        .set_value_accesskit(16.0);
    h.run_steps(2);
    let p = h.state();
    assert_eq!(p.d, 16);
    assert!((p.table().unwrap().fit.c - 2.4116).abs() < 1e-3);
    let expected = ScoreDist::cosine(16)
        .unwrap()
        .a_star(f64::from(p.n))
        .unwrap();
    assert!((p.analysis().a_star - expected).abs() < SAME * expected);
}

#[test]
fn context_length_slider_updates_the_causal_comparison() {
    let mut h = harness(AttentionPanel::default());
    h.run_steps(2);
    h.get_by_role_and_label(Role::Slider, "L")
        .set_value_accesskit(512.0);
    h.run_steps(2);
    let c = h.state().analysis().causal.unwrap();
    assert_eq!(c.l, 512);
    // mpmath: a*(L/H_L) = 1.5875861400070086, a*(L/2) = 1.8634933772239537
    assert!((c.a_causal - 1.587_586_140_007_008_6).abs() < 1e-10);
    assert!((c.a_half - 1.863_493_377_223_953_7).abs() < 1e-10);
}

/// The Monte Carlo runs as a job after a control change and the caption then
/// states, with numbers, that the exact mean and the per-draw maximisers
/// disagree with the approximation (SPEC.md §1).
#[test]
fn monte_carlo_job_runs_and_the_caption_reports_the_disagreement() {
    let mut panel = AttentionPanel::default();
    panel.draws = 400;
    panel.recompute();
    let mut h = harness(panel);
    h.run_steps(1);
    h.get_by_role_and_label(Role::Slider, "n")
        .set_value_accesskit(64.0);
    h.run_steps(1);
    wait_for_monte_carlo(&mut h);
    let p = h.state();
    let mc = p.monte_carlo().unwrap();
    assert_eq!(mc.params.n, 64);
    assert_eq!(mc.stats.len(), MC_A_POINTS);
    assert_eq!(mc.summary.draws, 400);
    assert!(mc.summary.maximiser_median > 1.5 * p.analysis().a_star);
    assert!(!mc.mean_has_interior_maximum());
    let caption = p.caption();
    assert!(matches!(caption.verdict, Verdict::Mixed(_)), "{caption:?}");
    assert!(caption.verdict.text().contains("no interior maximum"));
    assert!(caption.verdict.text().contains("fitted c = 0.841"));
    // The causal decoder's exact mean (Monte Carlo) for the default L = 2048.
    let causal = p.causal_monte_carlo().unwrap();
    assert_eq!((causal.params.l, causal.draws), (2048, CAUSAL_DRAWS));
    assert_eq!(causal.stats.len(), MC_A_POINTS);
    assert!(!causal.mean_has_interior_maximum());
    let text = p.caption().verdict.text().to_string();
    assert!(
        text.contains("Causal decoder, L = 2048") && text.contains("no interior maximum either")
    );
}

#[test]
fn cancel_stops_the_monte_carlo() {
    let mut panel = AttentionPanel::default();
    panel.draws = 20_000;
    panel.n = 20_000;
    panel.recompute();
    let mut h = harness(panel);
    h.get_by_label("Run Monte Carlo").click();
    h.run_steps(2);
    assert!(h.state().mc_running());
    // One Cancel per running job (fixed-n and causal Monte Carlo).
    for cancel in h.get_all_by_label("Cancel") {
        cancel.click();
    }
    let start = Instant::now();
    while h.state().mc_running() {
        h.step();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "cancel did not stop the job"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
    assert!(h.state().monte_carlo().is_none_or(|m| !m.complete));
}

fn kexue_lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kexue-lab"))
        .args(args)
        .output()
        .unwrap()
}

fn columns(stdout: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn cli_prints_n_a_star_g_per_line() {
    let out = kexue_lab(&[
        "attention-scale",
        "--dist",
        "cosine",
        "--d",
        "128",
        "--n",
        "40,512,20000",
    ]);
    assert!(out.status.success());
    let rows = columns(&out.stdout);
    assert_eq!(rows.len(), 3);
    let dist = ScoreDist::cosine(128).unwrap();
    for (row, n) in rows.iter().zip([40.0, 512.0, 20_000.0]) {
        assert_eq!(row.len(), 3);
        assert_eq!(row[0].parse::<f64>().unwrap(), n);
        let (a, g) = dist.a_star_and_objective(n).unwrap();
        assert_eq!(row[1].parse::<f64>().unwrap(), a);
        assert_eq!(row[2].parse::<f64>().unwrap(), g);
    }
}

#[test]
fn cli_fit_and_monte_carlo_formats() {
    let out = kexue_lab(&["attention-scale", "--dist", "normal", "--fit"]);
    let rows = columns(&out.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].len(), 2);
    assert!((rows[0][0].parse::<f64>().unwrap() - 0.8413).abs() < 1e-3);

    let out = kexue_lab(&[
        "attention-scale",
        "--dist",
        "normal",
        "--n",
        "16",
        "--monte-carlo",
        "--draws",
        "300",
        "--seed",
        "1",
        "--a",
        "1,2,4,8",
    ]);
    assert!(out.status.success());
    let rows = columns(&out.stdout);
    assert_eq!(rows.len(), 5);
    for (row, a) in rows.iter().zip(["1", "2", "4", "8"]) {
        assert_eq!(row.len(), 3);
        assert_eq!(row[0], a);
        assert!(row[1].parse::<f64>().unwrap() > 0.0 && row[2].parse::<f64>().unwrap() > 0.0);
    }
    assert_eq!(rows[4][0], "per_draw_argmax_median");
    assert!(rows[4][1].parse::<f64>().unwrap() > 0.0);
    // Same seed, same output.
    let again = kexue_lab(&[
        "attention-scale",
        "--dist",
        "normal",
        "--n",
        "16",
        "--monte-carlo",
        "--draws",
        "300",
        "--seed",
        "1",
        "--a",
        "1,2,4,8",
    ]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn cli_errors_go_to_stderr_with_failure_status() {
    for args in [
        &["attention-scale", "--dist", "normal", "--n", "1"][..],
        &[
            "attention-scale",
            "--dist",
            "cosine",
            "--d",
            "2",
            "--n",
            "5",
        ],
        &[
            "attention-scale",
            "--dist",
            "normal",
            "--d",
            "5",
            "--n",
            "5",
        ],
        &["attention-scale", "--n", "5", "--monte-carlo"],
        &["attention-scale", "--n", "5,6", "--monte-carlo", "--a", "1"],
        &["attention-scale", "--n", "1", "--monte-carlo", "--a", "1"],
        &[
            "attention-scale",
            "--n",
            "5",
            "--monte-carlo",
            "--a",
            "1",
            "--draws",
            "0",
        ],
        &[
            "attention-scale",
            "--n",
            "5",
            "--monte-carlo",
            "--a",
            "1,2",
            "--draws",
            "1000000000000",
        ],
        &["attention-scale", "--n", "5", "--a", "1"],
        &["attention-scale"],
    ] {
        let out = kexue_lab(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
