//! Panel "Optimizers": Tiger (post of 2023-03-07) against Lion, AdamW, SGD
//! with momentum, LAMB. A contour plot of a 2-D test function with each
//! optimiser's trajectory and loss curve (recomputed on every control
//! change: microseconds), the two-spirals network per optimiser (a [`Job`]),
//! a memory bar chart, and fp16 / NaN-injection toggles acting on both.
//!
//! Everything is computed by `kexue_core::optim::experiments`; this file only
//! holds UI state and draws.

use egui::Color32;
use egui_plot::{Bar, BarChart, Heatmap, Legend, Line, Plot, PlotPoint, PlotPoints, Points};
use kexue_core::optim::experiments::{
    self, OptimizerName, Precision, RunResult, RunSpec, TaskName,
};
use kexue_core::optim::tasks::Function2d;
use kexue_core::optim::{NanInjection, NanPolicy};

use super::{Caption, Panel, Verdict};
use crate::jobs::{Job, ProgressAction, progress_row};

/// Grid resolution of the contour plot.
const GRID: usize = 90;
/// A network run "trained" when its full loss ends below this (chance ln 2).
const TRAINED_LOSS: f32 = 0.15;

/// A colour per optimiser.
fn color(o: OptimizerName) -> Color32 {
    match o {
        OptimizerName::Tiger => Color32::from_rgb(230, 120, 20),
        OptimizerName::Lion => Color32::from_rgb(200, 60, 160),
        OptimizerName::AdamW => Color32::from_rgb(40, 120, 220),
        OptimizerName::Sgdm => Color32::from_rgb(60, 170, 90),
        OptimizerName::Lamb => Color32::from_rgb(120, 90, 200),
        OptimizerName::TigerBlend => Color32::from_rgb(180, 150, 20),
    }
}

/// One finished network run, or a failure, from the job.
#[derive(Debug)]
pub enum NetMessage {
    /// A finished run.
    Done(Box<RunResult>),
    /// A run that could not be made.
    Failed(String),
}

/// The "Optimizers" panel.
pub struct OptimizersPanel {
    /// The 2-D function.
    pub function: Function2d,
    /// Which optimisers take part, in [`OptimizerName::ALL`] order.
    pub enabled: [bool; 6],
    /// Multiplier of every optimiser's tuned learning rate.
    pub lr_scale: f64,
    /// Tiger's β (also Tiger's blend).
    pub tiger_beta: f64,
    /// β1 of Lion, AdamW and LAMB; SGDM's μ.
    pub beta1: f64,
    /// Updates of the 2-D runs.
    pub steps: u32,
    /// Seed (noise of the noisy quadratic, mini-batches, NaN injection).
    pub seed: u64,
    /// Store θ and state in fp16.
    pub fp16: bool,
    /// Inject NaN gradients (middle third of each run).
    pub nan: bool,
    /// Probability of a NaN gradient per micro-step while injecting.
    pub nan_probability: f32,
    /// What optimisers without a guard do with a NaN gradient.
    pub policy: NanPolicy,
    /// Accumulation micro-steps of the network runs (same effective batch).
    pub accum: u32,
    /// The 2-D runs of the current settings.
    pub runs: Vec<RunResult>,
    /// Errors of the last 2-D computation.
    pub error: Option<String>,
    /// The network runs of the last job.
    pub net_runs: Vec<RunResult>,
    /// The settings the network runs were made with (`fp16`, `nan`, `accum`).
    pub net_settings: Option<(bool, bool, u32)>,
    /// Job running the network.
    pub job: Option<Job<NetMessage>>,
    /// How many times the 2-D runs were recomputed.
    pub recomputed: u64,
    contour: Vec<f64>,
    contour_for: Option<Function2d>,
    traj_points: Vec<(OptimizerName, Vec<PlotPoint>, Vec<PlotPoint>)>,
    net_points: Vec<(OptimizerName, Vec<PlotPoint>)>,
    dirty: bool,
}

impl Default for OptimizersPanel {
    fn default() -> Self {
        let mut p = Self {
            function: Function2d::Rosenbrock,
            enabled: [true, true, true, true, true, false],
            lr_scale: 1.0,
            tiger_beta: 0.965,
            beta1: 0.9,
            steps: 300,
            seed: 0,
            fp16: false,
            nan: false,
            nan_probability: 0.05,
            policy: NanPolicy::Skip,
            accum: 1,
            runs: Vec::new(),
            error: None,
            net_runs: Vec::new(),
            net_settings: None,
            job: None,
            recomputed: 0,
            contour: Vec::new(),
            contour_for: None,
            traj_points: Vec::new(),
            net_points: Vec::new(),
            dirty: true,
        };
        p.recompute();
        p
    }
}

