//! Panel "Tokenizer": Viterbi decoding and Viterbi sampling with the real
//! BytePiece 40k model (posts of 2023-09-16 and 2023-10-16). Type a text, see
//! its Viterbi segmentation, draw samples at a chosen α from the perfect
//! sampler, the legacy sigmoid sampler and the k-best baseline side by side,
//! and watch their frequencies converge (or not) to the exact probabilities;
//! entropy vs α; per-piece marginals over the text. All numbers come from
//! `kexue_core::tokenizer`.

use std::collections::HashMap;

use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoint, PlotPoints, Text};
use kexue_core::stats::{ChiSquare, chi_square_test};
use kexue_core::tokenizer::exact::{
    PieceMarginal, entropy, enumerate, log_partition_of_scores, marginals,
};
use kexue_core::tokenizer::nbest::{NBestEntry, nbest};
use kexue_core::tokenizer::text::nfc;
use kexue_core::tokenizer::{
    SamplingTable, Scratch, Token, Vocab, viterbi_decode, viterbi_sample, viterbi_sample_legacy,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{Caption, Panel, Verdict};
use crate::jobs::{Job, ProgressAction, progress_row};

/// The compiled BytePiece 40k model, embedded zero-copy (Apache-2.0, see
/// `tests/data/tokenizer/LICENSE-bytepiece-Apache-2.0.txt`).
pub static MODEL_BLOB: &[u8] =
    include_bytes!("../../../tests/data/tokenizer/bytepiece.plus.40k.kxb");

/// Segmentations shown individually in the bar chart (the rest are pooled).
const TOP: usize = 10;
/// Enumeration limit for the exact distribution (keeps the on-change analysis
/// well under a frame: about 20k segmentations of a ≤ 48-byte text).
const MAX_SEGMENTATIONS: usize = 20_000;
/// Longest text analysed (bytes).
const MAX_TEXT_BYTES: usize = 48;

/// The three samplers compared.
pub const SAMPLERS: [&str; 3] = ["perfect", "legacy", "k-best"];
/// Significance level of the chi-square goodness-of-fit verdicts.
pub const LEVEL: f64 = 1e-3;
/// Bins with a smaller expected count are pooled in the chi-square test.
const MIN_EXPECTED: f64 = 5.0;
/// Example texts offered as buttons (ambiguous ones, where samplers differ).
const PRESETS: [&str; 5] = [
    "发展中国家",
    "计算机",
    "天气不错",
    "watching",
    "unbelievable",
];

/// The exact analysis of the current text at the current α.
#[derive(Debug, Clone, Default)]
pub struct Exact {
    /// Segmentations as token end positions, most probable first (all of them).
    pub segmentations: Vec<Vec<u32>>,
    /// Their labels (tokens joined by " | ").
    pub labels: Vec<String>,
    /// Their probabilities.
    pub probs: Vec<f64>,
    /// Entropy (nats) at the current α.
    pub entropy: f64,
    /// Entropy vs α, α ∈ [0, 3].
    pub entropy_curve: Vec<PlotPoint>,
    /// Lattice edges with marginal probability.
    pub marginals: Vec<PieceMarginal>,
    /// Why the analysis is missing, if it is.
    pub error: Option<String>,
}

/// A message from the sampling job: counts per sampler per segmentation index
/// (`usize::MAX` pooled as the last slot).
#[derive(Debug, Clone)]
pub struct SampleCounts {
    /// `counts[sampler][segmentation]`.
    pub counts: [Vec<u64>; 3],
    /// Draws so far per sampler.
    pub draws: u64,
}

/// The Tokenizer panel.
pub struct TokenizerPanel {
    vocab: Vocab<'static>,
    /// The text typed by the user.
    pub text: String,
    /// α of the distribution `e^{α S(w)} / Z`.
    pub alpha: f64,
    /// k of the k-best baseline.
    pub k: usize,
    /// Draws per sampler per run.
    pub draws: u64,
    /// Seed of the sampling run.
    pub seed: u64,
    /// The Viterbi segmentation, tokens as text.
    pub viterbi: Vec<String>,
    /// Exact analysis.
    pub exact: Exact,
    /// Latest sample counts (from the job).
    pub samples: Option<SampleCounts>,
    /// Chi-square goodness of fit of each sampler's counts to the exact
    /// distribution (updated with the counts).
    pub fits: [Option<ChiSquare>; 3],
    analysed: Option<(String, u64)>,
    job: Option<Job<SampleCounts>>,
    tofu_since: Option<u64>,
}

impl std::fmt::Debug for TokenizerPanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenizerPanel")
            .field("text", &self.text)
            .field("alpha", &self.alpha)
            .finish_non_exhaustive()
    }
}

