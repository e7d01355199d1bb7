"""The summary of a fuzz run: outcomes per target and per family, refusals grouped by reason, every failure with
what reproduces it."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from tests.fuzz.cases import FAILURES, REFUSED, STATUSES
from tests.fuzz.driver import FuzzRun


def _shape(message: str | None) -> str:
    """A message with its layer names and numbers blanked, so that one cause groups as one line."""
    text = re.sub(r"'[A-Za-z0-9_.]+'", "'_'", message or "")
    text = re.sub(r"\(\d+(, \d+)*,?\)", "(...)", text)
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", text)[:220]


def counts_line(cases: list[dict[str, Any]]) -> str:
    c = Counter(x["status"] for x in cases)
    return ", ".join(f"{s} {c[s]}" for s in STATUSES)


def replay_command(case: dict[str, Any]) -> str:
    return f".venv/bin/python scripts/fuzz.py --replay {case['job']['seed']} --targets {case['job']['target']}"


def summary(run: FuzzRun) -> str:
    """The whole summary, as printed at the end of ``scripts/fuzz.py``."""
    lines = [f"fuzz: {len(run.cases)} cases in {run.seconds:.1f} s"]
    by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in run.cases:
        by_target[c["job"]["target"]].append(c)
    for target, cases in by_target.items():
        lines.append(f"  {target}: {len(cases)} models: {counts_line(cases)}")
    lines.append("refusals by documented limitation, per target:")
    reasons: dict[str, Counter] = defaultdict(Counter)
    for c in run.cases:
        if c["status"] == REFUSED:
            reasons[c["reason"]][c["job"]["target"]] += 1
    for reason, per in sorted(reasons.items(), key=lambda kv: -sum(kv[1].values())):
        lines.append(f"  {reason:<36} " + ", ".join(f"{t} {n}" for t, n in sorted(per.items())))
    lines.append("per family (models holding a layer of it): " + ", ".join(STATUSES))
    families: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in run.cases:
        for fam in c.get("description", {}).get("families", []):
            families[fam].append(c)
    for fam, cases in sorted(families.items()):
        c = Counter(x["status"] for x in cases)
        lines.append(f"  {fam:<12} " + " ".join(f"{c[s]:>5}" for s in STATUSES))
    lines.append("per feature (compiled / cases): " + ", ".join(
        f"{tag} {sum(c['status'] == 'compiled' for c in cs)}/{len(cs)}" for tag, cs in sorted(_by_tag(run).items())))
    v = Counter(x["status"] for x in run.verified)
    lines.append(f"verified: {len(run.verified)} bundles: " + ", ".join(f"{k} {n}" for k, n in sorted(v.items()))
                 + (" (reference == Lava, == netx where written, bit for bit)" if run.verified else ""))
    compared = Counter(name for x in run.verified for name, ok in x.get("compared", {}).items() if ok)
    if compared:
        lines.append("  bit-exact comparisons: " + ", ".join(f"{k} {n}" for k, n in sorted(compared.items())))
    lines += failures(run)
    lines.append("PASS" if run.passed else f"FAIL: {len(run.failures)} failing cases")
    return "\n".join(lines)


def _by_tag(run: FuzzRun) -> dict[str, list[dict[str, Any]]]:
    tags = ("graded-input", "binary-input", "kind-conv", "kind-dense", "pool", "batchnorm", "residual-sew",
            "residual-current", "reset-zero", "reset-subtract", "wide-fan-in", "single-neuron", "tiny-weights",
            "huge-weights")
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in run.cases:
        for t in c.get("description", {}).get("tags", []):
            if t in tags:
                out[t].append(c)
    return out


def failures(run: FuzzRun) -> list[str]:
    """Every failure, grouped by outcome and message shape, with the seeds and a command that reproduces it."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in run.cases:
        if c["status"] in FAILURES:
            groups[(c["status"], f"{c.get('error_class') or ''}: {_shape(c.get('message'))}")].append(c)
    lines = []
    if groups:
        lines.append("FAILURES (crash, hang, undocumented refusal, torch != float model):")
    for (status, shape), cases in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        first = cases[0]
        lines.append(f"  [{status}] x{len(cases)} {shape}")
        lines.append("    seeds: " + " ".join(f"{c['job']['seed']}/{c['job']['target']}" for c in cases[:12])
                     + (" ..." if len(cases) > 12 else ""))
        lines.append(f"    first: {first.get('description', {}).get('text', '')}")
        lines.append(f"    message: {first.get('message')}")
        if first.get("traceback"):
            tail = [ln for ln in first["traceback"].strip().splitlines() if ln.strip()][-4:]
            lines += ["    " + ln for ln in tail]
        lines.append(f"    reproduce: {replay_command(first)}")
    bad = [x for x in run.verified if x["status"] != "bit-exact"]
    if bad:
        lines.append("VERIFICATION FAILURES:")
    for x in bad:
        lines.append(f"  seed {x['job']['seed']} {x['job']['target']}: {x['status']}: {x.get('message')}")
    return lines
