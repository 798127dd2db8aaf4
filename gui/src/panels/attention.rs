//! Panel "Attention scale" (post of 2023-10-22, `SPEC.md` §1): the post's
//! approximation of the best softmax scale `a*`, its fitted law, and — side by
//! side for the same `n` — the exact mean and median of `G(a)` by Monte Carlo
//! and the distribution of per-draw maximisers, plus the causal-decoder
//! comparison and the entropy-invariant scale. All numbers come from
//! `kexue_core::attention`; this file holds UI state and plots only.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use egui_plot::{Bar, BarChart, Corner, Legend, Line, Plot, PlotPoint, PlotPoints, Points, VLine};
use kexue_core::attention::{
    CausalComparison, CausalStats, Fit, GStats, MonteCarlo, MonteCarloSummary, POST_N_GRID,
    ScaleLaw, ScoreDist, a_star_table, causal_best_scale, causal_mean_objective,
    causal_monte_carlo, entropy_invariant_scale, fit_scale_law, log_histogram,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{Caption, Panel, Verdict};
use crate::jobs::{Job, JobContext, ProgressAction, progress_row};

/// Points of the smooth approximation curves.
const CURVE_POINTS: usize = 200;
/// Scales at which the Monte Carlo evaluates `G` (log-spaced).
pub const MC_A_POINTS: usize = 41;
/// The curves span `[a*/SPAN, a*·SPAN]`.
const SPAN: f64 = 20.0;
/// Histogram of per-draw maximisers: bins over `[a*/SPAN, a*·HIST_SPAN_HI]`.
const HIST_BINS: usize = 40;
const HIST_SPAN_HI: f64 = 100.0;
/// Draws of the causal-decoder Monte Carlo (each draw is a row of `L` scores).
pub const CAUSAL_DRAWS: usize = 200;
/// Monte Carlo starts this long after the last control change.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// Partial Monte-Carlo results are sent this many times per run.
const PARTIAL_UPDATES: usize = 10;
/// `n` at which the entropy-invariant scale is calibrated to `a*`.
const ENTROPY_N_REF: f64 = 512.0;
/// The post's fitted constants (2023-10-22).
const POST_C_NORMAL: f64 = 0.84;
const POST_C_COSINE_128: f64 = 3.5;
/// A fitted `c` within this relative distance of the post's counts as reproduced.
const POST_C_REL_TOL: f64 = 0.02;
/// Significance (in standard errors) for "the mean still rises".
const Z: f64 = 3.0;

/// The parameters of one Monte-Carlo run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McParams {
    /// The score distribution.
    pub dist: ScoreDist,
    /// Keys per draw.
    pub n: u32,
    /// Draws.
    pub draws: usize,
    /// Seed of the `SmallRng`.
    pub seed: u64,
    /// The approximation's `a*` (the grids are centred on it).
    pub a_star: f64,
}

/// A (partial or final) Monte-Carlo result.
#[derive(Debug, Clone, PartialEq)]
pub struct McResult {
    /// What was run.
    pub params: McParams,
    /// Per-`a` mean, standard error and median of `G`.
    pub stats: Vec<GStats>,
    /// Draws done, median maximiser, unbounded draws.
    pub summary: MonteCarloSummary,
    /// Histogram of per-draw maximisers (log bins over `hist_range`).
    pub hist: Vec<u32>,
    /// The histogram's range of `a`.
    pub hist_range: (f64, f64),
    /// Maximisers outside the histogram's range.
    pub hist_outside: usize,
    /// True once all draws are done.
    pub complete: bool,
}

impl McResult {
    /// The grid point with the largest mean `G`.
    pub fn mean_argmax(&self) -> Option<&GStats> {
        self.stats.iter().max_by(|a, b| a.mean.total_cmp(&b.mean))
    }

    /// True if the mean of `G` has a significant interior maximum on the grid:
    /// the best mean exceeds the mean at the largest `a` by more than `Z`
    /// combined standard errors.
    pub fn mean_has_interior_maximum(&self) -> bool {
        match (self.mean_argmax(), self.stats.last()) {
            (Some(best), Some(last)) => {
                best.a < last.a && best.mean - last.mean > Z * (best.std_err + last.std_err)
            }
            _ => false,
        }
    }
}

/// The parameters of one causal-decoder Monte-Carlo run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CausalMcParams {
    /// The score distribution.
    pub dist: ScoreDist,
    /// Context length.
    pub l: u32,
    /// Seed of the `SmallRng`.
    pub seed: u64,
    /// The approximation's best single scale (the grid is centred on it).
    pub a_causal: f64,
}

