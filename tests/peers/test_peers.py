"""Self-tests of the peer-comparison scripts (stdlib unittest; CI never runs
them). The parts that need the peers or the shared data skip without them.

    /tmp/kexue-peers-venv/bin/python -m unittest discover -s tests/peers -v
"""

import importlib.util
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peerlib

HAVE_PEERS = all(importlib.util.find_spec(m) for m in ("bytepiece", "sentencepiece", "ahocorasick"))
SHARED = next(
    (
        Path(c)
        for c in (os.environ.get("KEXUE_SHARED"), peerlib.REPO.parent / "shared")
        if c and Path(c, "data", "tokenizer").is_dir()
    ),
    None,
)

if HAVE_PEERS:
    import compare
else:
    compare = None


class SplitLines(unittest.TestCase):
    def test_golden_contract(self):
        s = peerlib.split_lines
        self.assertEqual(s(b""), [])
        self.assertEqual(s(b"\n"), [b""])
        self.assertEqual(s(b"a\nb"), [b"a", b"b"])
        self.assertEqual(s(b"a\nb\n"), [b"a", b"b"])
        self.assertEqual(s(b"a\r\n\n\nb"), [b"a\r", b"", b"", b"b"])
        self.assertEqual(s("x\u2028y\x85z\n".encode()), ["x\u2028y\x85z".encode()])


@unittest.skipUnless(compare, "peers not installed (tests/peers/setup.sh)")
class CompareLogic(unittest.TestCase):
    def test_parse_our_bench_reads_the_last_line_only(self):
        p = compare.parse_our_bench
        self.assertEqual(p("warm-up\nmb_per_s 123.5 tokens 456\n"), (123.5, 456))
        self.assertEqual(p("mb_per_s 1e2 tokens 7\n\n"), (100.0, 7))
        self.assertIsNone(p("mb_per_s 1 tokens 2\nsomething else\n"))
        self.assertIsNone(p("mb_per_s x tokens 2"))
        self.assertIsNone(p("tokens 2 mb_per_s 1"))
        self.assertIsNone(p(""))

    def test_spread_rounds(self):
        r = compare.spread_rounds
        self.assertEqual(r(5, 3), {0, 2, 4})
        self.assertEqual(r(5, 1), {2})
        self.assertEqual(r(5, 0), set())
        self.assertEqual(r(3, 9), {0, 1, 2})
        self.assertEqual(r(7, 2), {0, 6})

    def test_targets_pass_fail_skip(self):
        med = {
            ("ours", "zh", "det"): 300.0,
            ("ours", "zh", "sample"): 225.0,
            ("sentencepiece", "zh", "det"): 100.0,
            ("sentencepiece", "zh", "sample"): 22.6,
            ("bytepiece", "zh", "det"): 15.1,
        }
        got = {
            (n, l): (round(r, 4) if r is not None else None, s)
            for n, l, r, _, s in compare.evaluate_targets(med, ["zh", "en"])
        }
        self.assertEqual(got[("ours_det_vs_spm_det", "zh")], (3.0, "PASS"))  # exactly the threshold
        self.assertEqual(got[("ours_det_vs_bytepiece_det", "zh")][1], "FAIL")  # 19.87 < 20
        self.assertEqual(got[("ours_sample_vs_ours_det", "zh")], (0.75, "PASS"))
        self.assertEqual(got[("ours_sample_vs_spm_sample", "zh")][1], "FAIL")  # 9.96 < 10
        self.assertEqual(got[("ours_det_vs_spm_det", "en")], (None, "SKIP"))

    def test_paired_targets_use_same_round_ratios(self):
        # Phases: round 1 is twice as fast for everyone; the ratio of medians
        # would mix phases, the paired ratios do not.
        runs = {
            ("ours", "zh", "det"): {0: 30.0, 1: 60.0, 2: 31.0},
            ("sentencepiece", "zh", "det"): {0: 10.0, 1: 20.0, 2: 10.0},
            ("bytepiece", "zh", "det"): {1: 2.0},  # measured in one round only
            ("ours", "zh", "sample"): {0: 21.0, 1: 45.0},
        }
        got = {(t[0], t[1]): t for t in compare.paired_targets(runs, ["zh"])}
        name, lang, med, q1, q3, n, threshold, status = got[("ours_det_vs_spm_det", "zh")]
        self.assertEqual((round(med, 4), n, status), (3.0, 3, "PASS"))
        self.assertEqual((round(q1, 4), round(q3, 4)), (3.0, 3.05))
        self.assertEqual(got[("ours_det_vs_bytepiece_det", "zh")][2:6], (30.0, 30.0, 30.0, 1))
        # sample/det paired over rounds 0 and 1 only: 0.70 and 0.75.
        self.assertEqual(round(got[("ours_sample_vs_ours_det", "zh")][2], 4), 0.725)
        self.assertEqual(got[("ours_sample_vs_ours_det", "zh")][7], "FAIL")
        self.assertEqual(got[("ours_sample_vs_spm_sample", "zh")][7], "SKIP")


