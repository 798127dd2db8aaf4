"""Helpers shared by the peer-comparison scripts in tests/peers/.

Locations: the repository root (two levels above this file), the shared data
directory (``$KEXUE_SHARED`` or ``../shared`` beside the checkout, as
``kexue_tests::shared_dir`` finds it) and a cache directory outside the
repository for trained SentencePiece models (``$KEXUE_PEERS_CACHE`` or
``/tmp/kexue-peers``).
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LANGS = ("zh", "en")


def shared_dir(override=None):
    """The shared data directory, or exit with a message if it is absent."""
    candidates = [override, os.environ.get("KEXUE_SHARED"), REPO.parent / "shared"]
    for c in candidates:
        if c and Path(c, "data", "tokenizer").is_dir():
            return Path(c)
    sys.exit(
        "shared data not found: pass --shared DIR or set KEXUE_SHARED "
        "(it holds data/tokenizer/*-dev.txt and models/bytepiece.plus.40k.model)"
    )


def cache_dir(override=None):
    """The cache for trained SentencePiece models (created if missing)."""
    d = Path(override or os.environ.get("KEXUE_PEERS_CACHE") or "/tmp/kexue-peers")
    d.mkdir(parents=True, exist_ok=True)
    return d


def dev_text(shared, lang):
    """Path of the dev text for a language."""
    return Path(shared, "data", "tokenizer", f"{lang}-dev.txt")


def bytepiece_model(shared):
    """Path of the real BytePiece 40k model."""
    return Path(shared, "models", "bytepiece.plus.40k.model")


def spm_model(cache, lang):
    """Path of the SentencePiece model trained by train_spm.py for a language."""
    return Path(cache, f"spm-unigram-32k-{lang}.model")


def split_lines(data):
    """The golden contract's lines: split on b'\\n' only; a final b'\\n' does
    not start an extra line; b'\\r' stays content; empty data has no line."""
    if not data:
        return []
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return lines


def pin_single_thread():
    """Keep numeric libraries to one thread (set before importing them)."""
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "RAYON_NUM_THREADS",
    ):
        os.environ[var] = "1"
