"""Float (F) vs integer (Q) comparisons on the same inputs, and the measured effect of each lowering.

Layers keep their names through every pass, so traces compare by name. A layer that a lowering expanded into a
population (``snncc.population`` metadata) is compared through its logical output: the sum of each group's
member spikes, which is what its consumers receive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ir import Graph

POPULATION_KEY = "snncc.population"


def logical_spikes(graph: Graph, name: str, spikes: np.ndarray) -> np.ndarray:
    """(batch, T, n) output of layer ``name``; population members summed per original neuron."""
    pop = graph.nodes[name].metadata.get(POPULATION_KEY)
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


def compare_float_int(float_graph: Graph, float_result: Any, int_graph: Graph, int_result: Any) -> dict[str, Any]:
    """F vs Q: the float model and the deployed integer model on the same inputs."""
    return compare_layers(float_graph, float_result, int_graph, int_result)
