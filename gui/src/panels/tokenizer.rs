//! Panel "Tokenizer": Viterbi decoding and Viterbi sampling with the real
//! BytePiece 40k model (posts of 2023-09-16 and 2023-10-16). Type a text, see
//! its Viterbi segmentation, draw samples at a chosen α from the perfect
//! sampler, the legacy sigmoid sampler and the k-best baseline side by side,
//! and watch their frequencies converge (or not) to the exact probabilities;
//! entropy vs α; per-piece marginals over the text. All numbers come from
//! `kexue_core::tokenizer`.

use std::collections::HashMap;

use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoint, PlotPoints};
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
            draws: 20_000,
            seed: 1,
            viterbi: Vec::new(),
            exact: Exact::default(),
            samples: None,
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
        let verdict = match (self.total_variation(0), self.total_variation(1)) {
            _ if self.exact.error.is_some() => {
                Verdict::Pending(self.exact.error.clone().unwrap_or_default())
            }
            (Some((tv_p, noise)), Some((tv_l, _))) => {
                let draws = self.samples.as_ref().map_or(0, |s| s.draws);
                let text = format!(
                    "{draws} draws at α = {}: total variation to the exact distribution — perfect {tv_p:.4}, legacy {tv_l:.4} \
                     (sampling noise alone ≈ {noise:.4}).",
                    self.alpha
                );
                if tv_p <= 3.0 * noise && tv_l > 3.0 * noise {
                    Verdict::Supported(format!("{text} Perfect matches; legacy is biased."))
                } else if tv_p <= 3.0 * noise {
                    Verdict::Mixed(format!(
                        "{text} Perfect matches; the legacy bias is not resolved at this α and N."
                    ))
                } else {
                    Verdict::Contradicted(format!(
                        "{text} The perfect sampler is off by more than noise."
                    ))
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
        ui.add(egui::Slider::new(&mut self.alpha, 0.0..=3.0).text("α"));
        ui.add(egui::Slider::new(&mut self.k, 1..=64).text("k (k-best)"));
        ui.add(
            egui::Slider::new(&mut self.draws, 1_000..=200_000)
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
            if let Some((tv, noise)) = self.total_variation(s) {
                ui.label(format!("{name}: TV {tv:.4} (noise ≈ {noise:.4})"));
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
        let h = ui.available_height() / 3.0 - 8.0;
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
                ui.label("Per-piece marginals over the text (byte offsets; P > 1%)");
                Plot::new("tok_marginals")
                    .height(h)
                    .x_axis_label("byte")
                    .show(ui, |plot| {
                        for m in self.exact.marginals.iter().filter(|m| m.prob > 0.01) {
                            let pts = vec![
                                PlotPoint::new(f64::from(m.token.start), m.prob),
                                PlotPoint::new(f64::from(m.token.end), m.prob),
                            ];
                            plot.line(Line::new(
                                format!("{}..{}", m.token.start, m.token.end),
                                PlotPoints::Owned(pts),
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
            self.samples = Some(last);
        }
        !job.is_finished()
    }
}
