//! GUI test of the Tokenizer panel: it shows the Viterbi segmentation and the
//! exact distribution, reacts to the α slider, and a sampling run (a background
//! job) fills the three samplers' counts.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kexue_gui::panels::tokenizer::{LEVEL, TokenizerPanel};
use kexue_gui::panels::{Panel, show_panel};

const SIZE: egui::Vec2 = egui::vec2(1280.0, 800.0);
/// Tolerance on probability sums.
const SUM_TOL: f64 = 1e-9;

#[test]
fn shows_viterbi_and_exact_distribution_and_reacts_to_alpha() {
    let mut harness = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, p: &mut TokenizerPanel| show_panel(ui, p),
        TokenizerPanel::default(),
    );
    harness.run_steps(3);
    {
        let p = harness.state();
        assert_eq!(p.viterbi.concat(), "发展中国家");
        assert!(p.viterbi.len() >= 2);
        let sum: f64 = p.exact.probs.iter().sum();
        assert!((sum - 1.0).abs() < SUM_TOL);
        // data/README.md: the top two are near 0.54 / 0.46 at α = 1.
        assert!((p.exact.probs[0] - 0.54).abs() < 0.01);
        assert_eq!(p.exact.entropy_curve.len(), 61);
    }
    let h1 = harness.state().exact.entropy;
    harness
        .get_by_role_and_label(egui::accesskit::Role::Slider, "α")
        .set_value_accesskit(0.1);
    harness.run_steps(3);
    let p = harness.state();
    assert_eq!(p.alpha, 0.1);
    // A smaller α spreads the mass: higher entropy.
    assert!(p.exact.entropy > h1, "{} vs {h1}", p.exact.entropy);
}

#[test]
fn draw_samples_runs_a_job_and_the_perfect_sampler_fits() {
    let mut harness = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, p: &mut TokenizerPanel| show_panel(ui, p),
        TokenizerPanel::default(),
    );
    harness.run_steps(2);
    harness.get_by_label("Draw samples").click();
    harness.run_steps(2);
    let start = Instant::now();
    while harness.state().is_sampling() && start.elapsed() < Duration::from_secs(120) {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(3);
    let p = harness.state();
    let samples = p.samples.as_ref().expect("sample counts");
    assert_eq!(samples.draws, p.draws);
    for counts in &samples.counts {
        assert_eq!(counts.iter().sum::<u64>(), p.draws);
    }
    let (tv, noise) = p.total_variation(0).unwrap();
    assert!(tv < 4.0 * noise, "perfect sampler TV {tv} vs noise {noise}");
    // The chi-square fits (fixed seed): at the default 200k draws and α = 1 the
    // perfect sampler fits and the legacy one is rejected, so the caption
    // supports the post's claim.
    let [perfect, legacy, _] = p.fits.map(|f| f.expect("fit computed"));
    assert!(perfect.p_value > LEVEL, "{perfect:?}");
    assert!(legacy.p_value < LEVEL, "{legacy:?}");
    let caption = p.caption();
    assert_eq!(
        caption.verdict.label(),
        "supported",
        "{}",
        caption.verdict.text()
    );
}

#[test]
fn long_text_is_refused_with_a_message_not_enumerated() {
    let mut panel = TokenizerPanel::default();
    panel.text = "中华人民共和国中央人民政府今天成立了".to_owned();
    panel.analyse();
    // Refused with a message (the enumeration is capped, so the UI thread
    // never stalls on it), while the Viterbi segmentation is still shown.
    assert!(panel.exact.error.is_some(), "{:?}", panel.exact.probs.len());
    assert!(!panel.viterbi.is_empty());
}

#[test]
fn preset_button_switches_the_text_and_its_analysis() {
    let mut harness = Harness::builder().with_size(SIZE).build_ui_state(
        |ui, p: &mut TokenizerPanel| show_panel(ui, p),
        TokenizerPanel::default(),
    );
    harness.run_steps(3);
    let before = harness.state().exact.labels.clone();
    harness.get_by_label("watching").click();
    harness.run_steps(3);
    let p = harness.state();
    assert_eq!(p.text, "watching");
    assert_eq!(p.viterbi.concat(), "watching");
    assert_ne!(p.exact.labels, before);
    let sum: f64 = p.exact.probs.iter().sum();
    assert!((sum - 1.0).abs() < SUM_TOL);
}
