"""The energy section's extra lines in the Markdown report and the terminal summary: the band of a target whose
figures give low-high bands, the SNN-paper convention's label, and NeuroBench's counts (reports written before
these keys existed print nothing extra)."""

from __future__ import annotations

from typing import Any


def joules(x: float) -> str:
    """An energy with the unit that reads best (3 significant digits)."""
    for unit, f in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(x) >= f or unit == "pJ":
            return f"{x / f:.3g} {unit}"
    return f"{x:.3g} J"


def band_text(e: dict[str, Any]) -> str:
    """", band LOW - HIGH" when the target's figures give bands (reports written before bands: nothing)."""
    band = e["target_model"].get("band")
    if not band or band["low"]["total_j"] == band["high"]["total_j"]:
        return ""
    return f", band {joules(band['low']['total_j'])} - {joules(band['high']['total_j'])}"


def band_lines(e: dict[str, Any]) -> list[str]:
    band = e["target_model"].get("band")
    if not band or band["low"]["total_j"] == band["high"]["total_j"]:
        return []
    lo, hi = band["low"], band["high"]
    return [f"Band (every figure at its low / high end, sources below): total {joules(lo['total_j'])} - "
            f"{joules(hi['total_j'])}, dynamic {joules(lo['dynamic_total_j'])} - {joules(hi['dynamic_total_j'])}, "
            f"static {joules(lo['static_j'])} - {joules(hi['static_j'])}.", ""]


def paper_label(e: dict[str, Any]) -> str:
    return e["paper_convention"].get("label", "45 nm arithmetic only")


def neurobench_lines(e: dict[str, Any]) -> list[str]:
    nb = e.get("neurobench")
    if not nb:
        return []
    mem = "not measured" if nb["MembraneUpdates"] is None else f"{nb['MembraneUpdates']:.0f}"
    return [f"NeuroBench counts ({nb['convention']}): Effective_ACs {nb['Effective_ACs']:.0f}, Effective_MACs "
            f"{nb['Effective_MACs']:.0f}, Dense {nb['Dense']:.0f}, MembraneUpdates {mem}.", ""]
