//! Headless subcommands of `kexue-lab`: machine-readable output on stdout, one
//! record per line, whitespace-separated columns in a stable order.

use clap::{CommandFactory, Parser, Subcommand};

/// Command line of `kexue-lab`.
#[derive(Debug, Parser)]
#[command(
    name = "kexue-lab",
    version,
    about = "Kexue Lab: see eight 2023 ideas from kexue.fm behave. No subcommand opens the window."
)]
pub struct Cli {
    /// A headless subcommand; without one the lab window opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

pub mod attention;
pub mod bench;
pub mod losses;
pub mod optim;
pub mod tokenize;

/// The headless subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Benchmarks (medians of repeated runs after a warm-up; single thread).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The attention scale that maximises the softmax gradient (post of
    /// 2023-10-22): `n a_star G_at_a_star` per n, `--fit`, or `--monte-carlo`.
    AttentionScale(attention::AttentionScaleArgs),
    /// TaiLr and EMO vs cross-entropy under label noise (posts of 2023-03-14 and 2023-10-13).
    Losses(losses::LossesArgs),
    /// Tiger, Lion, AdamW, SGDM, LAMB on a task; fp16, NaN and accumulation experiments.
    ///
    /// Trains each optimiser on the task and prints one line per optimiser:
    /// `name final_loss state_floats_per_param` (final_loss: the full, noise-free loss).
    /// Tasks: rosenbrock, beale, quadratic (rotated, condition 50), noisy (quadratic with
    /// N(0,1) gradient noise), mlp (two spirals, 2-32-32-1 tanh MLP). Optimisers: tiger,
    /// lion, adamw, sgdm, lamb, tiger-blend. Learning rates default to the tuned values
    /// (see --tune). With --experiment the columns change (listed under --experiment);
    /// with --tune it prints `name lr final_loss` for each learning rate of the grid.
    Optim(optim::OptimArgs),
    /// Tokenise stdin with a BytePiece Unigram model (one output line per input line).
    Tokenize(tokenize::TokenizeArgs),
    /// Compile a BytePiece `.model` JSON into a vocabulary blob (prints its size).
    CompileModel(tokenize::CompileModelArgs),
    /// Every segmentation of a short text with its exact probability.
    Segmentations(tokenize::SegmentationsArgs),
}

/// The result of a subcommand.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

/// Run one subcommand.
pub fn run_command(command: Command) -> CliResult {
    match command {
        Command::Bench(bench) => bench::run(bench),
        Command::AttentionScale(args) => attention::run(args),
        Command::Losses(args) => losses::run(&args),
        Command::Optim(args) => optim::run(args),
        Command::Tokenize(args) => tokenize::run_tokenize(&args),
        Command::CompileModel(args) => tokenize::run_compile_model(&args),
        Command::Segmentations(args) => tokenize::run_segmentations(&args),
    }
}

/// Names of the headless subcommands (for help and error messages).
pub fn subcommand_names() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .map(|c| c.get_name().to_string())
        .collect()
}
