"""balance-latency: give every neuron layer's inputs paths of equal synaptic depth by inserting relays.

On the chip every synapse layer delays by one step, while the trained model adds a residual or shortcut in the same
step. Where paths of different depth meet (a shortcut around a block, SEW spike addition), the shallower synapse is
fed through ``k`` relay stages instead of its source, ``k`` being the depth difference: each stage is an identity
synapse (depthwise 1x1 convolution of weight 1, no dense matrix) into a relay layer (:mod:`snncc.families.relay`):
binary, or graded with the source's number of levels for a source that sends graded payloads (a graded layer, or a
graded input). In the float model a relay is a same-step copy, so the rewrite is exact; in the deployed network each
stage adds the one step that balances the paths.

Costs (relay neurons and synapses per layer) go to ``ctx.notes['balance-latency']``.
"""

from __future__ import annotations

import nir
import numpy as np

from ..families.relay import binary_relay, graded_relay
from ..ir import FloatNeuron, Graph, InputEncoding, keys
from ..ir.synapses import identity_synapse
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
        notes = {}
        chains: dict[str, list[str]] = {}  # source -> its relay stages so far, shared by every delayed reader
        for name in g.topological_order():
            if not isinstance(g.nodes[name], FloatNeuron):
                continue
            depth = g.synapse_depth()
            synapses = [p for p in g.predecessors(name) if not g.is_recurrent(p)]
            deepest = max((depth[s] for s in synapses), default=0)
            for syn in synapses:
                lag = deepest - depth[syn]
                if lag:
                    notes[syn] = _delay(g, syn, lag, chains)
        ctx.notes["balance-latency"] = notes
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)


def _delay(g: Graph, synapse: str, stages: int, chains: dict[str, list[str]]) -> dict:
    """Feed ``synapse`` from stage ``stages`` of its source's relay chain, growing the chain as needed (a source read
    by several shorter paths gets one chain, not one per reader)."""
    (src,) = g.predecessors(synapse)
    levels = payload_levels(g, src)
    n = int(np.prod(nir_size(g, src)))
    chain = chains.setdefault(src, [])
    added = max(stages - len(chain), 0)
    for k in range(len(chain), stages):
        syn_name, relay_name = f"{src}__delay{k}", f"{src}__relay{k}"
        g.nodes[syn_name] = identity_synapse(n, {keys.RELAY: src, keys.SOURCE: f"relay synapse of {src}"})
        g.nodes[relay_name] = _relay(n, src, levels)
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
