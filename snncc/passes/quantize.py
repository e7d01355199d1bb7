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
import numpy as np

from ..errors import QuantizationError, UnsupportedLayerError
from ..families import REGISTRY
from ..ir import FloatNeuron, Graph, InputEncoding, IntegerNeuron, IntegerSynapse, keys
from ..ir.nodes import CubaIntegerNeuron
from ..target import Target
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
        if not graph.metadata.get(keys.QUANTIZED):  # an integer import is checked by run
            check_canonical(graph)

    def run(self, graph: Graph, ctx: PassContext) -> Graph:
        g = graph.copy()
        if g.metadata.get(keys.QUANTIZED):  # imported already integer (netx): its values must fit the target
            check_integer_graph(g, ctx.target)
            g.metadata[keys.TARGET] = ctx.target.name
            ctx.notes["quantize"] = {}
            return g
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


def check_integer_graph(g: Graph, target: Target) -> None:
    """An imported integer graph within ``target``'s formats: QuantizationError naming the layer and the limit
    otherwise; an axonal delay the target cannot hold is an UnsupportedLayerError."""
    sfmt, nfmt = target.synapse_format, target.neuron_format
    for name, node in g.nodes.items():
        if isinstance(node, IntegerSynapse):
            w = node.weight
            if w.size and (w.min() < sfmt.weight_min or w.max() > sfmt.weight_max):
                raise QuantizationError(f"weight mantissas [{w.min()}, {w.max()}] exceed the target's "
                                        f"{sfmt.weight_bits}-bit range", layer=name)
            if not sfmt.weight_exp_min <= node.weight_exp <= sfmt.weight_exp_max:
                raise QuantizationError(f"weight_exp={node.weight_exp} outside the target's "
                                        f"[{sfmt.weight_exp_min}, {sfmt.weight_exp_max}]", layer=name)
            delays = node.metadata.get(keys.DELAY)
            if delays:
                raise UnsupportedLayerError(
                    f"axonal delays of up to {max(delays)} steps: target '{target.name}' declares no synaptic "
                    "delays (no delay figure in its YAML), and snncc's simulators have none", layer=name,
                    hint="train without delays (slayer: delay=False) for this target")
        elif isinstance(node, IntegerNeuron):
            for field, value, limit in _neuron_limits(node, nfmt):
                if not limit[0] <= value <= limit[1]:
                    raise QuantizationError(f"{field}={value} outside the target's range {list(limit)}",
                                            layer=name)
            REGISTRY.of(node, name).check_formats(node, name, target)


def _neuron_limits(node: IntegerNeuron, nfmt) -> list[tuple[str, int, tuple[int, int]]]:
    """The CUBA compartment's fields a node has, each with the target's range."""
    one = 1 << nfmt.decay_bits
    limits = {"du": (-1, one - 1), "dv": (0, one), "vth": (0, nfmt.vth_max)}
    out = [(f, int(getattr(node, f)), lim) for f, lim in limits.items() if isinstance(getattr(node, f, None), int)]
    if isinstance(node, CubaIntegerNeuron) and node.bias_mant.size:
        out.append(("|bias_mant|", int(np.abs(node.bias_mant).max()), (0, nfmt.bias_mant_max)))
    return out


def quantize_layer(g: Graph, name: str, enc: InputEncoding, ctx: PassContext, resolution: str = "weight") -> dict:
    """Quantize one float neuron layer and the synapses feeding it, in ``g`` (in place); returns its statistics.

    The calibrate pass calls this on a small sub-graph to score candidate weight clips with the real quantizer.
    """
    node = g.nodes[name]
    family = REGISTRY.of(node, name)
    if not family.quantizable(node):
        raise QuantizationError(f"cannot quantize a {type(node).__name__} (run lower-neurons first)", layer=name)
    return family.quantize(g, name, enc, ctx, resolution)
