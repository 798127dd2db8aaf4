//! Panel "Losses": TaiLr (post of 2023-03-14) and EMO (post of 2023-10-13)
//! against cross-entropy. Cheap analyses (loss and gradient weight as
//! functions of `p_t`, EMO's cost matrix, the loss of each possible
//! prediction) recompute when a control changes; the label-noise experiment
//! runs as a background job with progress and Cancel. All numbers come from
//! `kexue_core::loss`.

use std::ops::ControlFlow;

use egui_plot::{Bar, BarChart, Heatmap, Legend, Line, Plot, PlotPoint, PlotPoints};
use kexue_core::loss::experiment::{
    Config, EvalPoint, LossKind, MAX_CLASSES, NoiseKind, PredictionLoss, circle_embeddings,
    prediction_losses,
};
use kexue_core::loss::sweep::{ClaimVerdict, Event, Status, Sweep, SweepConfig, run_sweep};
use kexue_core::loss::{UnitEmbeddings, cost_matrix, tailr_of_probability};

use super::{Caption, Panel, Verdict};
use crate::jobs::{Job, ProgressAction, progress_row};

/// Points of the `p_t` axis in the loss/weight plots.
const CURVE_POINTS: usize = 200;
/// Smallest `p_t` plotted.
const MIN_PT: f64 = 1e-3;

/// Messages from the experiment job.
#[derive(Debug)]
pub enum Message {
    /// A training-curve point of run `run` (noise-major order).
    Point {
        /// Run index.
        run: usize,
        /// The noise level.
        noise: f64,
        /// The loss.
        loss: LossKind,
        /// The point.
        point: EvalPoint,
    },
    /// The sweep finished (or failed / was cancelled: the error text).
    Done(Box<Result<Sweep, String>>),
}

/// A training curve being drawn (live while the job runs).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCurve {
    /// The noise level.
    pub noise: f64,
    /// The loss.
    pub loss: LossKind,
    /// (step, test accuracy).
    pub points: Vec<PlotPoint>,
}

/// Loss and gradient-weight curves as functions of `p_t`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PtCurves {
    /// `−ln p_t`.
    pub ce: Vec<PlotPoint>,
    /// `L_γ(p_t)`.
    pub tailr: Vec<PlotPoint>,
    /// `1 − p_t`.
    pub one_minus_pt: Vec<PlotPoint>,
    /// TaiLr's gradient weight `w(p_t)` (CE's is 1, 1 − p_t's is `p_t`).
    pub tailr_weight: Vec<PlotPoint>,
    /// `p_t`: the weight of `1 − p_t`.
    pub one_minus_pt_weight: Vec<PlotPoint>,
}

/// The "Losses" panel.
pub struct LossesPanel {
    /// TaiLr's γ for the analytic plots.
    pub gamma: f64,
    /// Classes around the circle for the EMO cost matrix and prediction losses.
    pub classes: usize,
    /// The label in the prediction-loss chart.
    pub target: usize,
    /// Mass the hypothetical prediction puts on one class.
    pub mass: f64,
    /// Curves for the current γ.
    pub curves: PtCurves,
    /// EMO cost matrix `1 − cos(e_i, e_j)`, `classes²`, row-major.
    pub cost: Vec<f64>,
    /// Loss of each possible prediction (mass on class j), for `target`.
    pub prediction: Vec<PredictionLoss>,
    computed_for: Option<(u64, usize, usize, u64)>,
    /// Experiment: how labels are flipped.
    pub noise_kind: NoiseKind,
    /// Experiment: the memorising regime ([`Config::memorising`]) instead of the default.
    pub memorising: bool,
    /// Experiment: SGD steps per loss.
    pub steps: usize,
    /// Experiment: seed.
    pub seed: u64,
    /// The running job.
    job: Option<Job<Message>>,
    /// Curves received so far (live).
    pub live: Vec<LiveCurve>,
    /// The finished sweep.
    pub sweep: Option<Sweep>,
    /// Verdicts of the finished sweep.
    pub verdicts: Vec<ClaimVerdict>,
    /// Index of the noise level shown in the curve and reliability plots.
    pub shown_noise: usize,
    /// Last error or cancellation message.
    pub status: String,
}

