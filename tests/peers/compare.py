#!/usr/bin/env python3
"""Side-by-side tokenizer throughput: SentencePiece, BytePiece and ours.

One run measures, on the same machine and the same text, single thread, for
Chinese and English (data/tokenizer/{zh,en}-dev.txt of the shared data):

  sentencepiece det     sp.encode(lines, num_threads=1)   (32k Unigram, train_spm.py)
  sentencepiece sample  sp.encode(lines, num_threads=1, enable_sampling=True,
                                  alpha=A, nbest_size=-1)
  bytepiece det         [tok.tokenize(line) for line in lines]   (the 40k model)
  bytepiece sample      [tok.tokenize(line, alpha=A) for line in lines]   (seeded)
  ours det              kexue-lab bench tokenize --model M --input F
  ours sample           kexue-lab bench tokenize --model M --input F --alpha A

Input semantics are the same for all: the file's lines (split on b"\\n" only, a
final newline does not start a line), each tokenised separately;
MB = 10^6 bytes of the input file. The runs are interleaved (round-robin over
the engines, the order rotated every round) so machine noise hits all alike;
each engine's figure is the median over its rounds. In a round, a Python
engine repeats whole passes over the file until --min-seconds (1 s) have
passed, so fast engines are not timed on one short run. BytePiece is slow, so it
runs in fewer rounds (--bytepiece-rounds), spread evenly over the run. Ours
reports the median of its own repeated runs after a warm-up; its figure here
is the median of those over the rounds.

Output: a table, then machine-readable records (one per line, whitespace
separated, columns named by the '#' line before each kind), then the targets
of issue 3 with PASS/FAIL. Exit status 1 if a target fails, 2 on error, 0
otherwise (also when our engine is skipped because it is not built yet).

    bash tests/peers/setup.sh
    /tmp/kexue-peers-venv/bin/python tests/peers/train_spm.py
    cargo build --release -p kexue-gui
    /tmp/kexue-peers-venv/bin/python tests/peers/compare.py
"""

import argparse
import faulthandler
import gc
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import golden_check
import peerlib

peerlib.pin_single_thread()

# The targets of issue 3 ("Performance" in "Done means"): (name, numerator,
# denominator, threshold), each an (engine, mode) pair, per language.
TARGETS = (
    ("ours_det_vs_spm_det", ("ours", "det"), ("sentencepiece", "det"), 3.0),
    ("ours_det_vs_bytepiece_det", ("ours", "det"), ("bytepiece", "det"), 20.0),
    ("ours_sample_vs_ours_det", ("ours", "sample"), ("ours", "det"), 0.75),
    ("ours_sample_vs_spm_sample", ("ours", "sample"), ("sentencepiece", "sample"), 10.0),
)
ENGINES = ("sentencepiece", "bytepiece", "ours")
MODES = ("det", "sample")
# Relative tolerance for the sanity check that ours and BytePiece, sampling
# from the same distribution, give about the same number of tokens per pass
# (the spread of a ~10^6-token total is ~0.1%; a different sampler or model
# would be off by several percent).
SAMPLE_TOKENS_RTOL = 0.01
# A single-thread engine that had a core to itself shows cpu/wall ~1.00;
# below this, other processes were taking its CPU time during the run.
BUSY_CPU_PER_WALL = 0.9
OUR_BENCH_LINE = re.compile(r"^mb_per_s\s+(\S+)\s+tokens\s+(\S+)\s*$")
# Address-space cap while BytePiece samples: its sampler can loop forever
# (when C rand() returns RAND_MAX no route is recorded), appending to a list
# until memory runs out; with the cap that becomes a MemoryError within
# seconds instead of eating the shared machine's memory.
BYTEPIECE_SAMPLE_AS_LIMIT = 8 << 30


@dataclass
class Measure:
    """The runs of one (engine, language, mode)."""

    engine: str
    lang: str
    mode: str
    mb_per_s: list = field(default_factory=list)
    tokens: list = field(default_factory=list)
    cpu_per_wall: list = field(default_factory=list)
    rounds: list = field(default_factory=list)

    def median(self):
        return statistics.median(self.mb_per_s) if self.mb_per_s else None


