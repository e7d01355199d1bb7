"""The multi-level family: multi-level neurons, Group Neurons (via QCFS ANN-to-SNN conversion) and ASN/NASN.

All emit an integer spike ``z = clip(floor(v/theta + offset), 0, levels)`` and reset softly, ``v -= z theta``, with an
optional leak: one integer graded primitive (``QMultiLevel``, snncc's custom Lava process) covers them, exactly when
``theta`` is a power of two in integer units. On a target without graded spikes the layer becomes a population of
binary neurons (:mod:`snncc.families.multilevel.population`, the default) or binary bursts on a sub-step clock
(:mod:`snncc.families.substep`, ``multilevel=substep``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import nir
import numpy as np

from snncc.families.base import Family, Option, RuleContext
from snncc.families.lif.nir import NIR_TYPES
from snncc.families.multilevel.multispike import from_nir
from snncc.families.multilevel.nodes import MultiLevelNeuron, QMultiLevel
from snncc.families.multilevel.population import to_population
from snncc.families.multilevel.quantize import quantize_multilevel
from snncc.families.substep.lowering import to_substeps
from snncc.ir import Graph, InputEncoding
from snncc.ir.semantics import NeuronSemantics
from snncc.ir.synapses import with_weight
from snncc.target import Target

GRADED = "multilevel_graded"  # the target primitive of graded multi-level neurons


class MultiLevelFamily(Family):
    name = "multilevel"
    float_nodes: ClassVar[tuple[type, ...]] = (MultiLevelNeuron,)
    integer_nodes: ClassVar[tuple[type, ...]] = (QMultiLevel,)
    nir_types: ClassVar[tuple[type, ...]] = NIR_TYPES  # where they send several spikes a step (max_spikes > 1)
    nir_multi_spike: ClassVar[bool] = True
    options: ClassVar[tuple[Option, ...]] = (
        Option("lower-primitives", "multilevel", ("population", "substep"), "population",
               "multi-level lowering on targets without graded spikes: a population of binary neurons (default) or "
               "binary bursts over sub-steps (levels x the time steps)"),
    )
    relay: ClassVar[str | None] = "graded"

    def from_nir(self, node: Any, sem: NeuronSemantics, name: str) -> MultiLevelNeuron:
        return from_nir(node, sem, name)

    def relay_neuron(self, n: int, levels: int | None, metadata: dict, out_scale: float) -> MultiLevelNeuron:
        """Memoryless multi-level neurons of threshold 1: ``floor(z / 1) = z``, nothing left in ``v``."""
        return MultiLevelNeuron(decay_v=np.zeros(n), decay_i=np.zeros(n), threshold=np.ones(n), bias=np.zeros(n),
                                offset=np.zeros(n), out_scale=np.full(n, out_scale), levels=levels,
                                metadata=metadata)

    def relays_on(self, target: Target) -> bool:
        return GRADED in target.primitives

    def canonicalize(self, g: Graph, name: str) -> None:
        """A multi-level layer emits ``z * out_scale``: scale the columns of the synapses it feeds instead, so that
        the deployed payload is the integer ``z`` (a layer feeding the output keeps its scale: argmax ignores it)."""
        node: MultiLevelNeuron = g.nodes[name]
        if np.all(node.out_scale == 1.0):
            return
        succs = g.successors(name)
        if not all(isinstance(g.nodes[s], (nir.Linear, nir.Conv2d)) for s in succs):
            return
        if any(isinstance(g.nodes[s], nir.Conv2d) for s in succs) and np.unique(node.out_scale).size != 1:
            return  # a kernel cannot carry per-position scales
        for s in succs:
            syn = g.nodes[s]
            w = np.asarray(syn.weight, np.float64)
            scaled = w * node.out_scale[0] if isinstance(syn, nir.Conv2d) else w * node.out_scale[None, :]
            g.nodes[s] = with_weight(syn, scaled)
        node.out_scale = np.ones_like(node.out_scale)

    def quantize(self, g: Graph, name: str, enc: InputEncoding, ctx: RuleContext, resolution: str) -> dict:
        return quantize_multilevel(g, name, g.nodes[name], enc, ctx, resolution)

    def lower_primitives(self, g: Graph, ctx: RuleContext, choices: dict[str, str]) -> dict[str, dict]:
        layers = [n for n in g.topological_order() if isinstance(g.nodes[n], QMultiLevel)]
        if GRADED in ctx.target.primitives or not layers:
            return {}
        if choices["multilevel"] == "substep":
            return to_substeps(g)
        return {name: to_population(g, name, ctx.target.neuron_format) for name in layers}

    def primitive(self, g: Graph, name: str) -> str:
        return GRADED

    def lava_storage(self, node: QMultiLevel) -> dict[str, tuple[Any, int]]:
        return {"bias_mant": (node.bias_mant, 16), "bias_exp": (node.bias_exp, 16)}


FAMILY = MultiLevelFamily()
