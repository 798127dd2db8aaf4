//! `kexue-lab tokenize`, `compile-model`, `segmentations` and `bench tokenize`:
//! the Unigram tokenizer of `kexue_core::tokenizer` on the command line.
//!
//! Output formats (one output line per input line, tokens separated by one space):
//! `hex` — each token's bytes as lowercase hex (the golden contract);
//! `ids` — piece ids; `text` — the token's text with `\\`, space (`\s`), tab
//! (`\t`), CR (`\r`), LF (`\n`), other control characters and bytes that are not
//! valid UTF-8 (`\xNN`) escaped, so the output stays whitespace-separated.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use kexue_core::tokenizer::compile::{load_model_file, write_blob};
use kexue_core::tokenizer::text::{Mode, TextError, TextTokenizer, push_hex, units};
use kexue_core::tokenizer::{
    SamplingMode, SamplingTable, Token, Vocab, exact, viterbi_decode, viterbi_sample,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::CliResult;
use super::bench::median_time;

/// How tokens are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Token bytes as lowercase hex (the golden contract).
    Hex,
    /// Piece ids.
    Ids,
    /// Token text with escapes (`\\`, `\s`, `\t`, `\r`, `\n`, `\xNN`).
    Text,
}

/// How the input is split and normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Lines split on `\n`, tokenised without it, NFC (the golden default).
    Strip,
    /// Lines tokenised with their `\n`, NFC.
    Keep,
    /// BytePiece's chunks `.*\n+|.+` (a run of newlines sticks to the line before).
    Chunk,
}

/// Arguments of `kexue-lab tokenize`.
#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// BytePiece `.model` JSON or a compiled blob (`compile-model`).
    #[arg(long)]
    pub model: PathBuf,
    /// Sample with the perfect Viterbi sampler at this α (> 0); α ≤ 0 decodes.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub alpha: f64,
    /// Seed of the one RNG stream all lines draw from (so identical lines get
    /// independent samples).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Hex)]
    pub format: Format,
    /// Tokenise raw bytes: no UTF-8 check, no NFC (for invalid UTF-8 input).
    #[arg(long)]
    pub raw_bytes: bool,
    /// Unit of tokenisation (`--raw-bytes` implies strip).
    #[arg(long, value_enum, default_value_t = ModeArg::Strip)]
    pub mode: ModeArg,
}

/// Arguments of `kexue-lab compile-model`.
#[derive(Debug, Args)]
pub struct CompileModelArgs {
    /// BytePiece `.model` JSON.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the blob.
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `kexue-lab segmentations`.
#[derive(Debug, Args)]
pub struct SegmentationsArgs {
    /// BytePiece `.model` JSON or a compiled blob.
    #[arg(long)]
    pub model: PathBuf,
    /// α of the distribution `e^{α S(w)} / Z`.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Refuse inputs with more segmentations than this.
    #[arg(long, default_value_t = 100_000)]
    pub max: usize,
    /// Output format of the tokens.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The text (NFC-normalised first).
    pub text: String,
}

/// Arguments of `kexue-lab bench tokenize`.
#[derive(Debug, Args)]
pub struct BenchTokenizeArgs {
    /// BytePiece `.model` JSON or a compiled blob.
    #[arg(long)]
    pub model: PathBuf,
    /// Text file, tokenised line by line exactly as `tokenize` does (strip mode).
    #[arg(long)]
    pub input: PathBuf,
    /// Sample at this α (> 0) instead of decoding.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub alpha: f64,
    /// Timed repetitions (after one warm-up run).
    #[arg(long, default_value_t = 7)]
    pub reps: usize,
    /// Seed of the sampler's RNG.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn load(path: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(load_model_file(path)?)
}

/// Append `tokens` of `text` to `line` in `format`.
pub fn push_tokens(line: &mut String, text: &[u8], tokens: &[Token], format: Format) {
    match format {
        Format::Hex => push_hex(line, text, tokens),
        Format::Ids => {
            for (k, t) in tokens.iter().enumerate() {
                if k > 0 {
                    line.push(' ');
                }
                line.push_str(&t.id.to_string());
            }
        }
        Format::Text => {
            for (k, t) in tokens.iter().enumerate() {
                if k > 0 {
                    line.push(' ');
                }
                push_escaped(line, text.get(t.range()).unwrap_or_default());
            }
        }
    }
}

/// The `text` format's escaping of one token.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    use std::fmt::Write as _;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                ' ' => out.push_str("\\s"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// One line (or chunk) tokeniser shared by `tokenize` and `bench tokenize`:
/// decoding, or perfect sampling from one RNG stream.
struct LineRunner<'v, 'w> {
    vocab: Vocab<'v>,
    table: Option<SamplingTable<'w>>,
    rng: SmallRng,
    text: TextTokenizer,
}

impl<'v, 'w> LineRunner<'v, 'w> {
    fn new(vocab: Vocab<'v>, table: Option<SamplingTable<'w>>, seed: u64) -> Self {
        Self {
            vocab,
            table,
            rng: SmallRng::seed_from_u64(seed),
            text: TextTokenizer::new(),
        }
    }