impl Default for TokenizerPanel {
    fn default() -> Self {
        // The embedded blob is produced by our compiler and validated by tests.
        let vocab = match Vocab::from_blob(MODEL_BLOB) {
            Ok(v) => v,
            Err(e) => panic!("embedded tokenizer blob is invalid: {e}"),
        };
        let mut panel = Self {
            vocab,
            text: "发展中国家".to_owned(),
            alpha: 1.0,
            k: 8,
            draws: 200_000,
            seed: 1,
            viterbi: Vec::new(),
            exact: Exact::default(),
            samples: None,
            fits: [None; 3],
            analysed: None,
            job: None,
            tofu_since: None,
        };
        panel.analyse();
        panel
    }
}

fn label(bytes: &[u8], tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| String::from_utf8_lossy(bytes.get(t.range()).unwrap_or_default()).into_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

impl TokenizerPanel {
    /// True once missing glyphs are drawn as boxes (set on the first pass,
    /// effective from the next one).
    fn glyphs_ready(&mut self, ui: &egui::Ui) -> bool {
        use egui::epaint::text::MissingGlyphPolicy;
        let ctx = ui.ctx();
        let pass = ctx.cumulative_pass_nr();
        if ctx.missing_glyph_policy() != MissingGlyphPolicy::Tofu {
            ctx.set_missing_glyph_policy(MissingGlyphPolicy::Tofu);
            self.tofu_since = Some(pass);
            return false;
        }
        self.tofu_since != Some(pass)
    }

    /// True while a sampling job runs.
    pub fn is_sampling(&self) -> bool {
        self.job.as_ref().is_some_and(|j| !j.is_finished())
    }

    fn bytes(&self) -> Vec<u8> {
        nfc(&self.text).as_bytes().to_vec()
    }

    /// Recompute the Viterbi segmentation and the exact analysis (cheap for
    /// the short texts the panel accepts). Drops stale sample counts.
    pub fn analyse(&mut self) {
        let key = (self.text.clone(), self.alpha.to_bits());
        if self.analysed.as_ref() == Some(&key) {
            return;
        }
        self.analysed = Some(key);
        self.samples = None;
        self.fits = [None; 3];
        self.job = None;
        self.exact = Exact::default();
        let bytes = self.bytes();
        let n = bytes.len();
        let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
        let mut out = vec![Token::default(); n];
        self.viterbi = match viterbi_decode(
            &self.vocab,
            &bytes,
            &mut Scratch::new(&mut s, &mut r),
            &mut out,
        ) {
            Ok(k) => out[..k]
                .iter()
                .map(|t| String::from_utf8_lossy(&bytes[t.range()]).into_owned())
                .collect(),
            Err(e) => vec![format!("error: {e}")],
        };
        if n == 0 || n > MAX_TEXT_BYTES {
            self.exact.error = Some(format!(
                "exact analysis needs 1–{MAX_TEXT_BYTES} bytes (text has {n})"
            ));
            return;
        }
        let mut segs: Vec<(f64, Vec<Token>)> = Vec::new();
        let mut path = vec![Token::default(); n];
        if let Err(e) = enumerate(
            &self.vocab,
            &bytes,
            &mut path,
            MAX_SEGMENTATIONS,
            |t, sc| {
                segs.push((sc, t.to_vec()));
            },
        ) {
            self.exact.error = Some(e.to_string());
            return;
        }
        let log_z = log_partition_of_scores(segs.iter().map(|s| s.0), self.alpha).unwrap_or(0.0);
        segs.sort_by(|a, b| b.0.total_cmp(&a.0));
        self.exact.probs = segs
            .iter()
            .map(|s| (self.alpha * s.0 - log_z).exp())
            .collect();
        self.exact.labels = segs.iter().map(|s| label(&bytes, &s.1)).collect();
        self.exact.segmentations = segs
            .iter()
            .map(|s| s.1.iter().map(|t| t.end).collect())
            .collect();
        let (mut f, mut b) = (vec![0.0; n + 1], vec![0.0; n + 1]);
        self.exact.entropy =
            entropy(&self.vocab, &bytes, self.alpha, &mut f, &mut b).unwrap_or(f64::NAN);
        self.exact.entropy_curve = (0..=60)
            .map(|i| {
                let a = f64::from(i) * 0.05;
                PlotPoint::new(
                    a,
                    entropy(&self.vocab, &bytes, a, &mut f, &mut b).unwrap_or(f64::NAN),
                )
            })
            .collect();
        let mut m = vec![PieceMarginal::default(); n * self.vocab.max_piece_len().max(1)];
        if let Ok((k, _)) = marginals(&self.vocab, &bytes, self.alpha, &mut f, &mut b, &mut m) {
            m.truncate(k);
            self.exact.marginals = m;
        }
    }

    /// Start a sampling run: `draws` samples from each sampler, streamed back
    /// in batches so the bars converge on screen.
    pub fn start_sampling(&mut self, ctx: Option<egui::Context>) {
        self.analyse();
        if self.exact.error.is_some() {
            return;
        }
        let bytes = self.bytes();
        let index: HashMap<Vec<u32>, usize> = self
            .exact
            .segmentations
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        let bins = self.exact.segmentations.len();
        let (alpha, k, draws, seed) = (self.alpha, self.k.max(1), self.draws.max(1), self.seed);
        let vocab = self.vocab;
        self.samples = None;
        self.fits = [None; 3];
        self.job = Some(Job::spawn(ctx, move |job| {
            let n = bytes.len();
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut weights = vec![0.0; vocab.id_space()];
            let Ok(table) = SamplingTable::new(&vocab, alpha, &mut weights) else {
                return;
            };
            let mut entries = vec![NBestEntry::default(); (n + 1) * k];
            let Ok(best) = nbest(&vocab, &bytes, k, &mut entries) else {
                return;
            };
            let (mut s, mut r) = (vec![0.0; n + 1], vec![0u32; n + 1]);
            let mut out = vec![Token::default(); n];
            let mut counts: [Vec<u64>; 3] = [vec![0; bins], vec![0; bins], vec![0; bins]];
            let batch = (draws / 20).max(1);
            let mut done = 0u64;
            while done < draws {
                if job.is_cancelled() {
                    return;
                }
                for _ in 0..batch.min(draws - done) {
                    let runs: [Option<usize>; 3] = [
                        viterbi_sample(
                            &vocab,
                            &table,
                            &bytes,
                            &mut rng,
                            &mut Scratch::new(&mut s, &mut r),
                            &mut out,
                        )
                        .ok(),
                        None,
                        None,
                    ];
                    let ends = |out: &[Token], k: usize| {
                        out[..k].iter().map(|t| t.end).collect::<Vec<_>>()
                    };
                    if let Some(k0) = runs[0]
                        && let Some(&i) = index.get(&ends(&out, k0))
                    {
                        counts[0][i] += 1;
                    }
                    if let Ok(k1) = viterbi_sample_legacy(
                        &vocab,
                        alpha,
                        &bytes,
                        &mut rng,
                        &mut Scratch::new(&mut s, &mut r),
                        &mut out,
                    ) && let Some(&i) = index.get(&ends(&out, k1))
                    {
                        counts[1][i] += 1;
                    }
                    if let Ok(pick) = best.sample(alpha, &mut rng)
                        && let Ok(k2) = best.write_path(pick, &mut out)
                        && let Some(&i) = index.get(&ends(&out, k2))
                    {
                        counts[2][i] += 1;
                    }
                }
                done += batch.min(draws - done);
                job.set_progress(done as f32 / draws as f32);
                if !job.send(SampleCounts {
                    counts: counts.clone(),
                    draws: done,
                }) {
                    return;
                }
            }
        }));
    }

    /// The top `shown` segmentations with their exact probability and each
    /// sampler's frequency.
    fn segmentation_table(&self, ui: &mut egui::Ui, shown: usize) {
        egui::Grid::new("tok_grid")
            .striped(true)
            .num_columns(6)
            .show(ui, |ui| {
                for head in [
                    "#",
                    "segmentation",
                    "exact",
                    SAMPLERS[0],
                    SAMPLERS[1],
                    SAMPLERS[2],
                ] {
                    ui.strong(head);
                }
                ui.end_row();
                for i in 0..shown {
                    ui.label(i.to_string());
                    ui.label(self.exact.labels.get(i).map_or("", String::as_str));
                    ui.label(format!(
                        "{:.4}",
                        self.exact.probs.get(i).copied().unwrap_or(0.0)
                    ));
                    for s in 0..SAMPLERS.len() {
                        match &self.samples {
                            Some(sm) if sm.draws > 0 => ui.label(format!(
                                "{:.4}",
                                sm.counts[s].get(i).copied().unwrap_or(0) as f64 / sm.draws as f64
                            )),
                            _ => ui.label("–"),
                        };
                    }
                    ui.end_row();
                }
            });
    }

    /// Total variation distance between sampler `s`'s frequencies and the
    /// exact probabilities, and the TV expected from sampling noise alone.
    pub fn total_variation(&self, s: usize) -> Option<(f64, f64)> {
        let samples = self.samples.as_ref()?;
        let counts = samples.counts.get(s)?;
        let n = samples.draws as f64;
        let tv = 0.5
            * counts
                .iter()
                .zip(&self.exact.probs)
                .map(|(&c, &p)| (c as f64 / n - p).abs())
                .sum::<f64>();
        let noise = 0.5
            * self
                .exact
                .probs
                .iter()
                .map(|p| (2.0 * p * (1.0 - p) / (std::f64::consts::PI * n)).sqrt())
                .sum::<f64>();
        Some((tv, noise))
    }
}

impl Panel for TokenizerPanel {
    fn name(&self) -> &'static str {
        "Tokenizer"
    }

    fn caption(&self) -> Caption {
        let claim = "Viterbi sampling (2023-10-16): a running log-sum-exp plus reservoir replacement draws every \
                     segmentation with probability exactly e^{αS(w)}/Z at the cost of decoding; the first post's \
                     sigmoid sampler (2023-09-16) is biased, and k-best sampling only sees the top k."
            .to_owned();
        let verdict = match (&self.samples, self.fits) {
            _ if self.exact.error.is_some() => {
                Verdict::Pending(self.exact.error.clone().unwrap_or_default())
            }
            (Some(samples), [Some(perfect), Some(legacy), kbest]) => {
                let kbest = kbest.map_or_else(String::new, |f| {
                    format!(", k-best (k = {}) p = {:.2e}", self.k, f.p_value)
                });
                let text = format!(
                    "{} draws at α = {}: chi-square fit to the exact distribution (level {LEVEL:.0e}) — \
                     perfect p = {:.3}, legacy p = {:.2e}{kbest}.",
                    samples.draws, self.alpha, perfect.p_value, legacy.p_value
                );
                match (perfect.p_value > LEVEL, legacy.p_value > LEVEL) {
                    (true, false) => Verdict::Supported(format!(
                        "{text} The perfect sampler fits; the legacy sampler is rejected (biased)."
                    )),
                    (true, true) => Verdict::Mixed(format!(
                        "{text} The perfect sampler fits; the legacy bias is not resolved at this α and \
                         number of draws (try more draws or a smaller α)."
                    )),
                    (false, _) => Verdict::Contradicted(format!(
                        "{text} The perfect sampler is rejected at this level."
                    )),
                }
            }
            _ => Verdict::Pending(format!(
                "{} segmentations, entropy {:.3} nats at α = {}: press \"Draw samples\" to compare the samplers \
                 with the exact probabilities.",
                self.exact.probs.len(),
                self.exact.entropy,
                self.alpha
            )),
        };
        Caption { claim, verdict }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        // This panel's content is Chinese text and machines may lack a CJK
        // font: draw boxes ("tofu") for missing glyphs rather than fail. (The
        // app's default already is tofu; test harnesses default to panicking.)
        // The policy takes effect at the next pass: draw no text this pass.
        if !self.glyphs_ready(ui) {
            return;
        }
        let label = ui.label("Text (≤ 48 bytes for the exact analysis)");
        ui.add(egui::TextEdit::singleline(&mut self.text).desired_width(240.0))
            .labelled_by(label.id);
        ui.horizontal_wrapped(|ui| {
            for preset in PRESETS {
                if ui.small_button(preset).clicked() {
                    preset.clone_into(&mut self.text);
                }
            }
        });
        ui.add(egui::Slider::new(&mut self.alpha, 0.0..=3.0).text("α"));
        ui.add(egui::Slider::new(&mut self.k, 1..=64).text("k (k-best)"));
        ui.add(
            egui::Slider::new(&mut self.draws, 1_000..=1_000_000)
                .logarithmic(true)
                .text("draws"),
        );
        self.analyse();
        ui.separator();
        ui.label(format!("Viterbi: {}", self.viterbi.join(" | ")));
        if self.exact.error.is_none() {
            ui.label(format!(
                "{} segmentations, entropy {:.3} nats at α = {}",
                self.exact.probs.len(),
                self.exact.entropy,
                self.alpha
            ));
        }
        ui.separator();
        let running = self.is_sampling();
        if ui
            .add_enabled(!running, egui::Button::new("Draw samples"))
            .clicked()
        {
            self.start_sampling(Some(ui.ctx().clone()));
        }
        if progress_row(ui, self.job.as_ref()) == ProgressAction::Cancel
            && let Some(job) = &self.job
        {
            job.cancel();
        }
        for (s, name) in SAMPLERS.iter().enumerate() {
            if let (Some((tv, noise)), Some(fit)) = (self.total_variation(s), self.fits[s]) {
                let verdict = if fit.p_value > LEVEL {
                    "fits"
                } else {
                    "rejected"
                };
                ui.label(format!(
                    "{name}: χ² = {:.1} (df {}), p = {:.2e} — {verdict}; TV {tv:.4} (noise ≈ {noise:.4})",
                    fit.statistic, fit.df, fit.p_value
                ));
            }
        }
    }

    fn plots(&mut self, ui: &mut egui::Ui) {
        if !self.glyphs_ready(ui) {
            return;
        }
        if let Some(err) = &self.exact.error {
            ui.label(err);
            return;
        }
        let h = ui.available_height() / 2.0 - 40.0;
        let shown = self.exact.probs.len().min(TOP);
        let mut charts = Vec::new();
        let width = 0.2;
        let exact_bars: Vec<Bar> = (0..shown)
            .map(|i| {
                Bar::new(i as f64 - 1.5 * width, self.exact.probs[i])
                    .width(width)
                    .name(&self.exact.labels[i])
            })
            .collect();
        charts.push(BarChart::new("exact", exact_bars));
        if let Some(samples) = &self.samples {
            let n = samples.draws as f64;
            for (s, name) in SAMPLERS.iter().enumerate() {
                let bars = (0..shown)
                    .map(|i| {
                        Bar::new(
                            i as f64 + (s as f64 - 0.5) * width,
                            samples.counts[s][i] as f64 / n,
                        )
                        .width(width)
                        .name(&self.exact.labels[i])
                    })
                    .collect();
                charts.push(BarChart::new(*name, bars));
            }
        }
        ui.horizontal(|ui| {
            let w = ui.available_width() * 0.55;
            ui.vertical(|ui| {
                ui.set_width(w);
                ui.label(format!(
                    "Top {shown} segmentations (0 = most probable): exact probability and sampled frequencies"
                ));
                Plot::new("tok_bars")
                    .height(h)
                    .legend(Legend::default())
                    .show(ui, |plot| {
                        for c in charts {
                            plot.bar_chart(c);
                        }
                    });
            });
            ui.vertical(|ui| {
                egui::ScrollArea::vertical()
                    .id_salt("tok_table")
                    .max_height(h + 20.0)
                    .show(ui, |ui| self.segmentation_table(ui, shown));
            });
        });
        ui.horizontal(|ui| {
            let w = ui.available_width() / 2.0 - 8.0;
            ui.vertical(|ui| {
                ui.set_width(w);
                ui.label("Entropy of the segmentation distribution vs α (nats)");
                Plot::new("tok_entropy")
                    .height(h)
                    .x_axis_label("α")
                    .show(ui, |plot| {
                        plot.line(Line::new(
                            "H(α)",
                            PlotPoints::Borrowed(&self.exact.entropy_curve),
                        ));
                    });
            });
            ui.vertical(|ui| {
                ui.set_width(w);
                ui.label(
                    "Per-piece marginals: P(piece in the segmentation), over its bytes (P > 1%)",
                );
                let bytes = self.bytes();
                Plot::new("tok_marginals")
                    .height(h)
                    .x_axis_label("byte")
                    .show(ui, |plot| {
                        for m in self.exact.marginals.iter().filter(|m| m.prob > 0.01) {
                            let piece = String::from_utf8_lossy(
                                bytes.get(m.token.range()).unwrap_or_default(),
                            )
                            .into_owned();
                            let (a, b) = (f64::from(m.token.start), f64::from(m.token.end));
                            let pts = vec![PlotPoint::new(a, m.prob), PlotPoint::new(b, m.prob)];
                            let name = format!("{piece} [{a}, {b}) P = {:.3}", m.prob);
                            plot.line(Line::new(name.clone(), PlotPoints::Owned(pts)).width(3.0));
                            plot.text(Text::new(
                                name,
                                PlotPoint::new(0.5 * (a + b), m.prob),
                                piece,
                            ));
                        }
                    });
            });
        });
    }

    fn poll(&mut self) -> bool {
        let Some(job) = &mut self.job else {
            return false;
        };
        if let Some(last) = job.drain().pop() {
            for (fit, counts) in self.fits.iter_mut().zip(&last.counts) {
                *fit = chi_square_test(counts, &self.exact.probs, MIN_EXPECTED).ok();
            }
            self.samples = Some(last);
        }
        !job.is_finished()
    }
}
