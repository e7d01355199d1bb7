"""lower-neurons: rewrite float layers the quantizer cannot take as they are onto ones it can, at the float level.

Each family decides (``Family.lower``) whether and how its layers become nodes of another family (one exactly, one
only on request and approximately, most never); the choices the families offer (``Family.options``) are this
pass's options. Each rewrite is recorded as a lowering (from, to,
exact), measured in the compile report against the float model.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GraphError
from ..families import REGISTRY
from ..ir import FloatNeuron, Graph
from .base import Pass, PassContext
from .canonicalize import check_canonical
from .options import with_family_options


@dataclass
class _LowerNeurons(Pass):
    name = "lower-neurons"
    level = "float"
    option_error = GraphError

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        choices = {o.name: getattr(self, o.name) for o in REGISTRY.options(self.name)}
        for name in g.topological_order():
            node = g.nodes[name]
            if isinstance(node, FloatNeuron):
                note = REGISTRY.of(node, name).lower(g, name, choices)
                if note is not None:
                    ctx.record_lowering(name, note, level="float")
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)
        for name, node in graph.nodes.items():
            if isinstance(node, FloatNeuron) and not REGISTRY.of(node, name).quantizable(node):
                raise GraphError(f"{type(node).__name__} left after lower-neurons", layer=name)


LowerNeurons = with_family_options(_LowerNeurons, "lower-neurons")
