//! `kexue-lab optim …` and `kexue-lab bench optim …`: the Tiger post
//! (2023-03-07) from the command line. Everything is computed by
//! `kexue_core::optim`; this file parses arguments and prints records.

use std::time::Duration;

use clap::{Args, ValueEnum};
use kexue_core::optim::experiments::{self, NanMode, OptimizerName, Precision, RunSpec, TaskName};
use kexue_core::optim::{
    AdamW, AdamWConfig, Gradient, Lamb, LambConfig, Lion, LionConfig, NanPolicy, Optimizer,
    ParamKind, Sgdm, SgdmConfig, StepInfo, StepOptions, TensorMut, Tiger, TigerConfig,
};
use rand::{RngExt, SeedableRng};

use super::CliResult;

/// Experiments beyond the plain comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Experiment {
    /// fp32 vs pure fp16 storage (θ, state, gradients) for each optimiser.
    /// Columns: `name precision final_loss lost_fraction bytes_per_param diverged_at v_zero_fraction`
    /// (v_zero_fraction: Adam family, share of parameters whose v underflowed to 0 while m ≠ 0;
    /// `-` for others; diverged_at `-` if the run did not diverge).
    Fp16,
    /// NaN injection: Tiger's guard vs skipping or propagating the NaN.
    /// Columns: `name policy final_loss clean_loss nan_steps skipped diverged_at`.
    Nan,
    /// Accumulation k = 1 vs k = --accum (default 4) at the same effective
    /// batch on the MLP task.
    /// Columns: `name k batch state_floats_per_param final_loss max_theta_diff`.
    Accumulation,
}

/// How the NaN experiment injects NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NanModeArg {
    /// Gradients are NaN with probability --nan-probability per micro-step in
    /// the middle third of the run.
    Random,
    /// Gradients are NaN whenever max |θ| exceeds --overflow-limit (an
    /// overflowing fp16 forward pass).
    Overflow,
}

/// Storage precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// f32.
    F32,
    /// IEEE binary16 storage, f32 arithmetic.
    F16,
}

/// Arguments of `kexue-lab optim`.
#[derive(Debug, Args)]
pub struct OptimArgs {
    /// Task: rosenbrock, beale, quadratic, noisy or mlp.
    #[arg(long, default_value = "rosenbrock")]
    pub task: String,
    /// Comma-separated optimisers.
    #[arg(long, default_value = "tiger,lion,adamw,sgdm,lamb")]
    pub optimizers: String,
    /// Updates (default: 300 for 2-D functions, 500 for mlp).
    #[arg(long)]
    pub steps: Option<u32>,
    /// Seed of initialisation, mini-batches, noise and NaN injection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning rate for every optimiser (default: tuned per optimiser).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Micro-steps per update (gradient accumulation).
    #[arg(long, default_value_t = 1)]
    pub accum: u32,
    /// Storage precision of the plain comparison.
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: PrecisionArg,
    /// Run an experiment instead of the plain comparison.
    #[arg(long, value_enum)]
    pub experiment: Option<Experiment>,
    /// NaN experiment: how NaN is injected.
    #[arg(long, value_enum, default_value = "random")]
    pub nan_mode: NanModeArg,
    /// NaN experiment (random): probability per micro-step.
    #[arg(long, default_value_t = 0.05)]
    pub nan_probability: f32,
    /// NaN experiment (overflow): the max |θ| above which gradients are NaN.
    #[arg(long, default_value_t = 2.0)]
    pub overflow_limit: f32,
    /// Print the final loss for each learning rate of the tuning grid.
    #[arg(long)]
    pub tune: bool,
}

fn parse_optimizers(s: &str) -> Result<Vec<OptimizerName>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            OptimizerName::parse(p).ok_or_else(|| {
                format!(
                    "unknown optimiser {p:?} (expected one of {})",
                    OptimizerName::ALL.map(OptimizerName::name).join(", ")
                )
            })
        })
        .collect()
}

fn parse_task(s: &str) -> Result<TaskName, String> {
    TaskName::parse(s).ok_or_else(|| {
        format!(
            "unknown task {s:?} (expected one of {})",
            TaskName::ALL.map(TaskName::name).join(", ")
        )
    })
}

fn fmt_opt(x: Option<u32>) -> String {
    x.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn policy_name(o: OptimizerName, p: NanPolicy) -> &'static str {
    if o.has_guard() {
        "guard"
    } else {
        match p {
            NanPolicy::Skip => "skip",
            NanPolicy::Propagate => "propagate",
        }
    }
}