impl OptimizersPanel {
    /// The selected optimisers.
    pub fn selected(&self) -> Vec<OptimizerName> {
        OptimizerName::ALL
            .into_iter()
            .zip(self.enabled)
            .filter_map(|(o, on)| on.then_some(o))
            .collect()
    }

    fn spec(&self, o: OptimizerName, task: TaskName, updates: u32) -> RunSpec {
        let mut spec = RunSpec::new(o, task);
        spec.hyper.lr *= self.lr_scale;
        spec.hyper.beta = if matches!(o, OptimizerName::Tiger | OptimizerName::TigerBlend) {
            self.tiger_beta
        } else {
            self.beta1
        };
        spec.updates = updates;
        spec.seed = self.seed;
        spec.precision = if self.fp16 {
            Precision::F16
        } else {
            Precision::F32
        };
        spec.count_lost = true;
        spec.policy = self.policy;
        if self.nan {
            spec.nan = NanInjection {
                probability: self.nan_probability,
                from: updates / 3,
                until: 2 * updates / 3,
                overflow_limit: None,
                seed: self.seed ^ 0x0BAD_F00D,
            };
        }
        spec
    }

    /// Recompute the 2-D runs for the current settings (cheap).
    pub fn recompute(&mut self) {
        self.dirty = false;
        self.recomputed += 1;
        self.error = None;
        let task = TaskName::Function(self.function);
        let mut runs = Vec::new();
        for o in self.selected() {
            match experiments::run(&self.spec(o, task, self.steps), &mut |_, _| true) {
                Ok(r) => runs.push(r),
                Err(e) => self.error = Some(format!("{}: {e}", o.name())),
            }
        }
        self.traj_points = runs
            .iter()
            .map(|r| {
                let path = r
                    .trajectory
                    .iter()
                    .map(|p| PlotPoint::new(p[0], p[1]))
                    .collect();
                let loss = r
                    .losses
                    .iter()
                    .enumerate()
                    .map(|(i, l)| PlotPoint::new(i as f64, f64::from(l.max(1e-12)).log10()))
                    .collect();
                (r.spec.optimizer, path, loss)
            })
            .collect();
        self.runs = runs;
        if self.contour_for != Some(self.function) {
            self.contour = contour_grid(self.function);
            self.contour_for = Some(self.function);
        }
    }

    /// Start the network job for the selected optimisers and toggles.
    pub fn start_network(&mut self, ctx: Option<egui::Context>) {
        let specs: Vec<RunSpec> = self
            .selected()
            .into_iter()
            .map(|o| {
                let mut s = self.spec(
                    o,
                    TaskName::Mlp,
                    experiments::default_updates(TaskName::Mlp),
                );
                s.accum = self.accum;
                s.spiral.batch = (s.spiral.batch / self.accum.max(1) as usize).max(1);
                s
            })
            .collect();
        self.net_runs.clear();
        self.net_points.clear();
        self.net_settings = Some((self.fp16, self.nan, self.accum));
        self.job = Some(Job::spawn(ctx, move |jc| {
            let total = specs.len().max(1) as f32;
            for (i, spec) in specs.iter().enumerate() {
                let mut progress = |done: u32, all: u32| {
                    jc.set_progress((i as f32 + done as f32 / all.max(1) as f32) / total);
                    !jc.is_cancelled()
                };
                let msg = match experiments::run(spec, &mut progress) {
                    Ok(r) => NetMessage::Done(Box::new(r)),
                    Err(e) => NetMessage::Failed(format!("{}: {e}", spec.optimizer.name())),
                };
                if !jc.send(msg) || jc.is_cancelled() {
                    return;
                }
            }
        }));
    }

    /// The memory chart's data: bytes of optimiser state per parameter,
    /// without and with accumulation, at the current storage precision.
    pub fn memory(&self) -> Vec<(OptimizerName, usize, usize)> {
        let bytes = if self.fp16 { 2 } else { 4 };
        OptimizerName::ALL
            .into_iter()
            .map(|o| {
                (
                    o,
                    bytes * o.state_floats(false),
                    bytes * o.state_floats(true),
                )
            })
            .collect()
    }

