#!/usr/bin/env python3
"""Train the SentencePiece peers: one 32k Unigram model per language on the
dev text (data/tokenizer/{zh,en}-dev.txt), with the options RECIPES.md states:

    spm.SentencePieceTrainer.train(input=..., model_prefix=..., vocab_size=32000,
        model_type='unigram', character_coverage=0.9995, byte_fallback=True)

The models go to a cache outside the repository (default /tmp/kexue-peers, or
$KEXUE_PEERS_CACHE / --cache); they are never committed. A model is retrained
only if it is missing or was made from a different text, options or
SentencePiece version (recorded in a .json beside it), so this is idempotent.

English needs one deviation: 1.6 MB of English text does not hold 32,000
distinct seed pieces (pieces do not cross spaces), and the trainer stops with
"Vocabulary size too high (32000). Please set it to a value <= 11288". Then
the model is trained again with hard_vocab_limit=False (32000 becomes a soft
limit) and gets the largest vocabulary the text supports; the .json records
the options used and the vocabulary size reached.

    /tmp/kexue-peers-venv/bin/python tests/peers/train_spm.py [--lang zh|en|all]
"""

import argparse
import hashlib
import json
import sys
import time

import peerlib

OPTIONS = {
    "vocab_size": 32000,
    "model_type": "unigram",
    "character_coverage": 0.9995,
    "byte_fallback": True,
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def train(spm, shared, cache, lang, threads, force):
    text = peerlib.dev_text(shared, lang)
    model = peerlib.spm_model(cache, lang)
    stamp = model.with_suffix(".json")
    want = {
        "input_sha256": sha256(text),
        "options": OPTIONS,
        "sentencepiece": spm.__version__,
    }
    if not force and model.is_file() and stamp.is_file():
        have = json.loads(stamp.read_text())
        if {k: have.get(k) for k in want} == want:
            print(f"{lang}: up to date: {model}", file=sys.stderr)
            return model
    print(f"{lang}: training on {text} ({text.stat().st_size} bytes) ...", file=sys.stderr)
    start = time.perf_counter()
    extra = {}
    for attempt in range(2):
        try:
            spm.SentencePieceTrainer.train(
                input=str(text),
                model_prefix=str(model.with_suffix("")),
                num_threads=threads,
                minloglevel=2,
                **OPTIONS,
                **extra,
            )
            break
        except RuntimeError as e:
            if attempt > 0 or "Vocabulary size too high" not in str(e):
                raise
            print(f"{lang}: {e}; retrying with hard_vocab_limit=False", file=sys.stderr)
            extra = {"hard_vocab_limit": False}
    seconds = time.perf_counter() - start
    sp = spm.SentencePieceProcessor(model_file=str(model))
    record = dict(
        want,
        input=str(text),
        extra_options=extra,
        vocab_size=sp.get_piece_size(),
        train_seconds=round(seconds, 1),
    )
    stamp.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{lang}: trained in {seconds:.1f} s: {model} (vocab {sp.get_piece_size()})", file=sys.stderr)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", choices=[*peerlib.LANGS, "all"], default="all")
    ap.add_argument("--shared", help="shared data dir (default: $KEXUE_SHARED or ../shared)")
    ap.add_argument("--cache", help="model cache (default: $KEXUE_PEERS_CACHE or /tmp/kexue-peers)")
    ap.add_argument("--threads", type=int, default=1, help="trainer threads (default 1: shared machine)")
    ap.add_argument("--force", action="store_true", help="retrain even if up to date")
    args = ap.parse_args()

    import sentencepiece as spm

    shared = peerlib.shared_dir(args.shared)
    cache = peerlib.cache_dir(args.cache)
    langs = peerlib.LANGS if args.lang == "all" else (args.lang,)
    for lang in langs:
        print(train(spm, shared, cache, lang, args.threads, args.force))


if __name__ == "__main__":
    main()
