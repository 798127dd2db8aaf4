//! The lab's experiments (feature `std`: they allocate their buffers), shared
//! by the `kexue-lab optim` CLI and the "Optimizers" panel: runs chosen by
//! name, tuned learning rates, fp32 vs pure fp16, NaN injection, and gradient
//! accumulation at the same effective batch. Every run is seeded.

use std::vec;
use std::vec::Vec;

use core::ops::ControlFlow;

use half::f16;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::tasks::{Function2d, SpiralTask, Task, Task2d, two_spirals};
use super::train::{Buffers, StepRecord, accum_len, state_len};
use super::{
    AdamW, AdamWConfig, Error, Lamb, LambConfig, Lion, LionConfig, NanInjection, NanPolicy,
    Optimizer, RunSummary, Sgdm, SgdmConfig, Storage, Tiger, TigerBlend, TigerConfig, TrainConfig,
    train,
};
use crate::nn::{Activation, Mlp};

/// The optimisers, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerName {
    /// [`Tiger`].
    Tiger,
    /// [`Lion`].
    Lion,
    /// [`AdamW`].
    AdamW,
    /// [`Sgdm`].
    Sgdm,
    /// [`Lamb`].
    Lamb,
    /// [`TigerBlend`].
    TigerBlend,
}

impl OptimizerName {
    /// All, in display order.
    pub const ALL: [Self; 6] = [
        Self::Tiger,
        Self::Lion,
        Self::AdamW,
        Self::Sgdm,
        Self::Lamb,
        Self::TigerBlend,
    ];

    /// The optimiser's `NAME`.
    ///
    /// ```
    /// use kexue_core::optim::experiments::OptimizerName;
    /// for o in OptimizerName::ALL {
    ///     assert_eq!(OptimizerName::parse(o.name()), Some(o));
    /// }
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Tiger => Tiger::NAME,
            Self::Lion => Lion::NAME,
            Self::AdamW => AdamW::NAME,
            Self::Sgdm => Sgdm::NAME,
            Self::Lamb => Lamb::NAME,
            Self::TigerBlend => TigerBlend::NAME,
        }
    }

    /// From a name (case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(s.trim()))
    }

    /// State floats per parameter, with (`k > 1`) or without accumulation.
    ///
    /// ```
    /// use kexue_core::optim::experiments::OptimizerName;
    /// assert_eq!(OptimizerName::Tiger.state_floats(true), 1);
    /// assert_eq!(OptimizerName::AdamW.state_floats(true), 3);
    /// ```
    #[must_use]
    pub fn state_floats(self, accumulating: bool) -> usize {
        fn of<O: Optimizer>(acc: bool) -> usize {
            if acc {
                O::STATE_FLOATS_ACCUMULATING
            } else {
                O::STATE_FLOATS
            }
        }
        match self {
            Self::Tiger => of::<Tiger>(accumulating),
            Self::Lion => of::<Lion>(accumulating),
            Self::AdamW => of::<AdamW>(accumulating),
            Self::Sgdm => of::<Sgdm>(accumulating),
            Self::Lamb => of::<Lamb>(accumulating),
            Self::TigerBlend => of::<TigerBlend>(accumulating),
        }
    }

    /// Whether NaN gradients go to a guard (Tiger and its blend).
    #[must_use]
    pub fn has_guard(self) -> bool {
        matches!(self, Self::Tiger | Self::TigerBlend)
    }
}

/// The experiments' tasks, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskName {
    /// A 2-D test function.
    Function(Function2d),
    /// Two-spirals classification with a small MLP.
    Mlp,
}

impl TaskName {
    /// All tasks.
    pub const ALL: [Self; 5] = [
        Self::Function(Function2d::Rosenbrock),
        Self::Function(Function2d::Beale),
        Self::Function(Function2d::IllConditioned),
        Self::Function(Function2d::NoisyQuadratic),
        Self::Mlp,
    ];

    /// `rosenbrock`, `beale`, `quadratic`, `noisy`, `mlp`.
    ///
    /// ```
    /// use kexue_core::optim::experiments::TaskName;
    /// for t in TaskName::ALL {
    ///     assert_eq!(TaskName::parse(t.name()), Some(t));
    /// }
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Function(f) => f.name(),
            Self::Mlp => "mlp",
        }
    }

    /// From a name (case-insensitive; `spirals` also means `mlp`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("spirals") {
            return Some(Self::Mlp);
        }
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
    }
}