    fn net_verdict(&self) -> Option<Verdict> {
        let tiger = self
            .net_runs
            .iter()
            .find(|r| r.spec.optimizer == OptimizerName::Tiger)?;
        let (fp16, nan, accum) = self.net_settings?;
        let loss = tiger.summary.final_loss;
        let mut facts = vec![format!(
            "Tiger's network loss {loss:.4} (chance 0.693) with {} state float/param{}",
            tiger.state_floats,
            if accum > 1 {
                format!(" at k = {accum}")
            } else {
                String::new()
            }
        )];
        if fp16 {
            facts.push(format!(
                "pure fp16, {:.2}% of updates lost to rounding",
                100.0 * tiger.summary.lost_fraction()
            ));
        }
        if nan {
            facts.push(format!(
                "{} NaN micro-steps absorbed by the guard",
                tiger.summary.nan_micro_steps
            ));
        }
        for r in &self.net_runs {
            if r.spec.optimizer != OptimizerName::Tiger {
                let status = match r.summary.diverged_at {
                    Some(u) => format!("diverged at update {u}"),
                    None => format!("{:.4}", r.summary.final_loss),
                };
                facts.push(format!("{} {status}", r.spec.optimizer.name()));
            }
        }
        let trained =
            loss.is_finite() && loss < TRAINED_LOSS && tiger.summary.diverged_at.is_none();
        let better_than_tiger: Vec<&str> = self
            .net_runs
            .iter()
            .filter(|r| {
                matches!(r.spec.optimizer, OptimizerName::AdamW | OptimizerName::Lamb)
                    && r.summary.final_loss < loss
            })
            .map(|r| r.spec.optimizer.name())
            .collect();
        let text = facts.join("; ");
        Some(if !trained {
            Verdict::Contradicted(format!("Tiger did not train here: {text}"))
        } else if better_than_tiger.is_empty() {
            Verdict::Supported(text)
        } else {
            Verdict::Mixed(format!(
                "{text}. Tiger trains, but on this toy task {} {} a lower loss \
                 (the post ranks Tiger ≥ AdamW ≈ LAMB)",
                better_than_tiger.join(" and "),
                if better_than_tiger.len() == 1 {
                    "reaches"
                } else {
                    "reach"
                }
            ))
        })
    }
}

/// `log10(f − f_min + 10⁻³)` on a `GRID × GRID` grid over the function's
/// plotting window, row 0 at the bottom.
fn contour_grid(f: Function2d) -> Vec<f64> {
    let ((x0, x1), (y0, y1)) = f.bounds();
    let (_, _, fmin) = f.minimum();
    let mut v = Vec::with_capacity(GRID * GRID);
    for j in 0..GRID {
        let y = y0 + (j as f64 + 0.5) * (y1 - y0) / GRID as f64;
        for i in 0..GRID {
            let x = x0 + (i as f64 + 0.5) * (x1 - x0) / GRID as f64;
            v.push((f.value(x, y) - fmin + 1e-3).log10());
        }
    }
    v
}

/// Banded grey-blue colours: a filled contour plot of the heatmap values.
fn band_color(v_rel: f64) -> Color32 {
    const BANDS: f64 = 14.0;
    let band = (v_rel.clamp(0.0, 1.0) * BANDS).floor() / BANDS;
    let c = (235.0 - 150.0 * band) as u8;
    Color32::from_rgb(c, c, (c as f32 * 1.05).min(255.0) as u8)
}

