//! (`std` feature) The label-noise experiment over several noise levels and
//! losses, keeping every training curve and reliability diagram, with the
//! verdicts on the posts' claims worded from the numbers. Shared by the lab's
//! "Losses" panel, the `kexue-lab losses` command and the tests. The
//! algorithms are in [`super::experiment`]; this file only allocates and
//! loops.
//!
//! ```
//! use kexue_core::loss::experiment::{Config, LossKind};
//! use kexue_core::loss::sweep::{SweepConfig, run_sweep};
//! let config = SweepConfig {
//!     base: Config { steps: 40, train_per_class: 8, test_per_class: 16, ..Config::default() },
//!     noises: vec![0.0, 0.4],
//!     losses: vec![LossKind::CrossEntropy, LossKind::Tailr { gamma: 0.5 }],
//!     bins: 10,
//! };
//! let sweep = run_sweep(&config, |_| core::ops::ControlFlow::Continue(())).unwrap();
//! assert_eq!(sweep.runs.len(), 4);
//! assert!(sweep.verdicts().unwrap().tailr.len() == 1);
//! ```

use core::ops::ControlFlow;
use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::ReliabilityBin;
use super::experiment::{
    CURVE_TEST_POINTS, Config, Error, EvalPoint, Experiment, LossKind, NEAR_MISS_MASS,
    NearMissCheck, RunResult, SLOW_FACTOR, SPEED_TARGET_FRACTION, STANDARD_LOSSES, SpeedCheck,
    SweepRow, TailrCheck, check_learning_speed, check_near_miss, check_tailr,
};

/// The noise levels of the default sweep ("as noise grows").
pub const DEFAULT_NOISES: [f64; 3] = [0.0, 0.2, 0.4];

/// The number of reliability bins (ECE) of the default sweep.
pub const DEFAULT_BINS: usize = 15;

/// What to run: every loss at every noise level, on the data of `base` (whose
/// `noise` field is replaced by each level).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    /// Data, model and training budget.
    pub base: Config,
    /// Noise levels.
    pub noises: Vec<f64>,
    /// Losses, in table order.
    pub losses: Vec<LossKind>,
    /// Reliability bins for the ECE.
    pub bins: usize,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            base: Config::default(),
            noises: DEFAULT_NOISES.to_vec(),
            losses: STANDARD_LOSSES.to_vec(),
            bins: DEFAULT_BINS,
        }
    }
}

/// One trained loss at one noise level.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The noise level.
    pub noise: f64,
    /// Final clean-test results.
    pub result: RunResult,
    /// The training curve.
    pub curve: Vec<EvalPoint>,
    /// The reliability diagram.
    pub bins: Vec<ReliabilityBin>,
}

/// Progress of [`run_sweep`].
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A training-curve point of the current run.
    Point {
        /// Index of the run (noise-major, then loss).
        run: usize,
        /// The noise level.
        noise: f64,
        /// The loss.
        loss: LossKind,
        /// The point.
        point: EvalPoint,
        /// Overall progress in `[0, 1]`.
        progress: f64,
    },
    /// A run finished.
    Finished {
        /// Index of the run.
        run: usize,
        /// The run.
        result: &'a Run,
        /// Overall progress in `[0, 1]`.
        progress: f64,
    },
}

/// The runs of a sweep, noise-major, losses in the configured order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// What was run.
    pub config: SweepConfig,
    /// The runs.
    pub runs: Vec<Run>,
}

/// Run the sweep, reporting each curve point and each finished run to
/// `on_event`; [`ControlFlow::Break`] cancels ([`Error::Cancelled`]).
///
/// Errors: an invalid config or loss, zero bins, divergence, cancellation.
pub fn run_sweep(
    config: &SweepConfig,
    mut on_event: impl FnMut(Event<'_>) -> ControlFlow<()>,
) -> Result<Sweep, Error> {
    if config.bins == 0 {
        return Err(Error::InvalidConfig {
            name: "bins",
            reason: "must be at least 1",
        });
    }
    for loss in &config.losses {
        loss.validate()?;
    }
    let total_runs = (config.noises.len() * config.losses.len()).max(1) as f64;
    let steps = config.base.steps.max(1) as f64;
    let mut runs = Vec::with_capacity(config.noises.len() * config.losses.len());
    for &noise in &config.noises {
        let base = Config {
            noise,
            ..config.base
        };
        let size = base.workspace_size()?;
        let mut floats = vec![0.0_f32; size.floats];
        let mut labels = vec![0_u32; size.labels];
        let mut experiment = Experiment::new(base, &mut floats, &mut labels)?;
        for &loss in &config.losses {
            let index = runs.len();
            let mut bins = vec![ReliabilityBin::default(); config.bins];
            let mut curve = Vec::with_capacity(base.curve_points());
            let result = experiment.train(loss, &mut bins, |point| {
                curve.push(point);
                on_event(Event::Point {
                    run: index,
                    noise,
                    loss,
                    point,
                    progress: (index as f64 + point.step as f64 / steps) / total_runs,
                })
            })?;
            runs.push(Run {
                noise,
                result,
                curve,
                bins,
            });
            if let Some(run) = runs.last()
                && on_event(Event::Finished {
                    run: index,
                    result: run,
                    progress: (index + 1) as f64 / total_runs,
                })
                .is_break()
            {
                return Err(Error::Cancelled {
                    step: config.base.steps,
                });
            }
        }
    }
    Ok(Sweep {
        config: config.clone(),
        runs,
    })
}

/// How a claim fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every part of the claim holds in this run.
    Confirmed,
    /// Some parts hold, some do not.
    Partly,
    /// The claim does not hold in this run.
    NotConfirmed,
    /// The sweep lacks the runs needed to judge.
    NotMeasured,
}

