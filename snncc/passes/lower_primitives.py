"""lower-primitives: map integer neuron layers onto the primitives the target declares, and record each choice.

Each family rewrites its layers for targets that lack their primitive (``Family.lower_primitives``: a graded
layer becomes a population of binary neurons, or binary bursts on a sub-step clock, on a target without graded
spikes; the families' choices are this pass's options), each rewrite recorded as a lowering with its
exactness and cost. Then every neuron layer's primitive (``Family.primitive``) must be one the target declares (an
error naming the layer and the primitive otherwise), and is recorded on the layer (``keys.PRIMITIVE``: its name,
kind and Lava class), which the Lava backend builds and the report shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GraphError, UnsupportedLayerError
from ..families import REGISTRY
from ..ir import Graph, InputEncoding, IntegerNeuron, keys
from .base import Pass, PassContext
from .options import with_family_options

GRADED_INPUT = "graded_input"  # the target primitive of direct-encoded (graded) input


@dataclass
class _LowerPrimitives(Pass):
    name = "lower-primitives"
    option_error = GraphError

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        if not graph.metadata.get(keys.QUANTIZED):
            raise GraphError("lower-primitives needs a quantized graph (run quantize first)")

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        prims = ctx.target.primitives
        if InputEncoding.from_metadata(g.metadata).graded and GRADED_INPUT not in prims:
            raise UnsupportedLayerError(
                f"target '{ctx.target.name}' has no graded spikes, but the model's input is direct-encoded "
                "(GradedInput)", layer=g.input_names[0], hint="train with spike-encoded input for this target")
        choices = {o.name: getattr(self, o.name) for o in REGISTRY.options(self.name)}
        for family in REGISTRY:
            for layer, note in family.lower_primitives(g, ctx, choices).items():
                ctx.record_lowering(layer, note, level="integer")
        for name in g.topological_order():
            node = g.nodes[name]
            if not isinstance(node, IntegerNeuron):
                continue
            family = REGISTRY.of(node, name)
            prim = family.primitive(g, name)
            if prim not in prims:
                raise UnsupportedLayerError(f"needs the '{prim}' primitive, which target '{ctx.target.name}' does "
                                            "not declare", layer=name, hint=family.primitive_hint(prim))
            node.metadata[keys.PRIMITIVE] = {"name": prim, "kind": prims[prim].kind, "lava": prims[prim].lava}
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if isinstance(node, IntegerNeuron) and keys.PRIMITIVE not in node.metadata:
                raise GraphError("no target primitive recorded", layer=name)


LowerPrimitives = with_family_options(_LowerPrimitives, "lower-primitives")
