#!/usr/bin/env bash
# Install the Python peers (SentencePiece, BytePiece) into a venv, for
# tests/peers/*.py. Idempotent: a venv that already imports both peers, with
# the *bytes* build of pyahocorasick, is left alone. CI never runs this.
#
#   bash tests/peers/setup.sh            # venv in $KEXUE_PEERS_VENV or /tmp/kexue-peers-venv
#   bash tests/peers/setup.sh --force    # reinstall the packages
#
# Then run the scripts with "$VENV/bin/python".
set -euo pipefail

VENV="${KEXUE_PEERS_VENV:-/tmp/kexue-peers-venv}"
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

PY="$VENV/bin/python"

# The check that everything is in place: both peers import, pyahocorasick is
# the bytes build (ahocorasick.unicode == 0), and BytePiece can build a
# tokenizer from bytes pieces (the step that fails with the unicode build).
check() {
    "$PY" - <<'PYEOF' 2>/dev/null
import ahocorasick, sentencepiece, bytepiece
assert not ahocorasick.unicode, "pyahocorasick is the unicode build"
assert sentencepiece.__version__ == "0.2.3", sentencepiece.__version__
a = ahocorasick.Automaton()
a.add_word(b"ab", 1)
a.make_automaton()
PYEOF
}

if [ ! -x "$PY" ]; then
    echo "creating venv $VENV" >&2
    python3 -m venv "$VENV"
fi

if [ "$FORCE" = 0 ] && check; then
    echo "peers already installed in $VENV" >&2
    exit 0
fi

PIP=("$PY" -m pip install -q --disable-pip-version-check)
# setuptools + wheel: a fresh venv may lack them, and the two source builds
# below (--no-build-isolation) need them.
"${PIP[@]}" setuptools wheel Cython numpy scipy sentencepiece==0.2.3
# bytepiece needs the *bytes* build of pyahocorasick: the PyPI wheel is the
# unicode build, and bytepiece.Tokenizer() then fails with
# "TypeError: string expected". Build it from source with AHOCORASICK_BYTES=1.
"$PY" -m pip uninstall -y -q pyahocorasick >/dev/null 2>&1 || true
AHOCORASICK_BYTES=1 "${PIP[@]}" --no-binary pyahocorasick --no-cache-dir pyahocorasick==2.3.1
# bytepiece compiles a Cython extension and must see the venv's Cython.
"${PIP[@]}" --no-build-isolation bytepiece==0.6.3

if ! check; then
    echo "setup.sh: the peers do not import correctly in $VENV" >&2
    exit 1
fi
echo "peers installed in $VENV: run tests/peers/*.py with $PY" >&2