impl Status {
    /// A one-word label: `confirmed`, `partly`, `not_confirmed`, `not_measured`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Partly => "partly",
            Self::NotConfirmed => "not_confirmed",
            Self::NotMeasured => "not_measured",
        }
    }
}

/// One claim with its verdict, worded with the numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimVerdict {
    /// A short identifier: `tailr`, `near_miss`, `emo_speed`.
    pub id: &'static str,
    /// The claim, with the post's date.
    pub claim: &'static str,
    /// The verdict.
    pub status: Status,
    /// The numbers behind it.
    pub detail: String,
}

/// The three checks of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdicts {
    /// The TaiLr claim, one check per γ in the sweep.
    pub tailr: Vec<TailrCheck>,
    /// The near-miss claim.
    pub near_miss: Option<NearMissCheck>,
    /// The learning-speed claim (at the lowest noise level).
    pub speed: Option<SpeedCheck>,
}

impl Sweep {
    /// The run of `loss` at `noise`, if it was part of the sweep.
    #[must_use]
    pub fn run(&self, noise: f64, loss: LossKind) -> Option<&Run> {
        self.runs
            .iter()
            .find(|r| r.noise == noise && r.result.loss == loss)
    }

    /// The runs as the claim checks read them.
    #[must_use]
    pub fn rows(&self) -> Vec<SweepRow> {
        self.runs
            .iter()
            .map(|r| SweepRow {
                noise: r.noise,
                result: r.result,
            })
            .collect()
    }

    /// Compute the three checks.
    ///
    /// Errors: an invalid class count in the config.
    pub fn verdicts(&self) -> Result<Verdicts, Error> {
        let rows = self.rows();
        let tailr = self
            .config
            .losses
            .iter()
            .filter_map(|l| match *l {
                LossKind::Tailr { gamma } => check_tailr(&rows, gamma),
                _ => None,
            })
            .collect();
        let near_miss = check_near_miss(&rows, self.config.base.classes)?;
        let low = self.config.noises.iter().copied().reduce(f64::min);
        let speed = low.and_then(|noise| {
            let curve = |loss| self.run(noise, loss).map(|r| r.curve.as_slice());
            check_learning_speed(
                curve(LossKind::CrossEntropy)?,
                curve(LossKind::Emo)?,
                curve(LossKind::EmoCe)?,
            )
        });
        Ok(Verdicts {
            tailr,
            near_miss,
            speed,
        })
    }
}

fn steps_text(steps: Option<usize>) -> String {
    steps.map_or_else(|| "never".into(), |s| format!("{s}"))
}

impl Verdicts {
    /// The three claims with their verdicts and numbers, in a fixed order:
    /// `tailr`, `near_miss`, `emo_speed`.
    #[must_use]
    pub fn claims(&self) -> [ClaimVerdict; 3] {
        [
            self.tailr_claim(),
            self.near_miss_claim(),
            self.speed_claim(),
        ]
    }

