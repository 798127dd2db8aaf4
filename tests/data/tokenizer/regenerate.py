#!/usr/bin/env python3
"""Regenerate the committed golden file(s) with the reference BytePiece.

Usage (from the repository root, with the reference installed as in
../shared/RECIPES.md: bytepiece 0.6.3 over a bytes-mode pyahocorasick 2.3.1):

    python3 tests/data/tokenizer/regenerate.py ../shared/models/bytepiece.plus.40k.model

Writes tests/data/tokenizer/sample.strip.hex from sample.txt under the golden
contract of ../shared/data/README.md (mode `strip`): split on b"\\n" only, NFC
each line, tokenise it deterministically as one chunk, hex tokens joined by
one space, one output line per input line. The edge-case goldens beside it
are copies of ../shared/data/tokenizer/golden (same reference, same contract).
"""
import os
import sys
import unicodedata

import bytepiece

here = os.path.dirname(os.path.abspath(__file__))
tok = bytepiece.Tokenizer(sys.argv[1])
data = open(os.path.join(here, "sample.txt"), "rb").read()
lines = data.split(b"\n")
if data.endswith(b"\n"):
    lines.pop()
with open(os.path.join(here, "sample.strip.hex"), "w") as out:
    for line in lines:
        text = unicodedata.normalize("NFC", line.decode("utf-8")).encode("utf-8")
        tokens = tok._tokenize(text, -1) if text else []
        out.write(" ".join(t.hex() for t in tokens) + "\n")
print("wrote sample.strip.hex:", len(lines), "lines")