/// The exact mean over positions of `G` by Monte Carlo.
#[derive(Debug, Clone, PartialEq)]
pub struct CausalMcResult {
    /// What was run.
    pub params: CausalMcParams,
    /// Mean and standard error per scale.
    pub stats: Vec<CausalStats>,
    /// Draws done.
    pub draws: usize,
    /// True once all draws are done.
    pub complete: bool,
}

impl CausalMcResult {
    /// True if the mean has a significant interior maximum on the grid (as
    /// [`McResult::mean_has_interior_maximum`]).
    pub fn mean_has_interior_maximum(&self) -> bool {
        let best = self.stats.iter().max_by(|a, b| a.mean.total_cmp(&b.mean));
        match (best, self.stats.last()) {
            (Some(best), Some(last)) => {
                best.a < last.a && best.mean - last.mean > Z * (best.std_err + last.std_err)
            }
            _ => false,
        }
    }
}

/// Everything the cheap analysis computes for the current controls.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The distribution analysed.
    pub dist: ScoreDist,
    /// `n`.
    pub n: u32,
    /// The approximation's maximiser at `n`.
    pub a_star: f64,
    /// `G̃(a*)`.
    pub g_at_a_star: f64,
    /// `G̃(a)` at `n` (x = log10 a).
    pub approx_curve: Vec<PlotPoint>,
    /// The causal-decoder comparison at `L`.
    pub causal: Option<CausalComparison>,
    /// Mean over positions of `G̃(a)` (x = log10 a).
    pub causal_curve: Vec<PlotPoint>,
    /// An error of the core, shown instead of plots.
    pub error: Option<String>,
}

/// The a* table over the post's grid and its fit (recomputed only when the
/// distribution changes).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// For which distribution.
    pub dist: ScoreDist,
    /// `(n, a*)`.
    pub a_star: Vec<PlotPoint>,
    /// `(n, c·x(n))`.
    pub fitted: Vec<PlotPoint>,
    /// `(n, entropy-invariant scale calibrated at n = 512)`.
    pub entropy: Vec<PlotPoint>,
    /// The fit.
    pub fit: Fit,
    /// Fraction of the grid with `a* ∈ [2, 3]` (the post's normal-score range).
    pub fraction_in_2_3: f64,
    /// Smallest and largest `a*` over the grid.
    pub a_range: (f64, f64),
}

/// The panel.
pub struct AttentionPanel {
    /// Cosine (true) or normal (false) scores.
    pub cosine: bool,
    /// Head dimension for cosine scores.
    pub d: u32,
    /// Number of keys.
    pub n: u32,
    /// Context length of the causal decoder.
    pub context_len: u32,
    /// Monte-Carlo draws.
    pub draws: usize,
    /// Monte-Carlo seed.
    pub seed: u64,
    analysis: Analysis,
    table: Option<Table>,
    mc: Option<McResult>,
    job: Option<Job<McResult>>,
    job_params: Option<McParams>,
    causal_mc: Option<CausalMcResult>,
    causal_job: Option<Job<CausalMcResult>>,
    causal_job_params: Option<CausalMcParams>,
    pending_since: Option<Instant>,
    repaint: Option<egui::Context>,
}

impl Default for AttentionPanel {
    fn default() -> Self {
        let mut panel = Self {
            cosine: false,
            d: 128,
            n: 128,
            context_len: 2048,
            draws: 2000,
            seed: 1,
            analysis: Analysis {
                dist: ScoreDist::Normal,
                n: 0,
                a_star: f64::NAN,
                g_at_a_star: f64::NAN,
                approx_curve: Vec::new(),
                causal: None,
                causal_curve: Vec::new(),
                error: None,
            },
            table: None,
            mc: None,
            job: None,
            job_params: None,
            causal_mc: None,
            causal_job: None,
            causal_job_params: None,
            pending_since: None,
            repaint: None,
        };
        panel.recompute();
        panel
    }
}

/// `count` log-spaced values from `lo` to `hi`.
fn log_grid(lo: f64, hi: f64, count: usize) -> impl Iterator<Item = f64> {
    let (l0, l1) = (lo.ln(), hi.ln());
    let steps = count.saturating_sub(1).max(1) as f64;
    (0..count).map(move |i| (l0 + (l1 - l0) * i as f64 / steps).exp())
}

