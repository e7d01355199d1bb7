"""balance-latency: give every neuron layer's inputs paths of equal synaptic depth by inserting relays.

On the chip every synapse layer delays by one step, while the trained model adds a residual or shortcut in the same
step. Where paths of different depth meet (a shortcut around a block, SEW spike addition), the shallower synapse is
fed through ``k`` relay stages instead of its source, ``k`` being the depth difference: each stage is an identity
synapse (depthwise 1x1 convolution of weight 1, no dense matrix) into a relay layer (:mod:`snncc.families.relay`):
binary, or graded with the source's number of levels for a source that sends graded payloads (a graded layer, or a
graded input). In the float model a relay is a same-step copy, so the rewrite is exact; in the deployed network each
stage adds the one step that balances the paths.

Loops are left as they are, with one exception: a recurrent synapse brings its source's spikes back after as many
steps as its loop has synapses, and where the trained model waits longer (``Recurrent(..., delay=k)``) the
difference is made up with relay stages on the feedback path. A loop that takes the chip longer than the trained
model waits cannot be shortened: it is refused, naming the loop (:func:`check_loops`).

Costs (relay neurons and synapses per layer) go to ``ctx.notes['balance-latency']``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import networkx as nx
import nir
import numpy as np

from ..errors import UnsupportedLayerError
from ..families.relay import binary_relay, graded_relay
from ..ir import FloatNeuron, Graph, InputEncoding, keys
from ..ir.synapses import identity_synapse
from ..ir.timing import loop_latencies
from .base import Pass, PassContext
from .canonicalize import check_canonical


def _relay(n: int, source: str, levels: int | None) -> FloatNeuron:
    """A memoryless neuron that re-emits its input: binary (``levels`` None) or graded with ``levels`` levels."""
    meta = {keys.RELAY: source, keys.SOURCE: f"relay of {source}"}
    return binary_relay(n, meta) if levels is None else graded_relay(n, levels, meta)


def payload_levels(g: Graph, name: str) -> int | None:
    """The largest integer payload ``name`` sends, or None for binary spikes."""
    node = g.nodes[name]
    if isinstance(node, nir.Input):
        enc = InputEncoding.from_metadata(g.metadata)
        return enc.max_value if enc.graded else None
    return node.payload_levels


class BalanceLatency(Pass):
    name = "balance-latency"
    level = "float"

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        ctx.notes["balance-latency"] = balance_paths(g, FloatNeuron, float_stage)
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)
        check_loops(graph)


def check_loops(g: Graph, synapses: Collection[str] | None = None) -> None:
    """Every loop (closed by one of ``synapses``, default all) brings its spikes back when the trained model expects
    them; otherwise an error naming the loop."""
    for syn, src, target, trained, deployed in loop_latencies(g):
        if trained == deployed or (synapses is not None and syn not in synapses):
            continue
        path = nx.shortest_path(g.to_networkx(), target, src)
        loop = " -> ".join([*path, syn, target])
        raise UnsupportedLayerError(
            f"the loop {loop} passes through {deployed} synapse layers, so on the chip {src}'s spikes come back "
            f"{deployed} steps later; the trained model feeds them back after {trained}", layer=syn,
            hint=f"train the loop with a feedback delay of {deployed} (snncc.neurons.Recurrent(..., delay="
                 f"{deployed})), or close it with one synapse")


Stage = Callable[[int, str, int | None], tuple[Any, Any]]
"""Makes one relay stage of ``n`` neurons copying ``source`` (``levels``: its largest graded payload, None for
binary spikes): ``(identity synapse, relay layer)``."""


def float_stage(n: int, source: str, levels: int | None) -> tuple[Any, Any]:
    """A float relay stage: an identity synapse into a binary or graded float relay."""
    return identity_synapse(n, {keys.RELAY: source, keys.SOURCE: f"relay synapse of {source}"}), \
        _relay(n, source, levels)


def balance_paths(g: Graph, neuron_type: type, stage: Stage, loops: bool = True) -> dict:
    """Delay, in place, the shallower synapses into every layer of ``neuron_type`` and (with ``loops``) the recurrent
    synapses whose loop the trained model takes longer over, by relay stages made by ``stage``, then
    :func:`check_loops`. Returns the relays added per delayed synapse (``ctx.notes``)."""
    notes = {}
    chains: dict[str, list[str]] = {}  # source -> its relay stages so far, shared by every delayed reader
    for name in g.topological_order():
        if not isinstance(g.nodes[name], neuron_type):
            continue
        depth = g.synapse_depth()
        synapses = [p for p in g.predecessors(name) if not g.is_recurrent(p)]
        deepest = max((depth[s] for s in synapses), default=0)
        for syn in synapses:
            lag = deepest - depth[syn]
            if lag:
                notes[syn] = _delay(g, syn, lag, chains, stage)
    if loops:
        for syn, _src, _target, trained, deployed in list(loop_latencies(g)):
            if trained > deployed:
                notes[syn] = _delay(g, syn, trained - deployed, chains, stage)
        check_loops(g)
    return notes


def _delay(g: Graph, synapse: str, stages: int, chains: dict[str, list[str]], stage: Stage) -> dict:
    """Feed ``synapse`` from stage ``stages`` of its source's relay chain, growing the chain as needed (a source read
    by several shorter paths gets one chain, not one per reader)."""
    (src,) = g.predecessors(synapse)
    levels = payload_levels(g, src)
    n = int(np.prod(nir_size(g, src)))
    chain = chains.setdefault(src, [])
    added = max(stages - len(chain), 0)
    for k in range(len(chain), stages):
        syn_name, relay_name = f"{src}__delay{k}", f"{src}__relay{k}"
        g.nodes[syn_name], g.nodes[relay_name] = stage(n, src, levels)
        g.edges += [(chain[-1] if chain else src, syn_name), (syn_name, relay_name)]
        chain.append(relay_name)
    g.edges = [e for e in g.edges if e != (src, synapse)] + [(chain[stages - 1], synapse)]
    return {"source": src, "stages": stages, "relay_neurons": n * added, "relay_synapses": n * added,
            "graded": levels is not None}


def nir_size(g: Graph, name: str) -> int:
    """Neurons of the float layer ``name``, or the input's size."""
    node = g.nodes[name]
    if isinstance(node, nir.Input):
        return int(np.prod(node.input_type["input"]))
    return node.size
