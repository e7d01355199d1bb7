"""The layer-by-layer fidelity report (``snncc verify --fidelity``): where quantization loses accuracy.

One row per neuron layer, in network order: float vs integer firing rates, spike agreement, the neurons that
quantization silenced or left always on, the membrane error in threshold units and saturated states (from
:func:`snncc.fidelity.compare_float_int` with recorded states), and the weights the quantizer clipped or rounded to
zero (from the compile report). A PNG shows the agreement per layer, the layers below the warning line in red.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fidelity import LOW_AGREEMENT

COLUMNS = ("layer", "float rate", "int rate", "agreement", "silenced", "always on", "v error (theta)", "saturated",
           "w clipped", "w zeroed")


def fidelity_rows(fid: dict[str, Any], quantization: dict[str, Any] | None = None) -> list[list[str]]:
    """The table's cells per layer; ``quantization`` is the compile report's per-layer quantize notes."""
    rows = []
    for name, lay in fid["layers"].items():
        q = (quantization or {}).get(name, {})
        v_err = lay.get("v_rms_error_theta")
        rows.append([name, f"{lay['float_rate']:.4f}", f"{lay['int_rate']:.4f}", f"{100 * lay['agreement']:.1f}%",
                     f"{lay.get('silenced_neurons', 0)}/{lay.get('float_active_neurons', 0)}",
                     str(lay.get("always_on_neurons", 0)), "-" if v_err is None else f"{v_err:.3f}",
                     str(lay.get("saturated_states", "-")), str(q.get("weight_clipped", "-")),
                     str(q.get("weight_zeroed", "-"))])
    return rows


def render_fidelity(fid: dict[str, Any], quantization: dict[str, Any] | None = None) -> str:
    """The report as a Markdown table under the output agreement (the warnings are printed with the verdict)."""
    lines = [f"output agreement (same predicted class): {100 * fid['output_agreement']:.1f}%", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in fidelity_rows(fid, quantization)]
    return "\n".join(lines)


def plot_fidelity(fid: dict[str, Any], path: str | Path) -> Path:
    """Per-layer spike agreement (bars; red below the warning line) and firing rates, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(fid["layers"])
    agree = [100 * fid["layers"][n]["agreement"] for n in names]
    fig, (ax_a, ax_r) = plt.subplots(2, 1, figsize=(max(6.0, 0.6 * len(names) + 2), 6), sharex=True)
    ax_a.bar(names, agree, color=["tab:red" if a < 100 * LOW_AGREEMENT else "tab:blue" for a in agree])
    ax_a.axhline(100 * LOW_AGREEMENT, color="tab:red", linestyle="--", linewidth=1)
    ax_a.set_ylabel("spike agreement (%)")
    ax_a.set_ylim(min(50.0, min(agree, default=100.0) - 5), 100.5)
    ax_a.set_title(f"float vs integer, per layer (output agreement {100 * fid['output_agreement']:.1f}%)")
    x = range(len(names))
    ax_r.bar([i - 0.2 for i in x], [fid["layers"][n]["float_rate"] for n in names], width=0.4, label="float")
    ax_r.bar([i + 0.2 for i in x], [fid["layers"][n]["int_rate"] for n in names], width=0.4, label="integer")
    ax_r.set_ylabel("firing rate")
    ax_r.legend()
    ax_r.set_xticks(list(x), names, rotation=45, ha="right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
