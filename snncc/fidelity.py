"""Float (F) vs integer (Q) comparisons on the same inputs, and the measured effect of each lowering.

Layers keep their names through every pass, so traces compare by name. A layer that a lowering expanded into a
population is compared through its logical output (:func:`logical_spikes`): the sum of
each group's member spikes, which is what its consumers receive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import fixedpoint as fx
from .backends.reference import FloatSimulator, ReferenceSimulator
from .ir import Graph, IntegerNeuron, keys

LOW_AGREEMENT = 0.9  # a layer below this spike agreement with the float model is named in a warning
SILENT_SHARE = 0.25  # ... and one where this share of the float-active neurons never fires after quantization
SILENT_MIN = 3  # (and at least this many: one neuron of a few active ones on a few samples is noise)
DEFAULT_AGAINST = {"float": "float model", "deployed": "the float model (includes weight quantization)",
                   "integer": "unlowered integer graph"}  # what a lowering's measured effect is compared with


def logical_spikes(graph: Graph, name: str, spikes: np.ndarray) -> np.ndarray:
    """(batch, T, n) output of layer ``name``; the members of a population (``keys.POPULATION``) summed per
    original neuron."""
    pop = graph.nodes[name].metadata.get(keys.POPULATION)
    if not pop:
        return spikes
    b, t, _ = spikes.shape
    return spikes.astype(np.int64).reshape(b, t, int(pop["neurons"]), int(pop["members"])).sum(axis=3)


def predictions(graph: Graph, result: Any) -> np.ndarray:
    """Predicted class per sample: argmax of the output layer's summed (logical) output, lowest index on ties."""
    out = result.output_layers[0]
    return logical_spikes(graph, out, result.layers[out].spikes).sum(axis=1).argmax(axis=1)


def compare_layers(graph_a: Graph, a: Any, graph_b: Graph, b: Any, layers: list[str] | None = None) -> dict[str, Any]:
    """Per-layer rates and agreement (share of identical output entries) and the share of identical predictions."""
    out = {}
    for name in layers if layers is not None else list(a.layers):
        if name not in b.layers:
            continue
        sa = logical_spikes(graph_a, name, a.layers[name].spikes)
        sb = logical_spikes(graph_b, name, b.layers[name].spikes)
        out[name] = {"float_rate": float(sa.mean()), "int_rate": float(sb.mean()),
                     "agreement": float((sa == sb).mean())}
    agree = float(np.mean(predictions(graph_a, a) == predictions(graph_b, b)))
    return {"layers": out, "output_agreement": agree}


def compare_float_int(float_graph: Graph, float_result: Any, int_graph: Graph, int_result: Any,
                      state_bits: int = fx.STATE_BITS) -> dict[str, Any]:
    """F vs Q: the float model and the deployed integer model on the same inputs, per layer with the figures that
    show where quantization loses accuracy (silent and always-on neurons, membrane error and saturation when the
    states were recorded), and one warning per layer that needs attention, naming it and suggesting the fix."""
    out = compare_layers(float_graph, float_result, int_graph, int_result)
    warnings: list[str] = []
    for name, lay in out["layers"].items():
        sf = logical_spikes(float_graph, name, float_result.layers[name].spikes)
        si = logical_spikes(int_graph, name, int_result.layers[name].spikes)
        lay.update(_activity(sf, si))
        lay.update(_membrane(float_graph, int_graph, name, float_result.layers[name], int_result.layers[name]))
        saturated = _saturated(int_result, name, state_bits)
        if saturated is not None:
            lay["saturated_states"] = saturated
        warnings += _warnings(name, lay)
    out["warnings"] = warnings
    return out


def _activity(sf: np.ndarray, si: np.ndarray) -> dict[str, int]:
    """Neurons active in float that never fire in the integer network, and neurons that fire at every step."""
    f_active, i_active = sf.reshape(-1, sf.shape[-1]).any(axis=0), si.reshape(-1, si.shape[-1]).any(axis=0)
    always = si.reshape(-1, si.shape[-1]).all(axis=0) if si.size else np.zeros(si.shape[-1], bool)
    f_always = sf.reshape(-1, sf.shape[-1]).all(axis=0) if sf.size else np.zeros(sf.shape[-1], bool)
    return {"neurons": int(si.shape[-1]), "float_active_neurons": int(f_active.sum()),
            "silenced_neurons": int((f_active & ~i_active).sum()), "always_on_neurons": int((always & ~f_always).sum())}