impl Default for LossesPanel {
    fn default() -> Self {
        let mut panel = Self {
            gamma: 0.5,
            classes: 8,
            target: 0,
            mass: 0.9,
            curves: PtCurves::default(),
            cost: Vec::new(),
            prediction: Vec::new(),
            computed_for: None,
            noise_kind: NoiseKind::Uniform,
            memorising: false,
            steps: Config::default().steps,
            seed: Config::default().seed,
            job: None,
            live: Vec::new(),
            sweep: None,
            verdicts: Vec::new(),
            shown_noise: 2,
            status: String::new(),
        };
        panel.recompute();
        panel
    }
}

impl LossesPanel {
    /// Recompute the cheap analyses if a control changed.
    pub fn recompute(&mut self) {
        self.classes = self.classes.clamp(3, MAX_CLASSES);
        self.target = self.target.min(self.classes - 1);
        self.mass = self.mass.clamp(0.01, 0.99);
        self.gamma = self.gamma.clamp(0.0, 1.0);
        let key = (
            self.gamma.to_bits(),
            self.classes,
            self.target,
            self.mass.to_bits(),
        );
        if self.computed_for == Some(key) {
            return;
        }
        self.computed_for = Some(key);
        let mut c = PtCurves::default();
        for i in 0..CURVE_POINTS {
            // p_t on a log scale from MIN_PT to 1.
            let p = MIN_PT.powf(1.0 - i as f64 / (CURVE_POINTS - 1) as f64);
            if let (Ok((l, w)), Ok((ce, _)), Ok((acc, w1))) = (
                tailr_of_probability(p, self.gamma),
                tailr_of_probability(p, 0.0),
                tailr_of_probability(p, 1.0),
            ) {
                c.ce.push(PlotPoint::new(p, ce));
                c.tailr.push(PlotPoint::new(p, l));
                c.one_minus_pt.push(PlotPoint::new(p, acc));
                c.tailr_weight.push(PlotPoint::new(p, w));
                c.one_minus_pt_weight.push(PlotPoint::new(p, w1));
            }
        }
        self.curves = c;
        let k = self.classes;
        let mut rows = vec![0.0_f64; 2 * k];
        self.cost = vec![0.0; k * k];
        let ok = circle_embeddings(k, &mut rows).is_ok()
            && UnitEmbeddings::from_unit_rows(&rows, 2)
                .map(|emb| cost_matrix(&emb, &mut self.cost).is_ok())
                .unwrap_or(false);
        if !ok {
            self.cost.clear();
        }
        self.prediction = vec![PredictionLoss::default(); k];
        if prediction_losses(k, self.target, self.mass, &mut self.prediction).is_err() {
            self.prediction.clear();
        }
    }

    /// The sweep the "Run" button starts.
    pub fn sweep_config(&self) -> SweepConfig {
        let preset = if self.memorising {
            Config::memorising()
        } else {
            Config::default()
        };
        SweepConfig {
            base: Config {
                steps: self.steps.max(1),
                seed: self.seed,
                noise_kind: self.noise_kind,
                ..preset
            },
            ..SweepConfig::default()
        }
    }

    /// True while the experiment job runs.
    pub fn running(&self) -> bool {
        self.job.as_ref().is_some_and(|j| !j.is_finished())
    }

