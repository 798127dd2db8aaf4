//! `kexue-lab losses`: the label-noise experiment of TaiLr (post of
//! 2023-03-14) and EMO (post of 2023-10-13); and `kexue-lab bench losses`:
//! one loss evaluation at n = 32768 classes, d = 256.
//!
//! Output of `losses` (one line per loss, no header):
//! `loss_name accuracy nll ece mean_confidence`.
//! With `--sweep`, one line per (noise, loss):
//! `noise loss_name accuracy nll ece mean_confidence brier confidence_gap memorised expected_cost`
//! followed by one line per claim: `verdict <id> <status> <numbers…>`.

use std::hint::black_box;
use std::io::Write;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use kexue_core::loss::experiment::{Config, NoiseKind, STANDARD_LOSSES};
use kexue_core::loss::sweep::{DEFAULT_BINS, Sweep, SweepConfig, run_sweep};
use kexue_core::loss::{
    UnitEmbeddings, cross_entropy_loss, emo_loss, expected_embedding, tailr_loss,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::CliResult;

/// How training labels are corrupted (command-line form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoiseArg {
    /// A flipped label becomes any other class, uniformly.
    Uniform,
    /// A flipped label becomes a neighbouring class (k ± 1).
    Neighbour,
}

impl From<NoiseArg> for NoiseKind {
    fn from(n: NoiseArg) -> Self {
        match n {
            NoiseArg::Uniform => Self::Uniform,
            NoiseArg::Neighbour => Self::Neighbour,
        }
    }
}

/// Which preset the experiment starts from (flags override its fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegimeArg {
    /// `Config::default()`: 100 radial features, 48 points per class — the
    /// model cannot memorise flipped labels.
    Default,
    /// `Config::memorising()`: 576 radial features, 16 points per class — it
    /// can, and cross-entropy becomes over-confident.
    Memorising,
}

/// Arguments of `kexue-lab losses`.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Train softmax regression with CE, TaiLr (γ = 0.1, 0.5, 0.8), EMO, EMO+CE and 1 − p_t on noisy labels; \
             print `loss_name accuracy nll ece mean_confidence` on clean test data, one line per loss"
)]
pub struct LossesArgs {
    /// Fraction of training labels flipped, in [0, 1].
    #[arg(long, default_value_t = 0.3)]
    pub noise: f64,
    /// Seed of the data, the label noise and the minibatches.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How flipped labels are chosen.
    #[arg(long, value_enum, default_value_t = NoiseArg::Uniform)]
    pub noise_kind: NoiseArg,
    /// The preset the other flags override.
    #[arg(long, value_enum, default_value_t = RegimeArg::Default)]
    pub regime: RegimeArg,
    /// Number of classes around the circle (3..=64) [preset: 8].
    #[arg(long)]
    pub classes: Option<usize>,
    /// Training points per class [preset: 48 / 16].
    #[arg(long)]
    pub train_per_class: Option<usize>,
    /// Test points per class [preset: 250].
    #[arg(long)]
    pub test_per_class: Option<usize>,
    /// Standard deviation of each class's cluster, centres on the unit circle [preset: 0.25].
    #[arg(long)]
    pub cluster_std: Option<f64>,
    /// Radial-basis features per axis, grid² features [preset: 10 / 24].
    #[arg(long)]
    pub grid: Option<usize>,
    /// SGD steps, the same for every loss [preset: 2000].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Minibatch size [preset: 32].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Learning rate [preset: 0.1].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Heavy-ball momentum in [0, 1) [preset: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Steps between test evaluations (training curves; the speed verdict) [preset: 10].
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Reliability bins of the ECE.
    #[arg(long, default_value_t = DEFAULT_BINS)]
    pub bins: usize,
    /// Run every noise level of --noises instead of --noise and print the
    /// long table (`noise loss_name accuracy nll ece mean_confidence brier
    /// confidence_gap memorised expected_cost`) and one `verdict <id> <status>
    /// <numbers>` line per claim.
    #[arg(long)]
    pub sweep: bool,
    /// Noise levels of --sweep, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.0, 0.2, 0.4])]
    pub noises: Vec<f64>,
}

impl LossesArgs {
    /// The experiment configuration these arguments describe.
    pub fn config(&self) -> Config {
        let preset = match self.regime {
            RegimeArg::Default => Config::default(),
            RegimeArg::Memorising => Config::memorising(),
        };
        Config {
            classes: self.classes.unwrap_or(preset.classes),
            train_per_class: self.train_per_class.unwrap_or(preset.train_per_class),
            test_per_class: self.test_per_class.unwrap_or(preset.test_per_class),
            cluster_std: self.cluster_std.unwrap_or(preset.cluster_std),
            noise: self.noise,
            noise_kind: self.noise_kind.into(),
            grid: self.grid.unwrap_or(preset.grid),
            steps: self.steps.unwrap_or(preset.steps),
            batch: self.batch.unwrap_or(preset.batch),
            learning_rate: self.lr.unwrap_or(preset.learning_rate),
            momentum: self.momentum.unwrap_or(preset.momentum),
            eval_every: self.eval_every.unwrap_or(preset.eval_every),
            seed: self.seed,
        }
    }