def parse_our_bench(stdout):
    """(mb_per_s, tokens) from the LAST non-empty line of `kexue-lab bench
    tokenize`, which must read `mb_per_s X tokens Y`; None if it does not."""
    lines = [l for l in stdout.splitlines() if l.strip()]
    if not lines:
        return None
    m = OUR_BENCH_LINE.match(lines[-1].strip())
    if not m:
        return None
    try:
        return float(m.group(1)), int(float(m.group(2)))
    except ValueError:
        return None


def spread_rounds(total, k):
    """k round indices out of range(total), spread evenly (first and last
    included when k >= 2)."""
    k = max(0, min(k, total))
    if k == 0:
        return set()
    if k == 1:
        return {total // 2}
    return {round(i * (total - 1) / (k - 1)) for i in range(k)}


def ratio(a, b):
    return a / b if a is not None and b else None


def evaluate_targets(medians, langs):
    """[(name, lang, ratio or None, threshold, status)] for the issue's
    targets; status SKIP when an engine was not measured."""
    out = []
    for lang in langs:
        for name, num, den, threshold in TARGETS:
            r = ratio(medians.get((num[0], lang, num[1])), medians.get((den[0], lang, den[1])))
            status = "SKIP" if r is None else ("PASS" if r >= threshold else "FAIL")
            out.append((name, lang, r, threshold, status))
    return out


def quartiles(xs):
    """(first quartile, median, third quartile) of a non-empty list."""
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[1], q[2]


def paired_targets(runs, langs):
    """The targets again, estimated from PAIRED ratios: for each round in which
    both engines of a target ran, the ratio of their two figures from that
    round; then the median (and quartiles) over those rounds. `runs` maps
    (engine, lang, mode) to {round: MB/s}. The machine drifts between speed
    phases within seconds, so a ratio of two figures taken close together is
    steadier than a ratio of two medians taken over the whole run.
    [(name, lang, median or None, q1, q3, n, threshold, status)]."""
    out = []
    for lang in langs:
        for name, num, den, threshold in TARGETS:
            a = runs.get((num[0], lang, num[1]), {})
            b = runs.get((den[0], lang, den[1]), {})
            ratios = [a[r] / b[r] for r in sorted(a.keys() & b.keys()) if b[r]]
            if not ratios:
                out.append((name, lang, None, None, None, 0, threshold, "SKIP"))
                continue
            q1, med, q3 = quartiles(ratios)
            out.append((name, lang, med, q1, q3, len(ratios), threshold, "PASS" if med >= threshold else "FAIL"))
    return out


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


class OursEngine:
    """Our tokenizer, through `kexue-lab bench tokenize` in a subprocess."""

    def __init__(self, binary, model, timeout):
        self.binary = Path(binary)
        self.model = model
        self.timeout = timeout

    def available(self):
        """(True, "") or (False, why)."""
        if not self.binary.is_file():
            return False, (
                f"no binary at {self.binary}: build it with `cargo build --release -p kexue-gui` (or pass --bin)"
            )
        try:
            p = subprocess.run(
                [str(self.binary), "bench", "tokenize", "--help"],
                check=False,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"{self.binary} does not run: {e}"
        if p.returncode != 0:
            first = (p.stderr.strip().splitlines() or ["(no message)"])[0]
            return False, (f"`{self.binary} bench tokenize` does not exist in this build (not merged yet?): {first}")
        return True, ""

    def command(self, text, alpha):
        cmd = [str(self.binary), "bench", "tokenize", "--model", str(self.model), "--input", str(text)]
        if alpha is not None:
            cmd += ["--alpha", repr(alpha)]
        return cmd

    def run(self, text, alpha):
        """(mb_per_s, tokens, cpu_per_wall) of one bench invocation."""
        cmd = self.command(text, alpha)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=self.timeout)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
        parsed = parse_our_bench(p.stdout)
        if parsed is None:
            raise RuntimeError(f"{shlex.join(cmd)}: last line is not `mb_per_s X tokens Y`: {p.stdout[-200:]!r}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return parsed[0], parsed[1], cpu / wall


def time_call(f):
    """(seconds, result, cpu_per_wall) of one call of f, garbage collected
    first so one engine's leftovers are not collected on another's clock."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = f()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return wall, result, cpu / wall


def time_passes(f, min_seconds):
    """One measurement: whole passes of f, repeated until at least
    `min_seconds` have elapsed (so a fast engine's figure is not one short
    run). (seconds, passes, tokens of one pass, cpu_per_wall)."""
    seconds = cpu = 0.0
    passes = tokens = 0
    while passes == 0 or seconds < min_seconds:
        wall, result, cpw = time_call(f)
        if passes == 0:
            tokens = sum(map(len, result))
        del result
        seconds += wall
        cpu += cpw * wall
        passes += 1
    return seconds, passes, tokens, cpu / seconds


class BytePieceSampleHang(RuntimeError):
    pass


def guarded_bytepiece_sample(f, timeout, as_limit=BYTEPIECE_SAMPLE_AS_LIMIT):
    """Run a BytePiece sampling pass with the memory cap and a watchdog that
    ends the process (with a traceback) if it still hangs after `timeout` s."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = as_limit if hard == resource.RLIM_INFINITY else min(hard, as_limit)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        return f()
    except MemoryError as e:
        raise BytePieceSampleHang("BytePiece's sampler looped (RAND_MAX case) until the memory cap") from e
    finally:
        faulthandler.cancel_dump_traceback_later()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def machine_description():
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}; {os.cpu_count()} logical CPUs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"


def main():
    ap = argparse.ArgumentParser(
        description="Tokenizer throughput: SentencePiece, BytePiece and kexue-lab, side by side.",
        epilog="Run tests/peers/setup.sh and train_spm.py first. See tests/peers/README.md.",
    )
    ap.add_argument(
        "--bin",
        default=str(peerlib.REPO / "target" / "release" / "kexue-lab"),
        help="our binary (default: target/release/kexue-lab of this checkout)",
    )
    ap.add_argument("--our-model", help="model passed to our bench (default: the BytePiece 40k model)")
    ap.add_argument("--shared", help="shared data dir (default: $KEXUE_SHARED or ../shared)")
    ap.add_argument("--cache", help="SentencePiece model cache (default: $KEXUE_PEERS_CACHE or /tmp/kexue-peers)")
    ap.add_argument("--lang", choices=[*peerlib.LANGS, "all"], default="all")
    ap.add_argument("--alpha", type=float, default=0.1, help="sampling alpha for all engines (default 0.1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the SentencePiece and BytePiece samplers")
    ap.add_argument("--rounds", type=int, default=7, help="rounds for SentencePiece and ours (default 7)")
    ap.add_argument(
        "--bytepiece-rounds",
        type=int,
        default=3,
        help="rounds for BytePiece, spread over the run (default 3; it is slow)",
    )
    ap.add_argument(
        "--warmup-lines",
        type=int,
        default=2000,
        help="lines of each file tokenised untimed by each Python engine first (default 2000)",
    )
    ap.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="a Python engine's measurement repeats whole passes until this long (default 1 s)",
    )
    ap.add_argument("--skip-ours", action="store_true", help="measure the peers only")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before one run is declared hung (default 600)")
    args = ap.parse_args()
    if args.rounds < 1 or args.bytepiece_rounds < 0 or args.alpha <= 0:
        ap.error("need --rounds >= 1, --bytepiece-rounds >= 0 and --alpha > 0")

    import importlib.metadata

    import sentencepiece as spm

    bp_version = importlib.metadata.version("bytepiece")

    shared = peerlib.shared_dir(args.shared)
    cache = peerlib.cache_dir(args.cache)
    langs = peerlib.LANGS if args.lang == "all" else (args.lang,)
    bp_model = peerlib.bytepiece_model(shared)

    # ---- inputs and engines ----
    texts, lines, sps = {}, {}, {}
    for lang in langs:
        texts[lang] = peerlib.dev_text(shared, lang)
        data = texts[lang].read_bytes()
        lines[lang] = [l.decode("utf-8") for l in peerlib.split_lines(data)]
        model = peerlib.spm_model(cache, lang)
        if not model.is_file():
            sys.exit(f"no SentencePiece model {model}: run tests/peers/train_spm.py first")
        sps[lang] = spm.SentencePieceProcessor(model_file=str(model))
    nbytes = {lang: texts[lang].stat().st_size for lang in langs}
    tok = golden_check.load_tokenizer(bp_model, seed=args.seed)
    spm.set_random_generator_seed(args.seed)
    alpha = args.alpha

    ours = None
    ours_note = "skipped (--skip-ours)"
    if not args.skip_ours:
        ours = OursEngine(args.bin, args.our_model or bp_model, args.timeout)
        ok, why = ours.available()
        if not ok:
            ours, ours_note = None, f"skipped: {why}"
            print(f"compare.py: our engine {ours_note}", file=sys.stderr)

    def python_pass(engine, lang, mode, subset=None):
        ls = lines[lang] if subset is None else lines[lang][:subset]
        sp = sps[lang]
        if engine == "sentencepiece" and mode == "det":
            return lambda: sp.encode(ls, num_threads=1)
        if engine == "sentencepiece":
            return lambda: sp.encode(ls, num_threads=1, enable_sampling=True, alpha=alpha, nbest_size=-1)
        if mode == "det":
            return lambda: [tok.tokenize(l) for l in ls]
        return lambda: guarded_bytepiece_sample(lambda: [tok.tokenize(l, alpha=alpha) for l in ls], args.timeout)

    engines = ["sentencepiece", "bytepiece"] + (["ours"] if ours else [])
    jobs = [(e, lang, m) for lang in langs for e in engines for m in MODES]
    measures = {j: Measure(*j) for j in jobs}
    bp_rounds = spread_rounds(args.rounds, args.bytepiece_rounds)

    # ---- header ----
    cmdline = shlex.join([Path(sys.executable).name, *sys.argv])
    print(f"# compare.py: {cmdline}")
    print(f"# machine: {machine_description()}")
    print(
        f"# python {platform.python_version()}, sentencepiece {spm.__version__}, bytepiece {bp_version}, "
        f"alpha {alpha}, seed {args.seed}"
    )
    print(
        f"# rounds: {args.rounds} (sentencepiece, ours), {len(bp_rounds)} (bytepiece: rounds "
        f"{sorted(i + 1 for i in bp_rounds)}); our engine: {'measured' if ours else ours_note}"
    )
    for lang in langs:
        print(
            f"# {lang}: {texts[lang]} {nbytes[lang]} bytes {len(lines[lang])} lines; "
            f"spm vocab {sps[lang].get_piece_size()}"
        )
    sys.stdout.flush()

    # ---- warm-up (untimed) ----
    for e, lang, m in jobs:
        if e != "ours":
            python_pass(e, lang, m, args.warmup_lines)()

    # ---- interleaved rounds ----
    started = time.perf_counter()
    for r in range(args.rounds):
        k = r % len(jobs)
        for job in jobs[k:] + jobs[:k]:
            engine, lang, mode = job
            if engine == "bytepiece" and r not in bp_rounds:
                continue
            mb = nbytes[lang] / 1e6
            if engine == "ours":
                mbs, ntok, cpw = ours.run(texts[lang], alpha if mode == "sample" else None)
            else:
                f = python_pass(engine, lang, mode)
                try:
                    seconds, passes, ntok, cpw = time_passes(f, args.min_seconds)
                except BytePieceSampleHang as e:
                    print(f"compare.py: {e}; reseeding and retrying once", file=sys.stderr)
                    tok.set_seed(args.seed + 1000 + r)
                    seconds, passes, ntok, cpw = time_passes(f, args.min_seconds)
                mbs = passes * mb / seconds
            meas = measures[job]
            meas.mb_per_s.append(mbs)
            meas.tokens.append(ntok)
            meas.cpu_per_wall.append(cpw)
            meas.rounds.append(r)
        print(f"# round {r + 1}/{args.rounds} done at {time.perf_counter() - started:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - started

    # ---- results ----
    medians = {j: m.median() for j, m in measures.items()}
    rows = []
    for (engine, lang, mode), meas in measures.items():
        if not meas.mb_per_s:
            continue
        med = meas.median()
        tokens = round(statistics.mean(meas.tokens))
        rows.append(
            {
                "engine": engine,
                "lang": lang,
                "mode": mode,
                "med": med,
                "lo": min(meas.mb_per_s),
                "hi": max(meas.mb_per_s),
                "runs": len(meas.mb_per_s),
                "tokens": tokens,
                "tpl": tokens / len(lines[lang]),
                "bpt": nbytes[lang] / tokens if tokens else None,
                "cpw": statistics.median(meas.cpu_per_wall),
                "vs_spm": ratio(med, medians.get(("sentencepiece", lang, mode))),
                "vs_bp": ratio(med, medians.get(("bytepiece", lang, mode))),
            }
        )

    print()
    print(
        f"Tokenizer throughput, single thread, MB = 10^6 input bytes; median over rounds "
        f"(min-max); sample = alpha {alpha}; total {elapsed:.0f} s"
    )
    head = (
        f"{'engine':<14}{'lang':<5}{'mode':<7}{'MB/s':>8}  {'min-max':<13}{'runs':>4}"
        f"{'tok/line':>9}{'B/tok':>7}{'cpu/wall':>9}{'vs SPM':>8}{'vs BP':>8}"
    )
    print(head)
    print("-" * len(head))
    for x in rows:
        print(
            f"{x['engine']:<14}{x['lang']:<5}{x['mode']:<7}{x['med']:>8.2f}  "
            f"{fmt(x['lo']) + '-' + fmt(x['hi']):<13}{x['runs']:>4}{x['tpl']:>9.2f}"
            f"{fmt(x['bpt']):>7}{x['cpw']:>9.2f}{fmt(x['vs_spm']):>8}{fmt(x['vs_bp']):>8}"
        )
    if not ours:
        print(f"ours: {ours_note}")
    busy = [x for x in rows if x["cpw"] < BUSY_CPU_PER_WALL]
    if busy:
        print(
            f"warning: cpu/wall below {BUSY_CPU_PER_WALL} for {len(busy)} of {len(rows)} rows: other "
            "processes took CPU time during the run, so those MB/s are low; rerun on a quieter machine"
        )

    print()
    print(
        "# result engine lang mode mb_per_s mb_per_s_min mb_per_s_max runs tokens "
        "tokens_per_line cpu_per_wall vs_sentencepiece vs_bytepiece"
    )
    for x in rows:
        print(
            f"result {x['engine']} {x['lang']} {x['mode']} {x['med']:.3f} {x['lo']:.3f} {x['hi']:.3f} "
            f"{x['runs']} {x['tokens']} {x['tpl']:.3f} {x['cpw']:.2f} "
            f"{fmt(x['vs_spm'], 3)} {fmt(x['vs_bp'], 3)}"
        )

    # Sanity: our deterministic output must have exactly BytePiece's token
    # count (same model, same algorithm); sampled counts must agree closely.
    print("# check name lang ours bytepiece status")
    failed_checks = 0
    for lang in langs:
        for mode in MODES:
            o = measures.get(("ours", lang, mode))
            b = measures.get(("bytepiece", lang, mode))
            if not (o and o.tokens and b and b.tokens):
                print(f"check tokens_{mode}_{'equal' if mode == 'det' else 'near'}_bytepiece {lang} - - SKIP")
                continue
            ot, bt = statistics.mean(o.tokens), statistics.mean(b.tokens)
            ok = ot == bt if mode == "det" else abs(ot - bt) <= SAMPLE_TOKENS_RTOL * bt
            failed_checks += not ok
            print(
                f"check tokens_{mode}_{'equal' if mode == 'det' else 'near'}_bytepiece {lang} "
                f"{ot:.0f} {bt:.0f} {'PASS' if ok else 'FAIL'}"
            )

    print("# target name lang ratio threshold status")
    targets = evaluate_targets(medians, langs)
    for name, lang, r, threshold, status in targets:
        print(f"target {name} {lang} {fmt(r, 3)} {threshold:g} {status}")
    # The same targets from paired per-round ratios (informational: the exit
    # status and the summary stay with the ratios of medians above).
    print("# paired name lang median_ratio q1 q3 rounds threshold status")
    runs = {j: dict(zip(m.rounds, m.mb_per_s)) for j, m in measures.items()}
    for name, lang, med, q1, q3, n, threshold, status in paired_targets(runs, langs):
        print(f"paired {name} {lang} {fmt(med, 3)} {fmt(q1, 3)} {fmt(q3, 3)} {n} {threshold:g} {status}")
    n_pass = sum(t[4] == "PASS" for t in targets)
    n_fail = sum(t[4] == "FAIL" for t in targets)
    n_skip = sum(t[4] == "SKIP" for t in targets)
    print(
        f"summary targets_pass {n_pass} targets_fail {n_fail} targets_skip {n_skip} "
        f"checks_fail {failed_checks} seconds {elapsed:.0f}"
    )
    return 1 if n_fail or failed_checks else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"compare.py: error: {e}", file=sys.stderr)
        sys.exit(2)