/// Run `kexue-lab optim`.
pub fn run(args: OptimArgs) -> CliResult {
    let task = parse_task(&args.task)?;
    let optimizers = parse_optimizers(&args.optimizers)?;
    if optimizers.is_empty() {
        return Err("no optimisers given".into());
    }
    if args.accum == 0 {
        return Err("--accum must be at least 1".into());
    }
    let steps = args.steps.unwrap_or(experiments::default_updates(task));
    if args.tune {
        for &o in &optimizers {
            for (lr, loss) in experiments::tune(o, task, &experiments::LR_GRID, steps, args.seed)? {
                println!("{} {lr:e} {loss:.6e}", o.name());
            }
        }
        return Ok(());
    }
    match args.experiment {
        None => {
            for &o in &optimizers {
                let mut spec = RunSpec::new(o, task);
                spec.updates = steps;
                spec.seed = args.seed;
                spec.accum = args.accum;
                spec.precision = match args.precision {
                    PrecisionArg::F32 => Precision::F32,
                    PrecisionArg::F16 => Precision::F16,
                };
                if let Some(lr) = args.lr {
                    spec.hyper.lr = lr;
                }
                let r = experiments::run(&spec, &mut |_, _| true)?;
                println!(
                    "{} {:.6e} {}",
                    o.name(),
                    r.summary.final_loss,
                    r.state_floats
                );
            }
        }
        Some(Experiment::Fp16) => {
            for row in
                experiments::fp16_comparison(task, &optimizers, steps, args.seed, &mut |_, _| true)?
            {
                println!(
                    "{} {} {:.6e} {:.6} {} {} {}",
                    row.optimizer.name(),
                    row.precision.name(),
                    row.final_loss,
                    row.lost_fraction,
                    row.bytes_per_param,
                    fmt_opt(row.diverged_at),
                    row.v_zero_fraction
                        .map_or_else(|| "-".to_string(), |f| format!("{f:.6}"))
                );
            }
        }
        Some(Experiment::Nan) => {
            let mode = match args.nan_mode {
                NanModeArg::Random => NanMode::Random {
                    probability: args.nan_probability,
                    from: steps / 3,
                    until: 2 * steps / 3,
                },
                NanModeArg::Overflow => NanMode::Overflow {
                    limit: args.overflow_limit,
                },
            };
            for row in experiments::nan_comparison(task, &optimizers, mode, steps, args.seed)? {
                println!(
                    "{} {} {:.6e} {:.6e} {} {} {}",
                    row.optimizer.name(),
                    policy_name(row.optimizer, row.policy),
                    row.final_loss,
                    row.clean_loss,
                    row.nan_steps,
                    row.skipped,
                    fmt_opt(row.diverged_at)
                );
            }
        }
        Some(Experiment::Accumulation) => {
            let k = if args.accum > 1 { args.accum } else { 4 };
            for row in experiments::accumulation_comparison(&optimizers, k, steps, args.seed)? {
                println!(
                    "{} {} {} {} {:.6e} {:.3e}",
                    row.optimizer.name(),
                    row.accum,
                    row.batch,
                    row.state_floats,
                    row.final_loss,
                    row.max_theta_diff
                );
            }
        }
    }
    Ok(())
}

/// One kernel's timing.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    /// `copy`, `tiger`, `lion`, `adamw`, `sgdm`, `lamb`.
    pub name: &'static str,
    /// Median time of one step.
    pub median: Duration,
    /// Median nanoseconds per parameter per step.
    pub ns_per_param: f64,
}

/// One kernel's step on `(θ, g, state)`; returns an error message on failure.
type Kernel<'a> = Box<dyn FnMut(&mut [f32], &[f32], &mut [f32]) -> Result<(), String> + 'a>;

fn optimizer_kernel<'a, O: Optimizer + 'a>(opt: O, scan: bool) -> Kernel<'a> {
    let mut hint = None;
    let mut t = 0u64;
    Box::new(move |theta: &mut [f32], g: &[f32], state: &mut [f32]| {
        let n = theta.len();
        let step = opt.step(StepInfo::single(t));
        t += 1;
        let grad = if scan {
            Gradient::new(g)
        } else {
            Gradient::with_status(g, false)
        };
        let report = opt
            .step_tensor(
                &step,
                TensorMut {
                    kind: ParamKind::Matrix,
                    theta,
                    state: &mut state[..n * O::STATE_FLOATS],
                },
                grad,
                StepOptions {
                    rms_hint: hint,
                    count_lost: false,
                },
            )
            .map_err(|e| format!("{} step failed: {e}", O::NAME))?;
        hint = report.theta_sq_sum;
        Ok(())
    })
}