    fn mode_name(&self) -> &'static str {
        match self.table.map(|t| t.mode()) {
            None => "decode",
            Some(SamplingMode::Linear) => "sample-linear",
            Some(_) => "sample-log",
        }
    }

    fn run<'a>(
        &'a mut self,
        unit: &'a [u8],
        raw: bool,
    ) -> Result<(&'a [u8], &'a [Token]), TextError> {
        let vocab = &self.vocab;
        match &self.table {
            None => self
                .text
                .encode_with(unit, raw, |x, s, o| viterbi_decode(vocab, x, s, o)),
            Some(table) => {
                let rng = &mut self.rng;
                self.text.encode_with(unit, raw, |x, s, o| {
                    viterbi_sample(vocab, table, x, rng, s, o)
                })
            }
        }
    }
}

/// The sampling table for `alpha` (> 0), or `None` (α ≤ 0 decodes, as in BytePiece).
fn table_for<'w>(
    vocab: &Vocab<'_>,
    alpha: f64,
    weights: &'w mut Vec<f64>,
) -> Result<Option<SamplingTable<'w>>, Box<dyn std::error::Error>> {
    if alpha.is_nan() {
        return Err("alpha is NaN".into());
    }
    if alpha <= 0.0 {
        return Ok(None);
    }
    // The full-length table lets the sampler skip bounds checks.
    weights.resize(kexue_core::tokenizer::FULL_TABLE_LEN, 0.0);
    Ok(Some(SamplingTable::new(vocab, alpha, weights)?))
}

/// `kexue-lab tokenize`: stdin → stdout, one output line per input line.
pub fn run_tokenize(args: &TokenizeArgs) -> CliResult {
    let blob = load(&args.model)?;
    let mut input = Vec::new();
    std::io::stdin().lock().read_to_end(&mut input)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    tokenize_stream(&blob, args, &input, &mut out)?;
    out.flush()?;
    Ok(())
}