/// Storage of parameters and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32.
    F32,
    /// IEEE binary16 for θ, state and gradients; f32 arithmetic.
    F16,
}

impl Precision {
    /// `f32` or `f16`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => f32::NAME,
            Self::F16 => f16::NAME,
        }
    }
}

/// The lab's hyperparameters. `beta` is Tiger's β, Lion's β1, AdamW's and
/// LAMB's β1, SGDM's μ; `beta2` is Lion's, AdamW's and LAMB's β2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyper {
    /// Learning rate (Tiger: relative, ×RMS for matrices).
    pub lr: f64,
    /// See the type's docs.
    pub beta: f64,
    /// See the type's docs.
    pub beta2: f64,
    /// Weight decay.
    pub weight_decay: f64,
}

/// Learning rates tuned per optimiser and task: the best final loss of
/// [`tune`] over [`LR_GRID`] (seed 0, the task's default updates), as printed
/// by `kexue-lab optim --task <task> --tune`.
#[must_use]
pub fn tuned_lr(optimizer: OptimizerName, task: TaskName) -> f64 {
    use Function2d::{Beale, IllConditioned, NoisyQuadratic, Rosenbrock};
    use OptimizerName::{AdamW, Lamb, Lion, Sgdm, Tiger, TigerBlend};
    match (task, optimizer) {
        (TaskName::Function(Rosenbrock), Tiger | TigerBlend | Lion) => 1e-2,
        (TaskName::Function(Rosenbrock), AdamW) => 1.0,
        (TaskName::Function(Rosenbrock), Sgdm) => 3e-3,
        (TaskName::Function(Rosenbrock), Lamb) => 3e-1,
        (TaskName::Function(Beale), Tiger | TigerBlend | Lion) => 1e-1,
        (TaskName::Function(Beale), AdamW) => 3e-1,
        (TaskName::Function(Beale), Sgdm) => 3e-3,
        (TaskName::Function(Beale), Lamb) => 1e-2,
        (TaskName::Function(IllConditioned), Tiger | TigerBlend) => 1e-2,
        (TaskName::Function(IllConditioned), Lion) => 1e-1,
        (TaskName::Function(IllConditioned), AdamW) => 1.0,
        (TaskName::Function(IllConditioned), Sgdm) => 1e-2,
        (TaskName::Function(IllConditioned | NoisyQuadratic), Lamb) => 3e-1,
        (TaskName::Function(NoisyQuadratic), Tiger | TigerBlend) => 1e-2,
        (TaskName::Function(NoisyQuadratic), Lion) => 1e-1,
        (TaskName::Function(NoisyQuadratic), AdamW) => 3e-2,
        (TaskName::Function(NoisyQuadratic), Sgdm) => 1e-3,
        (TaskName::Mlp, Tiger | TigerBlend) => 1e-2,
        (TaskName::Mlp, Lion) => 3e-3,
        (TaskName::Mlp, AdamW) => 1e-1,
        (TaskName::Mlp, Sgdm) => 3e-1,
        (TaskName::Mlp, Lamb) => 3e-3,
    }
}

/// The grid [`tune`] searches.
pub const LR_GRID: [f64; 9] = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0];

impl Hyper {
    /// Defaults: the tuned learning rate, the optimisers' usual β's
    /// (Tiger 0.965, Lion (0.9, 0.99), AdamW/LAMB (0.9, 0.999), SGDM 0.9), and
    /// no weight decay.
    #[must_use]
    pub fn defaults(optimizer: OptimizerName, task: TaskName) -> Self {
        let (beta, beta2) = match optimizer {
            OptimizerName::Tiger | OptimizerName::TigerBlend => (0.965, 0.965),
            OptimizerName::Lion => (0.9, 0.99),
            OptimizerName::AdamW | OptimizerName::Lamb => (0.9, 0.999),
            OptimizerName::Sgdm => (0.9, 0.9),
        };
        Self {
            lr: tuned_lr(optimizer, task),
            beta,
            beta2,
            weight_decay: 0.0,
        }
    }
}

