//! `kexue-lab attention-scale …` and `kexue-lab bench attention`: the
//! attention-scale analysis of the post of 2023-10-22 from the command line.
//! All numbers come from `kexue_core::attention`; this file only parses,
//! calls and prints (one record per line, whitespace-separated, columns in a
//! fixed order, floats in shortest round-trip form).

use std::io::Write;
use std::ops::ControlFlow;

use clap::{Args, ValueEnum};
use kexue_core::attention::{
    GStats, MonteCarlo, POST_N_GRID, ScaleLaw, ScoreDist, a_star_table, fit_scale_law,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::CliResult;
use super::bench::median_time;

/// Largest `n` for `--monte-carlo` (the scores of one draw are kept in memory).
const MAX_MC_KEYS: u64 = 100_000_000;
/// Largest `draws × scales` for `--monte-carlo` (every `G` is kept for the
/// medians: 2²⁸ values are 2 GiB).
const MAX_MC_CELLS: usize = 1 << 28;

/// Which scores the analysis assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DistArg {
    /// `s ~ N(0, 1)` (dot products already divided by √d).
    Normal,
    /// Cosine similarity of isotropic vectors in `d` dimensions.
    Cosine,
}

/// Arguments of `kexue-lab attention-scale`.
///
/// Output, one line per record:
/// * with `--n`: `n a_star G_at_a_star` per n (the post's approximation);
/// * with `--fit`: `c max_rel_err` (fit over n = 40, 80, …, 20000);
/// * with `--monte-carlo`: `a mean_G median_G` per `--a`, then
///   `per_draw_argmax_median X`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kexue-lab attention-scale --dist normal --n 40,512,20000\n  kexue-lab attention-scale --dist cosine --d 128 --fit\n  kexue-lab attention-scale --dist normal --n 128 --monte-carlo --draws 20000 --seed 1 --a 1,2,4,8"
)]
pub struct AttentionScaleArgs {
    /// Score distribution.
    #[arg(long, value_enum, default_value_t = DistArg::Normal)]
    pub dist: DistArg,
    /// Head dimension for `--dist cosine` (d ≥ 3; default 128).
    #[arg(long)]
    pub d: Option<u32>,
    /// Key counts, comma-separated (one value with --monte-carlo).
    #[arg(long, value_delimiter = ',')]
    pub n: Vec<u64>,
    /// Fit the post's law (normal: a* ≈ c·√ln n; cosine: a* ≈ c·ln n) over
    /// n = 40, 80, …, 20000 and print `c max_rel_err`.
    #[arg(long, conflicts_with_all = ["n", "monte_carlo"])]
    pub fit: bool,
    /// Exact G(a) by Monte Carlo over random draws of n scores instead of the
    /// approximation: prints `a mean_G median_G` per --a, then the median of
    /// the per-draw maximisers.
    #[arg(long)]
    pub monte_carlo: bool,
    /// Monte-Carlo draws.
    #[arg(long, default_value_t = 20_000)]
    pub draws: usize,
    /// Monte-Carlo seed (SmallRng; the lab's panel uses the same generator).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scales at which the Monte Carlo evaluates G, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub a: Vec<f64>,
}

/// Arguments of `kexue-lab bench attention`.
#[derive(Debug, Args)]
pub struct AttentionBenchArgs {
    /// Timed repetitions (after 2 warm-up runs).
    #[arg(long, default_value_t = 21)]
    pub reps: usize,
    /// Dimension of the cosine table.
    #[arg(long, default_value_t = 128)]
    pub d: u32,
}

fn score_dist(dist: DistArg, d: Option<u32>) -> Result<ScoreDist, Box<dyn std::error::Error>> {
    match (dist, d) {
        (DistArg::Normal, None) => Ok(ScoreDist::Normal),
        (DistArg::Normal, Some(_)) => Err("--d applies only to --dist cosine".into()),
        (DistArg::Cosine, d) => Ok(ScoreDist::cosine(d.unwrap_or(128))?),
    }
}