impl Panel for OptimizersPanel {
    fn name(&self) -> &'static str {
        "Optimizers"
    }

    fn caption(&self) -> Caption {
        let memory = format!(
            "memory: Tiger {} state float/param with accumulation, Lion {}, AdamW {}",
            OptimizerName::Tiger.state_floats(true),
            OptimizerName::Lion.state_floats(true),
            OptimizerName::AdamW.state_floats(true)
        );
        let verdict = if self.job.as_ref().is_some_and(|j| !j.is_finished()) {
            Verdict::Pending(format!("{memory}; the network is training…"))
        } else {
            match self.net_verdict() {
                Some(Verdict::Supported(t)) => Verdict::Supported(format!("{memory}; {t}")),
                Some(Verdict::Mixed(t)) => Verdict::Mixed(format!("{memory}; {t}")),
                Some(Verdict::Contradicted(t)) => Verdict::Contradicted(format!("{memory}; {t}")),
                _ => Verdict::Pending(format!(
                    "{memory} (exact, by construction); press \"Run network\" to test training, \
                     fp16 and NaN recovery"
                )),
            }
        };
        Caption {
            claim: "Tiger (2023-03-07) is Lion with β1 = β2: one state float per parameter even \
                    with gradient accumulation (Lion 2, AdamW 3), it trains in pure fp16 because \
                    sign(m)·η never underflows, and its NaN guard recovers from NaN gradients."
                .into(),
            verdict,
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        let mut changed = false;
        ui.heading("2-D function");
        egui::ComboBox::from_label("function")
            .selected_text(self.function.name())
            .show_ui(ui, |ui| {
                for f in Function2d::ALL {
                    changed |= ui
                        .selectable_value(&mut self.function, f, f.name())
                        .changed();
                }
            });
        ui.label("optimisers");
        for (o, on) in OptimizerName::ALL.into_iter().zip(self.enabled.iter_mut()) {
            changed |= ui
                .checkbox(on, egui::RichText::new(o.name()).color(color(o)))
                .changed();
        }
        changed |= ui
            .add(
                egui::Slider::new(&mut self.lr_scale, 0.1..=10.0)
                    .logarithmic(true)
                    .text("lr ×"),
            )
            .on_hover_text("multiplies each optimiser's tuned learning rate")
            .changed();
        changed |= ui
            .add(egui::Slider::new(&mut self.tiger_beta, 0.5..=0.999).text("Tiger β"))
            .changed();
        changed |= ui
            .add(egui::Slider::new(&mut self.beta1, 0.5..=0.999).text("β1 (others)"))
            .on_hover_text("Lion's, AdamW's and LAMB's β1; SGDM's momentum")
            .changed();
        changed |= ui
            .add(egui::Slider::new(&mut self.steps, 20..=1000).text("steps"))
            .changed();
        changed |= ui
            .add(egui::DragValue::new(&mut self.seed).prefix("seed "))
            .changed();
        ui.separator();
        ui.heading("Toggles (2-D and network)");
        changed |= ui.checkbox(&mut self.fp16, "fp16 storage").changed();
        changed |= ui.checkbox(&mut self.nan, "NaN injection").changed();
        if self.nan {
            changed |= ui
                .add(
                    egui::Slider::new(&mut self.nan_probability, 0.0..=0.5).text("NaN probability"),
                )
                .changed();
            egui::ComboBox::from_label("without a guard")
                .selected_text(match self.policy {
                    NanPolicy::Skip => "skip the step",
                    NanPolicy::Propagate => "propagate NaN",
                })
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(&mut self.policy, NanPolicy::Skip, "skip the step")
                        .changed();
                    changed |= ui
                        .selectable_value(&mut self.policy, NanPolicy::Propagate, "propagate NaN")
                        .changed();
                });
        }
        if changed || self.dirty {
            self.recompute();
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        for r in &self.runs {
            let s = &r.summary;
            let mut line = format!("{}: loss {:.3e}", r.spec.optimizer.name(), s.final_loss);
            if self.fp16 {
                line += &format!(", lost {:.1}%", 100.0 * s.lost_fraction());
            }
            if let Some(u) = s.diverged_at {
                line += &format!(", diverged at {u}");
            }
            if s.skipped_updates > 0 {
                line += &format!(", {} skipped", s.skipped_updates);
            }
            ui.label(egui::RichText::new(line).small());
        }
        ui.separator();
        ui.heading("Network: two spirals");
        ui.add(egui::Slider::new(&mut self.accum, 1..=8).text("accumulation k"))
            .on_hover_text(
                "micro-steps per update; the micro-batch shrinks so the effective batch stays 32",
            );
        let running = self.job.as_ref().is_some_and(|j| !j.is_finished());
        if ui
            .add_enabled(!running, egui::Button::new("Run network"))
            .clicked()
        {
            self.start_network(Some(ui.ctx().clone()));
        }
        if progress_row(ui, self.job.as_ref()) == ProgressAction::Cancel
            && let Some(job) = &self.job
        {
            job.cancel();
        }
        for r in &self.net_runs {
            let s = &r.summary;
            let mut line = format!(
                "{}: loss {:.3e}, acc {:.1}%, {} floats/param",
                r.spec.optimizer.name(),
                s.final_loss,
                100.0 * r.accuracy.unwrap_or(f32::NAN),
                r.state_floats
            );
            if let Some(u) = s.diverged_at {
                line += &format!(", diverged at {u}");
            }
            if r.spec.precision == Precision::F16 {
                line += &format!(", lost {:.2}%", 100.0 * s.lost_fraction());
            }
            if s.cancelled {
                line += " (cancelled)";
            }
            ui.label(egui::RichText::new(line).small());
        }
    }

    fn plots(&mut self, ui: &mut egui::Ui) {
        let h = (ui.available_height() / 2.0 - 12.0).max(120.0);
        ui.columns(2, |cols| {
            let ((x0, x1), (y0, y1)) = self.function.bounds();
            if let [left, right] = cols {
                Plot::new("optim_contour")
                    .height(h)
                    .data_aspect(1.0)
                    .legend(Legend::default())
                    .show(left, |p| {
                        if !self.contour.is_empty() {
                            let hm = Heatmap::new(self.contour.clone(), GRID)
                                .at(PlotPoint::new(x0, y0))
                                .tile_size(
                                    ((x1 - x0) / GRID as f64) as f32,
                                    ((y1 - y0) / GRID as f64) as f32,
                                )
                                .show_labels(false)
                                .custom_mapping(Box::new({
                                    let (lo, hi) = self
                                        .contour
                                        .iter()
                                        .fold((f64::MAX, f64::MIN), |(a, b), &v| {
                                            (a.min(v), b.max(v))
                                        });
                                    move |v| band_color((v - lo) / (hi - lo).max(1e-12))
                                }));
                            p.heatmap(hm);
                        }
                        let (mx, my, _) = self.function.minimum();
                        p.points(
                            Points::new("minimum", vec![[mx, my]])
                                .radius(4.0)
                                .color(Color32::BLACK),
                        );
                        for (o, path, _) in &self.traj_points {
                            p.line(
                                Line::new(o.name(), PlotPoints::Borrowed(path))
                                    .color(color(*o))
                                    .width(1.5),
                            );
                        }
                    });
                Plot::new("optim_loss2d")
                    .height(h)
                    .legend(Legend::default())
                    .x_axis_label("update")
                    .y_axis_label("log10 f")
                    .show(right, |p| {
                        for (o, _, loss) in &self.traj_points {
                            p.line(
                                Line::new(o.name(), PlotPoints::Borrowed(loss)).color(color(*o)),
                            );
                        }
                    });
            }
        });
        ui.columns(2, |cols| {
            if let [left, right] = cols {
                Plot::new("optim_net")
                    .height(h)
                    .legend(Legend::default())
                    .x_axis_label("update")
                    .y_axis_label("log10 mini-batch loss (two spirals)")
                    .show(left, |p| {
                        for (o, pts) in &self.net_points {
                            p.line(Line::new(o.name(), PlotPoints::Borrowed(pts)).color(color(*o)));
                        }
                    });
                let memory = self.memory();
                let plain: Vec<Bar> = memory
                    .iter()
                    .enumerate()
                    .map(|(i, (o, b, _))| {
                        Bar::new(i as f64 - 0.18, *b as f64)
                            .width(0.34)
                            .name(o.name())
                    })
                    .collect();
                let accum: Vec<Bar> = memory
                    .iter()
                    .enumerate()
                    .map(|(i, (o, _, b))| {
                        Bar::new(i as f64 + 0.18, *b as f64)
                            .width(0.34)
                            .name(o.name())
                    })
                    .collect();
                Plot::new("optim_memory")
                    .height(h)
                    .legend(Legend::default())
                    .y_axis_label("state bytes / parameter")
                    .x_axis_formatter(|mark, _| {
                        let i = mark.value.round();
                        if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                            OptimizerName::ALL
                                .get(i as usize)
                                .map(|o| o.name().to_string())
                                .unwrap_or_default()
                        } else {
                            String::new()
                        }
                    })
                    .show(right, |p| {
                        p.bar_chart(
                            BarChart::new("without accumulation", plain)
                                .color(Color32::from_rgb(90, 140, 200)),
                        );
                        p.bar_chart(
                            BarChart::new("with accumulation", accum)
                                .color(Color32::from_rgb(230, 140, 60)),
                        );
                    });
            }
        });
    }

    fn poll(&mut self) -> bool {
        let Some(job) = &mut self.job else {
            return false;
        };
        for msg in job.drain() {
            match msg {
                NetMessage::Done(r) => {
                    let pts = r
                        .losses
                        .iter()
                        .enumerate()
                        .map(|(i, l)| PlotPoint::new(i as f64, f64::from(l.max(1e-12)).log10()))
                        .collect();
                    self.net_points.push((r.spec.optimizer, pts));
                    self.net_runs.push(*r);
                }
                NetMessage::Failed(e) => self.error = Some(e),
            }
        }
        !job.is_finished()
    }
}