/// The spiral data set and network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpiralSpec {
    /// Points per class.
    pub points_per_class: usize,
    /// Jitter σ.
    pub noise: f32,
    /// Hidden width (two hidden tanh layers).
    pub hidden: usize,
    /// Mini-batch per micro-step.
    pub batch: usize,
    /// Seed of the data set (shared by all runs).
    pub data_seed: u64,
}

impl Default for SpiralSpec {
    fn default() -> Self {
        Self {
            points_per_class: 200,
            noise: 0.05,
            hidden: 32,
            batch: 32,
            data_seed: 0x5EED_DA7A,
        }
    }
}

/// One run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSpec {
    /// Which optimiser.
    pub optimizer: OptimizerName,
    /// Its hyperparameters.
    pub hyper: Hyper,
    /// Which task.
    pub task: TaskName,
    /// Updates.
    pub updates: u32,
    /// Micro-steps per update.
    pub accum: u32,
    /// Seed of initialisation, mini-batches and gradient noise.
    pub seed: u64,
    /// Storage precision.
    pub precision: Precision,
    /// NaN injection.
    pub nan: NanInjection,
    /// Non-finite gradients without a guard.
    pub policy: NanPolicy,
    /// Count updates lost to rounding.
    pub count_lost: bool,
    /// σ of the noisy quadratic's gradient noise.
    pub noise: f32,
    /// The MLP task's data and network.
    pub spiral: SpiralSpec,
}

impl RunSpec {
    /// Defaults for `optimizer` on `task`: tuned hyperparameters, 300 updates
    /// for 2-D functions and 500 for the MLP, `k = 1`, seed 0, f32, no NaN.
    #[must_use]
    pub fn new(optimizer: OptimizerName, task: TaskName) -> Self {
        Self {
            optimizer,
            hyper: Hyper::defaults(optimizer, task),
            task,
            updates: default_updates(task),
            accum: 1,
            seed: 0,
            precision: Precision::F32,
            nan: NanInjection::default(),
            policy: NanPolicy::Skip,
            count_lost: false,
            noise: 1.0,
            spiral: SpiralSpec::default(),
        }
    }
}