    /// Start the experiment in the background.
    pub fn start(&mut self, repaint: Option<egui::Context>) {
        let config = self.sweep_config();
        self.live.clear();
        self.sweep = None;
        self.verdicts.clear();
        self.status.clear();
        self.shown_noise = self.shown_noise.min(config.noises.len().saturating_sub(1));
        self.job = Some(Job::spawn(repaint, move |ctx| {
            let result = run_sweep(&config, |event| {
                match event {
                    Event::Point {
                        run,
                        noise,
                        loss,
                        point,
                        progress,
                    } => {
                        ctx.set_progress(progress as f32);
                        if !ctx.send(Message::Point {
                            run,
                            noise,
                            loss,
                            point,
                        }) {
                            return ControlFlow::Break(());
                        }
                    }
                    Event::Finished { progress, .. } => ctx.set_progress(progress as f32),
                }
                if ctx.is_cancelled() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            ctx.send(Message::Done(Box::new(result.map_err(|e| e.to_string()))));
        }));
    }

    fn accept(&mut self, message: Message) {
        match message {
            Message::Point {
                run,
                noise,
                loss,
                point,
            } => {
                if self.live.len() <= run {
                    self.live.resize(
                        run + 1,
                        LiveCurve {
                            noise,
                            loss,
                            points: Vec::new(),
                        },
                    );
                }
                if let Some(curve) = self.live.get_mut(run) {
                    curve.noise = noise;
                    curve.loss = loss;
                    curve
                        .points
                        .push(PlotPoint::new(point.step as f64, point.accuracy));
                }
            }
            Message::Done(result) => match *result {
                Ok(sweep) => {
                    self.verdicts = sweep
                        .verdicts()
                        .map(|v| v.claims().to_vec())
                        .unwrap_or_default();
                    self.sweep = Some(sweep);
                }
                Err(e) => self.status = e,
            },
        }
    }

    fn noises(&self) -> Vec<f64> {
        self.sweep
            .as_ref()
            .map_or_else(|| self.sweep_config().noises, |s| s.config.noises.clone())
    }

    fn pt_plots(&self, ui: &mut egui::Ui) {
        let c = &self.curves;
        ui.columns(2, |cols| {
            if let [left, right] = cols {
                left.label(format!("Loss as a function of p_t (γ = {:.2})", self.gamma));
                Plot::new("losses_value")
                    .height(220.0)
                    .legend(Legend::default())
                    .x_axis_label("p_t")
                    .include_y(0.0)
                    .show(left, |p| {
                        p.line(Line::new("CE  −ln p_t", PlotPoints::Borrowed(&c.ce)));
                        p.line(Line::new("TaiLr L_γ", PlotPoints::Borrowed(&c.tailr)));
                        p.line(Line::new("1 − p_t", PlotPoints::Borrowed(&c.one_minus_pt)));
                    });
                right.label("Gradient weight w: ∂L/∂z = w·(p − onehot)");
                Plot::new("losses_weight")
                    .height(220.0)
                    .legend(Legend::default())
                    .x_axis_label("p_t")
                    .include_y(0.0)
                    .include_y(1.05)
                    .show(right, |p| {
                        p.line(Line::new(
                            "CE (w = 1)",
                            PlotPoints::Owned(vec![
                                PlotPoint::new(MIN_PT, 1.0),
                                PlotPoint::new(1.0, 1.0),
                            ]),
                        ));
                        p.line(Line::new(
                            "TaiLr p_t/(γ+(1−γ)p_t)",
                            PlotPoints::Borrowed(&c.tailr_weight),
                        ));
                        p.line(Line::new(
                            "1 − p_t (w = p_t)",
                            PlotPoints::Borrowed(&c.one_minus_pt_weight),
                        ));
                    });
            }
        });
    }

    fn emo_plots(&self, ui: &mut egui::Ui) {
        let k = self.classes;
        ui.columns(2, |cols| {
            if let [left, right] = cols {
                left.label(format!(
                    "EMO cost 1 − cos(e_i, e_j), {k} classes on a circle"
                ));
                Plot::new("losses_cost")
                    .height(240.0)
                    .data_aspect(1.0)
                    .show(left, |p| {
                        p.heatmap(Heatmap::new(self.cost.clone(), k).show_labels(k <= 10));
                    });
                right.label(format!(
                    "Loss when {:.0}% of the mass is on class j (label {}), by j",
                    100.0 * self.mass,
                    self.target
                ));
                let bars = |f: fn(&PredictionLoss) -> f64, shift: f64| {
                    self.prediction
                        .iter()
                        .enumerate()
                        .map(|(j, q)| Bar::new(j as f64 + shift, f(q)).width(0.25))
                        .collect::<Vec<_>>()
                };
                Plot::new("losses_prediction")
                    .height(240.0)
                    .legend(Legend::default())
                    .x_axis_label("predicted class j")
                    .show(right, |p| {
                        p.bar_chart(BarChart::new("CE", bars(|q| q.ce, -0.25)));
                        p.bar_chart(BarChart::new("EMO", bars(|q| q.emo, 0.0)));
                        p.bar_chart(BarChart::new("1 − p_t", bars(|q| q.one_minus_pt, 0.25)));
                    });
            }
        });
    }

    fn experiment_plots(&self, ui: &mut egui::Ui) {
        let noises = self.noises();
        let Some(&noise) = noises.get(self.shown_noise) else {
            return;
        };
        ui.columns(2, |cols| {
            if let [left, right] = cols {
                left.label(format!(
                    "Training curves: test accuracy by step (noise {noise:.2})"
                ));
                Plot::new("losses_curves")
                    .height(260.0)
                    .legend(Legend::default())
                    .x_axis_label("step")
                    .include_y(0.0)
                    .include_y(1.0)
                    .show(left, |p| {
                        for curve in self.live.iter().filter(|c| c.noise == noise) {
                            p.line(Line::new(
                                curve.loss.to_string(),
                                PlotPoints::Borrowed(&curve.points),
                            ));
                        }
                    });
                right.label(format!(
                    "Reliability: accuracy by confidence bin (noise {noise:.2})"
                ));
                Plot::new("losses_reliability")
                    .height(260.0)
                    .legend(Legend::default())
                    .data_aspect(1.0)
                    .x_axis_label("confidence")
                    .show(right, |p| {
                        p.line(Line::new(
                            "perfect calibration",
                            PlotPoints::Owned(vec![
                                PlotPoint::new(0.0, 0.0),
                                PlotPoint::new(1.0, 1.0),
                            ]),
                        ));
                        if let Some(sweep) = &self.sweep {
                            for run in sweep.runs.iter().filter(|r| r.noise == noise) {
                                let pts: Vec<PlotPoint> = run
                                    .bins
                                    .iter()
                                    .filter_map(|b| {
                                        Some(PlotPoint::new(b.mean_confidence()?, b.accuracy()?))
                                    })
                                    .collect();
                                p.line(Line::new(
                                    run.result.loss.to_string(),
                                    PlotPoints::Owned(pts),
                                ));
                            }
                        }
                    });
            }
        });
    }

    fn table(&self, ui: &mut egui::Ui) {
        let Some(sweep) = &self.sweep else {
            return;
        };
        ui.label("Clean test data (gap = mean confidence − accuracy; memorised = share of flipped training labels reproduced)");
        egui::Grid::new("losses_table")
            .striped(true)
            .show(ui, |ui| {
                for h in [
                    "noise",
                    "loss",
                    "accuracy",
                    "NLL",
                    "ECE",
                    "confidence",
                    "gap",
                    "memorised",
                    "EMO cost",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for run in &sweep.runs {
                    let r = &run.result;
                    let s = &r.summary;
                    ui.label(format!("{:.2}", run.noise));
                    ui.label(r.loss.to_string());
                    ui.label(format!("{:.3}", s.accuracy));
                    ui.label(format!("{:.3}", s.nll));
                    ui.label(format!("{:.3}", s.ece));
                    ui.label(format!("{:.3}", s.mean_confidence));
                    ui.label(format!("{:+.3}", s.confidence_gap()));
                    ui.label(
                        r.memorised
                            .map_or_else(|| "–".to_string(), |m| format!("{m:.2}")),
                    );
                    ui.label(format!("{:.3}", r.expected_cost));
                    ui.end_row();
                }
            });
        ui.add_space(6.0);
        for v in &self.verdicts {
            ui.label(egui::RichText::new(format!("{} — {}", v.claim, v.status.label())).strong());
            ui.label(&v.detail);
        }
    }
}

impl Panel for LossesPanel {
    fn name(&self) -> &'static str {
        "Losses"
    }

    fn caption(&self) -> Caption {
        let claim = "TaiLr (2023-03-14) tames cross-entropy's over-confidence under label noise; EMO (2023-10-13) \
                     charges near-miss classes less than far ones, but alone learns slowly from scratch and needs \
                     cross-entropy mixed in."
            .to_string();
        let near = self
            .prediction
            .get(1)
            .zip(self.prediction.get(self.classes / 2));
        let loss_fact = near.map_or_else(String::new, |(n, o)| {
            format!(
                "By the loss: EMO {:.3} for a neighbour vs {:.3} for the opposite class (CE {:.3} for both).",
                n.emo, o.emo, n.ce
            )
        });
        let verdict = if self.running() {
            Verdict::Pending(format!("Experiment running… {loss_fact}"))
        } else if self.verdicts.is_empty() {
            Verdict::Pending(format!(
                "Run the experiment to test the claims. {loss_fact}"
            ))
        } else {
            let text = self
                .verdicts
                .iter()
                .map(|v| format!("[{}: {}] {}", v.id, v.status.label(), v.detail))
                .collect::<Vec<_>>()
                .join("  ");
            let confirmed = self
                .verdicts
                .iter()
                .filter(|v| v.status == Status::Confirmed)
                .count();
            if confirmed == self.verdicts.len() {
                Verdict::Supported(text)
            } else if confirmed == 0 && self.verdicts.iter().all(|v| v.status != Status::Partly) {
                Verdict::Contradicted(text)
            } else {
                Verdict::Mixed(text)
            }
        };
        Caption { claim, verdict }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        ui.heading("TaiLr");
        ui.add(egui::Slider::new(&mut self.gamma, 0.0..=1.0).text("γ"));
        ui.separator();
        ui.heading("EMO");
        ui.add(egui::Slider::new(&mut self.classes, 3..=32).text("classes"));
        let max_target = self.classes.saturating_sub(1);
        ui.add(egui::Slider::new(&mut self.target, 0..=max_target).text("label"));
        ui.add(egui::Slider::new(&mut self.mass, 0.05..=0.99).text("mass"));
        self.recompute();
        ui.separator();
        ui.heading("Label-noise experiment");
        let running = self.running();
        ui.add_enabled_ui(!running, |ui| {
            egui::ComboBox::from_label("noise kind")
                .selected_text(self.noise_kind.to_string())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.noise_kind, NoiseKind::Uniform, "uniform");
                    ui.selectable_value(&mut self.noise_kind, NoiseKind::Neighbour, "neighbour");
                });
            ui.checkbox(
                &mut self.memorising,
                "memorising regime (576 features, 16 points/class)",
            );
            ui.add(
                egui::Slider::new(&mut self.steps, 20..=4000)
                    .logarithmic(true)
                    .text("steps"),
            );
            ui.add(egui::Slider::new(&mut self.seed, 1..=100).text("seed"));
            if ui.button("Run experiment").clicked() {
                self.start(Some(ui.ctx().clone()));
            }
        });
        if progress_row(ui, self.job.as_ref()) == ProgressAction::Cancel
            && let Some(job) = &self.job
        {
            job.cancel();
        }
        let noises = self.noises();
        if !noises.is_empty() {
            let max = noises.len() - 1;
            ui.add(egui::Slider::new(&mut self.shown_noise, 0..=max).text("shown noise level"));
            if let Some(n) = noises.get(self.shown_noise) {
                ui.label(format!("noise = {n:.2}"));
            }
        }
        if !self.status.is_empty() {
            ui.colored_label(ui.visuals().warn_fg_color, &self.status);
        }
    }

    fn plots(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.pt_plots(ui);
            ui.separator();
            self.emo_plots(ui);
            ui.separator();
            self.experiment_plots(ui);
            self.table(ui);
        });
    }

    fn poll(&mut self) -> bool {
        let messages = self.job.as_mut().map(Job::drain).unwrap_or_default();
        for m in messages {
            self.accept(m);
        }
        let running = self.running();
        if !running && self.job.as_ref().is_some_and(Job::is_finished) {
            // Drain anything sent just before the thread ended.
            let rest = self.job.as_mut().map(Job::drain).unwrap_or_default();
            for m in rest {
                self.accept(m);
            }
            self.job = None;
        }
        running
    }
}