    /// The sweep these arguments describe (one noise level without --sweep).
    pub fn sweep_config(&self) -> SweepConfig {
        SweepConfig {
            base: self.config(),
            noises: if self.sweep {
                self.noises.clone()
            } else {
                vec![self.noise]
            },
            losses: STANDARD_LOSSES.to_vec(),
            bins: self.bins,
        }
    }
}

/// Format the table of a sweep: the short form (one noise level) or the long
/// form with the noise column and the verdict lines.
pub fn format_sweep(sweep: &Sweep, long: bool) -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();
    for run in &sweep.runs {
        let r = &run.result;
        let s = &r.summary;
        if long {
            out.push_str(&format!(
                "{:.2} {} {:.4} {:.4} {:.4} {:.4} {:.4} {:+.4} {} {:.4}\n",
                run.noise,
                r.loss,
                s.accuracy,
                s.nll,
                s.ece,
                s.mean_confidence,
                s.brier,
                s.confidence_gap(),
                r.memorised
                    .map_or_else(|| "-".to_string(), |m| format!("{m:.4}")),
                r.expected_cost,
            ));
        } else {
            out.push_str(&format!(
                "{} {:.4} {:.4} {:.4} {:.4}\n",
                r.loss, s.accuracy, s.nll, s.ece, s.mean_confidence
            ));
        }
    }
    if long {
        for claim in sweep.verdicts()?.claims() {
            out.push_str(&format!(
                "verdict {} {} {}\n",
                claim.id,
                claim.status.label(),
                claim.detail
            ));
        }
    }
    Ok(out)
}

/// Run `kexue-lab losses`.
pub fn run(args: &LossesArgs) -> CliResult {
    if !args.sweep && !(0.0..=1.0).contains(&args.noise) {
        return Err(format!("--noise must be in [0, 1], got {}", args.noise).into());
    }
    let config = args.sweep_config();
    let sweep = run_sweep(&config, |_| ControlFlow::Continue(()))?;
    let text = format_sweep(&sweep, args.sweep)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Arguments of `kexue-lab bench losses`.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Time one loss evaluation (value + gradient) with many classes: CE, TaiLr, EMO, and the bare \
             O(n·d) product Σ p_i ê_i; prints `name ns_per_eval` per kernel and a ratio line"
)]
pub struct BenchArgs {
    /// Number of classes n.
    #[arg(long, default_value_t = 32768)]
    pub classes: usize,
    /// Embedding dimension d (EMO).
    #[arg(long, default_value_t = 256)]
    pub dim: usize,
    /// Timed evaluations per kernel (interleaved across kernels).
    #[arg(long, default_value_t = 41)]
    pub reps: usize,
    /// Untimed warm-up evaluations per kernel.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Seed of the random logits and embeddings.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The per-kernel medians of `kexue-lab bench losses`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchResult {
    /// Cross-entropy, value and gradient.
    pub ce: Duration,
    /// TaiLr (γ = 0.5), value and gradient.
    pub tailr: Duration,
    /// EMO, value and gradient.
    pub emo: Duration,
    /// The bare product Σ p_i ê_i (given p).
    pub product: Duration,
}

impl BenchResult {
    /// EMO / (2·CE + product): the bound is "no more than ~1".
    pub fn emo_over_bound(&self) -> f64 {
        self.emo.as_secs_f64() / (2.0 * self.ce.as_secs_f64() + self.product.as_secs_f64())
    }

    /// EMO / (CE + product).
    pub fn emo_over_ce_plus_product(&self) -> f64 {
        self.emo.as_secs_f64() / (self.ce.as_secs_f64() + self.product.as_secs_f64())
    }
}