/// 300 updates for the 2-D functions, 500 for the MLP.
#[must_use]
pub fn default_updates(task: TaskName) -> u32 {
    match task {
        TaskName::Function(_) => 300,
        TaskName::Mlp => 500,
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// The spec that produced it.
    pub spec: RunSpec,
    /// The driver's summary.
    pub summary: RunSummary,
    /// Mean mini-batch loss per update.
    pub losses: Vec<f32>,
    /// 2-D tasks: the start point and θ after each update.
    pub trajectory: Vec<[f32; 2]>,
    /// MLP: final training accuracy.
    pub accuracy: Option<f32>,
    /// State floats per parameter of this run (with accumulation if `k > 1`).
    pub state_floats: usize,
    /// The final parameters (f32).
    pub theta: Vec<f32>,
    /// The final optimiser state, widened to f32 (planar, as stored).
    pub state: Vec<f32>,
}

/// Run one experiment. `progress(done, total)` is called after every update;
/// returning false cancels (the result then has `summary.cancelled`).
///
/// ```
/// use kexue_core::optim::experiments::{run, OptimizerName, RunSpec, TaskName};
/// use kexue_core::optim::tasks::Function2d;
/// let spec = RunSpec::new(OptimizerName::Tiger, TaskName::Function(Function2d::IllConditioned));
/// let r = run(&spec, &mut |_, _| true).unwrap();
/// assert_eq!(r.trajectory.len(), 301); // the start and 300 updates
/// assert!(r.summary.final_loss < 1.0); // from 112.75 at the start
/// ```
pub fn run(spec: &RunSpec, progress: &mut dyn FnMut(u32, u32) -> bool) -> Result<RunResult, Error> {
    let h = spec.hyper;
    match spec.optimizer {
        OptimizerName::Tiger => with_opt(
            &Tiger::new(TigerConfig {
                lr: h.lr,
                beta: h.beta,
                weight_decay: h.weight_decay,
                ..TigerConfig::default()
            })?,
            spec,
            progress,
        ),
        OptimizerName::TigerBlend => with_opt(
            &TigerBlend::new(TigerConfig {
                lr: h.lr,
                beta: h.beta,
                weight_decay: h.weight_decay,
                schedule: blend_schedule(spec),
                ..TigerConfig::default()
            })?,
            spec,
            progress,
        ),
        OptimizerName::Lion => with_opt(
            &Lion::new(LionConfig {
                lr: h.lr,
                beta1: h.beta,
                beta2: h.beta2,
                weight_decay: h.weight_decay,
                ..LionConfig::default()
            })?,
            spec,
            progress,
        ),
        OptimizerName::AdamW => with_opt(
            &AdamW::new(AdamWConfig {
                lr: h.lr,
                beta1: h.beta,
                beta2: h.beta2,
                weight_decay: h.weight_decay,
                ..AdamWConfig::default()
            })?,
            spec,
            progress,
        ),
        OptimizerName::Sgdm => with_opt(
            &Sgdm::new(SgdmConfig {
                lr: h.lr,
                momentum: h.beta,
                weight_decay: h.weight_decay,
                ..SgdmConfig::default()
            })?,
            spec,
            progress,
        ),
        OptimizerName::Lamb => with_opt(
            &Lamb::new(LambConfig {
                lr: h.lr,
                beta1: h.beta,
                beta2: h.beta2,
                weight_decay: h.weight_decay,
                ..LambConfig::default()
            })?,
            spec,
            progress,
        ),
    }
}

/// Tiger's blend decays its schedule linearly from 1 to [`BLEND_END`] over
/// the run, so `γ_t` goes from 1 (Tiger) to 0.05 (nearly SGD with momentum);
/// the other optimisers use a constant schedule.
pub fn blend_schedule(spec: &RunSpec) -> super::Schedule {
    let micro_steps = u64::from(spec.updates) * u64::from(spec.accum.max(1));
    super::Schedule::piecewise(&[(0, 1.0), (micro_steps.max(1), BLEND_END)], false)
        .unwrap_or_default()
}

/// Final multiplier of [`blend_schedule`].
pub const BLEND_END: f64 = 0.05;

fn with_opt<O: Optimizer>(
    opt: &O,
    spec: &RunSpec,
    progress: &mut dyn FnMut(u32, u32) -> bool,
) -> Result<RunResult, Error> {
    match spec.precision {
        Precision::F32 => with_storage::<O, f32>(opt, spec, progress),
        Precision::F16 => with_storage::<O, f16>(opt, spec, progress),
    }
}

/// The spiral data set of `spec`.
pub fn spiral_data(spec: &SpiralSpec) -> Result<(Vec<[f32; 2]>, Vec<f32>), Error> {
    let n = spec.points_per_class.saturating_mul(2);
    let mut points = vec![[0.0f32; 2]; n];
    let mut labels = vec![0.0f32; n];
    two_spirals(
        spec.noise,
        &mut SmallRng::seed_from_u64(spec.data_seed),
        &mut points,
        &mut labels,
    )?;
    Ok((points, labels))
}

/// The MLP of `spec`: 2 → hidden → hidden → 1, tanh.
pub fn spiral_net(spec: &SpiralSpec) -> Result<Mlp, Error> {
    Ok(Mlp::new(
        &[2, spec.hidden, spec.hidden, 1],
        Activation::Tanh,
    )?)
}

fn with_storage<O: Optimizer, P: Storage>(
    opt: &O,
    spec: &RunSpec,
    progress: &mut dyn FnMut(u32, u32) -> bool,
) -> Result<RunResult, Error> {
    let config = TrainConfig {
        updates: spec.updates,
        accum: spec.accum,
        nan: spec.nan,
        policy: spec.policy,
        count_lost: spec.count_lost,
        fp16_gradients: spec.precision == Precision::F16,
    };
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    match spec.task {
        TaskName::Function(f) => {
            let mut task = Task2d::new(f, spec.noise)?;
            let (x0, y0) = f.start();
            let mut out =
                execute::<O, P, _>(opt, &mut task, &config, &mut rng, progress, true, [x0, y0])?;
            out.accuracy = None;
            Ok(finish(
                spec,
                out,
                O::STATE_FLOATS,
                O::STATE_FLOATS_ACCUMULATING,
            ))
        }
        TaskName::Mlp => {
            let (points, labels) = spiral_data(&spec.spiral)?;
            let net = spiral_net(&spec.spiral)?;
            let mut scratch = vec![0.0f32; net.scratch_len()];
            let mut task = SpiralTask::new(net, &points, &labels, spec.spiral.batch, &mut scratch)?;
            let mut out =
                execute::<O, P, _>(opt, &mut task, &config, &mut rng, progress, false, [0.0; 2])?;
            out.accuracy = Some(task.accuracy(&out.theta)?);
            Ok(finish(
                spec,
                out,
                O::STATE_FLOATS,
                O::STATE_FLOATS_ACCUMULATING,
            ))
        }
    }
}

struct Outcome {
    summary: RunSummary,
    losses: Vec<f32>,
    trajectory: Vec<[f32; 2]>,
    accuracy: Option<f32>,
    theta: Vec<f32>,
    state: Vec<f32>,
}

fn finish(spec: &RunSpec, o: Outcome, plain: usize, accumulating: usize) -> RunResult {
    RunResult {
        spec: *spec,
        summary: o.summary,
        losses: o.losses,
        trajectory: o.trajectory,
        accuracy: o.accuracy,
        state_floats: if spec.accum > 1 { accumulating } else { plain },
        theta: o.theta,
        state: o.state,
    }
}

fn execute<O: Optimizer, P: Storage, T: Task>(
    opt: &O,
    task: &mut T,
    config: &TrainConfig,
    rng: &mut SmallRng,
    progress: &mut dyn FnMut(u32, u32) -> bool,
    record_xy: bool,
    start: [f32; 2],
) -> Result<Outcome, Error> {
    let n = task.layout().total();
    let mut theta = vec![P::ZERO; n];
    let mut state = vec![P::ZERO; state_len::<O>(n)];
    let mut grad = vec![0.0f32; n];
    let mut accum = vec![0.0f32; accum_len::<O>(n, config.accum)];
    let mut work = vec![0.0f32; n];
    let mut losses = Vec::with_capacity(config.updates as usize);
    let mut trajectory = Vec::new();
    if record_xy {
        trajectory.reserve(config.updates as usize + 1);
        trajectory.push([P::store(start[0]).load(), P::store(start[1]).load()]);
    }
    let total = config.updates;
    let summary = train(
        opt,
        task,
        Buffers {
            theta: &mut theta,
            state: &mut state,
            grad: &mut grad,
            accum: &mut accum,
            work: &mut work,
        },
        config,
        rng,
        |r: &StepRecord<'_>| {
            losses.push(r.loss);
            if record_xy && let [x, y] = *r.theta {
                trajectory.push([x, y]);
            }
            if progress(r.update + 1, total) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        },
    )?;
    Ok(Outcome {
        summary,
        losses,
        trajectory,
        accuracy: None,
        theta: work,
        state: state.iter().map(|s| s.load()).collect(),
    })
}

