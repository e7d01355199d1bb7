"""Render the compile report (report.json) as Markdown and as a short terminal summary."""

from __future__ import annotations

from typing import Any

from .energy_lines import band_lines, band_text, neurobench_lines, paper_label
from .energy_lines import joules as _j


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render_markdown(report: dict[str, Any]) -> str:
    """The full human-readable report."""
    r, e, q = report["resources"], report["energy"], report["quantization"]
    lines = [f"# snncc compile report: {report['model']}", "",
             f"- target: **{report['target']}**, {report['timesteps']} time steps per inference, input "
             f"{report['input']['kind']} ({report['input']['max_value']} max payload)",
             f"- cores: **{r['cores_used']}** used (lower bound {r['cores_lower_bound']}, available "
             f"{r['cores_available']})",
             f"- energy per inference (target model): **{_j(e['target_model']['total_j'])}** "
             f"(dynamic {_j(e['target_model']['dynamic_total_j'])}, static {_j(e['target_model']['static_j'])})"
             f"{band_text(e)}; SNN-paper convention ({paper_label(e)}) {_j(e['paper_convention']['energy_j'])}; "
             f"same-topology ANN {_j(e['paper_convention']['ann_energy_j'])}",
             *(f"- {label}: {report[name]['status']}" for name, label in _exports(report).items()),
             f"- activity measured on {e['activity']['samples']} {report['activity_inputs']} samples", ""]
    lines += _semantics_section(report.get("semantics"))
    lines += ["## Layers", "", "| layer | neurons | fan-in | cores | binding limit | vth | weight exp | reset | "
              "primitive |", "|---|---|---|---|---|---|---|---|---|"]
    for name, lay in r["layers"].items():
        ql = q["layers"].get(name, {})
        prim = report["primitives"].get(name, {})
        lines.append(f"| {name} | {lay['neurons']} | {lay['fan_in']} | {lay['cores']} | {lay['binding_limit']} | "
                     f"{ql.get('vth', '')} | {ql.get('weight_exp', '')} | {prim.get('reset', '')} | "
                     f"{prim.get('lava', '')} ({prim.get('kind', '')}) |")
    lines += ["", "## Per-core utilisation", ""]
    if r.get("core_map"):
        lines += [f"![cores coloured by their fullest limit]({r['core_map']})", ""]
    lines += ["| chip:core | mesh | layers | neurons | memory | input axons | "
              "output axons | binding |", "|---|---|---|---|---|---|---|---|"]
    for c in r["cores"]:
        u = c["utilisation"]
        lines.append(f"| {c['chip']}:{c['core']} | {tuple(c['mesh'])} | {', '.join(c['layers'])} | "
                     f"{c['use']['neurons']} ({_pct(u['neurons'])}) | {c['use']['memory']} B ({_pct(u['memory'])}) | "
                     f"{c['use']['input_axons']} ({_pct(u['input_axons'])}) | {c['use']['output_axons']} "
                     f"({_pct(u['output_axons'])}) | {c['binding_limit']} |")
    pi = e["per_inference"]
    lines += ["", "## Operations per inference", "",
              f"synaptic ops {pi['synops']:.0f}, neuron updates {pi['neuron_updates']:.0f}, spikes "
              f"{pi['spikes']:.1f}, spike messages {pi['spike_messages']:.1f} (through recurrent synapses "
              f"{pi.get('recurrent_messages', 0):.1f}), mesh hops {pi['hops']:.1f}, chip hops {pi['chip_hops']:.1f}, "
              f"{pi['steps']} steps", "",
              f"spike messages within a core {pi.get('messages_within_core', 0):.1f}, between cores "
              f"{pi.get('messages_between_cores', 0):.1f}, between chips {pi.get('messages_between_chips', 0):.1f}; "
              f"{pi.get('hops_per_message', 0):.2f} mesh hops per message", "",
              "| layer | synops | dense synops | neuron updates | spikes | messages | of them recurrent | hops |",
              "|---|---|---|---|---|---|---|---|"]
    for name, lay in e["layers"].items():
        lines.append(f"| {name} | {lay.get('synops', 0):.0f} | {lay.get('synops_dense', 0):.0f} | "
                     f"{lay.get('neuron_updates', 0):.0f} | {lay.get('spikes', 0):.1f} | "
                     f"{lay.get('messages', 0):.1f} | {lay.get('recurrent_messages', 0):.1f} | "
                     f"{lay.get('hops', 0):.1f} |")
    tmod = e["target_model"]
    lines += ["", "## Energy", "", "| component | energy per inference |", "|---|---|"]
    lines += [f"| {k} | {_j(v)} |" for k, v in tmod["dynamic_j"].items()]
    chips = f"{tmod['chips']} of {tmod.get('chips_available', tmod['chips'])} chip(s) used"
    lines += [f"| static ({chips} x {tmod['latency_s'] * 1e6:.1f} us) | {_j(tmod['static_j'])} |",
              f"| **total** | **{_j(tmod['total_j'])}** |", "", *band_lines(e),
              f"Paper convention ({paper_label(e)}): {e['paper_convention']['ac']:.0f} AC x 0.9 pJ + "
              f"{e['paper_convention']['mac']:.0f} "
              f"MAC x 4.6 pJ = {_j(e['paper_convention']['energy_j'])}; ANN of the same topology: "
              f"{e['paper_convention']['ann_mac']:.0f} MAC = {_j(e['paper_convention']['ann_energy_j'])}.", "",
              *neurobench_lines(e),
              "### Constants and their provenance", "", "| constant | value | confirmed | source |",
              "|---|---|---|---|"]
    for k, f in e["figures"].items():
        band = f" (band {f['low']['value']}-{f['high']['value']})" if "low" in f else ""
        ends = f"; low: {f['low']['source']}; high: {f['high']['source']}" if "low" in f else ""
        lines.append(f"| {k} | {f['value']} {f['unit']}{band} | {'yes' if f['confirmed'] else '**assumption**'} | "
                     f"{f['source']}{ends} |")
    lines += ["", "## Quantization", "", "| layer | scale | weight exp | vth | threshold err | weight rms err | "
              "weights zeroed | worst-case input / limit |", "|---|---|---|---|---|---|---|---|"]
    for name, ql in q["layers"].items():
        vth = ql["vth"] if "vth" in ql else f"2^{ql['theta_exp']}" if "theta_exp" in ql else ""
        thr_err = _pct(ql["threshold_error"]) if "threshold_error" in ql else "exact (power of two)"
        exp = ql["weight_exp"]
        if "input_gain" in ql:  # the neuron's program scales the input (per neuron), the synapse does not
            gain = ql["input_gain"]
            gain = f"{gain[0]}..{gain[1]}" if isinstance(gain, list) else gain
            exp = f"{exp} (program input x {gain} * 2^{ql['input_shift']})"
        lines.append(f"| {name} ({ql['kind']}) | {ql['scale']:.4g} | {exp} | {vth} | "
                     f"{thr_err} | {ql['weight_rms_error']:.3g} | {ql['weight_zeroed']} | "
                     f"{ql['worst_case_input']} / {ql['input_limit']} |")
    lines += _calibration_lines(q.get("calibration") or {})
    low = report.get("lowering") or {}
    if low:
        lines += ["", "## Lowerings", "", "| layer | from | to | exact | measured spike agreement | against |",
                  "|---|---|---|---|---|---|"]
        for name, n in low.items():
            m = n.get("measured", {})
            agree = _pct(m["spike_agreement"]) if "spike_agreement" in m else "-"
            lines.append(f"| {name} | {n['from']} | {n['to']} | {'yes' if n['exact'] else '**no (approximate)**'} | "
                         f"{agree} | {m.get('against', '')} |")
    fid = report.get("fidelity")
    if fid:
        lines += ["", "## Float vs integer (same inputs)", "",
                  f"output agreement (same predicted class): **{_pct(fid['output_agreement'])}**", "",
                  "| layer | float rate | integer rate | spike agreement |", "|---|---|---|---|"]
        for name, f in fid["layers"].items():
            lines.append(f"| {name} | {f['float_rate']:.4f} | {f['int_rate']:.4f} | {_pct(f['agreement'])} |")
        lines += [""] + [f"- **warning**: {w}" for w in fid.get("warnings", [])] if fid.get("warnings") else []
    if report["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    lines += ["", "## Pass timings", "", "| pass | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in report["pass_timings"].items()]
    return "\n".join(lines) + "\n"


def _calibration_lines(cal: dict[str, Any]) -> list[str]:
    """The calibrate pass's choices: per layer the clip, the rounding and the input error each step removed."""
    if not cal.get("layers"):
        return ["", f"Calibration: none (weight clip rule '{cal.get('method', 'max')}': each layer's largest weight "
                "on the largest mantissa, nearest rounding)."]
    def err(x: float | None) -> str:
        return "-" if x is None else f"{x:.3g}"

    lines = ["", "### Calibration", "",
             f"Method **{cal['method']}** on {cal['samples']} calibration samples (percentile {cal['percentile']}). "
             "Input error: mean squared difference of the synaptic input (filtered by the layer's decays), float vs "
             "quantized weights, in threshold units squared.", "",
             "| layer | max abs weight | clip | weights clipped | rounding | input error: max rule / clipped / final "
             "| decays (du, dv) corrected |", "|---|---|---|---|---|---|---|"]
    for name, n in cal["layers"].items():
        clip = "-" if n.get("clip") is None else f"{n['clip']:.4g}"
        errors = " / ".join(err(n.get(k)) for k in ("input_error_max_rule", "input_error_nearest", "input_error"))
        lines.append(f"| {name} | {n['weight_max_abs']:.4g} | {clip} | {n.get('weights_clipped', '-')} | "
                     f"{n.get('rounding', 'nearest')} | {errors} | {', '.join(n.get('decays_corrected', [])) or '-'} |")
    return lines


def render_summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal after ``snncc compile``."""
    r, e = report["resources"], report["energy"]
    lines = [f"compiled {report['model']} for {report['target']}: {len(r['layers'])} neuron layers, "
             f"{r['totals']['neurons']} neurons, {r['cores_used']} core(s) (lower bound {r['cores_lower_bound']})"]
    for name, lay in r["layers"].items():
        lines.append(f"  {name:<14} {lay['neurons']:>6} neurons  fan-in {lay['fan_in']:>5}  {lay['cores']} core(s)")
    if report.get("semantics") and report["semantics"]["choices"]:
        lines.append("NIR neurons: " + _semantics_line(report["semantics"]))
    tm = e["target_model"]
    lines.append(f"energy per inference: {_j(tm['total_j'])} = dynamic {_j(tm['dynamic_total_j'])} + static "
                 f"{_j(tm['static_j'])} over {tm['latency_s'] * 1e6:.0f} us (target model; assumptions marked in "
                 f"report.md){band_text(e)}; {_j(e['paper_convention']['energy_j'])} in the SNN-paper convention "
                 f"({paper_label(e)})")
    fid = report.get("fidelity")
    if fid:
        lines.append(f"float vs integer on {e['activity']['samples']} {report['activity_inputs']} samples: output "
                     f"agreement {_pct(fid['output_agreement'])}, spike agreement " + ", ".join(
                         f"{k} {_pct(v['agreement'])}" for k, v in fid["layers"].items()))
        lines += [f"warning: {w}" for w in fid.get("warnings", [])]
    for name, n in (report.get("lowering") or {}).items():
        m = n.get("measured", {})
        agree = (f", measured spike agreement {_pct(m['spike_agreement'])} against {m['against']}"
                 if "spike_agreement" in m else "")
        lines.append(f"lowering {name}: {n['from']} -> {n['to']} ({'exact' if n['exact'] else 'APPROXIMATE'}{agree})")
    lines += [f"{name}: {report[name]['status']}" for name in _exports(report)]
    for w in report["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _exports(report: dict) -> dict[str, str]:
    """Exporter name -> what the report calls its file (reports written before ``exports`` existed: netx's)."""
    if "exports" in report:
        return report["exports"]
    return {"netx": "netx HDF5"} if "netx" in report else {}


_SEMANTICS_LABELS = {"dt": "dt", "reset": "reset", "fire_at_threshold": "fires at v = threshold",
                     "discretization": "integration", "max_spikes": "spikes per step up to"}


def _semantics_line(sem: dict[str, Any]) -> str:
    """One line: each choice, with who made it where that is not the preset, and the repairs applied."""
    preset = f"--from {sem['preset']}" if sem["preset"] else None
    parts = []
    for f, c in sem["choices"].items():
        value = ({True: "spike on v >= threshold", False: "spike on v > threshold"}[c["value"]]
                 if f == "fire_at_threshold" else f"{_SEMANTICS_LABELS[f]} {c['value']}")
        parts.append(value if c["by"] == preset else f"{value} ({c['by']})")
    if sem["repairs"]:
        parts.append(f"{len(sem['repairs'])} export repair(s) (report.md)")
    return (f"({preset}) " if preset else "") + ", ".join(parts)


def _semantics_section(sem: dict[str, Any] | None) -> list[str]:
    """What the NIR file left open and who decided it (the preset's reason where the preset did)."""
    if not sem or not sem["choices"]:
        return []
    head = f"preset **{sem['preset']}** ({sem['library']})" if sem["preset"] else "no library preset"
    lines = ["## NIR semantics", "", f"The file does not state how its neurons step; {head}:", "",
             "| choice | value | decided by | why |", "|---|---|---|---|"]
    lines += [f"| {_SEMANTICS_LABELS[f]} | {c['value']} | {c['by']} | {c['why']} |" for f, c in sem["choices"].items()]
    if sem["repairs"]:
        lines += ["", "Export bugs repaired:", ""] + [f"- {r}" for r in sem["repairs"]]
    return lines + [""]
