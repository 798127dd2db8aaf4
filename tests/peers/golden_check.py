#!/usr/bin/env python3
"""Make golden tokenisations with the reference BytePiece, and check that it
reproduces the shared goldens (documenting how every golden file is made).

The golden contract (data/README.md of the shared data): the output has one
line per unit, each ending in b"\\n"; a line holds each token's bytes as
lowercase hex, tokens separated by one space; an empty unit gives an empty
line. The modes say what a unit is and how it is tokenised:

  strip  each line (split on b"\\n" only; a final b"\\n" does not start a line;
         b"\\r" is content) without its b"\\n", NFC-normalised, one chunk
  keep   each line *with* its b"\\n" (the last may have none), NFC, one chunk
  chunk  BytePiece's own whole-document behaviour: NFC, then the chunks of
         the regex `.*\\n+|.+` (a run of newlines sticks to the line before)
  raw    each line's raw bytes (no UTF-8 decoding, no NFC), as in strip

    python tests/peers/golden_check.py check            # every shared golden
    python tests/peers/golden_check.py gen --mode strip INPUT [-o OUT.hex]

`gen` is how a golden file committed in the repository is regenerated from its
input; `check` exits 1 if the reference no longer reproduces a shared golden.
"""

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

import peerlib

MODES = ("strip", "keep", "chunk", "raw")

# (input, mode, golden), relative to data/tokenizer/ of the shared data.
SHARED_GOLDENS = (
    ("edge_cases.txt", "strip", "golden/edge_cases.strip.hex"),
    ("edge_cases.txt", "keep", "golden/edge_cases.keep.hex"),
    ("edge_cases.txt", "chunk", "golden/edge_cases.chunk.hex"),
    ("edge_cases_invalid.bin", "raw", "golden/edge_cases_invalid.raw.hex"),
    ("zh-dev.txt", "strip", "zh-dev.golden.hex"),
    ("en-dev.txt", "strip", "en-dev.golden.hex"),
)


def nfc(b):
    """NFC of UTF-8 bytes (strict: a golden in a text mode needs valid UTF-8)."""
    return unicodedata.normalize("NFC", b.decode("utf-8")).encode("utf-8")


def units(data, mode):
    """The byte strings tokenised one by one, before normalisation."""
    if mode in ("strip", "raw"):
        return peerlib.split_lines(data)
    if mode == "keep":
        return re.findall(rb"[^\n]*\n|[^\n]+", data)
    raise ValueError(mode)


def tokenize(tok, data, mode):
    """Token lists (lists of bytes), one per output line, from the reference."""
    if mode == "chunk":
        import bytepiece

        return [tok._tokenize(c) for c in bytepiece.normalize(data.decode("utf-8"))]
    out = []
    for u in units(data, mode):
        b = u if mode == "raw" else nfc(u)
        out.append(tok._tokenize(b) if b else [])
    return out


def to_hex(token_lines):
    """The golden file's bytes."""
    return "".join(" ".join(t.hex() for t in line) + "\n" for line in token_lines).encode("ascii")


def load_tokenizer(model, seed=None):
    """The reference tokenizer for a BytePiece .model file."""
    import bytepiece

    with open(model, encoding="utf-8") as f:
        return bytepiece.Tokenizer(json.load(f), seed=seed)


def first_difference(a, b):
    """(line number, ours, theirs) of the first differing line, 1-based."""
    la, lb = a.decode().split("\n"), b.decode().split("\n")
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return i + 1, x, y
    return min(len(la), len(lb)) + 1, "", ""


def cmd_check(args):
    shared = peerlib.shared_dir(args.shared)
    tok = load_tokenizer(peerlib.bytepiece_model(shared))
    base = Path(shared, "data", "tokenizer")
    failures = 0
    print("# golden input mode lines status")
    for inp, mode, golden in SHARED_GOLDENS:
        made = to_hex(tokenize(tok, (base / inp).read_bytes(), mode))
        want = (base / golden).read_bytes()
        ok = made == want
        failures += not ok
        lines = made.count(b"\n")
        print(f"golden {golden} {inp} {mode} {lines} {'PASS' if ok else 'FAIL'}")
        if not ok:
            n, x, y = first_difference(made, want)
            print(f"  first difference at line {n}:\n  made   {x[:160]}\n  golden {y[:160]}", file=sys.stderr)
    return 1 if failures else 0


def cmd_gen(args):
    shared = peerlib.shared_dir(args.shared) if not args.model else None
    model = args.model or peerlib.bytepiece_model(shared)
    tok = load_tokenizer(model)
    made = to_hex(tokenize(tok, Path(args.input).read_bytes(), args.mode))
    if args.output:
        Path(args.output).write_bytes(made)
    else:
        sys.stdout.buffer.write(made)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", help="shared data dir (default: $KEXUE_SHARED or ../shared)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="regenerate every shared golden in memory and compare")
    g = sub.add_parser("gen", help="write the golden tokenisation of INPUT")
    g.add_argument("--mode", choices=MODES, default="strip")
    g.add_argument("--model", help="BytePiece model (default: the shared 40k model)")
    g.add_argument("-o", "--output", help="output file (default: stdout)")
    g.add_argument("input")
    args = ap.parse_args()
    return cmd_check(args) if args.cmd == "check" else cmd_gen(args)


if __name__ == "__main__":
    sys.exit(main())