/// Final loss of `optimizer` on `task` for each learning rate of `grid`
/// (`updates`, `seed`, other settings from [`RunSpec::new`]). Diverged or
/// non-finite runs report `f32::INFINITY`.
///
/// ```
/// use kexue_core::optim::experiments::{tune, OptimizerName, TaskName};
/// use kexue_core::optim::tasks::Function2d;
/// let task = TaskName::Function(Function2d::IllConditioned);
/// let r = tune(OptimizerName::Sgdm, task, &[1e-4, 1e-2, 1e3], 100, 0).unwrap();
/// assert!(r[1].1 < r[0].1); // 1e-2 beats 1e-4 in 100 steps
/// assert_eq!(r[2].1, f32::INFINITY); // 1e3 diverges
/// ```
pub fn tune(
    optimizer: OptimizerName,
    task: TaskName,
    grid: &[f64],
    updates: u32,
    seed: u64,
) -> Result<Vec<(f64, f32)>, Error> {
    let mut out = Vec::with_capacity(grid.len());
    for &lr in grid {
        let mut spec = RunSpec::new(optimizer, task);
        spec.hyper.lr = lr;
        spec.updates = updates;
        spec.seed = seed;
        let r = run(&spec, &mut |_, _| true)?;
        let loss = if r.summary.final_loss.is_finite() {
            r.summary.final_loss
        } else {
            f32::INFINITY
        };
        out.push((lr, loss));
    }
    Ok(out)
}

