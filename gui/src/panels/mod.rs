//! The lab's panels: one file per post, each implementing [`Panel`], all listed
//! in [`registry`]. Every panel has the same layout ([`show_panel`]): the
//! caption (the post's claim and this run's verdict) on top, controls on the
//! left, plots on the right.
//!
//! A new capability adds one file here and one line to [`registry`]; the GUI
//! tests iterate the registry, so a registered panel is tested at once.

pub mod attention;
pub mod losses;
pub mod optim;
pub mod tokenizer;

/// Whether the current run supports the post's claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The numbers on screen support the claim; the text says which numbers.
    Supported(String),
    /// The numbers on screen contradict the claim (or part of it).
    Contradicted(String),
    /// Mixed: some parts hold, some do not; the text says which.
    Mixed(String),
    /// Nothing computed yet (e.g. an experiment not run, or still running).
    Pending(String),
}

impl Verdict {
    /// A short label for the verdict.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Supported(_) => "supported",
            Self::Contradicted(_) => "contradicted",
            Self::Mixed(_) => "mixed",
            Self::Pending(_) => "pending",
        }
    }

    /// The explanation.
    pub fn text(&self) -> &str {
        match self {
            Self::Supported(s) | Self::Contradicted(s) | Self::Mixed(s) | Self::Pending(s) => s,
        }
    }

    fn color(&self, ui: &egui::Ui) -> egui::Color32 {
        let visuals = ui.visuals();
        match self {
            Self::Supported(_) => egui::Color32::from_rgb(60, 160, 80),
            Self::Contradicted(_) => visuals.error_fg_color,
            Self::Mixed(_) => visuals.warn_fg_color,
            Self::Pending(_) => visuals.weak_text_color(),
        }
    }
}

/// A panel's caption: the post's claim and the verdict of the current run.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    /// The claim of the post, in one or two sentences, with the post's date.
    pub claim: String,
    /// What the numbers currently on screen say about it.
    pub verdict: Verdict,
}

/// One tab of the lab. Cheap analyses recompute inside `controls`/`plots` when
/// a control changes; long runs go through [`crate::jobs::Job`] and are drained
/// in [`Panel::poll`].
pub trait Panel {
    /// The tab title (also used to find the panel in tests).
    fn name(&self) -> &'static str;
    /// The claim and the current verdict.
    fn caption(&self) -> Caption;
    /// The controls (left column).
    fn controls(&mut self, ui: &mut egui::Ui);
    /// The plots (right, the main area).
    fn plots(&mut self, ui: &mut egui::Ui);
    /// Called every frame before drawing, visible or not: drain job messages.
    /// Returns true while something is still moving (a job running), so the
    /// app keeps repainting.
    fn poll(&mut self) -> bool {
        false
    }
}

/// Every panel of the lab, in tab order.
pub fn registry() -> Vec<Box<dyn Panel>> {
    vec![
        Box::new(attention::AttentionPanel::default()),
        Box::new(tokenizer::TokenizerPanel::default()),
        Box::new(losses::LossesPanel::default()),
        Box::new(optim::OptimizersPanel::default()),
    ]
}

/// Draw one panel with the common layout: caption on top, controls left,
/// plots in the remaining space.
pub fn show_panel(ui: &mut egui::Ui, panel: &mut dyn Panel) {
    if panel.poll() {
        ui.ctx().request_repaint();
    }
    let caption = panel.caption();
    egui::Panel::top("caption").show(ui, |ui| {
        ui.add_space(4.0);
        ui.label(egui::RichText::new(&caption.claim).strong());
        ui.horizontal_wrapped(|ui| {
            ui.label(
                egui::RichText::new(caption.verdict.label())
                    .color(caption.verdict.color(ui))
                    .strong(),
            );
            ui.label(caption.verdict.text());
        });
        ui.add_space(4.0);
    });
    egui::Panel::left("controls")
        .resizable(true)
        .default_size(280.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| panel.controls(ui));
        });
    egui::CentralPanel::default().show(ui, |ui| panel.plots(ui));
}
