"""When each layer of a deployed graph runs: the timing rules the Lava backend and lower-primitives share.

Every synapse adds one step; a layer ``d`` synapses deep processes input step ``t`` at step ``t + d`` and is reset
when its sample's first input arrives (see docs/semantics.md, Timing). A synapse from a layer ``ds`` deep into a
layer ``dl`` deep reads its source at sample-relative steps ``dl - 1 .. dl + T - 2``; when ``dl - 1 != ds`` (a
recurrent synapse, where ``ds = dl``, or a shallower fan-in path) that range leaves the source's window
``ds .. ds + T - 1`` by ``|dl - 1 - ds|`` steps.

A recurrent synapse therefore brings its source's spikes back ``ds - dl + 1`` steps later: the number of synapses
on its loop. The trained model states how late it wants them (``keys.FEEDBACK_DELAY``, one by default); a deployed
network is exact only where the two agree (:func:`loop_latencies`, made to agree by balance-latency).
"""

from __future__ import annotations

from collections.abc import Iterator

import nir

from . import keys
from .graph import SYNAPSE_TYPES, Graph


def synapse_lags(graph: Graph) -> Iterator[tuple[str, str, str, int]]:
    """``(synapse, source, target, lag)`` for every synapse and consumer: ``lag = d_target - 1 - d_source``."""
    depth = graph.synapse_depth()
    for name, node in graph.nodes.items():
        if not isinstance(node, SYNAPSE_TYPES):
            continue
        (src,) = graph.predecessors(name)
        for target in graph.successors(name):
            yield name, src, target, depth[target] - 1 - depth[src]


def sample_gap(graph: Graph) -> int:
    """Silent steps between back-to-back samples so that no read outside a window reaches another sample."""
    return max((abs(lag) for *_, lag in synapse_lags(graph)), default=0)


def windowed_layers(graph: Graph) -> set[str]:
    """The neuron layers read outside their window: they must send only inside it (a custom process)."""
    return {src for _, src, _, lag in synapse_lags(graph)
            if lag and not isinstance(graph.nodes[src], nir.Input)}


def feedback_delay(graph: Graph, synapse: str) -> int:
    """The steps after which the trained model delivers a recurrent synapse's input (one unless stated)."""
    return int((getattr(graph.nodes[synapse], "metadata", None) or {}).get(keys.FEEDBACK_DELAY, 1))


def loop_latencies(graph: Graph) -> Iterator[tuple[str, str, str, int, int]]:
    """``(synapse, source, target, trained, deployed)`` for every recurrent synapse and consumer: the steps the
    trained model and the deployed network take to bring the source's spikes back into the target."""
    for name, src, target, lag in synapse_lags(graph):
        if graph.is_recurrent(name):
            yield name, src, target, feedback_delay(graph, name), -lag
