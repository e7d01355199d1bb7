"""The KLIF family (Jiang & Zhang 2023): a LIF whose leak and input gain a learned ``k`` scales, with a ReLU floor.

It has no integer node of its own: lower-neurons rewrites it, exactly, as a LIF with decay ``k (1 - 1/tau)``, the
gain ``k / tau`` (``k`` without decay_input) folded into its input weights and bias, and a membrane floor at 0
(``v_min = 0``, run by snncc's custom LIF).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from snncc.errors import GraphError
from snncc.families.base import Family
from snncc.families.klif import bounds
from snncc.families.klif.nodes import KLIFNeuron
from snncc.families.lif.nodes import LIFNeuron
from snncc.ir import Graph
from snncc.ir.synapses import with_weight


class KLIFFamily(Family):
    name = "klif"
    float_nodes: ClassVar[tuple[type, ...]] = (KLIFNeuron,)

    def quantizable(self, node: Any) -> bool:
        return False  # lowered onto the LIF family first

    def lower(self, g: Graph, name: str, choices: dict[str, str]) -> dict | None:
        node: KLIFNeuron = g.nodes[name]
        problem = bounds.k_problem(node.k, node.tau)  # the bound snncc.neurons.KLIF clamps k to
        if problem:
            raise GraphError(f"KLIF {problem}", layer=name,
                             hint="keep k in [K_MIN, tau/(tau-1)] (snncc.neurons.KLIF clamps it)")
        beta, gamma = node.decay, node.gain
        for s in g.predecessors(name):
            syn = g.nodes[s]  # a convolution (or an identity shortcut's 1x1 one) keeps its geometry
            g.nodes[s] = with_weight(syn, np.asarray(syn.weight, np.float64) * gamma)
        g.nodes[name] = LIFNeuron(decay_v=beta, decay_i=0.0, threshold=node.threshold, bias=node.bias * gamma,
                                  reset=node.reset, v_min=0.0, metadata=dict(node.metadata))
        return {"from": "KLIF", "to": "LIF with membrane floor", "exact": True}


FAMILY = KLIFFamily()
