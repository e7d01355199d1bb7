"""Fuzz snncc with random valid models: compile each for every target, verify a sample bit for bit, summarize.

    .venv/bin/python scripts/fuzz.py --models 1000 --targets loihi2,loihi --verify 50 --seed 0 --jobs 2
    .venv/bin/python scripts/fuzz.py --replay 36 --targets loihi2      # one seed, in this process, traceback shown

Seeds ``seed .. seed + models - 1`` (``tests.fuzz.generate``); each (seed, target) runs in a worker process with a
timeout. A crash, a hang, a refusal that no documented limitation explains (``docs/limitations.md``), a compiled
model whose float model differs from torch, or a verified bundle whose Lava (or netx) run differs from the
reference simulator fails the run: exit status 1.
Bundles go to a temporary folder (``--keep DIR`` keeps them there).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fuzz.cases import STATUSES, compile_case  # noqa: E402
from tests.fuzz.driver import fuzz  # noqa: E402
from tests.fuzz.generate import generate  # noqa: E402
from tests.fuzz.report import summary  # noqa: E402


def replay(seed: int, targets: list[str]) -> int:
    """Run one seed in this process and print everything about it."""
    model, desc = generate(seed)
    print(desc.text())
    print(model)
    status = 0
    with tempfile.TemporaryDirectory(prefix="snncc-fuzz-replay-") as tmp:
        for target in targets:
            result = compile_case({"seed": seed, "target": target, "out": str(Path(tmp) / target)})
            print(f"\n{target}: {result['status']} ({result.get('reason')}) {result.get('error_class') or ''}")
            if result.get("message"):
                print(result["message"])
            if result.get("traceback"):
                print(result["traceback"])
            status |= result["status"] not in ("compiled", "refused")
    return int(status)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=1000, help="models (seeds) per target")
    ap.add_argument("--targets", default="loihi2,loihi")
    ap.add_argument("--verify", type=int, default=50, help="compiled bundles to verify (reference == Lava == netx)")
    ap.add_argument("--seed", type=int, default=0, help="first seed; also draws the verified sample")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per compile before it counts as hung")
    ap.add_argument("--verify-timeout", type=float, default=600.0, help="seconds per verification")
    ap.add_argument("--every", type=int, default=100, help="print a progress line every N cases")
    ap.add_argument("--json", help="write every case's result to this file")
    ap.add_argument("--keep", help="write the bundles to this folder and keep them")
    ap.add_argument("--replay", type=int, help="run this one seed in-process and print all about it")
    args = ap.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    if args.replay is not None:
        return replay(args.replay, targets)

    seen: Counter = Counter()
    start = time.perf_counter()
    total = args.models * len(targets)

    def progress(job: dict, result: dict) -> None:
        phase = "verify" if "bundle" in job else "compile"
        seen[(phase, result["status"])] += 1
        done = sum(n for (p, _), n in seen.items() if p == phase)
        if phase == "compile" and (done % args.every == 0 or done == total):
            counts = ", ".join(f"{s} {seen[('compile', s)]}" for s in STATUSES)
            print(f"[fuzz] {done}/{total} cases, {time.perf_counter() - start:.0f} s: {counts}", flush=True)
        elif phase == "verify" and (done % 10 == 0 or done == min(args.verify, total)):
            counts = ", ".join(f"{s} {n}" for (p, s), n in sorted(seen.items()) if p == "verify")
            print(f"[fuzz] verified {done}, {time.perf_counter() - start:.0f} s: {counts}", flush=True)

    run = fuzz(range(args.seed, args.seed + args.models), targets, verify=args.verify, workers=args.jobs,
               timeout=args.timeout, verify_timeout=args.verify_timeout, workdir=args.keep, progress=progress,
               sample_seed=args.seed, keep=args.keep is not None)
    print(summary(run))
    if args.json:
        Path(args.json).write_text(json.dumps({"cases": run.cases, "verified": run.verified,
                                               "seconds": run.seconds}, indent=1, default=str))
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
