"""Damage valid inputs at random and feed them to snncc (the large run of tests/test_malformed_fuzz.py).

    .venv/bin/python scripts/fuzz_malformed.py --count 2000 --seed 0

Every damaged input must be accepted (exit 0/1) or refused on one `snncc: error:` line (exit 2). Prints a line
every 100 inputs and a summary per kind; exits 1 on any traceback, multi-line error or temporary file left.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from snncc.cli import main  # noqa: E402
from tests.corpus.mutations import mutation, run_mutation  # noqa: E402
from tests.models import mlp  # noqa: E402


def valid_bundle(root: Path) -> Path:
    torch.save(mlp(sizes=(6, 5, 3)), root / "model.pt")
    out = root / "bundle"
    if main(["compile", str(root / "model.pt"), "-o", str(out), "-q", "--timesteps", "4", "--samples", "2"]) != 0:
        raise SystemExit("the valid bundle did not compile")
    return out


def main_() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="snncc-fuzz-malformed-"))
    tempfile.tempdir = str(root / "tmp")
    (root / "tmp").mkdir()
    bundle = valid_bundle(root)
    outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: list[str] = []
    start = time.perf_counter()
    for i, seed in enumerate(range(args.seed, args.seed + args.count)):
        work = root / f"case{seed}"
        work.mkdir()
        kind = mutation(seed)[0]
        try:
            kind, status, err = run_mutation(seed, work, bundle)
            lines = [x for x in err.splitlines() if not x.startswith(("[snncc]", "warning:"))]
            bad = status not in (0, 1, 2) or (status == 2 and (len(lines) != 1 or "Traceback" in err))
            outcomes[kind]["refused" if status == 2 else "accepted"] += 1
            if bad:
                failures.append(f"seed {seed} ({kind}): exit {status}: {err.strip()[:300]}")
        except Exception:
            outcomes[kind]["crashed"] += 1
            failures.append(f"seed {seed} ({kind}): {traceback.format_exc().strip().splitlines()[-1]}")
        if any((root / "tmp").iterdir()):
            failures.append(f"seed {seed} ({kind}): temporary files left")
            shutil.rmtree(root / "tmp")
            (root / "tmp").mkdir()
        shutil.rmtree(work, ignore_errors=True)
        if (i + 1) % 100 == 0:
            print(f"[fuzz] {i + 1}/{args.count} inputs, {len(failures)} failures, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    for kind, counts in sorted(outcomes.items()):
        print(f"{kind:<12} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for f in failures:
        print("FAIL", f)
    print(f"{args.count} damaged inputs: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main_())