@unittest.skipUnless(compare, "peers not installed (tests/peers/setup.sh)")
class BytePieceGuard(unittest.TestCase):
    def test_runaway_allocation_becomes_an_error_and_the_limit_is_restored(self):
        import resource

        status = Path("/proc/self/status").read_text().splitlines()
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
        before = resource.getrlimit(resource.RLIMIT_AS)
        # 1 GiB of untouched (calloc'd) memory: over a cap 256 MiB above the
        # current size, fine without it.

        def grow():
            return bytearray(1 << 30)

        with self.assertRaises(compare.BytePieceSampleHang):
            compare.guarded_bytepiece_sample(grow, 60, as_limit=vm + (256 << 20))
        self.assertEqual(resource.getrlimit(resource.RLIMIT_AS), before)
        self.assertEqual(len(compare.guarded_bytepiece_sample(grow, 60, as_limit=vm + (4 << 30))), 1 << 30)


def fake_binary(directory, body):
    path = Path(directory, "kexue-lab")
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@unittest.skipUnless(compare, "peers not installed (tests/peers/setup.sh)")
class OursEngine(unittest.TestCase):
    def test_missing_binary_and_missing_subcommand_are_skipped_with_a_reason(self):
        with tempfile.TemporaryDirectory() as d:
            ok, why = compare.OursEngine(Path(d, "nope"), "m", 10).available()
            self.assertFalse(ok)
            self.assertIn("no binary", why)
            b = fake_binary(d, "echo \"error: unexpected argument 'tokenize' found\" >&2; exit 2\n")
            ok, why = compare.OursEngine(b, "m", 10).available()
            self.assertFalse(ok)
            self.assertIn("unexpected argument", why)

    def test_runs_the_bench_with_the_issue_arguments(self):
        with tempfile.TemporaryDirectory() as d:
            log = Path(d, "args")
            b = fake_binary(d, f'echo "$@" >> {log}\necho noise\necho "mb_per_s 250.5 tokens 1093574"\n')
            e = compare.OursEngine(b, "M.model", 10)
            self.assertEqual(e.available(), (True, ""))
            self.assertEqual(e.run("F.txt", None)[:2], (250.5, 1093574))
            self.assertEqual(e.run("F.txt", 0.1)[:2], (250.5, 1093574))
            calls = log.read_text().splitlines()
            self.assertEqual(calls[1], "bench tokenize --model M.model --input F.txt")
            self.assertEqual(calls[2], "bench tokenize --model M.model --input F.txt --alpha 0.1")

    def test_a_malformed_or_failing_bench_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            b = fake_binary(d, 'echo "mb_per_s 1 tokens 2"; echo trailing\n')
            with self.assertRaises(RuntimeError):
                compare.OursEngine(b, "m", 10).run("f", None)
            b = fake_binary(d, "echo boom >&2; exit 3\n")
            with self.assertRaises(RuntimeError):
                compare.OursEngine(b, "m", 10).run("f", None)


@unittest.skipUnless(HAVE_PEERS and SHARED, "needs the peers and the shared data")
class Goldens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import golden_check

        cls.g = golden_check
        cls.tok = golden_check.load_tokenizer(peerlib.bytepiece_model(SHARED))
        cls.base = Path(SHARED, "data", "tokenizer")

    def test_reference_reproduces_the_edge_case_goldens_and_modes_differ(self):
        g, base = self.g, self.base
        made = {}
        for inp, mode, golden in g.SHARED_GOLDENS[:4]:
            made[mode] = g.to_hex(g.tokenize(self.tok, (base / inp).read_bytes(), mode))
            self.assertEqual(made[mode], (base / golden).read_bytes(), golden)
        # a test that can fail: the modes give different files on the same input
        self.assertNotEqual(made["strip"], made["keep"])
        self.assertNotEqual(made["keep"], made["chunk"])

    def test_ties_follow_the_reference_rule(self):
        # data/README.md: on an exact tie the longer last piece wins
        self.assertEqual(self.tok._tokenize(b"\\\\\\"), [b"\\", b"\\\\"])
        self.assertEqual(self.tok._tokenize(b"-" * 14), [b"--", b"------", b"------"])

    def test_gen_cli_writes_the_golden(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d, "out.hex")
            subprocess.run(
                [
                    sys.executable,
                    str(HERE / "golden_check.py"),
                    "--shared",
                    str(SHARED),
                    "gen",
                    "--mode",
                    "raw",
                    str(self.base / "edge_cases_invalid.bin"),
                    "-o",
                    str(out),
                ],
                check=True,
            )
            self.assertEqual(out.read_bytes(), (self.base / "golden/edge_cases_invalid.raw.hex").read_bytes())


if __name__ == "__main__":
    unittest.main()