/// The body of `tokenize`: tokenise `input` with the model `blob` as `args`
/// say and write one line per input unit to `out`.
pub fn tokenize_stream(
    blob: &[u8],
    args: &TokenizeArgs,
    input: &[u8],
    out: &mut impl Write,
) -> CliResult {
    let vocab = Vocab::from_blob(blob)?;
    let mut weights = Vec::new();
    let table = table_for(&vocab, args.alpha, &mut weights)?;
    let mut runner = LineRunner::new(vocab, table, args.seed);
    let mode = match (args.raw_bytes, args.mode) {
        (true, _) => Mode::Raw,
        (false, ModeArg::Strip) => Mode::Strip,
        (false, ModeArg::Keep) => Mode::Keep,
        (false, ModeArg::Chunk) => Mode::Chunk,
    };
    let mut line = String::new();
    for (number, unit) in units(input, mode).enumerate() {
        let (text, tokens) = runner
            .run(unit, mode == Mode::Raw)
            .map_err(|e| format!("line {}: {e}", number + 1))?;
        line.clear();
        push_tokens(&mut line, text, tokens, args.format);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// `kexue-lab compile-model`: JSON → blob file; prints `blob_bytes N pieces P
/// units U validate_us T`.
pub fn run_compile_model(args: &CompileModelArgs) -> CliResult {
    let blob = load(&args.model)?;
    write_blob(&args.out, &blob)?;
    let start = Instant::now();
    let vocab = Vocab::from_blob(&blob)?;
    let validate = start.elapsed();
    writeln!(
        std::io::stdout().lock(),
        "blob_bytes {} pieces {} units {} validate_us {}",
        blob.len(),
        vocab.piece_count(),
        vocab.unit_count(),
        validate.as_micros()
    )?;
    Ok(())
}

/// `kexue-lab segmentations`: every segmentation of a short text with its
/// exact probability, most probable first: `probability score tokens…`.
pub fn run_segmentations(args: &SegmentationsArgs) -> CliResult {
    let blob = load(&args.model)?;
    let vocab = Vocab::from_blob(&blob)?;
    let text = kexue_core::tokenizer::text::nfc(&args.text).into_owned();
    let bytes = text.as_bytes();
    let mut segs: Vec<(f64, Vec<Token>)> = Vec::new();
    let mut path = vec![Token::default(); bytes.len()];
    exact::enumerate(&vocab, bytes, &mut path, args.max, |tokens, score| {
        segs.push((score, tokens.to_vec()));
    })?;
    let log_z = exact::log_partition_of_scores(segs.iter().map(|s| s.0), args.alpha)?;
    segs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut line = String::new();
    for (score, tokens) in &segs {
        line.clear();
        let p = kexue_core::math::exp(args.alpha * score - log_z);
        line.push_str(&format!("{p:.9e} {score:.9} "));
        push_tokens(&mut line, bytes, tokens, args.format);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `kexue-lab bench tokenize`: the whole file tokenised line by line as
/// `tokenize` does (UTF-8 check, NFC, decode or sample; output formatting
/// excluded), median of `reps` runs after a warm-up, single thread. Last line:
/// `mb_per_s X tokens Y` (MB = 10^6 input bytes).
pub fn bench_tokenize(args: &BenchTokenizeArgs) -> CliResult {
    let start = Instant::now();
    let blob = load(&args.model)?;
    let load_time = start.elapsed();
    let start = Instant::now();
    let vocab = Vocab::from_blob(&blob)?;
    let open_time = start.elapsed();
    let input = std::fs::read(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let mut weights = Vec::new();
    let table = table_for(&vocab, args.alpha, &mut weights)?;
    let mut runner = LineRunner::new(vocab, table, args.seed);
    let lines = units(&input, Mode::Strip).count();
    let mut tokens = 0usize;
    let mut error = None;
    let mut fastest = f64::INFINITY;
    let median = median_time(1, args.reps, || {
        let t0 = Instant::now();
        tokens = 0;
        for unit in units(&input, Mode::Strip) {
            match runner.run(unit, false) {
                Ok((_, t)) => tokens += t.len(),
                Err(e) => error = Some(e),
            }
        }
        fastest = fastest.min(t0.elapsed().as_secs_f64());
    });
    if let Some(e) = error {
        return Err(e.into());
    }
    let secs = median.as_secs_f64();
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "model {} load_ms {:.1} open_us {} mode {} alpha {} input {} bytes {} lines {} reps {} median_ms {:.3} min_ms {:.3} best_mb_per_s {:.2}",
        args.model.display(),
        load_time.as_secs_f64() * 1e3,
        open_time.as_micros(),
        runner.mode_name(),
        args.alpha,
        args.input.display(),
        input.len(),
        lines,
        args.reps.max(1),
        secs * 1e3,
        fastest * 1e3,
        input.len() as f64 / 1e6 / fastest
    )?;
    writeln!(
        stdout,
        "mb_per_s {:.2} tokens {}",
        input.len() as f64 / 1e6 / secs,
        tokens
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/tokenizer");
        std::fs::read(root.join(name)).unwrap()
    }

    fn args(format: Format, mode: ModeArg, raw_bytes: bool, alpha: f64) -> TokenizeArgs {
        TokenizeArgs {
            model: PathBuf::new(),
            alpha,
            seed: 1,
            format,
            raw_bytes,
            mode,
        }
    }

    #[test]
    fn tokenize_follows_the_golden_contract_in_every_mode() {
        let blob = data("bytepiece.plus.40k.kxb");
        for (input, a, golden) in [
            (
                "edge_cases.txt",
                args(Format::Hex, ModeArg::Strip, false, 0.0),
                "edge_cases.strip.hex",
            ),
            (
                "edge_cases.txt",
                args(Format::Hex, ModeArg::Keep, false, 0.0),
                "edge_cases.keep.hex",
            ),
            (
                "edge_cases.txt",
                args(Format::Hex, ModeArg::Chunk, false, 0.0),
                "edge_cases.chunk.hex",
            ),
            (
                "edge_cases_invalid.bin",
                args(Format::Hex, ModeArg::Strip, true, 0.0),
                "edge_cases_invalid.raw.hex",
            ),
            (
                "sample.txt",
                args(Format::Hex, ModeArg::Strip, false, -1.0),
                "sample.strip.hex",
            ),
        ] {
            let mut out = Vec::new();
            tokenize_stream(&blob, &a, &data(input), &mut out).unwrap();
            assert!(out == data(golden), "{golden}");
        }
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_line_unless_raw() {
        let blob = data("bytepiece.plus.40k.kxb");
        let mut out = Vec::new();
        let err = tokenize_stream(
            &blob,
            &args(Format::Hex, ModeArg::Strip, false, 0.0),
            b"ok\n\xff\n",
            &mut out,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }

    #[test]
    fn sampling_gives_one_line_per_input_line_with_independent_samples() {
        let blob = data("bytepiece.plus.40k.kxb");
        let input = "watching\n".repeat(200);
        let mut out = Vec::new();
        tokenize_stream(
            &blob,
            &args(Format::Ids, ModeArg::Strip, false, 0.1),
            input.as_bytes(),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 200);
        let distinct: std::collections::HashSet<&&str> = lines.iter().collect();
        assert!(distinct.len() > 20, "{} distinct samples", distinct.len());
        // Same seed, same output.
        let mut again = Vec::new();
        tokenize_stream(
            &blob,
            &args(Format::Ids, ModeArg::Strip, false, 0.1),
            input.as_bytes(),
            &mut again,
        )
        .unwrap();
        assert_eq!(text.as_bytes(), &again[..]);
    }

    #[test]
    fn text_format_escapes_separators_and_invalid_bytes() {
        let mut s = String::new();
        push_escaped(&mut s, b"a b\\\t\r\n\x01\xff\xe4\xbb");
        assert_eq!(s, "a\\sb\\\\\\t\\r\\n\\x01\\xff\\xe4\\xbb");
        let mut s = String::new();
        push_escaped(&mut s, "今天".as_bytes());
        assert_eq!(s, "今天");
    }
}