/// Run `kexue-lab attention-scale`.
pub fn run(args: AttentionScaleArgs) -> CliResult {
    let dist = score_dist(args.dist, args.d)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.fit {
        let mut ns = vec![0.0; POST_N_GRID.len()];
        POST_N_GRID.fill(&mut ns)?;
        let mut a = vec![0.0; ns.len()];
        a_star_table(&dist, &ns, &mut a)?;
        let fit = fit_scale_law(ScaleLaw::for_dist(&dist), &ns, &a)?;
        writeln!(out, "{} {}", fit.c, fit.max_rel_err)?;
        return Ok(());
    }
    if args.n.is_empty() {
        return Err("give --n (comma-separated key counts) or --fit".into());
    }
    if args.monte_carlo {
        let [n] = args.n[..] else {
            return Err("--monte-carlo takes exactly one --n".into());
        };
        if args.a.is_empty() {
            return Err("--monte-carlo needs --a (comma-separated scales)".into());
        }
        if n < 2 {
            return Err("--monte-carlo needs n >= 2 (with one key G is 0 for every a)".into());
        }
        if n > MAX_MC_KEYS {
            return Err(format!("--monte-carlo supports n up to {MAX_MC_KEYS}").into());
        }
        if args.draws == 0 {
            return Err("--draws must be at least 1".into());
        }
        let cells = args
            .a
            .len()
            .checked_mul(args.draws)
            .filter(|&c| c <= MAX_MC_CELLS)
            .ok_or_else(|| {
                format!("--draws times the number of --a values must not exceed {MAX_MC_CELLS}")
            })?;
        let n = usize::try_from(n)?;
        let mut scores = vec![0.0; n];
        let mut g = vec![0.0; cells];
        let mut maxs = vec![0.0; args.draws];
        let mut mc = MonteCarlo::new(&dist, &args.a, &mut scores, &mut g, &mut maxs)?;
        mc.run(&mut SmallRng::seed_from_u64(args.seed), |_, _| {
            ControlFlow::Continue(())
        });
        let mut stats = vec![GStats::default(); args.a.len()];
        let summary = mc.summarise(&mut stats)?;
        for s in &stats {
            writeln!(out, "{} {} {}", s.a, s.mean, s.median)?;
        }
        writeln!(out, "per_draw_argmax_median {}", summary.maximiser_median)?;
        if summary.unbounded_draws > 0 {
            eprintln!(
                "note: {} draws had a tied top score (maximiser +inf), counted in the median",
                summary.unbounded_draws
            );
        }
        return Ok(());
    }
    if !args.a.is_empty() {
        return Err("--a is used only with --monte-carlo".into());
    }
    for &n in &args.n {
        // u64 → f64 is exact up to 2^53, far beyond any key count here.
        let (a, g) = dist.a_star_and_objective(n as f64)?;
        writeln!(out, "{n} {a} {g}")?;
    }
    Ok(())
}

/// Run `kexue-lab bench attention`: the a* table over n = 40, 80, …, 20000
/// (500 values) for cosine scores, and for normal scores for comparison.
pub fn bench(args: AttentionBenchArgs) -> CliResult {
    let cosine = ScoreDist::cosine(args.d)?;
    let mut ns = vec![0.0; POST_N_GRID.len()];
    POST_N_GRID.fill(&mut ns)?;
    let mut a = vec![0.0; ns.len()];
    let mut failed = None;
    let mut time_table = |dist: &ScoreDist| {
        median_time(2, args.reps, || {
            if let Err(e) = a_star_table(dist, &ns, &mut a) {
                failed = Some(e);
            }
        })
    };
    let normal = time_table(&ScoreDist::Normal);
    let cos = time_table(&cosine);
    if let Some(e) = failed {
        return Err(e.into());
    }
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "# a* table over n = 40, 80, ..., 20000 ({} values); median of {} runs",
        ns.len(),
        args.reps.max(1)
    );
    println!("normal_table_ms {:.4}", ms(normal));
    println!("cosine_d{}_table_ms {:.4}", args.d, ms(cos));
    println!("table_500_ms {:.4}", ms(cos));
    Ok(())
}
