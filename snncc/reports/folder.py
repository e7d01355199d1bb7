"""The report folder ``snncc report`` writes: report.json, report.md and the PNG plots, from a bundle's compile
report, or with a data-set run's activity and energy in place of the compile's (``--run``).

report.json is the compile report with the energy used (the run's, when given) and a ``snncc_report`` section:
where the activity and energy come from, the spike rate per layer, the dynamic energy per layer and component,
and the plots' file names. That section also marks the folder as snncc's, so that writing the report again may
replace it, while a folder holding anything else is refused and left as it is.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..errors import OptionError, SnnccError
from ..outputs import check_writable, replace_folder
from .core_map import CORE_MAP_FILE, plot_core_map
from .plots import plot_activity, plot_energy_breakdown, plot_layer_energy
from .render import _j as joules
from .render import render_markdown, render_summary

FORMAT = 1
PLOTS = {"activity": "activity.png", "layer_energy": "layer_energy.png", "energy_breakdown": "energy_breakdown.png",
         "core_map": CORE_MAP_FILE}
REPORT_FILES = {"report.json", "report.md", *PLOTS.values()}


def layer_rates(report: dict[str, Any], run: dict[str, Any] | None = None) -> dict[str, float]:
    """Spikes per neuron per time step of every neuron layer: the run's own ``layers`` rates when it gives some,
    else the energy section's spikes per inference over the layer's neurons times the time steps."""
    given = {name: float(lay["rate"]) for name, lay in ((run or {}).get("layers") or {}).items() if "rate" in lay}
    if given:
        return given
    neurons, steps = report["resources"]["layers"], report["timesteps"]
    return {name: lay["spikes"] / (neurons[name]["neurons"] * steps)
            for name, lay in report["energy"]["layers"].items() if "spikes" in lay and name in neurons}


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def layer_energy(energy: dict[str, Any]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Each dynamic component of the target model (``target_model.dynamic_j``) shared out over the layers in
    proportion to the layer count of the same name (``spike_messages`` -> ``messages``: the ``spike_`` prefix
    dropped), which is exact for a model of energy = count x constant; and the components no layer count matches,
    with their energy. Per layer only the components it has, in the breakdown's order."""
    layers = energy["layers"]
    out: dict[str, dict[str, float]] = {name: {} for name in layers}
    rest: dict[str, float] = {}
    for comp, j in energy["target_model"]["dynamic_j"].items():
        if not _number(j):
            continue
        key = next((k for k in (comp, comp.removeprefix("spike_"))
                    if any(_number(lay.get(k)) for lay in layers.values())), None)
        counts = {n: float(lay[key]) for n, lay in layers.items() if key and _number(lay.get(key))}
        total = sum(counts.values())
        if total <= 0:
            if j:
                rest[comp] = float(j)
            continue
        for name, c in counts.items():
            if c:
                out[name][comp] = j * c / total
    return out, rest


def band(target_model: dict[str, Any]) -> tuple[float, float] | None:
    """The total energy's low-high band, when the target model gives one (``band``: ``[low, high]``, or an object
    whose keys starting with ``low``/``high`` hold a number or an object with ``total_j``)."""
    b = target_model.get("band")
    if isinstance(b, (list, tuple)) and len(b) == 2 and all(map(_number, b)):
        return float(b[0]), float(b[1])
    if not isinstance(b, dict):
        return None

    def bound(side: str) -> float | None:
        for key, v in b.items():
            if key.startswith(side):
                v = v.get("total_j") if isinstance(v, dict) else v
                if _number(v):
                    return float(v)
        return None

    lo, hi = bound("low"), bound("high")
    return (lo, hi) if lo is not None and hi is not None else None


def report_data(compiled: dict[str, Any], bundle: str | Path, run: dict[str, Any] | None = None,
                run_file: str | Path | None = None) -> dict[str, Any]:
    """report.json's content: the compile report ``compiled`` with the run's energy in place of the compile's
    when a run summary is given (:func:`snncc.reports.run_summary.load_run`), and the ``snncc_report`` section."""
    data = copy.deepcopy(compiled)
    if run is not None:
        data["energy"] = copy.deepcopy(run["energy"])
        data["activity_inputs"] = "data-set"
        source = {"kind": "run", "file": str(run_file), "samples": run["samples"], "accuracy": run.get("accuracy")}
    else:
        source = {"kind": "compile", "inputs": compiled.get("activity_inputs"),
                  "samples": compiled["energy"]["activity"]["samples"]}
    data["resources"]["core_map"] = CORE_MAP_FILE
    per_layer, rest = layer_energy(data["energy"])
    data["snncc_report"] = {"format": FORMAT, "bundle": str(bundle), "source": source,
                            "layer_rate": layer_rates(data, run), "layer_energy_j": per_layer,
                            "energy_not_by_layer_j": rest, "plots": dict(PLOTS)}
    return data


def source_text(data: dict[str, Any]) -> str:
    """Where the activity and energy come from, in words."""
    s = data["snncc_report"]["source"]
    if s["kind"] == "run":
        acc = f", accuracy {100 * s['accuracy']:.1f}%" if s.get("accuracy") is not None else ""
        return f"data-set run {Path(s['file']).name} ({s['samples']} samples{acc})"
    return f"compile-time activity ({s['samples']} {s['inputs']} samples)"