/// The Monte-Carlo job: runs the draws, sends partial and final results.
fn run_monte_carlo(params: McParams, ctx: &JobContext<McResult>) {
    let a_values: Vec<f64> =
        log_grid(params.a_star / SPAN, params.a_star * SPAN, MC_A_POINTS).collect();
    let mut scores = vec![0.0; params.n as usize];
    let mut g = vec![0.0; a_values.len() * params.draws];
    let mut maxs = vec![0.0; params.draws];
    let Ok(mut mc) = MonteCarlo::new(&params.dist, &a_values, &mut scores, &mut g, &mut maxs)
    else {
        return;
    };
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let every = (params.draws / PARTIAL_UPDATES).max(1);
    let hist_range = (params.a_star / SPAN, params.a_star * HIST_SPAN_HI);
    let summarise = |mc: &mut MonteCarlo<'_>, complete: bool| -> Option<McResult> {
        let mut hist = vec![0u32; HIST_BINS];
        let hist_outside =
            log_histogram(mc.maximisers(), hist_range.0, hist_range.1, &mut hist).ok()?;
        let mut stats = vec![GStats::default(); a_values.len()];
        let summary = mc.summarise(&mut stats).ok()?;
        Some(McResult {
            params,
            stats,
            summary,
            hist,
            hist_range,
            hist_outside,
            complete,
        })
    };
    loop {
        let mut stopped = false;
        mc.run(&mut rng, |done, total| {
            ctx.set_progress(done as f32 / total as f32);
            if ctx.is_cancelled() {
                stopped = true;
                ControlFlow::Break(())
            } else if done % every == 0 && done < total {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if stopped {
            return;
        }
        let complete = mc.done() == mc.draws();
        if let Some(result) = summarise(&mut mc, complete)
            && !ctx.send(result)
        {
            return;
        }
        if complete {
            return;
        }
    }
}

/// The causal-decoder Monte-Carlo job.
fn run_causal_monte_carlo(params: CausalMcParams, ctx: &JobContext<CausalMcResult>) {
    let a_values: Vec<f64> =
        log_grid(params.a_causal / SPAN, params.a_causal * SPAN, MC_A_POINTS).collect();
    let mut scores = vec![0.0; params.l as usize];
    let mut stats = vec![CausalStats::default(); a_values.len()];
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let mut cancelled = false;
    let done = causal_monte_carlo(
        &mut rng,
        &params.dist,
        &a_values,
        &mut scores,
        CAUSAL_DRAWS,
        &mut stats,
        |done, total| {
            ctx.set_progress(done as f32 / total as f32);
            if ctx.is_cancelled() {
                cancelled = true;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    if let Ok(draws) = done
        && !cancelled
    {
        ctx.send(CausalMcResult {
            params,
            stats,
            draws,
            complete: draws == CAUSAL_DRAWS,
        });
    }
}

impl AttentionPanel {
    /// The score distribution selected by the controls.
    pub fn dist(&self) -> Result<ScoreDist, kexue_core::attention::Error> {
        if self.cosine {
            ScoreDist::cosine(self.d)
        } else {
            Ok(ScoreDist::Normal)
        }
    }

    /// The cheap analysis for the current controls.
    pub fn analysis(&self) -> &Analysis {
        &self.analysis
    }

    /// The a* table over n = 40, 80, …, 20000 and its fit.
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }

    /// The latest Monte-Carlo result for the current controls (partial while
    /// the job runs).
    pub fn monte_carlo(&self) -> Option<&McResult> {
        self.mc
            .as_ref()
            .filter(|m| Some(m.params) == self.current_mc_params())
    }

    /// The exact causal-decoder mean by Monte Carlo for the current controls.
    pub fn causal_monte_carlo(&self) -> Option<&CausalMcResult> {
        self.causal_mc
            .as_ref()
            .filter(|m| Some(m.params) == self.current_causal_params())
    }

    /// True while a Monte-Carlo job (fixed n or causal) runs.
    pub fn mc_running(&self) -> bool {
        self.job.as_ref().is_some_and(|j| !j.is_finished())
            || self.causal_job.as_ref().is_some_and(|j| !j.is_finished())
    }

    fn current_causal_params(&self) -> Option<CausalMcParams> {
        let c = self.analysis.causal.as_ref()?;
        (self.analysis.error.is_none()).then_some(CausalMcParams {
            dist: self.analysis.dist,
            l: self.context_len,
            seed: self.seed,
            a_causal: c.a_causal,
        })
    }

    /// True if a Monte-Carlo run is scheduled (after the debounce) or running.
    pub fn mc_pending(&self) -> bool {
        self.pending_since.is_some() || self.mc_running()
    }

    fn current_mc_params(&self) -> Option<McParams> {
        let a_star = self.analysis.a_star;
        (self.analysis.error.is_none() && a_star.is_finite()).then_some(McParams {
            dist: self.analysis.dist,
            n: self.n,
            draws: self.draws,
            seed: self.seed,
            a_star,
        })
    }

    /// Recompute the cheap analysis (and the table if the distribution changed);
    /// schedule a Monte-Carlo run if its parameters changed.
    pub fn recompute(&mut self) {
        let dist = match self.dist() {
            Ok(d) => d,
            Err(e) => {
                self.analysis.error = Some(e.to_string());
                return;
            }
        };
        match self.compute_analysis(dist) {
            Ok(analysis) => self.analysis = analysis,
            Err(e) => {
                self.analysis.error = Some(e.to_string());
                return;
            }
        }
        if self.table.as_ref().is_none_or(|t| t.dist != dist) {
            match Self::compute_table(dist) {
                Ok(t) => self.table = Some(t),
                Err(e) => self.analysis.error = Some(e.to_string()),
            }
        }
        let wanted = self.current_mc_params();
        if wanted != self.job_params && wanted != self.mc.as_ref().map(|m| m.params) {
            if let Some(job) = self.job.take() {
                job.cancel();
            }
            self.job_params = None;
            self.pending_since = Some(Instant::now());
        }
        let wanted = self.current_causal_params();
        if wanted != self.causal_job_params && wanted != self.causal_mc.as_ref().map(|m| m.params) {
            if let Some(job) = self.causal_job.take() {
                job.cancel();
            }
            self.causal_job_params = None;
            self.pending_since = Some(Instant::now());
        }
    }

    fn compute_analysis(&self, dist: ScoreDist) -> Result<Analysis, kexue_core::attention::Error> {
        let n = f64::from(self.n);
        let (a_star, g_at_a_star) = dist.a_star_and_objective(n)?;
        let mut approx_curve = Vec::with_capacity(CURVE_POINTS);
        for a in log_grid(a_star / SPAN, a_star * SPAN, CURVE_POINTS) {
            let g = dist.approx_objective(a, n)?;
            // Past a*, G̃ falls like −e^{R(a)}; cut it where it leaves the frame.
            if g < -g_at_a_star {
                break;
            }
            approx_curve.push(PlotPoint::new(a.log10(), g));
        }
        let causal = causal_best_scale(&dist, self.context_len).ok();
        let mut causal_curve = Vec::new();
        if let Some(c) = &causal {
            for a in log_grid(c.a_causal / SPAN, c.a_causal * SPAN, CURVE_POINTS) {
                let g = causal_mean_objective(&dist, a, self.context_len)?;
                if g < -c.mean_g_causal {
                    break;
                }
                causal_curve.push(PlotPoint::new(a.log10(), g));
            }
        }
        Ok(Analysis {
            dist,
            n: self.n,
            a_star,
            g_at_a_star,
            approx_curve,
            causal,
            causal_curve,
            error: None,
        })
    }

    fn compute_table(dist: ScoreDist) -> Result<Table, kexue_core::attention::Error> {
        let mut ns = vec![0.0; POST_N_GRID.len()];
        POST_N_GRID.fill(&mut ns)?;
        let mut a = vec![0.0; ns.len()];
        a_star_table(&dist, &ns, &mut a)?;
        let fit = fit_scale_law(ScaleLaw::for_dist(&dist), &ns, &a)?;
        let a_ref = dist.a_star(ENTROPY_N_REF)?;
        let mut entropy = Vec::with_capacity(ns.len());
        for &n in &ns {
            entropy.push(PlotPoint::new(
                n,
                entropy_invariant_scale(n, ENTROPY_N_REF, a_ref)?,
            ));
        }
        let in_2_3 = a.iter().filter(|&&x| (2.0..=3.0).contains(&x)).count();
        let a_range = a
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        Ok(Table {
            dist,
            a_star: ns
                .iter()
                .zip(&a)
                .map(|(&n, &a)| PlotPoint::new(n, a))
                .collect(),
            fitted: ns.iter().map(|&n| PlotPoint::new(n, fit.eval(n))).collect(),
            entropy,
            fit,
            fraction_in_2_3: in_2_3 as f64 / ns.len() as f64,
            a_range,
        })
    }

    /// Start the Monte-Carlo runs now (the debounce elapsed, or `force` for
    /// the button): each run whose parameters have no result or job yet.
    pub fn start_monte_carlo(&mut self, force: bool) {
        self.pending_since = None;
        if let Some(params) = self.current_mc_params()
            && (force
                || (Some(params) != self.job_params
                    && Some(params) != self.mc.as_ref().map(|m| m.params)))
        {
            if let Some(job) = self.job.take() {
                job.cancel();
            }
            self.job_params = Some(params);
            self.job = Some(Job::spawn(self.repaint.clone(), move |ctx| {
                run_monte_carlo(params, ctx);
            }));
        }
        if let Some(params) = self.current_causal_params()
            && (force
                || (Some(params) != self.causal_job_params
                    && Some(params) != self.causal_mc.as_ref().map(|m| m.params)))
        {
            if let Some(job) = self.causal_job.take() {
                job.cancel();
            }
            self.causal_job_params = Some(params);
            self.causal_job = Some(Job::spawn(self.repaint.clone(), move |ctx| {
                run_causal_monte_carlo(params, ctx);
            }));
        }
    }

    /// The post's claim about the fitted constant, checked against the table.
    fn fit_verdict(&self) -> (bool, String) {
        let Some(t) = &self.table else {
            return (false, "no table".into());
        };
        match t.dist {
            ScoreDist::Normal => {
                let ok = (t.fit.c / POST_C_NORMAL - 1.0).abs() < POST_C_REL_TOL;
                (
                    ok,
                    format!(
                        "normal: fitted c = {:.3} (post 0.84, worst fit error {:.0}%), a* in [2, 3] for {:.0}% of n in [40, 20000]",
                        t.fit.c,
                        100.0 * t.fit.max_rel_err,
                        100.0 * t.fraction_in_2_3
                    ),
                )
            }
            ScoreDist::Cosine(c) => {
                let text = format!(
                    "cosine d = {}: fitted c = {:.3} (worst fit error {:.0}%), a* from {:.1} to {:.1}",
                    c.d(),
                    t.fit.c,
                    100.0 * t.fit.max_rel_err,
                    t.a_range.0,
                    t.a_range.1
                );
                if c.d() == 128 {
                    let ok = (t.fit.c / POST_C_COSINE_128 - 1.0).abs() < POST_C_REL_TOL;
                    (ok, format!("{text} (post: 3.5, values about 25–35)"))
                } else {
                    (true, format!("{text} (the post reports d = 128 only)"))
                }
            }
        }
    }

    /// What the Monte Carlo says about the approximation.
    fn mc_verdict(&self) -> Option<(bool, String)> {
        let mc = self.monte_carlo()?;
        let a_star = self.analysis.a_star;
        let best = mc.mean_argmax()?;
        let last = mc.stats.last()?;
        let at_star = mc.stats.iter().min_by(|x, y| {
            (x.a / a_star)
                .ln()
                .abs()
                .total_cmp(&(y.a / a_star).ln().abs())
        })?;
        let median = mc.summary.maximiser_median;
        let prefix = if mc.complete {
            format!("Monte Carlo ({} draws)", mc.summary.draws)
        } else {
            format!("Monte Carlo so far ({} draws)", mc.summary.draws)
        };
        let per_draw = format!(
            "median per-draw maximiser {:.3} = {:.1}×a*",
            median,
            median / a_star
        );
        if mc.mean_has_interior_maximum() {
            let ratio = best.a / a_star;
            let agrees = (0.67..1.5).contains(&ratio) && (0.67..1.5).contains(&(median / a_star));
            Some((
                agrees,
                format!(
                    "{prefix}: the exact mean of G peaks at a ≈ {:.3} ({:.1}×a*); {per_draw}{}",
                    best.a,
                    ratio,
                    if agrees {
                        "."
                    } else {
                        " — the approximation misplaces the optimum here."
                    }
                ),
            ))
        } else {
            Some((
                false,
                format!(
                    "{prefix}: the exact mean of G has no interior maximum for n = {} — it rises from {:.3} at a* = {:.3} to {:.3} at a = {:.3} ({:.0}×a*) and levels off; {per_draw}. The approximation Σp² ≈ E[e^{{2as}}]/(n·E[e^{{as}}]²) fails here.",
                    self.n,
                    at_star.mean,
                    a_star,
                    last.mean,
                    last.a,
                    last.a / a_star
                ),
            ))
        }
    }

    /// One sentence on the causal decoder (the post's `n = L/2` rule).
    fn causal_sentence(&self) -> Option<String> {
        let c = self.analysis.causal.as_ref()?;
        let exact = match self.causal_monte_carlo() {
            Some(mc) if mc.mean_has_interior_maximum() => {
                " The exact causal mean (Monte Carlo) has an interior maximum."
            }
            Some(_) => " The exact causal mean (Monte Carlo) has no interior maximum either.",
            None => "",
        };
        Some(format!(
            "Causal decoder, L = {}: the best single scale of the approximation is a*(L/H_L) = {:.3}; the post's a*(L/2) = {:.3} gives {:.0}% less mean Ĝ.{exact}",
            c.l,
            c.a_causal,
            c.a_half,
            100.0 * c.loss_of_half_rule()
        ))
    }

    fn a_axis(plot: Plot<'_>) -> Plot<'_> {
        plot.x_axis_label("a (log scale)")
            .x_axis_formatter(|mark, _| format_scale(10f64.powf(mark.value)))
            .legend(Legend::default().position(Corner::LeftTop))
    }
}

/// A scale for an axis label: 3 significant digits.
fn format_scale(a: f64) -> String {
    if a >= 100.0 {
        format!("{a:.0}")
    } else if a >= 10.0 {
        format!("{a:.1}")
    } else if a >= 1.0 {
        format!("{a:.2}")
    } else {
        format!("{a:.3}")
    }
}

impl Panel for AttentionPanel {
    fn name(&self) -> &'static str {
        "Attention scale"
    }

    fn caption(&self) -> Caption {
        let claim = "Post of 2023-10-22: the scale a* maximising the softmax gradient G(a) = a(1 − Σp²), \
                     with Σp² ≈ E[e^{2as}]/(n·E[e^{as}]²), follows a* ≈ 0.84·√ln n for normal scores (≈ 2–3, \
                     so about 2.5/√d instead of 1/√d) and a* ≈ 3.5·ln n for cosine scores at d = 128."
            .to_string();
        if let Some(e) = &self.analysis.error {
            return Caption {
                claim,
                verdict: Verdict::Pending(format!("error: {e}")),
            };
        }
        let (fit_ok, fit_text) = self.fit_verdict();
        let verdict = match self.mc_verdict() {
            None => {
                let text = format!("{fit_text}; Monte Carlo pending.");
                if fit_ok {
                    Verdict::Pending(text)
                } else {
                    Verdict::Contradicted(text)
                }
            }
            Some((mc_ok, mc_text)) => {
                let text = format!(
                    "{fit_text} — {}. {mc_text}",
                    if fit_ok {
                        "supported"
                    } else {
                        "not reproduced"
                    }
                );
                match (fit_ok, mc_ok) {
                    (true, true) => Verdict::Supported(text),
                    (false, false) => Verdict::Contradicted(text),
                    _ => Verdict::Mixed(text),
                }
            }
        };
        let verdict = match (verdict, self.causal_sentence()) {
            (Verdict::Supported(t), Some(c)) => Verdict::Supported(format!("{t} {c}")),
            (Verdict::Contradicted(t), Some(c)) => Verdict::Contradicted(format!("{t} {c}")),
            (Verdict::Mixed(t), Some(c)) => Verdict::Mixed(format!("{t} {c}")),
            (Verdict::Pending(t), Some(c)) => Verdict::Pending(format!("{t} {c}")),
            (v, None) => v,
        };
        Caption { claim, verdict }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        if self.repaint.is_none() {
            self.repaint = Some(ui.ctx().clone());
        }
        let mut changed = false;
        ui.heading("Scores");
        ui.horizontal(|ui| {
            changed |= ui
                .selectable_value(&mut self.cosine, false, "normal")
                .changed();
            changed |= ui
                .selectable_value(&mut self.cosine, true, "cosine")
                .changed();
        });
        changed |= ui
            .add_enabled(
                self.cosine,
                egui::Slider::new(&mut self.d, 3..=4096)
                    .logarithmic(true)
                    .text("d"),
            )
            .changed();
        changed |= ui
            .add(
                egui::Slider::new(&mut self.n, 2..=20_000)
                    .logarithmic(true)
                    .text("n"),
            )
            .changed();
        ui.separator();
        ui.heading("Causal decoder");
        changed |= ui
            .add(
                egui::Slider::new(&mut self.context_len, 3..=16_384)
                    .logarithmic(true)
                    .text("L"),
            )
            .changed();
        ui.separator();
        ui.heading("Monte Carlo");
        changed |= ui
            .add(
                egui::Slider::new(&mut self.draws, 100..=20_000)
                    .logarithmic(true)
                    .text("draws"),
            )
            .changed();
        ui.horizontal(|ui| {
            ui.label("seed");
            changed |= ui.add(egui::DragValue::new(&mut self.seed)).changed();
        });
        if changed {
            self.recompute();
        }
        if ui.button("Run Monte Carlo").clicked() {
            self.start_monte_carlo(true);
        }
        if progress_row(ui, self.job.as_ref()) == ProgressAction::Cancel
            && let Some(job) = &self.job
        {
            job.cancel();
        }
        if self.causal_job.as_ref().is_some_and(|j| !j.is_finished()) {
            ui.label("causal decoder:");
        }
        if progress_row(ui, self.causal_job.as_ref()) == ProgressAction::Cancel
            && let Some(job) = &self.causal_job
        {
            job.cancel();
        }
        ui.separator();
        ui.heading("Numbers");
        let a = &self.analysis;
        if let Some(e) = &a.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        ui.label("Ĝ(a) = a(1 − E[e^{2as}]/(n·E[e^{as}]²)): the post's approximation of G");
        ui.label(format!(
            "approximation: a* = {:.4}, Ĝ(a*) = {:.4}",
            a.a_star, a.g_at_a_star
        ));
        if let Some(t) = &self.table {
            ui.label(format!(
                "fit {}: c = {:.4}, worst relative error {:.3}",
                t.fit.law.formula(),
                t.fit.c,
                t.fit.max_rel_err
            ));
        }
        if let Some(c) = &a.causal {
            ui.label(format!(
                "causal L = {}: best single a = a*(L/H_L = {:.1}) = {:.3}; post's a*(L/2) = {:.3} loses {:.1}% of the mean Ĝ",
                c.l,
                c.n_eff,
                c.a_causal,
                c.a_half,
                100.0 * c.loss_of_half_rule()
            ));
        }
        if let (Some(c), Some(mc)) = (&a.causal, self.causal_monte_carlo()) {
            let near = |target: f64| {
                mc.stats.iter().min_by(|x, y| {
                    (x.a / target)
                        .ln()
                        .abs()
                        .total_cmp(&(y.a / target).ln().abs())
                })
            };
            if let (Some(at_best), Some(last)) = (near(c.a_causal), mc.stats.last()) {
                ui.label(format!(
                    "exact mean over positions (Monte Carlo, {} draws): {:.3} at a = {:.3}, {:.3} at a = {:.1} — {}",
                    mc.draws,
                    at_best.mean,
                    at_best.a,
                    last.mean,
                    last.a,
                    if mc.mean_has_interior_maximum() {
                        "it has an interior maximum"
                    } else {
                        "no interior maximum: the exact causal mean levels off like the fixed-n mean"
                    }
                ));
            }
        }
        if let Some(mc) = self.monte_carlo() {
            ui.label(format!(
                "Monte Carlo: {} draws, median per-draw maximiser {:.3}, {} unbounded, {} outside the histogram",
                mc.summary.draws, mc.summary.maximiser_median, mc.summary.unbounded_draws, mc.hist_outside
            ));
        }
    }

    fn plots(&mut self, ui: &mut egui::Ui) {
        if self.analysis.error.is_some() {
            ui.label("No plots: fix the error on the left.");
            return;
        }
        let a_star = self.analysis.a_star;
        let mc = self.monte_carlo().cloned();
        let causal_mc = self.causal_monte_carlo().cloned();
        let size = ui.available_size();
        let h = (size.y / 2.0 - 24.0).max(120.0);
        let w = (size.x / 2.0 - 12.0).max(200.0);
        egui::Grid::new("attention_plots")
            .num_columns(2)
            .show(ui, |ui| {
                ui.vertical(|ui| {
                    ui.label(format!(
                        "G(a) at n = {}: approximation vs exact (Monte Carlo)",
                        self.n
                    ));
                    Self::a_axis(Plot::new("attention_g").width(w).height(h)).show(ui, |plot| {
                        plot.line(Line::new(
                            "approximation a(1 − E[e^{2as}]/(n E[e^{as}]²))",
                            PlotPoints::Borrowed(&self.analysis.approx_curve),
                        ));
                        if let Some(mc) = &mc {
                            let mean: PlotPoints<'_> =
                                mc.stats.iter().map(|s| [s.a.log10(), s.mean]).collect();
                            let median: PlotPoints<'_> =
                                mc.stats.iter().map(|s| [s.a.log10(), s.median]).collect();
                            plot.line(Line::new("exact mean E[G] (Monte Carlo)", mean).width(2.5));
                            plot.line(Line::new("median G (Monte Carlo)", median));
                            plot.vline(VLine::new(
                                "median per-draw maximiser",
                                mc.summary.maximiser_median.log10(),
                            ));
                        }
                        plot.vline(VLine::new("a* (approximation)", a_star.log10()));
                    });
                });
                ui.vertical(|ui| {
                    ui.label(
                        "a* vs n: the approximation, the fitted law, entropy-invariant ~ ln n",
                    );
                    let plot = Plot::new("attention_a_star")
                        .width(w)
                        .height(h)
                        .x_axis_label("n")
                        .legend(Legend::default().position(Corner::RightBottom));
                    plot.show(ui, |plot| {
                        if let Some(t) = &self.table {
                            plot.line(Line::new("a*(n)", PlotPoints::Borrowed(&t.a_star)));
                            plot.line(Line::new(
                                format!("fit {} (c = {:.3})", t.fit.law.formula(), t.fit.c),
                                PlotPoints::Borrowed(&t.fitted),
                            ));
                            plot.line(Line::new(
                                "entropy-invariant ~ ln n (= a* at n = 512)",
                                PlotPoints::Borrowed(&t.entropy),
                            ));
                        }
                        plot.points(
                            Points::new("current n", vec![[f64::from(self.n), a_star]]).radius(4.0),
                        );
                    });
                });
                ui.end_row();
                ui.vertical(|ui| {
                    ui.label("per-draw maximisers of G (histogram over log a)");
                    Self::a_axis(Plot::new("attention_hist").width(w).height(h)).show(ui, |plot| {
                        if let Some(mc) = &mc {
                            let (lo, hi) = (mc.hist_range.0.log10(), mc.hist_range.1.log10());
                            let width = (hi - lo) / mc.hist.len().max(1) as f64;
                            let bars: Vec<Bar> = mc
                                .hist
                                .iter()
                                .enumerate()
                                .map(|(i, &c)| {
                                    Bar::new(lo + width * (i as f64 + 0.5), f64::from(c))
                                        .width(width)
                                })
                                .collect();
                            plot.bar_chart(BarChart::new("draws per bin", bars));
                            plot.vline(VLine::new(
                                "median per-draw maximiser",
                                mc.summary.maximiser_median.log10(),
                            ));
                        }
                        plot.vline(VLine::new("a* (approximation)", a_star.log10()));
                    });
                });
                ui.vertical(|ui| {
                    ui.label(format!(
                        "causal decoder, L = {}: mean over positions n = 1..L of Ĝ(a)",
                        self.context_len
                    ));
                    Self::a_axis(Plot::new("attention_causal").width(w).height(h)).show(
                        ui,
                        |plot| {
                            plot.line(Line::new(
                                "mean of Ĝ over n = 1..L",
                                PlotPoints::Borrowed(&self.analysis.causal_curve),
                            ));
                            if let Some(mc) = &causal_mc {
                                let mean: PlotPoints<'_> =
                                    mc.stats.iter().map(|s| [s.a.log10(), s.mean]).collect();
                                plot.line(
                                    Line::new("exact mean over n = 1..L (Monte Carlo)", mean)
                                        .width(2.5),
                                );
                            }
                            if let Some(c) = &self.analysis.causal {
                                plot.vline(VLine::new(
                                    "best single a = a*(L/H_L)",
                                    c.a_causal.log10(),
                                ));
                                plot.vline(VLine::new("post's rule a*(L/2)", c.a_half.log10()));
                            }
                        },
                    );
                });
                ui.end_row();
            });
    }

    fn poll(&mut self) -> bool {
        if let Some(job) = &mut self.job {
            let finished = job.is_finished();
            // Drain after reading `finished`, so nothing sent before the end is lost.
            if let Some(last) = job.drain().into_iter().last() {
                self.mc = Some(last);
            }
            if finished {
                self.job = None;
                self.job_params = None;
            }
        }
        if let Some(job) = &mut self.causal_job {
            let finished = job.is_finished();
            if let Some(last) = job.drain().into_iter().last() {
                self.causal_mc = Some(last);
            }
            if finished {
                self.causal_job = None;
                self.causal_job_params = None;
            }
        }
        if let Some(since) = self.pending_since
            && since.elapsed() >= DEBOUNCE
        {
            self.start_monte_carlo(false);
        }
        self.pending_since.is_some() || self.job.is_some() || self.causal_job.is_some()
    }
}