    fn tailr_claim(&self) -> ClaimVerdict {
        let claim = "TaiLr reduces cross-entropy's over-confidence (lower ECE and confidence gap) as label noise grows (post of 2023-03-14)";
        let confirmed = self.tailr.iter().filter(|c| c.confirmed()).count();
        let status = match (self.tailr.len(), confirmed) {
            (0, _) => Status::NotMeasured,
            (n, c) if c == n => Status::Confirmed,
            (_, 0) => Status::NotConfirmed,
            _ => Status::Partly,
        };
        let mut detail = String::new();
        if let Some(first) = self.tailr.first() {
            detail.push_str(&format!(
                "noise {:.2} -> {:.2}: CE ECE {:.3} -> {:.3}, confidence gap {:+.3} -> {:+.3}.",
                first.low_noise,
                first.high_noise,
                first.ce_low.ece,
                first.ce_high.ece,
                first.ce_low.confidence_gap(),
                first.ce_high.confidence_gap()
            ));
            if !first.ce_over_confident() {
                detail.push_str(" CE is not over-confident at the highest noise, so there is no over-confidence to reduce.");
            }
        }
        for c in &self.tailr {
            let mut failed = Vec::new();
            if !c.lower_ece() {
                failed.push("ECE not lower");
            }
            if !c.smaller_gap() {
                failed.push("gap not smaller");
            }
            if !c.grows_with_noise() {
                failed.push("advantage does not grow with noise");
            }
            if !c.ce_over_confident() {
                failed.push("CE not over-confident");
            }
            detail.push_str(&format!(
                " TaiLr g={}: ECE {:.3} -> {:.3}, gap {:+.3} -> {:+.3} ({}).",
                c.gamma,
                c.tailr_low.ece,
                c.tailr_high.ece,
                c.tailr_low.confidence_gap(),
                c.tailr_high.confidence_gap(),
                if failed.is_empty() {
                    String::from("holds")
                } else {
                    failed.join(", ")
                }
            ));
        }
        ClaimVerdict {
            id: "tailr",
            claim,
            status,
            detail: detail.trim().into(),
        }
    }

    fn near_miss_claim(&self) -> ClaimVerdict {
        let claim = "EMO penalises near-miss classes less than far ones (post of 2023-10-13)";
        let Some(c) = &self.near_miss else {
            return ClaimVerdict {
                id: "near_miss",
                claim,
                status: Status::NotMeasured,
                detail: "needs CE and EMO runs".into(),
            };
        };
        let status = match (c.loss_prefers_near_misses(), c.model_mistakes_nearer()) {
            (true, true) => Status::Confirmed,
            (false, false) => Status::NotConfirmed,
            _ => Status::Partly,
        };
        let pct = |x: Option<f64>| x.map_or_else(|| "n/a".into(), |v| format!("{:.0}%", 100.0 * v));
        let detail = format!(
            "loss with {:.0}% of the mass on a neighbour: EMO {:.3} vs on the opposite class {:.3} (CE {:.3} for both). \
             Trained at noise {:.2}: near misses are {} of EMO's {} test mistakes (mean distance {:.2}) vs {} of CE's {} ({:.2}); \
             mean EMO cost of the predictions EMO {:.3} vs CE {:.3}.",
            100.0 * NEAR_MISS_MASS,
            c.emo_neighbour,
            c.emo_opposite,
            c.ce_neighbour,
            c.noise,
            pct(c.emo_errors.near_miss_fraction()),
            c.emo_errors.errors,
            c.emo_errors.mean_distance,
            pct(c.ce_errors.near_miss_fraction()),
            c.ce_errors.errors,
            c.ce_errors.mean_distance,
            c.emo_expected_cost,
            c.ce_expected_cost,
        );
        ClaimVerdict {
            id: "near_miss",
            claim,
            status,
            detail,
        }
    }

    fn speed_claim(&self) -> ClaimVerdict {
        let claim = "EMO alone learns slowly from scratch; mixing in cross-entropy fixes it (post of 2023-10-13)";
        let Some(c) = &self.speed else {
            return ClaimVerdict {
                id: "emo_speed",
                claim,
                status: Status::NotMeasured,
                detail: "needs CE, EMO and EMO+CE runs".into(),
            };
        };
        // Without slowness there is nothing for the mixture to fix.
        let status = match (c.emo_slow(), c.mixture_fixes()) {
            (true, true) => Status::Confirmed,
            (true, false) => Status::Partly,
            (false, _) => Status::NotConfirmed,
        };
        let detail = format!(
            "steps to reach {:.0}% of CE's final curve accuracy ({:.3}) within {} steps: CE {}, EMO {}{}, EMO+CE {}{}; \
             final curve accuracy CE {:.3}, EMO {:.3}, EMO+CE {:.3} (slow = more than {}x CE's steps; curves on {} test points).",
            100.0 * SPEED_TARGET_FRACTION,
            c.target_accuracy,
            c.budget,
            steps_text(c.ce_steps),
            steps_text(c.emo_steps),
            if c.emo_slow() {
                " (slow)"
            } else {
                " (not slow)"
            },
            steps_text(c.mix_steps),
            if c.mixture_fixes() {
                " (not slow)"
            } else {
                " (slow)"
            },
            c.final_accuracy[0],
            c.final_accuracy[1],
            c.final_accuracy[2],
            SLOW_FACTOR,
            CURVE_TEST_POINTS,
        );
        ClaimVerdict {
            id: "emo_speed",
            claim,
            status,
            detail,
        }
    }
}