/// Time one step of every kernel on `params` parameters (one `Matrix` tensor,
/// f32), side by side in one process: `copy` (reads θ, g, m and writes θ, m:
/// the bytes of a Tiger step), then each optimiser's full step (Tiger and its
/// RMS hint from the previous step's write pass, as the training driver does).
/// Repetitions go round-robin over the kernels (2 warm-up rounds), so a
/// burst of load on this shared machine hits all kernels alike; each kernel
/// reports the median of its `reps` times.
///
/// With `scan`, each optimiser step includes the gradient NaN scan
/// (`Gradient::new`, one more read of g); without, the gradient's status is
/// taken as known (`Gradient::with_status`), as when its producer tracked it.
pub fn bench_kernels(params: usize, reps: usize, scan: bool) -> Result<Vec<KernelTime>, String> {
    if params == 0 {
        return Err("--params must be at least 1".into());
    }
    let reps = reps.max(1);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
    let g: Vec<f32> = (0..params).map(|_| rng.random::<f32>() - 0.5).collect();
    let e = |e: kexue_core::optim::Error| e.to_string();
    let copy: Kernel<'_> = Box::new(|theta: &mut [f32], g: &[f32], state: &mut [f32]| {
        let m = &mut state[..theta.len()];
        for ((t, &gi), mi) in theta.iter_mut().zip(g).zip(m.iter_mut()) {
            let (a, c) = (*t, *mi);
            *t = gi;
            *mi = a + c;
        }
        std::hint::black_box(m);
        Ok(())
    });
    let mut kernels: Vec<(&'static str, Kernel<'_>)> = vec![
        ("copy", copy),
        (
            "tiger",
            optimizer_kernel(Tiger::new(TigerConfig::default()).map_err(e)?, scan),
        ),
        (
            "lion",
            optimizer_kernel(Lion::new(LionConfig::default()).map_err(e)?, scan),
        ),
        (
            "adamw",
            optimizer_kernel(AdamW::new(AdamWConfig::default()).map_err(e)?, scan),
        ),
        (
            "sgdm",
            optimizer_kernel(Sgdm::new(SgdmConfig::default()).map_err(e)?, scan),
        ),
        (
            "lamb",
            optimizer_kernel(Lamb::new(LambConfig::default()).map_err(e)?, scan),
        ),
    ];
    // Each kernel has its own θ and state (so every optimiser's state stays
    // its own), all of them touched once before timing.
    let mut buffers: Vec<(Vec<f32>, Vec<f32>)> = kernels
        .iter()
        .map(|_| {
            let theta: Vec<f32> = g.iter().map(|x| 0.1 * x).collect();
            (theta, vec![0.0f32; 2 * params])
        })
        .collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(reps); kernels.len()];
    for round in 0..reps + 2 {
        for (((_, kernel), (theta, state)), ts) in kernels
            .iter_mut()
            .zip(buffers.iter_mut())
            .zip(times.iter_mut())
        {
            let start = std::time::Instant::now();
            kernel(theta, &g, state)?;
            let d = start.elapsed();
            if round >= 2 {
                ts.push(d);
            }
        }
    }
    Ok(kernels
        .iter()
        .zip(times)
        .map(|((name, _), mut ts)| {
            ts.sort_unstable();
            let median = ts[ts.len() / 2];
            KernelTime {
                name,
                median,
                ns_per_param: median.as_secs_f64() * 1e9 / params as f64,
            }
        })
        .collect())
}

/// Run `kexue-lab bench optim`: one line per kernel, `name ns_per_param_step`.
pub fn bench(params: usize, reps: usize, scan: bool) -> CliResult {
    for k in bench_kernels(params, reps, scan)? {
        println!("{} {:.4}", k.name, k.ns_per_param);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_every_kernel_on_a_small_problem() {
        let ks = bench_kernels(1000, 1, true).unwrap();
        let names: Vec<_> = ks.iter().map(|k| k.name).collect();
        assert_eq!(names, ["copy", "tiger", "lion", "adamw", "sgdm", "lamb"]);
        assert!(ks.iter().all(|k| k.ns_per_param.is_finite()));
        assert!(bench_kernels(0, 1, false).is_err());
    }

    #[test]
    fn parsers_reject_unknown_names() {
        assert!(parse_optimizers("tiger,bogus").is_err());
        assert_eq!(
            parse_optimizers("Tiger, adamw").unwrap(),
            [OptimizerName::Tiger, OptimizerName::AdamW]
        );
        assert!(parse_task("mlp").is_ok() && parse_task("nope").is_err());
    }
}
