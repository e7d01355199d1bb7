"""quantize: canonical float graph -> integer primitives in the target's formats.

For each neuron layer, in dependency order, its family's rule (``Family.quantize``, on the shared machinery of
:mod:`snncc.families.quantization`) turns the layer and the float synapses feeding it into integer nodes: all of a
layer's incoming synapses share one scale ``s`` (float units -> weight units); weights become signed mantissas with
an exponent, and the layer's thresholds, biases and decays are co-scaled and rounded to the target's formats.
Values that cannot be represented raise :class:`QuantizationError` naming the layer and the limit; a possible
current wrap is a warning. Per-layer statistics go to ``ctx.notes['quantize']`` for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import nir

from ..errors import QuantizationError
from ..families import REGISTRY
from ..ir import FloatNeuron, Graph, InputEncoding, IntegerNeuron, IntegerSynapse, keys
from .base import Pass, PassContext
from .canonicalize import check_canonical
from .options import option


@dataclass
class Quantize(Pass):
    name = "quantize"
    option_error = QuantizationError
    bias_resolution: Literal["weight", "fine"] = option(
        "weight", cli="--bias-resolution",
        help="quantize biases in weight units (netx-compatible, default) or 1/64 of them")

    def requires(self, graph: Graph, ctx: PassContext) -> None:
        check_canonical(graph)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        enc = InputEncoding.from_metadata(g.metadata)
        notes: dict[str, dict] = {}
        for name in g.topological_order():
            node = g.nodes[name]
            if isinstance(node, FloatNeuron):
                notes[name] = quantize_layer(g, name, enc, ctx, self.bias_resolution)
            elif not isinstance(node, (nir.Input, nir.Output, nir.Linear, nir.Conv2d)):
                raise QuantizationError(f"cannot quantize a {type(node).__name__}", layer=name)
        g.metadata[keys.QUANTIZED] = True
        g.metadata[keys.TARGET] = ctx.target.name
        ctx.notes["quantize"] = notes
        return g

    def ensures(self, graph: Graph, ctx: PassContext) -> None:
        for name, node in graph.nodes.items():
            if not isinstance(node, (nir.Input, nir.Output, IntegerSynapse, IntegerNeuron)):
                raise QuantizationError(f"node left unquantized: {type(node).__name__}", layer=name)


def quantize_layer(g: Graph, name: str, enc: InputEncoding, ctx: PassContext, resolution: str = "weight") -> dict:
    """Quantize one float neuron layer and the synapses feeding it, in ``g`` (in place); returns its statistics.

    The calibrate pass calls this on a small sub-graph to score candidate weight clips with the real quantizer.
    """
    node = g.nodes[name]
    family = REGISTRY.of(node, name)
    if not family.quantizable(node):
        raise QuantizationError(f"cannot quantize a {type(node).__name__} (run lower-neurons first)", layer=name)
    return family.quantize(g, name, enc, ctx, resolution)
