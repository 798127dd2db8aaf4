//! `kexue-lab bench …`: benchmarks. Each reports medians of repeated runs after
//! a warm-up, measured in one process so that ratios are side by side; the last
//! line of each is machine-readable.

use std::time::{Duration, Instant};

use clap::Subcommand;

use super::CliResult;

/// What to benchmark.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The a* table for 500 values of n (cosine scores, d = 128) that the
    /// attention panel recomputes when d changes; last line `table_500_ms X`.
    Attention(super::attention::AttentionBenchArgs),
    /// One loss evaluation at n = 32768 classes, d = 256: CE, TaiLr, EMO and the bare product.
    Losses(super::losses::BenchArgs),
    /// One optimiser step per kernel on one f32 matrix: `name ns_per_param_step`
    /// (median) for copy (reads θ, g, m, writes θ, m), tiger, lion, adamw, sgdm, lamb.
    Optim {
        /// Parameters.
        #[arg(long, default_value_t = 10_000_000)]
        params: usize,
        /// Timed repetitions per kernel (after 2 warm-up steps).
        #[arg(long, default_value_t = 11)]
        reps: usize,
        /// Include the gradient NaN scan (`Gradient::new`) in every optimiser step.
        #[arg(long)]
        scan: bool,
    },
    /// Tokenizer throughput on a text file (last line `mb_per_s X tokens Y`).
    Tokenize(super::tokenize::BenchTokenizeArgs),
}

/// Run one benchmark.
pub fn run(command: BenchCommand) -> CliResult {
    match command {
        BenchCommand::Attention(args) => super::attention::bench(args),
        BenchCommand::Losses(args) => super::losses::bench(&args),
        BenchCommand::Optim { params, reps, scan } => super::optim::bench(params, reps, scan),
        BenchCommand::Tokenize(args) => super::tokenize::bench_tokenize(&args),
    }
}

/// Time `f` `reps` times after `warmup` untimed calls; return the median.
/// `reps` of 0 is treated as 1.
pub fn median_time(warmup: usize, reps: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<Duration> = (0..reps.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_time_runs_warmup_plus_reps() {
        let mut calls = 0;
        let _ = median_time(2, 5, || calls += 1);
        assert_eq!(calls, 7);
        let mut calls = 0;
        let _ = median_time(0, 0, || calls += 1);
        assert_eq!(calls, 1);
    }

    #[test]
    fn median_is_the_middle_time() {
        let mut n = 0u64;
        let d = median_time(0, 3, || {
            n += 1;
            std::thread::sleep(Duration::from_millis(if n == 2 { 1 } else { 30 * (n - 1) }));
        });
        // times: 0 ms (n=1), 1 ms (n=2), 60 ms (n=3) → median 1 ms ± scheduling noise
        assert!(d >= Duration::from_millis(1) && d < Duration::from_millis(60));
    }
}