def check_report_folder(dest: str | Path) -> Path:
    """``dest`` when snncc may write the report there: a new or empty folder, or a report folder snncc wrote;
    anything else is refused (OptionError naming it) and left as it is."""
    dest = check_writable(dest, "report folder", OptionError, folder=True)
    if not dest.is_dir() or not any(dest.iterdir()):
        return dest
    foreign = sorted(p.name for p in dest.iterdir() if p.name not in REPORT_FILES)
    if not foreign and not _written_by_snncc(dest / "report.json"):
        foreign = ["report.json (not an snncc report)"]
    if foreign:
        listing = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OptionError(f"report folder {dest} holds {listing}, which snncc did not write; refusing to replace it",
                          hint="choose another --out")
    return dest


def _written_by_snncc(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("snncc_report"), dict)


def render_report_markdown(data: dict[str, Any]) -> str:
    """The compile report's Markdown with an "At a glance" section (source, plots, per-layer table) after its
    summary lines."""
    rep = data["snncc_report"]
    glance = ["## At a glance", "", f"Activity and energy: **{source_text(data)}**."
              + ("" if rep["source"]["kind"] == "run" else " Pass `--run RUN.json` for a data-set run's.")
              + " Float vs integer figures below are the compile's.", "",
              f"![spike rate per neuron per step, by layer]({rep['plots']['activity']})", "",
              f"![dynamic energy per inference, by layer and component]({rep['plots']['layer_energy']})", "",
              f"![energy per inference by component, static and total]({rep['plots']['energy_breakdown']})", "",
              "| layer | spike rate (per neuron per step) | dynamic energy per inference | share of dynamic |",
              "|---|---|---|---|"]
    dynamic = data["energy"]["target_model"]["dynamic_total_j"]
    for name in data["energy"]["layers"]:
        rate = rep["layer_rate"].get(name)
        j = sum(rep["layer_energy_j"].get(name, {}).values())
        glance.append(f"| {name} | {'-' if rate is None else f'{rate:.4f}'} | {joules(j)} | "
                      f"{100 * j / dynamic if dynamic else 0:.1f}% |")
    glance += [f"| (not by layer: {comp}) | | {joules(j)} | {100 * j / dynamic if dynamic else 0:.1f}% |"
               for comp, j in rep["energy_not_by_layer_j"].items()]
    text = render_markdown(data)
    head, sep, tail = text.partition("\n## ")
    return head + "\n" + "\n".join(glance) + "\n" + sep + tail


def render_report_summary(data: dict[str, Any], files: list[Path]) -> str:
    """A screen: the source, the compile summary (with the energy used), the costliest layers, the files."""
    rep = data["snncc_report"]
    shown = dict(data)
    if rep["source"]["kind"] == "run":
        shown["fidelity"] = None  # measured on the compile's samples, which the summary line would misstate
    lines = [f"report of {rep['bundle']}: activity and energy from the {source_text(data)}", render_summary(shown)]
    dynamic = data["energy"]["target_model"]["dynamic_total_j"]
    costly = sorted(((sum(v.values()), n) for n, v in rep["layer_energy_j"].items()), reverse=True)[:3]
    if dynamic > 0 and costly:
        lines.append("costliest layers (dynamic energy): " + ", ".join(
            f"{n} {joules(j)} ({100 * j / dynamic:.0f}%)" for j, n in costly if j > 0))
    rates = rep["layer_rate"]
    if rates:
        lo, hi = min(rates, key=rates.__getitem__), max(rates, key=rates.__getitem__)
        lines.append(f"spike rate per neuron per step: lowest {lo} {rates[lo]:.4f}, highest {hi} {rates[hi]:.4f}")
    lines += [f"wrote {f}" for f in files]
    return "\n".join(lines)


def write_report_folder(dest: Path, data: dict[str, Any], mesh: tuple[int, int]) -> list[Path]:
    """Write report.json, report.md and the plots into ``dest`` (checked by :func:`check_report_folder`) through a
    temporary sibling folder swapped in whole, so that a failure leaves ``dest`` as it was; the paths written."""
    rep = data["snncc_report"]
    energy = data["energy"]
    tm = energy["target_model"]
    source = source_text(data)
    markdown = render_report_markdown(data)

    def fill(folder: Path) -> None:
        plots = rep["plots"]
        plot_activity(rep["layer_rate"], source, folder / plots["activity"])
        plot_layer_energy(rep["layer_energy_j"], source, folder / plots["layer_energy"])
        dynamic = {k: float(v) for k, v in tm["dynamic_j"].items() if _number(v)}
        plot_energy_breakdown(dynamic, tm["static_j"], tm["total_j"], band(tm), source,
                              folder / plots["energy_breakdown"])
        plot_core_map(data["resources"], mesh, folder / plots["core_map"])
        (folder / "report.md").write_text(markdown)
        (folder / "report.json").write_text(json.dumps(data, indent=2) + "\n")

    replace_folder(dest, fill, "report folder", SnnccError)
    return [dest / "report.json", dest / "report.md", *(dest / f for f in rep["plots"].values())]
