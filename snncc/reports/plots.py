"""The report's PNG plots: spike rate per layer, energy per layer by component, and the energy breakdown.

Each is meant to be read at a glance: one horizontal bar per layer with the layer names on the axis (a ResNet-18
has some 80 synapse and neuron layers, so the figure grows with them), units on the axes, a logarithmic axis where
the values span more than two decades, and the figure's source (compile-time activity or a data-set run) in its
title. The plots take plain numbers; :mod:`snncc.reports.folder` derives them from the report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .render import _j as joules

DECADES_FOR_LOG = 2.0  # a log axis once the largest non-zero value is more than 10**2 times the smallest
DPI = 90


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def wants_log(values: list[float]) -> bool:
    """Whether a bar axis over ``values`` should be logarithmic: the non-zero values span over two decades."""
    positive = [v for v in values if v > 0]
    return len(positive) > 1 and math.log10(max(positive) / min(positive)) > DECADES_FOR_LOG


def _height(rows: int) -> float:
    return max(2.6, 0.26 * rows + 1.4)


def _joule_axis(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    # ticks land a rounding error below a power of ten (9.99...e-10): snap them before choosing the unit
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: joules(float(f"{x:.6g}")) if x > 0 else "0"))


def _save(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    fig.savefig(out, dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return out


def _bars(ax: Any, values: list[float], colors: Any, labels: list[str], log: bool) -> None:
    """Horizontal bars, one per row from the top, each labelled at its end; on a log axis they start at a floor
    below the smallest non-zero value, and a zero shows as its label alone."""
    positive = [v for v in values if v > 0]
    base = min(positive, default=1.0) / 4 if log else 0.0
    ax.barh(range(len(values)), [v - base if v > 0 else 0.0 for v in values], left=base, color=colors)
    for i, (v, text) in enumerate(zip(values, labels, strict=True)):
        ax.text(v if v > 0 else base, i, f" {text}", va="center", fontsize=7, color="black" if v > 0 else "tab:red")
    if log:
        ax.set_xscale("log")
    ax.set_xlim(base, max(positive, default=1.0) * (20 if log else 1.3))
    ax.set_ylim(len(values) - 0.5, -0.5)  # the first row on top, no empty margin
    ax.grid(axis="x", alpha=0.3)


def plot_activity(rates: dict[str, float], source: str, path: str | Path) -> Path:
    """Spikes per neuron per time step of every neuron layer (network order, top to bottom)."""
    plt = _pyplot()
    names, values = list(rates), list(rates.values())
    fig, ax = plt.subplots(figsize=(7.5, _height(len(names))))
    log = wants_log(values)
    _bars(ax, values, "tab:blue", [f"{v:.3g}" if v > 0 else "silent" for v in values], log)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("spike rate (spikes per neuron per time step)" + (", log scale" if log else ""))
    ax.set_title(f"Activity per layer\n{source}", fontsize=10)
    return _save(fig, path)


def plot_layer_energy(per_layer: dict[str, dict[str, float]], source: str, path: str | Path) -> Path:
    """Dynamic energy per inference of every layer: its total (left) and its split by component (right, shares)."""
    plt = _pyplot()
    names = list(per_layer)
    components = list(dict.fromkeys(c for parts in per_layer.values() for c in parts))
    totals = [sum(per_layer[n].values()) for n in names]
    fig, (ax_t, ax_s) = plt.subplots(1, 2, sharey=True, figsize=(11.0, _height(len(names))),
                                     gridspec_kw={"width_ratios": [3, 2]})
    log = wants_log(totals)
    _bars(ax_t, totals, "0.4", [joules(t) if t > 0 else "0" for t in totals], log)
    _joule_axis(ax_t)
    ax_t.set_yticks(range(len(names)), names, fontsize=8)
    ax_t.set_xlabel("dynamic energy per inference" + (" (log scale)" if log else ""))
    left = [0.0] * len(names)
    cmap = plt.get_cmap("tab10")
    for k, comp in enumerate(components):
        share = [100 * per_layer[n].get(comp, 0.0) / t if t > 0 else 0.0 for n, t in zip(names, totals, strict=True)]
        ax_s.barh(range(len(names)), share, left=left, color=cmap(k % 10), label=comp.replace("_", " "))
        left = [a + b for a, b in zip(left, share, strict=True)]
    ax_s.set_xlim(0, 100)
    ax_s.set_xlabel("share of the layer's energy (%)")
    if components:
        ax_s.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(3, len(components)),
                    frameon=False)
    ax_t.set_title(f"Energy per layer (target model)\n{source}", fontsize=10, loc="left")
    return _save(fig, path)


def plot_energy_breakdown(dynamic: dict[str, float], static: float, total: float,
                          band: tuple[float, float] | None, source: str, path: str | Path) -> Path:
    """Energy per inference by component, the static share and the total (with its low-high band if the target
    model gives one), on a log axis where they span decades: static energy is often thousands of times the rest."""
    plt = _pyplot()
    names = [k.replace("_", " ") for k in dynamic] + ["static", "total"]
    values = [*dynamic.values(), static, total]
    fig, ax = plt.subplots(figsize=(7.5, _height(len(names) + bool(band))))
    log = wants_log(values + list(band or ()))
    _bars(ax, values, ["tab:orange"] * len(dynamic) + ["0.55", "black"],
          [joules(v) if v > 0 else "0" for v in values], log)
    if band:  # a row of its own: the span from the low to the high bound
        lo, hi = band
        names.append("total band (low - high)")
        ax.barh([len(values)], [hi - lo], left=lo, color="tab:red", alpha=0.6)
        ax.text(hi, len(values), f" {joules(lo)} - {joules(hi)}", va="center", fontsize=7)
        left, right = ax.get_xlim()
        ax.set_xlim(min(left, lo / 2) if log and lo > 0 else left, max(right, hi * (20 if log else 1.3)))
        ax.set_ylim(len(names) - 0.5, -0.5)
    _joule_axis(ax)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("energy per inference" + (" (log scale)" if log else ""))
    ax.set_title(f"Energy breakdown (target model): total {joules(total)}\n{source}", fontsize=10)
    return _save(fig, path)