/// One row of [`fp16_comparison`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fp16Row {
    /// Optimiser.
    pub optimizer: OptimizerName,
    /// Storage.
    pub precision: Precision,
    /// Final full loss.
    pub final_loss: f32,
    /// Fraction of intended non-zero updates whose stored value did not change.
    pub lost_fraction: f64,
    /// Intended non-zero element updates.
    pub moved: u64,
    /// Update at which θ or state became non-finite.
    pub diverged_at: Option<u32>,
    /// Bytes per parameter: θ plus state.
    pub bytes_per_param: usize,
    /// Adam-family (two state floats): fraction of parameters whose second
    /// moment `v` is stored as 0 while `m ≠ 0` at the end (or at divergence):
    /// `v` underflowed, so `m̂/(√v̂ + ε)` is `m̂/ε`.
    pub v_zero_fraction: Option<f64>,
}

/// Fraction of parameters with `v = 0` and `m ≠ 0` in a planar `[m…, v…]`
/// state; `None` unless the state has two floats per parameter.
///
/// ```
/// use kexue_core::optim::experiments::v_zero_fraction;
/// // m = [0.1, 0.0], v = [0.0, 0.0]: only the first has m ≠ 0 with v = 0.
/// assert_eq!(v_zero_fraction(&[0.1, 0.0, 0.0, 0.0], 2), Some(0.5));
/// assert_eq!(v_zero_fraction(&[0.1, 0.2], 2), None);
/// ```
#[must_use]
pub fn v_zero_fraction(state: &[f32], params: usize) -> Option<f64> {
    if params == 0 || state.len() != 2 * params {
        return None;
    }
    let (m, v) = state.split_at(params);
    let zero = m
        .iter()
        .zip(v)
        .filter(|&(&m, &v)| v == 0.0 && m != 0.0)
        .count();
    Some(zero as f64 / params as f64)
}

/// fp32 vs pure fp16 for each optimiser (tuned learning rates, `seed`): final
/// loss and the fraction of updates lost to rounding.
pub fn fp16_comparison(
    task: TaskName,
    optimizers: &[OptimizerName],
    updates: u32,
    seed: u64,
    progress: &mut dyn FnMut(u32, u32) -> bool,
) -> Result<Vec<Fp16Row>, Error> {
    let mut rows = Vec::new();
    let total = (optimizers.len() * 2) as u32;
    for (i, &o) in optimizers.iter().enumerate() {
        for (j, precision) in [Precision::F32, Precision::F16].into_iter().enumerate() {
            let mut spec = RunSpec::new(o, task);
            spec.updates = updates;
            spec.seed = seed;
            spec.precision = precision;
            spec.count_lost = true;
            let r = run(&spec, &mut |_, _| true)?;
            let bytes = match precision {
                Precision::F32 => 4,
                Precision::F16 => 2,
            };
            rows.push(Fp16Row {
                optimizer: o,
                precision,
                final_loss: r.summary.final_loss,
                lost_fraction: r.summary.lost_fraction(),
                moved: r.summary.moved,
                diverged_at: r.summary.diverged_at,
                bytes_per_param: bytes * (1 + r.state_floats),
                v_zero_fraction: v_zero_fraction(&r.state, r.theta.len()),
            });
            if !progress((i * 2 + j + 1) as u32, total) {
                return Ok(rows);
            }
        }
    }
    Ok(rows)
}

/// How the NaN experiment injects NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NanMode {
    /// Each micro-step's gradient is NaN with this probability, for updates
    /// in `from..until`.
    Random {
        /// Probability per micro-step.
        probability: f32,
        /// First update.
        from: u32,
        /// One past the last update.
        until: u32,
    },
    /// Gradients are NaN whenever `max |θ|` exceeds `limit` (an overflowing
    /// fp16 forward pass).
    Overflow {
        /// The limit.
        limit: f32,
    },
}

