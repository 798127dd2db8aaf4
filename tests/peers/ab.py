#!/usr/bin/env python3
"""Paired A/B timing of kexue-lab builds on this noisy shared machine.

    python3 tests/peers/ab.py --input FILE [--alpha A] [--rounds 16] BASE OTHER...

Each BINARY is a `kexue-lab` (or a script that runs one). Every round runs
`BINARY bench tokenize --model M --input FILE --alpha A --reps 3` once per
binary, back to back, in alternating order; the figure for OTHER is the median
over rounds of the per-round ratio OTHER / BASE, with its interquartile range.
The machine drifts between speed phases about 1.5x apart within seconds, so
ratios taken inside one round are steadier than medians of separate runs. An
A/A check (the same binary twice, 16 rounds) gave ratio medians of 0.98 and
1.02 with interquartile ranges of about ±10 %: trust a difference of a few
percent only if it repeats.
Python standard library only; CI never runs it.
"""

import argparse
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(binary, model, text, alpha):
    cmd = [binary, "bench", "tokenize", "--model", str(model), "--input", str(text), "--alpha", repr(alpha), "--reps", "3"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    return float(out[out.index("mb_per_s") + 1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--model", type=Path, default=ROOT / "tests/data/tokenizer/bytepiece.plus.40k.kxb")
    p.add_argument("--alpha", type=float, default=0.0)
    p.add_argument("--rounds", type=int, default=16)
    p.add_argument("binaries", nargs="+")
    a = p.parse_args()
    speeds = {b: [] for b in a.binaries}
    ratios = {b: [] for b in a.binaries}
    for r in range(a.rounds):
        order = a.binaries if r % 2 == 0 else a.binaries[::-1]
        got = {b: run(b, a.model, a.input, a.alpha) for b in order}
        for b in a.binaries:
            speeds[b].append(got[b])
            ratios[b].append(got[b] / got[a.binaries[0]])
    for b in a.binaries:
        q = sorted(ratios[b])
        n = len(q)
        print(f"{b}: median {statistics.median(speeds[b]):.2f} MB/s, ratio to the first {statistics.median(q):.3f} (IQR {q[n // 4]:.3f}-{q[3 * n // 4]:.3f})")


if __name__ == "__main__":
    main()