/// Measure the four kernels side by side: each round times every kernel once,
/// in turn, so that load changes hit all of them alike; medians per kernel.
pub fn measure(args: &BenchArgs) -> Result<BenchResult, Box<dyn std::error::Error>> {
    let (n, d) = (args.classes, args.dim);
    if n < 2 || d == 0 {
        return Err("need at least 2 classes and dimension ≥ 1".into());
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let logits: Vec<f32> = (0..n).map(|_| rng.random_range(-5.0..5.0)).collect();
    let mut rows: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let emb = UnitEmbeddings::normalize(&mut rows, d)?;
    let target = n / 3;
    let mut grad = vec![0.0_f32; n];
    // p for the bare product: the gradient of CE plus the one-hot is p.
    cross_entropy_loss(&logits, target, &mut grad)?;
    let mut probs = grad.clone();
    probs[target] += 1.0;
    let mut mean = vec![0.0_f64; d];

    let mut g_ce = vec![0.0_f32; n];
    let mut g_tailr = vec![0.0_f32; n];
    let mut g_emo = vec![0.0_f32; n];
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut run_kernel = |k: usize| -> Result<(), kexue_core::loss::Error> {
        match k {
            0 => {
                black_box(cross_entropy_loss(black_box(&logits), target, &mut g_ce)?);
            }
            1 => {
                black_box(tailr_loss(black_box(&logits), target, 0.5, &mut g_tailr)?);
            }
            2 => {
                black_box(emo_loss(black_box(&logits), target, &emb, &mut g_emo)?);
            }
            _ => {
                expected_embedding(black_box(&probs), &emb, &mut mean)?;
                black_box(&mean);
            }
        }
        Ok(())
    };
    for k in 0..4 {
        for _ in 0..args.warmup {
            run_kernel(k)?;
        }
    }
    for _ in 0..args.reps.max(1) {
        for (k, times) in samples.iter_mut().enumerate() {
            let start = Instant::now();
            run_kernel(k)?;
            times.push(start.elapsed());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let [ce, tailr, emo, product] = &mut samples;
    Ok(BenchResult {
        ce: median(ce),
        tailr: median(tailr),
        emo: median(emo),
        product: median(product),
    })
}

/// Run `kexue-lab bench losses`.
pub fn bench(args: &BenchArgs) -> CliResult {
    let r = measure(args)?;
    println!("ce {}", r.ce.as_nanos());
    println!("tailr {}", r.tailr.as_nanos());
    println!("emo {}", r.emo.as_nanos());
    println!("product {}", r.product.as_nanos());
    println!(
        "ratio emo/(2*ce+product) {:.3} emo/(ce+product) {:.3}",
        r.emo_over_bound(),
        r.emo_over_ce_plus_product()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> LossesArgs {
        match Cli::try_parse_from(args).map(|c| c.command) {
            Ok(Some(Command::Losses(a))) => a,
            other => panic!("not a losses command: {other:?}"),
        }
    }

    #[test]
    fn the_short_table_has_one_line_of_five_columns_per_loss() {
        let args = parse(&[
            "kexue-lab",
            "losses",
            "--noise",
            "0.3",
            "--seed",
            "1",
            "--steps",
            "20",
        ]);
        assert_eq!(args.config().steps, 20);
        assert_eq!(args.config().grid, Config::default().grid);
        let sweep = run_sweep(&args.sweep_config(), |_| ControlFlow::Continue(())).unwrap();
        let text = format_sweep(&sweep, false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), STANDARD_LOSSES.len());
        for (line, loss) in lines.iter().zip(STANDARD_LOSSES) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols.len(), 5, "{line}");
            assert_eq!(cols[0], loss.to_string());
            for c in &cols[1..] {
                let v: f64 = c.parse().unwrap();
                assert!(v.is_finite() && v >= 0.0);
            }
        }
    }

    #[test]
    fn the_sweep_table_has_the_noise_column_and_three_verdicts() {
        let args = parse(&[
            "kexue-lab",
            "losses",
            "--sweep",
            "--noises",
            "0,0.4",
            "--steps",
            "20",
            "--regime",
            "memorising",
            "--noise-kind",
            "neighbour",
        ]);
        assert_eq!(args.config().grid, Config::memorising().grid);
        assert_eq!(args.config().noise_kind, NoiseKind::Neighbour);
        let sweep = run_sweep(&args.sweep_config(), |_| ControlFlow::Continue(())).unwrap();
        let text = format_sweep(&sweep, true).unwrap();
        let rows = text.lines().filter(|l| !l.starts_with("verdict")).count();
        assert_eq!(rows, 2 * STANDARD_LOSSES.len());
        assert!(
            text.lines()
                .filter(|l| !l.starts_with("verdict"))
                .all(|l| l.split_whitespace().count() == 10)
        );
        let verdicts: Vec<&str> = text.lines().filter(|l| l.starts_with("verdict")).collect();
        assert_eq!(verdicts.len(), 3);
        assert!(verdicts[0].starts_with("verdict tailr "));
        assert!(verdicts[1].starts_with("verdict near_miss "));
        assert!(verdicts[2].starts_with("verdict emo_speed "));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(run(&parse(&["kexue-lab", "losses", "--noise", "1.5"])).is_err());
        assert!(run(&parse(&["kexue-lab", "losses", "--classes", "2"])).is_err());
        assert!(Cli::try_parse_from(["kexue-lab", "losses", "--noise-kind", "sideways"]).is_err());
    }

    #[test]
    fn the_benchmark_measures_every_kernel() {
        let r = measure(&BenchArgs {
            classes: 512,
            dim: 16,
            reps: 3,
            warmup: 1,
            seed: 1,
        })
        .unwrap();
        assert!(r.ce > Duration::ZERO && r.emo > Duration::ZERO && r.product > Duration::ZERO);
        assert!(r.emo_over_bound().is_finite());
        assert!(
            measure(&BenchArgs {
                classes: 1,
                dim: 16,
                reps: 1,
                warmup: 0,
                seed: 1
            })
            .is_err()
        );
    }
}
