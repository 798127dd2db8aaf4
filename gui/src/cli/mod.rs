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

pub mod bench;
pub mod tokenize;

/// The headless subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Benchmarks (medians of repeated runs after a warm-up; single thread).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
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