/// One row of [`nan_comparison`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NanRow {
    /// Optimiser.
    pub optimizer: OptimizerName,
    /// Policy (Tiger: its guard, whatever the policy says).
    pub policy: NanPolicy,
    /// Final full loss.
    pub final_loss: f32,
    /// Loss of the same run without injection.
    pub clean_loss: f32,
    /// Micro-steps with a NaN gradient.
    pub nan_steps: u32,
    /// Updates skipped.
    pub skipped: u32,
    /// Update at which θ became NaN.
    pub diverged_at: Option<u32>,
}

/// NaN injection for each optimiser (tuned learning rates, `seed`): Tiger with
/// its guard; the others with [`NanPolicy::Skip`] and
/// [`NanPolicy::Propagate`].
pub fn nan_comparison(
    task: TaskName,
    optimizers: &[OptimizerName],
    mode: NanMode,
    updates: u32,
    seed: u64,
) -> Result<Vec<NanRow>, Error> {
    let mut rows = Vec::new();
    let nan = match mode {
        NanMode::Random {
            probability,
            from,
            until,
        } => NanInjection {
            probability,
            from,
            until,
            overflow_limit: None,
            seed: seed ^ 0x0BAD_F00D,
        },
        NanMode::Overflow { limit } => NanInjection {
            overflow_limit: Some(limit),
            ..NanInjection::default()
        },
    };
    for &o in optimizers {
        let mut clean = RunSpec::new(o, task);
        clean.updates = updates;
        clean.seed = seed;
        let clean_loss = run(&clean, &mut |_, _| true)?.summary.final_loss;
        let policies: &[NanPolicy] = if o.has_guard() {
            &[NanPolicy::Skip]
        } else {
            &[NanPolicy::Skip, NanPolicy::Propagate]
        };
        for &policy in policies {
            let mut spec = clean;
            spec.nan = nan;
            spec.policy = policy;
            let r = run(&spec, &mut |_, _| true)?;
            rows.push(NanRow {
                optimizer: o,
                policy,
                final_loss: r.summary.final_loss,
                clean_loss,
                nan_steps: r.summary.nan_micro_steps,
                skipped: r.summary.skipped_updates,
                diverged_at: r.summary.diverged_at,
            });
        }
    }
    Ok(rows)
}

/// One row of [`accumulation_comparison`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccumRow {
    /// Optimiser.
    pub optimizer: OptimizerName,
    /// Micro-steps per update.
    pub accum: u32,
    /// Mini-batch per micro-step (effective batch = `accum × batch`).
    pub batch: usize,
    /// State floats per parameter.
    pub state_floats: usize,
    /// Final full loss.
    pub final_loss: f32,
    /// `max |θ − θ_{k=1}|` against the `k = 1` run.
    pub max_theta_diff: f32,
}

/// Gradient accumulation at the same effective batch on the MLP: `k = 1`
/// with batch `B` vs `k` with batch `B/k`, same seed, so the same samples
/// feed each update.
pub fn accumulation_comparison(
    optimizers: &[OptimizerName],
    k: u32,
    updates: u32,
    seed: u64,
) -> Result<Vec<AccumRow>, Error> {
    let mut rows = Vec::new();
    for &o in optimizers {
        let mut base = RunSpec::new(o, TaskName::Mlp);
        base.updates = updates;
        base.seed = seed;
        let b = base.spiral.batch;
        let one = run(&base, &mut |_, _| true)?;
        let mut acc = base;
        acc.accum = k.max(1);
        acc.spiral.batch = (b / k.max(1) as usize).max(1);
        let many = run(&acc, &mut |_, _| true)?;
        let diff = one
            .theta
            .iter()
            .zip(&many.theta)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        for (r, kk, bb, d) in [
            (&one, 1, b, 0.0),
            (&many, acc.accum, acc.spiral.batch, diff),
        ] {
            rows.push(AccumRow {
                optimizer: o,
                accum: kk,
                batch: bb,
                state_floats: r.state_floats,
                final_loss: r.summary.final_loss,
                max_theta_diff: d,
            });
        }
    }
    Ok(rows)
}