def _saturated(int_result: Any, name: str, state_bits: int) -> int | None:
    """Voltages clipped at the state limit: the reference simulator's running count, else from recorded states."""
    counted = getattr(int_result, "saturated", {}).get(name)
    if counted is not None:
        return int(counted)
    v = int_result.layers[name].v
    return None if v is None else int(np.sum(np.abs(np.asarray(v, np.int64)) >= (1 << (state_bits - 1)) - 1))


def _membrane(float_graph: Graph, int_graph: Graph, name: str, tf: Any, ti: Any) -> dict[str, Any]:
    """Membrane figures in float units (the integer v divided by its scale), when both runs recorded v; only for
    layers whose v means the same in both (``VOLTAGE_COMPARABLE``, not expanded into populations)."""
    node = int_graph.nodes[name]
    if (tf.v is None or ti.v is None or not isinstance(node, IntegerNeuron) or not node.VOLTAGE_COMPARABLE
            or keys.POPULATION in node.metadata):
        return {}
    scale = node.metadata.get(keys.SCALE)
    if not scale or tf.v.shape != ti.v.shape:
        return {}
    vi = np.asarray(ti.v, np.float64) / (fx.ACT_SHIFT_SCALE * scale)
    vf = np.asarray(tf.v, np.float64)
    theta = float(np.mean(float_graph.nodes[name].threshold))
    return {"v_float_mean": float(vf.mean()), "v_int_mean": float(vi.mean()),
            "v_float_std": float(vf.std()), "v_int_std": float(vi.std()),
            "v_rms_error_theta": float(np.sqrt(np.mean((vi - vf) ** 2)) / theta) if theta else None}


def _warnings(name: str, lay: dict[str, Any]) -> list[str]:
    out = []
    if lay["silenced_neurons"] >= max(SILENT_MIN, SILENT_SHARE * lay["float_active_neurons"]):
        out.append(f"layer '{name}': {lay['silenced_neurons']} of {lay['float_active_neurons']} neurons that fire in "
                   "float never fire after quantization; its weights are too coarse for its threshold (calibrate "
                   "the layer, or retrain with weight noise / quantization-aware training)")
    if lay["always_on_neurons"]:
        out.append(f"layer '{name}': {lay['always_on_neurons']} neurons fire at every step after quantization but "
                   "not in float; check its bias and threshold scaling")
    if lay.get("saturated_states"):
        out.append(f"layer '{name}': the membrane state saturated {lay['saturated_states']} times; lower the layer's "
                   "weight scale (a smaller exponent) so its voltage range fits the state bits")
    if lay["agreement"] < LOW_AGREEMENT:
        out.append(f"layer '{name}': spike agreement with the float model {100 * lay['agreement']:.1f}% is below "
                   f"{100 * LOW_AGREEMENT:.0f}%")
    return out


def measure_lowerings(lowerings: dict[str, dict], levels: dict[str, tuple[str, str | None]],
                      graphs: dict[str, tuple[Graph, Graph]], x: np.ndarray, float_graph: Graph, float_run: Any,
                      final: Graph, int_run: Any, neuron_format: fx.NeuronFormat) -> dict[str, dict]:
    """Each lowering with its exactness and its measured effect on the same inputs ``x``.

    A float-level rewrite is measured float against float (the rewritten float graph against the float model), the
    deployed program of a family against the float model, an integer-level rewrite integer against integer (the
    unlowered integer graph against the deployed one): each number isolates one lowering from quantization.
    ``levels``: per layer, the level and what the comparison is against (as the lowering rule worded it, or None);
    ``graphs``: per layer, the graphs before and after the pass that lowered it.
    """
    notes = {name: dict(n) for name, n in lowerings.items()}
    runs: dict[int, Any] = {}  # one simulation per graph, whatever the number of layers it lowered

    def simulated(graph: Graph, simulator: type, *args: Any) -> Any:
        if id(graph) not in runs:
            runs[id(graph)] = simulator(graph, *args).run(x)
        return runs[id(graph)]

    for name, note in notes.items():
        level, against = levels[name]
        before, after = graphs[name]
        if level == "float":
            cmp = compare_layers(float_graph, float_run, after, simulated(after, FloatSimulator), [name])
        elif level == "deployed":
            cmp = compare_layers(float_graph, float_run, final, int_run, [name])
        else:
            cmp = compare_layers(before, simulated(before, ReferenceSimulator, neuron_format), final, int_run, [name])
        note["measured"] = {"spike_agreement": cmp["layers"][name]["agreement"],
                            "output_agreement": cmp["output_agreement"],
                            "against": against or DEFAULT_AGAINST[level]}
    return notes
