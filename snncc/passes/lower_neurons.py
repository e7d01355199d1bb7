"""lower-neurons: rewrite seed neurons the target cannot run as they are, at the float level.

* KLIF -> LIF with decay ``k (1 - 1/tau)``, ``k/tau`` (or ``k``) folded into its input weights and bias, and a
  membrane floor at 0 (``v_min = 0``). **Exact**: the same function, rewritten (snncc's custom LIF runs the floor).
* AR-LIF, on request (``arlif = "stock"``) -> a stock hard-reset LIF with the same leak and base threshold,
  dropping the input-dependent threshold and the reset memory. **Approximate**: the compile report measures the
  change it causes. By default (``arlif = "program"``) AR-LIF stays and becomes snncc's integer AR-LIF program.

Multi-level neurons are not touched here: quantize turns them into the graded primitive, and lower-primitives
expands that into a population on targets without graded spikes. Each rewrite is recorded in
``ctx.notes['lowering']`` (from, to, exact).
"""

from __future__ import annotations

import nir
import numpy as np

from ..errors import GraphError
from ..ir import ARLIFNeuron, Graph, KLIFNeuron, LIFNeuron
from .base import Pass, PassContext
from .canonicalize import check_canonical

ARLIF_MODES = ("program", "stock")


class LowerNeurons(Pass):
    name = "lower-neurons"

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)
        if ctx.options.get("arlif", "program") not in ARLIF_MODES:
            raise GraphError(f"arlif lowering must be one of {ARLIF_MODES}, got {ctx.options.get('arlif')!r}")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        notes = ctx.notes.setdefault("lowering", {})
        for name in g.topological_order():
            node = g.nodes[name]
            if isinstance(node, KLIFNeuron):
                _klif_to_lif(g, name, node)
                notes[name] = {"from": "KLIF", "to": "LIF with membrane floor", "exact": True}
            elif isinstance(node, ARLIFNeuron) and ctx.options.get("arlif", "program") == "stock":
                g.nodes[name] = LIFNeuron(decay_v=node.decay_v, decay_i=0.0, threshold=node.threshold,
                                          bias=node.bias, reset="zero", metadata=dict(node.metadata))
                notes[name] = {"from": "AR-LIF", "to": "stock LIF (hard reset; adaptive threshold and reset "
                               "dropped)", "exact": False}
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)
        for name, node in graph.nodes.items():
            if isinstance(node, KLIFNeuron):
                raise GraphError("KLIF left after lower-neurons", layer=name)


def _klif_to_lif(g: Graph, name: str, node: KLIFNeuron) -> None:
    beta, gamma = node.decay, node.gain
    if not 0.0 < beta <= 1.0:
        raise GraphError(f"KLIF decay k(1-1/tau) = {beta:g} is outside (0, 1]: k={node.k:g}, tau={node.tau:g}",
                         layer=name, hint="keep k in (0, tau/(tau-1)] (snncc.neurons.KLIF clamps it)")
    for s in g.predecessors(name):
        syn = g.nodes[s]
        g.nodes[s] = nir.Linear(weight=np.asarray(syn.weight, np.float64) * gamma, metadata=syn.metadata)
    g.nodes[name] = LIFNeuron(decay_v=beta, decay_i=0.0, threshold=node.threshold, bias=node.bias * gamma,
                              reset=node.reset, v_min=0.0, metadata=dict(node.metadata))
